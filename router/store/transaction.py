"""Every SQL statement of the domain, run synchronously inside one transaction of the writer."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import msgspec

from channels.contract import (
    AttachmentStatus,
    ChangedContent,
    Channel,
    NoticeKind,
    Sender,
    StateEntry,
    rfc3339,
)
from dedupe.ports import Merge, RecentEnvelope, TicketState
from router.delivery.states import (
    CLAIMABLE,
    FAILURES,
    Event,
    State,
    TransitionRefused,
    next_state,
)
from router.ulid import new_ulid


class TicketRecord(msgspec.Struct, frozen=True):
    """A ticket row as the API and the notifier see it."""

    number: str
    created_at: str
    updated_at: str
    status: str
    category_code: str
    category_name: str
    priority: str
    first_response_due: str
    resolution_due: str
    channel: Channel
    account: str
    address: str
    language: str
    conversation_id: str
    contact_id: str
    related: list[str]
    status_comment: str | None
    status_reason: str | None
    expected_at: str | None


class NotificationRecord(msgspec.Struct, frozen=True):
    """A notification row in the outbox."""

    id: str
    created_at: str
    ticket_number: str | None
    contact_id: str | None
    channel: Channel
    account: str
    address: str
    kind: NoticeKind
    automatic: bool
    text: str
    state: str
    attempts: int
    next_attempt_at: float
    first_queued_at: float
    last_error: str | None
    attachments: str  # JSON: the ids of the files sent with it
    confirms_stop: bool  # the confirmation of a «СТОП», let past that one suppression
    rendering: str  # JSON: what it carries beside its text (router/delivery/notifier.py Rendering)


class AttachmentRecord(msgspec.Struct, frozen=True):
    """An attachment row: the stored file and its verdict."""

    id: str
    sha256: str
    size: int
    filename: str
    declared_type: str
    content_type: str
    channel: str
    owner: str | None
    status: AttachmentStatus
    detail: str | None
    reason_code: str | None
    flags: list[str]
    quarantined: bool
    received_at: float
    scanned_at: float | None


_ATTACHMENT_COLUMNS = ", ".join(AttachmentRecord.__struct_fields__)
_NOTIFICATION_COLUMNS = (
    "id, created_at, ticket_number, contact_id, channel, account, address, kind, automatic, "
    "text, state, attempts, next_attempt_at, first_queued_at, last_error, attachments, "
    "confirms_stop, rendering"
)


# The journal's dead letters: not filed, other content under a known key, filed unparseable.
_INTAKE_DEAD = "('failed', 'conflict', 'unparseable')"
# Dead letters by kind: the table that holds them and its key column.
_DEAD_LETTER_TABLES = {
    "handoff": ("handoffs", "envelope_seq"),
    "notification": ("notifications", "id"),
    "intake": ("journal", "id"),
}


class MessageThread(NamedTuple):
    """The conversation a known message belongs to, whose it is, and whether verified; for a
    notice of ours, the address it went to; the ticket it was filed to or is about, if known."""

    conversation_id: str
    contact_id: str
    verified: bool
    sent_to: str | None = None
    ticket_number: str | None = None


class Handoff(NamedTuple):
    """A claimed webhook delivery: the envelope, and its attempts so far since it was queued."""

    seq: int
    envelope_id: str
    body: bytes
    attempts: int
    first_queued_at: float


class _MessageHead(msgspec.Struct):
    """The fields of a stored envelope that thread a conversation (the rest is skipped)."""

    channel: str
    channel_message_id: str
    received_at: str


_message_head = msgspec.json.Decoder(_MessageHead)


class JournalEntry(NamedTuple):
    """An inbound to journal: the encoded RawInbound (`inbound`) or Received (`received`),
    inline or (when large) in the blob store under `raw_sha256`, and its content's digest."""

    channel: str
    account: str
    key: str
    received_at: str
    raw: bytes
    raw_sha256: str | None
    format: Literal["inbound", "received"]
    digest: str | None
    changed_content: ChangedContent = "conflict"


class JournalRow(NamedTuple):
    """A journal row; `raw` is empty when the content is in the blob store."""

    id: int
    state: str
    envelope_id: str | None
    format: str
    digest: str | None
    revision_of: int | None
    redeliveries: int
    raw: bytes
    raw_sha256: str | None
    received_at: str


_JOURNAL_COLUMNS = ", ".join(JournalRow._fields)


