"""Filing: the stages after the intake journal, run as one transaction per inbound message.

Normalised text comes in; dedupe picks the ticket, ticketing numbers and classifies a new one,
the envelope goes to the message store (and so the feed), and the notifier queues the answer.
One transaction means a crash leaves either all of that or none of it, so re-running the
journal after a restart can neither lose nor double anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import msgspec

from channels.contract import Acceptance, Channel, CommandName, NoticeKind, RawInbound, Sender
from dedupe.identity import canonical_contact, linked_to_ticket, resolve_contact
from dedupe.ports import DedupeState
from dedupe.routing import Destination, Policy, route
from dedupe.similarity import fingerprint
from normaliser.commands import Command
from normaliser.envelope import (
    Category,
    Envelope,
    Identifiers,
    RawRef,
    Thread,
    TicketRef,
    envelope_encoder,
)
from normaliser.identifiers import canonical_sender
from normaliser.normalise import Normalised
from router.attachments.verdicts import PENDING, attachment_flags, envelope_attachment
from router.clock import parse_rfc3339, rfc3339
from router.delivery.notifier import NotificationQueue, Notifier, ReplyRoute
from router.delivery.outbox import RateLimit
from router.delivery.suppression import (
    BOT_BLOCKED,
    KINDS,
    STOP_REQUESTED,
    suppression_address,
)
from router.delivery.templates import Templates
from router.ops import metrics
from router.store.transaction import AttachmentRecord, MessageThread, TicketRecord
from router.ticketing.catalogue import CLOSED_STATUSES, Catalogue, TicketNumbering
from router.ticketing.updates import TicketHistory
from router.ulid import new_ulid

log = logging.getLogger(__name__)

# The notice kind the citizen's client shows each automatic answer as.
_NOTICE_KINDS: dict[str, NoticeKind] = {
    "confirmation": "confirmation",
    "status_query_answer": "status",
}
# What a citizen's own message on the channel lifts from the suppression list.
LIFTED_BY_WRITING = (STOP_REQUESTED, BOT_BLOCKED)
# Channels whose peer is told nothing of a command's answer, which goes to the sender's
# address only (an email's: the MTA hears 250, the status goes to the From).
ANSWERED_AT_THE_ADDRESS = frozenset({"email"})
# Channels whose own protocol already shows the citizen the ticket a message joined (the web
# chat's `accepted` frame), so a follow-up needs no separate "added to your request" notice.
INLINE_ACK_CHANNELS = frozenset({"webchat"})


class LateNoticeStore(NotificationQueue, Protocol):
    """The store as the late notice of refused files uses it: the ticket, and the queue."""

    def ticket_record(self, number: str) -> TicketRecord | None: ...


class FilingStore(DedupeState, LateNoticeStore, TicketHistory, Protocol):
    """The store as filing uses it, inside the transaction that journals the inbound: dedupe's
    state, tickets and their events, the suppression list, the envelope and its handoff."""

    def identity_verified(self, identity: Sender) -> bool: ...
    def attachments(self, ids: list[str]) -> list[AttachmentRecord]: ...
    def file_conversation(self, conversation_id: str, number: str, at: str) -> None: ...
    def latest_contact_ticket(
        self, contact_ids: list[str], closed: Collection[str] = ()
    ) -> str | None: ...
    def next_ticket_counter(self, year: int) -> int: ...
    def insert_ticket(self, ticket: TicketRecord) -> None: ...
    def link_ticket_contact(self, number: str, contact_id: str) -> None: ...
    def set_ticket_due(self, number: str, first_response: str, resolution: str) -> None: ...
    def suppress_anew(self, channel: str, address: str, reason: str, since: str) -> bool: ...
    def automatic_queued_since(self, contact_id: str, since: float) -> int: ...
    def suppressed(self, channel: str, address: str, now: str) -> str | None: ...
    def unsuppress(
        self,
        channel: str,
        address: str,
        *,
        reason: str | None = None,
        listed_before: str | None = None,
    ) -> bool: ...
    def keep_message_thread(
        self,
        channel: str,
        message_id: str,
        conversation: str,
        contact: str,
        verified: bool,
        ticket: str | None,
    ) -> None: ...
    def message_thread(self, channel: str, message_id: str, kind: str) -> MessageThread | None: ...
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
    ) -> tuple[int, int | None]: ...
    def queue_handoff(self, seq: int, now: float) -> None: ...
    def journal_filed(
        self, journal_id: int, envelope_id: str, *, unparseable: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class FilingRules:
    """Everything filing needs from the configuration, swapped whole on reload."""

    catalogue: Catalogue
    numbering: TicketNumbering
    notifier: Notifier
    policy: Policy
    repeat_window: timedelta
    tz: ZoneInfo
    webhook: bool
    # `[notifier] auto_limit` per `auto_window`: past it, an inbound message gets no automatic
    # answer (RFC 3834 2: a responder limits its answers to one address), which ends a loop
    # with a responder that marks nothing, where deferring the answers only paced the loop.
    answers: RateLimit


class Filed(msgspec.Struct, frozen=True):
    """Result of filing one inbound: the answer for the peer and what to wake up."""

    acceptance: Acceptance
    feed_seq: int | None
    notifications: int
    repeat: bool = False


def reply_route(channel: Channel, account: str, sender: Sender) -> ReplyRoute:
    """Where answers to a message go; a form is answered by email, else by SMS."""
    if channel == "form":
        answer: Channel = "email" if sender.kind == "email" else "sms"
        return ReplyRoute(answer, "default", sender.address)
    return ReplyRoute(channel, account, sender.address)


def conversation_of(raw: RawInbound) -> str:
    """The conversation a message belongs to, from the channel's hint or its sender."""
    if raw.conversation_hint:
        return raw.conversation_hint
    if raw.channel == "form":  # every form submission is a request of its own
        return f"form:{raw.account}:{raw.idempotency_key}"
    return f"{raw.channel}:{raw.account}:{raw.sender.address}"


