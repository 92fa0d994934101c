"""The attachment service: store, type-check, scan and quarantine every file citizens send."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from contextlib import aclosing, suppress
from typing import Generic, Protocol, TypeVar

import msgspec
import trio

from channels.contract import (
    AttachmentLimits,
    AttachmentReceipt,
    AttachmentRefused,
    AttachmentStatus,
    Channel,
    OutboundFile,
)
from normaliser.envelope import Envelope, envelope_decoder, envelope_encoder
from router.attachments import content_types
from router.attachments.clamd import Clamd, ClamdAddress, ClamdUnavailable
from router.attachments.verdicts import with_attachments
from router.config import AttachmentsSection
from router.ops import metrics
from router.retry import Wakeup
from router.store.access import Store
from router.store.blobs import BlobTooLarge, FileBlobStore, StoredBlob
from router.store.transaction import AttachmentRecord
from router.ulid import new_ulid

log = logging.getLogger(__name__)

# Chunks buffered between the disk writer and clamd when one is slower: about 1 MB.
TEE_DEPTH = 4
# `omnirouter status` must answer promptly even when clamd hangs.
STATUS_PING_TIMEOUT = 2.0
# How often a pending scan is retried while clamd is down: quick enough that a restarted clamd
# is noticed within seconds, rare enough that a dead one costs nothing.
RESCAN_INTERVAL = 5.0
# How many waiting files one pass of the rescan loop takes.
RESCAN_BATCH = 64
# In a held envelope's body, until the scan is done; never visible to the backend.
PENDING = "scan pending"
# The flag of a file handed off unscanned (clamd unavailable past max_scan_wait): its error
# verdict is not a scan, so it is scanned once clamd answers again.
UNSCANNED = "unscanned"
# Verdicts whose content is kept apart in the quarantine store and never served to the backend.
QUARANTINED = ("infected", "rejected")
# Envelope flags by attachment verdict.
VERDICT_FLAGS = {
    "infected": "infected_attachment",
    "rejected": "rejected_attachment",
    "error": "unscanned_attachment",
}


class Verdict(msgspec.Struct, frozen=True):
    """The outcome of checking one file."""

    status: AttachmentStatus
    content_type: str
    detail: str | None = None
    reason_code: str | None = None
    flags: tuple[str, ...] = ()


class AttachmentStore(Protocol):
    """The store as the attachment service uses it: attachment rows and their verdicts, and
    the envelopes held until their files are scanned."""

    def insert_attachment(self, record: AttachmentRecord) -> None: ...
    def attachments(self, ids: list[str]) -> list[AttachmentRecord]: ...
    def pending_attachments(self, limit: int) -> list[AttachmentRecord]: ...
    def unscanned_attachments(self, limit: int) -> list[AttachmentRecord]: ...
    def attachment_verdict(
        self,
        attachment_id: str,
        status: str,
        detail: str | None,
        reason_code: str | None,
        flags: list[str],
        *,
        quarantined: bool,
        scanned_at: float,
        was: str,
    ) -> bool: ...
    def share_infected_verdict(self, sha256: str, now: float) -> list[str]: ...
    def infected_contents(self) -> list[tuple[str, bool]]: ...
    def accepted_with_content(self, sha256: str) -> bool: ...
    def held_for_scan(self) -> list[tuple[int, bytes]]: ...
    def hand_off(self, seq: int, body: bytes | None = None) -> int: ...


# The store the service is handed: at least an AttachmentStore, and whatever `released` needs
# of it beside (the daemon queues the handoff and a late notice in the same transaction).
S = TypeVar("S", bound=AttachmentStore)


class AttachmentService(Generic[S]):
    """Implements the channels' AttachmentPort and rescans what waited for clamd."""

    def __init__(
        self,
        db: Store[S],
        blobs: FileBlobStore,
        quarantine: FileBlobStore,
        settings: Callable[[], AttachmentsSection],
        released: Callable[[S, int, Envelope, list[AttachmentRecord]], None],
        on_released: Callable[[], None],
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.quarantine = quarantine
        self.settings = settings
        self.released = released
        self.on_released = on_released
        self.wakeup = Wakeup()
        # Whether files handed off unscanned may be waiting for clamd: looked up when run()
        # starts, set when the loop hands one off, cleared when a lookup finds none.
        self.unscanned_waiting = False

    def clamd(self, timeout: float | None = None) -> Clamd:
        """A client for the configured clamd (scan_timeout unless told otherwise)."""
        settings = self.settings()
        return Clamd(
            ClamdAddress.parse(settings.clamd),
            timeout=settings.scan_timeout.seconds if timeout is None else timeout,
            stream_max=settings.clamd_stream_max,
        )

    async def clamd_state(self) -> str:
        """ "up" if clamd answers PING now, else "down" with the reason."""
        try:
            up = await self.clamd(timeout=STATUS_PING_TIMEOUT).ping()
        except ClamdUnavailable as exc:
            metrics.clamd_up.set(0)
            return f"down: {exc}"
        metrics.clamd_up.set(int(up))
        return "up" if up else "down: no PONG"

    def limits(self, channel: Channel) -> AttachmentLimits:
        """The channel's current limits (they change on reload)."""
        settings = self.settings()
        limits = settings.limits[channel]
        return AttachmentLimits(limits.file, limits.message, limits.count, list(settings.allowed))

    # -- AttachmentPort ---------------------------------------------------------------------

    async def receive(
        self,
        chunks: AsyncIterable[bytes],
        *,
        channel: Channel,
        filename: str,
        declared_type: str,
        owner: str | None = None,
    ) -> AttachmentReceipt:
        """Store, type-check and scan a file; raise AttachmentRefused over the file limit."""
        settings = self.settings()
        limits = settings.limits[channel]
        if limits.count == 0:
            metrics.attachments_refused.labels(channel, "not_accepted").inc()
            raise AttachmentRefused("attachments_not_accepted", f"{channel} carries no files")
        free = await trio.to_thread.run_sync(self.blobs.free_space)
        if free < settings.min_free_space:
            metrics.attachments_refused.labels(channel, "storage_low").inc()
            log.error(
                "a %s file was refused: %d bytes free where files are stored, under "
                "[attachments] min_free_space (%d)",
                channel,
                free,
                settings.min_free_space,
            )
            raise AttachmentRefused("storage_low", "the file store is nearly full; try later")
        stored, scanned = await self._store_and_scan(chunks, limits.file)
        if stored is None:
            metrics.attachments_refused.labels(channel, "file_too_large").inc()
            raise AttachmentRefused("file_too_large", f"a file may be at most {limits.file} bytes")
        verdict = await self._check(stored, scanned, filename, declared_type)
        now = time.time()
        record = AttachmentRecord(
            id=new_ulid(),
            sha256=stored.sha256,
            size=stored.size,
            filename=filename[:255],
            declared_type=declared_type[:127],
            content_type=verdict.content_type,
            channel=channel,
            owner=owner,
            status=verdict.status,
            detail=verdict.detail,
            reason_code=verdict.reason_code,
            flags=list(verdict.flags),
            quarantined=verdict.status in QUARANTINED,
            received_at=now,
            scanned_at=None if verdict.status == "pending" else now,
        )
        # Content once found infected is infected under every id. Only content that was ever
        # quarantined can have been (quarantine copies are never removed while their rows
        # exist), so a look in the quarantine store spares every other upload the lookup of
        # the rows by digest.
        share = verdict.status == "infected" or await self.quarantine.exists(record.sha256)
        if record.quarantined:
            await self._keep_apart(record.sha256)
        # Urgent: the uploader (a chat, a form, the Telegram adapter) is answered after it.
        insert = functools.partial(_insert, record, share=share)
        record, marked = await self.db.write(insert, urgent=True)
        self._log_shared(record, marked)
        if record.quarantined or marked:
            await self._quarantine(record.sha256)
        if record.status == "pending":
            self.wakeup.wake()
        return AttachmentReceipt(
            record.id, record.status, record.detail, record.size, record.sha256
        )

    async def content(self, attachment_id: str) -> tuple[OutboundFile, AsyncIterator[bytes]] | None:
        """A clean file's description and bytes, for a citizen it was sent to; else None."""
        records = await self.db.read(lambda tx: tx.attachments([attachment_id]))
        if not records or records[0].status != "clean" or records[0].quarantined:
            return None
        record = records[0]
        described = OutboundFile(record.id, record.filename, record.content_type, record.size)
        return described, self.blobs.open(record.sha256)

    async def check_message(self, ids: list[str], *, channel: Channel, owner: str | None) -> None:
        """Raise AttachmentRefused unless these files may go together in one message."""
        limits = self.settings().limits[channel]
        if len(ids) > limits.count:
            metrics.attachments_refused.labels(channel, "too_many").inc()
            raise AttachmentRefused(
                "too_many_attachments", f"at most {limits.count} files in one message"
            )
        records = await self.db.read(lambda tx: tx.attachments(ids))
        mine = [r for r in records if r.owner == owner and r.channel == channel]
        if len(mine) != len(set(ids)):
            raise AttachmentRefused("unknown_attachment", "an upload_id is unknown or not yours")
        if sum(r.size for r in mine) > limits.message:
            metrics.attachments_refused.labels(channel, "message_too_large").inc()
            raise AttachmentRefused(
                "attachments_too_large", f"files of one message may total {limits.message} bytes"
            )

    # -- checking ---------------------------------------------------------------------------

    async def _store_and_scan(
        self, chunks: AsyncIterable[bytes], limit: int
    ) -> tuple[StoredBlob | None, Verdict | None]:
        """Store the stream and scan it at once: each chunk goes to disk and to clamd.

        Returns (None, _) when the stream is over `limit` (nothing kept), and a None verdict
        when clamd was unavailable (scanned later from the stored blob).
        """
        to_scanner, scanner_input = trio.open_memory_channel[bytes](TEE_DEPTH)
        scanned: list[Verdict | None] = [None]

        async def scan() -> None:
            async with scanner_input:
                scanned[0] = await self._scan(scanner_input)

        async def tee() -> AsyncGenerator[bytes, None]:
            async with to_scanner:
                async for chunk in chunks:
                    # The scanner may have stopped early (clamd gone, over its stream limit):
                    # storing goes on regardless; the scan is redone from the blob if need be.
                    with suppress(trio.BrokenResourceError):
                        await to_scanner.send(chunk)
                    yield chunk

        stored: StoredBlob | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(scan)
            try:
                async with aclosing(tee()) as stream:
                    stored = await self.blobs.put(stream, limit=limit)
            except BlobTooLarge:
                nursery.cancel_scope.cancel()
        if stored is not None and scanned[0] is not None:
            metrics.scanned_bytes.labels(scanned[0].status).inc(stored.size)
        return stored, scanned[0]

    async def _check(
        self, stored: StoredBlob, scanned: Verdict | None, filename: str, declared: str
    ) -> Verdict:
        """Combine the type check of the stored file with the scan verdict."""
        typed: content_types.TypeVerdict = await trio.to_thread.run_sync(
            functools.partial(
                content_types.inspect,
                self.blobs.path(stored.sha256),
                filename=filename,
                declared_type=declared,
                policy=self.settings(),
            )
        )
        flags = typed.flags
        # Every file goes to clamd, refused ones too: malware found is the verdict that matters
        # most to the security team, so it wins over our own type rules.
        if scanned is not None and scanned.status == "infected":
            verdict = scanned
        elif typed.status == "rejected":
            verdict = Verdict("rejected", "", typed.reason, _reason_code(typed))
        elif "unscannable" in flags:
            # An encrypted archive's content cannot be seen by clamd: never call it clean.
            verdict = Verdict("error", "", typed.reason or "encrypted archive", "encrypted")
        elif scanned is None:
            return Verdict("pending", typed.content_type, flags=flags)
        else:
            verdict = scanned
        metrics.scanned.labels(verdict.status).inc()
        return msgspec.structs.replace(verdict, content_type=typed.content_type, flags=flags)

    async def _scan_blob(self, record: AttachmentRecord) -> Verdict | None:
        """Scan a stored blob; None while clamd is unavailable."""
        try:
            # aclosing: a scan that stops early (clamd gone) must not leave the file open.
            async with aclosing(self.blobs.open(record.sha256)) as content:
                verdict = await self._scan(content)
        except OSError as exc:
            # The stored copy is gone or unreadable (removed by hand, a disk fault): the file
            # can never be scanned, and saying so releases its envelope rather than stopping
            # the loop, and with it the daemon.
            log.error("attachment %s cannot be read for its scan: %s", record.id, exc)
            return Verdict(
                "error", record.content_type, f"stored copy unreadable: {exc}", "unchecked"
            )
        if verdict is not None:
            metrics.scanned_bytes.labels(verdict.status).inc(record.size)
        return verdict

    async def _scan(self, content: AsyncIterable[bytes]) -> Verdict | None:
        """The clamd verdict on a stream, or None while clamd is unavailable."""
        started = time.perf_counter()
        try:
            result = await self.clamd().scan(content)
        except ClamdUnavailable as exc:
            metrics.clamd_up.set(0)
            log.warning("clamd unavailable, scan deferred: %s", exc)
            return None
        metrics.clamd_up.set(1)
        metrics.scan_seconds.observe(time.perf_counter() - started)
        if result.status == "infected":
            return Verdict("infected", "", result.signature, "infected")
        if result.status == "error":
            return Verdict("error", "", result.detail, "unchecked")
        return Verdict("clean", "")

    async def _keep_apart(self, sha256: str) -> None:
        """Copy the content into the quarantine store (a hard link when it can); done before
        any row says it is quarantined, so the admin route always finds it there."""
        source = self.blobs.path(sha256)
        target = self.quarantine.path(sha256)

        def keep_apart() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.exists() and not target.exists():
                try:
                    os.link(source, target)
                except OSError:  # another file system
                    shutil.copyfile(source, target)

        await trio.to_thread.run_sync(keep_apart)

    async def _quarantine(self, sha256: str) -> None:
        """Keep the content in the quarantine store; once the rows say so, drop it from the main
        store unless another attachment with the same bytes is still accepted (blobs are
        content-addressed: a file refused for its name may share its content with one that
        was accepted). Content known to be infected is accepted for nobody."""
        await self._keep_apart(sha256)
        shared = await self.db.read(lambda tx: tx.accepted_with_content(sha256))
        if not shared:
            source = self.blobs.path(sha256)
            await trio.to_thread.run_sync(functools.partial(source.unlink, missing_ok=True))

    def _log_shared(self, record: AttachmentRecord, marked: list[str]) -> None:
        """Say which other uploads of this content were quarantined with it."""
        if marked:
            # No new notice to anyone: the rows say it, the security team reads the log.
            log.warning(
                "content found infected: %d other attachments with the same bytes quarantined",
                len(marked),
                extra={"attachment": record.id, "quarantined": marked, "sha256": record.sha256},
            )

    # -- the rescan loop ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Scan what waited for clamd, expire what waited too long, release held envelopes,
        and scan what went out unscanned once clamd answers again."""
        task_status.started()
        await self._settle_infected()
        self.unscanned_waiting = bool(await self.db.read(lambda tx: tx.unscanned_attachments(1)))
        while True:
            clamd_down = await self._rescan_pending()
            more = False
            if self.unscanned_waiting and not clamd_down:
                more = await self._rescan_unscanned()
            released = await self.db.write(self._release_ready)
            if released:
                self.on_released()
            still_pending = await self.db.read(lambda tx: tx.pending_attachments(1))
            now = time.time()
            if more:
                due: float | None = now
            elif still_pending or self.unscanned_waiting:
                due = now + RESCAN_INTERVAL
            else:
                due = None
            await self.wakeup.sleep_until(due, now)

    async def _rescan_pending(self) -> bool:
        """Scan the files that held envelopes; True if clamd was found unavailable."""
        pending = await self.db.read(lambda tx: tx.pending_attachments(RESCAN_BATCH))
        for record in pending:
            verdict = await self._rescan(record)
            if verdict is None:
                return True
            metrics.scanned.labels(verdict.status).inc()
            await self._settle(record, verdict)
            if UNSCANNED in verdict.flags:
                self.unscanned_waiting = True
        return False

    async def _rescan_unscanned(self) -> bool:
        """Scan files that went out unscanned, now that clamd may answer; their verdict replaces
        the error. The citizen and the backend were told when the file went out, and are not
        told again: an infected one is quarantined (the backend gets 403 from now on), logged
        and counted. True if a whole batch was scanned and more may wait."""
        if await self.clamd_state() != "up":
            return False
        unscanned = await self.db.read(lambda tx: tx.unscanned_attachments(RESCAN_BATCH))
        if not unscanned:
            self.unscanned_waiting = False
            return False
        for record in unscanned:
            scanned = await self._scan_blob(record)
            if scanned is None:
                return False
            verdict = msgspec.structs.replace(
                scanned,
                content_type=record.content_type,
                flags=tuple(f for f in record.flags if f != UNSCANNED),
            )
            metrics.scanned.labels(verdict.status).inc()
            settled = await self._settle(record, verdict)
            if settled is not None:
                level = logging.WARNING if settled.quarantined else logging.INFO
                log.log(
                    level,
                    "attachment handed off unscanned is now scanned: %s",
                    settled.status,
                    extra={
                        "attachment": record.id,
                        "scan": settled.status,
                        "detail": settled.detail,
                    },
                )
        return len(unscanned) == RESCAN_BATCH

    async def _settle(self, record: AttachmentRecord, verdict: Verdict) -> AttachmentRecord | None:
        """Record a verdict for a file read as `record` (None if another verdict came first);
        infected content becomes infected under every id, and leaves the main store."""
        if verdict.status in QUARANTINED:
            await self._keep_apart(record.sha256)
        settled, marked = await self.db.write(functools.partial(_record_verdict, record, verdict))
        if settled is None:
            return None
        self._log_shared(settled, marked)
        if settled.quarantined:
            await self._quarantine(record.sha256)
        return settled

    async def _settle_infected(self) -> None:
        """On start: content found infected is infected under every id, and out of the main
        store (rows recorded before this rule, or a stop between the two steps)."""
        contents = await self.db.read(lambda tx: tx.infected_contents())
        for sha256, unmarked in contents:
            marked = await self.db.write(functools.partial(_share, sha256)) if unmarked else []
            if marked:
                log.warning(
                    "content found infected: %d other attachments with the same bytes quarantined",
                    len(marked),
                    extra={"quarantined": marked, "sha256": sha256},
                )
            if marked or await self.blobs.exists(sha256):
                await self._quarantine(sha256)

    async def _rescan(self, record: AttachmentRecord) -> Verdict | None:
        verdict = await self._scan_blob(record)
        if verdict is not None:
            return msgspec.structs.replace(
                verdict, content_type=record.content_type, flags=tuple(record.flags)
            )
        if time.time() - record.received_at >= self.settings().max_scan_wait.seconds:
            # Nothing unscanned is ever marked clean: it goes on as an error, flagged, and is
            # scanned once clamd answers again (see _rescan_unscanned).
            return Verdict(
                "error",
                record.content_type,
                "not scanned: clamd was unavailable for longer than max_scan_wait",
                "unchecked",
                (*record.flags, UNSCANNED),
            )
        return None

    def _release_ready(self, tx: S) -> int:
        """Hand off every held envelope whose attachments all have a verdict; return how many."""
        released = 0
        for seq, body in tx.held_for_scan():
            envelope = envelope_decoder.decode(body)
            records = tx.attachments([a.id for a in envelope.attachments])
            if any(r.status == "pending" for r in records):
                continue
            tx.hand_off(seq, envelope_encoder.encode(with_attachments(envelope, records)))
            self.released(tx, seq, envelope, records)
            released += 1
        return released


def _insert(
    record: AttachmentRecord, tx: AttachmentStore, *, share: bool
) -> tuple[AttachmentRecord, list[str]]:
    """Insert a new attachment; with `share`, in the same transaction, give it or its siblings
    the content's infected verdict. The row as stored, and the other ids made infected."""
    tx.insert_attachment(record)
    if not share:
        return record, []
    marked = tx.share_infected_verdict(record.sha256, time.time())
    [stored] = tx.attachments([record.id])
    return stored, [i for i in marked if i != record.id]


def _share(sha256: str, tx: AttachmentStore) -> list[str]:
    return tx.share_infected_verdict(sha256, time.time())


def _record_verdict(
    record: AttachmentRecord, verdict: Verdict, tx: AttachmentStore
) -> tuple[AttachmentRecord | None, list[str]]:
    """Record the verdict of a file still as read in `record`; an infected one is shared with
    every attachment of the same content in the same transaction. The row as stored (None if
    it had changed meanwhile), and the other ids made infected."""
    recorded = tx.attachment_verdict(
        record.id,
        verdict.status,
        verdict.detail,
        verdict.reason_code,
        list(verdict.flags),
        quarantined=verdict.status in QUARANTINED,
        scanned_at=time.time(),
        was=record.status,
    )
    if not recorded:
        return None, []
    marked = (
        tx.share_infected_verdict(record.sha256, time.time())
        if verdict.status == "infected"
        else []
    )
    [stored] = tx.attachments([record.id])
    return stored, marked


def _reason_code(typed: content_types.TypeVerdict) -> str:
    """Which [attachment_reasons] text tells the citizen why a file was refused."""
    return typed.reason_code or "type_not_allowed"
