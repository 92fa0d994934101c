"""Commands a citizen can send instead of a request («СТАТУС 2600000128», «СТОП», "/help"),
recognised from a table of phrases."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import msgspec

from channels.contract import CommandName, CommandRow
from normaliser.identifiers import TICKET_LENGTH, scan_identifiers


class Command(msgspec.Struct, frozen=True):
    """A recognised command, the ticket it names if any, and the language its words are in."""

    name: CommandName
    ticket: str | None = None
    language: str | None = None


# The shared table, tried after a channel's own rows. Every phrase is a whole message that no
# longer reaches a person, so the list is short and each phrase unmistakable:
#   «статус»/status: DOMAIN.md, a status query by SMS or email subject;
#   «стоп»/stop, «старт»/start: the words SMS short numbers answer to; «отписаться»/unsubscribe
#   and «подписаться»/subscribe: what mailing lists taught people to write;
#   «помощь»/help. Not «справка»: it is also the certificate of category 01, and «Справка»
#   alone starts that request. Not a lone "?": in a chat it asks after the open ticket.
# A leading "/" and a trailing "@bot" (Telegram's "/status@bot") are allowed for every phrase.
SHARED_ROWS: tuple[CommandRow, ...] = (
    CommandRow("status", "ru", ("статус",)),
    CommandRow("status", "en", ("status",)),
    CommandRow("stop", "ru", ("стоп", "отписаться")),
    CommandRow("stop", "en", ("stop", "unsubscribe")),
    CommandRow("start", "ru", ("старт", "подписаться")),
    CommandRow("start", "en", ("start", "subscribe")),
    CommandRow("help", "ru", ("помощь",)),
    CommandRow("help", "en", ("help",)),
)

# What may follow a command's phrase, by command: «статус» may name the ticket, with an optional
# «заявки»/«обращения» before the number, as scan_identifiers knows it. Anything more
# ("Статус моей заявки не меняется неделю") is a request to a person.
_TAILS: Mapping[CommandName, str] = {
    "status": r"""
        (?:\s+(?:моей|моего))?
        (?:\s+(?:заявки|обращения|запроса|request|ticket))?
        \s*:?
        (?:\s*(?P<ref>(?-i:[№\#N])?\x20?\d+))?
        """,
    "stop": "",
    "start": "",
    "help": "",
    "unsupported": "",
}

# Latin letters drawn like Cyrillic ones: a phone left on the Latin layout types «CTATYC», and
# «cтоп» with a Latin c looks right to its writer. Capitals map by shape (B, H, M and T are
# В, Н, М and Т); small letters only where the shapes match in print.
_LOOKALIKES = str.maketrans("ABCEHKMOPTXYacekopxy", "АВСЕНКМОРТХУасекорху")
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_LETTER = re.compile("[A-Za-z]")
# The longest command, «Статус моей заявки: №2600000128», is about 35 characters: a message
# several times longer is a request, and is not worth reading as a command.
_COMMAND_MAX_CHARS = 120


def _pattern(row: CommandRow) -> re.Pattern[str]:
    phrases = "|".join(r"\s+".join(map(re.escape, phrase.split())) for phrase in row.phrases)
    return re.compile(
        rf"\A\s*/?(?:{phrases})(?:@\w+)?{_TAILS[row.name]}[\s.!?]*\Z",
        re.IGNORECASE | re.VERBOSE,
    )


def _read_as_cyrillic(text: str) -> str:
    """`text` with every word whose only Latin letters are look-alikes written in Cyrillic; as
    long as `text`, letter for letter."""
    # Most messages have no Latin letter: nothing to read again, and a call per word is not cheap.
    if _LATIN_LETTER.search(text) is None:
        return text

    def word(match: re.Match[str]) -> str:
        cyrillic = match[0].translate(_LOOKALIKES)
        return match[0] if _LATIN_LETTER.search(cyrillic) else cyrillic

    return _WORD.sub(word, text)


class CommandTable:
    """Command rows compiled for matching, in the order they are tried."""

    def __init__(self, rows: Sequence[CommandRow]) -> None:
        self.rows = tuple(rows)
        self.patterns = tuple((row, _pattern(row)) for row in self.rows)

    def with_rows(self, rows: Sequence[CommandRow]) -> CommandTable:
        """This table with a channel's `rows` tried first."""
        return CommandTable((*rows, *self.rows))


COMMANDS = CommandTable(SHARED_ROWS)


def parse_command(
    text: str, *, ticket_length: int = TICKET_LENGTH, table: CommandTable = COMMANDS
) -> Command | None:
    """The command of `table` that `text` (already cleaned) consists of, or None."""
    if len(text) > _COMMAND_MAX_CHARS:
        return None
    for candidate in dict.fromkeys((text, _read_as_cyrillic(text))):
        for row, pattern in table.patterns:
            if (match := pattern.match(candidate)) is not None:
                return _command(row, match, text, ticket_length)
    return None


def _command(
    row: CommandRow, match: re.Match[str], text: str, ticket_length: int
) -> Command | None:
    if match.groupdict().get("ref") is None:
        return Command(row.name, None, row.language)
    # Read in the whole command, not alone: «статус 7707084174» says the number is a ticket's
    # even though it passes the INN check too (identifiers.py reads a bare one as an INN). The
    # match is on `text` or its Cyrillic reading, which keeps every position.
    end = match.end("ref")
    tickets = [
        item.value
        for item in scan_identifiers(text, ticket_length=ticket_length)
        if item.kind == "ticket" and item.end == end
    ]
    # A number that fails its check digit is a typo; answering with some other ticket's status
    # would be worse than treating the message as an ordinary request.
    return Command(row.name, tickets[0], row.language) if tickets else None


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
