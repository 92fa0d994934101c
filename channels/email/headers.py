"""Header fields read as they came, so a malformed one is read as text instead of raising.

The stdlib's policy.default parses a field into its structured class on access, and raises
on some that citizens' and spammers' software writes: `str(message["From"])` raises
IndexError for "From: ivan@". Mail is read here from the raw values. Those header classes also
decode an encoded-word in its declared charset only, and raw 8-bit text as replacement
characters; here both go through `charsets.decode`, which does not trust the label.
"""

from __future__ import annotations

import re
from datetime import UTC
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

import msgspec

from . import charsets

# RFC 5322 3.2.2: unfolding removes the CRLF before folding white space, nothing else.
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
# An addr-spec as far as a reply can go to it: a local part and a domain, nothing that
# getaddresses leaves in when the field is malformed (spaces, brackets, quotes).
_ADDR_SPEC = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


class Address(msgspec.Struct, frozen=True):
    """A mailbox: its addr-spec in lower case and its display name, decoded."""

    address: str
    display_name: str | None = None


def raw_values(message: Message, name: str) -> list[str]:
    """Every value of field `name`, top first, unfolded (RFC 5322 2.2.3); encoded-words are
    left as they are, raw 8-bit text read as UTF-8 (RFC 6532) or the charset it really is."""
    wanted = name.lower()
    return [_unfolded(str(value)) for key, value in message.raw_items() if key.lower() == wanted]


def _unfolded(value: str) -> str:
    return " ".join(_eight_bit(value).split())


def _eight_bit(value: str) -> str:
    # The parser keeps a raw byte it could not decode as a lone surrogate: the bytes go back
    # together and are read in the charset they are in, instead of raising later.
    if value.isascii():
        return value
    return charsets.decode(value.encode("utf-8", "surrogateescape"), None).text


def first_value(message: Message, name: str) -> str | None:
    """The topmost value of field `name`, unfolded and not decoded, or None."""
    values = raw_values(message, name)
    return values[0] if values else None


def text_value(message: Message, name: str) -> str:
    """The topmost value of field `name` as text, RFC 2047 encoded-words decoded, "" if absent;
    as it came where it cannot be decoded."""
    return decoded(first_value(message, name) or "")


def decoded(raw: str) -> str:
    """A raw value (Subject, a display name) as text: unfolded, raw 8-bit text and RFC 2047
    encoded-words each read in the charset they really are; as it came where undecodable."""
    value = _eight_bit(_FOLD.sub("", raw).strip())
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError):
        return value
    return "".join(_chunk(content, label) for content, label in chunks)


def _chunk(content: bytes | str, label: str | None) -> str:
    if isinstance(content, str):
        return content
    if label is None:
        # decode_header hands unencoded stretches back escaped, not in any charset.
        return content.decode("raw-unicode-escape", errors="replace")
    return charsets.decode(content, label.split("*")[0]).text  # RFC 2231 5: "utf-8*ru"


def addresses(message: Message, name: str) -> list[str]:
    """The addresses (addr-specs) in every value of field `name`; read before any decoding, so
    a display name with a comma in an encoded-word stays one name."""
    return [address for _, address in getaddresses(raw_values(message, name))]


def mailboxes(raw: str) -> list[Address]:
    """The mailboxes of a raw address field (From, To, Cc, Reply-To) that a reply could reach,
    in order: addr-specs in lower case, display names decoded after the split."""
    found: list[Address] = []
    for name, address in getaddresses([_FOLD.sub("", raw)]):
        if _ADDR_SPEC.fullmatch(address.strip()):
            shown = decoded(name).strip() if name else ""
            found.append(Address(address.strip().lower(), shown or None))
    return found


def message_ids(raw: str) -> list[str]:
    """The Message-IDs of a Message-ID, In-Reply-To or References field, "<id@host>" each."""
    value = _FOLD.sub("", raw)
    ids = [f"<{found}>" for found in _MSG_ID.findall(value)]
    if not ids:
        # Some clients leave out the angle brackets.
        ids = [f"<{token.strip('<>')}>" for token in value.split() if "@" in token]
    return ids


def date(raw: str) -> str | None:
    """A Date field as RFC 3339 text in the sender's own offset, or None if unreadable."""
    try:
        moment = parsedate_to_datetime(_FOLD.sub("", raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # RFC 5322 3.3: "-0000" is UTC with no local offset known
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
