"""The suppression list: addresses that get nothing from us on a channel (CONTRACTS.md)."""

from __future__ import annotations

import unicodedata

import msgspec

from channels.contract import Sender
from channels.phones import HOME_REGION, canonical_phone
from normaliser.identifiers import canonical_sender

# The channels notices go out on, and the sender kind of each one's addresses.
KINDS = {"email": "email", "sms": "phone", "messenger": "telegram", "webchat": "webchat"}
# A reason is a short note: the channels write bounced, stop_requested, bot_blocked or
# user_deactivated.
REASON_MAX = 200
# A citizen's «СТОП»: the one reason the citizen lifts by writing to us again (CONTRACTS.md).
STOP_REQUESTED = "stop_requested"
# A permanent bounce: the address cannot be reached, for the channel's suppress_for.
BOUNCED = "bounced"
# A messenger's user blocked the bot (Telegram's 403); writing to it again shows it unblocked.
BOT_BLOCKED = "bot_blocked"


class Suppression(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /api/v1/admin/suppressions"""

    address: str
    reason: str
    channel: str | None = None
    until: str | None = None


class SuppressionRefused(ValueError):
    """An entry that cannot be kept: its reason says why."""


def entry_key(address: str, channel: str | None) -> tuple[str, str]:
    """(channel, address) in the sender form: the channel named, or read from the address
    (`@`: email; `+` and digits: SMS; digits alone: a Telegram user id)."""
    address = address.strip()
    if not address or any(unicodedata.category(c) in ("Cc", "Cf") for c in address):
        raise SuppressionRefused("an address without control or invisible characters")
    if channel is None:
        channel = _channel_of(address)
    kind = KINDS.get(channel)
    if kind is None:
        raise SuppressionRefused(f"channel is one of {', '.join(KINDS)}")
    if kind == "phone" and canonical_phone(address, HOME_REGION) is None:
        raise SuppressionRefused("not a phone number (E.164, e.g. +79161234567)")
    if kind == "email" and "@" not in address:
        raise SuppressionRefused("not an email address")
    return channel, suppression_address(channel, canonical_sender(Sender(kind, address)).address)


def suppression_address(channel: str, address: str) -> str:
    """An address as the list keeps it: an email in lower case (CONTRACTS.md) whatever case a
    sender wrote its local part in, anything else as the channel gives it."""
    return address.lower() if channel == "email" else address


def _channel_of(address: str) -> str:
    if "@" in address:
        return "email"
    if address.startswith("+") and canonical_phone(address, HOME_REGION) is not None:
        return "sms"
    if address.isascii() and address.isdigit():
        return "messenger"
    raise SuppressionRefused("name the channel: email, sms, messenger or webchat")


def checked_reason(reason: str) -> str:
    """The reason, stripped; SuppressionRefused if blank or longer than REASON_MAX."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise SuppressionRefused(f"reason: 1 to {REASON_MAX} characters")
    return reason
