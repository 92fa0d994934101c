"""Outbox: guaranteed delivery of notifications through the channel adapters (Postfix-style queue).

A notification is in exactly one state at a time, moved only by the transition table of
router/delivery/states.py: queued -> sending -> sent | delivered; a temporary failure or a
throttle puts it back to queued (due after the backoff, or the peer's retry_after); a permanent
one makes it failed, and with no fallback yet, dead; retrying past the maximum age makes it
dead. A crash while `sending` puts it back to queued; the notification id is stable across
attempts, so a peer that can dedupe on it (email's Message-ID) gets no double, and one that
cannot (an SMSC) may get it again after the restart (docs/channels.md says so per channel).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

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
from channels.pacing import Pacing
from router.clock import rfc3339, utc_now
from router.delivery.fallback import Fallback, fail_for_good
from router.delivery.notifier import rendering_decoder
from router.delivery.reports import ReportStore, refused_move, took
from router.delivery.states import Event, State, TransitionRefused
from router.delivery.suppression import STOP_REQUESTED, suppression_address
from router.delivery.templates import html_of
from router.ops import metrics
from router.retry import RetryPolicy
from router.store.access import Store
from router.store.transaction import AttachmentRecord, NotificationRecord
from router.workqueue import Claim, Worker

log = logging.getLogger(__name__)
_NO_FALLBACK = Fallback(())

CLAIM_BATCH = 64
# A peer that has not answered in this long is treated as a failed attempt and retried.
DELIVERY_TIMEOUT = 30.0


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` automatic messages to one contact within `window` seconds."""

    limit: int
    window: float


class OutboxStore(ReportStore, Protocol):
    """The store as the outbox uses it: due notices claimed, paced or deferred, the files and
    the thread of one; with the reports' and the fallback's, to settle an attempt."""

    def recover_sending(self, at: str) -> int: ...
    def due_notifications(
        self, now: float, limit: int, *, exclude: Sequence[str] = ()
    ) -> list[NotificationRecord]: ...
    def claim_notifications(self, ids: list[str], at: str) -> list[NotificationRecord]: ...
    def next_notification_at(
        self, *, exclude: Sequence[str] = (), after: float = -math.inf
    ) -> float | None: ...
    def automatic_sent_since(self, contact_id: str, since: float, now: float) -> list[float]: ...
    def attachments(self, ids: list[str]) -> list[AttachmentRecord]: ...
    def thread_messages(self, number: str, channel: str) -> list[tuple[str, bool, str]]: ...


