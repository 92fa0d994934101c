"""The canonical data model: the envelope every channel's message becomes (envelope/v1)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from channels.contract import Channel, Sender

SCHEMA = "omnirouter.envelope/v1"

ScanStatus = Literal["clean", "infected", "rejected", "error"]
# The descriptions below are the OpenAPI document's (router/http/openapi.py); they check nothing.
Time = Annotated[str, Meta(description="RFC 3339, UTC", extra_json_schema={"format": "date-time"})]


class Category(msgspec.Struct, frozen=True):
    """A category from categories.toml."""

    code: str
    name: str


class TicketRef(msgspec.Struct, frozen=True):
    """The ticket an envelope was filed under."""

    number: str
    is_new: Annotated[bool, Meta(description="This message opened the ticket")]
    category: Category
    priority: Annotated[str, Meta(description="Priority class (categories.toml)")]
    first_response_due: Time
    resolution_due: Time
    related: Annotated[list[str], Meta(description="Numbers of related tickets")] = []


class Thread(msgspec.Struct, frozen=True):
    """Conversation the message belongs to."""

    conversation_id: str
    in_reply_to: str | None = None


class Scan(msgspec.Struct, frozen=True):
    """Malware and type scan verdict of one attachment."""

    status: ScanStatus
    detail: Annotated[
        str | None,
        Meta(description="infected: the signature; rejected: which rule; error: why not scanned"),
    ] = None


class Attachment(msgspec.Struct, frozen=True):
    """A file carried by the message, stored in the blob store."""

    id: Annotated[str, Meta(description="GET /api/v1/attachments/{id}")]
    filename: Annotated[str, Meta(extra_json_schema={"maxLength": 255})]
    content_type: Annotated[str, Meta(description="Detected from the content")]
    declared_type: Annotated[
        str, Meta(description="What the sender claimed", extra_json_schema={"maxLength": 127})
    ]
    size: Annotated[int, Meta(extra_json_schema={"minimum": 0})]
    sha256: Annotated[str, Meta(extra_json_schema={"pattern": "^[0-9a-f]{64}$"})]
    scan: Scan


class Identifiers(msgspec.Struct, frozen=True):
    """Identifiers found in the text, each with its check digits verified."""

    snils: Annotated[list[str], Meta(description="Check digits valid, as 123-456-789 01")] = []
    inn: Annotated[list[str], Meta(description="10 or 12 digits, check digits valid")] = []
    phones: Annotated[
        list[str], Meta(description="E.164, valid numbers only; a form's phone is included")
    ] = []
    emails: Annotated[
        list[str], Meta(description="Domain lower-cased; a form's email is included")
    ] = []
    ticket_refs: Annotated[
        list[str], Meta(description="Ticket numbers with a valid check digit")
    ] = []


class RawRef(msgspec.Struct, frozen=True):
    """The message as a channel received it, fetched with GET /api/v1/raw/{id}."""

    id: str
    size: int
    content_type: str


class Envelope(msgspec.Struct, frozen=True):
    """One inbound message after normalisation, deduplication and ticketing."""

    id: Annotated[str, Meta(description="Sortable unique id (ULID)")]
    received_at: Time
    channel: Channel
    channel_account: str
    channel_message_id: str
    sender: Sender
    contact_id: str
    thread: Thread
    text: str
    language: Annotated[str, Meta(description="e.g. ru")]
    ticket: Annotated[TicketRef | None, Meta(description="Never null in the feed or a webhook")] = (
        None
    )
    subject: str | None = None
    attachments: list[Attachment] = []
    identifiers: Identifiers = Identifiers()
    duplicate_of: Annotated[str | None, Meta(description="Id of the envelope this one repeats")] = (
        None
    )
    flags: Annotated[
        list[str],
        Meta(
            description="Set by the code: truncated, contains_credential, empty_text, "
            "status_query, duplicate, unknown_code, infected_attachment, rejected_attachment, "
            "unscanned_attachment, type_mismatch, uninspected_archive, encrypted_archive, "
            "unscannable, unscanned, unparseable, revision, unverified_sender, malformed_sender, "
            "reopened, incomplete, auto_submitted, oversize, quoted_only, stop_requested, "
            "start_requested, help_requested (docs/api.md says when). New values may be added."
        ),
    ] = []
    # Absent for a channel that hands over no bytes of its own (the web chat, the form).
    raw: RawRef | msgspec.UnsetType = msgspec.UNSET
    schema: Annotated[str, Meta(extra_json_schema={"const": SCHEMA})] = SCHEMA


envelope_encoder = msgspec.json.Encoder()
envelope_decoder = msgspec.json.Decoder(Envelope)
