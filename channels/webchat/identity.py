"""The portal's signed identity of its logged-in user (CONTRACTS.md, "Web chat"): a pure check,
no I/O; the adapter reads the key and the clock."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, NamedTuple

import msgspec

from channels.emails import canonical_email
from channels.phones import HOME_REGION, canonical_phone

# CONTRACTS.md: an identity issued more than a minute ahead of our clock is refused; within it,
# the portal's clock and ours may disagree (NTP keeps them far closer).
CLOCK_SKEW = 60.0
# The fields are joined with it, so no field may hold it: "a|b" + "" and "a" + "b|" would be
# one signed text for two identities.
SEPARATOR = "|"


class IdentityInvalid(ValueError):
    """A presented identity is refused; `reason` is for the portal's developers and the log,
    and quotes nothing of the identity."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Presented(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The identity as the widget hands it on."""

    user_id: str
    iat: int
    sig: str
    phone: str | None = None
    email: str | None = None


class PortalUser(NamedTuple):
    """A portal user whose identity the signature proves, with the phone (E.164) and email
    (lower case) the portal vouches for."""

    user_id: str
    phone: str | None
    email: str | None


def signed_text(user_id: str, phone: str | None, email: str | None, iat: int) -> bytes:
    """The UTF-8 text the portal signs: `user_id|phone|email|iat`, an absent field empty."""
    return SEPARATOR.join([user_id, phone or "", email or "", str(iat)]).encode()


def signature(key: bytes, user_id: str, phone: str | None, email: str | None, iat: int) -> str:
    """The hex HMAC-SHA256 of the signed text, as the portal computes it."""
    return hmac.new(key, signed_text(user_id, phone, email, iat), hashlib.sha256).hexdigest()


def verify(presented: dict[str, Any], key: bytes, now: float, max_age: float) -> PortalUser:
    """The portal user `presented` proves at `now` (UNIX seconds), or IdentityInvalid."""
    try:
        identity = msgspec.convert(presented, _Presented)
    except msgspec.ValidationError as exc:
        raise IdentityInvalid(f"malformed: {exc}") from None
    fields = (identity.user_id, identity.phone or "", identity.email or "")
    if not identity.user_id or any(SEPARATOR in field for field in fields):
        raise IdentityInvalid("user_id is empty, or a field holds the separator '|'")
    try:
        expected = signature(key, identity.user_id, identity.phone, identity.email, identity.iat)
    except UnicodeEncodeError:  # JSON can escape a lone surrogate, which no UTF-8 text holds
        raise IdentityInvalid("malformed: a field is not UTF-8 text") from None
    # Constant time: how much of a guessed signature matches must not show in the answer's time.
    if not hmac.compare_digest(expected.encode(), identity.sig.lower().encode()):
        raise IdentityInvalid("bad signature")
    if identity.iat > now + CLOCK_SKEW:
        raise IdentityInvalid("issued in the future (iat more than a minute ahead)")
    if now - identity.iat > max_age:
        raise IdentityInvalid(f"expired (issued more than {max_age:g}s ago)")
    phone = canonical_phone(identity.phone, HOME_REGION) if identity.phone else None
    if identity.phone and phone is None:
        raise IdentityInvalid("phone is not a valid number")
    email = canonical_email(identity.email) if identity.email else None
    if identity.email and email is None:
        raise IdentityInvalid("email is not an address")
    return PortalUser(identity.user_id, phone, email)
