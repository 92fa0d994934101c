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


ClientFrame = Hello | Message | Resume


class Welcome(msgspec.Struct, tag="welcome", tag_field="type", frozen=True):
    """Server names the session, its current ticket and the last notice number."""

    session: str
    ticket: str | None
    last_seq: int


class AcceptedCategory(msgspec.Struct, frozen=True):
    """Category in an `accepted` frame."""

    code: str
    name: str


class AcceptedTicket(msgspec.Struct, frozen=True):
    """Ticket in an `accepted` frame."""

    number: str
    is_new: bool
    category: AcceptedCategory


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
    """A confirmation, status change, reply or system notice; an operator's files with it."""

    seq: int
    kind: str
    ticket: str | None
    text: str
    at: str
    attachments: list[NoticeFile] = []


class Error(msgspec.Struct, tag="error", tag_field="type", frozen=True, omit_defaults=True):
    """Bad input; the connection stays open. `client_id` names the message it refuses;
    `retry_after` (seconds) comes with `rate_limited`."""

    code: str
    message: str
    client_id: str | None = None
    retry_after: int | None = None


decode_client_frame = msgspec.json.Decoder(ClientFrame).decode
encode_frame = msgspec.json.Encoder().encode
