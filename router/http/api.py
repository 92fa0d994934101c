"""The HTTP API: backend (feed, status, replies, lookups), admin, health and metrics."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import math
import mimetypes
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol, TypeVar

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.contract import AttachmentRefused, Sender
from channels.http import (
    JSON_BODY_MAX,
    MULTIPART_OVERHEAD,
    BodyGuard,
    UploadRefused,
    UploadScan,
    answer,
    file_response,
    limit_body,
    problem,
    upload_one_file,
)
from dedupe.ports import Merge
from normaliser.envelope import Category, envelope_decoder
from normaliser.masking import mask_names, mask_personal_data
from router.clock import rfc3339, utc_now
from router.delivery.notifier import ticket_route
from router.delivery.states import State
from router.delivery.suppression import (
    Suppression,
    SuppressionRefused,
    checked_reason,
    entry_key,
)
from router.http.edge import ClientAddress, IPNetwork
from router.http.openapi import OPENAPI
from router.http.views import (
    Contact,
    DeadLetter,
    DeadLetterAction,
    DeadLetters,
    Health,
    Identity,
    MergeUndone,
    Notification,
    Page,
    Queued,
    Readiness,
    Replayed,
    ReplyFile,
    SuppressionEntry,
    SuppressionList,
    ThreadEntry,
    Ticket,
    TicketEvent,
    TicketNotification,
    Transition,
    Unsuppressed,
)
from router.ops import metrics
from router.store.access import Store
from router.store.transaction import AttachmentRecord, NotificationRecord, TicketRecord
from router.ticketing.updates import Reply, StatusChange, UpdateRejected, planned_time

log = logging.getLogger(__name__)
Role = Literal["backend", "admin", "metrics"]
Handler = Callable[[Request], Awaitable[Response]]


class TicketViewStore(Protocol):
    """The store as the API's ticket views use it: the ticket, its thread and its events."""

    def ticket_record(self, number: str) -> TicketRecord | None: ...
    def ticket_envelopes(self, number: str) -> list[bytes]: ...
    def ticket_events(self, number: str) -> list[dict[str, Any]]: ...
    def ticket_notifications(self, number: str) -> list[tuple[str, str, str, str]]: ...


class DeliveryViewStore(Protocol):
    """The store as the API's notification and attachment views use it."""

    def notification(self, notification_id: str) -> NotificationRecord | None: ...
    def notification_history(self, notification_id: str) -> list[dict[str, Any]]: ...
    def attachments(self, ids: list[str]) -> list[AttachmentRecord]: ...


class AdminStore(Protocol):
    """The store as the admin API and the metrics scrape use it: queues, dead letters,
    contacts and the suppression list."""

    def queue_depths(self) -> dict[str, int]: ...
    def notification_states(self) -> dict[str, int]: ...
    def oldest_undelivered(self) -> float | None: ...
    def quarantine_totals(self) -> tuple[int, int]: ...
    def dead_letters(self) -> list[dict[str, Any]]: ...
    def identities(self, contact_id: str) -> list[Sender]: ...
    def merges(self, contact_id: str) -> list[Merge]: ...
    def merged_into(self, contact_id: str) -> str | None: ...
    def suppressions(self, now: str) -> list[dict[str, Any]]: ...
    def suppress(
        self, channel: str, address: str, reason: str, since: str, until: str | None
    ) -> dict[str, Any]: ...
    def unsuppress(self, channel: str, address: str, *, reason: str | None = None) -> bool: ...


class ApiStore(TicketViewStore, DeliveryViewStore, AdminStore, Protocol):
    """The store as the HTTP API reads and writes it itself (updates, intake and dead-letter
    actions go through the daemon's services)."""


