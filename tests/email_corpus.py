"""The email test corpus (tests/corpus/email/) and messages written inline, parsed as the
email channel parses mail: stdlib email with policy.default."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import cast

CORPUS = Path(__file__).resolve().parent / "corpus" / "email"


def parse(raw: bytes | str) -> EmailMessage:
    """A message from its bytes (or text, written in a test) as the channel reads it."""
    data = raw.encode() if isinstance(raw, str) else raw
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))


def corpus_message(folder: str, name: str) -> EmailMessage:
    """A message of the corpus: tests/corpus/email/FOLDER/NAME."""
    return parse((CORPUS / folder / name).read_bytes())


def corpus_names(folder: str) -> list[str]:
    """Every message file of a corpus folder, by name."""
    return sorted(path.name for path in (CORPUS / folder).glob("*.eml"))


# Header fields the stdlib's header classes raise on when read (IndexError for the first four
# on Python 3.11), and others that are merely broken: the email channel reads them as text.
MALFORMED_HEADERS = [
    "From: ivan@",
    "From: <",
    "Message-ID: <<>>",
    "To: ivan@",
    'From: "unterminated <a@example.org>',
    "From: =?utf-8?b?!!!?= <a@example.org>",
    "Subject: =?x-unknown?q?abc?=",
    "Subject: =?utf-8?b?####?=",
    "Return-Path: <<>",
    "Auto-Submitted: ;;;",
    "References: <<<",
    "Authentication-Results: ;;;",
    "Content-Type: multipart/report; report-type=",
]


def with_header(line: str) -> EmailMessage:
    """A short message whose header `line` replaces the field of its name."""
    return parse(raw_with_header(line))


def raw_with_header(line: str) -> bytes:
    """The bytes of that message (some such fields cannot be written back from the parse)."""
    name = line.split(":")[0]
    fields = {"From": "i.petrov@example.org", "To": "support@gov.example", "Subject": "Справка"}
    fields[name] = line.split(":", 1)[1].strip()
    head = "".join(f"{key}: {value}\n" for key, value in fields.items())
    return f"{head}\nЗдравствуйте!\n".encode()
