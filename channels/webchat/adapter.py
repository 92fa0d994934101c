"""The web chat: WebSocket intake, uploads, and notices back to the citizen's sessions."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from urllib.parse import urlsplit

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from channels.contract import (
    Acceptance,
    AccountSpec,
    AttachmentRefused,
    Channel,
    Deliver,
    Lane,
    Outbound,
    Ports,
    RawInbound,
    Sender,
    Sent,
    rfc3339,
)
from channels.http import (
    MULTIPART_OVERHEAD,
    UploadRefused,
    UploadScan,
    address_key,
    answer,
    file_response,
    problem,
    upload_one_file,
)
from channels.settings import read_secret

from .config import WebchatSettings
from .frames import (
    Accepted,
    AcceptedTicket,
    Contact,
    ContactSaved,
    Error,
    Hello,
    Message,
    NoticeFile,
    NoticeFrame,
    Offline,
    Resume,
    TicketCategory,
    TicketItem,
    Welcome,
    decode_client_frame,
    encode_frame,
)
from .identity import IdentityInvalid, PortalUser, verify
from .limits import ClientLimits
from .offline import (
    TRANSITIONS,
    Activity,
    ContactInvalid,
    Presence,
    contact_addresses,
    offline_text,
)
from .refusals import RATE_LIMITED, REFUSALS, has_visible_text, refused_file, too_many
from .sessions import ChatSession, ChatSessions, Notice

log = logging.getLogger(__name__)


class Upload(msgspec.Struct, frozen=True):
    """A file stored for a chat session; its `upload_id` goes in a message's attachments."""

    upload_id: str
    size: int
    scan: UploadScan


class ChatLimits(msgspec.Struct, frozen=True):
    """What the widget checks before an upload: bytes of a file and of one message's files,
    files per message, and the types accepted (as `[attachments] allowed` names them)."""

    file: int
    message: int
    count: int
    types: list[str]


class ChatTopic(msgspec.Struct, frozen=True):
    """A topic the citizen may pick before the first message: a category's code and name."""

    code: str
    name: str


class ChatConfig(msgspec.Struct, frozen=True):
    """GET /chat/config: topics in the language asked for, upload limits, and the seconds
    without activity after which the dialogue goes offline."""

    topics: list[ChatTopic]
    limits: ChatLimits
    inactivity_timeout: int


_STATIC = resources.files("channels.webchat").joinpath("static")
_STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}
# No inline script or style and no third party: the page works under the strictest policy.
_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'self'"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Frames queued for one connection. A notice or answer is a few hundred bytes, so a client this
# far behind has stopped reading: it is closed, and every notice is still in the session's
# history for its `resume`.
SEND_QUEUE = 64
# Notices a resume reads from the history at a time (_resume).
RESUME_PAGE = 100
# RFC 6455 7.4.1: 1001 going away (the server stops), 1008 policy violation (not reading).
GOING_AWAY, NOT_READING = 1001, 1008
# A socket must say hello within this long: the widget sends it on open, so ten seconds allow
# for a slow mobile link; a socket that says nothing holds a connection for nothing.
HELLO_TIMEOUT = 10.0
# CONTRACTS.md: welcome.tickets lists the tickets of the last 183 days, the six months
# DOMAIN.md keeps chat history for at least.
HISTORY = timedelta(days=183)


