"""Email addresses as one identity on every channel: checked for shape, kept in lower case."""

from __future__ import annotations

import re

# RFC 5321 4.5.3.1.1: a local part of at most 64 octets; a domain with a dot and a top-level
# label of two letters or more. Deliverability is the mail server's to say, not ours.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")


def canonical_email(raw: str) -> str | None:
    """The address in `raw` in lower case (CONTRACTS.md: the sender form), or None if it does
    not look like one."""
    address = raw.strip()
    if not _EMAIL.fullmatch(address) or not address.isprintable():
        return None
    return address.lower()
