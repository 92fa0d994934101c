"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

Every HTTP route of the listener is here (router/api.py and channels/webchat/adapter.py; the
WebSocket /chat/ws is described in docs/api.md), with every status its handler can answer.
tests/integration/test_backend_api.py compares these paths with the app's route table.
"""

from __future__ import annotations

from typing import Any

from router.delivery.states import Event, State
from router.delivery.suppression import KINDS
from router.updates import EXPECTED_AT

# -- building blocks ---------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    """An `Error` answer; `description` names the `error` codes it can carry."""
    return _json(_ref("Error"), description)


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object whose every property is always present."""
    return {"type": "object", "required": list(properties), "properties": properties, **extra}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_BOOLEAN = {"type": "boolean"}
_STRINGS = {"type": "array", "items": _STRING}
_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
# The largest integer SQLite holds: ids and cursors past it name nothing.
_SQLITE_MAX = 2**63 - 1
# A character that str.strip() keeps (Python's whitespace spelled out, the same in ECMA-262
# and Python regexes): a field the server refuses when blank after strip() must match it.
_NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

_STATUSES = ["accepted", "in_progress", "under_review", "awaiting_citizen", "resolved", "rejected"]
_CHANNELS = ["email", "sms", "messenger", "webchat", "form"]
_NOTICE_KINDS = ["confirmation", "status", "reply", "system"]
_NOTIFICATION_STATES = [str(state) for state in State]
_SUPPRESSED_CHANNELS = list(KINDS)
# An address as written: not blank, no control or invisible (bidi, zero-width) characters.
_SUPPRESSED_ADDRESS = {
    "type": "string",
    "allOf": [
        {"pattern": _NOT_BLANK},
        {"pattern": "^[^\x00-\x1f\x7f-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]*$"},
    ],
}

_Security = list[dict[str, list[str]]]
_BACKEND: _Security = [{"backend": []}]
_ADMIN: _Security = [{"admin": []}]
_METRICS: _Security = [{"metrics": []}, {"admin": []}]
_BACKEND_OR_ADMIN: _Security = [{"backend": []}, {"admin": []}]
_PUBLIC: _Security = []

# Answers of every guarded route (the guard runs before the handler).
_GUARDED = {"401": _response("Unauthorized"), "403": _response("Forbidden")}


def _path_parameter(
    name: str, description: str, schema: dict[str, Any] = _STRING
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


_NUMBER = _path_parameter("number", "Ticket number, e.g. 2600000128")
_ATTACHMENT_ID = _path_parameter("id", "Attachment id (`attachments[].id` of an envelope)")
_DEAD_LETTER_ID = _path_parameter(
    "id",
    "Dead letter id: `handoff:SEQ`, `notification:ID` or `intake:JOURNAL_ID`",
    {"type": "string", "pattern": "^(handoff:[0-9]+|notification:.+|intake:.+)$"},
)
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A repeat with the same key for the same ticket changes nothing and answers "
    "the first notification id",
    "schema": _STRING,
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# The verdict an upload is answered with.
_UPLOAD_SCAN = _object(
    {
        "status": {
            "enum": ["pending", "clean", "infected", "rejected", "error"],
            "description": "pending: clamd is unavailable; the message that carries the file "
            "waits for the scan (a reply: send it again once the file is clean)",
        },
        "detail": _NULLABLE_STRING,
    }
)
# The body of an upload: one multipart file part.
_ONE_FILE: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "description": "One file part (the server takes it under any field name)",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
                "additionalProperties": False,
            }
        }
    },
}


