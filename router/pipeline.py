"""Filing: the stages after the intake journal, run as one transaction per inbound message.

Normalised text comes in; dedupe picks the ticket, ticketing numbers and classifies a new one,
the envelope goes to the message store (and so the feed), and the notifier queues the answer.
One transaction means a crash leaves either all of that or none of it, so re-running the
journal after a restart can neither lose nor double anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from channels.contract import Acceptance, Channel, NoticeKind, RawInbound
from dedupe.identity import canonical_contact, linked_to_ticket, resolve_contact
from dedupe.routing import Filing, Policy, route
from dedupe.similarity import fingerprint
from normaliser.envelope import (
    Category,
    Envelope,
    Thread,
    TicketRef,
    envelope_encoder,
)
from normaliser.normalise import Normalised
from router.clock import parse_rfc3339, rfc3339
from router.notifier import Notifier, Route
from router.store.transaction import TicketRecord, Tx
from router.tickets import Catalogue, TicketNumbering
from router.ulid import new_ulid

# Channels whose own protocol already shows the citizen the ticket a message joined (the web
# chat's `accepted` frame), so a follow-up needs no separate "added to your request" notice.
INLINE_ACK_CHANNELS = frozenset({"webchat"})


@dataclass(frozen=True)
class Filer:
    """Everything filing needs from the configuration, swapped whole on reload."""

    catalogue: Catalogue
    numbering: TicketNumbering
    notifier: Notifier
    policy: Policy
    repeat_window: timedelta
    tz: ZoneInfo
    webhook: bool


class Filed(msgspec.Struct, frozen=True):
    """Result of filing one inbound: the answer for the peer and what to wake up."""

    acceptance: Acceptance
    seq: int | None
    notifications: int
    repeat: bool = False


def reply_route(raw: RawInbound) -> Route:
    """Where answers to this inbound go; a form is answered by email, else by SMS."""
    if raw.channel == "form":
        channel: Channel = "email" if raw.sender.kind == "email" else "sms"
        return Route(channel, "default", raw.sender.address)
    return Route(raw.channel, raw.account, raw.sender.address)


def conversation_of(raw: RawInbound) -> str:
    """The conversation a message belongs to, from the channel's hint or its sender."""
    if raw.conversation_hint:
        return raw.conversation_hint
    if raw.channel == "form":  # every form submission is a request of its own
        return f"form:{raw.account}:{raw.idempotency_key}"
    return f"{raw.channel}:{raw.account}:{raw.sender.address}"


def file_inbound(
    tx: Tx, filer: Filer, journal_id: int, raw: RawInbound, norm: Normalised, now: datetime
) -> Filed:
    """File one journalled inbound; the caller checked it is not filed yet."""
    evidence = f"{raw.channel}/{raw.account}/{raw.channel_message_id}"
    contact = resolve_contact(tx, raw.sender, raw.verified_links, evidence)
    language = (
        raw.language_hint
        if raw.language_hint in filer.notifier.templates.languages
        else norm.language
    )
    flags = list(norm.flags)
    answer = reply_route(raw)
    conversation = conversation_of(raw)
    fp = fingerprint(norm.text)
    queued = 0

    if norm.command is not None and norm.command.name == "status":
        flags.append("status_query")
        number = norm.command.ticket or tx.latest_contact_ticket(contact)
        ticket = tx.ticket_record(number) if number else None
        if ticket is not None and linked_to_ticket(tx, contact, ticket.number):
            event = "status_query_answer"
            fields = filer.notifier.status_fields(ticket, language)
        else:
            event, fields, ticket = "status_query_not_found", {}, None
        envelope_ticket = _ticket_ref(ticket, is_new=False) if ticket else None
        queued += _queue_answer(
            tx,
            filer,
            event,
            ticket,
            raw,
            journal_id,
            now,
            answer,
            language,
            contact,
            fields,
            requested=number or "—",
        )
        return _store(
            tx,
            filer,
            journal_id,
            raw,
            norm,
            now,
            contact,
            conversation,
            fp,
            flags,
            envelope_ticket,
            duplicate_of=None,
            queued=queued,
        )

    filing = route(
        tx,
        filer.policy,
        contact_id=contact,
        conversation_id=conversation,
        fingerprint=fp,
        ticket_refs=list(norm.identifiers.ticket_refs),
        repeat_since=rfc3339(parse_rfc3339(raw.received_at) - filer.repeat_window),
    )
    if filing.ticket is None:
        ticket, category_flags = _open_ticket(
            tx, filer, raw, norm, contact, conversation, language, filing
        )
        flags.extend(f for f in category_flags if f not in flags)
        is_new = True
        # The form's HTTP answer carries the number: that is its confirmation.
        if raw.channel != "form":
            queued += _queue_answer(
                tx,
                filer,
                "confirmation",
                ticket,
                raw,
                journal_id,
                now,
                answer,
                language,
                contact,
                {},
            )
    else:
        ticket = _join_ticket(tx, filer, filing, contact, now)
        is_new = False
        if filing.duplicate_of is not None:
            flags.append("duplicate")
        if filing.duplicate_of is not None or raw.channel not in INLINE_ACK_CHANNELS:
            queued += _queue_answer(
                tx,
                filer,
                "added_to_request",
                ticket,
                raw,
                journal_id,
                now,
                answer,
                language,
                contact,
                {},
            )
    return _store(
        tx,
        filer,
        journal_id,
        raw,
        norm,
        now,
        contact,
        conversation,
        fp,
        flags,
        _ticket_ref(ticket, is_new=is_new),
        duplicate_of=filing.duplicate_of,
        queued=queued,
    )


