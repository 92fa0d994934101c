"""Outbox: guaranteed delivery of notifications through the channel adapters (Postfix-style queue).

A notification is in exactly one state at a time, moved only by the transition table of
router/delivery/states.py: queued -> sending -> sent | delivered; a temporary failure or a
throttle puts it back to queued (due after the backoff, or the peer's retry_after); a permanent
one makes it failed, and with no fallback yet, dead; retrying past the maximum age makes it
dead. A crash while `sending` puts it back to queued; the adapters dedupe on the notification
id, so a retry cannot double it.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import trio

from channels.contract import (
    Deliver,
    DeliveryFailed,
    DoesNotFit,
    Fit,
    Lane,
    Outbound,
    OutboundFile,
    Threading,
)
from router.clock import rfc3339, utc_now
from router.delivery.fallback import fail_for_good
from router.delivery.lanes import InFlight, Pacing
from router.delivery.notifier import rendering_decoder
from router.delivery.reports import refused_move, took
from router.delivery.states import Event, State, TransitionRefused
from router.delivery.suppression import STOP_REQUESTED, suppression_address
from router.delivery.templates import html_of
from router.ops import metrics
from router.retry import RetryPolicy, Wakeup
from router.store.database import Database
from router.store.transaction import NotificationRecord, Tx

log = logging.getLogger(__name__)

CLAIM_BATCH = 64
# A peer that has not answered in this long is treated as a failed attempt and retried.
DELIVERY_TIMEOUT = 30.0


class Claim(NamedTuple):
    """What one claim took, when it looked (epoch seconds), and how many due notices it
    looked at (CLAIM_BATCH: there may be more behind them)."""

    records: list[NotificationRecord]
    at: float
    examined: int


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` automatic messages to one contact within `window` seconds."""

    limit: int
    window: float


def _threading(tx: Tx, record: NotificationRecord) -> Threading:
    """Where a notice stands in its ticket's conversation on its channel: the citizen's last
    message before it (the one it answers) and every message before it, oldest first."""
    assert record.ticket_number is not None
    before = [
        (theirs, message_id)
        for at, theirs, message_id in tx.thread_messages(record.ticket_number, record.channel)
        if at <= record.created_at
    ]
    answered = [message_id for theirs, message_id in before if theirs]
    return Threading(
        in_reply_to=answered[-1] if answered else None,
        references=[message_id for _, message_id in before],
    )


