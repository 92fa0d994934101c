"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

Every HTTP route of the listener is here (router/http/api.py and channels/webchat/adapter.py; the
WebSocket /chat/ws is described in docs/api.md), with every status its handler can answer. The
paths are written by hand; the schemas of the answers are made by msgspec from the Structs the
handlers answer with (router/http/views.py and the channels' own), so the two cannot drift apart.
tests/integration/test_backend_api.py compares these paths with the app's route table, and
tests/integration/test_api_document.py checks the daemon's real answers against them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from channels.http import Error
from channels.openapi import (
    NOT_BLANK,
    ONE_FILE,
    PUBLIC,
    REF,
    STRING,
    error_answer,
    json_answer,
    path_parameter,
    ref,
    response,
)
from router.delivery.suppression import KINDS
from router.http import views
from router.platform import registry
from router.ticketing.catalogue import STATUSES
from router.ticketing.updates import EXPECTED_AT

# -- building blocks ---------------------------------------------------------------------------


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_NULLABLE_STRING = {"type": ["string", "null"]}
# The largest integer SQLite holds: ids and cursors past it name nothing.
_SQLITE_MAX = 2**63 - 1

_SUPPRESSED_CHANNELS = list(KINDS)
# An address as written: not blank, no control or invisible (bidi, zero-width) characters.
_SUPPRESSED_ADDRESS = {
    "type": "string",
    "allOf": [
        {"pattern": NOT_BLANK},
        {"pattern": "^[^\x00-\x1f\x7f-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]*$"},
    ],
}

_Security = list[dict[str, list[str]]]
_BACKEND: _Security = [{"backend": []}]
_ADMIN: _Security = [{"admin": []}]
_METRICS: _Security = [{"metrics": []}, {"admin": []}]
_BACKEND_OR_ADMIN: _Security = [{"backend": []}, {"admin": []}]

# Answers of every guarded route (the guard runs before the handler).
_GUARDED = {"401": response("Unauthorized"), "403": response("Forbidden")}


_NUMBER = path_parameter("number", "Ticket number, e.g. 2600000128")
_ATTACHMENT_ID = path_parameter("id", "Attachment id (`attachments[].id` of an envelope)")
_DEAD_LETTER_ID = path_parameter(
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
    "schema": STRING,
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


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
                "202": json_answer(
                    ref("Queued"), "Applied; the notification to the citizen is queued"
                ),
                "400": response("BadJson"),
                **_GUARDED,
                "404": error_answer("`not_found`: no such ticket"),
                "411": response("LengthRequired"),
                "413": response("BodyTooLarge"),
                "422": error_answer(rejections),
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
                            "schema": STRING,
                        },
                        "X-Content-Type-Options": {"schema": {"const": "nosniff"}},
                        "Cache-Control": {"schema": {"const": "no-store"}},
                        "X-Omnirouter-Scan": {
                            "description": f"The verdict: {scan}",
                            "schema": STRING,
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
                            "content": {"application/json": {"schema": ref("Error")}},
                        }
                    }
                    if not admin
                    else {}
                ),
                "404": error_answer("`not_found`: no such attachment"),
                "409": error_answer("`scan_pending`: not scanned yet"),
            },
        }
    }


# -- schemas ---------------------------------------------------------------------------------

# Every answer with a JSON body: what it answers is one of these Structs, written by msgspec.
_ANSWERS: tuple[type[msgspec.Struct], ...] = (
    Error,
    views.Health,
    views.Readiness,
    views.FeedPage,
    views.Ticket,
    views.Queued,
    views.ReplyFile,
    views.Notification,
    views.DaemonStatus,
    views.DeadLetters,
    views.Replayed,
    views.DeadLetterAction,
    views.Contact,
    views.SuppressionList,
    views.Unsuppressed,
    views.MergeUndone,
    # The channels' answers (registry.http_docs), beside the router's own.
    *(answer for docs in registry.http_docs() for answer in docs.answers),
)


