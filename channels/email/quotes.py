"""A reply's new text apart from the quoted history and the signature under it.

Each line is classified (an attribution such as "On ... wrote:" or «... пишет:», a separator
such as "-----Original Message-----" or Outlook's «От: ... Отправлено: ...» block, a "> "
quote, the "-- " signature delimiter, a "Sent from my iPhone" footer), then one transition
table walks the lines: it says where each line belongs and what comes next. A quote block
under an attribution ends where unquoted text resumes (a bottom-posted answer); history
that is not "> "-quoted (Outlook, a forward, HTML turned into text) runs to the end.

A text that is history and nothing more keeps all of it as its new text, since that is what the
sender sent: a forward with no comment is the forwarded letter. A reply that only quotes (the
sender typed nothing, or only a signature) is marked `quoted_only` besides: its text is the
history of the conversation, not a word of the sender's own.

mail-parser-reply, quotequail and talon were judged for this: none knows a Russian client's
attribution line (talon is unmaintained since 2017), and mail-parser-reply takes any line
starting "- word" for a signature, which would cut a citizen's list.
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple


class Line(enum.Enum):
    """What one line of a reply is."""

    TEXT = enum.auto()
    BLANK = enum.auto()
    QUOTED = enum.auto()
    ATTRIBUTION = enum.auto()  # "On Mon, 1 Dec 2026 Ivan <x@y> wrote:" and its wrapped tail
    SEPARATOR = enum.auto()  # "-----Original Message-----", a forward, Outlook's header block
    SIGNATURE = enum.auto()  # "-- " (RFC 3676 4.3)
    FOOTER = enum.auto()  # "Sent from my iPhone"


class State(enum.Enum):
    """Where the walk through a reply is."""

    NEW = enum.auto()  # the citizen's own words
    ATTRIBUTED = enum.auto()  # after an attribution line, before what it introduces
    QUOTE_BLOCK = enum.auto()  # "> " lines under an attribution
    SIGNATURE = enum.auto()
    HISTORY = enum.auto()  # unquoted history: everything to the end


class Part(enum.Enum):
    """Which part of the reply a line belongs to."""

    NEW = enum.auto()
    HISTORY = enum.auto()
    SIGNATURE = enum.auto()


# (state, line) -> (the line's part, the next state). A pair missing here keeps the state and
# puts the line in the state's own part (_DEFAULT_PART).
_TRANSITIONS: dict[tuple[State, Line], tuple[Part, State]] = {
    (State.NEW, Line.QUOTED): (Part.HISTORY, State.QUOTE_BLOCK),
    (State.NEW, Line.ATTRIBUTION): (Part.HISTORY, State.ATTRIBUTED),
    (State.NEW, Line.SEPARATOR): (Part.HISTORY, State.HISTORY),
    (State.NEW, Line.SIGNATURE): (Part.SIGNATURE, State.SIGNATURE),
    (State.NEW, Line.FOOTER): (Part.SIGNATURE, State.NEW),
    (State.ATTRIBUTED, Line.BLANK): (Part.HISTORY, State.ATTRIBUTED),
    (State.ATTRIBUTED, Line.ATTRIBUTION): (Part.HISTORY, State.ATTRIBUTED),
    (State.ATTRIBUTED, Line.QUOTED): (Part.HISTORY, State.QUOTE_BLOCK),
    # Unquoted text under an attribution: HTML quoting turned into text, or Outlook's style.
    (State.ATTRIBUTED, Line.TEXT): (Part.HISTORY, State.HISTORY),
    (State.ATTRIBUTED, Line.SEPARATOR): (Part.HISTORY, State.HISTORY),
    (State.ATTRIBUTED, Line.SIGNATURE): (Part.HISTORY, State.HISTORY),
    (State.ATTRIBUTED, Line.FOOTER): (Part.HISTORY, State.HISTORY),
    # Unquoted text after a quote block is the answer under it (bottom-posting).
    (State.QUOTE_BLOCK, Line.TEXT): (Part.NEW, State.NEW),
    (State.QUOTE_BLOCK, Line.ATTRIBUTION): (Part.HISTORY, State.ATTRIBUTED),
    (State.QUOTE_BLOCK, Line.SEPARATOR): (Part.HISTORY, State.HISTORY),
    (State.QUOTE_BLOCK, Line.SIGNATURE): (Part.SIGNATURE, State.SIGNATURE),
    (State.QUOTE_BLOCK, Line.FOOTER): (Part.SIGNATURE, State.NEW),
    (State.SIGNATURE, Line.QUOTED): (Part.HISTORY, State.QUOTE_BLOCK),
    (State.SIGNATURE, Line.ATTRIBUTION): (Part.HISTORY, State.ATTRIBUTED),
    (State.SIGNATURE, Line.SEPARATOR): (Part.HISTORY, State.HISTORY),
}
_DEFAULT_PART = {
    State.NEW: Part.NEW,
    State.ATTRIBUTED: Part.HISTORY,
    State.QUOTE_BLOCK: Part.HISTORY,
    State.SIGNATURE: Part.SIGNATURE,
    State.HISTORY: Part.HISTORY,
}

_EMAIL = r"[^\s<>@]+@[^\s<>@]+"
_TIME = r"\d{1,2}:\d{2}"
# Attribution lines, whole-line matches (case-insensitive), by the client that writes them.
_ATTRIBUTIONS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        # Gmail, Thunderbird, Apple Mail (English): "On Mon, Dec 1, 2026 at 10:00 AM Ivan
        # <ivan@example.ru> wrote:", "On 01.12.2026 10:00, Ivan wrote:".
        r"on\s.{4,200}\swrote:",
        # Thunderbird (Russian): "01.12.2026 10:00, Иван Петров пишет:".
        r".{4,200}\sпишет:",
        # Apple Mail (Russian): "1 дек. 2026 г., в 10:00, Иван <x@y> написал(а):".
        r".{4,200}\sнаписал(?:а|\(а\))?:",
        # Gmail (Russian): "пн, 1 дек. 2026 г. в 10:00, Имя <x@y>:".
        rf".{{0,40}}\d{{4}}\s*г\.,?\s*в\s*{_TIME},?\s.{{0,120}}<{_EMAIL}>:",
        # Yandex: '01.12.2026, 10:00, "Имя" <x@y>:'.
        rf"\d{{1,2}}\.\d{{1,2}}\.\d{{2,4}},\s*{_TIME},\s*.{{0,120}}<{_EMAIL}>:",
        # Mail.ru: "Понедельник, 1 декабря 2026, 10:00 +03:00 от Имя <x@y>:".
        rf".{{0,60}}\d{{4}},\s*{_TIME}(?:\s*[+-]\d{{2}}:?\d{{2}})?\s+от\s.{{0,120}}:",
    )
]
# Separator lines: the history under them is not "> "-quoted. A forward's are apart: what
# follows one is a letter sent on to us, not the history of a reply (`Stripped.quoted_only`).
_FORWARDS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"-{2,}\s*forwarded message\s*-{2,}",  # Gmail
        r"-{2,}\s*(?:пересылаемое|перенаправленное|пересланное) сообщение\s*-{2,}",
        r"begin forwarded message:",  # Apple Mail
        r"начало переадресованного сообщения:",  # Apple Mail (Russian)
    )
]
_SEPARATORS = [
    *(
        re.compile(p, re.IGNORECASE)
        for p in (
            r"-{2,}\s*original message\s*-{2,}",  # Outlook, Thunderbird
            r"-{2,}\s*исходное сообщение\s*-{2,}",  # Outlook (Russian)
        )
    ),
    *_FORWARDS,
]
# Outlook's header block of the message it answers: «От:» or "From:" (bold in HTML as "*From:*"
# by some converters), then a date and a recipient or subject within the next few lines.
_HEADER_FROM = re.compile(r"\*?(?:from|от|отправитель):\*?\s.*", re.IGNORECASE)
_HEADER_DATE = re.compile(r"\*?(?:sent|date|отправлено|дата):\*?\s.*", re.IGNORECASE)
_HEADER_OTHER = re.compile(r"\*?(?:to|subject|cc|кому|тема|копия):\*?\s.*", re.IGNORECASE)
_HEADER_SPAN = 5
# Outlook's rule above its header block: a line of underscores.
_RULE = re.compile(r"_{20,}")
# "-- " is the delimiter (RFC 3676 4.3); clients that trim trailing spaces send "--".
_SIGNATURE = re.compile(r"--\s?")
# Footers mobile and web clients append under the text.
_FOOTERS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"sent from my \w[\w\s.-]{0,40}",
        r"sent from (?:mail|yahoo mail|outlook) for \w+",
        r"get outlook for (?:ios|android)",
        r"отправлено с (?:моего )?\w[\w\s.-]{0,40}",
        r"отправлено из (?:мобильной )?почты mail\.ru",
        r"отправлено из (?:мобильного )?приложения (?:яндекс[ .]?почт[аы]|mail\.ru)",
        r"отправлено из почты для windows",
    )
]


class Stripped(NamedTuple):
    """A reply cut in three: the citizen's new text, the quoted history, the signature; and
    whether the new text is the whole of a reply that only quotes."""

    new: str
    history: str
    signature: str
    quoted_only: bool = False


def strip(text: str) -> Stripped:
    """`text` without its quoted history and signature; never nothing if `text` had words."""
    lines = text.split("\n")
    parts: dict[Part, list[str]] = {part: [] for part in Part}
    state = State.NEW
    for line, kind in zip(lines, classify(lines), strict=True):
        part, state = _TRANSITIONS.get((state, kind), (_DEFAULT_PART[state], state))
        parts[part].append(line)
    new = "\n".join(parts[Part.NEW]).strip()
    if not new:
        # Everything looked like history (a forward with no comment, a quote-only reply):
        # the whole text is what the citizen sent. Only a reply's says nothing of its own: a
        # forward's history begins at its separator, and the letter under it is for a person.
        history = [line.strip() for line in parts[Part.HISTORY] if line.strip()]
        forward = bool(history) and any(p.fullmatch(history[0]) for p in _FORWARDS)
        return Stripped(text.strip(), "", "", quoted_only=bool(history) and not forward)
    return Stripped(
        new, "\n".join(parts[Part.HISTORY]).strip(), "\n".join(parts[Part.SIGNATURE]).strip()
    )


def classify(lines: list[str]) -> list[Line]:
    """What each line is; an attribution wrapped over two lines marks both."""
    kinds = [_kind(line.strip()) for line in lines]
    for i in range(len(lines) - 1):
        both_text = kinds[i] is Line.TEXT and kinds[i + 1] is Line.TEXT
        if both_text and _attribution(f"{lines[i].strip()} {lines[i + 1].strip()}"):
            kinds[i] = kinds[i + 1] = Line.ATTRIBUTION
    for i, line in enumerate(lines):
        if (
            kinds[i] is Line.TEXT
            and _HEADER_FROM.fullmatch(line.strip())
            and _header_block(lines, i)
        ):
            kinds[i] = Line.SEPARATOR
            if i and _RULE.fullmatch(lines[i - 1].strip()):
                kinds[i - 1] = Line.SEPARATOR
    # A footer is the client's only where nothing of the citizen's follows it: "Отправлено с
    # опозданием" in the middle of a letter is the citizen's own sentence.
    last_text = max((i for i, kind in enumerate(kinds) if kind is Line.TEXT), default=-1)
    for i in range(last_text):
        if kinds[i] is Line.FOOTER:
            kinds[i] = Line.TEXT
    return kinds


def _kind(line: str) -> Line:
    if not line:
        return Line.BLANK
    if line.startswith(">"):
        return Line.QUOTED
    if _SIGNATURE.fullmatch(line):
        return Line.SIGNATURE
    if any(p.fullmatch(line) for p in _SEPARATORS):
        return Line.SEPARATOR
    if _attribution(line):
        return Line.ATTRIBUTION
    if any(p.fullmatch(line) for p in _FOOTERS):
        return Line.FOOTER
    return Line.TEXT


def _attribution(line: str) -> bool:
    """Whether `line` introduces a quoted message. Every client's attribution carries the
    date it quotes; «Сотрудник МФЦ мне пишет:» does not, and is the citizen's own."""
    return any(c.isdigit() for c in line) and any(p.fullmatch(line) for p in _ATTRIBUTIONS)


def _header_block(lines: list[str], start: int) -> bool:
    """Whether `start` is a From line opening a header block: a date and another field follow."""
    if not _HEADER_FROM.fullmatch(lines[start].strip()):
        return False
    following = [line.strip() for line in lines[start + 1 : start + 1 + _HEADER_SPAN]]
    return any(_HEADER_DATE.fullmatch(f) for f in following) and any(
        _HEADER_OTHER.fullmatch(f) for f in following
    )
