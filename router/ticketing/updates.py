"""Status changes and operator replies that the backend posts, turned into notifications."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from channels.contract import AttachmentPort, AttachmentRefused
from router.clock import parse_rfc3339, rfc3339, utc_now
from router.delivery.notifier import NotificationQueue, Notifier, ticket_route
from router.store.access import Store
from router.store.transaction import AttachmentRecord, TicketRecord
from router.ticketing.catalogue import STATUSES

# An expected completion time: RFC 3339 (its T and Z in either case) in the years 2000-2999 as
# written; any other year is a typo, not a plan, and the citizen's notice must print it as a date.
# router/http/openapi.py publishes this pattern, so the document refuses what the server refuses.
EXPECTED_AT = (
    r"^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]"
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_EXPECTED_AT = re.compile(EXPECTED_AT)


class UpdateRejected(Exception):
    """The update cannot be applied; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class StatusChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /api/v1/tickets/{number}/status"""

    status: str
    comment: str | None = None
    reason: str | None = None
    expected_at: str | None = None


class Reply(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /api/v1/tickets/{number}/replies"""

    text: str
    attachments: list[str] = []


class TicketStore(Protocol):
    """The store as a reader of one ticket uses it."""

    def ticket_record(self, number: str) -> TicketRecord | None: ...


class TicketHistory(TicketStore, Protocol):
    """A ticket's status and its events, as whatever changes them uses them (a citizen's
    message reopening it, the backend's updates)."""

    def add_ticket_event(
        self,
        number: str,
        at: str,
        kind: str,
        status: str | None,
        detail: dict[str, Any],
        idem_key: str | None,
    ) -> tuple[int, bool]: ...
    def set_ticket_status(
        self,
        number: str,
        status: str,
        now: str,
        *,
        comment: str | None = None,
        reason: str | None = None,
        expected_at: str | None = None,
    ) -> None: ...


class UpdatesStore(TicketHistory, NotificationQueue, Protocol):
    """The store as ticket updates use it: the ticket's status and events, the reply's files,
    and the notification queue."""

    def last_status_event(self, number: str) -> int | None: ...
    def attachments(self, ids: list[str]) -> list[AttachmentRecord]: ...