def _threading(tx: OutboxStore, record: NotificationRecord) -> Threading:
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
        db: Store[OutboxStore],
        adapters: Callable[[], Mapping[str, Deliver]],
        retry: Callable[[], RetryPolicy],
        rate: Callable[[], RateLimit],
        fallback: Callable[[], Fallback] = lambda: _NO_FALLBACK,
        lanes: Callable[[], Mapping[str, Lane]] = dict,
        fits: Callable[[], Mapping[str, Fit]] = dict,
        *,
        account_lanes: Callable[[], Mapping[tuple[str, str], Lane]] = dict,
        restarting: Callable[[], Collection[tuple[str, str]]] = frozenset,
        concurrency: int = 16,
        delivery_timeout: float = DELIVERY_TIMEOUT,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self.retry = retry
        self.rate = rate
        self.fallback = fallback
        # A channel's lane holds the room of all its accounts; an account's own lane (by channel
        # and account) paces its notices and bounds their attempts, as its adapter sends them.
        self.lanes = lanes
        self.account_lanes = account_lanes
        # The accounts (channel, name) a reload is restarting: their notices wait for them.
        self.restarting = restarting
        self.fits = fits
        # A channel that declares no lane (a test's, say) gets this one.
        self.default_lane = Lane(concurrency, delivery_timeout)
        # Pacing is decided in the claim, in the writer thread, and only there.
        self._pacing = Pacing()
        self.worker: Worker[NotificationRecord] = Worker(self)

    def wake(self) -> None:
        """A notification was queued: look now rather than at the next due time."""
        self.worker.wake()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver until cancelled."""
        await self.worker.run(task_status=task_status)

    async def drain(self) -> None:
        """Claim nothing more and wait until the deliveries in flight have ended (the daemon
        stops; the caller bounds the wait). What is still queued goes out after the restart."""
        await self.worker.drain()

    # -- the queue, as the work-queue worker asks for it --------------------------------------

    batch = CLAIM_BATCH

    def lane(self, item: NotificationRecord) -> str:
        """Each channel has its lane."""
        return item.channel

    def capacity(self, lane: str) -> int:
        """The channel's lane's concurrency."""
        return self.lanes().get(lane, self.default_lane).concurrency

    async def recover(self) -> int:
        """Notices that were being sent at the last stop go back to the queue."""
        recovered = await self.db.write(lambda tx: tx.recover_sending(_now_iso()))
        if recovered:
            log.info("outbox: %d notifications were mid-delivery at the last stop", recovered)
        return recovered

    async def claim(self, room: Mapping[str, int]) -> Claim[NotificationRecord]:
        """Due notices whose lane has room, their pace come, their address not suppressed."""
        # Read here, in the trio thread: a reload changes them there.
        lanes, accounts = dict(self.lanes()), dict(self.account_lanes())
        routes = _Routes(accounts, frozenset(self.restarting()))
        claim = functools.partial(
            self._claim, lanes=lanes, accounts=accounts, routes=routes, room=dict(room)
        )
        return await self.db.write(claim)

    async def next_due(self, full: Sequence[str], after: float) -> float | None:
        """When the next notice of a lane with room is due."""
        return await self.db.read(functools.partial(_next_due, exclude=list(full), after=after))

    async def attempt(self, item: NotificationRecord) -> None:
        """One delivery attempt, its outcome settled through the state machine."""
        accounts = self.account_lanes()
        sender = _Routes(accounts, frozenset(self.restarting())).sender(item)
        await self._deliver(item, sender, self._lane_of(item, sender, self.lanes(), accounts))

    def _lane_of(
        self,
        record: NotificationRecord,
        sender: str,
        lanes: Mapping[str, Lane],
        accounts: Mapping[tuple[str, str], Lane],
    ) -> Lane:
        """The lane of the account that sends the notice, else its channel's."""
        lane = accounts.get((record.channel, sender))
        return lane if lane is not None else lanes.get(record.channel, self.default_lane)

    async def give_back(self, items: Sequence[NotificationRecord]) -> None:
        """Claimed as the drain began: queued again, for after the restart."""
        at = _now_iso()

        def give_back(tx: OutboxStore) -> None:
            for record in items:
                tx.move_notification(record.id, Event.INTERRUPTED, at)

        if items:
            await self.db.write(give_back)

    def _claim(
        self,
        tx: OutboxStore,
        *,
        lanes: dict[str, Lane],
        accounts: dict[tuple[str, str], Lane],
        routes: _Routes,
        room: dict[str, int],
    ) -> Claim[NotificationRecord]:
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
            sender = routes.sender(record)
            lane = self._lane_of(record, sender, lanes, accounts)
            wait = self._pacing.wait(lane, record.channel, sender, record.address)
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
            self._pacing.reserve(lane, record.channel, sender, record.address)
            channel_lane = lanes.get(record.channel, self.default_lane)
            room[record.channel] = room.get(record.channel, channel_lane.concurrency) - 1
        return Claim(tx.claim_notifications(ready, at), len(due), now)

    async def _deliver(self, record: NotificationRecord, sender: str, lane: Lane) -> None:
        started = time.perf_counter()
        try:
            message = await self._outbound(record, lane)
            # Looked up once the notice is ready, with no wait left before the send: a reload
            # meanwhile would have left it a channel's deliver of before the reload.
            adapter = self.adapters().get(record.channel)
            if adapter is None:
                raise DeliveryFailed(f"channel {record.channel} is not enabled", permanent=True)
            with trio.fail_after(lane.attempt_timeout):
                sent = await adapter(message)
        except DeliveryFailed as exc:
            await self._failed(record, sender, exc)
        except trio.TooSlowError:
            timeout = DeliveryFailed(f"no answer in {lane.attempt_timeout:g}s")
            await self._failed(record, sender, timeout)
        except Exception as exc:
            # An adapter's bug or a full disk is one failed attempt, retried with backoff; it
            # must not take the whole outbox, and with it the daemon, down.
            log.exception("notification %s via %s: unexpected error", record.id, record.channel)
            await self._failed(record, sender, DeliveryFailed(f"{type(exc).__name__}: {exc}"))
        else:
            fallback = self.fallback()
            state = await self._apply(record, lambda tx, at: took(tx, record, sent, at, fallback))
            metrics.notification_attempts.labels(record.channel, str(state)).inc()
            metrics.stage_seconds.labels("deliver").observe(time.perf_counter() - started)

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
        event = rendering.event or ""
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
            # A status change is the one automatic notice that answers nothing the citizen sent.
            answers=record.automatic and not event.startswith("status."),
            status=event.removeprefix("status.") if event.startswith("status.") else None,
        )

    async def _files(self, record: NotificationRecord) -> list[OutboundFile]:
        """The files sent with a notification (checked clean when the reply was queued)."""
        ids = json.loads(record.attachments)
        if not ids:
            return []
        records = await self.db.read(lambda tx: tx.attachments(ids))
        return [OutboundFile(r.id, r.filename, r.content_type, r.size) for r in records]

    async def _failed(
        self, record: NotificationRecord, sender: str, failure: DeliveryFailed
    ) -> None:
        """A failed attempt: for good, throttled (with `sender`, the account that sent it,
        paused if the failure is the whole account's) or retried."""
        now = time.time()
        retry = self.retry()
        if failure.permanent:
            fallback = self.fallback()
            state = await self._apply(
                record,
                lambda tx, at: fail_for_good(
                    _suppressing(tx, record, failure.suppress, at),
                    record,
                    Event.REFUSED,
                    failure.reason,
                    at,
                    fallback,
                ),
            )
        elif failure.retry_after is not None and now - record.first_queued_at < retry.max_age:
            retry_after = failure.retry_after

            def throttled(tx: OutboxStore, at: str) -> State:
                if failure.account_wide:
                    # The whole account must wait (a Telegram 429): none of its notices is
                    # claimed before, where each would wait the pause out inside its attempt
                    # and fail at the attempt's timeout. Set here, in the writer thread, where
                    # the claim reads the pacing.
                    self._pacing.pause(record.channel, sender, retry_after)
                return tx.move_notification(
                    record.id, Event.THROTTLED, at, reason=failure.reason, next_at=now + retry_after
                )

            state = await self._apply(record, throttled)
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

    async def _apply(
        self, record: NotificationRecord, change: Callable[[OutboxStore, str], State]
    ) -> State:
        """Run a change of the notification's state in one transaction; a move the table does
        not allow is logged and counted, and leaves the notification as it is."""
        at = _now_iso()
        try:
            return await self.db.write(lambda tx: change(tx, at))
        except TransitionRefused as refused:
            refused_move(record.id, refused)
            return refused.state


