"""Handoff to the ticketing backend: the pull feed (cursor, long-poll) and the signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import trio

from router.ops import metrics
from router.retry import RetryPolicy
from router.store.access import Store
from router.store.transaction import Handoff
from router.workqueue import Claim, Worker

log = logging.getLogger(__name__)
CLAIM_BATCH = 64
# The webhook's one lane in the work-queue worker.
LANE = "webhook"


class HandoffStore(Protocol):
    """The store as the handoff uses it: the feed after a cursor, and the webhook's queue."""

    def feed_after(self, after: int, limit: int) -> list[tuple[int, bytes]]: ...
    def recover_handoffs(self) -> int: ...
    def claim_handoffs(self, now: float, limit: int) -> list[Handoff]: ...
    def requeue_handoffs(self, seqs: Sequence[int]) -> None: ...
    def next_handoff_at(self) -> float | None: ...
    def handoff_result(
        self, seq: int, state: str, attempts: int, next_at: float, error: str | None
    ) -> None: ...


class Feed:
    """The pull feed: envelopes after a cursor, waiting for new ones when asked to."""

    def __init__(self, db: Store[HandoffStore]) -> None:
        self.db = db
        self._published = trio.Event()
        self._closing = False

    def published(self) -> None:
        """New envelopes were committed: wake the long-polls."""
        self._published.set()
        self._published = trio.Event()

    def close(self) -> None:
        """The daemon is draining: answer the long-polls now, so the backend reconnects."""
        self._closing = True
        self.published()

    async def page(self, after: int, limit: int, wait: float) -> tuple[list[bytes], int]:
        """Envelope bodies after `after` (at most `limit`), and the cursor that follows them."""
        deadline = trio.current_time() + wait
        while True:
            # Taken before the read so an envelope published during the read still wakes us.
            published = self._published
            rows = await self.db.read(lambda tx: tx.feed_after(after, limit))
            if rows or self._closing or trio.current_time() >= deadline:
                break
            with trio.move_on_at(deadline):
                await published.wait()
        cursor = rows[-1][0] if rows else after
        metrics.handed_off.labels("feed", "served").inc(len(rows))
        return [bytes(body) for _, body in rows], cursor


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` HMAC of "{timestamp}.{body}" (CONTRACTS.md, webhook mode)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class WebhookTarget:
    """Where and how envelopes are posted."""

    url: str
    secret: bytes
    timeout: float


class WebhookHandoff:
    """Posts each envelope to the backend until a 2xx, with backoff, then dead-letters it: a
    durable queue of the one work-queue mechanism (router/workqueue.py), in one lane."""

    batch = CLAIM_BATCH

    def __init__(
        self,
        db: Store[HandoffStore],
        target: Callable[[], WebhookTarget],
        retry: Callable[[], RetryPolicy],
        *,
        concurrency: int = 4,
    ) -> None:
        self.db = db
        self.target = target
        self.retry = retry
        self.concurrency = concurrency
        self.worker: Worker[Handoff] = Worker(self)
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """An envelope was queued for handoff."""
        self.worker.wake()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hand off until cancelled."""
        async with httpx.AsyncClient() as client:
            self._client = client
            await self.worker.run(task_status=task_status)

    async def drain(self) -> None:
        """Claim nothing more; let the posts in flight finish (the daemon stops)."""
        await self.worker.drain()

    # -- the queue, as the work-queue worker asks for it --------------------------------------

    def lane(self, item: Handoff) -> str:
        """One lane: the backend's webhook."""
        return LANE

    def capacity(self, lane: str) -> int:
        """Posts to the backend at once."""
        return self.concurrency

    async def recover(self) -> int:
        """Posts under way at the last stop are due again."""
        recovered = await self.db.write(lambda tx: tx.recover_handoffs())
        if recovered:
            log.info("webhook: %d envelopes were mid-delivery at the last stop", recovered)
        return recovered

    async def claim(self, room: Mapping[str, int]) -> Claim[Handoff]:
        """Due envelopes, as many as the lane has room for."""
        limit = min(CLAIM_BATCH, room.get(LANE, self.concurrency))
        now = time.time()
        if limit <= 0:
            return Claim([], 0, now)
        claimed = await self.db.write(lambda tx: tx.claim_handoffs(now, limit))
        # As many as there was room for: there may be more due behind them.
        return Claim(claimed, CLAIM_BATCH if len(claimed) == limit else len(claimed), now)

    async def next_due(self, full: Sequence[str], after: float) -> float | None:
        """When the next envelope is due, unless every post slot is taken."""
        if LANE in full:
            return None  # a post ending wakes the worker
        return await self.db.read(lambda tx: tx.next_handoff_at())

    async def give_back(self, items: Sequence[Handoff]) -> None:
        """Claimed as the drain began: queued again, for after the restart."""
        seqs = [item.seq for item in items]
        if seqs:
            await self.db.write(lambda tx: tx.requeue_handoffs(seqs))

    async def attempt(self, item: Handoff) -> None:
        """POST one envelope, signed; record the outcome (delivered, retried, or dead)."""
        assert self._client is not None, "run() opens the client"
        target = self.target()
        timestamp = str(int(time.time()))
        started = time.perf_counter()
        error: str | None
        try:
            response = await self._client.post(
                target.url,
                content=item.body,
                timeout=target.timeout,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": item.envelope_id,
                    "X-Omnirouter-Timestamp": timestamp,
                    "X-Omnirouter-Signature": sign(target.secret, timestamp, item.body),
                },
            )
            error = None if response.is_success else f"HTTP {response.status_code}"
        except Exception as exc:  # any failure is one attempt, retried; never the daemon's end
            error = f"{type(exc).__name__}: {exc}"
        now = time.time()
        attempts = item.attempts + 1
        if error is None:
            state, next_at = "delivered", now
            metrics.stage_seconds.labels("handoff").observe(time.perf_counter() - started)
        else:
            retry_at = self.retry().next_attempt(attempts, item.first_queued_at, now)
            state, next_at = ("dead", now) if retry_at is None else ("queued", retry_at)
            log.warning(
                "webhook handoff of %s: %s (attempt %d, %s)",
                item.envelope_id,
                error,
                attempts,
                state,
            )
        await self.db.write(lambda tx: tx.handoff_result(item.seq, state, attempts, next_at, error))
        metrics.handed_off.labels("webhook", state).inc()