class TicketUpdates:
    """Applies backend updates to tickets and queues what the citizen must be told."""

    def __init__(
        self,
        db: Store[UpdatesStore],
        notifier: Callable[[], Notifier],
        wake: Callable[[], None],
        attachments: AttachmentPort,
    ):
        self.db = db
        self.notifier = notifier
        self.wake = wake
        self.attachments = attachments

    async def _check_files(self, number: str, ids: list[str]) -> None:
        """The files were uploaded to this ticket and may go together in one message on the
        channel its citizen is answered on (the same rules as a citizen's files)."""
        ticket = await self.db.read(lambda tx: tx.ticket_record(number))
        if ticket is None:
            raise UpdateRejected(404, "not_found", f"no ticket {number}")
        channel = ticket_route(ticket).channel
        try:
            await self.attachments.check_message(ids, channel=channel, owner=f"ticket:{number}")
        except AttachmentRefused as exc:
            raise UpdateRejected(422, exc.code, exc.reason) from exc

    async def change_status(self, number: str, change: StatusChange, key: str | None) -> str:
        """Apply a status change; return the id of the notification that tells the citizen."""
        expected = checked_status_change(change)
        notifier = self.notifier()
        now = utc_now()
        detail = {"comment": change.comment, "reason": change.reason, "expected_at": expected}

        def apply(tx: UpdatesStore) -> str:
            ticket = tx.ticket_record(number)
            if ticket is None:
                raise UpdateRejected(404, "not_found", f"no ticket {number}")
            same = (
                ticket.status,
                ticket.status_comment,
                ticket.status_reason,
                ticket.expected_at,
            ) == (change.status, change.comment, change.reason, expected)
            last = tx.last_status_event(number)
            if same and not key and last is not None:
                # A retried POST without an Idempotency-Key changes nothing and tells nobody
                # again: it answers the notification of the change that made this state.
                event_id, fresh = last, False
            else:
                idem = f"status:{number}:{key}" if key else None
                event_id, fresh = tx.add_ticket_event(
                    number, rfc3339(now), "status", change.status, detail, idem
                )
            if fresh:
                tx.set_ticket_status(
                    number,
                    change.status,
                    rfc3339(now),
                    comment=change.comment,
                    reason=change.reason,
                    expected_at=expected,
                )
                ticket = tx.ticket_record(number)
                assert ticket is not None
            fields = notifier.status_fields(ticket, ticket.language)
            notification_id, _ = notifier.queue(
                tx,
                f"status.{change.status}",
                ticket,
                source_key=f"event:{event_id}",
                kind="status",
                now=now,
                # An operator's act, not an automatic answer: the per-contact limit (against
                # auto-responder loops) must not hold it past DOMAIN.md's five minutes.
                automatic=False,
                fields=fields,
            )
            return notification_id

        notification_id = await self.db.write(apply)
        self.wake()
        return notification_id

    async def reply(self, number: str, reply: Reply, key: str | None) -> str:
        """Queue an operator's reply to the ticket's citizen; return the notification id."""
        checked_reply(reply)
        notifier = self.notifier()
        now = utc_now()
        files = list(dict.fromkeys(reply.attachments))
        if files:
            await self._check_files(number, files)

        def apply(tx: UpdatesStore) -> str:
            ticket = tx.ticket_record(number)
            if ticket is None:
                raise UpdateRejected(404, "not_found", f"no ticket {number}")
            _require_clean(tx, files)
            idem = f"reply:{number}:{key}" if key else None
            detail = {"text": reply.text, **({"attachments": files} if files else {})}
            event_id, _ = tx.add_ticket_event(number, rfc3339(now), "reply", None, detail, idem)
            notification_id, _ = notifier.queue(
                tx,
                "reply",
                ticket,
                source_key=f"event:{event_id}",
                kind="reply",
                now=now,
                automatic=False,
                fields={"text": reply.text},
                attachments=files,
            )
            return notification_id

        notification_id = await self.db.write(apply)
        self.wake()
        return notification_id


def checked_status_change(change: StatusChange) -> str | None:
    """Refuse (422) a change the ticket cannot take; its expected_at as the router writes times."""
    if change.status not in STATUSES:
        raise UpdateRejected(422, "unknown_status", f"status must be one of {STATUSES}")
    if change.status == "rejected" and not (change.reason or "").strip():
        # DOMAIN.md: the reason of a rejection is always stated to the citizen.
        raise UpdateRejected(422, "reason_required", "a rejected ticket needs a reason")
    if change.expected_at is None:
        return None
    try:
        return planned_time(change.expected_at)
    except ValueError as exc:
        raise UpdateRejected(422, "bad_expected_at", f"expected_at: {exc}") from exc


def planned_time(text: str) -> str:
    """A time an operator plans for, as the router writes times; ValueError unless it is RFC
    3339 in the years 2000-2999 (EXPECTED_AT) and a real date."""
    if not _EXPECTED_AT.fullmatch(text):
        raise ValueError("not RFC 3339 in the years 2000-2999")
    # upper(): parse_rfc3339 knows the upper-case Z only; the pattern lets through a day its
    # month does not have, which parsing refuses.
    return rfc3339(parse_rfc3339(text.upper()))


def checked_reply(reply: Reply) -> None:
    """Refuse (422) a reply with nothing to say."""
    if not reply.text.strip():
        raise UpdateRejected(422, "empty_text", "a reply needs text")


def _require_clean(tx: UpdatesStore, ids: list[str]) -> None:
    """Refuse files whose scan is not done or not clean (read in the reply's transaction, so a
    verdict that arrives meanwhile is not missed)."""
    for record in tx.attachments(ids):
        attachment_id = record.id
        if record.status == "pending":
            raise UpdateRejected(409, "scan_pending", f"{attachment_id} is still being scanned")
        if record.status != "clean":
            raise UpdateRejected(
                422, "attachment_refused", f"{attachment_id} is {record.status}: {record.detail}"
            )