def _ticket_update(
    summary: str,
    body: dict[str, Any],
    rejections: str,
    operation_id: str,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A POST that changes a ticket and answers 202 with the notification id."""
    return {
        "post": {
            "summary": summary,
            "operationId": operation_id,
            "security": _BACKEND,
            "parameters": [_NUMBER, _IDEMPOTENCY],
            "requestBody": _json_body(body),
            "responses": {
                "202": _json(_ref("Queued"), "Applied; the notification to the citizen is queued"),
                "400": _response("BadJson"),
                **_GUARDED,
                "404": _error("`not_found`: no such ticket"),
                "411": _response("LengthRequired"),
                "413": _response("BodyTooLarge"),
                "422": _error(rejections),
                **(more or {}),
            },
        }
    }


def _attachment_download(summary: str, operation_id: str, *, admin: bool) -> dict[str, Any]:
    """GET of an attachment's content; the admin route serves quarantined files too."""
    scan = "any verdict but pending" if admin else "`clean` or `error`"
    return {
        "get": {
            "summary": summary,
            "operationId": operation_id,
            "security": _ADMIN if admin else _BACKEND,
            "parameters": [_ATTACHMENT_ID],
            "responses": {
                "200": {
                    "description": "The file, streamed. Content-Type is the type detected from "
                    "the content, not the sender's claim.",
                    "headers": {
                        "Content-Disposition": {
                            "description": "`attachment` with an ASCII fallback name and the "
                            "UTF-8 name (RFC 6266, RFC 5987)",
                            "schema": _STRING,
                        },
                        "X-Content-Type-Options": {"schema": {"const": "nosniff"}},
                        "Cache-Control": {"schema": {"const": "no-store"}},
                        "X-Omnirouter-Scan": {
                            "description": f"The verdict: {scan}",
                            "schema": _STRING,
                        },
                    },
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_GUARDED,
                **(
                    {
                        "403": {
                            "description": "`forbidden`: the token is not a backend token; "
                            "`quarantined`: the file is infected or rejected",
                            "content": {"application/json": {"schema": _ref("Error")}},
                        }
                    }
                    if not admin
                    else {}
                ),
                "404": _error("`not_found`: no such attachment"),
                "409": _error("`scan_pending`: not scanned yet"),
            },
        }
    }


# -- schemas -----------------------------------------------------------------------------------

_CATEGORY = _object({"code": _STRING, "name": _STRING})
_SCAN_VERDICT = _object(
    {
        "status": {"enum": ["clean", "infected", "rejected", "error"]},
        "detail": {
            "type": ["string", "null"],
            "description": "infected: the signature; rejected: which rule; error: why not scanned",
        },
    }
)

_FLAGS_DESCRIPTION = (
    "Set by the code: truncated, contains_credential, empty_text, status_query, duplicate, "
    "unknown_code, infected_attachment, rejected_attachment, unscanned_attachment, "
    "type_mismatch, uninspected_archive, encrypted_archive, unscannable, unscanned "
    "(docs/api.md says when). New values may be added."
)

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "Machine-readable code"},
            "message": {"type": "string"},
        },
    },
    "FormInvalid": {
        "type": "object",
        "required": ["error", "message", "fields"],
        "properties": {
            "error": {"const": "invalid"},
            "message": _STRING,
            "fields": {
                "type": "object",
                "description": "A message per field name (text, name, email, phone, type)",
                "additionalProperties": _STRING,
            },
        },
    },
    "Sender": _object(
        {
            "kind": {
                "type": "string",
                "description": "Address kind: webchat (a chat session id), email, phone",
            },
            "address": {"type": "string", "description": "Canonical: E.164 phone, email"},
            "display_name": _NULLABLE_STRING,
            "verified": {
                "type": "boolean",
                "description": "The channel vouches for the address (a form's never is)",
            },
        }
    ),
    "Category": _CATEGORY,
    "TicketRef": _object(
        {
            "number": _STRING,
            "is_new": {"type": "boolean", "description": "This message opened the ticket"},
            "category": _ref("Category"),
            "priority": {"type": "string", "description": "Priority class (categories.toml)"},
            "first_response_due": _TIME,
            "resolution_due": _TIME,
            "related": {
                "type": "array",
                "items": _STRING,
                "description": "Numbers of related tickets",
            },
        }
    ),
    "Thread": _object({"conversation_id": _STRING, "in_reply_to": _NULLABLE_STRING}),
    "Scan": _SCAN_VERDICT,
    "Attachment": _object(
        {
            "id": {"type": "string", "description": "GET /api/v1/attachments/{id}"},
            "filename": {"type": "string", "maxLength": 255},
            "content_type": {"type": "string", "description": "Detected from the content"},
            "declared_type": {
                "type": "string",
                "maxLength": 127,
                "description": "What the sender claimed",
            },
            "size": {"type": "integer", "minimum": 0},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "scan": _ref("Scan"),
        }
    ),
    "Identifiers": _object(
        {
            "snils": {**_STRINGS, "description": "Check digits valid, as 123-456-789 01"},
            "inn": {**_STRINGS, "description": "10 or 12 digits, check digits valid"},
            "phones": {
                **_STRINGS,
                "description": "E.164, valid numbers only; a form's phone is included",
            },
            "emails": {**_STRINGS, "description": "Domain lower-cased; a form's email is included"},
            "ticket_refs": {**_STRINGS, "description": "Ticket numbers with a valid check digit"},
        }
    ),
    "Envelope": _object(
        {
            "id": {"type": "string", "description": "Sortable unique id (ULID)"},
            "schema": {"const": "omnirouter.envelope/v1"},
            "received_at": _TIME,
            "channel": {"enum": _CHANNELS},
            "channel_account": _STRING,
            "channel_message_id": _STRING,
            "sender": _ref("Sender"),
            "contact_id": _STRING,
            "ticket": {
                **_nullable(_ref("TicketRef")),
                "description": "Never null in the feed or a webhook",
            },
            "thread": _ref("Thread"),
            "subject": _NULLABLE_STRING,
            "text": _STRING,
            "language": {"type": "string", "description": "e.g. ru"},
            "attachments": {"type": "array", "items": _ref("Attachment")},
            "identifiers": _ref("Identifiers"),
            "duplicate_of": {
                "type": ["string", "null"],
                "description": "Id of the envelope this one repeats",
            },
            "flags": {"type": "array", "items": _STRING, "description": _FLAGS_DESCRIPTION},
        }
    ),
    "FeedPage": _object(
        {
            "envelopes": {"type": "array", "items": _ref("Envelope")},
            "next": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "The cursor to pass as `after` next time",
            },
        }
    ),
    "ThreadEntry": _object(
        {
            "envelope_id": _STRING,
            "received_at": _TIME,
            "channel": {"enum": _CHANNELS},
            "sender": _ref("Sender"),
            "text": _STRING,
            "flags": _STRINGS,
            "duplicate_of": _NULLABLE_STRING,
        }
    ),
    "TicketEvent": {
        "type": "object",
        "required": ["at", "kind", "status"],
        "description": "A status change (with comment, reason, expected_at when posted through "
        "the API; the opening `accepted` has none) or a reply (with text)",
        "properties": {
            "at": _TIME,
            "kind": {"enum": ["status", "reply"]},
            "status": {"type": ["string", "null"], "description": "null for a reply"},
            "comment": _NULLABLE_STRING,
            "reason": _NULLABLE_STRING,
            "expected_at": _NULLABLE_TIME,
            "text": _STRING,
        },
    },
    "Ticket": _object(
        {
            "number": _STRING,
            "status": {"enum": _STATUSES},
            "status_comment": _NULLABLE_STRING,
            "status_reason": _NULLABLE_STRING,
            "expected_at": _NULLABLE_TIME,
            "category": _ref("Category"),
            "priority": _STRING,
            "channel": {
                "enum": _CHANNELS,
                "description": "Where notices go (a form's ticket: email, else sms)",
            },
            "language": _STRING,
            "created_at": _TIME,
            "updated_at": _TIME,
            "first_response_due": _TIME,
            "resolution_due": _TIME,
            "related": _STRINGS,
            "contact_id": _STRING,
            "conversation_id": _STRING,
            "thread": {
                "type": "array",
                "items": _ref("ThreadEntry"),
                "description": "The ticket's envelopes, oldest first",
            },
            "events": {
                "type": "array",
                "items": _ref("TicketEvent"),
                "description": "Status changes and replies, oldest first",
            },
        }
    ),
    "Queued": _object({"notification_id": _STRING}),
    "Suppression": _object(
        {
            "address": _STRING,
            "channel": {"enum": _SUPPRESSED_CHANNELS},
            "reason": _STRING,
            "since": _TIME,
            "until": _nullable(_TIME),
        }
    ),
    "Transition": _object(
        {
            "state": {"enum": _NOTIFICATION_STATES},
            "at": _TIME,
            "event": {"enum": ["created", *(str(event) for event in Event)]},
            "reason": _NULLABLE_STRING,
        }
    ),
    "Notification": _object(
        {
            "id": _STRING,
            "state": {"enum": _NOTIFICATION_STATES},
            "history": {
                "type": "array",
                "items": _ref("Transition"),
                "description": "Every state it went through, oldest first",
            },
            "attempts": _INTEGER,
            "last_error": _NULLABLE_STRING,
            "channel": {"enum": _CHANNELS},
            "kind": {"enum": _NOTICE_KINDS},
            "ticket": _NULLABLE_STRING,
            "created_at": _TIME,
        }
    ),
    "DeadLetter": _object(
        {
            "id": {
                "type": "string",
                "description": "handoff:SEQ, notification:ID or intake:JOURNAL_ID",
            },
            "subject": {
                "type": ["string", "null"],
                "description": "handoff: the envelope id; notification: the ticket number "
                "(null if none); intake: CHANNEL/ACCOUNT",
            },
            "attempts": {"type": "integer", "description": "0 for intake"},
            "last_error": _NULLABLE_STRING,
            "since": {**_TIME, "description": "Queued (intake: received) at, RFC 3339"},
        }
    ),
    "DeadLetterAction": _object(
        {"id": _STRING, "action": {"enum": ["replay", "drop"]}},
    ),
    "Status": {
        "type": "object",
        "required": [
            "instance",
            "version",
            "ready",
            "uptime_seconds",
            "handoff_mode",
            "channels",
            "attachments",
            "queues",
            "oldest_undelivered_seconds",
        ],
        "properties": {
            "instance": _STRING,
            "version": _STRING,
            "ready": _BOOLEAN,
            "uptime_seconds": {"type": "number"},
            "handoff_mode": {"enum": ["feed", "webhook"]},
            "channels": {
                "type": "object",
                "description": "By channel name: enabled, state (webchat also account and "
                "connections)",
                "additionalProperties": {
                    "type": "object",
                    "required": ["enabled", "state"],
                    "properties": {
                        "enabled": _BOOLEAN,
                        "state": _STRING,
                        "account": _STRING,
                        "connections": _INTEGER,
                    },
                },
            },
            "attachments": _object(
                {
                    "clamd": {"type": "string", "description": "`up`, or `down: REASON`"},
                    "quarantine_files": _INTEGER,
                    "quarantine_bytes": _INTEGER,
                }
            ),
            "queues": _object(
                {name: _INTEGER for name in ("intake", "scan", "handoff", "outbox", "dead")}
            ),
            "oldest_undelivered_seconds": {"type": ["number", "null"]},
        },
    },
    "Contact": _object(
        {
            "id": _STRING,
            "merged_into": _NULLABLE_STRING,
            "identities": {
                "type": "array",
                "items": _object(
                    {
                        "kind": _STRING,
                        "address": {"type": "string", "description": "Masked"},
                        "verified": _BOOLEAN,
                    }
                ),
            },
            "merges": {
                "type": "array",
                "items": _object(
                    {
                        "id": _INTEGER,
                        "survivor": _STRING,
                        "absorbed": _STRING,
                        "evidence": _STRING,
                        "undone": _BOOLEAN,
                    }
                ),
            },
        }
    ),
    "Upload": _object({"upload_id": _STRING, "size": _INTEGER, "scan": _UPLOAD_SCAN}),
    "ReplyFile": _object({"attachment_id": _STRING, "size": _INTEGER, "scan": _UPLOAD_SCAN}),
    "FeedbackForm": {
        "type": "object",
        "required": ["text"],
        "description": "`text` and one of `phone` or `email` are required (422 otherwise). "
        "Surrounding spaces are stripped; in JSON, values that are not strings are ignored.",
        "properties": {
            "name": {"type": "string", "description": "At most [form] max_name_chars (200)"},
            "phone": {
                "type": "string",
                "description": "A valid number: national as typed in Russia (8 (916) 123-45-67, "
                "9161234567) or international with + (+375 29 123-45-67); filed in E.164",
            },
            "email": _STRING,
            "type": {
                "type": "string",
                "description": "A key of [form.types] in channels/webchat.toml",
            },
            "text": {
                "type": "string",
                "pattern": _NOT_BLANK,
                "description": "Not blank; at most max_text_chars (4000)",
            },
        },
        "anyOf": [
            {"required": [field], "properties": {field: {"type": "string", "pattern": _NOT_BLANK}}}
            for field in ("phone", "email")
        ],
    },
}

