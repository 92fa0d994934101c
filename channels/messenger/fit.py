"""How a notice's text goes out as Telegram messages: at most 4096 characters each, cut
between paragraphs, then between lines, then between words, never silently shortened."""

from __future__ import annotations

# Bot API sendMessage: "Text of the message to be sent, 1-4096 characters after entities
# parsing"; we send plain text, so characters are the text's.
MESSAGE_LIMIT = 4096
# Where a text is cut, best first: between paragraphs, lines, words.
_BREAKS = ("\n\n", "\n", " ")


def split(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` as the messages it goes out as, each at most `limit` characters."""
    return _split(text.strip(), limit, 0)


def _split(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(_BREAKS):
        # A run without a space longer than a message (a link, a base64 blob): cut it.
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    separator = _BREAKS[level]
    parts: list[str] = []
    for piece in text.split(separator):
        for chunk in _split(piece, limit, level + 1) if len(piece) > limit else [piece]:
            if parts and len(parts[-1]) + len(separator) + len(chunk) <= limit:
                parts[-1] += separator + chunk
            else:
                parts.append(chunk)
    return [part for part in parts if part.strip()]
