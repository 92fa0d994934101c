"""HTTP pieces the channels and the API share: body limits checked before a body is read or
spooled to disk, files streamed in from an upload and out to a downloader."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple
from urllib.parse import quote

import trio
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.contract import AttachmentPort, AttachmentReceipt, Channel

# Upload chunks handed to the attachment store: big enough for few calls, small in memory.
UPLOAD_CHUNK = 256 * 1024

# Multipart framing and the form's text fields around the files themselves.
MULTIPART_OVERHEAD = 256 * 1024
# JSON bodies of the API and the form: far above any status change, reply or form text.
JSON_BODY_MAX = 1024 * 1024


class Refusal(NamedTuple):
    """Why a body is refused (the metrics' reason) and the answer that says so."""

    code: str
    response: JSONResponse


def body_refused(headers: Headers, limit: int) -> Refusal | None:
    """411, 400 or 413 when the declared body is missing, unreadable or over `limit` bytes.

    Starlette spools multipart files and reads JSON bodies whole before any later check runs;
    h11 never delivers more than Content-Length, so checking the header first bounds both. A
    chunked body's size is unknown until read, so it is refused (browsers send the length).
    """
    declared = headers.get("content-length")
    if declared is None:
        return _refusal(411, "length_required", "send the body with a Content-Length")
    if not declared.isdigit():
        return _refusal(400, "bad_content_length", "Content-Length must be a number of bytes")
    if int(declared) > limit:
        return _refusal(413, "body_too_large", f"the body may be at most {limit} bytes")
    return None


def _refusal(status: int, code: str, message: str) -> Refusal:
    # The unread body is still on the connection: it cannot carry another request, so say so
    # rather than let a keep-alive client send its next one into a closing socket.
    response = JSONResponse(
        {"error": code, "message": message}, status_code=status, headers={"Connection": "close"}
    )
    return Refusal(code, response)


class UploadRefused(Exception):
    """An upload that cannot be read: `code` for the metrics, `response` for the client."""

    def __init__(self, code: str, response: JSONResponse) -> None:
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
    if (refused := body_refused(request.headers, limit)) is not None:
        raise UploadRefused(refused.code, refused.response)
    try:
        form = await request.form(max_files=1, max_fields=4)
    except Exception as exc:  # python-multipart raises several types for a broken body
        message = f"a multipart/form-data body is expected: {exc}"
        raise UploadRefused("unreadable_upload", _answer(400, "unreadable", message)) from exc
    try:
        upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise UploadRefused("no_file", _answer(400, "no_file", "the form holds no file part"))
        return await receive_upload(upload, attachments, channel, owner)
    finally:
        await form.close()


def _answer(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


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


class BodyTimeout:
    """ASGI middleware: a request body that stops arriving for `seconds` ends the request.

    The app is told the client left (whatever it answers to that is dropped) and the client
    gets 408 with the connection closed. Only reads of the body are timed: once it is whole,
    later receive() calls (a streaming response watching for the client to leave) wait as
    long as they need.
    """

    def __init__(self, app: ASGIApp, seconds: Callable[[], float]) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = timed_out = responded = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            with trio.move_on_after(self.seconds()):
                message = await receive()
                body_done = message["type"] != "http.request" or not message.get("more_body")
                return message
            timed_out = True
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if not timed_out:
                responded = responded or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
        if timed_out and not responded:
            # RFC 9110 15.5.9: the server did not receive a complete request in time.
            refusal = _refusal(408, "body_timeout", "the request body stopped arriving")
            await refusal.response(scope, receive, send)
