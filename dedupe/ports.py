"""The state dedupe needs, as a protocol the store implements (inside one write transaction)."""

from __future__ import annotations

from typing import Protocol

import msgspec

from channels.contract import Sender


class TicketState(msgspec.Struct, frozen=True):
    """What dedupe needs to know about a ticket."""

    number: str
    status: str
    conversation_id: str


class RecentEnvelope(msgspec.Struct, frozen=True):
    """An earlier envelope of the same contact, for repeat-contact detection."""

    id: str
    ticket_number: str | None
    fingerprint: str


class Merge(msgspec.Struct, frozen=True):
    """A recorded merge of two contacts."""

    id: int
    survivor: str
    absorbed: str
    evidence: str
    undone: bool


class DedupeState(Protocol):
    """Reads and writes the identity graph and ticket lookups within the current transaction."""

    def identity_contact(self, identity: Sender) -> str | None:
        """Contact that owns this (kind, address), if any."""
        ...

    def create_contact(self, identity: Sender) -> str:
        """Create a contact owning `identity`; return its id."""
        ...

    def add_identity(self, contact_id: str, identity: Sender) -> None:
        """Attach `identity` to a contact, or mark it verified if already there."""
        ...

    def merged_into(self, contact_id: str) -> str | None:
        """The contact this one was merged into, if it was."""
        ...

    def record_merge(self, survivor: str, absorbed: str, evidence: str) -> int:
        """Point `absorbed` at `survivor` and record why; return the merge id."""
        ...

    def merge(self, merge_id: int) -> Merge | None:
        """A recorded merge."""
        ...

    def undo_merge(self, merge_id: int) -> None:
        """Detach the absorbed contact again and mark the merge undone."""
        ...

    def merge_undone(self, a: str, b: str) -> bool:
        """Whether a merge of these two contacts was undone (they were told apart)."""
        ...

    def merged_contacts(self, person: str) -> list[str]:
        """`person` and every contact merged into it, directly or through others."""
        ...

    def ticket(self, number: str) -> TicketState | None:
        """A ticket by number."""
        ...

    def ticket_contacts(self, number: str) -> list[str]:
        """Contacts linked to a ticket."""
        ...

    def conversation_ticket(self, conversation_id: str) -> TicketState | None:
        """The ticket a conversation is about now: the one its latest message was filed to."""
        ...

    def recent_envelopes(self, contact_ids: list[str], since: str) -> list[RecentEnvelope]:
        """Envelopes of these contacts received at or after `since`, newest first."""
        ...
