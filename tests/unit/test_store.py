"""The database writer (group commit, per-job isolation, migrations) and the blob store."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from router.retry import RetryPolicy
from router.store import database
from router.store.blobs import BlobTooLarge, FileBlobStore, from_bytes
from router.store.database import Database, Queued, connect, migrate
from router.store.transaction import JournalEntry, Tx

# Seconds after which a writer caller still waiting is taken to be left behind for good.
HANG_DEADLINE = 10.0


async def test_concurrent_writes_commit_in_groups(tmp_path: Path) -> None:
    """Many concurrent writers all commit, in fewer transactions than jobs."""
    db = Database(tmp_path / "db.sqlite")
    groups: list[int] = []
    db.on_commit = groups.append
    db.open()
    try:
        await db.write(lambda tx: tx.conn.execute("CREATE TABLE t (n INTEGER)"))

        async def insert(n: int) -> None:
            await db.write(lambda tx: tx.conn.execute("INSERT INTO t VALUES (?)", (n,)))

        async with trio.open_nursery() as nursery:
            for n in range(500):
                nursery.start_soon(insert, n)
        count = await db.read(lambda tx: tx.conn.execute("SELECT count(*) FROM t").fetchone()[0])
        assert count == 500
        assert sum(groups) == 501  # every job committed, the CREATE included
        assert len(groups) < sum(groups)
    finally:
        db.close()


class HeldWriter:
    """A database whose writer a test holds inside a first job while it queues the others."""

    def __init__(self, path: Path, *, urgent_seconds: float) -> None:
        self.db = Database(path, urgent_seconds=urgent_seconds)
        self.groups: list[int] = []  # the size of each group committed
        self.ran: list[str] = []  # the jobs, in the order the writer ran them
        self.db.on_commit = self.groups.append
        self._started, self._released = threading.Event(), threading.Event()

    def job(self, name: str) -> Callable[[Tx], None]:
        return lambda tx: self.ran.append(name)

    async def hold(self, name: str, *, urgent: bool = False) -> Queued[None]:
        """Queue the holding job; return once the writer is inside it."""

        def holding(tx: Tx) -> None:
            self.ran.append(name)
            self._started.set()
            self._released.wait(HANG_DEADLINE)

        held = self.db.queue(holding, urgent=urgent)
        await trio.to_thread.run_sync(self._started.wait, HANG_DEADLINE)
        return held

    def release(self) -> None:
        self._released.set()


async def test_urgent_job_goes_before_queued_work_and_commits_without_it(tmp_path: Path) -> None:
    """A job a peer waits on jumps the queue and its group commits right after it; queued
    jobs keep their order and commit after."""
    writer = HeldWriter(tmp_path / "db.sqlite", urgent_seconds=0.0)
    writer.db.open()
    try:
        first = await writer.hold("held")
        queued = [writer.db.queue(writer.job(f"queued {n}")) for n in range(20)]
        urgent = writer.db.queue(writer.job("urgent"), urgent=True)
        writer.release()
        for waiting in (first, urgent, *queued):
            await waiting.committed()
        assert writer.ran == ["held", "urgent"] + [f"queued {n}" for n in range(20)]
        assert writer.groups[0] == 2  # the job under way and the urgent one: nothing queued
        assert sum(writer.groups) == 22
    finally:
        writer.db.close()


async def test_a_group_of_urgent_jobs_still_takes_one_queued_job(tmp_path: Path) -> None:
    """However many urgent jobs keep coming, each group takes a queued one: queued work (the
    filing, the outbox) never stalls behind them."""
    writer = HeldWriter(tmp_path / "db.sqlite", urgent_seconds=0.0)
    writer.db.open()
    try:
        first = await writer.hold("urgent 0", urgent=True)
        queued = [writer.db.queue(writer.job(f"queued {n}")) for n in range(2)]
        urgent = [writer.db.queue(writer.job(f"urgent {n}"), urgent=True) for n in range(1, 4)]
        writer.release()
        for waiting in (first, *urgent, *queued):
            await waiting.committed()
        assert writer.ran == [f"urgent {n}" for n in range(4)] + ["queued 0", "queued 1"]
        assert writer.groups == [5, 1]
    finally:
        writer.db.close()


async def test_urgent_jobs_arriving_together_share_a_commit(tmp_path: Path) -> None:
    """Urgent jobs waiting together commit in one group, though each commits promptly."""
    writer = HeldWriter(tmp_path / "db.sqlite", urgent_seconds=0.0)
    writer.db.open()
    try:
        first = await writer.hold("held")
        urgent = [writer.db.queue(writer.job(f"urgent {n}"), urgent=True) for n in range(10)]
        writer.release()
        for waiting in (first, *urgent):
            await waiting.committed()
        assert writer.groups == [11]
    finally:
        writer.db.close()


async def test_queued_work_rides_along_with_urgent_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within urgent_seconds of an urgent job, queued jobs join its group: queued work goes on
    though urgent jobs keep coming."""
    monkeypatch.setattr(database, "GROUP_SECONDS", HANG_DEADLINE)  # however slow the machine
    writer = HeldWriter(tmp_path / "db.sqlite", urgent_seconds=HANG_DEADLINE)
    writer.db.open()
    try:
        first = await writer.hold("held")
        queued = writer.db.queue(writer.job("queued"))
        urgent = writer.db.queue(writer.job("urgent"), urgent=True)
        writer.release()
        for waiting in (first, queued, urgent):
            await waiting.committed()
        assert writer.groups == [3]
    finally:
        writer.db.close()