def _open_ticket(
    tx: Tx,
    filer: Filer,
    raw: RawInbound,
    norm: Normalised,
    contact: str,
    conversation: str,
    language: str,
    filing: Filing,
) -> tuple[TicketRecord, tuple[str, ...]]:
    """Number, classify and create a ticket; return it with the classification's flags."""
    received = parse_rfc3339(raw.received_at)
    category = filer.catalogue.classify(raw.subject, norm.text, raw.topic)
    first_due, resolution_due = filer.catalogue.due_times(category.priority, received, filer.tz)
    year = received.astimezone(filer.tz).year
    number = filer.numbering.number(year, tx.next_ticket_counter(year))
    answer = reply_route(raw)
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
        channel=answer.channel,
        account=answer.account,
        address=answer.address,
        language=language,
        conversation_id=conversation,
        contact_id=contact,
        related=list(filing.related),
        status_comment=None,
        status_reason=None,
        expected_at=None,
    )
    tx.insert_ticket(ticket)
    tx.add_ticket_event(number, raw.received_at, "status", "accepted", {}, None)
    return ticket, category.flags


def _join_ticket(tx: Tx, filer: Filer, filing: Filing, contact: str, now: datetime) -> TicketRecord:
    assert filing.ticket is not None
    tx.link_ticket_contact(filing.ticket, canonical_contact(tx, contact))
    if filing.reopen:
        tx.set_ticket_status(filing.ticket, "accepted", rfc3339(now))
        tx.add_ticket_event(
            filing.ticket,
            rfc3339(now),
            "status",
            "accepted",
            {"comment": "reopened by the citizen"},
            None,
        )
    ticket = tx.ticket_record(filing.ticket)
    assert ticket is not None
    return ticket


def _queue_answer(
    tx: Tx,
    filer: Filer,
    event: str,
    ticket: TicketRecord | None,
    raw: RawInbound,
    journal_id: int,
    now: datetime,
    answer: Route,
    language: str,
    contact: str,
    fields: dict[str, str],
    requested: str = "",
) -> int:
    """Queue the automatic answer to an inbound message; 1 if queued."""
    source_key = f"{event}:{journal_id}"
    if ticket is None:
        text = filer.notifier.templates.render(
            event, language=language, channel=answer.channel, ticket=requested
        )
        tx.queue_notification(
            source_key,
            rfc3339(now),
            now.timestamp(),
            ticket=None,
            contact_id=contact,
            channel=answer.channel,
            account=answer.account,
            address=answer.address,
            kind="system",
            automatic=True,
            text=text,
        )
        return 1
    kind: NoticeKind = "confirmation" if event == "confirmation" else "system"
    filer.notifier.queue(
        tx,
        event,
        ticket,
        source_key=source_key,
        kind=kind,
        now=now,
        route=answer,
        language=language,
        fields=fields,
    )
    return 1


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


def _store(
    tx: Tx,
    filer: Filer,
    journal_id: int,
    raw: RawInbound,
    norm: Normalised,
    now: datetime,
    contact: str,
    conversation: str,
    fp: str,
    flags: list[str],
    ticket: TicketRef | None,
    *,
    duplicate_of: str | None,
    queued: int,
) -> Filed:
    envelope = Envelope(
        id=new_ulid(),
        received_at=raw.received_at,
        channel=raw.channel,
        channel_account=raw.account,
        channel_message_id=raw.channel_message_id,
        sender=raw.sender,
        contact_id=contact,
        thread=Thread(conversation, raw.in_reply_to),
        text=norm.text,
        language=norm.language,
        ticket=ticket,
        subject=raw.subject,
        identifiers=norm.identifiers,
        duplicate_of=duplicate_of,
        flags=flags,
    )
    # An envelope without a ticket (a status query about someone else's number) is kept in the
    # store for operators but is no work for the backend.
    handed_off = ticket is not None
    seq = tx.insert_envelope(
        envelope.id,
        journal_id,
        raw.received_at,
        ticket.number if ticket else None,
        contact,
        fp,
        handed_off,
        envelope_encoder.encode(envelope),
    )
    if handed_off and filer.webhook:
        tx.queue_handoff(seq, now.timestamp())
    tx.journal_filed(journal_id, envelope.id)
    acceptance = Acceptance(
        envelope_id=envelope.id,
        ticket_number=ticket.number if ticket else None,
        ticket_is_new=ticket.is_new if ticket else False,
        category_code=ticket.category.code if ticket else None,
        category_name=ticket.category.name if ticket else None,
        redelivery=False,
    )
    return Filed(acceptance, seq if handed_off else None, queued, duplicate_of is not None)
