"""Receipts and bounces: what a peer says later of what it took, keyed by its reference, moves
the notification by the transition table; one that overtakes the answer to its attempt (SMPP
deliver_sm before submit_sm_resp) is held and matched when the references are stored."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from channels.contract import Channel, DeliveryReport, Sent
from router.clock import parse_rfc3339, rfc3339, utc_now
from router.delivery.fallback import Fallback, FallbackStore, fail_for_good
from router.delivery.states import Event, State, TransitionRefused
from router.delivery.suppression import BOUNCED, suppression_address
from router.ops import metrics
from router.store.access import Store
from router.store.transaction import NotificationRecord

log = logging.getLogger(__name__)
# How long a report that names no notice yet is held for the answer that will name it. That
# answer comes within an attempt (seconds; at worst the lane's attempt_timeout); a report held
# longer named something else: another client's message, or an id the peer has since reused
# (an SMSC's counter that wrapped or restarted), and must not move a notice of today.
HELD_REPORTS_FOR = timedelta(hours=1)


class ReportStore(FallbackStore, Protocol):
    """The store as reports use it: notifications by peer reference, reports held until the
    references are stored; with the fallback's, for a report that fails a notice for good."""

    def add_references(
        self, notification_id: str, channel: str, references: Sequence[str], held_since: str
    ) -> list[tuple[bool, str | None]]: ...
    def referenced_notification(
        self, channel: str, reference: str
    ) -> NotificationRecord | None: ...
    def hold_report(
        self,
        channel: str,
        reference: str,
        delivered: bool,
        reason: str | None,
        at: str,
        held_since: str,
    ) -> None: ...
    def suppress(
        self, channel: str, address: str, reason: str, since: str, until: str | None
    ) -> dict[str, Any]: ...


def took(
    tx: ReportStore, record: NotificationRecord, sent: Sent, at: str, fallback: Fallback
) -> State:
    """The peer took the attempt: sent (or delivered), its references kept, and any report
    that came before them applied now."""
    event = Event.CONFIRMED if sent.confirmed else Event.ACCEPTED
    state = tx.move_notification(record.id, event, at, sent_at=time.time())
    held = tx.add_references(record.id, record.channel, sent.references, _held_since(at))
    for delivered, reason in held:
        try:
            state = settle(tx, record, delivered, reason, at, fallback)
        except TransitionRefused as refused:  # nothing was written: the attempt's move stands
            refused_move(record.id, refused)
    return state


def settle(
    tx: FallbackStore,
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
        self,
        db: Store[ReportStore],
        fallback: Callable[[], Fallback],
        wake: Callable[[], None],
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
        # Urgent: the peer (an SMSC's deliver_sm with the receipt) is answered after it.
        await self.db.write(
            lambda tx: apply_report(tx, channel, reference, delivered, reason, at, fallback),
            urgent=True,
        )
        self.wake()  # a fallback copy may have been queued

    def file(self, tx: ReportStore, channel: Channel, report: DeliveryReport, at: str) -> None:
        """Apply a report a parser read from a message (a bounce), in the caller's commit: the
        notice it names moves, and an unreachable address is suppressed for a while."""
        fallback = self.fallback()
        if report.delivered is not None:
            for reference in report.references:
                apply_report(tx, channel, reference, report.delivered, report.reason, at, fallback)
        elif report.references:
            # A delay (or relayed, expanded): the notice stays as it is, but someone may ask
            # why it is not delivered yet.
            log.info(
                "a %s report on %s tells no outcome yet; the notice is left as it is",
                channel,
                ", ".join(report.references),
            )
        if report.suppress_for is not None and report.delivered is False:
            until = rfc3339(parse_rfc3339(at) + timedelta(seconds=report.suppress_for))
            for address in _unreachable(tx, channel, report):
                tx.suppress(channel, address, BOUNCED, at, until)
        if not report.references:
            metrics.reports_unmatched.labels(channel).inc()
            log.warning("a %s report names no notice at all; kept in the journal", channel)


def _unreachable(tx: ReportStore, channel: Channel, report: DeliveryReport) -> list[str]:
    """The addresses a permanent failure puts on the suppression list."""
    # Anyone can write a bounce: it suppresses only the address of a notice it names.
    named = (tx.referenced_notification(channel, ref) for ref in report.references)
    addresses = {suppression_address(channel, n.address) for n in named if n is not None}
    if report.unreachable is None:  # it names no recipient: its notice's own (DeliveryReport)
        return sorted(addresses)
    address = suppression_address(channel, report.unreachable)
    return [address] if address in addresses else []


def apply_report(
    tx: ReportStore,
    channel: Channel,
    reference: str,
    delivered: bool,
    reason: str | None,
    at: str,
    fallback: Fallback,
) -> None:
    """A receipt or a bounce applied to the notification it names, or held until the answer to
    its attempt stores the reference."""
    record = tx.referenced_notification(channel, reference)
    if record is None:
        # A receipt before its submit's answer, or for no notice of ours (an id of another
        # client of the same SMSC account): counted, and kept in case an answer names it.
        tx.hold_report(channel, reference, delivered, reason, at, _held_since(at))
        metrics.reports_unmatched.labels(channel).inc()
        log.info("a %s report for %s names no notice yet; held", channel, reference)
        return
    try:
        settle(tx, record, delivered, reason, at, fallback)
    except TransitionRefused as refused:
        refused_move(record.id, refused)


def _held_since(at: str) -> str:
    """The oldest report still held at `at` (HELD_REPORTS_FOR)."""
    return rfc3339(parse_rfc3339(at) - HELD_REPORTS_FOR)


def refused_move(notification_id: str, refused: TransitionRefused) -> None:
    """A move the transition table does not allow: counted and logged, not applied."""
    metrics.transitions_refused.labels(str(refused.state), str(refused.event)).inc()
    log.warning("notification %s: %s; left as it is", notification_id, refused)
