"""What the HTTP API answers: msgspec writes these Structs on the wire and router/http/openapi.py
describes them in the OpenAPI document, so an answer and its schema cannot drift apart."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from channels.contract import Channel, NoticeKind, Sender
from channels.http import UploadScan
from dedupe.ports import Merge
from normaliser.envelope import Category, Envelope
from router.delivery.states import Event, State
from router.delivery.suppression import KINDS
from router.ticketing.catalogue import STATUSES

Time = Annotated[str, Meta(description="RFC 3339, UTC", extra_json_schema={"format": "date-time"})]
# The store keeps a ticket's status as text; these are the ones it writes (CONTRACTS.md).
TicketStatus = Annotated[str, Meta(extra_json_schema={"enum": list(STATUSES)})]
SuppressedChannel = Annotated[str, Meta(extra_json_schema={"enum": list(KINDS)})]


class Health(msgspec.Struct, frozen=True):
    """Alive: the event loop answers."""

    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True):
    """Ready once recovery is done, not while starting or draining."""

    status: Literal["ready", "not ready"]
    channels: Annotated[dict[str, str], Meta(description="CHANNEL/ACCOUNT: the account's state")]


E = TypeVar("E")


class Page(msgspec.Struct, Generic[E], frozen=True):
    """A page of the pull feed; the feed writes the stored envelopes into it as they are."""

    envelopes: list[E]
    next: Annotated[
        str,
        Meta(
            description="The cursor to pass as `after` next time",
            extra_json_schema={"pattern": "^[0-9]+$"},
        ),
    ]


class FeedPage(Page[Envelope], frozen=True):
    """Envelopes in commit order, each once, and the cursor after them."""


class ThreadEntry(msgspec.Struct, frozen=True):
    """One envelope of a ticket's thread."""

    envelope_id: str
    received_at: Time
    channel: Channel
    sender: Sender
    text: str
    flags: list[str]
    duplicate_of: str | None


class TicketEvent(msgspec.Struct, frozen=True):
    """A status change (comment, reason, expected_at) or a reply (text, attachments)."""

    # Posted through the API a status change has all three (maybe null); the opening
    # `accepted` has none and a reopening only a comment; a reply lists attachments if any.
    at: Time
    kind: Literal["status", "reply"]
    status: Annotated[TicketStatus | None, Meta(description="null for a reply")]
    comment: str | UnsetType | None = UNSET
    reason: str | UnsetType | None = UNSET
    expected_at: Time | UnsetType | None = UNSET
    text: str | UnsetType = UNSET
    attachments: list[str] | UnsetType = UNSET


class TicketNotification(msgspec.Struct, frozen=True):
    """A notification about the ticket: GET /api/v1/notifications/{id} has its history."""

    id: str
    kind: NoticeKind
    channel: Channel
    state: State


class Ticket(msgspec.Struct, frozen=True):
    """A ticket with its status, category, channel, thread, history and notifications."""

    number: str
    status: TicketStatus
    status_comment: str | None
    status_reason: str | None
    expected_at: Time | None
    category: Category
    priority: str
    channel: Annotated[
        Channel, Meta(description="Where notices go (a form's ticket: email, else sms)")
    ]
    language: str
    created_at: Time
    updated_at: Time
    first_response_due: Time
    resolution_due: Time
    related: list[str]
    contact_id: str
    conversation_id: str
    thread: Annotated[list[ThreadEntry], Meta(description="The ticket's envelopes, oldest first")]
    events: Annotated[
        list[TicketEvent], Meta(description="Status changes and replies, oldest first")
    ]
    notifications: Annotated[
        list[TicketNotification],
        Meta(description="What was sent (or is on its way) to the citizen about it, oldest first"),
    ]


class Queued(msgspec.Struct, frozen=True):
    """Applied; the notification that tells the citizen is queued."""

    notification_id: str


class ReplyFile(msgspec.Struct, frozen=True):
    """A file stored for a reply to the ticket; its `attachment_id` goes in the reply."""

    attachment_id: str
    size: int
    scan: UploadScan


class Transition(msgspec.Struct, frozen=True):
    """One state a notification went through, and the event that moved it there."""

    state: State
    at: Time
    event: Annotated[str, Meta(extra_json_schema={"enum": ["created", *Event]})]
    reason: str | None


