"""SQLite in WAL mode reached from one writer thread that commits queued jobs in groups.

Jobs are handed a Tx (router/store/transaction.py), never the connection: only this package
knows SQL and sqlite3. Consumers hold a Database as a router.store.access.Store of their own
protocol.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import trio

from router.store.transaction import Tx

T = TypeVar("T")
log = logging.getLogger(__name__)

# One fsync per group instead of per message is what makes durable intake cheap; the caps keep
# one group's latency bounded when thousands of jobs are queued at once (past GROUP_SECONDS
# only urgent jobs, each a peer's, join, up to MAX_GROUP). 20 ms of work is a few fsyncs'
# worth on an SSD, so commits stay a small share of the writer's time.
MAX_GROUP = 256
GROUP_SECONDS = 0.020
# A group holding an urgent job (a peer waits on its commit: an SMSC's deliver_sm_resp, a
# citizen's ticket number) takes queued work for this long after it, then only urgent jobs:
# a queued job or two (filing one message takes about a millisecond) rides along, so queued
# work goes on, one fsync shared, even while urgent jobs never stop coming.
URGENT_SECONDS = 0.0005
# A PASSIVE checkpoint a second keeps what is left to copy back to a second's worth of frames.
CHECKPOINT_INTERVAL = 1.0
# Soft bound on the WAL file. A flood of web-chat messages writes 12-20 MB of WAL a second (a
# group rewrites whole index pages; the bench's 1000 msg/s flood grew an unbounded WAL to
# 1.2 GB in 60 s), so 64 MiB is 3-5 s of flood between RESTART checkpoints: rare enough that
# their short pauses of intake do not show in the accept latency, small enough that the disk
# is not filled by frames already copied back and a restart after a crash replays little.
WAL_SOFT_LIMIT = 64 * 1024 * 1024
# No change committed for this long is a lull, not a gap between bursts: the WAL is emptied
# (TRUNCATE) so an idle daemon does not keep the file of its last flood on disk.
IDLE_SECONDS = 10.0
# How long a RESTART or TRUNCATE waits for the write group in progress and for the reads in
# progress (each takes milliseconds); it holds the write lock meanwhile, so this is also the
# longest it stalls intake. On timeout it has copied what it could, like PASSIVE.
CHECKPOINT_BUSY_MS = 1000
# After a RESTART or TRUNCATE timed out (a read that lasts seconds), this many ticks go by
# with PASSIVE only: retrying at once would stall intake for CHECKPOINT_BUSY_MS every tick.
BUSY_BACKOFF_TICKS = 10
# The writer waits this long at most for a RESTART or TRUNCATE to end before it asks for the
# write lock anyway (and waits in SQLite's busy handler): no checkpointer holds intake longer.
WRITER_PAUSE_SECONDS = 5.0


class _Job(Generic[T]):
    __slots__ = ("error", "event", "fn", "result", "token", "urgent")

    def __init__(self, fn: Callable[[Tx], T], token: trio.lowlevel.TrioToken, urgent: bool):
        self.fn = fn
        self.token = token
        self.urgent = urgent
        self.event = trio.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class Queued(Generic[T]):
    """A write job queued for the writer; its outcome once its group has committed."""

    __slots__ = ("_job",)

    def __init__(self, job: _Job[T]) -> None:
        self._job = job

    async def committed(self) -> T:
        """Wait for the job's group to commit; its result, or the error it (or its group) met."""
        job = self._job
        # Shielded: once queued, the job commits whether or not the caller still waits, and a
        # caller that gave up must not believe it did not happen.
        with trio.CancelScope(shield=True):
            await job.event.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]


