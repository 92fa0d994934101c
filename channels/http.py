"""HTTP pieces the channels and the API share: body limits checked before a body is read or
spooled to disk, files streamed in from an upload and out to a downloader."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import AsyncIterator, Callable
from typing import Annotated, NamedTuple
from urllib.parse import quote

import msgspec
import trio
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.contract import AttachmentPort, AttachmentReceipt, AttachmentStatus, Channel

# Upload chunks handed to the attachment store: big enough for few calls, small in memory.
UPLOAD_CHUNK = 256 * 1024

# Multipart framing and the form's text fields around the files themselves.
MULTIPART_OVERHEAD = 256 * 1024
# JSON bodies of the API and the form: far above any status change, reply or form text.
JSON_BODY_MAX = 1024 * 1024
# Bytes kept past the closing boundary: room for the CRLF and an epilogue (RFC 2046), which
# browsers never send and mail-like clients keep to a line or two.
TAIL_KEPT = 1024
# The scope key where limit_body() leaves a route's body limit for BodyGuard.
BODY_LIMIT = "omnirouter.body_limit"


def address_key(address: str) -> str:
    """The key a client's limits are kept under: its IPv4 address (also when written as an
    IPv4-mapped IPv6 one, as a dual-stack proxy may), or the /64 of its IPv6 address (a
    subscriber is given a whole /64 or more, RFC 6177, and picks any of it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class BodyRefusal(NamedTuple):
    """Why a body is refused (the metrics' reason) and the answer that says so."""

    code: str
    response: Response


def limit_body(request: Request, limit: int) -> BodyRefusal | None:
    """Hold the request's body to `limit` bytes as read (BodyGuard counts them); 411, 400 or 413
    at once when the declared length is missing, unreadable or already over the limit.

    Starlette spools multipart files and reads JSON bodies whole before any later check runs,
    so the declared length is checked before the first byte is read. A chunked body's size is
    unknown until read: it is refused here (browsers send the length), and BodyGuard's count
    bounds whatever is read anyway.
    """
    request.scope[BODY_LIMIT] = limit
    declared = request.headers.get("content-length")
    if declared is None:
        return _refusal(411, "length_required", "send the body with a Content-Length")
    if not declared.isdigit():
        return _refusal(400, "bad_content_length", "Content-Length must be a number of bytes")
    if int(declared) > limit:
        return _refusal(413, "body_too_large", f"the body may be at most {limit} bytes")
    return None


def _refusal(status: int, code: str, message: str) -> BodyRefusal:
    # The unread body is still on the connection: it cannot carry another request, so say so
    # rather than let a keep-alive client send its next one into a closing socket.
    return BodyRefusal(code, problem(status, code, message, {"Connection": "close"}))


class UploadRefused(Exception):
    """An upload that cannot be read: `code` for the metrics, `response` for the client."""

    def __init__(self, code: str, response: Response) -> None:
        super().__init__(code)
        self.code, self.response = code, response


async def upload_one_file(
    request: Request,
    attachments: AttachmentPort,
    channel: Channel,
    owner: str | None,
    *,
    limit: int,
) -> AttachmentReceipt:
    """The one file of a multipart upload, stored and checked; the body is held to `limit`.

    Raises UploadRefused for a body that cannot be read, and lets the store's
    AttachmentRefused through for the caller to word.
    """
    if (refused := limit_body(request, limit)) is not None:
        raise UploadRefused(refused.code, refused.response)
    try:
        form = await read_form(request, max_files=1, max_fields=4)
    except Exception as exc:  # python-multipart raises several types for a broken body
        message = f"a multipart/form-data body is expected: {exc}"
        refusal = _refusal(400, "unreadable", message)
        raise UploadRefused("unreadable_upload", refusal.response) from exc
    try:
        upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise UploadRefused("no_file", problem(400, "no_file", "the form holds no file part"))
        return await receive_upload(upload, attachments, channel, owner)
    finally:
        await form.close()


async def read_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The request's form; ValueError for a multipart body cut short.

    python-multipart takes a body that ends without its close-delimiter (RFC 2046 5.1.1) and
    drops the part it was reading, so a truncated upload would lose a file without a word:
    the body's last bytes are kept as it is read and must hold the closing boundary.
    """
    boundary = parse_options_header(request.headers.get("content-type", ""))[1].get(b"boundary")
    tail = bytearray()

    async def receive() -> Message:
        message = await request.receive()
        tail.extend(message.get("body", b""))
        del tail[: -(len(boundary or b"") + 6 + TAIL_KEPT)]
        return message

    form = await Request(request.scope, receive).form(max_files=max_files, max_fields=max_fields)
    # RFC 2046 5.1.1: close-delimiter := CRLF "--" boundary "--".
    if boundary is not None and b"\r\n--" + boundary + b"--" not in tail:
        await form.close()
        raise ValueError("the multipart body ends before its closing boundary: it was cut short")
    return form


class Error(msgspec.Struct, frozen=True):
    """An error answer; `error` is the code a program reads, `message` what a person reads."""

    error: Annotated[str, msgspec.Meta(description="Machine-readable code")]
    message: str


class UploadScan(msgspec.Struct, frozen=True):
    """The verdict an upload is answered with."""

    status: Annotated[
        AttachmentStatus,
        msgspec.Meta(
            description="pending: clamd is unavailable; the message that carries the file "
            "waits for the scan (a reply: send it again once the file is clean)"
        ),
    ]
    detail: str | None


def answer(
    body: msgspec.Struct, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`body` as a JSON answer: msgspec writes the Struct that the OpenAPI document describes."""
    return Response(
        msgspec.json.encode(body), status, headers=headers, media_type="application/json"
    )


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error answer in the API's format: {"error": CODE, "message": TEXT}."""
    return answer(Error(code, message), status, headers)


async def receive_upload(
    upload: UploadFile, attachments: AttachmentPort, channel: Channel, owner: str | None
) -> AttachmentReceipt:
    """Stream one uploaded file into the attachment store (stored, typed and scanned there)."""

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(UPLOAD_CHUNK):
            yield chunk

    return await attachments.receive(
        chunks(),
        channel=channel,
        filename=upload.filename or "file",
        declared_type=upload.content_type or "application/octet-stream",
        owner=owner,
    )


def file_response(
    chunks: AsyncIterator[bytes],
    *,
    filename: str,
    content_type: str,
    size: int,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """A stored file as a download: never rendered inline, never cached, never sniffed."""
    return StreamingResponse(
        chunks,
        media_type=content_type or "application/octet-stream",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the real name per RFC 6266 / RFC 5987."""
    # A citizen names the file: only its last component, without controls, bidi overrides
    # (U+202E makes "exe.pdf" read "fdp.exe") or leading dots, is a name to save under.
    name = re.split(r"[/\\]", filename)[-1]
    name = "".join(c for c in name if c.isprintable()).lstrip(". ") or "file"
    fallback = "".join(c if c.isascii() and c not in '"\\;' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class BodyGuard:
    """ASGI middleware: a request body framed one way only, held to its limit, and timed.

    - Content-Length and Transfer-Encoding together are refused (RFC 9112 6.1: such a
      message may be an attempt to smuggle a request, and the server must close the
      connection after answering); h11 would read the chunked body past the declared length.
    - The bytes actually read are counted against the limit a handler set with limit_body()
      (JSON_BODY_MAX otherwise), chunked or not; past it the app is told the client left and
      the client gets 413.
    - A body that stops arriving for `seconds` ends the request with 408.

    Every refusal closes the connection: the rest of the body is still on it. Only reads of the
    body are timed and counted: once it is whole, later receive() calls (a streaming response
    watching for the client to leave) wait as long as they need.
    """

    def __init__(
        self, app: ASGIApp, seconds: Callable[[], float], refused: Callable[[int, str], None]
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "transfer-encoding" in headers and "content-length" in headers:
            await self._refuse(
                _refusal(400, "ambiguous_length", "send Content-Length or chunked, not both"),
                scope,
                receive,
                send,
            )
            return
        refusal: BodyRefusal | None = None
        body_done = responded = False
        read = 0

        async def guarded_receive() -> Message:
            nonlocal body_done, refusal, read
            if refusal is not None:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            with trio.move_on_after(self.seconds()):
                message = await receive()
                body_done = message["type"] != "http.request" or not message.get("more_body")
                read += len(message.get("body", b""))
                limit = scope.get(BODY_LIMIT, JSON_BODY_MAX)
                if read <= limit:
                    return message
                refusal = _refusal(413, "body_too_large", f"the body may be at most {limit} bytes")
                return {"type": "http.disconnect"}
            # RFC 9110 15.5.9: the server did not receive a complete request in time.
            refusal = _refusal(408, "body_timeout", "the request body stopped arriving")
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if refusal is None:
                responded = responded or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if refusal is None:
                raise
        if refusal is not None and not responded:
            await self._refuse(refusal, scope, receive, send)

    async def _refuse(
        self, refusal: BodyRefusal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.refused(refusal.response.status_code, refusal.code)
        await refusal.response(scope, receive, send)