class Notification(msgspec.Struct, frozen=True):
    """Delivery state of one notification."""

    id: str
    state: State
    history: Annotated[
        list[Transition], Meta(description="Every state it went through, oldest first")
    ]
    attempts: int
    last_error: str | None
    channel: Channel
    kind: NoticeKind
    ticket: str | None
    created_at: Time


class DeadLetter(msgspec.Struct, frozen=True):
    """A handoff, notification or inbound message given up on, kept for an operator."""

    id: Annotated[str, Meta(description="handoff:SEQ, notification:ID or intake:JOURNAL_ID")]
    subject: Annotated[
        str | None,
        Meta(
            description="handoff: the envelope id; notification: the ticket number (null if "
            "none); intake: CHANNEL/ACCOUNT"
        ),
    ]
    attempts: Annotated[int, Meta(description="0 for intake")]
    last_error: str | None
    since: Annotated[Time, Meta(description="Queued (intake: received) at")]


class DeadLetters(msgspec.Struct, frozen=True):
    """Every dead letter."""

    dead_letters: list[DeadLetter]


class Replayed(msgspec.Struct, frozen=True):
    """The dead letters put back in their queues."""

    replayed: Annotated[list[str], Meta(description="Dead letter ids")]


class DeadLetterAction(msgspec.Struct, frozen=True):
    """What was done to one dead letter."""

    id: str
    action: Literal["replay", "drop"]


class Identity(msgspec.Struct, frozen=True):
    """An address a contact wrote from."""

    kind: str
    address: Annotated[str, Meta(description="Masked")]
    verified: bool


class Contact(msgspec.Struct, frozen=True):
    """A contact's identities and the merges it took part in."""

    id: str
    merged_into: str | None
    identities: list[Identity]
    merges: list[Merge]


class MergeUndone(msgspec.Struct, frozen=True):
    """A merge undone."""

    merge: int
    undone: Literal[True]


# An account's line: the supervisor's figures, then its adapter's own (Adapter.detail(): the web
# chat's connections, ...), which the channel contract leaves open, so this is the one answer
# that is a mapping rather than a Struct.
AccountStatus = Annotated[
    dict[str, Any],
    Meta(
        description="The supervisor's state, restarts and last_error, then the adapter's own "
        "figures (web chat: connections)",
        extra_json_schema={
            "required": ["state", "restarts", "last_error"],
            "properties": {
                "state": {"type": "string"},
                "restarts": {"type": "integer"},
                "last_error": {"type": ["string", "null"]},
            },
        },
    ),
]


class ChannelStatus(msgspec.Struct, frozen=True):
    """A channel: its accounts when installed, else the state that says it is not."""

    enabled: bool
    accounts: dict[str, AccountStatus] | UnsetType = UNSET
    state: str | UnsetType = UNSET


class AttachmentsStatus(msgspec.Struct, frozen=True):
    """The malware scanner and the quarantine."""

    clamd: Annotated[str, Meta(description="`up`, or `down: REASON`")]
    quarantine_files: int
    quarantine_bytes: int


class Queues(msgspec.Struct, frozen=True):
    """Items waiting in each durable queue."""

    intake: int
    scan: int
    handoff: int
    outbox: int
    dead: int


class DaemonStatus(msgspec.Struct, frozen=True):
    """What `omnirouter status` shows."""

    instance: str
    version: str
    ready: bool
    uptime_seconds: float
    handoff_mode: Literal["feed", "webhook", "jetstream"]
    channels: Annotated[dict[str, ChannelStatus], Meta(description="By channel name")]
    attachments: AttachmentsStatus
    queues: Queues
    oldest_undelivered_seconds: float | None


class SuppressionEntry(msgspec.Struct, frozen=True):
    """An address that gets nothing from us on a channel, and why."""

    address: Annotated[str, Meta(description="In full, in the sender form")]
    channel: SuppressedChannel
    reason: str
    since: Time
    until: Annotated[Time | None, Meta(description="null: until removed")]


class SuppressionList(msgspec.Struct, frozen=True):
    """The entries in force."""

    suppressions: list[SuppressionEntry]


class Unsuppressed(msgspec.Struct, frozen=True):
    """An address taken off the list."""

    address: str
    channel: SuppressedChannel
    removed: Literal[True]
