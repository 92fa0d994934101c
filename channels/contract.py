"""The channel contract: what an adapter hands the router and what the router hands back."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal, NamedTuple, Protocol

import msgspec
import trio
from msgspec import Meta
from pydantic import BaseModel
from starlette.routing import BaseRoute

from channels.openapi import HttpDocs


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC text with millisecond precision, e.g. 2026-11-23T02:07:37.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


Channel = Literal["email", "sms", "messenger", "webchat", "form"]
NoticeKind = Literal["confirmation", "status", "reply", "system"]
# What a citizen may ask of us instead of writing a request; the router has one handler each.
# `unsupported` is what a channel's parser reads a message it cannot take as (a sticker, a
# location: docs/channels.md 5), answered with what the channel does take.
CommandName = Literal["status", "stop", "start", "help", "unsupported"]


class Sender(msgspec.Struct, frozen=True):
    """Who wrote: an address in the channel's own terms and whether the channel vouches for it."""

    kind: Annotated[
        str, Meta(description="Address kind: email, phone, telegram, webchat (a chat session)")
    ]
    address: Annotated[str, Meta(description="Canonical: E.164 phone, lower-case email")]
    display_name: str | None = None
    verified: Annotated[
        bool, Meta(description="The channel vouches for the address (a form's never is)")
    ] = False


class InboundFile(msgspec.Struct, frozen=True):
    """A file a parser found inside what was received (a mail's attachment): the router
    stores, type-checks and scans it before the message is filed, as an upload would be."""

    filename: str
    content_type: str
    content: bytes


class RawInbound(msgspec.Struct, frozen=True):
    """A message exactly as a channel received it, before normalisation.

    `idempotency_key` is the channel's own redelivery key (Message-ID + mailbox, SMSC message id,
    Telegram update id, web client id); the journal keeps one row per (channel, account, key).
    """

    channel: Channel
    account: str
    idempotency_key: str
    channel_message_id: str
    sender: Sender
    text: str
    received_at: str
    subject: str | None = None
    html: str | None = None
    topic: str | None = None
    # The citizen asked to start a new request (a topic picked after /start): the message opens
    # a ticket of its own, `topic`'s category, rather than join the one its conversation is on.
    new_request: bool = False
    conversation_hint: str | None = None
    # The message this one answers and the thread before it (an email's In-Reply-To and
    # References, a Telegram reply): it joins their conversation only from the same contact,
    # as verified or more.
    in_reply_to: str | None = None
    references: list[str] = []
    # Replies on this channel name this message by its channel_message_id (an email's
    # Message-ID, a Telegram message id): the router keeps it against its conversation.
    referable: bool = False
    language_hint: str | None = None
    # Identities the channel vouches for as belonging to the same person as `sender`
    # (a portal-signed phone, a Telegram shared contact): evidence for the identity graph.
    verified_links: list[Sender] = []
    # Addresses the citizen gave without proof (a feedback form's phone and email).
    declared: list[Sender] = []
    attachment_ids: list[str] = []
    # What the channel found that the backend should know (CONTRACTS.md `flags`): `incomplete`
    # (a long SMS whose parts never all came), `oversize`, `auto_submitted` (loop protection:
    # the router sends no automatic answer to it), `quoted_only` (`text` is only history the
    # sender quoted: the normaliser reads a command from `subject` then).
    flags: list[str] = []
    # Files the parser found in the message, stored and scanned by the router before filing,
    # which puts their ids in `attachment_ids` (what an adapter stores itself goes there).
    files: list[InboundFile] = []


class Received(msgspec.Struct, frozen=True):
    """What a peer delivered, exactly as it came and before any parsing: the bytes of a MIME
    message, an SMS's PDUs, a Bot API update. The router commits it, answers, and only then
    parses it with the channel's Parser (ARCHITECTURE.md 2: accepted means persisted)."""

    channel: Channel
    account: str
    idempotency_key: str
    received_at: str
    content_type: str
    payload: bytes
    # What the transport says without the payload being parsed (the SMTP envelope, an IMAP
    # folder and UID, the SMSC's addresses): the parser reads it beside the payload.
    metadata: dict[str, str] = {}
    # Who the transport says sent it: the sender of the envelope if the payload cannot be parsed.
    sender: Sender | None = None


