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
    message without one is keyed by its content's digest."""
    headers = _headers.parsebytes(raw)
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


def _text(headers: Message, name: str) -> str:
    """A header's value as text; empty when missing or unreadable."""
    try:
        value = headers.get(name)
    except (ValueError, IndexError, TypeError):  # RFC 2047 or an address list it cannot read
        return ""
    return "" if value is None else str(value)


def _from(headers: Message) -> Sender | None:
    """The From address, unverified, should the message prove unreadable."""
    try:
        addresses: tuple[Address, ...] = getattr(headers.get("from"), "addresses", ())
    except (ValueError, IndexError, TypeError):
        return None
    if len(addresses) != 1 or not addresses[0].domain:
        return None
    address = addresses[0]
    return Sender("email", address.addr_spec.lower(), address.display_name or None)