def test_a_closed_database_refuses_writes_and_opens_again(tmp_path: Path) -> None:
    """A job queued after close() would wait for ever: it is refused; open() starts again."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    db.close()

    async def writes() -> int:
        with pytest.raises(RuntimeError, match="closed"):
            db.queue(lambda tx: None)
        db.open()
        try:
            await db.write(lambda tx: tx.conn.execute("CREATE TABLE t (n INTEGER)"))
            await db.write(lambda tx: tx.conn.execute("INSERT INTO t VALUES (1)"))
            return int(await db.read(lambda tx: tx.conn.execute("SELECT n FROM t").fetchone()[0]))
        finally:
            db.close()

    assert trio.run(writes) == 1


async def test_failing_job_rolls_back_only_itself(tmp_path: Path) -> None:
    """A job that raises loses its own writes; the others in its group commit."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    try:
        await db.write(lambda tx: tx.conn.execute("CREATE TABLE t (n INTEGER UNIQUE)"))

        def bad(tx: Tx) -> None:
            tx.conn.execute("INSERT INTO t VALUES (100)")
            tx.conn.execute("INSERT INTO t VALUES (100)")  # violates UNIQUE: the whole job fails

        async def good() -> None:
            await db.write(lambda tx: tx.conn.execute("INSERT INTO t VALUES (1)"))

        errors: list[BaseException] = []

        async def failing() -> None:
            try:
                await db.write(bad)
            except sqlite3.IntegrityError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(good)
            nursery.start_soon(failing)
        rows = await db.read(lambda tx: [r[0] for r in tx.conn.execute("SELECT n FROM t")])
        assert rows == [1]
        assert len(errors) == 1
    finally:
        db.close()


async def test_committed_writes_survive_reopen(tmp_path: Path) -> None:
    """What write() returned for is on disk for the next process."""
    path = tmp_path / "db.sqlite"
    db = Database(path)
    db.open()
    await db.write(lambda tx: tx.conn.execute("CREATE TABLE t (n INTEGER)"))
    await db.write(lambda tx: tx.conn.execute("INSERT INTO t VALUES (7)"))
    db.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT n FROM t").fetchall() == [(7,)]
    conn.close()


def test_migrations_apply_once(tmp_path: Path) -> None:
    """Migrating twice applies nothing the second time."""
    conn = connect(tmp_path / "db.sqlite")
    assert migrate(conn) == [*range(1, 15), 16]  # 15 was removed
    assert migrate(conn) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"journal", "envelopes", "tickets", "notifications", "adapter_state"} <= tables
    conn.close()


