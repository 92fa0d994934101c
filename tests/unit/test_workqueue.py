"""The one work-queue mechanism of the outbox and the webhook handoff, over an in-memory queue:
each lane's room is kept, what is due later is attempted when due, a drain lets the attempts
in flight finish and gives back what it claimed meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import trio
import trio.lowlevel

from router.workqueue import Claim, Worker


@dataclass
class Job:
    name: str
    lane: str
    due: float = 0.0


@dataclass
class MemoryQueue:
    """Jobs in memory; attempts wait on `release` when asked to, and are recorded."""

    jobs: list[Job]
    capacities: dict[str, int]
    batch: int = 8
    release: trio.Event | None = None
    attempted: list[str] = field(default_factory=list)
    given_back: list[str] = field(default_factory=list)
    recovered: bool = False
    most_at_once: dict[str, int] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    changed: trio.Event = field(default_factory=trio.Event)

    def _changed(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait (bounded) until an attempt starting or ending makes `condition` true."""
        with trio.fail_after(5):
            while not condition():
                await self.changed.wait()

    def lane(self, item: Job) -> str:
        return item.lane

    def capacity(self, lane: str) -> int:
        return self.capacities[lane]

    async def recover(self) -> int:
        self.recovered = True
        return 0

    async def claim(self, room: Mapping[str, int]) -> Claim[Job]:
        assert self.recovered, "recovery comes before the first claim"
        now = time.time()
        due = [job for job in self.jobs if job.due <= now][: self.batch]
        left = dict(room)
        taken = []
        for job in due:
            if left.get(job.lane, self.capacities[job.lane]) <= 0:
                continue
            left[job.lane] = left.get(job.lane, self.capacities[job.lane]) - 1
            taken.append(job)
            self.jobs.remove(job)
        return Claim(taken, len(due), now)

    async def next_due(self, full: Sequence[str], after: float) -> float | None:
        return min((job.due for job in self.jobs if job.lane not in full), default=None)

    async def attempt(self, item: Job) -> None:
        self.running[item.lane] = self.running.get(item.lane, 0) + 1
        self.most_at_once[item.lane] = max(
            self.most_at_once.get(item.lane, 0), self.running[item.lane]
        )
        self._changed()
        if self.release is not None:
            await self.release.wait()
        await trio.lowlevel.checkpoint()
        self.running[item.lane] -= 1
        self.attempted.append(item.name)
        self._changed()

    async def give_back(self, items: Sequence[Job]) -> None:
        self.given_back.extend(item.name for item in items)
        self.jobs.extend(items)


async def test_each_lane_keeps_its_room_and_a_busy_lane_holds_no_other() -> None:
    queue = MemoryQueue(
        [
            *(Job(f"slow{n}", "slow") for n in range(5)),
            *(Job(f"fast{n}", "fast") for n in range(5)),
        ],
        {"slow": 2, "fast": 3},
        release=trio.Event(),
    )
    worker = Worker(queue)
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        await queue.until(lambda: sum(queue.running.values()) == 5)
        assert queue.running == {"slow": 2, "fast": 3}  # both lanes busy, neither over
        assert queue.release is not None
        queue.release.set()
        await queue.until(lambda: len(queue.attempted) == 10)
        nursery.cancel_scope.cancel()
    assert queue.most_at_once == {"slow": 2, "fast": 3}


async def test_what_is_due_later_is_attempted_when_due() -> None:
    queue = MemoryQueue([Job("later", "lane", due=time.time() + 0.2)], {"lane": 1})
    worker = Worker(queue)
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        await trio.sleep(0.05)
        assert queue.attempted == []
        await queue.until(lambda: bool(queue.attempted))
        nursery.cancel_scope.cancel()
    assert queue.attempted == ["later"]


async def test_a_drain_lets_attempts_in_flight_finish_and_claims_nothing_more() -> None:
    queue = MemoryQueue([Job("first", "lane")], {"lane": 1}, release=trio.Event())
    worker = Worker(queue)
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        await queue.until(lambda: queue.running.get("lane") == 1)
        queue.jobs.append(Job("second", "lane"))
        worker.wake()

        async def release_soon() -> None:
            await trio.sleep(0.1)
            assert queue.release is not None
            queue.release.set()

        nursery.start_soon(release_soon)
        with trio.fail_after(5):
            await worker.drain()
        assert queue.attempted == ["first"]  # finished, not cut off
        nursery.cancel_scope.cancel()
    assert "second" not in queue.attempted  # left for after the restart
    assert [job.name for job in queue.jobs] == ["second"]
