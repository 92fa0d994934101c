"""Intake: the idempotent receiver in front of the pipeline.

Two doors, one journal. `accept` takes a RawInbound an adapter built itself and journals and
files it in one commit, for a peer that waits for the ticket number (the web chat). `receive`
takes the bytes a peer delivered (a MIME message, PDUs, a Bot API update) and commits them
before anything parses them; the filing worker reads them back from the journal, parses them
with the channel's Parser, normalises and files them. Whatever cannot be read is filed flagged
`unparseable` with its raw kept, and listed as a dead letter: never lost, never refused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Literal, NamedTuple, Protocol, TypeVar

import msgspec
import trio

from channels.contract import (
    Acceptance,
    AttachmentPort,
    AttachmentRefused,
    Channel,
    DeliveryReport,
    Parser,
    RawInbound,
    Receipt,
    Received,
    Sender,
    StateEntry,
    StreamAppend,
    Unparseable,
)
from normaliser.commands import COMMANDS, CommandTable
from normaliser.envelope import Envelope, Identifiers, RawRef, envelope_decoder
from normaliser.masking import mask_personal_data
from normaliser.normalise import Normalised, normalise
from router.clock import rfc3339, utc_now
from router.delivery.reports import ReportStore
from router.intake.filing import (
    Filed,
    FilingRules,
    FilingStore,
    Origin,
    acceptance_of,
    file_inbound,
)
from router.ops import metrics
from router.retry import Wakeup
from router.store.access import Queued, Store
from router.store.blobs import BlobStore, from_bytes
from router.store.transaction import JournalEntry, JournalRow

log = logging.getLogger(__name__)
T = TypeVar("T")
# Resolved once: a labels() lookup per message is measurable at a thousand messages a second.
_NORMALISE_SECONDS = metrics.stage_seconds.labels("normalise")
_PERSIST_SECONDS = metrics.stage_seconds.labels("persist")

_encoder = msgspec.msgpack.Encoder()
_inbound_decoder = msgspec.msgpack.Decoder(RawInbound)
_received_decoder = msgspec.msgpack.Decoder(Received)

# Raw inbound larger than this goes to the blob store and the journal keeps its digest, so the
# database stays small and a 10 MB email never passes through the writer thread.
RAW_INLINE_BYTES = 64 * 1024
# Short texts normalise in well under a millisecond, less than a hop to a worker thread costs;
# longer ones (a pasted document, an HTML mail) go to a thread so the event loop stays responsive.
INLINE_NORMALISE_CHARS = 4096
# The same reasoning for a channel's parser: a PDU or an update inline, a MIME message in a thread.
INLINE_PARSE_BYTES = 4096
# Filing jobs queued before the first of them has committed: the writer commits a run of them
# in one group (one fsync) instead of one each, while the worker parses the next rows.
FILING_AHEAD = 32
_NOT_FILED = Filed(Acceptance(None, None, False, None, None, False), None, 0)


class _Filing(NamedTuple):
    """A journal row's filing job, queued for the writer."""

    queued: Queued[Filed | None]
    journal_id: int
    channel: str


class Reported(NamedTuple):
    """A peer's report a parser read from the journal (a bounce), and the channel it came on."""

    channel: Channel
    report: DeliveryReport


class ReportFiling(Protocol):
    """Applies a report in the filing worker's commit (router/delivery/reports.py)."""

    def file(self, tx: ReportStore, channel: Channel, report: DeliveryReport, at: str) -> None: ...


