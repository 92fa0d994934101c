"""Limits on HTTP request bodies, checked before a body is read or spooled to disk."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

# Multipart framing and the form's text fields around the files themselves.
MULTIPART_OVERHEAD = 256 * 1024
# JSON bodies of the API and the form: far above any status change, reply or form text.
JSON_BODY_MAX = 1024 * 1024


def body_refused(headers: Headers, limit: int) -> JSONResponse | None:
    """411 or 413 when the declared body is missing or over `limit` bytes, else None.

    Starlette spools multipart files and reads JSON bodies whole before any later check runs;
    h11 never delivers more than Content-Length, so checking the header first bounds both. A
    chunked body's size is unknown until read, so it is refused (browsers send the length).
    """
    declared = headers.get("content-length")
    if declared is None:
        return JSONResponse(
            {"error": "length_required", "message": "send the body with a Content-Length"},
            status_code=411,
        )
    if not declared.isdigit() or int(declared) > limit:
        return JSONResponse(
            {"error": "body_too_large", "message": f"the body may be at most {limit} bytes"},
            status_code=413,
        )
    return None