class Api:
    """Builds the routes; `daemon` is the running Daemon (duck-typed to avoid an import cycle),
    `store` its database as the API sees it."""

    def __init__(self, daemon: Any, store: Store[ApiStore]) -> None:
        self.daemon = daemon
        self.store = store

    def routes(self) -> list[BaseRoute]:
        """Every non-channel route."""
        backend, admin = self._guard("backend"), self._guard("admin")
        return [
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", self._guard("metrics")(self.metrics)),
            # The API's description is for the programs that hold a token, not for everyone.
            Route("/api/v1/openapi.json", self._guard("backend", "admin")(self.openapi)),
            Route("/api/v1/envelopes", backend(self.envelopes)),
            Route("/api/v1/tickets/{number}", backend(self.ticket)),
            Route("/api/v1/tickets/{number}/status", backend(self.status), methods=["POST"]),
            Route("/api/v1/tickets/{number}/replies", backend(self.reply), methods=["POST"]),
            Route(
                "/api/v1/tickets/{number}/attachments",
                backend(self.ticket_attachment),
                methods=["POST"],
            ),
            Route("/api/v1/notifications/{id}", backend(self.notification)),
            Route("/api/v1/attachments/{id}", backend(self.attachment)),
            Route("/api/v1/raw/{id}", backend(self.raw)),
            Route("/api/v1/admin/attachments/{id}", admin(self.admin_attachment)),
            Route("/api/v1/admin/status", admin(self.admin_status)),
            Route("/api/v1/admin/tickets/{number}", admin(self.admin_ticket)),
            Route("/api/v1/admin/dlq", admin(self.dlq_list)),
            Route("/api/v1/admin/dlq/replay", admin(self.dlq_replay_all), methods=["POST"]),
            # One route for both methods, so that a 405 there lists both in Allow.
            Route("/api/v1/admin/dlq/{id}", admin(self.dlq_letter), methods=["GET", "DELETE"]),
            Route("/api/v1/admin/dlq/{id}/replay", admin(self.dlq_replay), methods=["POST"]),
            Route("/api/v1/admin/contacts/{id}", admin(self.contact)),
            Route(
                "/api/v1/admin/suppressions",
                admin(self.suppressions),
                methods=["GET", "POST", "DELETE"],
            ),
            Route("/api/v1/admin/merges/{id}/undo", admin(self.undo_merge), methods=["POST"]),
        ]

    def _guard(self, *allowed: Role) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            async def guarded(request: Request) -> Response:
                header = request.headers.get("authorization", "")
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token:
                    return _error(
                        401,
                        "unauthorized",
                        "send Authorization: Bearer <token>",
                        {"WWW-Authenticate": 'Bearer realm="omnirouter"'},
                    )
                roles = self.daemon.token_roles(token.strip())
                if roles.isdisjoint(allowed):
                    if roles:
                        wanted = " or ".join(allowed)
                        return _error(
                            403, "forbidden", f"this token does not give the {wanted} role"
                        )
                    return _error(
                        401,
                        "unauthorized",
                        "unknown token",
                        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                    )
                return await handler(request)

            return guarded

        return decorate

    # -- health and metrics ------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        """Alive: the event loop answers."""
        return answer(Health("ok"))

    async def readyz(self, request: Request) -> Response:
        """Ready: recovery is done and the daemon is not draining."""
        channels = {
            f"{channel}/{account}": str(supervised.state)
            for (channel, account), supervised in self.daemon.supervisor.accounts.items()
        }
        if self.daemon.ready:
            return answer(Readiness("ready", channels))
        return answer(Readiness("not ready", channels), 503)

    async def metrics(self, request: Request) -> Response:
        """Prometheus text, with queue gauges read from the store at scrape time."""
        depths, states, oldest, quarantine = await self.store.read(_queue_snapshot)
        for queue, depth in depths.items():
            metrics.queue_depth.labels(queue).set(depth)
        for state in ("queued", "sending", "sent", "delivered", "failed", "dead", "dropped"):
            metrics.notifications.labels(state).set(states.get(state, 0))
        metrics.quarantine_files.set(quarantine[0])
        metrics.quarantine_bytes.set(quarantine[1])
        metrics.oldest_undelivered.set(0 if oldest is None else max(0.0, time.time() - oldest))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document of this API."""
        return JSONResponse(OPENAPI)

    # -- backend -----------------------------------------------------------------------------

    async def envelopes(self, request: Request) -> Response:
        """The pull feed: GET /api/v1/envelopes?after=CURSOR&limit=N&wait=SECONDS."""
        limits = self.daemon.settings.router.limits
        after = _whole_number(request.query_params.get("after") or "0")
        limit = _whole_number(request.query_params.get("limit") or "100")
        try:
            wait = float(request.query_params.get("wait") or 0)
        except ValueError:
            wait = math.nan
        if not (
            after is not None
            and after < _SQLITE_INTEGERS
            and limit is not None
            and 1 <= limit < _SQLITE_INTEGERS
            and 0 <= wait < math.inf  # NaN fails too
        ):
            return _error(
                400,
                "bad_query",
                f"after is 0 to {_SQLITE_INTEGERS - 1}, limit 1 to {_SQLITE_INTEGERS - 1} "
                "(decimal digits), wait a number of seconds >= 0",
            )
        bodies, cursor = await self.daemon.feed.page(
            after, min(limit, limits.feed_page), min(wait, limits.long_poll_seconds)
        )
        # The stored bodies are already the envelope JSON: spliced in as they are, not re-encoded.
        return answer(Page([msgspec.Raw(body) for body in bodies], str(cursor)))

    async def ticket(self, request: Request) -> Response:
        """A ticket with its status, category, channel and thread."""
        view = await self.store.read(
            lambda tx: _ticket_view(tx, request.path_params["number"], mask=None)
        )
        return answer(view) if view else _error(404, "not_found", "no such ticket")

    async def status(self, request: Request) -> Response:
        """Change a ticket's status; the citizen is notified."""
        return await self._update(request, StatusChange, self.daemon.updates.change_status)

    async def reply(self, request: Request) -> Response:
        """Send an operator's reply to the citizen."""
        return await self._update(request, Reply, self.daemon.updates.reply)

    async def ticket_attachment(self, request: Request) -> Response:
        """Upload a file for a reply: stored, typed and scanned like a citizen's, kept with the
        ticket, and held to the limits of the channel its citizen is answered on."""
        number = request.path_params["number"]
        ticket = await self.store.read(lambda tx: tx.ticket_record(number))
        if ticket is None:
            return _error(404, "not_found", f"no ticket {number}")
        channel = ticket_route(ticket).channel
        attachments = self.daemon.attachments
        limit = attachments.limits(channel).file + MULTIPART_OVERHEAD
        try:
            receipt = await upload_one_file(
                request, attachments, channel, f"ticket:{number}", limit=limit
            )
        except UploadRefused as exc:
            metrics.api_errors.labels(str(exc.response.status_code), exc.code).inc()
            return exc.response
        except AttachmentRefused as exc:
            status = {"file_too_large": 413, "storage_low": 503}.get(exc.code, 422)
            return _error(status, exc.code, exc.reason)
        scan = UploadScan(receipt.status, receipt.detail)
        return answer(ReplyFile(receipt.id, receipt.size, scan), 201)

    async def _update(
        self,
        request: Request,
        model: type[B],
        apply: Callable[[str, B, str | None], Awaitable[str]],
    ) -> Response:
        """Decode an update, apply it to the ticket, answer 202 with the notification id."""
        body = await _body(request, model)
        if isinstance(body, Response):
            return body
        try:
            notification_id = await apply(
                request.path_params["number"], body, request.headers.get("idempotency-key")
            )
        except UpdateRejected as exc:
            return _error(exc.status, exc.code, exc.message)
        return answer(Queued(notification_id), 202)

    async def notification(self, request: Request) -> Response:
        """Delivery state of one notification."""
        notification_id = request.path_params["id"]

        def read(tx: DeliveryViewStore) -> tuple[NotificationRecord | None, list[dict[str, Any]]]:
            return tx.notification(notification_id), tx.notification_history(notification_id)

        record, history = await self.store.read(read)
        if record is None:
            return _error(404, "not_found", "no such notification")
        return answer(
            Notification(
                id=record.id,
                state=State(record.state),
                history=msgspec.convert(history, list[Transition]),
                attempts=record.attempts,
                last_error=record.last_error,
                channel=record.channel,
                kind=record.kind,
                ticket=record.ticket_number,
                created_at=record.created_at,
            )
        )

    async def attachment(self, request: Request) -> Response:
        """A checked attachment's content; quarantined files are never served here."""
        return await self._attachment(request.path_params["id"], quarantined_ok=False)

    async def raw(self, request: Request) -> Response:
        """A message as its channel received it (an envelope's `raw`), byte for byte."""
        raw_id = request.path_params["id"]
        # ASCII digits within SQLite's integers: "²" is a digit to str.isdigit, not to int().
        found = re.fullmatch(r"[0-9]{1,18}", raw_id) is not None
        received = await self.daemon.intake.received(int(raw_id)) if found else None
        if received is None:
            return _error(404, "not_found", "no such raw message")
        payload = received.payload

        async def chunks() -> AsyncIterator[bytes]:
            yield payload

        extension = mimetypes.guess_extension(received.content_type.split(";")[0]) or ".bin"
        return file_response(
            chunks(),
            filename=f"{raw_id}{extension}",
            content_type=received.content_type,
            size=len(payload),
        )

    async def _attachment(self, attachment_id: str, *, quarantined_ok: bool) -> Response:
        records = await self.store.read(lambda tx: tx.attachments([attachment_id]))
        if not records:
            return _error(404, "not_found", "no such attachment")
        record = records[0]
        if record.quarantined and not quarantined_ok:
            return _error(403, "quarantined", f"{record.status}: {record.detail}")
        if record.status == "pending":
            return _error(409, "scan_pending", "the file has not been scanned yet")
        store = self.daemon.quarantine if record.quarantined else self.daemon.blobs
        return file_response(
            store.open(record.sha256),
            filename=record.filename,
            content_type=record.content_type,
            size=record.size,
            headers={"X-Omnirouter-Scan": record.status},
        )

    # -- admin ------------------------------------------------------------------------------

    async def admin_status(self, request: Request) -> Response:
        """Channels, queue depths and the oldest undelivered item."""
        return answer(await self.daemon.status())

    async def admin_ticket(self, request: Request) -> Response:
        """A ticket with its thread; personal data masked unless ?unmask=1."""
        mask = None
        if request.query_params.get("unmask") in ("1", "true", "yes"):
            _audit(request, "unmask", f"ticket {request.path_params['number']} viewed unmasked")
        else:  # ticket numbers (as [tickets] makes them) stay readable
            length = self.daemon.settings.router.tickets.pattern_length
            mask = functools.partial(mask_personal_data, ticket_length=length)
        view = await self.store.read(
            lambda tx: _ticket_view(tx, request.path_params["number"], mask=mask)
        )
        return answer(view) if view else _error(404, "not_found", "no such ticket")

    async def admin_attachment(self, request: Request) -> Response:
        """Any attachment's content, quarantined ones included (for analysts)."""
        _audit(request, "attachment", f"attachment {request.path_params['id']} downloaded")
        return await self._attachment(request.path_params["id"], quarantined_ok=True)

    async def dlq_list(self, request: Request) -> Response:
        """Every dead letter."""
        return answer(DeadLetters(await self.store.read(_dead_letters)))

    async def dlq_letter(self, request: Request) -> Response:
        """One dead letter: GET shows it, DELETE sets it aside."""
        if request.method == "DELETE":
            return await self.dlq_drop(request)
        return await self.dlq_show(request)

    async def dlq_show(self, request: Request) -> Response:
        """One dead letter."""
        wanted = request.path_params["id"]
        for letter in await self.store.read(_dead_letters):
            if letter.id == wanted:
                return answer(letter)
        return _error(404, "not_found", f"no dead letter {wanted}")

    async def dlq_replay(self, request: Request) -> Response:
        """Put one dead letter back in its queue."""
        return await self._dead_letter(request.path_params["id"], "replay")

    async def dlq_drop(self, request: Request) -> Response:
        """Set one dead letter aside for good."""
        return await self._dead_letter(request.path_params["id"], "drop")

    async def dlq_replay_all(self, request: Request) -> Response:
        """Put every dead letter back in its queue."""
        letters = await self.store.read(_dead_letters)
        # Only those still dead when their turn came: another admin may have acted meanwhile.
        replayed = [
            letter.id for letter in letters if await self.daemon.dead_letter(letter.id, "replay")
        ]
        return answer(Replayed(replayed))

    async def _dead_letter(self, letter_id: str, action: Literal["replay", "drop"]) -> Response:
        kind, _, key = letter_id.partition(":")
        if kind not in ("handoff", "notification", "intake") or not key:
            return _error(400, "bad_id", "a dead letter id looks like notification:ID")
        if kind == "handoff" and _whole_number(key) is None:
            return _error(400, "bad_id", "a handoff's dead letter id is handoff:SEQ, SEQ digits")
        if not await self.daemon.dead_letter(letter_id, action):
            return _error(404, "not_found", f"no dead letter {letter_id}")
        return answer(DeadLetterAction(letter_id, action))

    async def contact(self, request: Request) -> Response:
        """A contact's identities and merges."""
        contact_id = request.path_params["id"]

        def read(tx: AdminStore) -> Contact | None:
            identities = tx.identities(contact_id)
            merges = tx.merges(contact_id)
            if not identities and not merges:
                return None
            return Contact(
                id=contact_id,
                merged_into=tx.merged_into(contact_id),
                identities=[
                    Identity(i.kind, mask_personal_data(i.address), i.verified) for i in identities
                ],
                merges=merges,
            )

        view = await self.store.read(read)
        return answer(view) if view else _error(404, "not_found", "no such contact")

    async def suppressions(self, request: Request) -> Response:
        """The suppression list: GET lists it, POST adds, DELETE ?address=&channel= removes."""
        now = rfc3339(utc_now())
        if request.method == "GET":
            _audit(request, "suppressions", "the suppression list read")
            listed = await self.store.read(lambda tx: tx.suppressions(now))
            return answer(SuppressionList(msgspec.convert(listed, list[SuppressionEntry])))
        if request.method == "DELETE":
            address = request.query_params.get("address", "")
            try:
                channel, address = entry_key(address, request.query_params.get("channel"))
            except SuppressionRefused as exc:
                return _error(400, "bad_query", str(exc))
            removed = await self.store.write(lambda tx: tx.unsuppress(channel, address))
            if not removed:
                return _error(404, "not_found", "that address is not on the list")
            self.daemon.outbox.wake()
            return answer(Unsuppressed(address, channel, removed=True))
        body = await _body(request, Suppression)
        if isinstance(body, Response):
            return body
        try:
            channel, address = entry_key(body.address, body.channel)
            reason = checked_reason(body.reason)
        except SuppressionRefused as exc:
            return _error(422, "invalid", str(exc))
        try:
            until = None if body.until is None else planned_time(body.until)
        except ValueError as exc:
            return _error(422, "invalid", f"until: {exc}")
        entry = await self.store.write(lambda tx: tx.suppress(channel, address, reason, now, until))
        return answer(msgspec.convert(entry, SuppressionEntry), 201)

    async def undo_merge(self, request: Request) -> Response:
        """Undo a recorded merge of two contacts."""
        merge_id = _whole_number(request.path_params["id"])
        if merge_id is None:
            return _error(400, "bad_id", "a merge id is a positive integer (decimal digits)")
        # Merge ids count from 1, and SQLite could not even be asked about a larger one.
        if not (0 < merge_id < _SQLITE_INTEGERS and await self.daemon.undo_merge(merge_id)):
            return _error(404, "not_found", f"no merge {request.path_params['id']} to undo")
        return answer(MergeUndone(merge_id, undone=True))


