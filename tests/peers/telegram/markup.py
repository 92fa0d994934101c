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


def parse(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """The plain text and entities of `text` in `parse_mode` (None: the text as it is)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode in ("markdownv2", "markdown"):
        # Real modes the double does not parse: refused plainly rather than passing text the
        # real service might reject.
        raise UnsupportedMode(f"parse_mode {parse_mode} is not implemented by the test double")
    raise UnsupportedMode("unsupported parse_mode")
