"""Limits on HTTP request bodies, checked before a body is read or spooled to disk."""

from __future__ import annotations

from typing import NamedTuple

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

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