# Integers SQLite can hold are below this: a larger id or cursor names nothing stored, and
# binding it would fail inside the database driver.
_SQLITE_INTEGERS = 2**63


def _whole_number(text: str) -> int | None:
    """`text` as a number written in ASCII digits only, or None; any value over 2^63 is 2^63."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    # Past 19 digits it is over 2^63 anyway, and int() of a very long text is refused or slow.
    return min(int(digits), _SQLITE_INTEGERS) if len(digits) <= 19 else _SQLITE_INTEGERS


def _queue_snapshot(
    tx: AdminStore,
) -> tuple[dict[str, int], dict[str, int], float | None, tuple[int, int]]:
    return (
        tx.queue_depths(),
        tx.notification_states(),
        tx.oldest_undelivered(),
        tx.quarantine_totals(),
    )


def _dead_letters(tx: AdminStore) -> list[DeadLetter]:
    return msgspec.convert(tx.dead_letters(), list[DeadLetter])


def _ticket_view(
    tx: TicketViewStore, number: str, *, mask: Callable[[str], str] | None
) -> Ticket | None:
    """A ticket with its thread and history; with `mask`, everything written about the citizen
    (the thread, and operators' comments, reasons and replies) passes through it."""
    ticket = tx.ticket_record(number)
    if ticket is None:
        return None
    envelopes = [envelope_decoder.decode(body) for body in tx.ticket_envelopes(number)]
    # The citizen's name is personal data too, wherever an operator or the citizen wrote it.
    names = [e.sender.display_name for e in envelopes if e.sender.display_name]

    def free_text(text: str) -> str:
        return text if mask is None else mask_names(mask(text), names)

    thread = []
    for envelope in envelopes:
        sender = envelope.sender
        text = free_text(envelope.text)
        if mask is not None:
            sender = msgspec.structs.replace(
                sender,
                address=free_text(sender.address),
                display_name="***" if sender.display_name else None,
            )
        thread.append(
            ThreadEntry(
                envelope_id=envelope.id,
                received_at=envelope.received_at,
                channel=envelope.channel,
                sender=sender,
                text=text,
                flags=envelope.flags,
                duplicate_of=envelope.duplicate_of,
            )
        )
    events = [
        msgspec.structs.replace(
            event,
            **{
                name: free_text(value)
                for name in _EVENT_TEXTS
                if isinstance(value := getattr(event, name), str)
            },
        )
        for event in msgspec.convert(tx.ticket_events(number), list[TicketEvent])
    ]
    return Ticket(
        number=ticket.number,
        status=ticket.status,
        status_comment=ticket.status_comment and free_text(ticket.status_comment),
        status_reason=ticket.status_reason and free_text(ticket.status_reason),
        expected_at=ticket.expected_at,
        category=Category(ticket.category_code, ticket.category_name),
        priority=ticket.priority,
        channel=ticket.channel,
        language=ticket.language,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        related=ticket.related,
        contact_id=ticket.contact_id,
        conversation_id=ticket.conversation_id,
        thread=thread,
        events=events,
        notifications=_ticket_notifications(tx, ticket.number),
    )


def _ticket_notifications(tx: TicketViewStore, number: str) -> list[TicketNotification]:
    """What was sent (or is on its way) to the citizen about a ticket."""
    fields = TicketNotification.__struct_fields__
    rows = [dict(zip(fields, row, strict=True)) for row in tx.ticket_notifications(number)]
    return msgspec.convert(rows, list[TicketNotification])


# The fields of a ticket event that hold free text.
_EVENT_TEXTS = ("comment", "reason", "text")


B = TypeVar("B")


async def _body(request: Request, model: type[B]) -> B | Response:
    """Decode a JSON body into `model`, or an error response saying what is wrong."""
    if (refused := limit_body(request, JSON_BODY_MAX)) is not None:
        metrics.api_errors.labels(str(refused.response.status_code), refused.code).inc()
        return refused.response
    try:
        return msgspec.json.decode(await request.body(), type=model)
    except msgspec.ValidationError as exc:
        return _error(422, "invalid", str(exc))
    except msgspec.DecodeError as exc:
        return _error(400, "bad_json", f"the body is not valid JSON: {exc}")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    metrics.api_errors.labels(str(status), code).inc()
    return problem(status, code, message, headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug answers 500 in the API's error format and is counted (Starlette logs it)."""
    return _error(500, "internal_error", "the request failed inside the daemon; it is logged")


def token_fingerprint(token: str) -> str:
    """Whose token, for the audit log (the token itself is a secret): 80 bits of its SHA-256 in
    base32. Not hex: twelve hex digits are all decimal one time in 250, and the log's masking
    then reads them as an INN and hides which token it was."""
    return base64.b32encode(hashlib.sha256(token.encode()).digest()[:10]).decode().lower()


def _audit(request: Request, kind: str, what: str) -> None:
    """152-FZ: an admin's access to personal data is recorded, with who and from where."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    log.warning(
        "%s through the admin API",
        what,
        extra={
            "audit": kind,
            "actor": "token:" + token_fingerprint(token),
            "client": request.client.host if request.client else None,
        },
    )


def build_app(
    api: Api,
    channel_routes: list[BaseRoute],
    body_timeout: Callable[[], float],
    proxies: Callable[[], tuple[IPNetwork, ...]],
    client_ip_header: Callable[[], str],
) -> Starlette:
    """One ASGI app for every listener route."""
    return Starlette(
        routes=[*api.routes(), *channel_routes],
        middleware=[
            Middleware(ClientAddress, trusted=proxies, header=client_ip_header),
            Middleware(BodyGuard, seconds=body_timeout, refused=_count_refusal),
        ],
        exception_handlers={Exception: _internal_error},
    )


def _count_refusal(status: int, code: str) -> None:
    metrics.api_errors.labels(str(status), code).inc()


def constant_time_member(token: str, tokens: frozenset[str]) -> bool:
    """True if `token` is in `tokens`, comparing every candidate so timing reveals nothing."""
    found = False
    for candidate in tokens:
        found |= hmac.compare_digest(token.encode(), candidate.encode())
    return found
