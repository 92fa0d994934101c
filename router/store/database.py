"""SQLite in WAL mode reached from one writer thread that commits queued jobs in groups."""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import trio

T = TypeVar("T")
log = logging.getLogger(__name__)

# One fsync per group instead of per message is what makes durable intake cheap; the caps keep
# one group's latency bounded when thousands of jobs are queued at once. 20 ms of work is a
# few fsyncs' worth on an SSD, so commits stay a small share of the writer's time.
MAX_GROUP = 256
# A second keeps the WAL to a few MB at full intake; a checkpoint never blocks the writer.
CHECKPOINT_INTERVAL = 1.0
GROUP_SECONDS = 0.020


class _Job(Generic[T]):
    __slots__ = ("error", "event", "fn", "result", "token")

    def __init__(self, fn: Callable[[sqlite3.Connection], T], token: trio.lowlevel.TrioToken):
        self.fn = fn
        self.token = token
        self.event = trio.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with the pragmas every connection of ours needs."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss, not only a process crash; group commit pays for it.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply the numbered migrations not yet applied; return the versions applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TEXT)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    scripts = resources.files("router.store").joinpath("migrations")
    for entry in sorted(scripts.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        version = int(entry.name.split("_", 1)[0])
        if version in done:
            continue
        sql = entry.read_text(encoding="utf-8")
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{sql}\n"
            f"INSERT INTO schema_migrations VALUES ({version}, datetime('now'));\nCOMMIT;"
        )
        applied.append(version)
    return applied


class Database:
    """The single writer (group commit) and a read connection, both usable from trio."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._read_lock = trio.Lock()
        # Called in the writer thread after each commit with the group's size (metrics).
        self.on_commit: Callable[[int], None] | None = None

    def open(self) -> list[int]:
        """Create the file, apply migrations and start the writer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path)
        applied = migrate(conn)
        # Checkpoints run from checkpoint_loop() on a connection of their own: done by the
        # writer at commit (SQLite's default), a checkpoint's copying and fsync would stall
        # every message queued behind that commit.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()
        self._reader = connect(self.path, readonly=True)
        self._checkpointer = connect(self.path)
        return applied

    def close(self) -> None:
        """Let queued jobs commit, then stop the writer."""
        if self._writer is not None:
            self._jobs.put(None)
            self._writer.join()
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._checkpointer is not None:
            # Leave a small WAL behind: the next start need not replay it.
            self._checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._checkpointer.close()
            self._checkpointer = None

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in the next write group; return once its group has committed."""
        job = _Job(fn, trio.lowlevel.current_trio_token())
        self._jobs.put(job)
        # Shielded: once queued, the job commits whether or not the caller still waits, and a
        # caller that gave up must not believe it did not happen.
        with trio.CancelScope(shield=True):
            await job.event.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only `fn` on the reader connection in a worker thread."""
        reader = self._reader
        assert reader is not None, "database is not open"
        async with self._read_lock:
            return await trio.to_thread.run_sync(fn, reader)

    async def checkpoint_loop(self) -> None:
        """Copy the WAL back into the database regularly, off the writer's path, until cancelled."""
        checkpointer = self._checkpointer
        assert checkpointer is not None, "database is not open"
        while True:
            await trio.sleep(CHECKPOINT_INTERVAL)
            # PASSIVE never waits for the writer or readers; what it cannot copy now it
            # copies next time.
            await trio.to_thread.run_sync(checkpointer.execute, "PRAGMA wal_checkpoint(PASSIVE)")

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while (first := self._jobs.get()) is not None:
            if self._commit_group(conn, first):
                break
        conn.close()

    def _commit_group(self, conn: sqlite3.Connection, first: _Job[Any]) -> bool:
        """Run queued jobs in one transaction and commit; True if a stop was asked for.

        The group ends when the queue is empty, MAX_GROUP jobs ran, or GROUP_SECONDS of work
        were done: every job of a group waits for its commit, so the group's length is the
        latency its first job pays.
        """
        group: list[_Job[Any]] = []
        stopping = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            deadline = time.perf_counter() + GROUP_SECONDS
            job: _Job[Any] | None = first
            while job is not None:
                # In the group before it runs: whatever happens next, its caller is told.
                group.append(job)
                _run(conn, job)
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (disk full, I/O error): the
                    # group's earlier writes are gone too, so every job of it has failed.
                    raise sqlite3.OperationalError(f"transaction rolled back: {job.error}")
                if len(group) >= MAX_GROUP or time.perf_counter() >= deadline:
                    break
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                stopping = job is None
            conn.execute("COMMIT")
            if self.on_commit is not None:
                self.on_commit(len(group))
        except sqlite3.Error as exc:
            log.error("write group of %d failed: %s", len(group), exc)
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            for failed in group:
                failed.result = None
                failed.error = exc
        # One wake-up of trio per group, not per job: each is a write to trio's wake-up socket.
        by_token: dict[trio.lowlevel.TrioToken, list[_Job[Any]]] = {}
        for done in group:
            by_token.setdefault(done.token, []).append(done)
        for token, jobs in by_token.items():
            token.run_sync_soon(_wake, jobs)
        return stopping


def _wake(jobs: list[_Job[Any]]) -> None:
    """In trio: let the writers of a committed group go on."""
    for job in jobs:
        job.event.set()


def _run(conn: sqlite3.Connection, job: _Job[Any]) -> None:
    """Run one job in a savepoint: its failure rolls back only its own writes."""
    conn.execute("SAVEPOINT job")
    try:
        job.result = job.fn(conn)
    except Exception as exc:
        job.error = exc
        if not conn.in_transaction:
            return  # the savepoint went with the whole transaction; the group fails
        conn.execute("ROLLBACK TO job")
    conn.execute("RELEASE job")