class JournalStore(FilingStore, ReportStore, Protocol):
    """The store as intake uses it: the journal, the adapter state committed with what it
    journals, the first answer to a redelivery; with filing's, to file in the same commit, and
    reports', to apply a bounce read from the journal in the same commit."""

    def journal_append(self, entry: JournalEntry) -> JournalRow: ...
    def journal_row(self, journal_id: int) -> JournalRow | None: ...
    def journal_failed(self, journal_id: int, error: str) -> None: ...
    def journal_reported(self, journal_id: int) -> None: ...
    def journal_reread(self, journal_id: int) -> int: ...
    def journal_unfiled(self) -> list[JournalRow]: ...
    def envelope_body(self, envelope_id: str) -> bytes | None: ...
    def state_put(self, channel: str, changes: Mapping[str, bytes | None], now: str) -> None: ...
    def state_append(
        self, channel: str, stream: str, key: str, value: bytes, now: str
    ) -> StateEntry: ...


class Intake:
    """Persists each inbound once, files it, and tells the workers there is new work."""

    def __init__(
        self,
        db: Store[JournalStore],
        blobs: BlobStore,
        filer: Callable[[], FilingRules],
        max_chars: Callable[[], int],
        on_filed: Callable[[Filed], None],
        parsers: Callable[[], Mapping[Channel, Parser]] = dict,
        commands: Mapping[str, CommandTable] | None = None,
        reports: ReportFiling | None = None,
        attachments: AttachmentPort | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.filer = filer
        self.max_chars = max_chars
        self.on_filed = on_filed
        self.parsers = parsers
        self.wakeup = Wakeup()
        # By channel: a channel that adds no rows of its own reads the shared table.
        self.commands = commands or {}
        self.reports = reports
        self.attachments = attachments

    async def accept(self, raw: RawInbound, history: Sequence[StreamAppend] = ()) -> Acceptance:
        """Journal and file `raw` in one commit, with the adapter's `history` entries; a
        redelivery gets the first answer again."""
        started = time.perf_counter()
        norm, unparseable = await self._normalise(raw)
        _NORMALISE_SECONDS.observe(time.perf_counter() - started)
        filer = self.filer()
        entry = await self._entry(
            raw.channel,
            raw.account,
            raw.idempotency_key,
            raw.received_at,
            _encoder.encode(raw),
            "inbound",
            _inbound_digest(raw),
        )
        now = utc_now()
        stamp = rfc3339(now)

        def journal_and_file(tx: JournalStore) -> Filed | Redelivery:
            row = tx.journal_append(entry)
            # First, so that they come before the notices filing queues (the chat's message
            # before its confirmation); once per key, so a redelivery adds nothing.
            kept = [
                tx.state_append(raw.channel, append.stream, append.key, append.value, stamp)
                for append in history
            ]
            result: Filed | Redelivery
            if row.revision_of is not None:  # the key came with other content: a conflict
                first = tx.journal_row(row.revision_of)
                assert first is not None
                result = _redelivery(tx, first.envelope_id, conflicting=True)
            elif row.envelope_id is not None:
                result = _redelivery(tx, row.envelope_id, conflicting=False)
            else:
                origin = Origin(row.id, unparseable=unparseable)
                result = file_inbound(tx, filer, origin, raw, norm, now)
            if not kept:
                return result
            # The adapter shows them at once, before the notices filing queued reach it.
            acceptance = msgspec.structs.replace(result.acceptance, history=kept)
            if isinstance(result, Redelivery):
                return result._replace(acceptance=acceptance)
            return msgspec.structs.replace(result, acceptance=acceptance)

        def dead_letter(error: str, tx: JournalStore) -> None:
            tx.journal_failed(tx.journal_append(entry).id, error)

        persisted = time.perf_counter()
        # Urgent, as every commit of the intake's: the peer waits for it.
        filing = self.db.queue(journal_and_file, urgent=True)
        result = await self._file_or_dead_letter(filing, dead_letter, raw.channel, urgent=True)
        _PERSIST_SECONDS.observe(time.perf_counter() - persisted)
        if isinstance(result, Redelivery):
            if result.conflicting:
                _changed(raw.channel, "conflict")
            else:
                metrics.redeliveries.labels(raw.channel).inc()
            return result.acceptance
        metrics.received.labels(raw.channel).inc()
        self._observe(raw.channel, result)
        return result.acceptance

    async def receive(
        self, received: Received, state: Mapping[str, bytes | None] | None = None
    ) -> Receipt:
        """Commit what a peer delivered and the adapter's state changes with it; the filing
        worker parses and files it after."""
        parser = self.parsers().get(received.channel)
        if parser is None:  # an adapter whose plug-in declares no parser: a bug, not input
            raise LookupError(f"no parser for channel {received.channel}")
        entry = await self._entry(
            received.channel,
            received.account,
            received.idempotency_key,
            received.received_at,
            _encoder.encode(received),
            "received",
            hashlib.sha256(received.payload).hexdigest(),
            parser.changed_content,
        )
        now = rfc3339(utc_now())

        def journal(tx: JournalStore) -> JournalRow:
            row = tx.journal_append(entry)
            # A redelivery's state goes in too: an offset must move past what is journalled.
            if state:
                tx.state_put(received.channel, state, now)
            return row

        persisted = time.perf_counter()
        row = await self.db.write(journal, urgent=True)
        _PERSIST_SECONDS.observe(time.perf_counter() - persisted)
        if row.redeliveries > 0:
            metrics.redeliveries.labels(received.channel).inc()
            return Receipt(redelivery=True, first_received_at=row.received_at)
        metrics.received.labels(received.channel).inc()
        if row.revision_of is None:
            self.wakeup.wake()
            return Receipt(redelivery=False)
        changed: Literal["revision", "conflict"] = (
            "conflict" if row.state == "conflict" else "revision"
        )
        _changed(received.channel, changed)
        if changed == "revision":
            self.wakeup.wake()
        return Receipt(redelivery=False, changed=changed)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The filing worker: file what is journalled and not filed yet, as it comes."""
        task_status.started()
        while True:
            await self.file_pending()
            await self.wakeup.sleep_until(None, 0.0)

    async def file_pending(self) -> int:
        """File journalled inbound not filed yet: received bytes, what a crash left unfiled, or
        a dead letter replayed. The number filed."""
        pending = await self.db.read(lambda tx: tx.journal_unfiled())
        filing: deque[_Filing] = deque()
        filed = 0
        try:
            for row in pending:
                queued = await self._queue_filing(row)
                if queued is not None:
                    filing.append(queued)
                if len(filing) >= FILING_AHEAD:
                    filed += await self._settle(filing.popleft())
                else:
                    # Short messages parse and normalise inline without a checkpoint: the
                    # loop serves the peers between rows, not after a run of them.
                    await trio.lowlevel.checkpoint()
        finally:
            # Queued filings commit whatever happens here: each is observed (the feed's and
            # the outbox's wake-ups) or dead-lettered, even on the way out.
            with trio.CancelScope(shield=True):
                while filing:
                    filed += await self._settle(filing.popleft())
        return filed

    async def _queue_filing(self, row: JournalRow) -> _Filing | None:
        """Read, parse and normalise a journal row and queue the job that files it; None if
        the row was set aside as a dead letter instead."""
        try:
            encoded = row.raw
            if row.raw_sha256 is not None:
                encoded = b"".join([chunk async for chunk in self.blobs.open(row.raw_sha256)])
            raw, origin = await self._read(row, encoded)
        except Exception as exc:
            # A row the journal cannot give back (its blob gone, its encoding from a future
            # version) must not stop every row behind it, at every start: it is set aside.
            reason = f"the journal row cannot be read: {type(exc).__name__}"
            log.error("intake:%d %s; kept as a dead letter", row.id, reason)
            await self.db.write(functools.partial(_dead_letter, row.id, reason))
            return None
        if isinstance(raw, Reported):
            report = functools.partial(self._file_report, row.id, raw)
            return _Filing(self.db.queue(report), row.id, raw.channel)
        if raw.files:
            try:
                raw = await self._store_files(raw)
            except Exception as exc:  # a full disk: kept to be replayed, nothing stops
                reason = f"its files could not be stored: {type(exc).__name__}"
                log.error("intake:%d %s; kept as a dead letter", row.id, reason)
                await self.db.write(functools.partial(_dead_letter, row.id, reason))
                return None
        if origin.unparseable is None:
            norm, unparseable = await self._normalise(raw)
            origin = origin._replace(unparseable=unparseable)
        else:
            norm = _unparseable(raw)
        if origin.unparseable is not None and row.envelope_id is not None:
            # A replayed dead letter still unreadable: its flagged envelope stands.
            await self.db.write(functools.partial(_dead_letter, row.id, origin.unparseable))
            return None
        job = functools.partial(_file_journalled, self.filer(), origin, raw, norm, utc_now())
        return _Filing(self.db.queue(job), row.id, raw.channel)

    async def _settle(self, filing: _Filing) -> int:
        """Wait for a queued filing's commit; 1 if it filed an envelope."""
        result = await self._file_or_dead_letter(
            filing.queued, functools.partial(_dead_letter, filing.journal_id), filing.channel
        )
        if isinstance(result, Filed) and result.acceptance.envelope_id is not None:
            self._observe(filing.channel, result)
            return 1
        return 0

    def _file_report(self, journal_id: int, reported: Reported, tx: JournalStore) -> None:
        """A peer's report read from the journal: applied, and its row filed with no envelope."""
        row = tx.journal_row(journal_id)
        if row is None or row.state != "received":  # filed meanwhile
            return
        if self.reports is None:
            raise LookupError("no report port to apply a delivery report")
        self.reports.file(tx, reported.channel, reported.report, rfc3339(utc_now()))
        tx.journal_reported(journal_id)

    async def _store_files(self, raw: RawInbound) -> RawInbound:
        """The files a parser found, stored and scanned as uploads are: their ids in the
        message; one over the channel's limits flagged `rejected_attachment` (the raw keeps it)."""
        if self.attachments is None:
            raise LookupError("no attachment port to store a message's files")
        ids, flags = list(raw.attachment_ids), list(raw.flags)
        for file in raw.files:
            try:
                receipt = await self.attachments.receive(
                    _chunks(file.content),
                    channel=raw.channel,
                    filename=file.filename,
                    declared_type=file.content_type,
                )
            except AttachmentRefused as refused:
                log.warning("a %s file was not stored: %s", raw.channel, refused.code)
                flags.append("rejected_attachment")
                continue
            ids.append(receipt.id)
        return msgspec.structs.replace(
            raw, files=[], attachment_ids=ids, flags=list(dict.fromkeys(flags))
        )

    async def received(self, journal_id: int) -> Received | None:
        """What a peer delivered, as journalled (GET /api/v1/raw/{id})."""
        row = await self.db.read(lambda tx: tx.journal_row(journal_id))
        if row is None or row.format != "received":
            return None
        encoded = row.raw
        if row.raw_sha256 is not None:
            encoded = b"".join([chunk async for chunk in self.blobs.open(row.raw_sha256)])
        return _received_decoder.decode(encoded)

    async def _entry(
        self,
        channel: str,
        account: str,
        key: str,
        received_at: str,
        encoded: bytes,
        form: Literal["inbound", "received"],
        digest: str,
        changed_content: Literal["revision", "conflict"] = "conflict",
    ) -> JournalEntry:
        """A journal entry, its content moved to the blob store when large."""
        raw_sha256 = None
        if len(encoded) > RAW_INLINE_BYTES:
            raw_sha256 = (await self.blobs.put(from_bytes(encoded))).sha256
            encoded = b""
        return JournalEntry(
            channel, account, key, received_at, encoded, raw_sha256, form, digest, changed_content
        )

    async def _read(self, row: JournalRow, encoded: bytes) -> tuple[RawInbound | Reported, Origin]:
        """The RawInbound a journal row holds, parsing received bytes with their channel's
        parser; what the parser cannot read becomes an empty message from the transport's
        sender, flagged."""
        origin = Origin(row.id, revision=row.revision_of is not None)
        if row.format == "inbound":
            return _inbound_decoder.decode(encoded), origin
        received = _received_decoder.decode(encoded)
        origin = origin._replace(
            raw=RawRef(str(row.id), len(received.payload), received.content_type)
        )
        try:
            raw = await self._parse(received)
        except Exception as exc:
            # An Unparseable's reason is written for operators; any other error's text may
            # quote the message, so only its type is kept.
            reason = exc.reason if isinstance(exc, Unparseable) else type(exc).__name__
            log.error("parsing a %s message failed (%s); filed as unparseable",
                      received.channel, reason)  # fmt: skip
            metrics.bad_input.labels(received.channel, "unparseable").inc()
            sender = received.sender or Sender("unknown", f"{received.channel}:{received.account}")
            raw = RawInbound(
                received.channel,
                received.account,
                received.idempotency_key,
                received.idempotency_key,
                sender,
                "",
                received.received_at,
                # A conversation of its own: what it says is unknown, so it must not join (or
                # reopen) anyone's ticket, nor share one with other unreadable messages.
                conversation_hint=f"unparseable:{received.channel}:{row.id}",
            )
            return raw, origin._replace(unparseable=reason)
        if isinstance(raw, DeliveryReport):
            return Reported(received.channel, raw), origin
        # The journal's key and account stand, whatever the parser says.
        return msgspec.structs.replace(
            raw,
            channel=received.channel,
            account=received.account,
            idempotency_key=received.idempotency_key,
            received_at=received.received_at,
        ), origin

    async def _parse(self, received: Received) -> RawInbound | DeliveryReport:
        parser = self.parsers().get(received.channel)
        if parser is None:
            raise Unparseable(f"the {received.channel} channel is not installed")
        work = functools.partial(parser.parse, received)
        if len(received.payload) <= INLINE_PARSE_BYTES:
            return work()
        return await trio.to_thread.run_sync(work)

    async def _file_or_dead_letter(
        self,
        filing: Queued[T],
        dead_letter: Callable[[str, JournalStore], None],
        channel: str,
        *,
        urgent: bool = False,
    ) -> T | Filed:
        """Wait for a queued filing job; if it failed (and so rolled back whole), journal the
        raw as failed.

        Either way the raw is committed before the peer is answered; a failed one is a dead
        letter (intake:ID) to replay once the cause is fixed.
        """
        try:
            return await filing.committed()
        except Exception as exc:
            log.exception("filing a %s message failed; kept for replay", channel)
            # Operators read it in the dead-letter list, unmasked there: the exception's text
            # may quote the message.
            error = f"{type(exc).__name__}: {mask_personal_data(str(exc))}"
            await self.db.write(functools.partial(dead_letter, error), urgent=urgent)
            return _NOT_FILED

    def _observe(self, channel: str, filed: Filed) -> None:
        acceptance = filed.acceptance
        if acceptance.envelope_id is None:
            metrics.filing_failures.labels(channel).inc()
        elif filed.repeat:
            metrics.repeats.labels(channel).inc()
        elif acceptance.ticket_is_new and acceptance.category_code is not None:
            metrics.tickets_opened.labels(acceptance.category_code).inc()
        self.on_filed(filed)

    async def _normalise(self, raw: RawInbound) -> tuple[Normalised, str | None]:
        """The normalised message, and why it is unparseable if the normaliser failed on it.

        Nothing a citizen sends may be refused for ever or lost: its raw is journalled as it
        came, its envelope goes to the backend flagged, and the peer is answered.
        """
        try:
            return await self._normalised(raw), None
        except Exception as exc:
            # The exception's text may quote the message: only its type is logged.
            reason = type(exc).__name__
            log.error("normalising a %s message failed (%s); filed as unparseable",
                      raw.channel, reason)  # fmt: skip
            metrics.bad_input.labels(raw.channel, "unparseable").inc()
            return _unparseable(raw), reason

    async def _normalised(self, raw: RawInbound) -> Normalised:
        size = len(raw.text) + len(raw.html or "")
        work = functools.partial(
            normalise,
            raw.text,
            html=raw.html,
            subject=raw.subject,
            language_hint=raw.language_hint,
            quoted_only="quoted_only" in raw.flags,
            max_chars=self.max_chars(),
            ticket_length=self.filer().numbering.pattern_length,
            commands=self.commands.get(raw.channel, COMMANDS),
        )
        if size <= INLINE_NORMALISE_CHARS:
            return work()
        return await trio.to_thread.run_sync(work)


def _unparseable(raw: RawInbound) -> Normalised:
    """What a message that could not be read is filed as: no text, flagged."""
    return Normalised("", raw.language_hint or "ru", Identifiers(), None, ["unparseable"])


def _inbound_digest(raw: RawInbound) -> str:
    """The content of an adapter's RawInbound without its receipt time: what a redelivery
    repeats and new content under the same key does not."""
    content = (raw.subject, raw.text, raw.html, raw.topic, raw.attachment_ids)
    return hashlib.sha256(_encoder.encode(content)).hexdigest()


def _changed(channel: str, changed: Literal["revision", "conflict"]) -> None:
    """Count and log a key that came again with other content."""
    metrics.changed_content.labels(channel, changed).inc()
    if changed == "conflict":
        # The first content stands under the key (its promise); the second is kept as a dead
        # letter, since a peer that reuses keys (an SMSC's ids wrapping) may have sent both.
        log.warning("%s key received again with other content; kept as a dead letter", channel)


def _file_journalled(
    filer: FilingRules,
    origin: Origin,
    raw: RawInbound,
    norm: Normalised,
    now: datetime,
    tx: JournalStore,
) -> Filed | None:
    row = tx.journal_row(origin.journal_id)
    if row is None or row.state != "received":  # a redelivery filed it meanwhile
        return None
    if origin.revision and row.revision_of is not None:
        revised = _revised(tx, row.revision_of)
        origin = origin._replace(
            revises_command=revised is not None and revised.ticket is None,
            revised_ticket=None if revised is None or revised.ticket is None
            else revised.ticket.number,
        )  # fmt: skip
    if row.envelope_id is not None:
        # Read again after it was filed unparseable: its flagged envelope went to the backend,
        # so what it says now is a revision of that, filed from a row of its own.
        origin = origin._replace(journal_id=tx.journal_reread(row.id), reread=True)
    return file_inbound(tx, filer, origin, raw, norm, now)


def _revised(tx: JournalStore, journal_id: int) -> Envelope | None:
    """The envelope a journal row was filed as: the message a revision edits (without a
    ticket if it was a command)."""
    first = tx.journal_row(journal_id)
    body = (
        None if first is None or first.envelope_id is None else tx.envelope_body(first.envelope_id)
    )
    return None if body is None else envelope_decoder.decode(body)


def _dead_letter(journal_id: int, error: str, tx: JournalStore) -> None:
    tx.journal_failed(journal_id, error)


class Redelivery(NamedTuple):
    """A redelivered inbound: the first answer, and whether it came with other content."""

    acceptance: Acceptance
    conflicting: bool


def _redelivery(tx: JournalStore, envelope_id: str | None, *, conflicting: bool) -> Redelivery:
    """The answer first given for an envelope, rebuilt from the store."""
    body = None if envelope_id is None else tx.envelope_body(envelope_id)
    if body is None:  # the first delivery is a dead letter itself
        return Redelivery(_NOT_FILED.acceptance, conflicting)
    return Redelivery(acceptance_of(envelope_decoder.decode(body), redelivery=True), conflicting)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    """A file's bytes as the attachment port reads them."""
    yield content
