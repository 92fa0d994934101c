"""Notifier: renders ticket events from templates into notifications queued in the outbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, cast, get_args
from zoneinfo import ZoneInfo

import msgspec

from channels.contract import Button, Channel, NoticeKind
from channels.subjects import SubjectTag
from router.clock import parse_rfc3339, rfc3339
from router.delivery.templates import DEFAULT_LANGUAGE, Templates, format_due
from router.store.transaction import TicketRecord
from router.ticketing.catalogue import CLOSED_STATUSES, Catalogue


class Rendering(msgspec.Struct, frozen=True):
    """What a notice carries beside its text, rendered when it is queued (and kept with it,
    so a fallback copy on another channel carries it too): its language, the email Subject,
    and the buttons a messenger shows under it. Adapters leave out what they cannot show."""

    language: str = DEFAULT_LANGUAGE
    subject: str | None = None
    buttons: list[Button] = []
    # What it was rendered from, so that a fallback renders it anew for its new channel.
    event: str | None = None
    ticket: str | None = None
    fields: dict[str, str] = {}


rendering_encoder = msgspec.json.Encoder()
rendering_decoder = msgspec.json.Decoder(Rendering)


class ReplyRoute(NamedTuple):
    """Where a notification goes."""

    channel: Channel
    account: str
    address: str


def ticket_route(ticket: TicketRecord) -> ReplyRoute:
    """The channel a ticket's citizen is answered on."""
    return ReplyRoute(ticket.channel, ticket.account, ticket.address)


class NotificationQueue(Protocol):
    """The store as the notifier uses it: the outbox's queue, once per source key."""

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
    ) -> tuple[str, bool]: ...
    def notice_recipients(self, number: str) -> list[tuple[str, str]]: ...


class Notifier:
    """Renders and queues confirmations, status notices, replies and answers."""

    def __init__(
        self,
        templates: Templates,
        catalogue: Catalogue,
        tz: ZoneInfo,
        subject_tag: SubjectTag | None = None,
    ) -> None:
        self.templates = templates
        self.catalogue = catalogue
        self.tz = tz
        self.subject_tag = subject_tag or SubjectTag()

    def queue(
        self,
        tx: NotificationQueue,
        event: str,
        ticket: TicketRecord,
        *,
        source_key: str,
        kind: NoticeKind,
        now: datetime,
        route: ReplyRoute | None = None,
        language: str | None = None,
        automatic: bool = True,
        fields: Mapping[str, str] | None = None,
        attachments: Sequence[str] = (),
    ) -> tuple[str, bool]:
        """Render `event` for the ticket and queue it once per source key; (id, is_new).

        Without a `route`, it is the ticket's own notice (a status change, an operator's reply):
        it also goes to each address the citizen declared for the ticket's conversations (a
        Recipient List), rendered for that address's channel."""
        own = route or ticket_route(ticket)
        language = language or ticket.language
        available = {
            "ticket": ticket.number,
            "category": self.catalogue.category_name(ticket.category_code, language),
            "status": ticket.status,
            "first_response_due": self._due(ticket.first_response_due, language),
            **(fields or {}),
        }
        wanted = self.templates.fields(event)
        chosen = {name: value for name, value in available.items() if name in wanted}
        recipients = [] if route is not None else tx.notice_recipients(ticket.number)
        copies = [
            (
                ReplyRoute(cast(Channel, channel), "default", address),
                f"{source_key}:{channel}:{address}",
            )
            for channel, address in recipients
            if (channel, address) != (own.channel, own.address)
        ]
        queued = []
        for (channel, account, address), key in [(own, source_key), *copies]:
            text, rendering = self.render(event, channel, language, ticket.number, chosen)
            queued.append(
                tx.queue_notification(
                    key,
                    rfc3339(now),
                    now.timestamp(),
                    ticket=ticket.number,
                    contact_id=ticket.contact_id,
                    channel=channel,
                    account=account,
                    address=address,
                    kind=kind,
                    automatic=automatic,
                    text=text,
                    attachments=attachments,
                    rendering=rendering,
                )
            )
        return queued[0]

    def render(
        self,
        event: str,
        channel: Channel,
        language: str,
        ticket: str | None,
        fields: Mapping[str, str],
    ) -> tuple[str, str]:
        """`event` rendered for `channel`: its text, and its Rendering as the store keeps it."""
        templates = self.templates
        text = templates.render(event, language=language, channel=channel, **fields)
        # A notice about a ticket offers its status in one touch (a command, so any channel's
        # reply "/status N" means the same).
        buttons = (
            []
            if ticket is None
            else [Button(templates.status_button(language), f"/status {ticket}")]
        )
        subject = templates.subject(event, language=language, **fields)
        if ticket is not None:
            # A reply that keeps the tag joins the ticket (CONTRACTS.md "Ticket numbers").
            subject = self.subject_tag.tagged(subject, ticket)
        rendering = Rendering(language, subject, buttons, event, ticket, dict(fields))
        return text, rendering_encoder.encode(rendering).decode()

    def rerender(self, kept: str, channel: str) -> tuple[str, str] | None:
        """A notice rendered anew for `channel` (a fallback), from its kept Rendering; None
        for one kept without its event (an operator's reply is the same on any channel)."""
        rendering = rendering_decoder.decode(kept)
        if rendering.event is None or channel not in get_args(Channel):
            return None
        return self.render(
            rendering.event,
            cast(Channel, channel),
            rendering.language,
            rendering.ticket,
            rendering.fields,
        )

    def status_fields(self, ticket: TicketRecord, language: str) -> dict[str, str]:
        """Fields every status text may use, from the ticket's current state."""
        # DOMAIN.md: a status notice gives the expected completion time; without the backend's
        # own estimate that is the ticket's resolution due time, until the work is over.
        expected = ticket.expected_at
        if expected is None and ticket.status not in CLOSED_STATUSES:
            expected = ticket.resolution_due
        return {
            "comment": ticket.status_comment or "",
            "reason": ticket.status_reason or "",
            "expected_at": self._due(expected, language) if expected else "",
        }

    def _due(self, moment: str, language: str) -> str:
        return format_due(parse_rfc3339(moment), language, self.tz)
