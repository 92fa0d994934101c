"""One durable work-queue mechanism for the outbox and the webhook handoff (ARCHITECTURE.md 5).

A queue's items live in the store; the worker claims what is due (moving it to its in-flight
state in the same transaction), attempts each claimed item in a task of its own within its
lane's room, and sleeps until the next item is due or new work arrives. The owner of a queue
says how to claim, attempt and settle (done, retried at a time with backoff, or a dead letter
once RetryPolicy gives up); the worker owns the loop, the lanes' in-flight counts, recovery at
start-up and the drain at shutdown, so the two queues cannot drift apart.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Generic, NamedTuple, Protocol, TypeVar

import trio

from router.retry import Wakeup

Item = TypeVar("Item")
Item_co = TypeVar("Item_co", covariant=True)


class Claim(NamedTuple, Generic[Item_co]):
    """What one claim took: the items now in flight, how many due ones it looked at (fewer
    than the batch: every due item was seen), and when (epoch seconds)."""

    items: Sequence[Item_co]
    examined: int
    at: float


class Queue(Protocol[Item]):
    """What the owner of a durable queue tells the worker."""

    @property
    def batch(self) -> int:
        """Most due items looked at by one claim."""
        ...

    def lane(self, item: Item) -> str:
        """The lane an item's attempt counts against."""
        ...

    def capacity(self, lane: str) -> int:
        """Attempts a lane takes at once (it may change on reload)."""
        ...

    async def recover(self) -> int:
        """Put back what was in flight when the daemon last stopped; how many."""
        ...

    async def claim(self, room: Mapping[str, int]) -> Claim[Item]:
        """Claim due items, passing over lanes with no room (`room` names the busy lanes)."""
        ...

    async def next_due(self, full: Sequence[str], after: float) -> float | None:
        """When the next item of a lane not in `full` is due, after a claim at `after`."""
        ...

    async def attempt(self, item: Item) -> None:
        """Attempt an item and settle its outcome in the store; never raises."""
        ...

    async def give_back(self, items: Sequence[Item]) -> None:
        """Items claimed as a drain began: back to the queue, for after the restart."""
        ...


class Worker(Generic[Item]):
    """Runs one durable queue: claim, attempt within each lane's room, sleep, drain."""

    def __init__(self, queue: Queue[Item]) -> None:
        self.queue = queue
        self.wakeup = Wakeup()
        self.in_flight: Counter[str] = Counter()
        self._claiming = False
        self._draining = False
        self._idle = trio.Event()

    def wake(self) -> None:
        """New work, or a lane with room again: look now rather than at the next due time."""
        self.wakeup.wake()

    def draining(self) -> bool:
        """Whether a drain has begun (it may begin during any await)."""
        return self._draining

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Work the queue until cancelled; report started once recovery put back what the last
        stop left in flight."""
        await self.queue.recover()
        task_status.started()
        async with trio.open_nursery() as nursery:
            while not self._draining:
                room = self.room()
                self._claiming = True
                try:
                    claim = await self.queue.claim(room)
                finally:
                    self._claiming = False
                if self.draining():  # the drain began meanwhile: these wait for the restart
                    await self.queue.give_back(claim.items)
                    break
                for item in claim.items:
                    self.in_flight[self.queue.lane(item)] += 1
                    nursery.start_soon(self._attempt, item)
                if claim.examined < self.queue.batch:
                    # Every due item was looked at, and those not claimed were passed over
                    # because their lane is full (an attempt ending wakes the loop): sleep
                    # until one becomes due later.
                    due = await self.queue.next_due(self.full(), claim.at)
                    await self.wakeup.sleep_until(due, time.time())
            self._settle()
            await trio.sleep_forever()  # draining: the attempts in flight go on

    async def drain(self) -> None:
        """Claim nothing more and wait until the attempts in flight have ended (the daemon
        stops; the caller bounds the wait). What is still queued goes after the restart."""
        self._draining = True
        self.wakeup.wake()
        if self.in_flight.total() or self._claiming:
            await self._idle.wait()

    def room(self) -> dict[str, int]:
        """How many more attempts each busy lane takes now."""
        return {lane: self.queue.capacity(lane) - n for lane, n in self.in_flight.items()}

    def full(self) -> list[str]:
        """Lanes that take no more attempts now."""
        return [lane for lane, free in self.room().items() if free <= 0]

    async def _attempt(self, item: Item) -> None:
        try:
            await self.queue.attempt(item)
        finally:
            self.in_flight[self.queue.lane(item)] -= 1
            self._settle()
            self.wakeup.wake()  # its lane has room again, or its retry is due earlier

    def _settle(self) -> None:
        """Draining, and nothing in flight or being claimed: the drain is over."""
        if self._draining and not self.in_flight.total() and not self._claiming:
            self._idle.set()