class Origin(NamedTuple):
    """The journal row an inbound is filed from, and what the intake learnt reading it: the
    bytes the peer sent (`raw`), that it edits a message filed before (`revision`), or why the
    channel's parser could not read it (`unparseable`)."""

    journal_id: int
    raw: RawRef | None = None
    revision: bool = False
    unparseable: str | None = None
    # Read again after it was filed unparseable: a revision of that envelope, but news to the
    # citizen, who was never answered.
    reread: bool = False
    # It edits a message that was a command (no ticket): it opens nothing either.
    revises_command: bool = False
    # The ticket of the message it edits: the edit goes there, whatever its status.
    revised_ticket: str | None = None


def file_inbound(
    tx: FilingStore,
    filer: FilingRules,
    origin: Origin,
    raw: RawInbound,
    norm: Normalised,
    now: datetime,
) -> Filed:
    """File one journalled inbound; the caller checked it is not filed yet."""
    return InboundFiling(tx, filer, origin, raw, norm, now).run()


class InboundFiling:
    """The filing of one inbound message, inside the writer's transaction."""

    def __init__(
        self,
        tx: FilingStore,
        filer: FilingRules,
        origin: Origin,
        raw: RawInbound,
        norm: Normalised,
        now: datetime,
    ) -> None:
        raw = msgspec.structs.replace(
            raw,
            sender=canonical_sender(raw.sender),
            declared=[canonical_sender(s) for s in raw.declared],
            verified_links=[canonical_sender(s) for s in raw.verified_links],
        )
        self.tx, self.filer, self.origin, self.raw, self.norm, self.now = (
            tx,
            filer,
            origin,
            raw,
            norm,
            now,
        )
        self.journal_id = origin.journal_id
        evidence = f"{raw.channel}/{raw.account}/{raw.channel_message_id}"
        # `own` holds the sender's identity and gets what the sender creates; `contact` is the
        # person it stands for across channels now (the envelope's contact_id).
        self.own = resolve_contact(tx, raw.sender, raw.verified_links, evidence)
        self.contact = canonical_contact(tx, self.own)
        templates = filer.notifier.templates
        self.language = (
            raw.language_hint if raw.language_hint in templates.languages else norm.language
        )
        self.answer = reply_route(raw.channel, raw.account, raw.sender)
        self.answered_there = False
        # The ticket of the message this one replies to (our notice, or the citizen's own).
        self.replied_ticket: str | None = None
        self.conversation = self._replied_conversation() or conversation_of(raw)
        self.fingerprint = fingerprint(norm.text)
        self.attachments = tx.attachments(list(raw.attachment_ids))
        self.flags = list(dict.fromkeys([*norm.flags, *raw.flags]))
        if origin.revision or origin.reread:
            self.flags.append("revision")
        if origin.unparseable is not None and "unparseable" not in self.flags:
            self.flags.append("unparseable")
        # An edit was answered when first filed; what could not be read cannot be checked for
        # loop protection (Auto-Submitted, a bounce), so an answer could start a mail loop; what
        # the channel flags auto_submitted gets no automatic answer (RFC 3834).
        self.answers = (
            not origin.revision and origin.unparseable is None and "auto_submitted" not in raw.flags
        )
        self.flags.extend(f for f in attachment_flags(self.attachments) if f not in self.flags)
        # ARCHITECTURE.md 3a: identity is only as strong as the channel proves it. A sender the
        # channel does not vouch for, writing from an address a channel once vouched for (a
        # forged From), is not that person: it joins none of their conversations or tickets,
        # and what it opens is flagged and linked to theirs as related.
        self.claimed: str | None = None
        if not raw.sender.verified and tx.identity_verified(raw.sender):
            self.flags.append("unverified_sender")
            claimed = tx.conversation_ticket(self.conversation)
            self.claimed = None if claimed is None else claimed.number
            self.conversation = f"unverified:{raw.channel}:{raw.account}:{raw.idempotency_key}"
            self.replied_ticket = None
        self.queued = 0

    def _replied_conversation(self) -> str | None:
        """The conversation of the message this one replies to, nearest first, if the sender
        is the contact it belongs to and the channel vouches for them as much as it did
        (ARCHITECTURE.md 3a): a reference alone proves nothing, anyone can quote a Message-ID."""
        raw, tx = self.raw, self.tx
        kind = KINDS.get(raw.channel, raw.sender.kind)
        for message_id in dict.fromkeys([raw.in_reply_to or "", *reversed(raw.references)]):
            thread = tx.message_thread(raw.channel, message_id, kind) if message_id else None
            if thread is None:
                continue
            same = canonical_contact(tx, thread.contact_id) == self.contact
            if same and (raw.sender.verified or not thread.verified):
                self.replied_ticket = thread.ticket_number
                return thread.conversation_id
            if raw.sender.verified and thread.sent_to == raw.sender.address:
                # The citizen answers where they asked us to write (a chat's contact frame):
                # our notice went to this very address, and the channel vouches for its
                # sender. The reply joins that ticket; the address becomes no one's identity.
                self.answered_there = True
                self.replied_ticket = thread.ticket_number
                return thread.conversation_id
        return None

    def run(self) -> Filed:
        # A form submission is always a request: the portal shows its number as the answer;
        # an edit of a command was answered when it came first.
        if self.origin.revises_command:
            # An edit of «статус» or /start: answered when it came, it opens no request now.
            return self._store(None, duplicate_of=None)
        command = None if self.raw.channel == "form" or self.origin.revision else self.norm.command
        if command is not None:
            return self._command(command)
        self._lift_stop()
        if self.answered_there:
            current = self.tx.conversation_ticket(self.conversation)
            numbers = (self.replied_ticket, None if current is None else current.number)
            for number in dict.fromkeys(n for n in numbers if n is not None):
                self.tx.link_ticket_contact(number, self.contact)
        destination = route(
            self.tx,
            self.filer.policy,
            contact_id=self.contact,
            conversation_id=self.conversation,
            fingerprint=self.fingerprint,
            ticket_refs=list(self.norm.identifiers.ticket_refs),
            repeat_since=rfc3339(parse_rfc3339(self.raw.received_at) - self.filer.repeat_window),
            trusted=self.raw.sender.verified,
            revises=self.origin.revised_ticket if self.origin.revision else None,
            new_request=self.raw.new_request,
            replied=self.replied_ticket,
        )
        if self.claimed is not None and self.claimed not in destination.related:
            related = (*destination.related, self.claimed)
            destination = msgspec.structs.replace(destination, related=related)
        if destination.ticket is None:
            ticket = self._open_ticket(destination)
            self.tx.file_conversation(self.conversation, ticket.number, self.raw.received_at)
            # The form's HTTP answer carries the number: that is its confirmation.
            if self.raw.channel != "form":
                self._answer("confirmation", ticket, self._not_accepted())
            return self._store(_ticket_ref(ticket, is_new=True), duplicate_of=None)
        ticket = self._join(destination)
        if destination.reason != "revision":
            # An edit of an older message leaves the conversation on the ticket it is about
            # now: the citizen's next message goes there, not to the edited one's.
            self.tx.file_conversation(self.conversation, ticket.number, self.raw.received_at)
        if destination.duplicate_of is not None:
            self.flags.append("duplicate")
        not_accepted = self._not_accepted()
        if destination.duplicate_of or not_accepted or self.raw.channel not in INLINE_ACK_CHANNELS:
            self._answer("added_to_request", ticket, not_accepted)
        return self._store(_ticket_ref(ticket, is_new=False), duplicate_of=destination.duplicate_of)

    def _command(self, command: Command) -> Filed:
        """Answer a command instead of filing a request."""
        handling = COMMAND_HANDLERS[command.name]
        if handling.lifts_stop:
            self._lift_stop()
        self.flags.append(handling.flag)
        return handling.answer(self, command)

    def _status_query(self, command: Command) -> Filed:
        """Answer «статус N» to a linked contact; tell anyone else nothing about N."""
        number = command.ticket
        if number is None:
            # A citizen asks about what is still going on: the open ticket the conversation is
            # about, else the person's newest open one; with none open, the conversation's
            # ticket, else the person's newest.
            current = self.tx.conversation_ticket(self.conversation)
            if current is not None and not linked_to_ticket(self.tx, self.contact, current.number):
                current = None
            if current is not None and current.status not in CLOSED_STATUSES:
                number = current.number
            else:
                contacts = self.tx.merged_contacts(self.contact)
                number = self.tx.latest_contact_ticket(contacts, CLOSED_STATUSES)
                newest = self.tx.ticket_record(number) if number else None
                if current is not None and (newest is None or newest.status in CLOSED_STATUSES):
                    number = current.number
        ticket = self.tx.ticket_record(number) if number else None
        # Only a sender the channel vouches for learns a status, where the answer reaches
        # whoever sent the message (a form's email is typed text, and the form's page shows
        # the ticket). An email's answer goes to its From address and to nobody else: a forger
        # learns nothing, and a citizen whose provider signs nothing is answered all the same.
        trusted = self.raw.sender.verified or self.raw.channel in ANSWERED_AT_THE_ADDRESS
        if (
            ticket is not None
            and trusted
            and linked_to_ticket(self.tx, self.contact, ticket.number)
        ):
            # «/status» says nothing of the citizen's language: without the channel's hint the
            # answer is in the ticket's.
            if self.raw.language_hint not in self.filer.notifier.templates.languages:
                self.language = ticket.language
            fields = self.filer.notifier.status_fields(ticket, self.language)
            self._answer("status_query_answer", ticket, fields)
            return self._store(_ticket_ref(ticket, is_new=False), duplicate_of=None)
        self._answer_without_ticket("status_query_not_found", ticket=number or "—")
        return self._store(None, duplicate_of=None)

    def _stop(self, command: Command) -> Filed:
        """«СТОП»: the address gets nothing more on this channel but this one confirmation."""
        # Honoured from anyone: sending less is always safe, the notices follow the fallback,
        # and the confirmation tells the citizen, were the «СТОП» forged, how to undo it.
        # An address already on the list gets no confirmation: a stopped one has had its one,
        # and a bounced or blocked one cannot take it.
        channel, address = self._suppression_key()
        # Since the «СТОП» was written, not filed: a later message filed in the same backlog
        # must still lift it.
        if self.tx.suppress_anew(channel, address, STOP_REQUESTED, self.raw.received_at):
            self._answer_without_ticket("stop_confirmation", confirms_stop=True)
        return self._store(None, duplicate_of=None)

    def _start(self, command: Command) -> Filed:
        """«СТАРТ»: notices come again (_command lifted the «СТОП»); say so."""
        channel, address = self._suppression_key()
        # A sender the channel does not vouch for cannot lift a «СТОП» (_lift_stop), and the
        # stopped address gets nothing, this answer included.
        if self.tx.suppressed(channel, address, rfc3339(self.now)) != STOP_REQUESTED:
            self._answer_without_ticket("start_confirmation")
        return self._store(None, duplicate_of=None)

    def _help(self, command: Command) -> Filed:
        """«ПОМОЩЬ»: what a citizen can write to us."""
        self._answer_without_ticket("help")
        return self._store(None, duplicate_of=None)

    def _unsupported(self, command: Command) -> Filed:
        """A message of a kind the channel does not take (a sticker): say what it takes."""
        self._answer_without_ticket("unsupported_content")
        return self._store(None, duplicate_of=None)

    def _suppression_key(self) -> tuple[Channel, str]:
        """The (channel, address) the suppression list knows this sender by."""
        channel = self.answer.channel
        return channel, suppression_address(channel, self.answer.address)

    def _lift_stop(self) -> None:
        """CONTRACTS.md: writing to us again lifts a «СТОП»; and a blocked bot's, since a
        messenger lets only a user who unblocked it write to it. A bounce stays: that mail
        reaches us says nothing of mail reaching them."""
        # Only a sender the channel vouches for: a forged From must not undo a citizen's
        # «СТОП», nor may a form, whose addresses are typed text.
        # And only a message written after the «СТОП»: an edit or a dead letter replayed now
        # is older news.
        if self.raw.sender.verified and not self.origin.revision:
            for reason in LIFTED_BY_WRITING:
                self.tx.unsuppress(
                    *self._suppression_key(), reason=reason, listed_before=self.raw.received_at
                )

    def _open_ticket(self, destination: Destination) -> TicketRecord:
        """Number, classify and create a ticket."""
        raw, filer = self.raw, self.filer
        received = parse_rfc3339(raw.received_at)
        # The code the citizen wrote, after a reply's prefixes and our tag ("Re: [№N] [01] ...").
        subject = None if raw.subject is None else filer.notifier.subject_tag.topic(raw.subject)
        category = filer.catalogue.classify(subject, self.norm.text, raw.topic)
        self.flags.extend(f for f in category.flags if f not in self.flags)
        first_due, resolution_due = filer.catalogue.due_times(category.priority, received, filer.tz)
        year = received.astimezone(filer.tz).year
        number = filer.numbering.number(year, self.tx.next_ticket_counter(year))
        ticket = TicketRecord(
            number=number,
            created_at=raw.received_at,
            updated_at=raw.received_at,
            status="accepted",
            category_code=category.code,
            category_name=category.name,
            priority=category.priority,
            first_response_due=rfc3339(first_due),
            resolution_due=rfc3339(resolution_due),
            channel=self.answer.channel,
            account=self.answer.account,
            address=self.answer.address,
            language=self.language,
            conversation_id=self.conversation,
            contact_id=self.own,
            related=list(destination.related),
            status_comment=None,
            status_reason=None,
            expected_at=None,
        )
        self.tx.insert_ticket(ticket)
        self.tx.add_ticket_event(number, raw.received_at, "status", "accepted", {}, None)
        return ticket

    def _join(self, destination: Destination) -> TicketRecord:
        """Link the contact to the chosen ticket, reopening it if so configured."""
        number = destination.ticket
        assert number is not None
        self.tx.link_ticket_contact(number, self.own)
        ticket = self.tx.ticket_record(number)
        assert ticket is not None
        return self._reopen(ticket) if destination.reopen else ticket

    def _reopen(self, ticket: TicketRecord) -> TicketRecord:
        """A resolved ticket written to again: accepted, with new due times, and everyone told;
        the ticket as it is now."""
        number, at = ticket.number, rfc3339(self.now)
        received = parse_rfc3339(self.raw.received_at)
        first_due, resolution_due = self.filer.catalogue.due_times(
            ticket.priority, received, self.filer.tz
        )
        self.tx.set_ticket_status(number, "accepted", at)
        self.tx.set_ticket_due(number, rfc3339(first_due), rfc3339(resolution_due))
        event_id, _ = self.tx.add_ticket_event(
            number, at, "status", "accepted", {"comment": "reopened by the citizen"}, None
        )
        self.flags.append("reopened")  # the backend learns it from the envelope
        reopened = self.tx.ticket_record(number)
        assert reopened is not None
        notifier = self.filer.notifier
        notifier.queue(
            self.tx,
            "status.accepted",
            reopened,
            source_key=f"event:{event_id}",
            kind="status",
            now=self.now,
            route=self.answer,
            fields=notifier.status_fields(reopened, reopened.language),
        )
        self.queued += 1
        return reopened

    def _not_accepted(self) -> dict[str, str]:
        """The `not_accepted` field: files already known to be refused, in plain words; and a
        message too big to receive (a mailbox's, of which only the header came)."""
        templates = self.filer.notifier.templates
        refused = [not_accepted_text(templates, self.attachments, self.language)]
        if "oversize" in self.flags:
            # Not quoting its subject: the sender may be forged, and our mail would carry
            # their words (a link) to the address they put in From.
            refused.insert(0, templates.attachment_reason("oversize", self.language))
        text = "; ".join(filter(None, refused))
        return {"not_accepted": text} if text else {}

    def _answer(self, event: str, ticket: TicketRecord, fields: dict[str, str]) -> None:
        """Queue the automatic answer to this inbound message (once per journal entry)."""
        if not self.answers or self._withheld(ticket.contact_id):
            return
        kind: NoticeKind = _NOTICE_KINDS.get(event, "system")
        self.filer.notifier.queue(
            self.tx,
            event,
            ticket,
            source_key=f"{event}:{self.journal_id}",
            kind=kind,
            now=self.now,
            route=self.answer,
            language=self.language,
            fields=fields,
        )
        self.queued += 1

    def _withheld(self, contact_id: str) -> bool:
        """Whether the contact had its `answers` limit of automatic messages within the window:
        then this message gets no answer, and is flagged auto_submitted (CONTRACTS.md: loop
        protection withheld its replies)."""
        limit = self.filer.answers
        since = self.now.timestamp() - limit.window
        if self.tx.automatic_queued_since(contact_id, since) < limit.limit:
            return False
        if "auto_submitted" not in self.flags:
            self.flags.append("auto_submitted")
            metrics.answers_withheld.labels(self.raw.channel).inc()
            log.warning(
                "no automatic answer to journal entry %d: its contact had %d automatic messages "
                "within %gs (a loop with a responder?)",
                self.journal_id,
                limit.limit,
                limit.window,
            )
        return True

    def _answer_without_ticket(
        self, event: str, *, confirms_stop: bool = False, **fields: str
    ) -> None:
        """Queue an automatic answer about no ticket of the sender's (once per journal entry);
        the one confirmation of a «СТОП» whatever the limit."""
        if not confirms_stop and self._withheld(self.contact):
            return
        text, rendering = self.filer.notifier.render(
            event, self.answer.channel, self.language, None, fields
        )
        self.tx.queue_notification(
            f"{event}:{self.journal_id}",
            rfc3339(self.now),
            self.now.timestamp(),
            ticket=None,
            contact_id=self.contact,
            channel=self.answer.channel,
            account=self.answer.account,
            address=self.answer.address,
            kind="system",
            automatic=True,
            text=text,
            confirms_stop=confirms_stop,
            rendering=rendering,
        )
        self.queued += 1

    def _store(self, ticket: TicketRef | None, *, duplicate_of: str | None) -> Filed:
        """Store the envelope; hand it off unless it has no ticket or awaits a scan."""
        raw, tx = self.raw, self.tx
        envelope = Envelope(
            id=new_ulid(),
            received_at=raw.received_at,
            channel=raw.channel,
            channel_account=raw.account,
            channel_message_id=raw.channel_message_id,
            sender=raw.sender,
            contact_id=self.contact,
            thread=Thread(self.conversation, raw.in_reply_to),
            text=self.norm.text,
            language=self.norm.language,
            ticket=ticket,
            subject=raw.subject,
            attachments=[envelope_attachment(a) for a in self.attachments],
            identifiers=_with_declared(self.norm.identifiers, raw),
            duplicate_of=duplicate_of,
            flags=self.flags,
            raw=msgspec.UNSET if self.origin.raw is None else self.origin.raw,
        )
        held = None
        if ticket is None:
            # A command, or a status query about someone else's number: kept for operators, no
            # backend work.
            held = "no_ticket"
        elif any(a.status == "pending" for a in self.attachments):
            held = "scan"
        seq, feed_seq = tx.insert_envelope(
            envelope.id,
            self.journal_id,
            raw.received_at,
            ticket.number if ticket else None,
            self.own,
            self.fingerprint,
            envelope_encoder.encode(envelope),
            held=held,
        )
        if feed_seq is not None and self.filer.webhook:
            tx.queue_handoff(seq, self.now.timestamp())
        if raw.referable:
            tx.keep_message_thread(
                raw.channel, raw.channel_message_id, self.conversation, self.own,
                raw.sender.verified, ticket.number if ticket else None,
            )  # fmt: skip
        tx.journal_filed(self.journal_id, envelope.id, unparseable=self.origin.unparseable)
        acceptance = acceptance_of(envelope, redelivery=False)
        return Filed(acceptance, feed_seq, self.queued, duplicate_of is not None)