ChangedContent = Literal["revision", "conflict"]


class Receipt(msgspec.Struct, frozen=True):
    """The router's answer once what a channel received is committed: now it may acknowledge.

    `changed` says the key came before with other content, and what that was taken as.
    """

    redelivery: bool
    changed: ChangedContent | None = None
    # For a redelivery: when the key was first received (RFC 3339), which tells a peer's
    # redelivery (minutes, hours) from a key that came back much later.
    first_received_at: str | None = None


class Unparseable(ValueError):
    """A parser cannot read what was received; `reason` is for operators' dead-letter list and
    logs, so it names the defect and quotes nothing of the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryReport(msgspec.Struct, frozen=True):
    """What a parser reads from a message that is a peer's report on one of our notices (a
    bounce), not a citizen's request: it opens no ticket and is never answered, but moves the
    notice it names, found by the references the peer took it under (section 4, ReportPort).

    `delivered` is None for a report of no outcome yet (a delayed DSN). `suppress_for` is set
    for a permanent failure: `unreachable` goes on the suppression list for that many seconds
    if it is the address of a notice the report names; with `unreachable` None (a report that
    names no recipient, sent back to the notice's own address), the address of every notice
    it names does."""

    references: list[str]
    delivered: bool | None
    reason: str | None = None
    unreachable: str | None = None
    suppress_for: float | None = None


class Parser(NamedTuple):
    """How the router reads what a channel received, after the commit. `parse` is pure and may
    raise: what it cannot read is filed flagged `unparseable`, its raw kept; a peer's report on
    a notice (a bounce) it reads as a DeliveryReport, journalled and applied but filed as no
    message. `changed_content` is the channel's rule for its key arriving again with other
    content: an edit of the same message (`revision`, a Telegram edit, filed as well) or a peer
    that reused a key (`conflict`, kept as a dead letter for an operator)."""

    parse: Callable[[Received], RawInbound | DeliveryReport]
    changed_content: ChangedContent = "conflict"


class OutboundFile(msgspec.Struct, frozen=True):
    """A file sent to a citizen with a message (an operator's reply), already checked clean."""

    id: str
    filename: str
    content_type: str
    size: int


class Button(msgspec.Struct, frozen=True):
    """A button under a message (a messenger's inline keyboard): its label, and the text it
    sends back as the citizen's message (a command such as "/status 2600000128")."""

    text: str
    data: str


class Threading(msgspec.Struct, frozen=True):
    """Where a message stands in its conversation, for a channel that threads (Lane.threads):
    the citizen's message it answers, and the conversation's earlier messages on the channel,
    oldest first: the citizen's message ids and the references our peers gave for ours."""

    in_reply_to: str | None = None
    references: list[str] = []


class Outbound(msgspec.Struct, frozen=True):
    """A notice rendered for its channel; `id` is stable across retries so peers can dedupe.

    `parts` is `text` as the channel sends it (Fit): one message, or several where the channel
    splits a long text. `subject` and `html` are for email, `buttons` for a messenger; an
    adapter leaves out what its channel cannot show. `automatic` tells what the router sent by
    itself (RFC 3834 Auto-Submitted) from an operator's reply, and `answers` which of that
    answers a message of the citizen's.
    """

    id: str
    channel: Channel
    account: str
    address: str
    kind: NoticeKind
    ticket: str | None
    text: str
    created_at: str
    attachments: list[OutboundFile] = []
    parts: list[str] = []
    subject: str | None = None
    html: str | None = None
    buttons: list[Button] = []
    language: str = "ru"
    automatic: bool = True
    threading: Threading = Threading()
    # An automatic notice that answers the citizen's message (a confirmation, a status query's
    # answer: RFC 3834 auto-replied), not one sent of the router's own accord (a status
    # change: auto-generated).
    answers: bool = False
    # On a status notice, the ticket's new status (CONTRACTS.md "Statuses"): a channel that
    # shows the citizen's tickets updates them.
    status: str | None = None


class DoesNotFit(ValueError):
    """A text cannot go out on a channel (an SMS over `max_parts`); `reason` says by how much."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# How a channel sends a text: the messages it goes out as (one; or several where the channel
# splits a long text, a Telegram message at 4096 characters), or DoesNotFit.
Fit = Callable[[str], list[str]]


class DeliveryFailed(Exception):
    """A delivery attempt failed: for now (retried with backoff), for good (`permanent`: a
    bounce, a blocked bot), or because the peer asked us to wait `retry_after` seconds (a
    throttle, which is not counted as a failed attempt); `account_wide`, with `retry_after`,
    when the peer asked the whole account to wait (a Telegram 429), so that none of its
    notices is claimed before. `suppress`, with `permanent`, puts the address on the
    suppression list under that reason (`bot_blocked`), in the commit that fails the notice,
    until the citizen writes again or an operator lifts it."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        account_wide: bool = False,
        suppress: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.account_wide = account_wide
        self.suppress = suppress


AttachmentStatus = Literal["pending", "clean", "infected", "rejected", "error"]


class AttachmentReceipt(msgspec.Struct, frozen=True):
    """What the router answers once an attachment is stored durably and checked."""

    id: str
    status: AttachmentStatus
    detail: str | None
    size: int
    sha256: str


class AttachmentRefused(Exception):
    """An attachment or a message's set of attachments is over a limit; nothing was kept."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class AttachmentLimits(msgspec.Struct, frozen=True):
    """A channel's attachment limits: largest file, total of one message, number of files, and
    the types accepted (as `[attachments] allowed` names them: "pdf", "jpeg")."""

    file: int
    message: int
    count: int
    types: list[str] = []


class AttachmentPort(Protocol):
    """The router side an adapter hands files to."""

    def limits(self, channel: Channel) -> AttachmentLimits:
        """The channel's current limits (they change on reload)."""
        ...

    async def receive(
        self,
        chunks: AsyncIterable[bytes],
        *,
        channel: Channel,
        filename: str,
        declared_type: str,
        owner: str | None = None,
    ) -> AttachmentReceipt:
        """Store, type-check and scan a file; raise AttachmentRefused when over the file limit."""
        ...

    async def check_message(self, ids: list[str], *, channel: Channel, owner: str | None) -> None:
        """Raise AttachmentRefused unless these files may go together in one message."""
        ...

    async def content(self, attachment_id: str) -> tuple[OutboundFile, AsyncIterator[bytes]] | None:
        """A clean file's description and bytes, for a citizen it was sent to; else None."""
        ...


class Acceptance(msgspec.Struct, frozen=True):
    """What the router answers once an inbound is persisted and filed."""

    envelope_id: str | None
    ticket_number: str | None
    ticket_is_new: bool
    category_code: str | None
    category_name: str | None
    redelivery: bool
    # The entries of accept's `history` as kept by its commit (a redelivery's: the first ones).
    history: list[StateEntry] = []


class IntakePort(Protocol):
    """The router side an adapter submits inbound messages to."""

    async def accept(self, raw: RawInbound, history: Sequence[StreamAppend] = ()) -> Acceptance:
        """Persist `raw` durably and file it in one commit, and answer with the ticket; for a
        peer that waits for the number (the web chat's `accepted`). Idempotent on the key.
        `history` is appended to the channel's state streams in that commit: before anything
        filing queues, and not at all when the commit fails."""
        ...

    async def receive(
        self, received: Received, state: Mapping[str, bytes | None] | None = None
    ) -> Receipt:
        """Commit what a peer delivered, with the adapter's `state` changes that go with it (an
        offset, a last UID), and answer once committed; it is parsed and filed after. Idempotent
        on the key: a redelivery commits its state changes and is answered again."""
        ...


class StreamAppend(NamedTuple):
    """An entry for a stream of an adapter's state, appended once per `key` (StatePort.append)."""

    stream: str
    key: str
    value: bytes


class StateEntry(NamedTuple):
    """One entry of a stream in an adapter's state, in the order it was appended."""

    seq: int
    value: bytes


class StatePort(Protocol):
    """An adapter's own durable state, kept by the router for its channel: values by key (a
    mailbox's UIDVALIDITY, a bot's offset, the parts of a long SMS) and append-only streams (a
    chat session's notices). Keys are the channel's own; an account's state names the account.
    Changes that belong to an inbound go with it to IntakePort.receive, in its transaction."""

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, if any."""
        ...

    async def items(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every key starting with `prefix`, in key order, with its value."""
        ...

    async def put(self, changes: Mapping[str, bytes | None]) -> None:
        """Set these keys (None deletes one) in one commit."""
        ...

    async def append(self, stream: str, key: str, value: bytes) -> StateEntry:
        """Append to a stream once per `key`: appending a key again returns the first entry."""
        ...

    async def entries(self, stream: str, after: int, limit: int | None = None) -> list[StateEntry]:
        """A stream's entries after `after`, in order; the first `limit` of them if given."""
        ...

    async def last(self, stream: str) -> int:
        """The seq of a stream's last entry, 0 for none."""
        ...


class TicketSummary(msgspec.Struct, frozen=True):
    """A ticket as a citizen's client lists it: number, current status, category (its name in
    the language asked for)."""

    number: str
    status: str
    category_code: str
    category_name: str


class Topic(msgspec.Struct, frozen=True):
    """A category a citizen may pick before writing: its subject code and name."""

    code: str
    name: str


class TicketLookup(Protocol):
    """What an adapter may read of the tickets, and the one thing it may add: an address the
    citizen declared for a conversation's notices (the web chat's contact frame)."""

    async def current_ticket(self, conversation_id: str) -> str | None:
        """The ticket a conversation is about now, if any."""
        ...

    async def contact_tickets(
        self, identity: Sender, since: str, language: str
    ) -> list[TicketSummary]:
        """The tickets of the person who holds `identity` (across their merged contacts) active
        at or after `since` (RFC 3339), newest first; none for an identity never seen."""
        ...

    async def topics(self, language: str) -> list[Topic]:
        """The categories of categories.toml, by code, named in `language`."""
        ...

    async def declare_recipients(self, conversation_id: str, addresses: list[Sender]) -> None:
        """The conversation's tickets' notices go to these addresses (phones, emails) as well
        as to the conversation's own channel, from now on, in one commit: declared by the
        citizen, not verified, so no identity of theirs and joining them to nobody
        (ARCHITECTURE.md 3a)."""
        ...


class Lane(NamedTuple):
    """How a channel's notices go out: at most `concurrency` attempts at once, each given
    `attempt_timeout` seconds, and at most `account_rate` a second per account and
    `address_rate` per address (None: unpaced). One lane per channel, so a slow or throttled
    peer never holds another channel's notices."""

    concurrency: int = 16
    attempt_timeout: float = 30.0
    account_rate: float | None = None
    address_rate: float | None = None
    # The channel threads its messages (email's References, a Telegram reply): each notice
    # comes with Threading, which costs the outbox a read of the conversation per attempt.
    threads: bool = False
    # The channel sends an HTML part beside the text (email): each notice comes with `html`.
    html: bool = False


class Sent(NamedTuple):
    """What the peer answered to an attempt it took: `confirmed` when it says the citizen has
    it already; `references`, its ids for what it took (an SMTP queue id, the SMPP message id
    of each part, a Telegram message id), by which its later receipts name it."""

    confirmed: bool = False
    references: tuple[str, ...] = ()


# An adapter's outbound side, called by the outbox: what the peer answered, or DeliveryFailed
# when the attempt failed.
Deliver = Callable[[Outbound], Awaitable[Sent]]


class ReportPort(Protocol):
    """The router side receipts and bounces go to, keyed by the peer's reference."""

    async def report(
        self, channel: Channel, reference: str, *, delivered: bool, reason: str | None = None
    ) -> None:
        """What the peer later said of what it took under `reference`: the citizen has it
        (`delivered`), or never will. A report that overtakes the answer to the attempt is
        held until the attempt's references are stored."""
        ...


# -- the channel platform: what a channel package declares and what the router hands it -----

BadInput = Callable[[str, str], None]
"""Counts malformed input: (channel, reason)."""


@dataclass(frozen=True)
class Ports:
    """Everything an adapter may reach of the router; it imports nothing of `router`."""

    intake: IntakePort
    attachments: AttachmentPort
    bad_input: BadInput
    state: StatePort
    tickets: TicketLookup
    reports: ReportPort | None = None
    # The configuration directory: a channel file's relative paths (its secrets) start here.
    config_dir: Path = Path(".")


class Adapter(Protocol):
    """One running account of a channel, as the daemon supervises it."""

    @property
    def channel(self) -> Channel:
        """The envelopes' `channel` of this account."""
        ...

    @property
    def account(self) -> str:
        """The envelopes' `channel_account`: the account's name in its config file."""
        ...

    def routes(self) -> Sequence[BaseRoute]:
        """HTTP and WebSocket routes the account serves on the daemon's listener, if any."""
        ...

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Take inbound until cancelled; report started once up. An exception is a crash:
        the supervisor restarts the account with backoff."""
        ...

    def stop_intake(self) -> None:
        """Take nothing new (the daemon stops); deliveries in flight go on."""
        ...

    def detail(self) -> dict[str, object]:
        """Figures for `omnirouter status` (open connections, say)."""
        ...

    @property
    def deliver(self) -> Deliver | None:
        """How the outbox hands this account a notice, or None if it sends nothing."""
        ...

    @property
    def websocket_max_message(self) -> int:
        """The largest WebSocket message its routes take, in bytes (0: it serves none)."""
        ...

    @property
    def lane(self) -> Lane:
        """How its notices go out (concurrency, attempt timeout, pacing)."""
        ...


class AccountSpec(NamedTuple):
    """One account a channel file asks for: what it is called and the settings it runs on."""

    channel: Channel
    account: str
    # Compared on reload: an account whose settings changed is restarted, others go on.
    settings: object


class CommandRow(NamedTuple):
    """A row of the command table: phrases that, written as a whole message in any case, are
    the command `name`; `language` is the one they are written in (None: a bot's "/start",
    which says nothing of the citizen's)."""

    name: CommandName
    language: str | None
    phrases: tuple[str, ...]


class ChannelPlugin(Protocol):
    """What a channel package declares: its config file's model and how to build accounts."""

    @property
    def name(self) -> str:
        """The config file: channels/NAME.toml."""
        ...

    @property
    def settings_model(self) -> type[BaseModel]:
        """The pydantic model of the whole file."""
        ...

    @property
    def parsers(self) -> Mapping[Channel, Parser]:
        """How the router reads what its adapters hand IntakePort.receive, by channel."""
        ...

    @property
    def commands(self) -> Mapping[Channel, Sequence[CommandRow]]:
        """Rows the channel adds to the shared command table for its messages, by channel,
        tried first (Telegram's "/start"); most channels add none."""
        ...

    @property
    def http_docs(self) -> HttpDocs:
        """The OpenAPI description of the routes its accounts serve (none for most)."""
        ...

    def fit(self, channel: Channel, settings: BaseModel) -> Fit | None:
        """How texts fit `channel` with the file's `settings` (SMS parts for the encoding and
        `max_parts`, Telegram's 4096 characters), or None where any length goes (email, the
        chat): check-config fits every template with it, the outbox every notice."""
        ...

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """The accounts the file enables (none when `enabled = false`)."""
        ...

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """An adapter for one account; `settings` gives the file's current settings."""
        ...
