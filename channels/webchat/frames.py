"""Web chat WebSocket frames (CONTRACTS.md, "Web chat"), decoded and encoded with msgspec."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

# Notice numbers are SQLite integers: anything larger cannot name a notice.
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Hello(msgspec.Struct, tag="hello", tag_field="type", frozen=True):
    """Client opens or resumes a session."""

    session: str | None = None
    identity: dict[str, Any] | None = None
    lang: str = "ru"


class Message(msgspec.Struct, tag="message", tag_field="type", frozen=True):
    """Client writes; `client_id` makes a resend idempotent."""

    client_id: str
    text: str
    topic: str | None = None
    attachments: list[str] = []


class Resume(msgspec.Struct, tag="resume", tag_field="type", frozen=True):
    """Client asks for the notices it missed."""

    after_seq: Seq = 0


class Contact(msgspec.Struct, tag="contact", tag_field="type", frozen=True):
    """Client leaves an email or a phone for the answer (after `offline`, or any time)."""

    email: str | None = None
    phone: str | None = None


ClientFrame = Hello | Message | Resume | Contact


class TicketCategory(msgspec.Struct, frozen=True):
    """A ticket's category: its code and its name in the session's language."""

    code: str
    name: str


class TicketItem(msgspec.Struct, frozen=True):
    """One of the contact's tickets in `welcome`, with its current status."""

    number: str
    status: str
    category: TicketCategory


class Welcome(msgspec.Struct, tag="welcome", tag_field="type", frozen=True):
    """Server names the session, its current ticket, the last notice number, whether a portal
    identity vouches for it, and the contact's tickets of the last 183 days, newest first."""

    session: str
    ticket: str | None
    last_seq: int
    verified: bool
    tickets: list[TicketItem]


class AcceptedTicket(msgspec.Struct, frozen=True):
    """Ticket in an `accepted` frame."""

    number: str
    is_new: bool
    category: TicketCategory


class Accepted(msgspec.Struct, tag="accepted", tag_field="type", frozen=True):
    """Server confirms a message is persisted (sent only after the commit)."""

    client_id: str
    envelope_id: str | None
    ticket: AcceptedTicket | None


class NoticeFile(msgspec.Struct, frozen=True):
    """A file sent with a notice; the session downloads it from `url` (X-Chat-Session)."""

    id: str
    filename: str
    content_type: str
    size: int
    url: str


class NoticeFrame(msgspec.Struct, tag="notice", tag_field="type", frozen=True, omit_defaults=True):
    """A confirmation, status change, reply or system notice, an operator's files with it; or
    (kind `citizen`) a message the citizen wrote, by its `client_id`, for the history of
    every tab and device. A status notice names the ticket's new `status`."""

    seq: int
    kind: str
    ticket: str | None
    text: str
    at: str
    attachments: list[NoticeFile] = []
    status: str | None = None
    client_id: str | None = None


class Error(msgspec.Struct, tag="error", tag_field="type", frozen=True, omit_defaults=True):
    """Bad input; the connection stays open. `client_id` names the message it refuses;
    `retry_after` (seconds) comes with `rate_limited`."""

    code: str
    message: str
    client_id: str | None = None
    retry_after: int | None = None


class Offline(msgspec.Struct, tag="offline", tag_field="type", frozen=True):
    """The dialogue went offline after `inactivity_timeout`; `text` says how the answer comes."""

    text: str


class ContactSaved(msgspec.Struct, tag="contact_saved", tag_field="type", frozen=True):
    """The contact frame's addresses will get the ticket's notices too."""


decode_client_frame = msgspec.json.Decoder(ClientFrame).decode
encode_frame = msgspec.json.Encoder().encode
