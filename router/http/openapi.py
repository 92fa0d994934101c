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
from channels.webchat.adapter import Upload
from channels.webchat.form import FormFiled, FormInvalid
from channels.webchat.refusals import RateLimited
from router.delivery.suppression import KINDS
from router.http import views
from router.ticketing.catalogue import STATUSES
from router.ticketing.updates import EXPECTED_AT

# -- building blocks ---------------------------------------------------------------------------


_REF = "#/components/schemas/{name}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    """An `Error` answer; `description` names the `error` codes it can carry."""
    return _json(_ref("Error"), description)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
# The largest integer SQLite holds: ids and cursors past it name nothing.
_SQLITE_MAX = 2**63 - 1
# A character that str.strip() keeps (Python's whitespace spelled out, the same in ECMA-262
# and Python regexes): a field the server refuses when blank after strip() must match it.
_NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

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


# The feedback form's fields, in any of its three encodings (the form is read as text fields).
_FEEDBACK_FORM = {
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
        "type": {"type": "string", "description": "A key of [form.types] in channels/webchat.toml"},
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


# -- schemas ---------------------------------------------------------------------------------

# Every answer with a JSON body: what it answers is one of these Structs, written by msgspec.
_ANSWERS: tuple[type[msgspec.Struct], ...] = (
    Error,
    RateLimited,
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
    Upload,
    FormFiled,
    FormInvalid,
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
    for name, schema in msgspec.json.schema_components(_ANSWERS, ref_template=_REF)[1].items()
}

_RESPONSES: dict[str, Any] = {
    "RateLimited": {
        "description": "`rate_limited`: over a [rate_limits] limit of channels/webchat.toml",
        "headers": {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": _ref("RateLimited")}},
    },
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
            "responses": {"200": _json(_ref("Health"), "Alive")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: recovery is done and the daemon is not draining",
            "operationId": "readyz",
            "security": _PUBLIC,
            "responses": {
                "200": _json(_ref("Readiness"), "Ready"),
                "503": _json(_ref("Readiness"), "Starting or draining"),
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
    "/api/v1/raw/{id}": {
        "get": {
            "summary": "A message as its channel received it: an envelope's `raw.id`",
            "operationId": "raw",
            "security": _BACKEND,
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": _STRING},
            ],
            "responses": {
                "200": {
                    "description": "The bytes as received (a MIME message, an SMS's PDUs as "
                    "JSON, a Bot API update), with the envelope's `raw.content_type`.",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_GUARDED,
                "404": _error("`not_found`: no such raw message"),
            },
        }
    },
    # admin
    "/api/v1/admin/status": {
        "get": {
            "summary": "Instance, readiness, channels, clamd, queue depths, oldest undelivered",
            "operationId": "adminStatus",
            "security": _ADMIN,
            "responses": {"200": _json(_ref("DaemonStatus")), **_GUARDED},
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
                "200": _json(_ref("DeadLetters")),
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
                "200": _json(_ref("Replayed")),
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
                    _ref("SuppressionList"),
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
                "201": _json(_ref("SuppressionEntry"), "On the list"),
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
                "200": _json(_ref("Unsuppressed")),
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
                "200": _json(_ref("MergeUndone")),
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
                "429": _response("RateLimited"),
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
                                _FEEDBACK_FORM,
                                {
                                    "description": "Plus up to [form] max_files (5) file "
                                    "parts under any field name",
                                },
                            ]
                        }
                    },
                    "application/x-www-form-urlencoded": {"schema": _FEEDBACK_FORM},
                    "application/json": {"schema": _FEEDBACK_FORM},
                },
            },
            "responses": {
                "201": _json(_ref("FormFiled"), "Stored and filed"),
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
                "429": _response("RateLimited"),
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
