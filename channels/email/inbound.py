"""A citizen's mail as the journal keeps it: the message byte for byte, keyed by its Message-ID,
with what the transport said of it beside (CONTRACTS.md `raw`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import default

from channels.contract import Received, Sender, rfc3339

CONTENT_TYPE = "message/rfc822"
_headers = BytesHeaderParser(policy=default)


def received(raw: bytes, account: str, metadata: dict[str, str]) -> Received:
    """What the intake commits for one of `account`'s messages, before anything parses it.

    The key is the Message-ID (RFC 5322 3.6.4: unique to the message), so the same message
    fetched again, or delivered again by an MTA that missed our answer, files nothing new; a
    message without one is keyed by its content's digest. Whatever the header holds, this does
    not raise: it runs before the commit, and an error here would lose the message (a 5xx to
    the MTA, an IMAP folder read again from the same message forever). What cannot be read is
    left out (no sender) and flagged by the parser after the commit."""
    headers = _header(raw)
    message_id = _text(headers, "message-id").strip()
    return Received(
        channel="email",
        account=account,
        idempotency_key=message_id or "sha256:" + hashlib.sha256(raw).hexdigest(),
        received_at=rfc3339(datetime.now(UTC)),
        content_type=CONTENT_TYPE,
        payload=raw,
        metadata=metadata,
        sender=_from(headers),
    )


def _header(raw: bytes) -> Message | None:
    """The header section as the stdlib reads it, or None where it cannot."""
    try:
        return _headers.parsebytes(raw)
    except Exception:  # any bytes at all come in here: see received()
        return None


def _text(headers: Message | None, name: str) -> str:
    """A header's value as text; empty when missing or unreadable."""
    if headers is None:
        return ""
    try:
        value = headers.get(name)
        return "" if value is None else str(value)
    # Not only ValueError: the stdlib's header classes raise UnboundLocalError, AttributeError
    # and others on fields such as "From: a@[b" (Python 3.11).
    except Exception:
        return ""


def _from(headers: Message | None) -> Sender | None:
    """The From address, unverified, should the message prove unreadable; None when the field
    holds no single address the stdlib can read."""
    if headers is None:
        return None
    try:
        addresses: tuple[Address, ...] = getattr(headers.get("from"), "addresses", ())
        if len(addresses) != 1 or not addresses[0].domain:
            return None
        address = addresses[0]
        return Sender("email", address.addr_spec.lower(), address.display_name or None)
    except Exception:  # as in _text: the header classes raise anything
        return None
