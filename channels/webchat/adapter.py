"""The web chat and feedback form channel: WebSocket intake, notices back, the form endpoint."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import msgspec
import trio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from channels.contract import (
    Acceptance,
    AttachmentPort,
    AttachmentRefused,
    IntakePort,
    Outbound,
    RawInbound,
    Sender,
    rfc3339,
)
from channels.http import (
    JSON_BODY_MAX,
    MULTIPART_OVERHEAD,
    UploadRefused,
    file_response,
    limit_body,
    read_form,
    receive_upload,
    upload_one_file,
)

from .config import WebchatSettings
from .frames import (
    Accepted,
    AcceptedCategory,
    AcceptedTicket,
    Error,
    Hello,
    Message,
    NoticeFile,
    NoticeFrame,
    Resume,
    Welcome,
    decode_client_frame,
    encode_frame,
)
from .limits import RateLimiter, retry_after
from .sessions import ChatSession, Notice, SessionStore

log = logging.getLogger(__name__)

BadInput = Callable[[str, str], None]
"""Counts malformed input: (channel, reason)."""

_STATIC = resources.files("channels.webchat").joinpath("static")
_STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}
# No inline script or style and no third party: the page works under the strictest policy.
_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'self'"
# What the citizen reads when files are refused over a limit (codes from AttachmentRefused).
_REFUSALS = {
    "file_too_large": "Файл слишком большой.",
    "too_many_attachments": "Слишком много файлов в одном сообщении.",
    "attachments_too_large": "Файлы одного сообщения слишком велики в сумме.",
    "unknown_attachment": "Файл не найден: загрузите его ещё раз.",
    "attachments_not_accepted": "Файлы здесь не принимаются.",
}
# What is limited per client: sessions and forms per address, messages and uploads per session.
RATE_LIMITED = ("session", "message", "upload", "form")
_RATE_LIMITED = "Слишком часто. Подождите немного и отправьте снова."
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s\-\u2010-\u2013\u00a0\u202f().]{6,30}$")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Frames queued for one connection. A notice or answer is a few hundred bytes, so a client this
# far behind has stopped reading: it is closed, and every notice is still in the session's
# history for its `resume`.
SEND_QUEUE = 64
# RFC 6455 7.4.1: 1001 going away (the server stops), 1008 policy violation (not reading).
GOING_AWAY, NOT_READING = 1001, 1008


class _Connection:
    """One open WebSocket. Its frames go through a queue that a writer task of its own drains,
    so whoever sends to it (the outbox, another tab's message) never waits on this client."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.session: ChatSession | None = None
        self._queue, self._frames = trio.open_memory_channel[str | int](SEND_QUEUE)
        self._scope = trio.CancelScope()

    def push(self, frame: msgspec.Struct) -> bool:
        """Queue a frame without waiting; False if this connection is closed or too far behind."""
        try:
            self._queue.send_nowait(encode_frame(frame).decode())
        except trio.WouldBlock:
            self.close(NOT_READING)
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    async def send(self, frame: msgspec.Struct) -> None:
        """Queue a frame of this connection's own conversation, waiting for room."""
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            await self._queue.send(encode_frame(frame).decode())

    def close(self, code: int) -> None:
        """Close with `code` after what is queued, or at once if the queue is full."""
        try:
            self._queue.send_nowait(code)
        except trio.WouldBlock:
            self._scope.cancel()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def serve(self, read: Callable[[], Awaitable[None]]) -> None:
        """Run `read` (the client's frames) beside the writer until either ends."""
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, nursery.cancel_scope)
                await read()
                nursery.cancel_scope.cancel()
        self._queue.close()

    async def _write(self, done: trio.CancelScope) -> None:
        async for item in self._frames:
            if isinstance(item, int):
                with contextlib.suppress(RuntimeError, trio.BrokenResourceError):
                    await self.ws.close(code=item)
                break
            if self.ws.application_state != WebSocketState.CONNECTED:
                break
            # The listener bounds this send ([http] send_timeout): a client that does not read
            # is disconnected there, and the reader then sees it leave.
            await self.ws.send_text(item)
        done.cancel()


