"""Guaranteed delivery mechanics shared by the outbox and the webhook handoff."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import trio


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, and the age after which an item is a dead letter."""

    first_delay: float
    max_delay: float
    max_age: float

    def next_attempt(self, attempts: int, first_queued_at: float, now: float) -> float | None:
        """When to try again after `attempts` failures, or None when the item is dead."""
        if now - first_queued_at >= self.max_age:
            return None
        delay = min(self.max_delay, self.first_delay * 2.0 ** max(0, attempts - 1))
        # Half-to-full jitter keeps a backlog of failures from retrying in lockstep.
        return now + delay * random.uniform(0.5, 1.0)


class Wakeup:
    """Lets a queue worker sleep until its next item is due or new work arrives."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def wake(self) -> None:
        """New work arrived: end the current sleep."""
        self._event.set()

    async def sleep_until(self, due: float | None, now: float) -> None:
        """Sleep until `due` (wall-clock seconds) or a wake, whichever comes first."""
        timeout = math.inf if due is None else max(0.0, due - now)
        with trio.move_on_after(timeout):
            await self._event.wait()
        self._event = trio.Event()
