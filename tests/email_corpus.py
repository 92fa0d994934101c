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