def sending_account(
    named: str, sending: Collection[str], restarting: Collection[str]
) -> str | None:
    """The account a notice naming `named` goes through: that one if it sends, or if a reload
    is restarting it (the notice waits for it: from another, it would come from the wrong
    number or bot); else the channel's first that sends, `sending` in order (a copy naming
    "default", an account since removed); None when the channel has none."""
    if named in sending or named in restarting:
        return named
    return next(iter(sending), None)


class _Routes:
    """The accounts that send and those a reload is restarting, as of one moment: which account
    a notice goes through, for its pace and its account's pause (a Telegram flood wait)."""

    def __init__(
        self, accounts: Collection[tuple[str, str]], restarting: Collection[tuple[str, str]]
    ) -> None:
        self._sending = _by_channel(accounts)
        self._restarting = _by_channel(restarting)

    def sender(self, record: NotificationRecord) -> str:
        """The account that sends `record` (router.daemon.through_account sends it there)."""
        channel = record.channel
        sending = sending_account(
            record.account, self._sending.get(channel, []), self._restarting.get(channel, [])
        )
        return sending or record.account


def _by_channel(accounts: Collection[tuple[str, str]]) -> dict[str, list[str]]:
    """(channel, account) pairs as each channel's accounts, in their order."""
    grouped: dict[str, list[str]] = {}
    for channel, account in accounts:
        grouped.setdefault(channel, []).append(account)
    return grouped


def _suppressing(
    tx: OutboxStore, record: NotificationRecord, reason: str | None, at: str
) -> OutboxStore:
    """The transaction, the notice's address put on the suppression list first if the
    adapter asked (a blocked bot), so the fallback and later notices pass it by."""
    if reason is not None:
        address = suppression_address(record.channel, record.address)
        tx.suppress(record.channel, address, reason, at, None)
    return tx


def _next_due(tx: OutboxStore, *, exclude: list[str], after: float) -> float | None:
    return tx.next_notification_at(exclude=exclude, after=after)


def _now_iso() -> str:
    return rfc3339(utc_now())
