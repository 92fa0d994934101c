"""Commands a citizen can send instead of a request: «СТАТУС 2600000128», "/status"."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from normaliser.identifiers import TICKET_LENGTH, find_ticket_refs


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
    (?:\s*(?P<ref>[№\#N]?\x20?\d+))?       # the number, as find_ticket_refs knows it
    [\s.!?]*\Z
    """,
    re.VERBOSE,
)


def parse_command(text: str, *, ticket_length: int = TICKET_LENGTH) -> Command | None:
    """Return the command `text` (already cleaned) consists of, or None if it is not one."""
    match = _STATUS.match(text)
    if match is None:
        return None
    ref = match["ref"]
    if ref is None:
        return Command("status", None)
    tickets = find_ticket_refs(ref, ticket_length)
    # A number that fails its check digit is a typo; answering with some other ticket's status
    # would be worse than treating the message as an ordinary request.
    return Command("status", tickets[0]) if tickets else None