class _JobQueue:
    """The writer's queue: urgent jobs before the others, each kind in the order queued."""

    def __init__(self) -> None:
        self._ready = threading.Condition(threading.Lock())
        self._urgent: deque[_Job[Any]] = deque()
        self._queued: deque[_Job[Any]] = deque()
        self._closed = False

    def put(self, job: _Job[Any]) -> None:
        with self._ready:
            if self._closed:  # no writer would run it: its caller would wait for ever
                raise RuntimeError("the database is closed")
            (self._urgent if job.urgent else self._queued).append(job)
            self._ready.notify()

    def close(self) -> None:
        """No more jobs: the writer stops once the queued ones are done."""
        with self._ready:
            self._closed = True
            self._ready.notify()

    def reopen(self) -> None:
        """Jobs again, for a new writer."""
        with self._ready:
            self._closed = False

    def get(self) -> _Job[Any] | None:
        """The next job, waiting for one; None once closed and empty."""
        with self._ready:
            while not (self._urgent or self._queued or self._closed):
                self._ready.wait()
            return self._pop()

    def get_nowait(self, *, urgent_only: bool = False) -> _Job[Any] | None:
        """The next job (or the next urgent one), or None if none is waiting."""
        with self._ready:
            return self._pop(urgent_only)

    def _pop(self, urgent_only: bool = False) -> _Job[Any] | None:
        if self._urgent:
            return self._urgent.popleft()
        if self._queued and not urgent_only:
            return self._queued.popleft()
        return None


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

    def __init__(
        self,
        path: Path,
        *,
        wal_soft_limit: int = WAL_SOFT_LIMIT,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
        idle_seconds: float = IDLE_SECONDS,
        urgent_seconds: float = URGENT_SECONDS,
    ) -> None:
        self.path = path
        self.wal_path = path.with_name(path.name + "-wal")
        self.wal_soft_limit = wal_soft_limit
        self.checkpoint_interval = checkpoint_interval
        self.idle_seconds = idle_seconds
        self.urgent_seconds = urgent_seconds
        self._jobs = _JobQueue()
        self._writer: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._read_lock = trio.Lock()
        # Cleared while a RESTART or TRUNCATE runs: the writer waits between groups instead of
        # taking the write lock again the instant it committed, which a checkpointer polling
        # in its busy handler would seldom find free under sustained intake.
        self._writer_may_begin = threading.Event()
        self._writer_may_begin.set()
        # Set by the writer when a commit took the WAL past the soft bound: checkpoint_loop
        # wakes at once, so the WAL overshoots the bound by a group or two, not by a tick's
        # worth of flood.
        self._over_bound = threading.Event()
        # No RESTART or TRUNCATE before this time.monotonic() (back-off after a timeout).
        self._exclusive_after = 0.0
        # The checkpointer's PRAGMA data_version (changes when another connection commits
        # a change) and when it last changed: only checkpoint_loop's thread touches them.
        self._data_version = -1
        self._changed_at = time.monotonic()
        # Called in the writer thread after each commit with the group's size (metrics).
        self.on_commit: Callable[[int], None] | None = None
        # Called in the writer thread if it dies: every caller waiting for a commit would wait
        # for ever, so the daemon must not go on (it exits; the service manager restarts it).
        self.on_writer_death: Callable[[BaseException], None] | None = None

    def open(self) -> list[int]:
        """Create the file, apply migrations and start the writer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._jobs.reopen()  # a Database closed before opens again
        conn = connect(self.path)
        applied = migrate(conn)
        # Checkpoints run from checkpoint_loop() on a connection of their own: done by the
        # writer at commit (SQLite's default), a checkpoint's copying and fsync would stall
        # every message queued behind that commit.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        # When the writer restarts the WAL after a RESTART checkpoint, its first commit cuts the
        # file back to this size; the space below it is reused, not grown again ("Avoiding
        # Excessively Large WAL Files", https://www.sqlite.org/wal.html#avoiding_excessively_large_wal_files,
        # and https://www.sqlite.org/pragma.html#pragma_journal_size_limit).
        conn.execute(f"PRAGMA journal_size_limit={int(self.wal_soft_limit)}")
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()
        self._reader = connect(self.path, readonly=True)
        self._checkpointer = connect(self.path)
        # Short: a RESTART holds the write lock while it waits, so its wait is intake's pause.
        self._checkpointer.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        return applied

    def close(self) -> None:
        """Let queued jobs commit, then stop the writer."""
        if self._writer is not None:
            self._jobs.close()
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

    def queue(self, fn: Callable[[Tx], T], *, urgent: bool = False) -> Queued[T]:
        """Queue `fn` to run on a Tx in a write group, now: jobs queued one after another run in
        that order. Urgent jobs (a peer waits on the commit) go before the others."""
        job = _Job(fn, trio.lowlevel.current_trio_token(), urgent)
        self._jobs.put(job)
        return Queued(job)

    async def write(self, fn: Callable[[Tx], T], *, urgent: bool = False) -> T:
        """Run `fn` on a Tx in the next write group; return once its group has committed."""
        return await self.queue(fn, urgent=urgent).committed()

    async def read(self, fn: Callable[[Tx], T]) -> T:
        """Run a read-only `fn` on a Tx over the reader connection in a worker thread."""
        reader = self._reader
        assert reader is not None, "database is not open"
        async with self._read_lock:
            return await trio.to_thread.run_sync(fn, Tx(reader))

    async def checkpoint_loop(self) -> None:
        """Copy the WAL back into the database regularly, off the writer's path, until cancelled."""
        checkpointer = self._checkpointer
        assert checkpointer is not None, "database is not open"
        while True:
            # A tick, or sooner when the writer saw the WAL pass the bound; the waiting thread
            # is left to time out by itself when the loop is cancelled.
            await trio.to_thread.run_sync(
                self._over_bound.wait, self.checkpoint_interval, abandon_on_cancel=True
            )
            # In a worker thread: a RESTART or TRUNCATE waits up to CHECKPOINT_BUSY_MS.
            await trio.to_thread.run_sync(self._checkpoint, checkpointer)

    def wal_size(self) -> int:
        """Bytes of the WAL file now (0 when there is none)."""
        try:
            return self.wal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """One tick of checkpoint_loop: PASSIVE; RESTART over the soft bound; TRUNCATE when idle."""
        self._over_bound.clear()
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        now = time.monotonic()
        if version != self._data_version:
            self._data_version, self._changed_at = version, now
        size = self.wal_size()
        if size == 0:
            return
        if now < self._exclusive_after:
            mode = "PASSIVE"
        elif now - self._changed_at >= self.idle_seconds:
            # Idle: empty the file once; an empty WAL is size 0 on the next ticks.
            mode = "TRUNCATE"
        elif size > self.wal_soft_limit:
            # "Checkpoint starvation", https://www.sqlite.org/wal.html#avoiding_excessively_large_wal_files:
            # with writes and reads never pausing, PASSIVE copies the frames back but the WAL
            # is never reset, so the file grows for ever. RESTART waits for the group in
            # progress and the reads, copies everything, and makes the next writer start the
            # WAL from the beginning (its first commit cuts the file to journal_size_limit).
            mode = "RESTART"
        else:
            mode = "PASSIVE"
        if mode == "PASSIVE":
            # PASSIVE never waits for the writer or readers; what it cannot copy now it
            # copies next time.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return
        self._writer_may_begin.clear()
        try:
            busy = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
        finally:
            self._writer_may_begin.set()
        if busy:
            self._exclusive_after = now + BUSY_BACKOFF_TICKS * self.checkpoint_interval
            log.warning("WAL checkpoint %s timed out; WAL at %d bytes", mode, size)
        else:
            log.info("WAL checkpoint %s done; WAL was %d bytes", mode, size)

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            self._write_groups(conn)
        except BaseException as exc:
            if self.on_writer_death is None:
                raise
            self.on_writer_death(exc)

    def _write_groups(self, conn: sqlite3.Connection) -> None:
        while (first := self._jobs.get()) is not None:
            # Between groups: a RESTART or TRUNCATE waiting for the write lock gets it now.
            self._writer_may_begin.wait(WRITER_PAUSE_SECONDS)
            self._commit_group(conn, first)
            if (
                not self._over_bound.is_set()
                and time.monotonic() >= self._exclusive_after
                and self.wal_size() > self.wal_soft_limit
            ):
                self._over_bound.set()
        conn.close()

    def _commit_group(self, conn: sqlite3.Connection, first: _Job[Any]) -> None:
        """Run queued jobs in one transaction and commit.

        The group ends when no job is waiting or MAX_GROUP jobs ran; past GROUP_SECONDS of
        work, or urgent_seconds after an urgent job ran, only urgent jobs still join (and one
        queued job, if none has yet): every job of a group waits for its commit, so the
        group's length is the latency its first job pays.
        """
        group: list[_Job[Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            deadline = time.perf_counter() + GROUP_SECONDS
            job: _Job[Any] | None = first
            took_queued = False
            while job is not None:
                # In the group before it runs: whatever happens next, its caller is told.
                group.append(job)
                _run(conn, job)
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (disk full, I/O error): the
                    # group's earlier writes are gone too, so every job of it has failed.
                    raise sqlite3.OperationalError(f"transaction rolled back: {job.error}")
                now = time.perf_counter()
                if job.urgent:
                    deadline = min(deadline, now + self.urgent_seconds)
                else:
                    took_queued = True
                if len(group) >= MAX_GROUP:
                    break
                # Past the deadline only urgent jobs still join: each is a peer's message
                # committed a group sooner, and costs the others little. But every group
                # takes one queued job if one waits: queued work never stalls behind a stream
                # of urgent ones.
                job = self._jobs.get_nowait(urgent_only=now >= deadline and took_queued)
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


def _wake(jobs: list[_Job[Any]]) -> None:
    """In trio: let the writers of a committed group go on."""
    for job in jobs:
        job.event.set()


def _run(conn: sqlite3.Connection, job: _Job[Any]) -> None:
    """Run one job in a savepoint: its failure rolls back only its own writes."""
    conn.execute("SAVEPOINT job")
    try:
        job.result = job.fn(Tx(conn))
    except Exception as exc:
        job.error = exc
        if not conn.in_transaction:
            return  # the savepoint went with the whole transaction; the group fails
        conn.execute("ROLLBACK TO job")
    conn.execute("RELEASE job")