class WebchatChannel:
    """Serves /chat/ and its WebSocket, delivers notices, and takes the feedback form."""

    name = "webchat"

    def __init__(
        self,
        intake: IntakePort,
        attachments: AttachmentPort,
        sessions: SessionStore,
        settings: Callable[[], WebchatSettings],
        bad_input: BadInput,
    ) -> None:
        self.intake = intake
        self.attachments = attachments
        self.sessions = sessions
        self.settings = settings
        self.bad_input = bad_input
        self._live: dict[str, set[_Connection]] = {}
        self._open: set[_Connection] = set()

        def rate(kind: str) -> Callable[[], tuple[float, int]]:
            def current() -> tuple[float, int]:
                limits = self.settings().rate_limits
                return getattr(limits, f"{kind}_rate"), getattr(limits, f"{kind}_burst")

            return current

        self._limiters = {kind: RateLimiter(rate(kind)) for kind in RATE_LIMITED}

    def routes(self) -> list[BaseRoute]:
        """The HTTP and WebSocket routes of this channel."""
        return [
            Route("/chat", lambda _: RedirectResponse("/chat/", 308), methods=["GET"]),
            Route("/chat/", self._static, methods=["GET"]),
            WebSocketRoute("/chat/ws", self._websocket),
            Route("/chat/upload", self._upload, methods=["POST"]),
            Route("/chat/files/{id:str}", self._download, methods=["GET"]),
            Route("/chat/files/{id:str}", self._download_preflight, methods=["OPTIONS"]),
            # Last: a method that no route above takes gets their Allow header, not this one's.
            Route("/chat/{name:str}", self._static, methods=["GET"]),
            Route("/api/v1/forms/feedback", self._feedback, methods=["POST"]),
        ]

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return len(self._open)

    def close_all(self) -> None:
        """Close every chat socket with 1001 (going away): the widget reconnects elsewhere."""
        for conn in list(self._open):
            conn.close(GOING_AWAY)

    async def deliver(self, message: Outbound) -> bool:
        """Append a notice to the session's history; True if pushed to an open connection."""
        notice = await self.sessions.append(
            message.address,
            message.id,
            message.kind,
            message.ticket,
            message.text,
            message.attachments,
        )
        frame = _notice_frame(notice)
        # Never waits on a client: one that does not read is closed and gets it on resume.
        pushed = [conn.push(frame) for conn in list(self._live.get(message.address, ()))]
        return any(pushed)

    # -- static page -------------------------------------------------------------------------

    async def _static(self, request: Request) -> Response:
        name = request.path_params.get("name", "index.html")
        media_type = _STATIC_TYPES.get(name)
        if media_type is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        body = _STATIC.joinpath(name).read_bytes()
        return Response(
            body,
            media_type=media_type,
            headers={
                "Content-Security-Policy": _CSP,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # -- WebSocket protocol ------------------------------------------------------------------

    async def _websocket(self, ws: WebSocket) -> None:
        settings = self.settings()
        allowed = _origin_allowed(
            ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins
        )
        if not settings.enabled or not allowed:
            self.bad_input(self.name, "origin_refused" if settings.enabled else "disabled")
            await ws.close(code=1008)  # before accept: the handshake is answered with 403
            return
        await ws.accept()
        conn = _Connection(ws)
        self._open.add(conn)

        async def read() -> None:
            while True:
                event = await ws.receive()
                if event["type"] == "websocket.disconnect":
                    return
                text = event.get("text")
                if text is None:
                    await self._reject(conn, "binary_frame", "Ожидается текстовый кадр JSON.")
                    continue
                await self._on_frame(conn, text)

        try:
            await conn.serve(read)
        except WebSocketDisconnect:
            pass
        finally:
            self._open.discard(conn)
            if conn.session is not None:
                live = self._live.get(conn.session.id)
                if live is not None:
                    live.discard(conn)
                    if not live:
                        del self._live[conn.session.id]

    async def _on_frame(self, conn: _Connection, text: str) -> None:
        try:
            frame = decode_client_frame(text)
        except msgspec.ValidationError as exc:
            await self._reject(conn, "bad_frame", f"Неверный кадр: {exc}")
            return
        except (msgspec.DecodeError, RecursionError):  # deep nesting is a malformed frame too
            await self._reject(conn, "bad_json", "Кадр не является корректным JSON.")
            return
        if isinstance(frame, Hello):
            await self._hello(conn, frame)
        elif conn.session is None:
            client_id = frame.client_id if isinstance(frame, Message) else None
            await self._reject(conn, "hello_required", "Сначала отправьте кадр hello.", client_id)
        elif isinstance(frame, Message):
            await self._message(conn, conn.session, frame)
        elif isinstance(frame, Resume):
            for notice in await self.sessions.notices_after(conn.session.id, frame.after_seq):
                await conn.send(_notice_frame(notice))

    async def _hello(self, conn: _Connection, hello: Hello) -> None:
        if hello.identity is not None:
            # Signed portal identities come with the citizen widget; until then the session
            # stays anonymous rather than trusting an unsigned claim.
            await self._reject(
                conn,
                "identity_not_supported",
                "Подтверждённая личность портала пока не поддерживается.",
            )
        session = None
        token = hello.session
        if token:
            session = await self.sessions.find(_token_hash(token))
        if session is None:
            client = conn.ws.client
            if wait := self._over_limit("session", client.host if client else "unknown"):
                await self._reject(conn, "rate_limited", _RATE_LIMITED, retry_after=wait)
                return
            token = secrets.token_urlsafe(32)
            session = await self.sessions.create(_token_hash(token), hello.lang[:8], None)
        assert token is not None
        if conn.session is not None:
            self._live.get(conn.session.id, set()).discard(conn)
        conn.session = session
        self._live.setdefault(session.id, set()).add(conn)
        ticket = await self.sessions.current_ticket(session.id)
        await conn.send(Welcome(token, ticket, session.last_seq))

    async def _message(self, conn: _Connection, session: ChatSession, message: Message) -> None:
        if wait := self._over_limit("message", session.id):
            await self._reject(
                conn, "rate_limited", _RATE_LIMITED, message.client_id, retry_after=wait
            )
            return
        settings = self.settings()
        problem = _check_message(message, settings)
        if problem is None and message.attachments:
            try:
                await self.attachments.check_message(
                    message.attachments, channel="webchat", owner=session.id
                )
            except AttachmentRefused as exc:
                problem = (exc.code, _REFUSALS.get(exc.code, exc.reason))
        if problem is not None:
            await self._reject(conn, *problem, client_id=message.client_id)
            return
        raw = RawInbound(
            channel="webchat",
            account=settings.account,
            idempotency_key=f"{session.id}:{message.client_id}",
            channel_message_id=message.client_id,
            # Verified: only the holder of the session's bearer token can write as it.
            sender=Sender("webchat", session.id, verified=True),
            text=message.text,
            received_at=rfc3339(datetime.now(UTC)),
            topic=message.topic,
            conversation_hint=f"chat:{session.id}",
            language_hint=session.language,
            attachment_ids=list(message.attachments),
        )
        try:
            acceptance = await self.intake.accept(raw)
        except Exception:
            # Nothing was persisted (e.g. the disk is full): say so, so the widget retries the
            # same client_id later, instead of dropping the connection without an answer.
            log.exception("a chat message could not be persisted")
            await self._reject(
                conn,
                "unavailable",
                "Сообщение не сохранено, повторите попытку позже.",
                message.client_id,
            )
            return
        await conn.send(
            Accepted(message.client_id, acceptance.envelope_id, _accepted_ticket(acceptance))
        )

    async def _reject(
        self,
        conn: _Connection,
        code: str,
        message: str,
        client_id: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        self.bad_input(self.name, code)
        await conn.send(Error(code, message, client_id, retry_after))

    def _over_limit(self, kind: str, key: str) -> int:
        """0 if `key` may go on, else the whole seconds it must wait (and it is counted)."""
        wait = self._limiters[kind].take(key)
        if not wait:
            return 0
        self.bad_input("form" if kind == "form" else self.name, f"rate_limited_{kind}")
        return retry_after(wait)

    # -- uploads ------------------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        """POST /chat/upload: one file for the session named by X-Chat-Session."""
        settings = self.settings()
        session = await self._session_of(request)
        if not settings.enabled or session is None:
            self.bad_input(self.name, "upload_without_session")
            return _problem(401, "no_session", "send the chat session token in X-Chat-Session")
        if wait := self._over_limit("upload", session.id):
            return _too_many(wait)
        limit = self.attachments.limits("webchat").file + MULTIPART_OVERHEAD
        try:
            receipt = await upload_one_file(
                request, self.attachments, "webchat", session.id, limit=limit
            )
        except UploadRefused as exc:
            self.bad_input(self.name, exc.code)
            return exc.response
        except AttachmentRefused as exc:
            self.bad_input(self.name, exc.code)
            return _problem(413, exc.code, _REFUSALS.get(exc.code, exc.reason))
        return JSONResponse(
            {
                "upload_id": receipt.id,
                "size": receipt.size,
                "scan": {"status": receipt.status, "detail": receipt.detail},
            },
            status_code=201,
        )

    async def _session_of(self, request: Request) -> ChatSession | None:
        """The session whose token the request carries in X-Chat-Session."""
        token = request.headers.get("x-chat-session", "")
        return await self.sessions.find(_token_hash(token)) if token else None

    def _cors(self, request: Request) -> dict[str, str]:
        """CORS headers for the widget embedded on a configured origin's pages, else none.

        The session token travels in a header, so a cross-origin fetch is preflighted; only the
        pages of allowed_origins may read the answer (the same list that may open chats).
        """
        origin = request.headers.get("origin")
        if origin is None or origin not in self.settings().allowed_origins:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    async def _download_preflight(self, request: Request) -> Response:
        """OPTIONS /chat/files/{id}: may the embedding page send X-Chat-Session with a GET?"""
        allowed = self._cors(request)
        if not allowed:
            return Response(status_code=403)
        return Response(
            status_code=204,
            headers={
                **allowed,
                "Access-Control-Allow-Methods": "GET",
                "Access-Control-Allow-Headers": "X-Chat-Session",
                "Access-Control-Max-Age": "600",
            },
        )

    async def _download(self, request: Request) -> Response:
        """GET /chat/files/{id}: a file an operator sent to the session named by X-Chat-Session."""
        session = await self._session_of(request)
        if session is None:
            return _problem(401, "no_session", "send the chat session token in X-Chat-Session")
        attachment_id = request.path_params["id"]
        found = None
        if await self.sessions.was_sent(session.id, attachment_id):
            found = await self.attachments.content(attachment_id)
        if found is None:  # never sent to this session, or no longer clean: the same answer
            return _problem(404, "not_found", "no such file in this chat")
        described, chunks = found
        return file_response(
            chunks,
            filename=described.filename,
            content_type=described.content_type,
            size=described.size,
            headers=self._cors(request),
        )

    # -- feedback form ----------------------------------------------------------------------

    async def _feedback(self, request: Request) -> Response:
        settings = self.settings()
        if not settings.enabled:
            return _problem(503, "disabled", "the feedback form is switched off")
        if wait := self._over_limit("form", request.client.host if request.client else "unknown"):
            return _too_many(wait)
        multipart = request.headers.get("content-type", "").startswith("multipart/")
        limit = (
            self.attachments.limits("form").message + MULTIPART_OVERHEAD
            if multipart
            else (JSON_BODY_MAX)
        )
        if (refused := limit_body(request, limit)) is not None:
            self.bad_input("form", refused.code)
            return refused.response
        allowed = min(settings.form.max_files, self.attachments.limits("form").count)
        try:
            # One part more than allowed is read so that too many files is said as such.
            fields, files = await _form_fields(request, allowed + 1)
        except ValueError as exc:
            self.bad_input("form", "unreadable")
            return _problem(400, "unreadable", str(exc))
        errors = _check_form(fields, settings)
        if errors or len(files) > allowed:
            for file in files:  # nothing is stored for a submission that is refused whole
                await file.close()
        if errors:
            self.bad_input("form", "invalid")
            return JSONResponse(
                {"error": "invalid", "message": "Проверьте поля формы.", "fields": errors},
                status_code=422,
            )
        if len(files) > allowed:
            self.bad_input("form", "too_many_attachments")
            return _problem(413, "too_many_attachments", _REFUSALS["too_many_attachments"])
        try:
            receipts = [await receive_upload(f, self.attachments, "form", None) for f in files]
            attachment_ids = [receipt.id for receipt in receipts]
            digests = [receipt.sha256 for receipt in receipts]
            await self.attachments.check_message(attachment_ids, channel="form", owner=None)
        except AttachmentRefused as exc:
            self.bad_input("form", exc.code)
            return _problem(413, exc.code, _REFUSALS.get(exc.code, exc.reason))
        finally:
            for file in files:
                await file.close()
        form = settings.form
        email, phone = fields.get("email", ""), fields.get("phone", "")
        name = fields.get("name") or None
        declared = [Sender("email", email, name), Sender("phone", phone, name)]
        sender = next(s for s in declared if s.address)
        # The same submission (fields and file contents) sent again is a redelivery. A caller's
        # Idempotency-Key only scopes that: with someone else's key but other content, it is a
        # request of its own, so a guessed key reveals nobody's ticket.
        key = hashlib.sha256(
            "\x1f".join(
                [
                    request.headers.get("Idempotency-Key", ""),
                    *(fields.get(k, "") for k in ("name", "phone", "email", "type", "text")),
                    *sorted(digests),
                ]
            ).encode()
        ).hexdigest()
        raw = RawInbound(
            channel="form",
            account=form.account,
            idempotency_key=key,
            channel_message_id=key,
            sender=sender,
            text=fields["text"],
            received_at=rfc3339(datetime.now(UTC)),
            topic=form.types.get(fields.get("type", "")) or None,
            declared=[s for s in declared if s.address],
            attachment_ids=attachment_ids,
        )
        try:
            acceptance = await self.intake.accept(raw)
        except Exception:
            log.exception("a feedback form could not be persisted")
            return _problem(503, "unavailable", "the request was not stored; send it again later")
        return JSONResponse(
            {"ticket": acceptance.ticket_number, "envelope_id": acceptance.envelope_id},
            status_code=201,
        )


def _check_message(message: Message, settings: WebchatSettings) -> tuple[str, str] | None:
    """Why a chat message cannot be taken, as (code, message), or None."""
    if not 1 <= len(message.client_id) <= 128:
        return "bad_client_id", "client_id должен быть строкой от 1 до 128 символов."
    if not message.attachments and not _has_visible_text(message.text):
        return "empty_text", "Сообщение пустое."
    if len(message.text) > settings.max_text_chars:
        return "text_too_long", (
            f"Сообщение длиннее {settings.max_text_chars} символов; сократите его или "
            "приложите файл."
        )
    return None


def _origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Whether a page of `origin` may open a chat socket (RFC 6455 10.2: the server decides).

    Browsers send Origin on every WebSocket handshake, and it is their pages the check keeps
    out; a program sends none (and could send any), so none is not refused.
    """
    if origin is None:
        return True
    if allowed:
        return origin in allowed
    # Nothing configured: only this daemon's own page, /chat/, served from the same origin.
    return urlsplit(origin).netloc == host


def _has_visible_text(text: str) -> bool:
    """True when the text shows something: NULs, controls and spaces alone are an empty message."""
    return any(c.isprintable() and not c.isspace() for c in text)


def _accepted_ticket(acceptance: Acceptance) -> AcceptedTicket | None:
    if acceptance.ticket_number is None:
        return None
    return AcceptedTicket(
        acceptance.ticket_number,
        acceptance.ticket_is_new,
        AcceptedCategory(acceptance.category_code or "", acceptance.category_name or ""),
    )


def _notice_frame(notice: Notice) -> NoticeFrame:
    files = [
        NoticeFile(f.id, f.filename, f.content_type, f.size, f"/chat/files/{f.id}")
        for f in notice.attachments
    ]
    return NoticeFrame(notice.seq, notice.kind, notice.ticket, notice.text, notice.at, files)


async def _form_fields(request: Request, max_files: int) -> tuple[dict[str, str], list[UploadFile]]:
    """The form's text fields and files from JSON, urlencoded or multipart bodies."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body: Any = msgspec.json.decode(await request.body())
        except (msgspec.DecodeError, RecursionError) as exc:
            raise ValueError(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return {k: v.strip() for k, v in body.items() if isinstance(v, str)}, []
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        try:
            form = await read_form(request, max_files=max_files, max_fields=20)
        except Exception as exc:  # python-multipart raises several types for a broken body
            raise ValueError(f"unreadable form: {exc}") from exc
        fields = {k: v.strip() for k, v in form.multi_items() if isinstance(v, str)}
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        return fields, files
    raise ValueError("send application/json, multipart/form-data or urlencoded fields")


def _check_form(fields: dict[str, str], settings: WebchatSettings) -> dict[str, str]:
    """Field errors of a feedback form, by field name."""
    errors = {}
    text = fields.get("text", "")
    if not _has_visible_text(text):  # zero-width and control characters alone say nothing
        errors["text"] = "Опишите вопрос."
    elif len(text) > settings.max_text_chars:
        errors["text"] = f"Не длиннее {settings.max_text_chars} символов."
    if len(fields.get("name", "")) > settings.form.max_name_chars:
        errors["name"] = f"Не длиннее {settings.form.max_name_chars} символов."
    for field in ("name", "email", "phone"):
        # A right-to-left override or a zero-width joiner in a name or an address shows
        # operators something other than what is stored (CVE-2021-42574, "Trojan Source").
        if any(unicodedata.category(c) in ("Cc", "Cf") for c in fields.get(field, "")):
            errors[field] = "Уберите невидимые и управляющие символы."
    email, phone = fields.get("email", ""), fields.get("phone", "")
    if not email and not phone:
        errors["email"] = "Укажите электронную почту или телефон для ответа."
    if email and not _EMAIL.match(email):
        errors["email"] = "Адрес почты выглядит неверно."
    if phone and (not _PHONE_CHARS.match(phone) or not 10 <= sum(c.isdigit() for c in phone) <= 15):
        errors["phone"] = "Номер телефона выглядит неверно."
    kind = fields.get("type", "")
    if kind and kind not in settings.form.types:
        errors["type"] = "Неизвестный тип обращения: " + ", ".join(settings.form.types)
    return errors


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _too_many(wait: int) -> JSONResponse:
    """429 with Retry-After (RFC 6585 4); the unread body goes with the connection."""
    return JSONResponse(
        {"error": "rate_limited", "message": _RATE_LIMITED, "retry_after": wait},
        status_code=429,
        headers={"Retry-After": str(wait), "Connection": "close"},
    )
