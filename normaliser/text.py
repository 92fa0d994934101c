"""Plain text as the rest of the pipeline expects it: NFC, LF line ends, no invisible characters."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

# Every line-ending convention mail clients, SMS gateways and browsers send, including the
# Unicode line/paragraph separators and NEL (a C1 control that means "new line", not garbage);
# vertical tab and form feed also end a line rather than glue two words together.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")

# Characters that render as nothing but break searching and comparison: soft hyphen, Mongolian
# vowel separator, zero-width space/non-joiner/joiner, LRM/RLM, bidi embeddings and isolates
# (also a "Trojan Source" vector), word joiner and invisible operators, BOM / ZWNBSP.
_INVISIBLE = [
    *(0x00AD, 0x180E, 0xFEFF),
    *range(0x200B, 0x2010),
    *range(0x202A, 0x202F),
    *range(0x2060, 0x2065),
    *range(0x2066, 0x206A),
]
# C0 and C1 controls and DEL; tab and LF are the only controls with a meaning in plain text.
_CONTROLS = [c for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\t\n"]
_DELETE_TABLE: dict[int, None] = dict.fromkeys(_INVISIBLE + _CONTROLS)

# Two blank lines are kept: some citizens separate sections that way; more is only noise.
_BLANK_RUN = re.compile(r"\n{4,}")


def clean_text(s: str) -> str:
    """Return `s` as canonical plain text: NFC, LF lines, no invisible chars, tidy blank lines."""
    s = _LINE_BREAKS.sub("\n", s).translate(_DELETE_TABLE).replace("\t", " ")
    # NFC last: deleting a zero-width char may bring a base letter and a combining mark together.
    s = unicodedata.normalize("NFC", s)
    s = "\n".join(line.rstrip() for line in s.split("\n"))
    return _BLANK_RUN.sub("\n\n\n", s).strip("\n")


# HTML's own whitespace (WHATWG "ASCII whitespace"); U+00A0 from &nbsp; is deliberately kept.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_SUPPRESSED = frozenset({"head", "script", "style", "template"})
_BLOCKS = frozenset(
    {
        *("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("ul", "ol", "dl", "dt", "dd", "table", "blockquote", "pre", "hr"),
        *("section", "article", "header", "footer", "address", "form", "fieldset"),
    }
)
_CELLS = frozenset({"td", "th"})


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML document with line breaks where blocks are."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._suppressed = 0
        self._pre = 0
        self._at_line_start = True

    def _emit(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self._at_line_start = text.endswith("\n")

    def _line_break(self) -> None:
        if not self._at_line_start:
            self._emit("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SUPPRESSED:
            self._suppressed += 1
        elif tag == "body":
            # An unclosed <head> must not swallow the whole body.
            self._suppressed = 0
        elif tag == "br":
            self._emit("\n")
        elif tag in _BLOCKS:
            self._line_break()
            if tag == "pre":
                self._pre += 1
            if tag == "li":
                self._emit("- ")
        elif tag in _CELLS and not self._at_line_start:
            self._emit(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SUPPRESSED:
            self._suppressed = max(0, self._suppressed - 1)
        elif tag in _BLOCKS:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._line_break()

    def handle_data(self, data: str) -> None:
        if self._suppressed:
            return
        if self._pre:
            self._emit(data)
            return
        data = _HTML_SPACE.sub(" ", data)
        if self._at_line_start:
            data = data.lstrip(" ")
        self._emit(data)


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML body as clean plain text."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return clean_text("".join(extractor.parts))
