"""Header fields read as they came, so a malformed one is read as text instead of raising.

The stdlib's policy.default parses a field into its structured class on access, and raises
on some that citizens' and spammers' software writes: `str(message["From"])` raises
IndexError for "From: ivan@". Mail is read here from the raw values.
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses


def raw_values(message: Message, name: str) -> list[str]:
    """Every value of field `name`, top first, unfolded (RFC 5322 2.2.3); encoded-words are
    left as they are, raw 8-bit text (RFC 6532) read as UTF-8."""
    wanted = name.lower()
    return [_unfolded(str(value)) for key, value in message.raw_items() if key.lower() == wanted]


def _unfolded(value: str) -> str:
    # The parser keeps a raw byte it could not decode as a lone surrogate; UTF-8 is what
    # RFC 6532 allows there, and anything else becomes U+FFFD instead of raising later.
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(text.split())


def first_value(message: Message, name: str) -> str | None:
    """The topmost value of field `name`, unfolded and not decoded, or None."""
    values = raw_values(message, name)
    return values[0] if values else None


def text_value(message: Message, name: str) -> str:
    """The topmost value of field `name` as text, RFC 2047 encoded-words decoded, "" if absent;
    as it came where it cannot be decoded."""
    raw = first_value(message, name) or ""
    try:
        return str(make_header(decode_header(raw)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return raw


def addresses(message: Message, name: str) -> list[str]:
    """The addresses (addr-specs) in every value of field `name`; read before any decoding, so
    a display name with a comma in an encoded-word stays one name."""
    return [address for _, address in getaddresses(raw_values(message, name))]
