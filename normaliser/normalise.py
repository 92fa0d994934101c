"""The normaliser's entry point: one channel-independent view of a message's text."""

from __future__ import annotations

import re

import msgspec

from normaliser.commands import COMMANDS, Command, CommandTable, parse_command, says_nothing_else
from normaliser.credentials import mentions_credential
from normaliser.envelope import Identifiers
from normaliser.identifiers import TICKET_LENGTH, find_identifiers
from normaliser.language import guess_language
from normaliser.text import clean_text, html_to_text

# Bounds the work of every later stage and the size of an envelope; the journal keeps the raw
# message whole, so nothing cut here is lost.
MAX_CHARS = 20_000


class Normalised(msgspec.Struct, frozen=True):
    """A message's text as the envelope carries it, with what was found in it."""

    text: str
    language: str
    identifiers: Identifiers
    command: Command | None
    flags: list[str]


def normalise(
    text: str,
    *,
    html: str | None = None,
    subject: str | None = None,
    language_hint: str | None = None,
    quoted_only: bool = False,
    max_chars: int = MAX_CHARS,
    ticket_length: int = TICKET_LENGTH,
    commands: CommandTable = COMMANDS,
) -> Normalised:
    """Return the cleaned text of a message with its language, identifiers, command (one of
    the channel's `commands`) and flags; `quoted_only`: the text is history the sender quoted."""
    body = clean_text(text)
    if not body and html is not None:
        body = html_to_text(html)
    flags: list[str] = []
    if len(body) > max_chars:
        body = body[:max_chars]
        flags.append("truncated")
    subject = clean_text(subject) if subject else None
    # Newline between them so a number ending the subject cannot run into one starting the body.
    searched = f"{subject}\n{body}" if subject else body
    if mentions_credential(searched):
        flags.append("contains_credential")
    if not body:
        flags.append("empty_text")
    command = parse_command(body, ticket_length=ticket_length, table=commands)
    # DOMAIN.md "Requests": an email may ask for the status by its subject, «Статус 2600000014»
    # (and so give any command). Only when the body says nothing else (empty, a greeting, a
    # signature): a body with more in it is a request to a person, and answering its subject
    # would leave the body unfiled. "Re: Статус …" is a reply, not a command. A body that only
    # quotes the message answered (the channel's `quoted_only`) says nothing else either: the
    # quote is what the conversation said before, not a new word to a person.
    if command is None and subject and (quoted_only or says_nothing_else(body)):
        command = parse_command(_untagged(subject), ticket_length=ticket_length, table=commands)
    # A command's words say its language better than its letters: «CTOП» is mostly Latin.
    language = command.language if command is not None else None
    return Normalised(
        text=body,
        language=language or guess_language(searched, language_hint),
        identifiers=find_identifiers(searched, ticket_length=ticket_length),
        command=command,
        flags=flags,
    )


# A ticket number in the brackets of a subject tag ("[№2600000014]", "[#2600000014]"), which
# a citizen keeps when writing «Статус» before our tag.
_TAGGED_NUMBER = re.compile(r"\[\s*((?:№|#)?\s*\d+)\s*\]")


def _untagged(subject: str) -> str:
    """A subject with its tags' brackets taken away: «Статус [№N]» reads as «Статус №N»."""
    return _TAGGED_NUMBER.sub(r"\1", subject)
