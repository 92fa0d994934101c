"""One verdict per content: infected bytes are infected under every id; unscanned files wait."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from channels.contract import AttachmentRefused
from router.attachments.service import AttachmentService
from router.config import AttachmentsSection
from router.store.blobs import FileBlobStore, from_bytes
from router.store.database import Database
from router.store.transaction import AttachmentRecord, Tx

EICAR_LIKE = b"pretend this is malware"
SHA = hashlib.sha256(EICAR_LIKE).hexdigest()
SIGNATURE = "Omnirouter.Test.EICAR.UNOFFICIAL"
# What the rescan loop records for a file handed off after max_scan_wait.
UNSCANNED: dict[str, Any] = {
    "status": "error",
    "reason_code": "unchecked",
    "detail": "not scanned: clamd was unavailable for longer than max_scan_wait",
    "flags": ["unscanned"],
}


def attachment(attachment_id: str, sha256: str = SHA, **fields: Any) -> AttachmentRecord:
    """A row as the service records one; clean unless told otherwise."""
    values: dict[str, Any] = {
        "id": attachment_id,
        "sha256": sha256,
        "size": len(EICAR_LIKE),
        "filename": f"{attachment_id}.txt",
        "declared_type": "text/plain",
        "content_type": "text/plain",
        "channel": "webchat",
        "owner": "session",
        "status": "clean",
        "detail": None,
        "reason_code": None,
        "flags": [],
        "quarantined": False,
        "received_at": 1.0,
        "scanned_at": 2.0,
    }
    values.update(fields)
    values["quarantined"] = values["status"] in ("infected", "rejected")
    return msgspec.convert(values, AttachmentRecord)


def infected(attachment_id: str, sha256: str = SHA) -> AttachmentRecord:
    return attachment(
        attachment_id, sha256, status="infected", detail=SIGNATURE, reason_code="infected"
    )


def one(tx: Tx, attachment_id: str) -> AttachmentRecord:
    [record] = tx.attachments([attachment_id])
    return record


def test_infected_content_is_infected_under_every_id(tx: Tx) -> None:
    """Every other row with the bytes becomes infected and quarantined; other content is not."""
    tx.insert_attachment(attachment("unscanned", **UNSCANNED))
    tx.insert_attachment(attachment("pending", status="pending", scanned_at=None))
    tx.insert_attachment(attachment("clean"))
    tx.insert_attachment(attachment("refused", status="rejected", reason_code="dangerous"))
    tx.insert_attachment(attachment("other", "0" * 64))
    assert tx.share_infected_verdict(SHA, 10.0) == []  # nothing infected yet: nothing changes
    assert not one(tx, "clean").quarantined
    tx.insert_attachment(infected("found"))
    marked = tx.share_infected_verdict(SHA, 10.0)
    assert sorted(marked) == ["clean", "pending", "refused", "unscanned"]
    for attachment_id in marked:
        record = one(tx, attachment_id)
        assert (record.status, record.quarantined) == ("infected", True)
        assert (record.detail, record.reason_code, record.scanned_at) == (SIGNATURE, "infected", 10)
    assert one(tx, "unscanned").flags == []  # it no longer waits for a scan
    assert one(tx, "other").status == "clean"
    assert tx.share_infected_verdict(SHA, 11.0) == []
    assert tx.infected_contents() == [(SHA, False)]


def test_infected_contents_name_rows_not_yet_marked(tx: Tx) -> None:
    """Rows recorded before the verdict was shared are found (the start-up pass marks them)."""
    tx.insert_attachment(infected("found"))
    tx.insert_attachment(attachment("earlier"))
    tx.insert_attachment(attachment("unrelated", "0" * 64))
    assert tx.infected_contents() == [(SHA, True)]


def test_only_files_handed_off_unscanned_wait_for_a_rescan(tx: Tx) -> None:
    """Errors for other reasons are final: an encrypted archive, clamd's own error on a file."""
    tx.insert_attachment(attachment("late", **{**UNSCANNED, "received_at": 5.0}))
    tx.insert_attachment(
        attachment("early", **{**UNSCANNED, "flags": ["type_mismatch", "unscanned"]})
    )
    tx.insert_attachment(
        attachment(
            "encrypted",
            status="error",
            reason_code="encrypted",
            flags=["encrypted_archive", "unscannable"],
        )
    )
    tx.insert_attachment(
        attachment("refused_by_clamd", status="error", reason_code="unchecked", detail="limit")
    )
    tx.insert_attachment(attachment("pending", status="pending", scanned_at=None))
    assert [r.id for r in tx.unscanned_attachments(10)] == ["early", "late"]
    assert [r.id for r in tx.unscanned_attachments(1)] == ["early"]


def test_main_copy_stays_only_for_accepted_content_not_known_infected(tx: Tx) -> None:
    """A clean, pending or unscanned holder keeps the main copy, unless the bytes are infected."""
    tx.insert_attachment(attachment("refused", status="rejected", reason_code="dangerous"))
    assert not tx.accepted_with_content(SHA)
    tx.insert_attachment(attachment("unscanned", **UNSCANNED))
    assert tx.accepted_with_content(SHA)
    tx.insert_attachment(infected("found"))
    assert not tx.accepted_with_content(SHA)  # even before the siblings are marked


