"""parse_mode: a formatted text to the plain text and MessageEntity list Telegram keeps."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

Entity = dict[str, Any]

# https://core.telegram.org/bots/api#html-style: the tags Telegram understands, by entity type.
_HTML_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only as <span class="tg-spoiler">
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


class UnsupportedMode(ValueError):
    """A parse_mode Telegram does not have, or one the double does not parse."""


class EntityError(ValueError):
    """The text does not parse in its parse_mode; the reason as Telegram words it."""


def utf16_length(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units (Bot API, MessageEntity)."""
    return len(text.encode("utf-16-le")) // 2


class _Html(HTMLParser):
    """Collects the text and, for every closed tag, the entity it stands for."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.length = 0
        self.open: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[Entity] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if tag not in _HTML_ENTITIES or (tag == "span" and given.get("class") != "tg-spoiler"):
            raise EntityError(f'Unsupported start tag "{tag}"')
        if tag == "a" and not given.get("href"):
            raise EntityError('Can\'t find "href" attribute of the tag "a"')
        self.open.append((tag, self.length, given))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise EntityError(f'Unmatched end tag "{tag}"')
        _, offset, attrs = self.open.pop()
        length = self.length - offset
        if length == 0:
            return
        entity: Entity = {"type": _HTML_ENTITIES[tag], "offset": offset, "length": length}
        if tag == "a":
            entity["url"] = attrs["href"]
        if tag == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        self.length += utf16_length(data)


def parse_html(text: str) -> tuple[str, list[Entity]]:
    """The plain text and entities of an HTML-formatted message."""
    parser = _Html()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.open[-1][0]}"')
    return "".join(parser.text), sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


# https://core.telegram.org/bots/api#markdownv2-style: "In all other places characters '_',
# '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!' must be
# escaped with the preceding character '\'."
_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
# Longest first: "__ is always greedily treated ... as beginning or end of an underline entity".
_MARKERS: tuple[tuple[str, str], ...] = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)


def _reserved(char: str) -> EntityError:
    """The error for a reserved character that is not escaped."""
    return EntityError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


class _MarkdownV2:
    """A left-to-right scan of MarkdownV2 into plain text and entities."""

    def __init__(self, text: str) -> None:
        self.source = text
        self.at = 0
        self.text: list[str] = []
        self.length = 0
        self.open: list[tuple[str, int, int]] = []  # (entity type, offset, source position)
        self.quote: int | None = None  # where the block quote being read began
        self.entities: list[Entity] = []

    def emit(self, chars: str) -> None:
        self.text.append(chars)
        self.length += utf16_length(chars)

    def close(self, kind: str, offset: int, **extra: str) -> None:
        if self.length > offset:
            entity = {"type": kind, "offset": offset, "length": self.length - offset, **extra}
            self.entities.append(entity)

    def escaped(self, allowed: str) -> str | None:
        """The character a backslash at the current position escapes, if it may."""
        following = self.source[self.at + 1 : self.at + 2]
        return (
            following
            if self.source[self.at] == "\\" and following and following in allowed
            else None
        )

    def until(self, end: str, escapable: str) -> str:
        """The source up to an unescaped `end` (only `escapable` may be escaped), consumed."""
        start, found = self.at, []
        while not self.source.startswith(end, self.at):
            if self.at >= len(self.source):
                raise EntityError(f"Can't find end of the entity starting at byte offset {start}")
            char = self.escaped(escapable)
            self.at += 1 if char is None else 2
            found.append(char or self.source[self.at - 1])
        self.at += len(end)
        return "".join(found)

    def run(self) -> tuple[str, list[Entity]]:
        while self.at < len(self.source):
            self.step()
        self.end_quote()
        if self.open:
            kind, _, position = self.open[-1]
            byte = len(self.source[:position].encode())
            raise EntityError(f"Can't find end of {kind} entity at byte offset {byte}")
        return "".join(self.text), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))

    def step(self) -> None:
        """Read one character, escape, marker or code span."""
        source, char = self.source, self.source[self.at]
        line_start = self.at == 0 or source[self.at - 1] == "\n"
        if (escaped := self.escaped(_ANY_ASCII)) is not None:
            self.emit(escaped)
            self.at += 2
        elif char == ">" and line_start:
            self.quote = self.length if self.quote is None else self.quote
            self.at += 1
        elif source.startswith("```", self.at):
            self.at += 3
            offset = self.length
            language, newline, code = self.until("```", "`\\").partition("\n")
            if newline and language and " " not in language:  # ```python\n...```
                self.emit(code)
                self.close("pre", offset, language=language)
            else:
                self.emit(language + newline + code)
                self.close("pre", offset)
        elif char == "`":
            self.at += 1
            offset = self.length
            self.emit(self.until("`", "`\\"))
            self.close("code", offset)
        elif char == "[":
            self.open.append(("text_link", self.length, self.at))
            self.at += 1
        elif char == "]" and self.open and self.open[-1][0] == "text_link":
            if not source.startswith("(", self.at + 1):
                raise _reserved("]")
            self.at += 2
            _, offset, _ = self.open.pop()
            self.close("text_link", offset, url=self.until(")", ")\\"))
        elif char == "\n":
            if not source.startswith(">", self.at + 1):
                self.end_quote()
            self.emit(char)
            self.at += 1
        else:
            self.marker_or_char()

    def end_quote(self) -> None:
        if self.quote is not None:
            self.close("blockquote", self.quote)
            self.quote = None

    def marker_or_char(self) -> None:
        for marker, kind in _MARKERS:
            if self.source.startswith(marker, self.at):
                if self.open and self.open[-1][0] == kind:
                    _, offset, _ = self.open.pop()
                    self.close(kind, offset)
                else:
                    self.open.append((kind, self.length, self.at))
                self.at += len(marker)
                return
        char = self.source[self.at]
        if char in _RESERVED:
            raise _reserved(char)
        self.emit(char)
        self.at += 1


# "Any character with code between 1 and 126 inclusively can be escaped anywhere".
_ANY_ASCII = "".join(map(chr, range(1, 127)))


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    """The plain text and entities of a MarkdownV2-formatted message."""
    return _MarkdownV2(text).run()


def parse(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """The plain text and entities of `text` in `parse_mode` (None: the text as it is)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        # The legacy mode, which the Bot API keeps "for backward compatibility" only: refused
        # plainly rather than passing text the real service might reject.
        raise UnsupportedMode(f"parse_mode {parse_mode} is not implemented by the test double")
    raise UnsupportedMode("unsupported parse_mode")
