"""Commands a citizen can send instead of a request: «СТАТУС 2600000128», "/status"."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from normaliser.identifiers import TICKET_LENGTH, scan_identifiers


class Command(msgspec.Struct, frozen=True):
    """A recognised command and the ticket it names, if any."""

    name: Literal["status"]
    ticket: str | None


# The whole message is the command: keyword, optional «заявки»/«обращения», optional number.
# Anything more ("Статус моей заявки не меняется неделю") is a request to a person.
_STATUS = re.compile(
    r"""
    \A\s*
    /?(?i:статус|status)(?:@\w+)?          # SMS «СТАТУС», Telegram "/status" or "/status@bot"
    (?i:\s+(?:моей|моего))?
    (?i:\s+(?:заявки|обращения|запроса|request|ticket))?
    \s*:?
    (?:\s*(?P<ref>[№\#N]?\x20?\d+))?       # the number, as scan_identifiers knows it
    [\s.!?]*\Z
    """,
    re.VERBOSE,
)


def parse_command(text: str, *, ticket_length: int = TICKET_LENGTH) -> Command | None:
    """Return the command `text` (already cleaned) consists of, or None if it is not one."""
    match = _STATUS.match(text)
    if match is None:
        return None
    if match["ref"] is None:
        return Command("status", None)
    # Read in the whole command, not alone: «статус 7707084174» says the number is a ticket's
    # even though it passes the INN check too (identifiers.py reads a bare one as an INN).
    end = match.end("ref")
    tickets = [
        item.value
        for item in scan_identifiers(text, ticket_length=ticket_length)
        if item.kind == "ticket" and item.end == end
    ]
    # A number that fails its check digit is a typo; answering with some other ticket's status
    # would be worse than treating the message as an ordinary request.
    return Command("status", tickets[0]) if tickets else None


# An email may ask for the status in its subject alone (DOMAIN.md "Requests"), with a body that is
# empty, a greeting or a signature; anything more is for a person to read, and a status answer
# would leave it unfiled. The body's lines: greetings first, then a signature, either after a
# "-- " delimiter line (RFC 3676 4.3; clean_text has trimmed its space), or a short block that
# starts with a sign-off («С уважением, …», "Sent from my iPhone").
_GREETING = re.compile(
    r"""(?i:здравствуйте|здравствуй|добрый\s+(?:день|вечер)|доброе\s+утро|доброй\s+ночи
        |привет|hello|hi|good\s+(?:morning|afternoon|evening))[\s!.,]*""",
    re.VERBOSE,
)
_SIGNATURE_DELIMITER = re.compile(r"--|—|–|_{3,}|-{3,}|={3,}")
# A sign-off line is the phrase alone, or with a name after it («С уважением, Иван Петров»);
# «Спасибо за ответ! Но документы не пришли» is a sentence that starts with thanks.
_SIGN_OFF = re.compile(
    r"""(?i:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+(?:доброго|хорошего)
        |(?:заранее\s+)?спасибо|благодарю|best\s+regards|kind\s+regards|regards|thanks
        |thank\s+you)
        [\s,!.]* (?:[A-ZА-ЯЁ][\w.\-]*(?:\s+[A-ZА-ЯЁ][\w.\-]*){0,3})? [\s,!.]*""",
    re.VERBOSE,
)
# A mail client's own line: whatever follows names the device.
_SENT_FROM = re.compile(r"(?i:отправлено\s+(?:с|из)|sent\s+from)\b")
_SIGNATURE_LINE_CHARS = 60  # «С уважением, Иванова Мария Петровна»; longer is a sentence
_SIGNATURE_LINES = 6  # sign-off, name, position, organisation, phone, email


def says_nothing_else(body: str) -> bool:
    """True if a (cleaned) email body is empty, greetings, or a signature and nothing more."""
    lines = [line.strip() for line in body.split("\n") if line.strip()]
    while lines and _GREETING.fullmatch(lines[0]):
        lines.pop(0)
    if not lines or _SIGNATURE_DELIMITER.fullmatch(lines[0]):
        return True
    return (
        (_SIGN_OFF.fullmatch(lines[0]) or _SENT_FROM.match(lines[0])) is not None
        and len(lines) <= _SIGNATURE_LINES
        and all(len(line) <= _SIGNATURE_LINE_CHARS for line in lines)
    )
