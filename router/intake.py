"""Intake: the idempotent receiver in front of the pipeline (journal, then filing, one commit)."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple, TypeVar

import msgspec
import trio

from channels.contract import Acceptance, RawInbound
from normaliser.commands import COMMANDS, CommandTable
from normaliser.envelope import Identifiers, envelope_decoder
from normaliser.normalise import Normalised, normalise
from router import metrics
from router.clock import utc_now
from router.pipeline import Filed, Filer, acceptance_of, file_inbound
from router.store.blobs import BlobStore, from_bytes
from router.store.database import Database
from router.store.transaction import Tx

log = logging.getLogger(__name__)
T = TypeVar("T")
# Resolved once: a labels() lookup per message is measurable at a thousand messages a second.
_NORMALISE_SECONDS = metrics.stage_seconds.labels("normalise")
_PERSIST_SECONDS = metrics.stage_seconds.labels("persist")

_raw_encoder = msgspec.msgpack.Encoder()
_raw_decoder = msgspec.msgpack.Decoder(RawInbound)

# Raw inbound larger than this goes to the blob store and the journal keeps its digest, so the
# database stays small and a 10 MB email never passes through the writer thread.
RAW_INLINE_BYTES = 64 * 1024
# Short texts normalise in well under a millisecond, less than a hop to a worker thread costs;
# longer ones (a pasted document, an HTML mail) go to a thread so the event loop stays responsive.
INLINE_NORMALISE_CHARS = 4096


class Intake:
    """Persists each inbound once, files it, and tells the workers there is new work."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        filer: Callable[[], Filer],
        max_chars: Callable[[], int],
        on_filed: Callable[[Filed], None],
        commands: Mapping[str, CommandTable] | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.filer = filer
        self.max_chars = max_chars
        self.on_filed = on_filed
        # By channel: a channel that adds no rows of its own reads the shared table.
        self.commands = commands or {}

    async def accept(self, raw: RawInbound) -> Acceptance:
        """Journal and file `raw` in one commit; a redelivery gets the first answer again."""
        started = time.perf_counter()
        norm = await self._normalise(raw)
        _NORMALISE_SECONDS.observe(time.perf_counter() - started)
        filer = self.filer()
        encoded = _raw_encoder.encode(raw)
        raw_sha256 = None
        if len(encoded) > RAW_INLINE_BYTES:
            raw_sha256 = (await self.blobs.put(from_bytes(encoded))).sha256
            encoded = b""
        now = utc_now()

        def journal_and_file(conn: sqlite3.Connection) -> Filed | Redelivery:
            tx = Tx(conn)
            journal_id, state, envelope_id = tx.journal_append(
                raw.channel, raw.account, raw.idempotency_key, raw.received_at, encoded, raw_sha256
            )
            if state == "filed" and envelope_id is not None:
                return _redelivery(tx, envelope_id, norm.text)
            return file_inbound(tx, filer, journal_id, raw, norm, now)

        def keep(tx: Tx, error: str) -> None:
            journal_id, _, _ = tx.journal_append(
                raw.channel, raw.account, raw.idempotency_key, raw.received_at, encoded, raw_sha256
            )
            tx.journal_failed(journal_id, error)

        persisted = time.perf_counter()
        result = await self._file_or_keep(journal_and_file, keep, raw)
        _PERSIST_SECONDS.observe(time.perf_counter() - persisted)
        if isinstance(result, Redelivery):
            metrics.redeliveries.labels(raw.channel).inc()
            if result.conflicting:
                # The peer reused its key for other content: the first content stands (the
                # key's promise), but an operator must be able to see that this happened.
                metrics.conflicting_redeliveries.labels(raw.channel).inc()
                log.warning(
                    "%s redelivery with other text than the first delivery; the first is kept",
                    raw.channel,
                    extra={"envelope": result.acceptance.envelope_id},
                )
            return result.acceptance
        metrics.received.labels(raw.channel).inc()
        self._observe(raw, result)
        return result.acceptance

    async def refile_pending(self) -> int:
        """File journalled inbound left unfiled by a crash or replayed from the dead letters."""
        pending = await self.db.read(lambda conn: Tx(conn).journal_unfiled())
        filed = 0
        for journal_id, inline, raw_sha256 in pending:
            encoded = inline
            if raw_sha256 is not None:
                encoded = b"".join([chunk async for chunk in self.blobs.open(raw_sha256)])
            raw = _raw_decoder.decode(encoded)
            norm = await self._normalise(raw)
            result = await self._file_or_keep(
                functools.partial(_refile, self.filer(), journal_id, raw, norm, utc_now()),
                functools.partial(_keep_failed, journal_id),
                raw,
            )
            if isinstance(result, Filed) and result.acceptance.envelope_id is not None:
                filed += 1
                self._observe(raw, result)
        return filed

    async def _file_or_keep(
        self,
        job: Callable[[sqlite3.Connection], T],
        keep: Callable[[Tx, str], None],
        raw: RawInbound,
    ) -> T | Filed:
        """Run a filing job; if it fails (and so rolled back whole), journal the raw as failed.

        Either way the raw is committed before the peer is answered; a failed one is a dead
        letter (intake:ID) to replay once the cause is fixed.
        """
        try:
            return await self.db.write(job)
        except Exception as exc:
            log.exception("filing a %s message failed; kept for replay", raw.channel)
            error = f"{type(exc).__name__}: {exc}"
            await self.db.write(lambda conn: keep(Tx(conn), error))
            return Filed(Acceptance(None, None, False, None, None, False), None, 0)

    def _observe(self, raw: RawInbound, filed: Filed) -> None:
        acceptance = filed.acceptance
        if acceptance.envelope_id is None:
            metrics.filing_failures.labels(raw.channel).inc()
        elif filed.repeat:
            metrics.repeats.labels(raw.channel).inc()
        elif acceptance.ticket_is_new and acceptance.category_code is not None:
            metrics.tickets_opened.labels(acceptance.category_code).inc()
        self.on_filed(filed)

    async def _normalise(self, raw: RawInbound) -> Normalised:
        """The normalised message; one the normaliser fails on is kept, flagged unparseable.

        Nothing a citizen sends may be refused for ever or lost: its raw is journalled as it
        came, its envelope goes to the backend flagged, and the peer is answered.
        """
        try:
            return await self._normalised(raw)
        except Exception as exc:
            # The exception's text may quote the message: only its type is logged.
            log.error("normalising a %s message failed (%s); filed as unparseable",
                      raw.channel, type(exc).__name__)  # fmt: skip
            metrics.bad_input.labels(raw.channel, "unparseable").inc()
            return Normalised("", raw.language_hint or "ru", Identifiers(), None, ["unparseable"])

    async def _normalised(self, raw: RawInbound) -> Normalised:
        size = len(raw.text) + len(raw.html or "")
        work = functools.partial(
            normalise,
            raw.text,
            html=raw.html,
            subject=raw.subject,
            language_hint=raw.language_hint,
            max_chars=self.max_chars(),
            ticket_length=self.filer().numbering.pattern_length,
            commands=self.commands.get(raw.channel, COMMANDS),
        )
        if size <= INLINE_NORMALISE_CHARS:
            return work()
        return await trio.to_thread.run_sync(work)


def _refile(
    filer: Filer,
    journal_id: int,
    raw: RawInbound,
    norm: Normalised,
    now: datetime,
    conn: sqlite3.Connection,
) -> Filed | None:
    tx = Tx(conn)
    if tx.journal_state(journal_id) == "filed":  # a redelivery filed it meanwhile
        return None
    return file_inbound(tx, filer, journal_id, raw, norm, now)


def _keep_failed(journal_id: int, tx: Tx, error: str) -> None:
    tx.journal_failed(journal_id, error)


class Redelivery(NamedTuple):
    """A redelivered inbound: the first answer, and whether its text differs from the first."""

    acceptance: Acceptance
    conflicting: bool


def _redelivery(tx: Tx, envelope_id: str, text: str) -> Redelivery:
    """The answer first given for an envelope, rebuilt from the store."""
    body = tx.envelope_body(envelope_id)
    assert body is not None
    first = envelope_decoder.decode(body)
    return Redelivery(acceptance_of(first, redelivery=True), first.text != text)