class CommandHandling(NamedTuple):
    """What the router does with one command: its answer, the envelope's flag, and whether it
    counts as writing to us again (which lifts a «СТОП»)."""

    answer: Callable[[InboundFiling, Command], Filed]
    flag: str
    lifts_stop: bool = True


# Each command the normaliser's table recognises (normaliser/commands.py), by name.
COMMAND_HANDLERS: Mapping[CommandName, CommandHandling] = {
    "status": CommandHandling(InboundFiling._status_query, "status_query"),
    "stop": CommandHandling(InboundFiling._stop, STOP_REQUESTED, lifts_stop=False),
    "start": CommandHandling(InboundFiling._start, "start_requested"),
    "help": CommandHandling(InboundFiling._help, "help_requested"),
    "unsupported": CommandHandling(InboundFiling._unsupported, "unsupported_content"),
}


def acceptance_of(envelope: Envelope, *, redelivery: bool) -> Acceptance:
    """The answer for the peer about a filed envelope (the same again for a redelivery)."""
    ticket = envelope.ticket
    return Acceptance(
        envelope_id=envelope.id,
        ticket_number=ticket.number if ticket else None,
        ticket_is_new=ticket.is_new if ticket else False,
        category_code=ticket.category.code if ticket else None,
        category_name=ticket.category.name if ticket else None,
        redelivery=redelivery,
    )