def _answer_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A generated schema of an answer, as strict as msgspec writes the answer."""
    # msgspec's schemas say what it decodes, where a field with a default may be left out. It
    # writes every field of a Struct all the same (but one left UNSET), and nothing else: so
    # a field with a default is required too (its default tells a reader of an answer
    # nothing), and an unknown field is an error.
    if schema.get("type") != "object" or "properties" not in schema:
        return schema
    properties = {name: dict(field) for name, field in schema["properties"].items()}
    required = [
        name
        for name, field in properties.items()
        if name in schema["required"] or field.pop("default", UNSET) is not UNSET
    ]
    return {**schema, "properties": properties, "required": required, "additionalProperties": False}


_SCHEMAS = {
    name: _answer_schema(schema)
    for name, schema in msgspec.json.schema_components(_ANSWERS, ref_template=REF)[1].items()
}

_RESPONSES: dict[str, Any] = {
    "Unauthorized": {
        "description": "`unauthorized`: no bearer token, or one in no tokens file",
        "headers": {
            "WWW-Authenticate": {
                "description": 'Bearer realm="omnirouter", or Bearer error="invalid_token"',
                "schema": STRING,
            }
        },
        "content": {"application/json": {"schema": ref("Error")}},
    },
    "Forbidden": error_answer("`forbidden`: a valid token that does not give this route's role"),
    "BadJson": error_answer("`bad_json`: the body is not JSON; `bad_content_length`: not a number"),
    "LengthRequired": error_answer("`length_required`: no Content-Length (a chunked body)"),
    "BodyTooLarge": error_answer(
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
            "security": PUBLIC,
            "responses": {"200": json_answer(ref("Health"), "Alive")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: recovery is done and the daemon is not draining",
            "operationId": "readyz",
            "security": PUBLIC,
            "responses": {
                "200": json_answer(ref("Readiness"), "Ready"),
                "503": json_answer(ref("Readiness"), "Starting or draining"),
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
                    "content": {"text/plain": {"schema": STRING}},
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
            "responses": {"200": json_answer({"type": "object"}, "OpenAPI 3.1"), **_GUARDED},
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
                "200": json_answer(ref("FeedPage"), "Envelopes in commit order, each once"),
                "400": error_answer(
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
                "200": json_answer(ref("Ticket")),
                **_GUARDED,
                "404": error_answer("`not_found`: no such ticket"),
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
                "status": {"enum": list(STATUSES)},
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
                "properties": {"reason": {"type": "string", "pattern": NOT_BLANK}},
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
                    "pattern": NOT_BLANK,
                    "description": "Not blank",
                },
                "attachments": {
                    "type": "array",
                    "items": STRING,
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
        {
            "409": error_answer(
                "`scan_pending`: a file is still being scanned; send the reply again"
            )
        },
    ),
    "/api/v1/tickets/{number}/attachments": {
        "post": {
            "summary": "Upload a file for a reply to this ticket (stored, typed and scanned)",
            "operationId": "ticketAttachment",
            "security": _BACKEND,
            "parameters": [_NUMBER],
            "requestBody": ONE_FILE,
            "responses": {
                "201": json_answer(ref("ReplyFile"), "Stored, type-checked and scanned"),
                "400": error_answer(
                    "`unreadable`: a multipart body that cannot be parsed; `no_file`: no file "
                    "part; `bad_content_length`"
                ),
                **_GUARDED,
                "404": error_answer("`not_found`: no such ticket"),
                "411": response("LengthRequired"),
                "413": error_answer(
                    "`body_too_large`: Content-Length over the file limit of the citizen's "
                    "channel + 256 KiB, nothing read; `file_too_large`: the file is over it"
                ),
                "422": error_answer(
                    "`attachments_not_accepted`: the citizen's channel carries no files"
                ),
            },
        }
    },
    "/api/v1/notifications/{id}": {
        "get": {
            "summary": "Delivery state of a notification",
            "operationId": "notification",
            "security": _BACKEND,
            "parameters": [path_parameter("id", "The `notification_id` of a 202 answer")],
            "responses": {
                "200": json_answer(ref("Notification")),
                **_GUARDED,
                "404": error_answer("`not_found`: no such notification"),
            },
        }
    },
    "/api/v1/attachments/{id}": _attachment_download(
        "A checked attachment's content (quarantined files: 403)", "attachment", admin=False
    ),
    "/api/v1/raw/{id}": {
        "get": {
            "summary": "A message as its channel received it: an envelope's `raw.id`",
            "operationId": "raw",
            "security": _BACKEND,
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": STRING},
            ],
            "responses": {
                "200": {
                    "description": "The bytes as received (a MIME message, an SMS's PDUs as "
                    "JSON, a Bot API update), with the envelope's `raw.content_type`.",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_GUARDED,
                "404": error_answer("`not_found`: no such raw message"),
            },
        }
    },
    # admin
    "/api/v1/admin/status": {
        "get": {
            "summary": "Instance, readiness, channels, clamd, queue depths, oldest undelivered",
            "operationId": "adminStatus",
            "security": _ADMIN,
            "responses": {"200": json_answer(ref("DaemonStatus")), **_GUARDED},
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
                    "schema": STRING,
                },
            ],
            "responses": {
                "200": json_answer(ref("Ticket")),
                **_GUARDED,
                "404": error_answer("`not_found`: no such ticket"),
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
                "200": json_answer(ref("DeadLetters")),
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
                "200": json_answer(ref("Replayed")),
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
                "200": json_answer(ref("DeadLetter")),
                **_GUARDED,
                "404": error_answer("`not_found`: no such dead letter"),
            },
        },
        "delete": {
            "summary": "Set one dead letter aside for good (kept, state dropped)",
            "operationId": "dlqDrop",
            "security": _ADMIN,
            "parameters": [_DEAD_LETTER_ID],
            "responses": {
                "200": json_answer(ref("DeadLetterAction"), "Dropped; `action` is drop"),
                "400": error_answer(
                    "`bad_id`: not KIND:KEY with a known kind (a handoff's KEY in digits)"
                ),
                **_GUARDED,
                "404": error_answer("`not_found`: no such dead letter"),
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
                "200": json_answer(ref("DeadLetterAction"), "Queued again; `action` is replay"),
                "400": error_answer(
                    "`bad_id`: not KIND:KEY with a known kind (a handoff's KEY in digits)"
                ),
                **_GUARDED,
                "404": error_answer("`not_found`: no such dead letter"),
            },
        }
    },
    "/api/v1/admin/contacts/{id}": {
        "get": {
            "summary": "A contact's identities (masked) and merges",
            "operationId": "contact",
            "security": _ADMIN,
            "parameters": [path_parameter("id", "Contact id (`contact_id` of an envelope)")],
            "responses": {
                "200": json_answer(ref("Contact")),
                **_GUARDED,
                "404": error_answer("`not_found`: no identities and no merges under this id"),
            },
        }
    },
    "/api/v1/admin/suppressions": {
        "get": {
            "summary": "The suppression list: addresses that get nothing on a channel",
            "operationId": "suppressionList",
            "security": _ADMIN,
            "responses": {
                "200": json_answer(
                    ref("SuppressionList"),
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
                            "pattern": NOT_BLANK,
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
                "201": json_answer(ref("SuppressionEntry"), "On the list"),
                "400": response("BadJson"),
                **_GUARDED,
                "411": response("LengthRequired"),
                "413": response("BodyTooLarge"),
                "422": error_answer(
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
                "200": json_answer(ref("Unsuppressed")),
                "400": error_answer("`bad_query`: an address or channel that cannot be read"),
                **_GUARDED,
                "404": error_answer("`not_found`: that address is not on the list"),
            },
        },
    },
    "/api/v1/admin/merges/{id}/undo": {
        "post": {
            "summary": "Undo a recorded contact merge (no body)",
            "operationId": "undoMerge",
            "security": _ADMIN,
            "parameters": [
                path_parameter(
                    "id",
                    "Merge id (`merges[].id`)",
                    {"type": "integer", "minimum": 1, "maximum": _SQLITE_MAX},
                )
            ],
            "responses": {
                "200": json_answer(ref("MergeUndone")),
                "400": error_answer("`bad_id`: not decimal digits"),
                **_GUARDED,
                "404": error_answer(
                    "`not_found`: no such merge (ids are 1 to 2^63-1), or already undone"
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
        "responses": {
            **_RESPONSES,
            **{name: r for docs in registry.http_docs() for name, r in docs.responses.items()},
        },
    },
    "paths": {
        **_PATHS,
        **{path: item for docs in registry.http_docs() for path, item in docs.paths.items()},
    },
}
