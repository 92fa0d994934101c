"""The canonical data model: the envelope every channel's message becomes (envelope/v1)."""

from __future__ import annotations

from typing import Literal

import msgspec

from channels.contract import Channel, Sender

SCHEMA = "omnirouter.envelope/v1"

ScanStatus = Literal["clean", "infected", "rejected", "error"]


class Category(msgspec.Struct, frozen=True):
    """A category from categories.toml."""

    code: str
    name: str


class TicketRef(msgspec.Struct, frozen=True):
    """The ticket an envelope was filed under."""

    number: str
    is_new: bool
    category: Category
    priority: str
    first_response_due: str
    resolution_due: str
    related: list[str] = []


class Thread(msgspec.Struct, frozen=True):
    """Conversation the message belongs to."""

    conversation_id: str
    in_reply_to: str | None = None


class Scan(msgspec.Struct, frozen=True):
    """Malware and type scan verdict of one attachment."""

    status: ScanStatus
    detail: str | None = None


class Attachment(msgspec.Struct, frozen=True):
    """A file carried by the message, stored in the blob store."""

    id: str
    filename: str
    content_type: str
    declared_type: str
    size: int
    sha256: str
    scan: Scan


class Identifiers(msgspec.Struct, frozen=True):
    """Identifiers found in the text, each with its check digits verified."""

    snils: list[str] = []
    inn: list[str] = []
    phones: list[str] = []
    emails: list[str] = []
    ticket_refs: list[str] = []


class RawRef(msgspec.Struct, frozen=True):
    """The message as a channel received it, fetched with GET /api/v1/raw/{id}."""

    id: str
    size: int
    content_type: str


class Envelope(msgspec.Struct, frozen=True):
    """One inbound message after normalisation, deduplication and ticketing."""

    id: str
    received_at: str
    channel: Channel
    channel_account: str
    channel_message_id: str
    sender: Sender
    contact_id: str
    thread: Thread
    text: str
    language: str
    ticket: TicketRef | None = None
    subject: str | None = None
    attachments: list[Attachment] = []
    identifiers: Identifiers = Identifiers()
    duplicate_of: str | None = None
    flags: list[str] = []
    # Absent for a channel that hands over no bytes of its own (the web chat, the form).
    raw: RawRef | msgspec.UnsetType = msgspec.UNSET
    schema: str = SCHEMA


envelope_encoder = msgspec.json.Encoder()
envelope_decoder = msgspec.json.Decoder(Envelope)