class Outbox:
    """Claims due notifications and hands each to its channel's adapter."""

    def __init__(
        self,
        db: Database,
        adapters: Callable[[], Mapping[str, Deliver]],
        retry: Callable[[], RetryPolicy],
        rate: Callable[[], RateLimit],
        fallback: Callable[[], Sequence[str]] = tuple,
        lanes: Callable[[], Mapping[str, Lane]] = dict,
        fits: Callable[[], Mapping[str, Fit]] = dict,
        *,
        concurrency: int = 16,
        delivery_timeout: float = DELIVERY_TIMEOUT,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self.retry = retry
        self.rate = rate
        self.fallback = fallback
        self.wakeup = Wakeup()
        self.lanes = lanes
        self.fits = fits
        # A channel that declares no lane (a test's, say) gets this one.
        self.default_lane = Lane(concurrency, delivery_timeout)
        self._in_flight = InFlight()
        # Pacing is decided in the claim, in the writer thread, and only there.
        self._pacing = Pacing()
        self._claiming = False
        self._draining = False
        self._idle = trio.Event()

    def wake(self) -> None:
        """A notification was queued: look now rather than at the next due time."""
        self.wakeup.wake()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver until cancelled."""
        recovered = await self.db.write(lambda tx: tx.recover_sending(_now_iso()))
        if recovered:
            log.info("outbox: %d notifications were mid-delivery at the last stop", recovered)
        task_status.started()
        async with trio.open_nursery() as nursery:
            while not self._draining:
                lanes = dict(self.lanes())
                room = self._in_flight.room(lanes, self.default_lane)
                self._claiming = True
                try:
                    claim = await self.db.write(
                        functools.partial(self._claim, lanes=lanes, room=room)
                    )
                finally:
                    self._claiming = False
                if self.draining():  # the drain began meanwhile: these wait for the restart
                    await self._give_back(claim.records)
                    break
                self._in_flight.update(record.channel for record in claim.records)
                for record in claim.records:
                    nursery.start_soon(self._deliver, record, lanes)
                if claim.examined < CLAIM_BATCH:
                    # Every due notice was looked at, and those not claimed were passed over
                    # because their lane is full (a delivery ending wakes the loop): sleep
                    # until one becomes due later.
                    full = self._in_flight.full(lanes, self.default_lane)
                    due = await self.db.read(
                        functools.partial(_next_due, exclude=full, after=claim.at)
                    )
                    await self.wakeup.sleep_until(due, time.time())
            self._settle()
            await trio.sleep_forever()  # draining: the deliveries in flight go on

    async def drain(self) -> None:
        """Claim nothing more and wait until the deliveries in flight have ended (the daemon
        stops; the caller bounds the wait). What is still queued goes out after the restart."""
        self._draining = True
        self.wakeup.wake()
        if self._in_flight.total() or self._claiming:
            await self._idle.wait()

    def draining(self) -> bool:
        """Whether a drain has begun (it may begin during any await)."""
        return self._draining

    def _settle(self) -> None:
        """Draining, and nothing in flight or being claimed: the drain is over."""
        if self._draining and not self._in_flight.total() and not self._claiming:
            self._idle.set()

    async def _give_back(self, records: list[NotificationRecord]) -> None:
        at = _now_iso()

        def give_back(tx: Tx) -> None:
            for record in records:
                tx.move_notification(record.id, Event.INTERRUPTED, at)

        if records:
            await self.db.write(give_back)

    def _claim(self, tx: Tx, *, lanes: dict[str, Lane], room: dict[str, int]) -> Claim:
        """Claim due notifications, deferring automatic ones over the per-contact limit and
        those whose account or address must wait for its pace (they hold no lane slot
        meanwhile)."""
        now = time.time()
        rate = self.rate()
        ready = []
        in_batch: dict[str, int] = {}
        at = _now_iso()
        # The query passes over full lanes: a channel with a backlog does not hide the others'.
        full = [channel for channel, free in room.items() if free <= 0]
        due = tx.due_notifications(now, CLAIM_BATCH, exclude=full)
        for record in due:
            if room.get(record.channel, 1) <= 0:
                continue  # its lane filled up within this batch; it waits, still queued
            lane = lanes.get(record.channel, self.default_lane)
            wait = self._pacing.wait(lane, record.channel, record.account, record.address)
            if wait > 0:
                # Due at its turn: it leaves the head of the queue, where it would hide the
                # notices of other addresses behind it.
                tx.move_notification(record.id, Event.PACED, at, next_at=now + wait)
                continue
            address = suppression_address(record.channel, record.address)
            why = tx.suppressed(record.channel, address, at)
            if why is not None and not (record.confirms_stop and why == STOP_REQUESTED):
                # CONTRACTS.md: a suppressed address gets nothing on that channel but the one
                # confirmation of its «СТОП» (a bounced address could not take that either);
                # the notice follows the fallback, else it is a dead letter: listed, never
                # silent, and replayable once the address is taken off the list.
                reason = f"suppressed: {why}"
                fail_for_good(tx, record, Event.SUPPRESSED, reason, at, self.fallback())
                metrics.notification_attempts.labels(record.channel, "suppressed").inc()
                continue
            if record.automatic and record.contact_id is not None:
                sent = tx.automatic_sent_since(record.contact_id, now - rate.window, now)
                count = len(sent) + in_batch.get(record.contact_id, 0)
                if count >= rate.limit:
                    # Deferred, not dropped and not an attempt: it goes out when the window
                    # has room again.
                    retry_at = (sent[0] if sent else now) + rate.window
                    tx.move_notification(
                        record.id,
                        Event.DEFERRED,
                        at,
                        reason="rate limited: automatic messages per contact",
                        next_at=retry_at,
                    )
                    continue
                in_batch[record.contact_id] = in_batch.get(record.contact_id, 0) + 1
            ready.append(record.id)
            self._pacing.reserve(lane, record.channel, record.account, record.address)
            room[record.channel] = room.get(record.channel, lane.concurrency) - 1
        return Claim(tx.claim_notifications(ready, at), now, len(due))

    async def _deliver(self, record: NotificationRecord, lanes: dict[str, Lane]) -> None:
        lane = lanes.get(record.channel, self.default_lane)
        try:
            adapter = self.adapters().get(record.channel)
            started = time.perf_counter()
            try:
                if adapter is None:
                    raise DeliveryFailed(f"channel {record.channel} is not enabled", permanent=True)
                message = await self._outbound(record, lane)
                with trio.fail_after(lane.attempt_timeout):
                    sent = await adapter(message)
            except DeliveryFailed as exc:
                await self._failed(record, exc)
            except trio.TooSlowError:
                await self._failed(
                    record, DeliveryFailed(f"no answer in {lane.attempt_timeout:g}s")
                )
            except Exception as exc:
                # An adapter's bug or a full disk is one failed attempt, retried with backoff;
                # it must not take the whole outbox, and with it the daemon, down.
                log.exception("notification %s via %s: unexpected error", record.id, record.channel)
                await self._failed(record, DeliveryFailed(f"{type(exc).__name__}: {exc}"))
            else:
                order = self.fallback()
                state = await self._apply(record, lambda tx, at: took(tx, record, sent, at, order))
                metrics.notification_attempts.labels(record.channel, str(state)).inc()
                metrics.stage_seconds.labels("deliver").observe(time.perf_counter() - started)
        finally:
            self._in_flight[record.channel] -= 1
            self._settle()
            self.wakeup.wake()  # its lane has room again

    async def _outbound(self, record: NotificationRecord, lane: Lane) -> Outbound:
        """The notice as its channel sends it; DeliveryFailed (for good) if its text cannot go
        out there, so that it falls back to a channel it fits."""
        text = record.text
        fit = self.fits().get(record.channel)
        try:
            parts = [text] if fit is None else fit(text)
        except DoesNotFit as exc:
            raise DeliveryFailed(
                f"does not fit the {record.channel} channel: {exc.reason}", permanent=True
            ) from exc
        rendering = rendering_decoder.decode(record.rendering)
        threading = Threading()
        if lane.threads and record.ticket_number is not None:
            threading = await self.db.read(lambda tx: _threading(tx, record))
        return Outbound(
            id=record.id,
            channel=record.channel,
            account=record.account,
            address=record.address,
            kind=record.kind,
            ticket=record.ticket_number,
            text=text,
            created_at=record.created_at,
            attachments=await self._files(record),
            parts=parts,
            subject=rendering.subject,
            html=html_of(text, rendering.language) if lane.html else None,
            buttons=rendering.buttons,
            language=rendering.language,
            automatic=record.automatic,
            threading=threading,
        )

    async def _files(self, record: NotificationRecord) -> list[OutboundFile]:
        """The files sent with a notification (checked clean when the reply was queued)."""
        ids = json.loads(record.attachments)
        if not ids:
            return []
        records = await self.db.read(lambda tx: tx.attachments(ids))
        return [OutboundFile(r.id, r.filename, r.content_type, r.size) for r in records]

    async def _failed(self, record: NotificationRecord, failure: DeliveryFailed) -> None:
        now = time.time()
        retry = self.retry()
        if failure.permanent:
            order = self.fallback()
            state = await self._apply(
                record,
                lambda tx, at: fail_for_good(tx, record, Event.REFUSED, failure.reason, at, order),
            )
        elif failure.retry_after is not None and now - record.first_queued_at < retry.max_age:
            state = await self._move(
                record, Event.THROTTLED, reason=failure.reason, next_at=now + failure.retry_after
            )
        else:
            next_at = retry.next_attempt(record.attempts, record.first_queued_at, now)
            if next_at is None:
                state = await self._move(record, Event.EXPIRED, reason=failure.reason)
            else:
                state = await self._move(
                    record, Event.RETRY, reason=failure.reason, next_at=next_at
                )
        log.warning(
            "notification %s via %s %s after %d attempts: %s",
            record.id,
            record.channel,
            state,
            record.attempts,
            failure.reason,
        )
        outcome = (
            "throttled" if failure.retry_after is not None and state is State.QUEUED else state
        )
        metrics.notification_attempts.labels(record.channel, str(outcome)).inc()
        # The loop may be asleep with nothing else due: it must learn of the retry's due time.
        self.wakeup.wake()

    async def _move(
        self,
        record: NotificationRecord,
        event: Event,
        *,
        reason: str | None = None,
        next_at: float | None = None,
        sent_at: float | None = None,
    ) -> State:
        """Apply one event by the transition table."""
        return await self._apply(
            record,
            lambda tx, at: tx.move_notification(
                record.id, event, at, reason=reason, next_at=next_at, sent_at=sent_at
            ),
        )

    async def _apply(self, record: NotificationRecord, change: Callable[[Tx, str], State]) -> State:
        """Run a change of the notification's state in one transaction; a move the table does
        not allow is logged and counted, and leaves the notification as it is."""
        at = _now_iso()
        try:
            return await self.db.write(lambda tx: change(tx, at))
        except TransitionRefused as refused:
            refused_move(record.id, refused)
            return refused.state


def _next_due(tx: Tx, *, exclude: list[str], after: float) -> float | None:
    return tx.next_notification_at(exclude=exclude, after=after)


def _now_iso() -> str:
    return rfc3339(utc_now())