class _Connection:
    """One open WebSocket. Its frames go through a queue that a writer task of its own drains,
    so whoever sends to it (the outbox, another tab's message) never waits on this client."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        # Keyed once: parsing the address again for every message costs more than its limit.
        self.address = address_key(ws.client.host if ws.client else "")
        self.session: ChatSession | None = None
        # When the client must have said hello, then when the dialogue goes offline (trio time).
        self.deadline = trio.current_time() + HELLO_TIMEOUT
        self.presence = Presence.ACTIVE
        self._queue, self._frames = trio.open_memory_channel[str | int](SEND_QUEUE)
        self._scope = trio.CancelScope()

    def touch(self, activity: Activity, timeout: float) -> None:
        """The client was active: the dialogue is (back) online for another `timeout` s."""
        self.presence = TRANSITIONS[(self.presence, activity)]
        self.deadline = trio.current_time() + timeout

    def idle(self) -> bool:
        """Its deadline passed without activity: True if the dialogue has just gone offline."""
        before, self.presence = self.presence, TRANSITIONS[(self.presence, Activity.IDLE)]
        self.deadline = math.inf  # offline until the client comes back
        return before is Presence.ACTIVE and self.presence is Presence.OFFLINE

    def push(self, frame: msgspec.Struct) -> bool:
        """Queue a frame without waiting; False if this client is too far behind (it is closed:
        it catches up with resume)."""
        try:
            self._queue.send_nowait(encode_frame(frame).decode())
        except trio.WouldBlock:
            self.close(NOT_READING)
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass  # closed meanwhile: the notice is in the history
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
    """The chat's account: serves /chat/ and its WebSocket, and delivers notices to sessions."""

    channel: Channel = "webchat"
    # Pushing a notice is a write to the session's history and a queue: quick and many at once.
    lane = Lane(concurrency=64, attempt_timeout=10.0)

    def __init__(self, spec: AccountSpec, settings: Callable[[], WebchatSettings], ports: Ports):
        self.account = spec.account
        self.settings = settings
        self.intake = ports.intake
        self.attachments = ports.attachments
        self.tickets = ports.tickets
        self.config_dir = ports.config_dir
        self.sessions = ChatSessions(ports.state)
        self.bad_input = ports.bad_input
        self.limits = ClientLimits(
            ("session", "message", "address_message", "upload", "address_upload"),
            lambda: settings().rate_limits,
            lambda reason: ports.bad_input(self.channel, reason),
        )
        self._live: dict[str, set[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._per_address: Counter[str] = Counter()  # open sockets by client address
        self._stopping = False

    def routes(self) -> Sequence[BaseRoute]:
        """The HTTP and WebSocket routes of this channel."""
        return [
            Route("/chat", lambda _: RedirectResponse("/chat/", 308), methods=["GET"]),
            Route("/chat/", self._static, methods=["GET"]),
            WebSocketRoute("/chat/ws", self._websocket),
            Route("/chat/config", self._config, methods=["GET"]),
            Route("/chat/upload", self._upload, methods=["POST"]),
            Route("/chat/upload", self._preflight("POST"), methods=["OPTIONS"]),
            Route("/chat/files/{id:str}", self._download, methods=["GET"]),
            Route("/chat/files/{id:str}", self._preflight("GET"), methods=["OPTIONS"]),
            # Last: a method that no route above takes gets their Allow header, not this one's.
            Route("/chat/{name:str}", self._static, methods=["GET"]),
        ]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Up while the listener serves the routes; sessions live in the store."""
        task_status.started()
        await trio.sleep_forever()

    def stop_intake(self) -> None:
        """Take no new sockets or uploads, and close every chat socket with 1001 (going away):
        the widget reconnects elsewhere."""
        self._stopping = True
        for conn in list(self._open):
            conn.close(GOING_AWAY)

    def detail(self) -> dict[str, object]:
        """Open WebSocket connections."""
        return {"connections": len(self._open)}

    @property
    def websocket_max_message(self) -> int:
        """`max_frame_bytes`: a longer message closes the socket with 1009."""
        return self.settings().max_frame_bytes

    @property
    def deliver(self) -> Deliver:
        """Notices go into the session's history and to its open sockets."""
        return self._deliver

    async def _deliver(self, message: Outbound) -> Sent:
        """Append a notice to the session's history and push it to the session's sockets."""
        self._push(message.address, await self.sessions.append(message.address, message))
        # Sent: it is in the session's history and on its way; no receipt says it was read.
        return Sent()

    def _push(self, address: str, notice: Notice) -> None:
        """A new entry of the history to every open socket of the address. Never waits on a
        client: one that does not read is closed and gets it on resume."""
        frame = _notice_frame(notice)
        for conn in list(self._live.get(address, ())):
            if not conn.push(frame):
                self.bad_input(self.channel, "not_reading")

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
        if self._stopping or not allowed:
            self.bad_input(self.channel, "origin_refused" if allowed else "stopping")
            await ws.close(code=1008)  # before accept: the handshake is answered with 403
            return
        conn = _Connection(ws)
        if self._per_address[conn.address] >= settings.max_sockets_per_address:
            self.bad_input(self.channel, "too_many_sockets")
            await ws.close(code=1008)  # 403, as above; the widget tries again after a backoff
            return
        # Counted before the accept, which waits: handshakes arriving together all see the
        # ones before them.
        self._per_address[conn.address] += 1

        async def read() -> None:
            while True:
                event = None
                with trio.move_on_at(conn.deadline):
                    event = await ws.receive()
                if event is None:
                    if conn.session is None:
                        # A socket that never says hello holds a connection for nothing.
                        self.bad_input(self.channel, "no_hello")
                        await ws.close(code=NOT_READING)
                        return
                    # An upload may have moved the deadline on while this receive waited.
                    if trio.current_time() >= conn.deadline and conn.idle():
                        await conn.send(Offline(offline_text(conn.session.language)))
                    continue
                if event["type"] == "websocket.disconnect":
                    return
                text = event.get("text")
                if text is None:
                    await self._reject(conn, "binary_frame", "Ожидается текстовый кадр JSON.")
                else:
                    await self._on_frame(conn, text)
                if conn.session is not None:  # any frame, even a bad one, is the citizen back
                    self._active(conn.session, Activity.FRAME)

        try:
            await ws.accept()
            self._open.add(conn)
            await conn.serve(read)
        except WebSocketDisconnect:
            pass
        finally:
            self._open.discard(conn)
            self._per_address[conn.address] -= 1
            if not self._per_address[conn.address]:
                del self._per_address[conn.address]
            self._leave(conn)

    def _active(self, session: ChatSession, activity: Activity) -> None:
        """The session's client did something: each of its connections (tabs) is online for
        another inactivity_timeout."""
        timeout = self.settings().inactivity_timeout
        for conn in self._live.get(session.address, ()):
            if conn.session is not None and conn.session.id == session.id:
                conn.touch(activity, timeout)

    def _leave(self, conn: _Connection) -> None:
        """The connection no longer receives its session's notices."""
        if conn.session is None:
            return
        live = self._live.get(conn.session.address)
        if live is not None:
            live.discard(conn)
            if not live:
                del self._live[conn.session.address]

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
            await self._resume(conn, conn.session, frame.after_seq)
        elif isinstance(frame, Contact):
            await self._contact(conn, conn.session, frame)

    async def _resume(self, conn: _Connection, session: ChatSession, after: int) -> None:
        """Replay the session's notices after `after`, a page at a time: a long history is
        neither held whole in memory nor read in one go under the store's read lock, and a
        client that reads slowly holds one page back, not all of it."""
        while notices := await self.sessions.notices_after(session.address, after, RESUME_PAGE):
            for notice in notices:
                await conn.send(_notice_frame(notice))
            if len(notices) < RESUME_PAGE:
                return
            after = notices[-1].seq

    async def _hello(self, conn: _Connection, hello: Hello) -> None:
        user = None
        if hello.identity is not None:
            # Counted as a new session whatever it turns out to be: checking one reads the key.
            if wait := self.limits.over("session", conn.address):
                await self._reject(conn, "rate_limited", RATE_LIMITED, retry_after=wait)
                return
            try:
                user = await self._portal_user(hello.identity)
            except IdentityInvalid as exc:
                # No session: a forged or stale identity must not fall back to an anonymous
                # chat the citizen would take for their own.
                log.info("a portal identity was refused: %s", exc.reason)
                await self._reject(
                    conn,
                    "identity_invalid",
                    f"Вход через портал не подтверждён ({exc.reason}); обновите страницу портала.",
                )
                return
        session = None
        token = hello.session
        if token:
            session = await self.sessions.find(_token_hash(token))
        if session is not None and user is not None and session.identity != user.user_id:
            # The portal now vouches for someone else (or for the anonymous visitor who logged
            # in): their own session, not this one's history.
            session = None
        if session is None:
            if user is None and (wait := self.limits.over("session", conn.address)):
                await self._reject(conn, "rate_limited", RATE_LIMITED, retry_after=wait)
                return
            token = secrets.token_urlsafe(32)
            session = await self.sessions.create(_token_hash(token), hello.lang[:8], user)
        elif user is not None:
            # The portal signs what it knows now: a phone changed there is this person's from
            # now on, and the old one, perhaps someone else's by now, no longer vouched for.
            session = await self.sessions.vouch(session, user)
        assert token is not None
        self._leave(conn)
        conn.session = session
        self._live.setdefault(session.address, set()).add(conn)
        ticket = await self.tickets.current_ticket(_conversation(session))
        since = rfc3339(datetime.now(UTC) - HISTORY)
        tickets = [
            TicketItem(t.number, t.status, TicketCategory(t.category_code, t.category_name))
            for t in await self.tickets.contact_tickets(_sender(session), since, session.language)
        ]
        verified = session.identity is not None
        await conn.send(Welcome(token, ticket, session.last_seq, verified, tickets))

    async def _portal_user(self, identity: dict[str, object]) -> PortalUser:
        """The portal user a signed identity proves, with the key read now (a new key file
        takes effect without a reload); IdentityInvalid if it proves nobody."""
        settings = self.settings()
        if settings.identity_secret_file is None:
            log.error(
                "a portal identity was presented, but channels/webchat.toml sets no "
                "identity_secret_file: every chat stays anonymous until it does"
            )
            raise IdentityInvalid("signed identities are not configured")
        path = self.config_dir / settings.identity_secret_file
        try:
            secret = await trio.to_thread.run_sync(read_secret, path)
            key = secret.decode("utf-8").strip().encode()
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            log.error("identity_secret_file %s cannot be read: %s", path, exc)
            raise IdentityInvalid("the identity key cannot be read") from None
        if not key:
            log.error("identity_secret_file %s is empty", path)
            raise IdentityInvalid("the identity key cannot be read")
        return verify(identity, key, time.time(), settings.identity_max_age)

    async def _contact(self, conn: _Connection, session: ChatSession, contact: Contact) -> None:
        """Notices of the chat's tickets go to the email or phone the citizen leaves, too."""
        if wait := self.limits.over("message", session.id):
            await self._reject(conn, "rate_limited", RATE_LIMITED, retry_after=wait)
            return
        try:
            addresses = contact_addresses(contact.email, contact.phone)
        except ContactInvalid as exc:
            await self._reject(conn, exc.code, exc.message)
            return
        try:
            await self.tickets.declare_recipients(_conversation(session), addresses)
        except Exception:
            log.exception("a chat contact could not be saved")
            await self._reject(conn, "unavailable", "Контакт не сохранён, повторите позже.")
            return
        await conn.send(ContactSaved())

    async def _message(self, conn: _Connection, session: ChatSession, message: Message) -> None:
        # Per session, and per address: sessions are cheap, so one address's many sessions
        # are held to a total too.
        wait = self.limits.over("message", session.id) or self.limits.over(
            "address_message", conn.address
        )
        if wait:
            await self._reject(
                conn, "rate_limited", RATE_LIMITED, message.client_id, retry_after=wait
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
                problem = (exc.code, REFUSALS.get(exc.code, exc.reason))
        if problem is not None:
            await self._reject(conn, *problem, client_id=message.client_id)
            return
        raw = RawInbound(
            channel="webchat",
            account=settings.account,
            idempotency_key=f"{session.id}:{message.client_id}",
            channel_message_id=message.client_id,
            sender=_sender(session),
            text=message.text,
            received_at=rfc3339(datetime.now(UTC)),
            topic=message.topic,
            conversation_hint=_conversation(session),
            language_hint=session.language,
            # The portal vouches for its user's phone and email: an SMS or a mail from them
            # reaches the same person.
            verified_links=[
                Sender(kind, address, verified=True)
                for kind, address in (("phone", session.phone), ("email", session.email))
                if address
            ],
            attachment_ids=list(message.attachments),
        )
        # In the history in the commit that files it, so that it comes before its confirmation
        # and a message the store refused is never shown as sent; once per client_id, as the
        # widget sends a message again until it is accepted.
        entry = self.sessions.writing(session.address, message.client_id, message.text)
        try:
            acceptance = await self.intake.accept(raw, [entry])
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
        # No store round trip when its commit kept it: pushed ahead of the confirmation the
        # outbox may be delivering meanwhile.
        written = await self.sessions.written(entry, acceptance.history)
        # The category as the citizen's topics name it, in the session's language.
        names = {t.code: t.name for t in await self.tickets.topics(session.language)}
        ticket = _accepted_ticket(acceptance, names)
        await conn.send(Accepted(message.client_id, acceptance.envelope_id, ticket))
        self._push(session.address, written)

    async def _reject(
        self,
        conn: _Connection,
        code: str,
        message: str,
        client_id: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        self.bad_input(self.channel, code)
        await conn.send(Error(code, message, client_id, retry_after))

    # -- uploads ------------------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        """POST /chat/upload: one file for the session named by X-Chat-Session; the widget
        embedded on an allowed origin may read every answer, its Retry-After too."""
        response = await self._upload_answer(request)
        allowed = self._cors(request)
        if allowed:
            response.headers.update({**allowed, "Access-Control-Expose-Headers": "Retry-After"})
        return response

    async def _upload_answer(self, request: Request) -> Response:
        session = await self._session_of(request)
        if self._stopping or session is None:
            self.bad_input(self.channel, "upload_without_session")
            return problem(401, "no_session", "send the chat session token in X-Chat-Session")
        # Per session, and per address: sessions are cheap, and every upload is kept on disk.
        address = address_key(request.client.host if request.client else "")
        if wait := self.limits.over("upload", session.id) or self.limits.over(
            "address_upload", address
        ):
            return too_many(wait)
        # The dialogue does not go offline while files go up.
        self._active(session, Activity.UPLOAD)
        limit = self.attachments.limits("webchat").file + MULTIPART_OVERHEAD
        try:
            receipt = await upload_one_file(
                request, self.attachments, "webchat", session.id, limit=limit
            )
        except UploadRefused as exc:
            self.bad_input(self.channel, exc.code)
            return exc.response
        except AttachmentRefused as exc:
            self.bad_input(self.channel, exc.code)
            return refused_file(exc.code, exc.reason)
        return answer(
            Upload(receipt.id, receipt.size, UploadScan(receipt.status, receipt.detail)), 201
        )

    async def _config(self, request: Request) -> Response:
        """GET /chat/config?lang=: what the widget offers and checks before the first message."""
        settings = self.settings()
        language = request.query_params.get("lang", "ru")
        topics = [ChatTopic(t.code, t.name) for t in await self.tickets.topics(language)]
        limits = self.attachments.limits("webchat")
        return answer(
            ChatConfig(
                topics,
                ChatLimits(limits.file, limits.message, limits.count, limits.types),
                round(settings.inactivity_timeout),
            ),
            headers={"Cache-Control": "no-cache", **self._cors(request)},
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

    def _preflight(self, method: str) -> Callable[[Request], Awaitable[Response]]:
        """OPTIONS: may the embedding page send X-Chat-Session with `method` (a file's GET, an
        upload's POST)?"""

        async def preflight(request: Request) -> Response:
            if "origin" not in request.headers:  # no browser's preflight: what it takes
                return Response(status_code=204, headers={"Allow": f"{method}, OPTIONS"})
            allowed = self._cors(request)
            if not allowed:
                return Response(status_code=403)
            return Response(
                status_code=204,
                headers={
                    **allowed,
                    "Access-Control-Allow-Methods": method,
                    "Access-Control-Allow-Headers": "X-Chat-Session",
                    "Access-Control-Max-Age": "600",
                },
            )

        return preflight

    async def _download(self, request: Request) -> Response:
        """GET /chat/files/{id}: a file an operator sent to the session named by X-Chat-Session."""
        session = await self._session_of(request)
        if session is None:
            return problem(401, "no_session", "send the chat session token in X-Chat-Session")
        attachment_id = request.path_params["id"]
        found = None
        if await self.sessions.was_sent(session.address, attachment_id):
            found = await self.attachments.content(attachment_id)
        if found is None:  # never sent to this session, or no longer clean: the same answer
            return problem(404, "not_found", "no such file in this chat")
        described, chunks = found
        return file_response(
            chunks,
            filename=described.filename,
            content_type=described.content_type,
            size=described.size,
            headers=self._cors(request),
        )


def _check_message(message: Message, settings: WebchatSettings) -> tuple[str, str] | None:
    """Why a chat message cannot be taken, as (code, message), or None."""
    if not 1 <= len(message.client_id) <= 128:
        return "bad_client_id", "client_id должен быть строкой от 1 до 128 символов."
    if not message.attachments and not has_visible_text(message.text):
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


def _accepted_ticket(acceptance: Acceptance, names: Mapping[str, str]) -> AcceptedTicket | None:
    if acceptance.ticket_number is None:
        return None
    code = acceptance.category_code or ""
    name = names.get(code, acceptance.category_name or "")
    return AcceptedTicket(
        acceptance.ticket_number, acceptance.ticket_is_new, TicketCategory(code, name)
    )


def _sender(session: ChatSession) -> Sender:
    """Who writes in a session: the portal user a signed identity proved, else the session.
    Verified either way: only the holder of the session's bearer token can write as it."""
    return Sender("webchat", session.address, verified=True)


def _conversation(session: ChatSession) -> str:
    """The session's conversation: the portal user's on every device, else the session's own."""
    return f"chat:{session.address}"


def _notice_frame(notice: Notice) -> NoticeFrame:
    files = [
        NoticeFile(f.id, f.filename, f.content_type, f.size, f"/chat/files/{f.id}")
        for f in notice.attachments
    ]
    return NoticeFrame(
        notice.seq, notice.kind, notice.ticket, notice.text, notice.at, files,
        notice.status, notice.client_id,
    )  # fmt: skip
