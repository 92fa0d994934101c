"""How attachment verdicts show in an envelope: its attachment list and its flags."""

from __future__ import annotations

import msgspec

from normaliser.envelope import Attachment, Envelope, Scan
from router.store.transaction import AttachmentRecord

# In a held envelope's body, until the scan is done; never visible to the backend.
PENDING = "scan pending"
# Envelope flags by attachment verdict.
VERDICT_FLAGS = {
    "infected": "infected_attachment",
    "rejected": "rejected_attachment",
    "error": "unscanned_attachment",
}


def envelope_attachment(record: AttachmentRecord) -> Attachment:
    """How an attachment appears in an envelope."""
    status = record.status
    scan = Scan("error", PENDING) if status == "pending" else Scan(status, record.detail)
    return Attachment(
        id=record.id,
        filename=record.filename,
        content_type=record.content_type,
        declared_type=record.declared_type,
        size=record.size,
        sha256=record.sha256,
        scan=scan,
    )


def attachment_flags(records: list[AttachmentRecord]) -> list[str]:
    """Envelope flags that the attachments' verdicts call for."""
    flags: list[str] = []
    for record in records:
        for flag in (VERDICT_FLAGS.get(record.status), *record.flags):
            if flag and flag not in flags:
                flags.append(flag)
    return flags


def with_attachments(envelope: Envelope, records: list[AttachmentRecord]) -> Envelope:
    """The envelope with its attachments' final verdicts and the flags they call for."""
    verdict_flags = attachment_flags(records)
    return msgspec.structs.replace(
        envelope,
        attachments=[envelope_attachment(r) for r in records],
        flags=[f for f in envelope.flags if f not in verdict_flags] + verdict_flags,
    )
