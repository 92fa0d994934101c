"""Handoff to the ticketing backend: the pull feed (cursor, long-poll) and the signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import trio

from router.ops import metrics
from router.retry import RetryPolicy, Wakeup
from router.store.database import Database

log = logging.getLogger(__name__)
CLAIM_BATCH = 64


class Feed:
    """The pull feed: envelopes after a cursor, waiting for new ones when asked to."""

    def __init__(self, db: Database) -> None:
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
    """Posts each envelope to the backend until a 2xx, with backoff, then dead-letters it."""

    def __init__(
        self,
        db: Database,
        target: Callable[[], WebhookTarget],
        retry: Callable[[], RetryPolicy],
        *,
        concurrency: int = 4,
    ) -> None:
        self.db = db
        self.target = target
        self.retry = retry
        self.wakeup = Wakeup()
        self._limiter = trio.CapacityLimiter(concurrency)

    def wake(self) -> None:
        """An envelope was queued for handoff."""
        self.wakeup.wake()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hand off until cancelled."""
        recovered = await self.db.write(lambda tx: tx.recover_handoffs())
        if recovered:
            log.info("webhook: %d envelopes were mid-delivery at the last stop", recovered)
        async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
            task_status.started()
            while True:
                claimed = await self.db.write(
                    lambda tx: tx.claim_handoffs(time.time(), CLAIM_BATCH)
                )
                for seq, envelope_id, body, attempts, first_queued in claimed:
                    await self._limiter.acquire_on_behalf_of(seq)
                    nursery.start_soon(
                        self._post, client, seq, envelope_id, bytes(body), attempts, first_queued
                    )
                if len(claimed) < CLAIM_BATCH:
                    next_due = await self.db.read(lambda tx: tx.next_handoff_at())
                    await self.wakeup.sleep_until(next_due, time.time())

    async def _post(
        self,
        client: httpx.AsyncClient,
        seq: int,
        envelope_id: str,
        body: bytes,
        attempts: int,
        first_queued: float,
    ) -> None:
        target = self.target()
        timestamp = str(int(time.time()))
        started = time.perf_counter()
        error: str | None
        try:
            response = await client.post(
                target.url,
                content=body,
                timeout=target.timeout,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": envelope_id,
                    "X-Omnirouter-Timestamp": timestamp,
                    "X-Omnirouter-Signature": sign(target.secret, timestamp, body),
                },
            )
            error = None if response.is_success else f"HTTP {response.status_code}"
        except Exception as exc:  # any failure is one attempt, retried; never the daemon's end
            error = f"{type(exc).__name__}: {exc}"
        now = time.time()
        attempts += 1
        if error is None:
            state, next_at = "delivered", now
            metrics.stage_seconds.labels("handoff").observe(time.perf_counter() - started)
        else:
            retry_at = self.retry().next_attempt(attempts, first_queued, now)
            state, next_at = ("dead", now) if retry_at is None else ("queued", retry_at)
            log.warning(
                "webhook handoff of %s: %s (attempt %d, %s)", envelope_id, error, attempts, state
            )
        try:
            await self.db.write(lambda tx: tx.handoff_result(seq, state, attempts, next_at, error))
        finally:
            self._limiter.release_on_behalf_of(seq)
        if state != "delivered":
            self.wakeup.wake()  # its retry time may be earlier than the sleep now under way
        metrics.handed_off.labels("webhook", state).inc()
