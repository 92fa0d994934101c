"""Fallback: a notice its channel cannot deliver for good goes to the contact's next verified
channel, in the order of `[notifier] fallback` (CONTRACTS.md); a status notice is never lost
silently."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from channels.contract import Sender
from dedupe.identity import canonical_contact
from dedupe.ports import DedupeState
from router.delivery.notifier import NotificationQueue
from router.delivery.states import Event, State
from router.delivery.suppression import KINDS, suppression_address
from router.store.transaction import NotificationRecord


class FallbackStore(DedupeState, NotificationQueue, Protocol):
    """The store as the fallback uses it: the person's identities, the suppression list, and
    the notification's moves; with dedupe's state, to find the person."""

    def identities(self, contact_id: str) -> list[Sender]: ...
    def last_account(self, contact_id: str, channel: str) -> str | None: ...
    def suppressed(self, channel: str, address: str, now: str) -> str | None: ...
    def move_notification(
        self,
        notification_id: str,
        event: Event,
        at: str,
        *,
        reason: str | None = None,
        next_at: float | None = None,
        sent_at: float | None = None,
    ) -> State: ...


# How a notice is rendered anew for another channel from what its Rendering kept: (text,
# rendering) for that channel, or None to send the text as it is.
Rerender = Callable[[str, str], tuple[str, str] | None]


class Fallback(NamedTuple):
    """Where a notice goes when its channel cannot deliver it for good: the channels in order
    (`[notifier] fallback`), and how to render it for one of them (its SMS text, not the
    email's)."""

    order: Sequence[str]
    rerender: Rerender | None = None


def fail_for_good(
    tx: FallbackStore,
    record: NotificationRecord,
    event: Event,
    reason: str,
    at: str,
    fallback: Fallback,
) -> State:
    """`event` says the notice never reaches the citizen on its channel: it is failed, and on
    to the person's next verified channel, or a dead letter."""
    tx.move_notification(record.id, event, at, reason=reason)
    fallen = fall_back(tx, record, fallback, at, time.time())
    if fallen is None:
        return tx.move_notification(record.id, Event.NO_FALLBACK, at, reason=reason)
    channel, copy = fallen
    note = f"fell back to {channel}: notification {copy}"
    return tx.move_notification(record.id, Event.FELL_BACK, at, reason=note)


def fall_back(
    tx: FallbackStore, record: NotificationRecord, fallback: Fallback, at: str, now: float
) -> tuple[str, str] | None:
    """Queue the notice on the next channel of `order` after its own where the person has a
    verified, unsuppressed identity; (channel, new notification id), or None if none is left.

    Only the channels after the notice's own are tried (all of them from a channel not in the
    order), so a chain of fallbacks ends.
    """
    if record.contact_id is None:
        return None
    order = fallback.order
    later = order[order.index(record.channel) + 1 :] if record.channel in order else order
    person = canonical_contact(tx, record.contact_id)
    identities = [
        (contact, identity)
        for contact in tx.merged_contacts(person)
        for identity in tx.identities(contact)
        if identity.verified
    ]
    for channel in later:
        for contact, identity in identities:
            address = suppression_address(channel, identity.address)
            if identity.kind != KINDS[channel] or tx.suppressed(channel, address, at):
                continue
            rendered = fallback.rerender(record.rendering, channel) if fallback.rerender else None
            text, rendering = rendered or (record.text, record.rendering)
            notification_id, _ = tx.queue_notification(
                f"fallback:{record.id}:{channel}",
                at,
                now,
                ticket=record.ticket_number,
                contact_id=record.contact_id,
                channel=channel,
                # Through the account the person last wrote to there, else the channel's first.
                account=tx.last_account(contact, channel) or "default",
                address=identity.address,
                kind=record.kind,
                automatic=bool(record.automatic),
                text=text,
                attachments=json.loads(record.attachments),
                rendering=rendering,
            )
            return channel, notification_id
    return None
