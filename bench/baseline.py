"""The raw SQLite baseline: the rows the daemon wrote, inserted by a plain Python loop.

The rows are copied from the benchmarked daemon's own database (same raw inbound bytes, same
envelope JSON bodies), into a fresh database with the same schema (the product's migrations)
and the same pragmas (the product's `connect`: WAL, synchronous=FULL, foreign keys on). Per
message the loop writes one journal row (already in its final `filed` state), one envelope
row and one notification row: the least work that leaves the same rows on disk.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from router.store.database import connect, migrate

# Columns given fresh values per copy because they are keys; the rest are copied verbatim.
_GENERATED = {"journal": ("id",), "envelopes": ("seq",), "notifications": ()}


@dataclass(frozen=True)
class Sample:
    """Rows one message left in the daemon's database, as column -> value, per table."""

    journal: dict[str, object]
    envelope: dict[str, object]
    notification: dict[str, object]


def _rows(conn: sqlite3.Connection, sql: str, limit: int) -> list[dict[str, object]]:
    cur = conn.execute(sql, (limit,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def sample_rows(daemon_db: Path, limit: int) -> list[Sample]:
    """Up to `limit` messages' rows (all columns, whatever the schema is now)."""
    src = sqlite3.connect(f"file:{daemon_db}?mode=ro", uri=True)
    try:
        journal = _rows(
            src, "SELECT * FROM journal WHERE envelope_id IS NOT NULL ORDER BY id LIMIT ?", limit
        )
        envelopes = {
            e["journal_id"]: e
            for e in _rows(src, "SELECT * FROM envelopes ORDER BY seq LIMIT ?", 10 * limit)
        }
        notes = _rows(src, "SELECT * FROM notifications LIMIT ?", 1000)
    finally:
        src.close()
    pairs = [(j, envelopes[j["id"]]) for j in journal if j["id"] in envelopes]
    if not pairs or not notes:
        raise RuntimeError("the daemon's database holds no messages to copy")
    for table, rows in (("journal", [p[0] for p in pairs]), ("envelopes", [p[1] for p in pairs])):
        for row in rows:
            for column in _GENERATED[table]:
                row.pop(column, None)
    return [Sample(j, e, n) for (j, e), n in zip(pairs, itertools.cycle(notes), strict=False)]


def _insert_sql(table: str, columns: list[str], returning: str = "") -> str:
    marks = ", ".join("?" for _ in columns)
    tail = f" RETURNING {returning}" if returning else ""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){tail}"


def _fresh(path: Path, daemon_db: Path) -> sqlite3.Connection:
    """A new database with the product schema, seeded with the referenced tickets/contacts."""
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    conn = connect(path)
    migrate(conn)
    # Untimed set-up: the rows the envelopes' foreign keys point at.
    conn.execute("ATTACH DATABASE ? AS src", (f"file:{daemon_db}?mode=ro",))
    conn.execute("BEGIN")
    conn.execute("INSERT INTO contacts SELECT * FROM src.contacts")
    conn.execute("INSERT INTO tickets SELECT * FROM src.tickets")
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE src")
    return conn


class _Inserter:
    """Writes one message's rows with unique keys, using the sample's column lists."""

    def __init__(self, sample: Sample) -> None:
        self.journal_cols = list(sample.journal)
        self.envelope_cols = list(sample.envelope)
        self.note_cols = list(sample.notification)
        self.journal_sql = _insert_sql("journal", self.journal_cols, "id")
        self.envelope_sql = _insert_sql("envelopes", self.envelope_cols)
        self.note_sql = _insert_sql("notifications", self.note_cols)

    def insert(self, conn: sqlite3.Connection, n: int, sample: Sample) -> None:
        """Insert the rows of message number `n`."""
        envelope_id = f"{sample.envelope['id']}-{n}"
        journal = {**sample.journal, "idem_key": f"{sample.journal['idem_key']}-{n}",
                   "envelope_id": envelope_id, "state": "filed"}  # fmt: skip
        (journal_id,) = conn.execute(
            self.journal_sql, [journal[c] for c in self.journal_cols]
        ).fetchone()
        envelope = {**sample.envelope, "id": envelope_id, "journal_id": journal_id}
        if "feed_seq" in envelope:
            envelope["feed_seq"] = n + 1
        conn.execute(self.envelope_sql, [envelope[c] for c in self.envelope_cols])
        note = {**sample.notification, "id": f"bench-{n}", "source_key": f"bench:{n}"}
        conn.execute(self.note_sql, [note[c] for c in self.note_cols])


def _stream(rows: list[Sample], count: int) -> Iterator[tuple[int, Sample]]:
    return zip(range(count), itertools.cycle(rows), strict=False)


def insert_rate(
    workdir: Path, daemon_db: Path, rows: list[Sample], group: int, seconds: float
) -> dict[str, float]:
    """Messages/s inserting `rows` (cycled) with one commit per `group` messages."""
    path = workdir / f"baseline-g{group}.db"
    conn = _fresh(path, daemon_db)
    inserter = _Inserter(rows[0])
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    stream = _stream(rows, 10**9)
    try:
        while time.perf_counter() < deadline:
            conn.execute("BEGIN IMMEDIATE")
            for n, message in itertools.islice(stream, group):
                inserter.insert(conn, n, message)
            conn.execute("COMMIT")
            done += group
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return {
        "group_size": group,
        "messages": done,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(done / elapsed, 1),
        "commits_per_s": round(done / group / elapsed, 1),
    }