_RESPONSES: dict[str, Any] = {
    "Unauthorized": {
        "description": "`unauthorized`: no bearer token, or one in no tokens file",
        "headers": {
            "WWW-Authenticate": {
                "description": 'Bearer realm="omnirouter", or Bearer error="invalid_token"',
                "schema": _STRING,
            }
        },
        "content": {"application/json": {"schema": _ref("Error")}},
    },
    "Forbidden": _error("`forbidden`: a valid token that does not give this route's role"),
    "BadJson": _error("`bad_json`: the body is not JSON; `bad_content_length`: not a number"),
    "LengthRequired": _error("`length_required`: no Content-Length (a chunked body)"),
    "BodyTooLarge": _error(
        "`body_too_large`: Content-Length over the limit (1 MiB); nothing was read"
    ),
}

# -- paths -------------------------------------------------------------------------------------

_PATHS: dict[str, Any] = {
    # health, metrics and this document
    "/healthz": {
        "get": {
            "summary": "Liveness: the event loop answers",
            "operationId": "healthz",
            "security": _PUBLIC,
            "responses": {"200": _json(_object({"status": {"const": "ok"}}), "Alive")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: recovery is done and the daemon is not draining",
            "operationId": "readyz",
            "security": _PUBLIC,
            "responses": {
                "200": _json(_object({"status": {"const": "ready"}}), "Ready"),
                "503": _json(_object({"status": {"const": "not ready"}}), "Starting or draining"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (a metrics or admin token; a backend token gets 403)",
            "operationId": "metrics",
            "security": _METRICS,
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": _STRING}},
                },
                **_GUARDED,
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document (a backend or admin token)",
            "operationId": "openapi",
            "security": _BACKEND_OR_ADMIN,
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1"), **_GUARDED},
        }
    },
    # backend
    "/api/v1/envelopes": {
        "get": {
            "summary": "Pull feed of envelopes after a cursor (long-poll with wait)",
            "operationId": "envelopes",
            "security": _BACKEND,
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "description": "The `next` of the previous page; empty or 0 for the start",
                    "schema": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": _SQLITE_MAX,
                        "default": 0,
                    },
                },
                {
                    "name": "limit",
                    "in": "query",
                    "description": "At most this many; capped by [limits] feed_page",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": _SQLITE_MAX,
                        "default": 100,
                    },
                },
                {
                    "name": "wait",
                    "in": "query",
                    "description": "Seconds to hold the request while there is nothing new; "
                    "capped by [limits] long_poll_seconds",
                    "schema": {"type": "number", "minimum": 0, "default": 0},
                },
            ],
            "responses": {
                "200": _json(_ref("FeedPage"), "Envelopes in commit order, each once"),
                "400": _error(
                    "`bad_query`: after or limit is not decimal digits, wait not a number, or "
                    "one is out of range"
                ),
                **_GUARDED,
            },
        }
    },
    "/api/v1/tickets/{number}": {
        "get": {
            "summary": "A ticket with status, category, channel, thread and history",
            "operationId": "ticket",
            "security": _BACKEND,
            "parameters": [_NUMBER],
            "responses": {
                "200": _json(_ref("Ticket")),
                **_GUARDED,
                "404": _error("`not_found`: no such ticket"),
            },
        }
    },
    "/api/v1/tickets/{number}/status": _ticket_update(
        "Change the status; the citizen is notified on the ticket's channel",
        {
            "type": "object",
            "required": ["status"],
            "additionalProperties": False,
            "properties": {
                "status": {"enum": _STATUSES},
                "comment": _NULLABLE_STRING,
                "reason": {
                    "type": ["string", "null"],
                    "description": "Required (not blank) for rejected",
                },
                "expected_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "pattern": EXPECTED_AT,
                    "description": "RFC 3339, in the years 2000-2999 as written",
                },
            },
            # DOMAIN.md: the reason of a rejection is always stated to the citizen.
            "if": {"required": ["status"], "properties": {"status": {"const": "rejected"}}},
            "then": {
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "pattern": _NOT_BLANK}},
            },
        },
        "`invalid` (wrong type, unknown field, not an object), `unknown_status`, "
        "`reason_required`, `bad_expected_at`",
        "changeStatus",
    ),
    "/api/v1/tickets/{number}/replies": _ticket_update(
        "Send an operator's reply to the citizen",
        {
            "type": "object",
            "required": ["text"],
            "additionalProperties": False,
            "properties": {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "pattern": _NOT_BLANK,
                    "description": "Not blank",
                },
                "attachments": {
                    "type": "array",
                    "items": _STRING,
                    "description": "Files sent with the reply: `attachment_id`s uploaded to this "
                    "ticket (POST .../attachments), scanned clean",
                },
            },
        },
        "`invalid` (wrong type, unknown field, not an object), `empty_text`, "
        "`unknown_attachment` (not uploaded to this ticket), `attachment_refused` (not clean), "
        "`too_many_attachments`, `attachments_too_large` (the count and size limits of the "
        "citizen's channel, as for a citizen's own files; SMS carries none)",
        "reply",
        {"409": _error("`scan_pending`: a file is still being scanned; send the reply again")},
    ),
    "/api/v1/tickets/{number}/attachments": {
        "post": {
            "summary": "Upload a file for a reply to this ticket (stored, typed and scanned)",
            "operationId": "ticketAttachment",
            "security": _BACKEND,
            "parameters": [_NUMBER],
            "requestBody": _ONE_FILE,
            "responses": {
                "201": _json(_ref("ReplyFile"), "Stored, type-checked and scanned"),
                "400": _error(
                    "`unreadable`: a multipart body that cannot be parsed; `no_file`: no file "
                    "part; `bad_content_length`"
                ),
                **_GUARDED,
                "404": _error("`not_found`: no such ticket"),
                "411": _response("LengthRequired"),
                "413": _error(
                    "`body_too_large`: Content-Length over the file limit of the citizen's "
                    "channel + 256 KiB, nothing read; `file_too_large`: the file is over it"
                ),
                "422": _error("`attachments_not_accepted`: the citizen's channel carries no files"),
            },
        }
    },
    "/api/v1/notifications/{id}": {
        "get": {
            "summary": "Delivery state of a notification",
            "operationId": "notification",
            "security": _BACKEND,
            "parameters": [_path_parameter("id", "The `notification_id` of a 202 answer")],
            "responses": {
                "200": _json(_ref("Notification")),
                **_GUARDED,
                "404": _error("`not_found`: no such notification"),
            },
        }
    },
    "/api/v1/attachments/{id}": _attachment_download(
        "A checked attachment's content (quarantined files: 403)", "attachment", admin=False
    ),
    # admin
    "/api/v1/admin/status": {
        "get": {
            "summary": "Instance, readiness, channels, clamd, queue depths, oldest undelivered",
            "operationId": "adminStatus",
            "security": _ADMIN,
            "responses": {"200": _json(_ref("Status")), **_GUARDED},
        }
    },
    "/api/v1/admin/tickets/{number}": {
        "get": {
            "summary": "A ticket with its thread; personal data masked unless unmask",
            "operationId": "adminTicket",
            "security": _ADMIN,
            "parameters": [
                _NUMBER,
                {
                    "name": "unmask",
                    "in": "query",
                    "description": "1, true or yes: personal data unmasked (the access is "
                    "logged); anything else or absent: masked",
                    "schema": _STRING,
                },
            ],
            "responses": {
                "200": _json(_ref("Ticket")),
                **_GUARDED,
                "404": _error("`not_found`: no such ticket"),
            },
        }
    },
    "/api/v1/admin/attachments/{id}": _attachment_download(
        "Any attachment's content, quarantined ones included", "adminAttachment", admin=True
    ),
    "/api/v1/admin/dlq": {
        "get": {
            "summary": "Every dead letter (handoff, notification, intake)",
            "operationId": "dlqList",
            "security": _ADMIN,
            "responses": {
                "200": _json(
                    _object({"dead_letters": {"type": "array", "items": _ref("DeadLetter")}})
                ),
                **_GUARDED,
            },
        }
    },
    "/api/v1/admin/dlq/replay": {
        "post": {
            "summary": "Put every dead letter back in its queue (no body)",
            "operationId": "dlqReplayAll",
            "security": _ADMIN,
            "responses": {
                "200": _json(_object({"replayed": {**_STRINGS, "description": "Dead letter ids"}})),
                **_GUARDED,
            },
        }
    },
    "/api/v1/admin/dlq/{id}": {
        "get": {
            "summary": "One dead letter",
            "operationId": "dlqShow",
            "security": _ADMIN,
            "parameters": [_DEAD_LETTER_ID],
            "responses": {
                "200": _json(_ref("DeadLetter")),
                **_GUARDED,
                "404": _error("`not_found`: no such dead letter"),
            },
        },
        "delete": {
            "summary": "Set one dead letter aside for good (kept, state dropped)",
            "operationId": "dlqDrop",
            "security": _ADMIN,
            "parameters": [_DEAD_LETTER_ID],
            "responses": {
                "200": _json(_ref("DeadLetterAction"), "Dropped; `action` is drop"),
                "400": _error(
                    "`bad_id`: not KIND:KEY with a known kind (a handoff's KEY in digits)"
                ),
                **_GUARDED,
                "404": _error("`not_found`: no such dead letter"),
            },
        },
    },
    "/api/v1/admin/dlq/{id}/replay": {
        "post": {
            "summary": "Put one dead letter back in its queue (no body)",
            "operationId": "dlqReplay",
            "security": _ADMIN,
            "parameters": [_DEAD_LETTER_ID],
            "responses": {
                "200": _json(_ref("DeadLetterAction"), "Queued again; `action` is replay"),
                "400": _error(
                    "`bad_id`: not KIND:KEY with a known kind (a handoff's KEY in digits)"
                ),
                **_GUARDED,
                "404": _error("`not_found`: no such dead letter"),
            },
        }
    },
    "/api/v1/admin/contacts/{id}": {
        "get": {
            "summary": "A contact's identities (masked) and merges",
            "operationId": "contact",
            "security": _ADMIN,
            "parameters": [_path_parameter("id", "Contact id (`contact_id` of an envelope)")],
            "responses": {
                "200": _json(_ref("Contact")),
                **_GUARDED,
                "404": _error("`not_found`: no identities and no merges under this id"),
            },
        }
    },
    "/api/v1/admin/suppressions": {
        "get": {
            "summary": "The suppression list: addresses that get nothing on a channel",
            "operationId": "suppressionList",
            "security": _ADMIN,
            "responses": {
                "200": _json(
                    _object({"suppressions": {"type": "array", "items": _ref("Suppression")}}),
                    "The entries in force, addresses in full (the read is logged)",
                ),
                **_GUARDED,
            },
        },
        "post": {
            "summary": "Put an address on the list (or renew its entry)",
            "operationId": "suppressionAdd",
            "security": _ADMIN,
            "requestBody": _json_body(
                {
                    "type": "object",
                    "required": ["address", "reason"],
                    "additionalProperties": False,
                    "properties": {
                        "address": {
                            **_SUPPRESSED_ADDRESS,
                            "description": "In the sender form; without `channel`: `@` is "
                            "email, `+` and digits SMS, digits alone a Telegram user id",
                        },
                        "reason": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 200,
                            "pattern": _NOT_BLANK,
                            "description": "bounced, stop_requested, bot_blocked, or an "
                            "operator's note",
                        },
                        "channel": _nullable({"enum": _SUPPRESSED_CHANNELS}),
                        "until": _nullable(
                            {
                                "type": "string",
                                "pattern": EXPECTED_AT,
                                "description": "RFC 3339; absent or null: until removed",
                            }
                        ),
                    },
                }
            ),
            "responses": {
                "201": _json(_ref("Suppression"), "On the list"),
                "400": _response("BadJson"),
                **_GUARDED,
                "411": _response("LengthRequired"),
                "413": _response("BodyTooLarge"),
                "422": _error(
                    "`invalid`: an address or channel that cannot be read, a blank "
                    "reason, an `until` that is no date"
                ),
            },
        },
        "delete": {
            "summary": "Take an address off the list",
            "operationId": "suppressionRemove",
            "security": _ADMIN,
            "parameters": [
                {
                    "name": "address",
                    "in": "query",
                    "required": True,
                    "schema": _SUPPRESSED_ADDRESS,
                },
                {
                    "name": "channel",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": _SUPPRESSED_CHANNELS},
                },
            ],
            "responses": {
                "200": _json(
                    _object(
                        {
                            "address": _STRING,
                            "channel": {"enum": _SUPPRESSED_CHANNELS},
                            "removed": _BOOLEAN,
                        }
                    )
                ),
                "400": _error("`bad_query`: an address or channel that cannot be read"),
                **_GUARDED,
                "404": _error("`not_found`: that address is not on the list"),
            },
        },
    },
    "/api/v1/admin/merges/{id}/undo": {
        "post": {
            "summary": "Undo a recorded contact merge (no body)",
            "operationId": "undoMerge",
            "security": _ADMIN,
            "parameters": [
                _path_parameter(
                    "id",
                    "Merge id (`merges[].id`)",
                    {"type": "integer", "minimum": 1, "maximum": _SQLITE_MAX},
                )
            ],
            "responses": {
                "200": _json(_object({"merge": _INTEGER, "undone": {"const": True}})),
                "400": _error("`bad_id`: not decimal digits"),
                **_GUARDED,
                "404": _error(
                    "`not_found`: no such merge (ids are 1 to 2^63-1), or already undone"
                ),
            },
        }
    },
    # web chat and feedback form (public)
    "/chat": {
        "get": {
            "summary": "Redirect to /chat/",
            "operationId": "chatRedirect",
            "security": _PUBLIC,
            "responses": {
                "308": {
                    "description": "To /chat/",
                    "headers": {"Location": {"schema": {"const": "/chat/"}}},
                }
            },
        }
    },
    "/chat/": {
        "get": {
            "summary": "The page with the chat widget",
            "operationId": "chatPage",
            "security": _PUBLIC,
            "responses": {
                "200": {
                    "description": "index.html, with a Content-Security-Policy header",
                    "content": {"text/html": {"schema": _STRING}},
                }
            },
        }
    },
    "/chat/{name}": {
        "get": {
            "summary": "The widget's files: index.html, widget.js (embed with one script tag), "
            "widget.css",
            "operationId": "chatFile",
            "security": _PUBLIC,
            "parameters": [_path_parameter("name", "File name")],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {
                        "text/html": {"schema": _STRING},
                        "text/javascript": {"schema": _STRING},
                        "text/css": {"schema": _STRING},
                    },
                },
                "404": {
                    "description": "Any other name",
                    "content": {"text/plain": {"schema": _STRING}},
                },
            },
        }
    },
    "/chat/files/{id}": {
        "get": {
            "summary": "A file an operator sent to this chat session (a notice's attachments)",
            "operationId": "chatSessionFile",
            "security": _PUBLIC,
            "parameters": [
                _path_parameter("id", "The `id` of a file in a notice frame"),
                {
                    "name": "X-Chat-Session",
                    "in": "header",
                    "required": True,
                    "description": "The session token of the chat's welcome frame",
                    "schema": _STRING,
                },
            ],
            "responses": {
                "200": {
                    "description": "The file, streamed, as an attachment (nosniff, no-store)",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "401": _error("`no_session`: no or unknown X-Chat-Session"),
                "404": _error("`not_found`: never sent to this session, or no longer clean"),
            },
        },
        "options": {
            "summary": "CORS preflight of the widget embedded on a page of allowed_origins",
            "operationId": "chatFilePreflight",
            "security": _PUBLIC,
            "parameters": [_path_parameter("id", "The `id` of a file in a notice frame")],
            "responses": {
                "204": {"description": "Allowed: GET with X-Chat-Session from this Origin"},
                "403": {"description": "The Origin is not one of allowed_origins"},
            },
        },
    },
    "/chat/upload": {
        "post": {
            "summary": "A web chat upload; X-Chat-Session names the session",
            "operationId": "chatUpload",
            "security": _PUBLIC,
            "parameters": [
                {
                    "name": "X-Chat-Session",
                    "in": "header",
                    "required": True,
                    "description": "The session token of the chat's welcome frame",
                    "schema": _STRING,
                },
            ],
            "requestBody": _ONE_FILE,
            "responses": {
                "201": _json(_ref("Upload"), "Stored, type-checked and scanned"),
                "400": _error(
                    "`unreadable`: a multipart body that cannot be parsed (no boundary), more "
                    "than one file part, or more than 4 other fields; `no_file`: no file "
                    "part (also a body that is not a form)"
                ),
                "401": _error(
                    "`no_session`: no or unknown X-Chat-Session, or the web chat is disabled"
                ),
                "411": _response("LengthRequired"),
                "413": _error(
                    "`body_too_large`: Content-Length over [attachments.limits.webchat] file "
                    "+ 256 KiB, nothing read; `file_too_large`: the file is over "
                    "[attachments.limits.webchat] file, nothing kept; "
                    "`attachments_not_accepted`: the channel's count limit is 0"
                ),
            },
        }
    },
    "/api/v1/forms/feedback": {
        "post": {
            "summary": "The portal's feedback form; always files a new ticket",
            "operationId": "feedbackForm",
            "security": _PUBLIC,
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Scopes redelivery: the same fields, file contents and key "
                    "answer the same ticket",
                    "schema": _STRING,
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "allOf": [
                                _ref("FeedbackForm"),
                                {
                                    "description": "Plus up to [form] max_files (5) file "
                                    "parts under any field name",
                                },
                            ]
                        }
                    },
                    "application/x-www-form-urlencoded": {"schema": _ref("FeedbackForm")},
                    "application/json": {"schema": _ref("FeedbackForm")},
                },
            },
            "responses": {
                "201": _json(
                    _object(
                        {
                            "ticket": {
                                "type": ["string", "null"],
                                "description": "The new ticket's number; null (with "
                                "envelope_id null) only if filing failed and the submission "
                                "was kept as dead letter intake:ID",
                            },
                            "envelope_id": _NULLABLE_STRING,
                        }
                    ),
                    "Stored and filed",
                ),
                "400": _error(
                    "`unreadable`: another content type, invalid JSON or JSON that is not an "
                    "object, or a multipart body that cannot be parsed"
                ),
                "411": _response("LengthRequired"),
                "413": _error(
                    "`body_too_large`: Content-Length over [attachments.limits.form] message "
                    "+ 256 KiB (multipart) or 1 MiB (otherwise), nothing read; "
                    "`file_too_large`: a file over [attachments.limits.form] file; "
                    "`too_many_attachments`: more files than [form] max_files or its count "
                    "(nothing stored); `attachments_too_large`: files "
                    "over its message total; `attachments_not_accepted`: count is 0"
                ),
                "422": _json(_ref("FormInvalid"), "`invalid`: field errors by field name"),
                "503": _error(
                    "`disabled`: channels/webchat.toml has enabled = false; `unavailable`: "
                    "not stored, send it again later"
                ),
            },
        }
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "omnirouter",
        "version": "1",
        "description": "Envelopes for the ticketing backend, status changes and replies back "
        "to citizens, the admin API, the web chat's HTTP routes and the feedback form. "
        "Backend routes take a backend token, /api/v1/admin/* and /metrics an admin token. "
        "Errors are {error, message}. The WebSocket /chat/ws and the signed webhook are "
        "described in docs/api.md.",
    },
    "components": {
        "securitySchemes": {
            "backend": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from [api] backend_tokens_file",
            },
            "admin": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from [api] admin_tokens_file",
            },
            "metrics": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from [api] metrics_tokens_file (opens /metrics only)",
            },
        },
        "schemas": _SCHEMAS,
        "responses": _RESPONSES,
    },
    "paths": _PATHS,
}
