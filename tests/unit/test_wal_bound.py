"""The WAL stays near its soft bound under a sustained flood and is emptied once idle."""

from __future__ import annotations

import threading
from pathlib import Path

import trio

from router.store.database import MAX_GROUP, Database

BOUND = 1024 * 1024
INTERVAL = 0.02
IDLE = 0.5
ROWS = 30_000
BODY = 500
WRITERS = 200
READERS = 4
# The WAL one group of MAX_GROUP rows of BODY bytes appends: its rows' pages plus the index
# and interior pages it rewrites, under twice its payload (~250 KB).
GROUP_WAL = 2 * MAX_GROUP * BODY
# The commit that takes the WAL past the bound wakes the checkpoint loop; the groups the
# writer commits before the RESTART stops it overshoot the bound: a couple, four allowed.
# Without the bound the WAL kept most of the flood (6-17 MB in this test).
LARGEST_ALLOWED = BOUND + 4 * GROUP_WAL
# Seconds the test waits at most for the loop to notice the lull and truncate the WAL.
SETTLE_DEADLINE = 30.0


class WalSampler:
    """Samples the WAL file's size from a thread of its own, so a busy trio loop misses no peak."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.largest = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.largest = max(self.largest, self.db.wal_size())
            self.samples += 1

    def __enter__(self) -> WalSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def test_wal_stays_bounded_under_flood_and_is_truncated_when_idle(tmp_path: Path) -> None:
    """Concurrent writers and readers never pausing: the WAL stays bounded, then empties."""
    db = Database(
        tmp_path / "db.sqlite",
        wal_soft_limit=BOUND,
        checkpoint_interval=INTERVAL,
        idle_seconds=IDLE,
    )
    db.open()
    try:
        await db.write(
            lambda tx: tx.conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)")
        )
        next_row = 0
        flood_over = trio.Event()
        reads = 0

        async def write() -> None:
            nonlocal next_row
            while next_row < ROWS:
                row = (next_row, f"{next_row:08d}".ljust(BODY, "x"))
                next_row += 1
                await db.write(
                    lambda tx, row=row: tx.conn.execute("INSERT INTO t VALUES (?, ?)", row)
                )

        async def read() -> None:
            nonlocal reads
            while not flood_over.is_set():
                await db.read(lambda tx: tx.conn.execute("SELECT count(*) FROM t").fetchone())
                reads += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(db.checkpoint_loop)
            with WalSampler(db) as sampler:
                async with trio.open_nursery() as flood:
                    for _ in range(READERS):
                        flood.start_soon(read)
                    async with trio.open_nursery() as writers:
                        for _ in range(WRITERS):
                            writers.start_soon(write)
                    flood_over.set()
            # The lull: the loop sees no change for IDLE seconds and truncates the WAL.
            for _ in range(round(SETTLE_DEADLINE / INTERVAL)):
                if db.wal_size() == 0:
                    break
                await trio.sleep(INTERVAL)
            after = db.wal_size()
            nursery.cancel_scope.cancel()

        count = await db.read(lambda tx: tx.conn.execute("SELECT count(*) FROM t").fetchone()[0])
        assert count == ROWS
        assert reads > 0 and sampler.samples > 0
        # The flood wrote many times the allowance: an unbounded WAL could not stay under it.
        assert ROWS * BODY > 5 * LARGEST_ALLOWED
        assert sampler.largest <= LARGEST_ALLOWED, (
            f"WAL reached {sampler.largest} bytes (soft bound {BOUND}, "
            f"group of {MAX_GROUP} rows); allowed {LARGEST_ALLOWED}"
        )
        assert after == 0, f"WAL still {after} bytes after the flood"
    finally:
        db.close()