def test_a_rescan_does_not_overwrite_a_verdict_recorded_meanwhile(tx: Tx) -> None:
    """A row found infected through its content while it was being scanned stays infected."""
    tx.insert_attachment(attachment("unscanned", **UNSCANNED))
    tx.insert_attachment(infected("found"))
    tx.share_infected_verdict(SHA, 10.0)
    changed = tx.attachment_verdict(
        "unscanned", "clean", None, None, [], quarantined=False, scanned_at=11.0, was="error"
    )
    assert not changed
    assert one(tx, "unscanned").status == "infected"


# -- the service, where no scan is needed --------------------------------------------------------


def service(tmp_path: Path, db: Database, **settings_: Any) -> AttachmentService:
    """The service with clamd down (no socket) and nothing to release."""
    settings = AttachmentsSection(clamd=f"unix:{tmp_path}/no-clamd.sock", **settings_)
    return AttachmentService(
        db,
        FileBlobStore(tmp_path / "blobs"),
        FileBlobStore(tmp_path / "quarantine"),
        lambda: settings,
        lambda tx, seq, envelope, records: None,
        lambda: None,
    )


async def store(blobs: FileBlobStore, data: bytes) -> None:
    await blobs.put(from_bytes(data))


async def test_known_infected_content_is_refused_while_clamd_is_down(
    tmp_path: Path, db: Database
) -> None:
    """A new upload of bytes already found infected is infected at once, not pending."""
    attachments = service(tmp_path, db)
    await store(attachments.quarantine, EICAR_LIKE)
    await db.write(lambda tx: tx.insert_attachment(infected("found")))
    receipt = await attachments.receive(
        from_bytes(EICAR_LIKE), channel="webchat", filename="again.txt", declared_type="text/plain"
    )
    assert (receipt.status, receipt.detail) == ("infected", SIGNATURE)
    record = await db.read(lambda tx: one(tx, receipt.id))
    assert record.quarantined
    assert not attachments.blobs.path(SHA).exists()
    assert attachments.quarantine.path(SHA).read_bytes() == EICAR_LIKE


async def test_content_quarantined_for_its_name_only_stays_pending_while_clamd_is_down(
    tmp_path: Path, db: Database
) -> None:
    """Bytes refused for a file name (not infected) do not make another upload refused."""
    attachments = service(tmp_path, db)
    await store(attachments.quarantine, EICAR_LIKE)
    await db.write(
        lambda tx: tx.insert_attachment(
            attachment("refused", status="rejected", reason_code="dangerous")
        )
    )
    receipt = await attachments.receive(
        from_bytes(EICAR_LIKE), channel="webchat", filename="note.txt", declared_type="text/plain"
    )
    assert receipt.status == "pending"
    assert attachments.blobs.path(SHA).exists()


async def test_start_marks_rows_recorded_before_and_drops_the_main_copy(
    tmp_path: Path, db: Database
) -> None:
    """Rows with infected content that were recorded apart (an older version, or a stop between
    the two steps) are made infected at start, and the main store keeps no copy."""
    attachments = service(tmp_path, db)
    await store(attachments.blobs, EICAR_LIKE)
    await store(attachments.quarantine, EICAR_LIKE)
    clean = b"a clean file"
    await store(attachments.blobs, clean)

    def legacy(tx: Tx) -> None:
        tx.insert_attachment(attachment("unscanned", **UNSCANNED))
        tx.insert_attachment(infected("found"))
        tx.insert_attachment(attachment("clean", hashlib.sha256(clean).hexdigest()))

    await db.write(legacy)
    await attachments._settle_infected()
    records = await db.read(lambda tx: tx.attachments(["unscanned", "found", "clean"]))
    assert [(r.status, r.quarantined) for r in records] == [
        ("infected", True),
        ("infected", True),
        ("clean", False),
    ]
    assert not attachments.blobs.path(SHA).exists()
    assert attachments.quarantine.path(SHA).exists()
    assert attachments.blobs.path(hashlib.sha256(clean).hexdigest()).exists()


async def test_no_file_is_stored_while_the_disk_is_short_of_room(
    tmp_path: Path, db: Database
) -> None:
    """Under min_free_space the store refuses a file (the database needs the room more) and
    keeps nothing of it."""
    attachments = service(tmp_path, db, min_free_space=2**62)  # more than any disk here
    with pytest.raises(AttachmentRefused) as refused:
        await attachments.receive(
            from_bytes(b"%PDF-1.4 scan"), channel="webchat", filename="a.pdf",
            declared_type="application/pdf",
        )  # fmt: skip
    assert refused.value.code == "storage_low"
    assert not any(path.is_file() for path in attachments.blobs.root.rglob("*"))
    count = await db.read(lambda tx: tx.conn.execute("SELECT count(*) FROM attachments").fetchone())
    assert count == (0,)