class Tx:
    """A view of the database inside one transaction, what Database.read and write hand their
    jobs; implements dedupe's DedupeState and every consumer's store protocol (JournalStore,
    FilingStore, UpdatesStore, AttachmentStore, ReportStore, ApiStore, DaemonStore, ...)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _one(self, sql: str, *args: Any) -> Any:
        return self.conn.execute(sql, args).fetchone()

    # -- intake journal ------------------------------------------------------------------

    def journal_append(self, entry: JournalEntry) -> JournalRow:
        """Record an inbound once per key (counting redeliveries); the row as it stands.

        Content that comes again under a key with another digest is not this key's: it is
        journalled under the key and its digest, as a revision of the first row or a conflict.
        """
        row = self._journal_insert(entry, entry.key)
        if row.digest is None or entry.digest is None or row.digest == entry.digest:
            return row
        changed = self._journal_insert(entry, f"{entry.key}#{entry.digest}", revision_of=row.id)
        if entry.changed_content == "conflict" and changed.redeliveries == 0:
            self.conn.execute("UPDATE journal SET state = 'conflict' WHERE id = ?", (changed.id,))
            return changed._replace(state="conflict")
        return changed

    def _journal_insert(
        self, entry: JournalEntry, key: str, *, revision_of: int | None = None
    ) -> JournalRow:
        row = self._one(
            "INSERT INTO journal (channel, account, idem_key, received_at, raw, raw_sha256, "
            "format, digest, revision_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (channel, account, idem_key) "
            "DO UPDATE SET redeliveries = redeliveries + 1 "
            f"RETURNING {_JOURNAL_COLUMNS}",
            entry.channel,
            entry.account,
            key,
            entry.received_at,
            entry.raw,
            entry.raw_sha256,
            entry.format,
            entry.digest,
            revision_of,
        )
        return JournalRow(*row)

    def journal_row(self, journal_id: int) -> JournalRow | None:
        """A journal row by id."""
        row = self._one(f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE id = ?", journal_id)
        return None if row is None else JournalRow(*row)

    def journal_filed(
        self, journal_id: int, envelope_id: str, *, unparseable: str | None = None
    ) -> None:
        """Mark a journal row as filed under an envelope; one filed `unparseable` (why) stays a
        dead letter until an operator replays or drops it."""
        self.conn.execute(
            "UPDATE journal SET state = ?, envelope_id = ?, error = ? WHERE id = ?",
            ("filed" if unparseable is None else "unparseable", envelope_id, unparseable,
             journal_id),
        )  # fmt: skip

    def journal_reported(self, journal_id: int) -> None:
        """Mark a journal row filed as a peer's report (a bounce): applied, no envelope."""
        self.conn.execute("UPDATE journal SET state = 'filed' WHERE id = ?", (journal_id,))

    def journal_failed(self, journal_id: int, error: str) -> None:
        """Keep a journal row being filed that could not be, with the reason: a dead letter,
        `failed`, or `unparseable` again for one replayed whose flagged envelope stands. A row
        filed meanwhile stays filed."""
        self.conn.execute(
            "UPDATE journal SET state = CASE WHEN envelope_id IS NULL THEN 'failed' "
            "ELSE 'unparseable' END, error = ? WHERE id = ? AND state = 'received'",
            (error, journal_id),
        )

    def journal_reread(self, journal_id: int) -> int:
        """A row for a filed row's content read again, as its revision; the first is done."""
        self.conn.execute(
            "UPDATE journal SET state = 'filed', error = NULL WHERE id = ?", (journal_id,)
        )
        return int(
            self._one(
                "INSERT INTO journal (channel, account, idem_key, received_at, raw, raw_sha256, "
                "format, digest, revision_of) SELECT channel, account, idem_key || '#reread', "
                "received_at, raw, raw_sha256, format, digest, id FROM journal WHERE id = ? "
                "RETURNING id",
                journal_id,
            )[0]
        )

    def journal_unfiled(self) -> list[JournalRow]:
        """Journal rows waiting to be filed, oldest first."""
        rows = self.conn.execute(
            f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE state = 'received' ORDER BY id"
        ).fetchall()
        return [JournalRow(*row) for row in rows]

    # -- identity graph (DedupeState) ---------------------------------------------------

    def identity_contact(self, identity: Sender) -> str | None:
        """Contact that owns this (kind, address), if any."""
        row = self._one(
            "SELECT contact_id FROM identities WHERE kind = ? AND address = ?",
            identity.kind,
            identity.address,
        )
        return None if row is None else str(row[0])

    def identity_verified(self, identity: Sender) -> bool:
        """Whether a channel has ever vouched for this (kind, address)."""
        row = self._one(
            "SELECT verified FROM identities WHERE kind = ? AND address = ?",
            identity.kind,
            identity.address,
        )
        return row is not None and bool(row[0])

    def create_contact(self, identity: Sender) -> str:
        """Create a contact owning `identity`; return its id."""
        contact = new_ulid()
        self.conn.execute(
            "INSERT INTO contacts (id, created_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ'))",
            (contact,),
        )
        self.add_identity(contact, identity)
        return contact

    def add_identity(self, contact_id: str, identity: Sender) -> None:
        """Attach `identity` to a contact, or mark it verified if already there."""
        self.conn.execute(
            "INSERT INTO identities (kind, address, contact_id, verified, display_name, first_seen)"
            " VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ'))"
            " ON CONFLICT (kind, address)"
            " DO UPDATE SET verified = max(verified, excluded.verified)",
            (
                identity.kind,
                identity.address,
                contact_id,
                int(identity.verified),
                identity.display_name,
            ),
        )

    def merged_into(self, contact_id: str) -> str | None:
        """The contact this one was merged into, if it was."""
        row = self._one("SELECT merged_into FROM contacts WHERE id = ?", contact_id)
        return None if row is None or row[0] is None else str(row[0])

    def record_merge(self, survivor: str, absorbed: str, evidence: str) -> int:
        """Point `absorbed` at `survivor` and record why; return the merge id."""
        self.conn.execute("UPDATE contacts SET merged_into = ? WHERE id = ?", (survivor, absorbed))
        row = self._one(
            "INSERT INTO contact_merges (survivor, absorbed, evidence, merged_at) "
            "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ')) RETURNING id",
            survivor,
            absorbed,
            evidence,
        )
        return int(row[0])

    def merge(self, merge_id: int) -> Merge | None:
        """A recorded merge."""
        row = self._one(
            "SELECT id, survivor, absorbed, evidence, undone_at IS NOT NULL "
            "FROM contact_merges WHERE id = ?",
            merge_id,
        )
        return None if row is None else Merge(row[0], row[1], row[2], row[3], bool(row[4]))

    def merges(self, contact_id: str) -> list[Merge]:
        """Every merge a contact took part in, oldest first."""
        rows = self.conn.execute(
            "SELECT id, survivor, absorbed, evidence, undone_at IS NOT NULL FROM contact_merges "
            "WHERE survivor = ? OR absorbed = ? ORDER BY id",
            (contact_id, contact_id),
        ).fetchall()
        return [Merge(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def undo_merge(self, merge_id: int) -> None:
        """Detach the absorbed contact again and mark the merge undone; each side loses its
        links to the tickets the other opened (only the merge could have made them)."""
        merge = self.merge(merge_id)
        if merge is None:
            return
        self.conn.execute(
            "UPDATE contacts SET merged_into = NULL WHERE id = ? AND merged_into = ?",
            (merge.absorbed, merge.survivor),
        )
        survivors, absorbed = (
            self.merged_contacts(merge.survivor),
            self.merged_contacts(merge.absorbed),
        )
        for mine, theirs in ((absorbed, survivors), (survivors, absorbed)):
            marks_mine, marks_theirs = ", ".join("?" * len(mine)), ", ".join("?" * len(theirs))
            self.conn.execute(
                f"DELETE FROM ticket_contacts WHERE contact_id IN ({marks_mine}) AND number IN "
                f"(SELECT number FROM tickets WHERE contact_id IN ({marks_theirs}))",
                (*mine, *theirs),
            )
        self.conn.execute(
            "UPDATE contact_merges SET undone_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ?",
            (merge_id,),
        )

    def merge_undone(self, a: str, b: str) -> bool:
        """Whether an operator told these two people apart: an undone merge between any contact
        of one and any contact of the other (either may have been merged elsewhere since)."""
        family_a, family_b = self.merged_contacts(a), self.merged_contacts(b)
        marks_a, marks_b = ", ".join("?" * len(family_a)), ", ".join("?" * len(family_b))
        row = self._one(
            f"SELECT 1 FROM contact_merges WHERE undone_at IS NOT NULL AND "
            f"((survivor IN ({marks_a}) AND absorbed IN ({marks_b})) OR "
            f"(survivor IN ({marks_b}) AND absorbed IN ({marks_a}))) LIMIT 1",
            *family_a,
            *family_b,
            *family_b,
            *family_a,
        )
        return row is not None

    def merged_contacts(self, person: str) -> list[str]:
        """`person` and every contact merged into it, directly or through others."""
        rows = self.conn.execute(
            "WITH RECURSIVE family (id) AS (SELECT ? UNION "
            "SELECT c.id FROM contacts c JOIN family f ON c.merged_into = f.id) "
            "SELECT id FROM family",
            (person,),
        ).fetchall()
        return [r[0] for r in rows]

    def identities(self, contact_id: str) -> list[Sender]:
        """Identities owned directly by a contact."""
        rows = self.conn.execute(
            "SELECT kind, address, display_name, verified FROM identities WHERE contact_id = ? "
            "ORDER BY first_seen",
            (contact_id,),
        ).fetchall()
        return [Sender(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def last_account(self, contact_id: str, channel: str) -> str | None:
        """The account of the newest message the contact sent us on `channel`, if any: the
        bot a Telegram user talks to (another bot may not write first), the short number or
        mailbox they know."""
        row = self._one(
            "SELECT j.account FROM envelopes e JOIN journal j ON j.id = e.journal_id "
            "WHERE e.contact_id = ? AND j.channel = ? ORDER BY e.seq DESC LIMIT 1",
            contact_id,
            channel,
        )
        return None if row is None else str(row[0])

    # -- tickets -------------------------------------------------------------------------

    def ticket(self, number: str) -> TicketState | None:
        """A ticket by number."""
        row = self._one(
            "SELECT number, status, conversation_id FROM tickets WHERE number = ?", number
        )
        return None if row is None else TicketState(row[0], row[1], row[2])

    def ticket_contacts(self, number: str) -> list[str]:
        """Contacts linked to a ticket."""
        rows = self.conn.execute(
            "SELECT contact_id FROM ticket_contacts WHERE number = ?", (number,)
        ).fetchall()
        return [r[0] for r in rows]

    def conversation_ticket(self, conversation_id: str) -> TicketState | None:
        """The ticket a conversation is about now: the one its latest message was filed to."""
        row = self._one(
            "SELECT t.number, t.status, t.conversation_id FROM conversations c "
            "JOIN tickets t ON t.number = c.ticket_number WHERE c.id = ?",
            conversation_id,
        )
        return None if row is None else TicketState(row[0], row[1], row[2])

    def file_conversation(self, conversation_id: str, number: str, at: str) -> None:
        """The conversation's latest message was filed to this ticket."""
        self.conn.execute(
            "INSERT INTO conversations (id, ticket_number, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET ticket_number = excluded.ticket_number, "
            "updated_at = excluded.updated_at "
            # A message replayed late (a dead letter) does not take the conversation back.
            "WHERE excluded.updated_at >= conversations.updated_at",
            (conversation_id, number, at),
        )

    def latest_contact_ticket(
        self, contact_ids: list[str], closed: Collection[str] = ()
    ) -> str | None:
        """The newest ticket linked to any of these contacts, the newest of those whose status
        is not in `closed` first."""
        marks = ", ".join("?" for _ in contact_ids)
        closed_marks = ", ".join("?" for _ in closed)
        row = self._one(
            f"SELECT t.number FROM tickets t JOIN ticket_contacts c ON c.number = t.number "
            f"WHERE c.contact_id IN ({marks}) "
            f"ORDER BY t.status IN ({closed_marks}), t.created_at DESC, t.number DESC LIMIT 1",
            *contact_ids,
            *closed,
        )
        return None if row is None else str(row[0])

    def contact_tickets(self, contact_ids: list[str], since: str) -> list[tuple[str, str, str]]:
        """(number, status, category code) of the tickets linked to any of these contacts and
        updated at or after `since`, newest first."""
        marks = ", ".join("?" for _ in contact_ids)
        rows = self.conn.execute(
            f"SELECT DISTINCT t.number, t.status, t.category_code, t.created_at FROM tickets t "
            f"JOIN ticket_contacts c ON c.number = t.number "
            f"WHERE c.contact_id IN ({marks}) AND t.updated_at >= ? "
            f"ORDER BY t.created_at DESC, t.number DESC",
            (*contact_ids, since),
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def declare_recipient(self, conversation_id: str, channel: str, address: str, at: str) -> None:
        """Notices of the conversation's tickets go to this address too, instead of one
        declared before on its channel: one email and one phone at most, so that no one can
        have our notices sent to a list of strangers."""
        self.conn.execute(
            "DELETE FROM notice_recipients WHERE conversation_id = ? AND channel = ? "
            "AND address <> ?",
            (conversation_id, channel, address),
        )
        self.conn.execute(
            "INSERT INTO notice_recipients (conversation_id, channel, address, declared_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (conversation_id, channel, address, at),
        )

    def notice_recipients(self, number: str) -> list[tuple[str, str]]:
        """(channel, address) declared for the conversations a ticket was opened or filed in."""
        rows = self.conn.execute(
            "SELECT channel, address FROM notice_recipients WHERE conversation_id IN "
            "(SELECT conversation_id FROM tickets WHERE number = ? "
            "UNION SELECT id FROM conversations WHERE ticket_number = ?) "
            "GROUP BY channel, address ORDER BY min(declared_at)",
            (number, number),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def next_ticket_counter(self, year: int) -> int:
        """Take the next counter value of a year; never reused, survives restarts."""
        row = self._one(
            "INSERT INTO ticket_counters (year, last) VALUES (?, 1) "
            "ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last",
            year,
        )
        return int(row[0])

    def insert_ticket(self, ticket: TicketRecord) -> None:
        """Create a ticket and link its contact."""
        values = msgspec.structs.asdict(ticket)
        values["related"] = json.dumps(ticket.related)
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(
            f"INSERT INTO tickets ({columns}) VALUES ({marks})", list(values.values())
        )
        self.link_ticket_contact(ticket.number, ticket.contact_id)

    def link_ticket_contact(self, number: str, contact_id: str) -> None:
        """Link a contact to a ticket (idempotent)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO ticket_contacts (number, contact_id) VALUES (?, ?)",
            (number, contact_id),
        )

    def ticket_record(self, number: str) -> TicketRecord | None:
        """A whole ticket row."""
        cur = self.conn.execute("SELECT * FROM tickets WHERE number = ?", (number,))
        row = cur.fetchone()
        if row is None:
            return None
        values = dict(zip([d[0] for d in cur.description], row, strict=True))
        values["related"] = json.loads(values["related"])
        return msgspec.convert(values, TicketRecord)

    def set_ticket_due(self, number: str, first_response: str, resolution: str) -> None:
        """New SLA due times (a reopened ticket is a request again)."""
        self.conn.execute(
            "UPDATE tickets SET first_response_due = ?, resolution_due = ? WHERE number = ?",
            (first_response, resolution, number),
        )

    def set_ticket_status(
        self,
        number: str,
        status: str,
        now: str,
        *,
        comment: str | None = None,
        reason: str | None = None,
        expected_at: str | None = None,
    ) -> None:
        """Change a ticket's status and append the change to its history."""
        self.conn.execute(
            "UPDATE tickets SET status = ?, updated_at = ?, status_comment = ?, "
            "status_reason = ?, expected_at = ? WHERE number = ?",
            (status, now, comment, reason, expected_at, number),
        )

    def add_ticket_event(
        self,
        number: str,
        at: str,
        kind: str,
        status: str | None,
        detail: dict[str, Any],
        idem_key: str | None,
    ) -> tuple[int, bool]:
        """Append to a ticket's history once per idempotency key; return (id, is_new)."""
        if idem_key is not None:
            row = self._one("SELECT id FROM ticket_events WHERE idem_key = ?", idem_key)
            if row is not None:
                return int(row[0]), False
        row = self._one(
            "INSERT INTO ticket_events (number, at, kind, status, detail, idem_key) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            number,
            at,
            kind,
            status,
            json.dumps(detail, ensure_ascii=False),
            idem_key,
        )
        return int(row[0]), True

    def last_status_event(self, number: str) -> int | None:
        """The id of the event that set a ticket's current status."""
        row = self._one(
            "SELECT max(id) FROM ticket_events WHERE number = ? AND kind = 'status'", number
        )
        return None if row[0] is None else int(row[0])

    def ticket_events(self, number: str) -> list[dict[str, Any]]:
        """A ticket's status changes and replies, oldest first."""
        rows = self.conn.execute(
            "SELECT at, kind, status, detail FROM ticket_events WHERE number = ? ORDER BY id",
            (number,),
        ).fetchall()
        return [{"at": r[0], "kind": r[1], "status": r[2], **json.loads(r[3])} for r in rows]

    # -- message store and feed -----------------------------------------------------------

    def insert_envelope(
        self,
        envelope_id: str,
        journal_id: int,
        received_at: str,
        ticket: str | None,
        contact_id: str,
        fingerprint: str,
        body: bytes,
        *,
        held: str | None,
    ) -> tuple[int, int | None]:
        """Store an envelope; return (store seq, feed_seq or None while it is held)."""
        row = self._one(
            "INSERT INTO envelopes (id, journal_id, received_at, ticket_number, contact_id, "
            "fingerprint, held, body, feed_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "CASE WHEN ?7 IS NULL THEN (SELECT coalesce(max(feed_seq), 0) + 1 FROM envelopes) "
            "END) RETURNING seq, feed_seq",
            envelope_id,
            journal_id,
            received_at,
            ticket,
            contact_id,
            fingerprint,
            held,
            body,
        )
        return int(row[0]), row[1]

    def hand_off(self, seq: int, body: bytes | None = None) -> int:
        """Put a stored envelope into the feed (with its final body); return its feed_seq."""
        row = self._one(
            "UPDATE envelopes SET held = NULL, body = coalesce(?, body), "
            "feed_seq = (SELECT coalesce(max(feed_seq), 0) + 1 FROM envelopes) "
            "WHERE seq = ? AND feed_seq IS NULL RETURNING feed_seq",
            body,
            seq,
        )
        assert row is not None, f"envelope {seq} is already handed off"
        return int(row[0])

    def recent_envelopes(self, contact_ids: list[str], since: str) -> list[RecentEnvelope]:
        """Envelopes of these contacts received at or after `since`, newest first."""
        marks = ", ".join("?" for _ in contact_ids)
        rows = self.conn.execute(
            f"SELECT id, ticket_number, fingerprint FROM envelopes WHERE contact_id IN ({marks}) "
            # The (contact_id, received_at) index walked backwards: no sort. A repeat is
            # resent among a citizen's last few messages; more candidates only cost time.
            "AND received_at >= ? ORDER BY received_at DESC LIMIT 10",
            (*contact_ids, since),
        ).fetchall()
        return [RecentEnvelope(r[0], r[1], r[2]) for r in rows]

    def envelope_body(self, envelope_id: str) -> bytes | None:
        """An envelope's JSON body."""
        row = self._one("SELECT body FROM envelopes WHERE id = ?", envelope_id)
        return None if row is None else bytes(row[0])

    def feed_after(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Envelopes handed off after a cursor, in order.

        The cursor never skips an envelope: a feed_seq is max + 1 taken inside the writing
        transaction, and SQLite has one writer at a time, so feed_seq grows in commit order and
        no reader ever sees N + 1 committed while N is not. A store with concurrent writers
        (PostgreSQL) must keep that promise another way: take the number at commit under a
        lock, or page by a commit-ordered position, never by a sequence assigned at insert.
        """
        return self.conn.execute(
            "SELECT feed_seq, body FROM envelopes WHERE feed_seq > ? ORDER BY feed_seq LIMIT ?",
            (after, limit),
        ).fetchall()

    def ticket_envelopes(self, number: str) -> list[bytes]:
        """Bodies of a ticket's envelopes, oldest first."""
        rows = self.conn.execute(
            "SELECT body FROM envelopes WHERE ticket_number = ? ORDER BY seq", (number,)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def keep_message_thread(
        self,
        channel: str,
        message_id: str,
        conversation: str,
        contact: str,
        verified: bool,
        ticket: str | None,
    ) -> None:
        """Keep a citizen's message that replies may name, against its conversation and the
        ticket it was filed to (None for a command); its edits keep what it first was."""
        self.conn.execute(
            "INSERT INTO message_threads (channel, message_id, conversation_id, contact_id, "
            "verified, ticket_number) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (channel, message_id) DO NOTHING",
            (channel, message_id, conversation, contact, int(verified), ticket),
        )

    def message_thread(self, channel: str, message_id: str, kind: str) -> MessageThread | None:
        """The conversation a message on a channel belongs to, the citizen's or ours (by the
        peer's reference), with its contact and whether that contact's address there is
        verified; None for a message we do not know."""
        row = self._one(
            "SELECT conversation_id, contact_id, verified, NULL, ticket_number "
            "FROM message_threads WHERE channel = ? AND message_id = ?",
            channel,
            message_id,
        )
        if row is None:
            row = self._one(
                "SELECT t.conversation_id, t.contact_id, coalesce(i.verified, 0), n.address, "
                "n.ticket_number "
                "FROM peer_references r JOIN notifications n ON n.id = r.notification_id "
                "JOIN tickets t ON t.number = n.ticket_number "
                "LEFT JOIN identities i ON i.kind = ? AND i.address = n.address "
                "WHERE r.channel = ? AND r.reference = ?",
                kind,
                channel,
                message_id,
            )
        return None if row is None else MessageThread(row[0], row[1], bool(row[2]), *row[3:])

    def ticket_notifications(self, number: str) -> list[tuple[str, str, str, str]]:
        """A ticket's notifications, oldest first: (id, kind, channel, state)."""
        return self.conn.execute(
            "SELECT id, kind, channel, state FROM notifications WHERE ticket_number = ? "
            "ORDER BY first_queued_at, id",
            (number,),
        ).fetchall()

    def thread_messages(self, number: str, channel: str) -> list[tuple[str, bool, str]]:
        """A ticket's messages on a channel, oldest first: (at, the citizen's, id) for each
        message the citizen sent (its channel message id) and each of ours a peer took (the
        peer's reference)."""
        theirs = [
            (head.received_at, True, head.channel_message_id)
            for head in map(_message_head.decode, self.ticket_envelopes(number))
            if head.channel == channel
        ]
        ours = self.conn.execute(
            "SELECT n.created_at, 0, r.reference FROM peer_references r "
            "JOIN notifications n ON n.id = r.notification_id "
            "WHERE n.ticket_number = ? AND r.channel = ?",
            (number, channel),
        ).fetchall()
        return sorted([*theirs, *((at, False, ref) for at, _, ref in ours)])

    # -- webhook handoff -----------------------------------------------------------------

    def queue_handoff(self, seq: int, now: float) -> None:
        """Put an envelope into webhook delivery."""
        self.conn.execute(
            "INSERT OR IGNORE INTO handoffs (envelope_seq, next_attempt_at, first_queued_at) "
            "VALUES (?, ?, ?)",
            (seq, now, now),
        )

    def claim_handoffs(self, now: float, limit: int) -> list[Handoff]:
        """Move due webhook deliveries to `sending`, oldest envelope first.

        Claiming in the writer is what makes one delivery attempt per envelope at a time: a row
        in `sending` is nobody else's to pick up.
        """
        claimed = self.conn.execute(
            "UPDATE handoffs SET state = 'sending' WHERE envelope_seq IN (SELECT envelope_seq "
            "FROM handoffs WHERE state = 'queued' AND next_attempt_at <= ? "
            "ORDER BY envelope_seq LIMIT ?) RETURNING envelope_seq",
            (now, limit),
        ).fetchall()
        seqs = sorted(row[0] for row in claimed)
        marks = ", ".join("?" for _ in seqs)
        rows = self.conn.execute(
            f"SELECT h.envelope_seq, e.id, e.body, h.attempts, h.first_queued_at FROM handoffs h "
            f"JOIN envelopes e ON e.seq = h.envelope_seq WHERE h.envelope_seq IN ({marks}) "
            f"ORDER BY h.envelope_seq",
            seqs,
        ).fetchall()
        return [
            Handoff(seq, envelope_id, bytes(body), n, since)
            for seq, envelope_id, body, n, since in rows
        ]

    def next_handoff_at(self) -> float | None:
        """When the next queued webhook delivery is due."""
        row = self._one("SELECT min(next_attempt_at) FROM handoffs WHERE state = 'queued'")
        return None if row[0] is None else float(row[0])

    def handoff_result(
        self, seq: int, state: str, attempts: int, next_at: float, error: str | None
    ) -> None:
        """Record the outcome of the webhook attempt that claimed this envelope."""
        self.conn.execute(
            "UPDATE handoffs SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? "
            "WHERE envelope_seq = ? AND state = 'sending'",
            (state, attempts, next_at, error, seq),
        )

    def recover_handoffs(self) -> int:
        """After a crash, webhook attempts caught in `sending` are due again; return how many."""
        return self.conn.execute(
            "UPDATE handoffs SET state = 'queued' WHERE state = 'sending'"
        ).rowcount

    def requeue_handoffs(self, seqs: Sequence[int]) -> None:
        """Claimed webhook deliveries not attempted (the daemon stops): queued again."""
        self.conn.executemany(
            "UPDATE handoffs SET state = 'queued' WHERE envelope_seq = ? AND state = 'sending'",
            [(seq,) for seq in seqs],
        )

    # -- outbox ---------------------------------------------------------------------------

    def queue_notification(
        self,
        source_key: str,
        now_iso: str,
        now: float,
        *,
        ticket: str | None,
        contact_id: str | None,
        channel: str,
        account: str,
        address: str,
        kind: str,
        automatic: bool,
        text: str,
        attachments: Sequence[str] = (),
        confirms_stop: bool = False,
        rendering: str = "{}",
    ) -> tuple[str, bool]:
        """Queue a notification once per source key; return (id, is_new)."""
        notification_id = new_ulid()
        row = self._one(
            "INSERT INTO notifications (id, source_key, created_at, ticket_number, contact_id, "
            "channel, account, address, kind, automatic, text, next_attempt_at, first_queued_at, "
            "attachments, confirms_stop, rendering) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source_key) DO NOTHING RETURNING id",
            notification_id,
            source_key,
            now_iso,
            ticket,
            contact_id,
            channel,
            account,
            address,
            kind,
            int(automatic),
            text,
            now,
            now,
            json.dumps(list(attachments)),
            int(confirms_stop),
            rendering,
        )
        if row is not None:
            self._history(notification_id, now_iso, State.QUEUED, "created", None)
            return notification_id, True
        existing = self._one("SELECT id FROM notifications WHERE source_key = ?", source_key)
        return str(existing[0]), False

    def due_notifications(
        self, now: float, limit: int, *, exclude: Sequence[str] = ()
    ) -> list[NotificationRecord]:
        """Queued notifications that are due, oldest due first, but those of `exclude`d
        channels."""
        rows = self.conn.execute(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
            f"WHERE state = 'queued' AND next_attempt_at <= ?{_not_in('channel', exclude)} "
            f"ORDER BY next_attempt_at LIMIT ?",
            (now, *exclude, limit),
        ).fetchall()
        return [NotificationRecord(*r) for r in rows]

    def claim_notifications(self, ids: list[str], at: str) -> list[NotificationRecord]:
        """Move these due notifications to `sending`, counting the attempt, and return them."""
        if not ids:
            return []
        assert {State.QUEUED} == CLAIMABLE, "the query below claims from queued only"
        marks = ", ".join("?" for _ in ids)
        rows = self.conn.execute(
            f"UPDATE notifications SET state = 'sending', attempts = attempts + 1 "
            f"WHERE id IN ({marks}) AND state = 'queued' "
            f"RETURNING {_NOTIFICATION_COLUMNS}",
            ids,
        ).fetchall()
        claimed = [NotificationRecord(*r) for r in rows]
        for record in claimed:
            self._history(record.id, at, State.SENDING, Event.CLAIMED, None)
        return claimed

    def move_notification(
        self,
        notification_id: str,
        event: Event,
        at: str,
        *,
        reason: str | None = None,
        next_at: float | None = None,
        sent_at: float | None = None,
    ) -> State:
        """Apply one event by the transition table; TransitionRefused if it does not allow it.

        A throttled attempt is given back (the peer asked us to wait: not a failure), and a
        failure's reason becomes the notification's last_error; every reason is in the history.
        """
        row = self._one("SELECT state FROM notifications WHERE id = ?", notification_id)
        if row is None:
            raise LookupError(f"no notification {notification_id}")
        state = next_state(State(row[0]), event)
        refund = 1 if event is Event.THROTTLED else 0
        # Only from the state the move was decided on: a writer that changed it meanwhile
        # (a receipt, on a store with concurrent writers) wins, and this move is refused.
        moved = self.conn.execute(
            "UPDATE notifications SET state = ?, next_attempt_at = coalesce(?, next_attempt_at), "
            "last_error = coalesce(?, last_error), sent_at = coalesce(?, sent_at), "
            "attempts = attempts - ? WHERE id = ? AND state = ?",
            (
                str(state),
                next_at,
                reason if event in FAILURES else None,
                sent_at,
                refund,
                notification_id,
                row[0],
            ),
        ).rowcount
        if moved != 1:
            raise TransitionRefused(State(row[0]), event)
        self._history(notification_id, at, state, event, reason)
        return state

    def notification_history(self, notification_id: str) -> list[dict[str, Any]]:
        """The states a notification went through, oldest first."""
        rows = self.conn.execute(
            "SELECT state, at, event, reason FROM notification_history "
            "WHERE notification_id = ? ORDER BY seq",
            (notification_id,),
        ).fetchall()
        return [dict(zip(("state", "at", "event", "reason"), r, strict=True)) for r in rows]

    def _history(
        self, notification_id: str, at: str, state: State, event: str, reason: str | None
    ) -> None:
        self.conn.execute(
            "INSERT INTO notification_history (notification_id, at, state, event, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (notification_id, at, str(state), str(event), reason),
        )

    def automatic_queued_since(self, contact_id: str, since: float) -> int:
        """How many automatic notifications to a contact were queued since a moment."""
        row = self._one(
            "SELECT COUNT(*) FROM notifications WHERE contact_id = ? AND automatic = 1 "
            "AND first_queued_at >= ?",
            contact_id,
            since,
        )
        return 0 if row is None else int(row[0])

    def automatic_sent_since(self, contact_id: str, since: float, now: float) -> list[float]:
        """When automatic notifications to a contact went out since a moment, oldest first.

        One still `sending` counts as going out now: it is on its way to the citizen.
        """
        rows = self.conn.execute(
            "SELECT CASE WHEN state = 'sending' THEN ? ELSE sent_at END AS at "
            "FROM notifications WHERE contact_id = ? AND automatic = 1 "
            "AND (sent_at >= ? OR state = 'sending') ORDER BY at",
            (now, contact_id, since),
        ).fetchall()
        return [float(r[0]) for r in rows]

    def notification(self, notification_id: str) -> NotificationRecord | None:
        """A notification by id."""
        row = self._one(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?", notification_id
        )
        return None if row is None else NotificationRecord(*row)

    def recover_sending(self, at: str) -> int:
        """After a crash, attempts caught in `sending` are due again; return how many."""
        ids = self.conn.execute(
            "UPDATE notifications SET state = 'queued' WHERE state = 'sending' RETURNING id"
        ).fetchall()
        for (notification_id,) in ids:
            self._history(notification_id, at, State.QUEUED, Event.INTERRUPTED, None)
        return len(ids)

    def next_notification_at(
        self, *, exclude: Sequence[str] = (), after: float = -math.inf
    ) -> float | None:
        """When the next queued notification is due (later than `after`), but those of
        `exclude`d channels."""
        row = self._one(
            "SELECT min(next_attempt_at) FROM notifications "
            f"WHERE state = 'queued' AND next_attempt_at > ?{_not_in('channel', exclude)}",
            after,
            *exclude,
        )
        return None if row[0] is None else float(row[0])

    # -- peer references and reports -------------------------------------------------------

    def add_references(
        self, notification_id: str, channel: str, references: Sequence[str], held_since: str
    ) -> list[tuple[bool, str | None]]:
        """Store the peer's references for a notification; the reports held for any of them
        since `held_since` (delivered, reason), taken off the held list."""
        early: list[tuple[bool, str | None]] = []
        for reference in references:
            # A reference the peer gave before names the newest notice now: a peer reuses its
            # ids (an SMSC's counter wraps), and its next report is about what it took last.
            self.conn.execute(
                "INSERT INTO peer_references (channel, reference, notification_id) "
                "VALUES (?, ?, ?) ON CONFLICT (channel, reference) DO UPDATE SET "
                "notification_id = excluded.notification_id",
                (channel, reference, notification_id),
            )
            row = self._one(
                "DELETE FROM early_reports WHERE channel = ? AND reference = ? "
                "RETURNING delivered, reason, at",
                channel,
                reference,
            )
            if row is not None and row[2] >= held_since:
                early.append((bool(row[0]), row[1]))
        return early

    def referenced_notification(self, channel: str, reference: str) -> NotificationRecord | None:
        """The notification the peer took under `reference`, if its answer has been stored."""
        row = self._one(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE id = "
            "(SELECT notification_id FROM peer_references WHERE channel = ? AND reference = ?)",
            channel,
            reference,
        )
        return None if row is None else NotificationRecord(*row)

    def hold_report(
        self,
        channel: str,
        reference: str,
        delivered: bool,
        reason: str | None,
        at: str,
        held_since: str,
    ) -> None:
        """Keep a report whose reference is not known yet (the latest one counts), and forget
        those held from before `held_since`."""
        self.conn.execute("DELETE FROM early_reports WHERE at < ?", (held_since,))
        self.conn.execute(
            "INSERT INTO early_reports (channel, reference, delivered, reason, at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, reference) DO UPDATE SET "
            "delivered = excluded.delivered, reason = excluded.reason, at = excluded.at",
            (channel, reference, int(delivered), reason, at),
        )

    # -- suppression list --------------------------------------------------------------------

    def suppress(
        self, channel: str, address: str, reason: str, since: str, until: str | None
    ) -> dict[str, Any]:
        """Put an address on the suppression list (or renew its entry); the entry."""
        self.conn.execute(
            "INSERT INTO suppressions (channel, address, reason, since, until) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, address) DO UPDATE SET "
            "reason = excluded.reason, since = excluded.since, until = excluded.until",
            (channel, address, reason, since, until),
        )
        return {"address": address, "channel": channel, "reason": reason, "since": since,
                "until": until}  # fmt: skip

    def suppress_anew(self, channel: str, address: str, reason: str, since: str) -> bool:
        """Put an address on the list until removed, unless an entry in force has it already
        (for whatever reason); True if this put it there."""
        row = self._one(
            "INSERT INTO suppressions (channel, address, reason, since, until) "
            "VALUES (?1, ?2, ?3, ?4, NULL) ON CONFLICT (channel, address) DO UPDATE SET "
            "reason = excluded.reason, since = excluded.since, until = NULL "
            "WHERE suppressions.until IS NOT NULL AND suppressions.until <= ?4 RETURNING 1",
            channel,
            address,
            reason,
            since,
        )
        return row is not None

    def unsuppress(
        self,
        channel: str,
        address: str,
        *,
        reason: str | None = None,
        listed_before: str | None = None,
    ) -> bool:
        """Take an address off the list (only if listed for `reason`, and before the moment
        `listed_before`, when given); False if it was not on it."""
        return (
            self.conn.execute(
                "DELETE FROM suppressions WHERE channel = ?1 AND address = ?2 "
                "AND (?3 IS NULL OR reason = ?3) AND (?4 IS NULL OR since < ?4)",
                (channel, address, reason, listed_before),
            ).rowcount
            == 1
        )

    def suppressions(self, now: str) -> list[dict[str, Any]]:
        """The entries in force at `now` (RFC 3339), oldest first."""
        rows = self.conn.execute(
            "SELECT address, channel, reason, since, until FROM suppressions "
            "WHERE until IS NULL OR until > ? ORDER BY since, channel, address",
            (now,),
        ).fetchall()
        keys = ("address", "channel", "reason", "since", "until")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def suppressed(self, channel: str, address: str, now: str) -> str | None:
        """Why an address gets nothing on a channel at `now`, or None."""
        row = self._one(
            "SELECT reason FROM suppressions WHERE channel = ? AND address = ? "
            "AND (until IS NULL OR until > ?)",
            channel,
            address,
            now,
        )
        return None if row is None else str(row[0])

    # -- dead letters ----------------------------------------------------------------------

    def dead_letters(self) -> list[dict[str, Any]]:
        """Dead handoffs, notifications and unfiled inbound, for operators."""
        handoffs = self.conn.execute(
            "SELECT 'handoff:' || h.envelope_seq, e.id, h.attempts, h.last_error, "
            "h.first_queued_at FROM handoffs h JOIN envelopes e ON e.seq = h.envelope_seq "
            "WHERE h.state = 'dead' ORDER BY h.envelope_seq"
        ).fetchall()
        notifications = self.conn.execute(
            "SELECT 'notification:' || id, ticket_number, attempts, last_error, first_queued_at "
            "FROM notifications WHERE state = 'dead' ORDER BY first_queued_at"
        ).fetchall()
        intake = self.conn.execute(
            "SELECT 'intake:' || id, channel || '/' || account, 0, "
            "CASE state WHEN 'conflict' THEN 'conflict: other content under a key received "
            "before' WHEN 'unparseable' THEN 'unparseable: ' || coalesce(error, 'no text') "
            f"ELSE error END, received_at FROM journal WHERE state IN {_INTAKE_DEAD} ORDER BY id"
        ).fetchall()
        keys = ("id", "subject", "attempts", "last_error", "since")
        letters = [dict(zip(keys, r, strict=True)) for r in (*handoffs, *notifications, *intake)]
        for letter in letters:  # queues keep epoch seconds, the journal RFC 3339: show one form
            if isinstance(letter["since"], float):
                letter["since"] = rfc3339(datetime.fromtimestamp(letter["since"], UTC))
        return letters

    def revive_dead(self, kind: str, key: str, now: float) -> bool:
        """Put one dead letter back in its queue; False if there is no such dead letter."""
        if kind == "intake":
            # A conflict replayed is a message of its own, not a revision of the first.
            cur = self.conn.execute(
                "UPDATE journal SET state = 'received', error = NULL, revision_of = "
                "CASE state WHEN 'conflict' THEN NULL ELSE revision_of END "
                f"WHERE id = ? AND state IN {_INTAKE_DEAD}",
                (key,),
            )
        else:
            table, column = _DEAD_LETTER_TABLES[kind]
            cur = self.conn.execute(
                f"UPDATE {table} SET state = 'queued', attempts = 0, next_attempt_at = ?, "
                f"first_queued_at = ? WHERE {column} = ? AND state = 'dead'",
                (now, now, key),
            )
            if kind == "notification" and cur.rowcount == 1:
                at = rfc3339(datetime.fromtimestamp(now, UTC))
                self._history(key, at, State.QUEUED, Event.REPLAYED, None)
        return cur.rowcount == 1

    def drop_dead(self, kind: str, key: str) -> bool:
        """Set a dead letter aside for good (kept, marked dropped)."""
        table, column = _DEAD_LETTER_TABLES[kind]
        dead = _INTAKE_DEAD if kind == "intake" else "('dead')"
        dropped = (
            self.conn.execute(
                f"UPDATE {table} SET state = 'dropped' WHERE {column} = ? AND state IN {dead}",
                (key,),
            ).rowcount
            == 1
        )
        if kind == "notification" and dropped:
            self._history(key, rfc3339(datetime.now(UTC)), State.DROPPED, Event.DROPPED, None)
        return dropped

    # -- attachments ------------------------------------------------------------------------

    def insert_attachment(self, record: AttachmentRecord) -> None:
        """Record a stored attachment with its first verdict."""
        values = msgspec.structs.asdict(record)
        values["flags"] = json.dumps(record.flags)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(
            f"INSERT INTO attachments ({_ATTACHMENT_COLUMNS}) VALUES ({marks})",
            list(values.values()),
        )

    def attachments(self, ids: list[str]) -> list[AttachmentRecord]:
        """Attachments by id, in the order asked for (unknown ids are left out)."""
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.conn.execute(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE id IN ({marks})", ids
        ).fetchall()
        found = {row[0]: _attachment(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def pending_attachments(self, limit: int) -> list[AttachmentRecord]:
        """Attachments still waiting for a scan, oldest first."""
        rows = self.conn.execute(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE status = 'pending' "
            "ORDER BY received_at LIMIT ?",
            (limit,),
        ).fetchall()
        return [_attachment(row) for row in rows]

    def unscanned_attachments(self, limit: int) -> list[AttachmentRecord]:
        """Attachments handed off unscanned because clamd was unavailable for longer than
        max_scan_wait (status error, reason unchecked, flag `unscanned`), oldest first.

        They are scanned once clamd answers again. Other errors are final: an encrypted archive
        (reason encrypted) or clamd's own error on the file (unchecked without the flag).
        """
        rows = self.conn.execute(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments "
            "WHERE status = 'error' AND reason_code = 'unchecked' "
            "AND EXISTS (SELECT 1 FROM json_each(flags) WHERE value = 'unscanned') "
            "ORDER BY received_at LIMIT ?",
            (limit,),
        ).fetchall()
        return [_attachment(row) for row in rows]

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
    ) -> bool:
        """Record the verdict of an attachment still in status `was`; False if it no longer is
        (its content was found infected meanwhile under another id: that verdict stands)."""
        return (
            self.conn.execute(
                "UPDATE attachments SET status = ?, detail = ?, reason_code = ?, flags = ?, "
                "quarantined = ?, scanned_at = ? WHERE id = ? AND status = ?",
                (
                    status,
                    detail,
                    reason_code,
                    json.dumps(flags),
                    int(quarantined),
                    scanned_at,
                    attachment_id,
                    was,
                ),
            ).rowcount
            == 1
        )

    def share_infected_verdict(self, sha256: str, now: float) -> list[str]:
        """If this content was found infected, make every other attachment with the same bytes
        infected and quarantined too; return the ids so changed.

        Why mark the rows rather than have the backend route refuse any digest with an infected
        row: the row's `quarantined` flag is then the one source of truth, for what the backend
        may have and for which store holds the bytes (the main copy is dropped). A digest check
        in the API would be a second rule beside it, that every other reader of the rows (the
        admin route, envelopes, totals, the decision to drop the main copy) would have to
        repeat. Any row left unmarked (pending, unscanned, clean before a signature update)
        would be served from the main store, whichever of its siblings was refused.
        """
        found = self._one(
            "SELECT detail FROM attachments WHERE sha256 = ? AND status = 'infected' "
            "ORDER BY scanned_at LIMIT 1",
            sha256,
        )
        if found is None:
            return []
        others = self.conn.execute(
            "SELECT id, flags FROM attachments WHERE sha256 = ? AND status <> 'infected'",
            (sha256,),
        ).fetchall()
        for attachment_id, flags in others:
            # Infected is a verdict on the content itself: it no longer waits for a scan.
            kept = [f for f in json.loads(flags) if f != "unscanned"]
            self.conn.execute(
                "UPDATE attachments SET status = 'infected', detail = ?, reason_code = 'infected', "
                "flags = ?, quarantined = 1, scanned_at = ? WHERE id = ?",
                (found[0], json.dumps(kept), now, attachment_id),
            )
        return [row[0] for row in others]

    def infected_contents(self) -> list[tuple[str, bool]]:
        """Every content found infected: its digest, and whether an attachment with it is not
        yet marked infected (recorded before every upload of it shared the verdict)."""
        rows = self.conn.execute(
            "SELECT sha256, max(status <> 'infected') FROM attachments WHERE sha256 IN "
            "(SELECT sha256 FROM attachments WHERE status = 'infected') GROUP BY sha256"
        ).fetchall()
        return [(row[0], bool(row[1])) for row in rows]

    def accepted_with_content(self, sha256: str) -> bool:
        """True if an attachment with this content may still be served from the main store: one
        not quarantined, the content not known to be infected (whatever row says so)."""
        row = self._one(
            "SELECT 1 FROM attachments WHERE sha256 = ? AND quarantined = 0 "
            "AND NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ? AND status = 'infected') "
            "LIMIT 1",
            sha256,
            sha256,
        )
        return row is not None

    def held_for_scan(self) -> list[tuple[int, bytes]]:
        """Envelopes held for an attachment scan: (seq, body)."""
        return self.conn.execute(
            "SELECT seq, body FROM envelopes WHERE held = 'scan' ORDER BY seq"
        ).fetchall()

    def quarantine_totals(self) -> tuple[int, int]:
        """Files and bytes in quarantine."""
        row = self._one(
            "SELECT count(*), coalesce(sum(size), 0) FROM attachments WHERE quarantined = 1"
        )
        return int(row[0]), int(row[1])

    # -- adapter state (channels.contract.StatePort) ---------------------------------------

    def state_get(self, channel: str, key: str) -> bytes | None:
        """A channel's value under `key`."""
        row = self._one(
            "SELECT value FROM adapter_state WHERE channel = ? AND key = ?", channel, key
        )
        return None if row is None else bytes(row[0])

    def state_items(self, channel: str, prefix: str) -> list[tuple[str, bytes]]:
        """A channel's keys that start with `prefix`, in order, with their values."""
        # A range, not LIKE: keys are the channel's own text, `%` and `_` included.
        rows = self.conn.execute(
            "SELECT key, value FROM adapter_state WHERE channel = ? AND key >= ? AND key < ? "
            "ORDER BY key",
            (channel, prefix, prefix + "\U0010ffff"),
        ).fetchall()
        return [(key, bytes(value)) for key, value in rows]

    def state_put(self, channel: str, changes: Mapping[str, bytes | None], now: str) -> None:
        """Set (or, for None, delete) a channel's keys."""
        for key, value in changes.items():
            if value is None:
                self.conn.execute(
                    "DELETE FROM adapter_state WHERE channel = ? AND key = ?", (channel, key)
                )
            else:
                self.conn.execute(
                    "INSERT INTO adapter_state (channel, key, value, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (channel, key) "
                    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (channel, key, value, now),
                )

    def state_append(
        self, channel: str, stream: str, key: str, value: bytes, now: str
    ) -> StateEntry:
        """Append to a stream once per key; the entry as kept."""
        row = self._one(
            "SELECT seq, value FROM adapter_streams WHERE channel = ? AND key = ?", channel, key
        )
        if row is not None:
            return StateEntry(row[0], bytes(row[1]))
        seq = self.state_last(channel, stream) + 1
        self.conn.execute(
            "INSERT INTO adapter_streams (channel, stream, seq, key, value, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (channel, stream, seq, key, value, now),
        )
        return StateEntry(seq, value)

    def state_entries(
        self, channel: str, stream: str, after: int, limit: int | None = None
    ) -> list[StateEntry]:
        """A stream's entries after `after`; the first `limit` of them if given."""
        rows = self.conn.execute(
            "SELECT seq, value FROM adapter_streams WHERE channel = ? AND stream = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (channel, stream, after, -1 if limit is None else limit),  # SQLite: -1, no limit
        ).fetchall()
        return [StateEntry(seq, bytes(value)) for seq, value in rows]

    def state_last(self, channel: str, stream: str) -> int:
        """The seq of a stream's last entry, 0 for none."""
        return int(
            self._one(
                "SELECT coalesce(max(seq), 0) FROM adapter_streams "
                "WHERE channel = ? AND stream = ?",
                channel,
                stream,
            )[0]
        )

    # -- operations ------------------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        """Items waiting in each durable queue."""
        return {
            "intake": self._one("SELECT count(*) FROM journal WHERE state = 'received'")[0],
            "scan": self._one("SELECT count(*) FROM attachments WHERE status = 'pending'")[0],
            "handoff": self._one(
                "SELECT count(*) FROM handoffs WHERE state IN ('queued', 'sending')"
            )[0],
            "outbox": self._one(
                "SELECT count(*) FROM notifications WHERE state IN ('queued', 'sending')"
            )[0],
            "dead": self._one(
                "SELECT (SELECT count(*) FROM handoffs WHERE state = 'dead') + "
                "(SELECT count(*) FROM notifications WHERE state = 'dead') + "
                f"(SELECT count(*) FROM journal WHERE state IN {_INTAKE_DEAD})"
            )[0],
        }

    def oldest_undelivered(self) -> float | None:
        """Queue time of the oldest handoff or notification not yet delivered."""
        row = self._one(
            "SELECT min(t) FROM (SELECT min(first_queued_at) AS t FROM handoffs "
            "WHERE state IN ('queued', 'sending') "
            "UNION ALL SELECT min(first_queued_at) FROM notifications "
            "WHERE state IN ('queued', 'sending'))"
        )
        return None if row[0] is None else float(row[0])

    def notification_states(self) -> dict[str, int]:
        """How many notifications are in each delivery state."""
        rows = self.conn.execute(
            "SELECT state, count(*) FROM notifications GROUP BY state"
        ).fetchall()
        return {r[0]: r[1] for r in rows}


def _attachment(row: tuple[Any, ...]) -> AttachmentRecord:
    values = dict(zip(AttachmentRecord.__struct_fields__, row, strict=True))
    values["flags"] = json.loads(values["flags"])
    values["quarantined"] = bool(values["quarantined"])
    return msgspec.convert(values, AttachmentRecord)


def _not_in(column: str, values: Sequence[str]) -> str:
    """` AND column NOT IN (?, ...)` for `values`, or nothing for none (`IN ()` is SQLite's
    alone)."""
    if not values:
        return ""
    return f" AND {column} NOT IN ({', '.join('?' for _ in values)})"