def tell_refused_later(
    tx: LateNoticeStore,
    filer: FilingRules,
    held: Envelope,
    records: list[AttachmentRecord],
    now: datetime,
) -> bool:
    """After a delayed scan, tell the citizen which files were not accepted; True if queued."""
    was_pending = {a.id for a in held.attachments if a.scan.detail == PENDING}
    refused = [r for r in records if r.id in was_pending]
    text = not_accepted_text(filer.notifier.templates, refused, held.language)
    ticket = tx.ticket_record(held.ticket.number) if held.ticket else None
    if not text or ticket is None:
        return False
    filer.notifier.queue(
        tx,
        "attachments_not_accepted",
        ticket,
        source_key=f"refused_later:{held.id}",
        kind="system",
        now=now,
        route=reply_route(held.channel, held.channel_account, held.sender),
        language=ticket.language,
        fields={"not_accepted": text},
    )
    return True


def not_accepted_text(
    templates: Templates, attachments: list[AttachmentRecord], language: str
) -> str:
    """«file» — reason, for each refused file; empty when every file was accepted."""
    return "; ".join(
        f"«{a.filename}» — {templates.attachment_reason(a.reason_code or 'unchecked', language)}"
        for a in attachments
        if a.status in ("infected", "rejected", "error")
    )


def _with_declared(identifiers: Identifiers, raw: RawInbound) -> Identifiers:
    """Identifiers found in the text plus the phone and email a form declared."""
    phones = list(identifiers.phones)
    emails = list(identifiers.emails)
    for declared in raw.declared:
        found = phones if declared.kind == "phone" else emails if declared.kind == "email" else None
        if found is not None and declared.address not in found:
            found.append(declared.address)
    return msgspec.structs.replace(identifiers, phones=phones, emails=emails)


def _ticket_ref(ticket: TicketRecord, *, is_new: bool) -> TicketRef:
    return TicketRef(
        number=ticket.number,
        is_new=is_new,
        category=Category(ticket.category_code, ticket.category_name),
        priority=ticket.priority,
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        related=ticket.related,
    )