async def test_blob_is_content_addressed_and_streamed_back(tmp_path: Path) -> None:
    """A blob is stored under its SHA-256 and read back chunk by chunk, byte for byte."""
    store = FileBlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 5000  # 1.28 MB: several chunks
    stored = await store.put(from_bytes(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert await store.exists(stored.sha256)
    assert b"".join([chunk async for chunk in store.open(stored.sha256)]) == data
    again = await store.put(from_bytes(data))
    assert again == stored
    assert list((tmp_path / "blobs" / "incoming").iterdir()) == []


async def test_blob_over_limit_keeps_nothing(tmp_path: Path) -> None:
    """A stream over the limit is refused and leaves no file behind."""
    store = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobTooLarge):
        await store.put(from_bytes(b"x" * 1000), limit=999)
    assert list((tmp_path / "blobs" / "incoming").iterdir()) == []


def test_blob_path_refuses_non_digests(tmp_path: Path) -> None:
    """A crafted name cannot escape the blob directory."""
    with pytest.raises(ValueError):
        FileBlobStore(tmp_path).path("../../etc/passwd")


def test_retry_backs_off_and_gives_up_after_max_age() -> None:
    """Delays grow exponentially with jitter, are capped, and end in a dead letter."""
    policy = RetryPolicy(first_delay=2, max_delay=60, max_age=3600)
    delays = [policy.next_attempt(n, 0, 100) for n in range(1, 10)]
    assert all(d is not None for d in delays)
    waits = [d - 100 for d in delays if d is not None]
    assert 1 <= waits[0] <= 2
    assert 4 <= waits[2] <= 8
    assert all(w <= 60 for w in waits)
    assert policy.next_attempt(3, 0, 3600) is None


def test_a_transaction_lost_to_a_full_disk_fails_its_callers(tmp_path: Path) -> None:
    """When SQLite rolls the whole transaction back (disk full), every waiter gets the error."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    outcome: list[str] = []

    async def write_on_a_full_disk() -> None:
        journal_id = await db.write(
            lambda tx: (
                tx.journal_append(
                    JournalEntry("webchat", "portal", "k", "2026", b"raw", None, "inbound", None)
                ).id
            )
        )

        def fill_the_disk(tx: Tx) -> None:
            pages = tx.conn.execute("PRAGMA page_count").fetchone()[0]
            tx.conn.execute(f"PRAGMA max_page_count={pages + 2}")

        await db.write(fill_the_disk)
        try:
            await db.write(lambda tx: tx.journal_failed(journal_id, "e" * 500_000))
        except sqlite3.Error as exc:
            outcome.append(f"raised: {exc}")

    # The wait is shielded, so a caller left behind would hang rather than fail: run it in a
    # thread and treat one still blocked after a generous deadline as the failure.
    runner = threading.Thread(target=trio.run, args=(write_on_a_full_disk,), daemon=True)
    runner.start()
    runner.join(HANG_DEADLINE)
    assert not runner.is_alive(), "the caller was never told its write failed"
    assert outcome and outcome[0].startswith("raised:"), outcome
    db.close()


def test_a_message_filed_late_does_not_take_its_conversation_back(tx: Tx) -> None:
    """The conversation follows its latest message by time received, not by time filed: a
    dead letter replayed later leaves it on the newer ticket."""
    tx.conn.execute("INSERT INTO contacts (id, created_at) VALUES ('x', 't')")
    for number in ("2600000014", "2600000028"):
        tx.conn.execute(
            "INSERT INTO tickets VALUES (?, 't', 't', 'accepted', '01', 'n', 'standard',"
            " 't', 't', 'sms', 'a', '+79161234567', 'ru', 'c', 'x', '[]', NULL, NULL, NULL)",
            (number,),
        )
    tx.file_conversation("chat:s1", "2600000028", "2026-11-23T09:20:00.000Z")
    tx.file_conversation("chat:s1", "2600000014", "2026-11-23T09:10:00.000Z")
    current = tx.conversation_ticket("chat:s1")
    assert current is not None and current.number == "2600000028"


def test_a_dead_writer_thread_ends_the_process_at_once(tmp_path: Path) -> None:
    """Callers waiting for a commit would wait for ever: the daemon exits 70 instead."""
    script = f"""
import sys, trio
from pathlib import Path
from router.daemon import writer_died
from router.store.database import Database

def boom(tx):
    raise SystemExit("not an Exception: it gets past the job's savepoint")

db = Database(Path({str(tmp_path / "db.sqlite")!r}))
db.on_writer_death = writer_died
db.open()
trio.run(db.write, boom)
print("still running", file=sys.stderr)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 70, done.stderr
    assert "the database writer died" in done.stderr
    assert "still running" not in done.stderr
