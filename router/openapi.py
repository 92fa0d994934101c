"""The OpenAPI 3.1 document served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ERRORS = {
    "401": _json(_ref("Error"), "No or unknown bearer token"),
    "403": _json(_ref("Error"), "The token is not allowed here"),
}
_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{4,12}$"},
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeats with the same key change nothing and answer the same id.",
    "schema": {"type": "string", "maxLength": 200},
}
_STATUS = ["accepted", "in_progress", "under_review", "awaiting_citizen", "resolved", "rejected"]
_STRINGS = {"type": "array", "items": {"type": "string"}}
_NULLABLE = {"type": ["string", "null"]}

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _ticket_update(summary: str, required: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A POST that changes a ticket and answers 202 with the notification id."""
    return {
        "post": {
            "summary": summary,
            "parameters": [_NUMBER, _IDEMPOTENCY],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": [required],
                            "additionalProperties": False,
                            "properties": properties,
                        }
                    }
                },
            },
            "responses": {
                "202": _json(_ref("Accepted")),
                "404": _json(_ref("Error")),
                "422": _json(_ref("Error")),
                **_ERRORS,
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "omnirouter",
        "version": "1",
        "description": "Envelopes for the ticketing backend, status changes and replies back "
        "to citizens, and the admin API. Bearer tokens: backend endpoints take a backend token, "
        "/api/v1/admin/* an admin token.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "Sender": {
                "type": "object",
                "required": ["kind", "address"],
                "properties": {
                    "kind": {"type": "string"},
                    "address": {"type": "string"},
                    "display_name": _NULLABLE,
                    "verified": {"type": "boolean"},
                },
            },
            "Category": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
            },
            "Envelope": {
                "type": "object",
                "required": [
                    "id",
                    "schema",
                    "received_at",
                    "channel",
                    "channel_account",
                    "channel_message_id",
                    "sender",
                    "contact_id",
                    "thread",
                    "text",
                    "language",
                ],
                "properties": {
                    "id": {"type": "string", "description": "Sortable unique id (ULID)"},
                    "schema": {"const": "omnirouter.envelope/v1"},
                    "received_at": {"type": "string", "format": "date-time"},
                    "channel": {"enum": ["email", "sms", "messenger", "webchat", "form"]},
                    "channel_account": {"type": "string"},
                    "channel_message_id": {"type": "string"},
                    "sender": _ref("Sender"),
                    "contact_id": {"type": "string"},
                    "ticket": {
                        "type": ["object", "null"],
                        "properties": {
                            "number": {"type": "string"},
                            "is_new": {"type": "boolean"},
                            "category": _ref("Category"),
                            "priority": {"type": "string"},
                            "first_response_due": {"type": "string", "format": "date-time"},
                            "resolution_due": {"type": "string", "format": "date-time"},
                            "related": _STRINGS,
                        },
                    },
                    "thread": {
                        "type": "object",
                        "properties": {
                            "conversation_id": {"type": "string"},
                            "in_reply_to": _NULLABLE,
                        },
                    },
                    "subject": _NULLABLE,
                    "text": {"type": "string"},
                    "language": {"type": "string"},
                    "attachments": {"type": "array", "items": {"type": "object"}},
                    "identifiers": {
                        "type": "object",
                        "properties": {
                            "snils": _STRINGS,
                            "inn": _STRINGS,
                            "phones": _STRINGS,
                            "emails": _STRINGS,
                            "ticket_refs": _STRINGS,
                        },
                    },
                    "duplicate_of": _NULLABLE,
                    "flags": _STRINGS,
                },
            },
            "Notification": {
                "type": "object",
                "required": ["state", "attempts"],
                "properties": {
                    "id": {"type": "string"},
                    "state": {
                        "enum": [
                            "queued",
                            "sending",
                            "sent",
                            "delivered",
                            "failed",
                            "dead",
                            "dropped",
                        ]
                    },
                    "attempts": {"type": "integer"},
                    "last_error": _NULLABLE,
                    "channel": {"type": "string"},
                    "kind": {"type": "string"},
                    "ticket": _NULLABLE,
                    "created_at": {"type": "string"},
                },
            },
            "Accepted": {"type": "object", "properties": {"notification_id": {"type": "string"}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/envelopes": {
            "get": {
                "summary": "Pull feed of envelopes after a cursor (long-poll with wait)",
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "The `next` of the previous page; empty for the start",
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {
                        "name": "wait",
                        "in": "query",
                        "schema": {"type": "number", "minimum": 0},
                        "description": "Seconds to wait for new envelopes when there are none",
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "envelopes": {"type": "array", "items": _ref("Envelope")},
                                "next": {"type": "string"},
                            },
                        }
                    ),
                    "400": _json(_ref("Error")),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/tickets/{number}": {
            "get": {
                "summary": "A ticket with status, category, channel, thread and history",
                "parameters": [_NUMBER],
                "responses": {
                    "200": _json({"type": "object"}),
                    "404": _json(_ref("Error")),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/tickets/{number}/status": _ticket_update(
            "Change the status; the citizen is notified on their channel",
            "status",
            {
                "status": {"enum": _STATUS},
                "comment": {"type": "string"},
                "reason": {"type": "string", "description": "Required for rejected"},
                "expected_at": {"type": "string", "format": "date-time"},
            },
        ),
        "/api/v1/tickets/{number}/replies": _ticket_update(
            "Send an operator's reply to the citizen",
            "text",
            {"text": {"type": "string"}, "attachments": _STRINGS},
        ),
        "/api/v1/attachments/{id}": {
            "get": {
                "summary": "A checked attachment's content (quarantined files: 403)",
                "parameters": [_ID],
                "responses": {
                    "200": {"description": "the file, with its detected Content-Type"},
                    "403": _json(_ref("Error"), "Quarantined: infected or rejected"),
                    "404": _json(_ref("Error")),
                    "409": _json(_ref("Error"), "Not scanned yet"),
                    **_ERRORS,
                },
            }
        },
        "/chat/upload": {
            "post": {
                "summary": "A web chat upload (public; X-Chat-Session names the session)",
                "security": [],
                "parameters": [
                    {
                        "name": "X-Chat-Session",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "upload_id": {"type": "string"},
                                "size": {"type": "integer"},
                                "scan": {
                                    "type": "object",
                                    "properties": {
                                        "status": {
                                            "enum": [
                                                "pending",
                                                "clean",
                                                "infected",
                                                "rejected",
                                                "error",
                                            ]
                                        },
                                        "detail": _NULLABLE,
                                    },
                                },
                            },
                        }
                    ),
                    "401": _json(_ref("Error")),
                    "413": _json(_ref("Error"), "Over a size or count limit"),
                },
            }
        },
        "/api/v1/notifications/{id}": {
            "get": {
                "summary": "Delivery state of a notification",
                "parameters": [_ID],
                "responses": {
                    "200": _json(_ref("Notification")),
                    "404": _json(_ref("Error")),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/forms/feedback": {
            "post": {
                "summary": "The portal's feedback form (public)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["text"],
                                "properties": {
                                    k: {"type": "string"}
                                    for k in ("name", "phone", "email", "type", "text")
                                },
                            }
                        },
                        "application/json": {"schema": {"type": "object", "required": ["text"]}},
                    },
                },
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "ticket": {"type": "string"},
                                "envelope_id": {"type": "string"},
                            },
                        }
                    ),
                    "422": _json({"type": "object"}, "Field errors by field name"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "security": [],
                "responses": {"200": {"description": "alive"}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness",
                "security": [],
                "responses": {
                    "200": {"description": "ready"},
                    "503": {"description": "starting or draining"},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (metrics or admin token)",
                "responses": {"200": {"description": "text exposition format"}, **_ERRORS},
            }
        },
        "/api/v1/admin/status": {
            "get": {
                "summary": "Channels, queues, oldest undelivered item",
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            }
        },
        "/api/v1/admin/dlq": {
            "get": {
                "summary": "Dead letters",
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            }
        },
    },
}
