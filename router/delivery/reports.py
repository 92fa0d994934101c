"""Receipts and bounces: what a peer says later of what it took, keyed by its reference, moves
the notification by the transition table; one that overtakes the answer to its attempt (SMPP
deliver_sm before submit_sm_resp) is held and matched when the references are stored."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from channels.contract import Channel, Sent
from router.clock import rfc3339, utc_now
from router.delivery.fallback import Fallback, fail_for_good
from router.delivery.states import Event, State, TransitionRefused
from router.ops import metrics
from router.store.database import Database
from router.store.transaction import NotificationRecord, Tx

log = logging.getLogger(__name__)


def took(tx: Tx, record: NotificationRecord, sent: Sent, at: str, fallback: Fallback) -> State:
    """The peer took the attempt: sent (or delivered), its references kept, and any report
    that came before them applied now."""
    event = Event.CONFIRMED if sent.confirmed else Event.ACCEPTED
    state = tx.move_notification(record.id, event, at, sent_at=time.time())
    for delivered, reason in tx.add_references(record.id, record.channel, sent.references):
        try:
            state = settle(tx, record, delivered, reason, at, fallback)
        except TransitionRefused as refused:  # nothing was written: the attempt's move stands
            refused_move(record.id, refused)
    return state


def settle(
    tx: Tx,
    record: NotificationRecord,
    delivered: bool,
    reason: str | None,
    at: str,
    fallback: Fallback,
) -> State:
    """A report: the citizen has it, or never will (then on to the fallback)."""
    if delivered:
        return tx.move_notification(record.id, Event.RECEIPT_DELIVERED, at, reason=reason)
    why = reason or "the peer reports it undelivered"
    return fail_for_good(tx, record, Event.RECEIPT_FAILED, why, at, fallback)


class Reports:
    """The ReportPort the channels are handed."""

    def __init__(
        self, db: Database, fallback: Callable[[], Fallback], wake: Callable[[], None]
    ) -> None:
        self.db = db
        self.fallback = fallback
        self.wake = wake

    async def report(
        self, channel: Channel, reference: str, *, delivered: bool, reason: str | None = None
    ) -> None:
        """Apply a receipt or a bounce, or hold it until its attempt's answer is stored."""
        at = rfc3339(utc_now())
        fallback = self.fallback()

        def apply(conn: sqlite3.Connection) -> None:
            tx = Tx(conn)
            record = tx.referenced_notification(channel, reference)
            if record is None:
                tx.hold_report(channel, reference, delivered, reason, at)
                return
            try:
                settle(tx, record, delivered, reason, at, fallback)
            except TransitionRefused as refused:
                refused_move(record.id, refused)

        await self.db.write(apply)
        self.wake()  # a fallback copy may have been queued


def refused_move(notification_id: str, refused: TransitionRefused) -> None:
    """A move the transition table does not allow: counted and logged, not applied."""
    metrics.transitions_refused.labels(str(refused.state), str(refused.event)).inc()
    log.warning("notification %s: %s; left as it is", notification_id, refused)
