"""What the chat and the form answer when they refuse something, in the citizen's words."""

from __future__ import annotations

from typing import Literal

import msgspec
from starlette.responses import Response

from channels.http import answer, problem

# What the citizen reads when files are refused over a limit (codes from AttachmentRefused).
REFUSALS = {
    "file_too_large": "Файл слишком большой.",
    "too_many_attachments": "Слишком много файлов в одном сообщении.",
    "attachments_too_large": "Файлы одного сообщения слишком велики в сумме.",
    "unknown_attachment": "Файл не найден: загрузите его ещё раз.",
    "attachments_not_accepted": "Файлы здесь не принимаются.",
    "storage_low": "Файлы сейчас не принимаются: повторите позже.",
}
# A refusal that is the file store's state, not the file's: the same file goes later.
STORAGE_RETRY_AFTER = 300
RATE_LIMITED = "Слишком часто. Подождите немного и отправьте снова."


class RateLimited(msgspec.Struct, frozen=True):
    """Over a rate limit: send again after `retry_after` seconds."""

    error: Literal["rate_limited"]
    message: str
    retry_after: int


def too_many(wait: int) -> Response:
    """429 with Retry-After (RFC 6585 4); the unread body goes with the connection."""
    return answer(
        RateLimited("rate_limited", RATE_LIMITED, wait),
        429,
        {"Retry-After": str(wait), "Connection": "close"},
    )


def refused_file(code: str, reason: str) -> Response:
    """A file the attachment store refused: 413 over a limit, 503 with Retry-After while the
    store is short of room (storage_low)."""
    text = REFUSALS.get(code, reason)
    if code == "storage_low":
        return problem(503, code, text, {"Retry-After": str(STORAGE_RETRY_AFTER)})
    return problem(413, code, text)


def has_visible_text(text: str) -> bool:
    """True when the text shows something: NULs, controls and spaces alone are an empty message."""
    if text.isprintable():  # the usual message, checked in C; the only printable space is " "
        return text.strip(" ") != ""
    return any(c.isprintable() and not c.isspace() for c in text)
