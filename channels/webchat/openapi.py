"""The OpenAPI description of the web chat's and the feedback form's HTTP routes (public)."""

from __future__ import annotations

from channels.openapi import (
    NOT_BLANK,
    ONE_FILE,
    PUBLIC,
    STRING,
    HttpDocs,
    error_answer,
    json_answer,
    path_parameter,
    ref,
    response,
)

from .adapter import ChatConfig, Upload
from .form import FormFiled, FormInvalid
from .refusals import RateLimited

# The feedback form's fields, in any of its three encodings (the form is read as text fields).
FEEDBACK_FORM = {
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
        "email": STRING,
        "type": {"type": "string", "description": "A key of [form.types] in channels/webchat.toml"},
        "text": {
            "type": "string",
            "pattern": NOT_BLANK,
            "description": "Not blank; at most max_text_chars (4000)",
        },
    },
    "anyOf": [
        {"required": [field], "properties": {field: {"type": "string", "pattern": NOT_BLANK}}}
        for field in ("phone", "email")
    ],
}

DOCS = HttpDocs(
    paths={
        "/chat": {
            "get": {
                "summary": "Redirect to /chat/",
                "operationId": "chatRedirect",
                "security": PUBLIC,
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
                "security": PUBLIC,
                "responses": {
                    "200": {
                        "description": "index.html, with a Content-Security-Policy header",
                        "content": {"text/html": {"schema": STRING}},
                    }
                },
            }
        },
        "/chat/{name}": {
            "get": {
                "summary": "The widget's files: index.html, widget.js (embed with one script tag), "
                "widget.css",
                "operationId": "chatFile",
                "security": PUBLIC,
                "parameters": [path_parameter("name", "File name")],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {
                            "text/html": {"schema": STRING},
                            "text/javascript": {"schema": STRING},
                            "text/css": {"schema": STRING},
                        },
                    },
                    "404": {
                        "description": "Any other name",
                        "content": {"text/plain": {"schema": STRING}},
                    },
                },
            }
        },
        "/chat/files/{id}": {
            "get": {
                "summary": "A file an operator sent to this chat session (a notice's attachments)",
                "operationId": "chatSessionFile",
                "security": PUBLIC,
                "parameters": [
                    path_parameter("id", "The `id` of a file in a notice frame"),
                    {
                        "name": "X-Chat-Session",
                        "in": "header",
                        "required": True,
                        "description": "The session token of the chat's welcome frame",
                        "schema": STRING,
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file, streamed, as an attachment (nosniff, no-store)",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "401": error_answer("`no_session`: no or unknown X-Chat-Session"),
                    "404": error_answer(
                        "`not_found`: never sent to this session, or no longer clean"
                    ),
                },
            },
            "options": {
                "summary": "CORS preflight of the widget embedded on a page of allowed_origins",
                "operationId": "chatFilePreflight",
                "security": PUBLIC,
                "parameters": [path_parameter("id", "The `id` of a file in a notice frame")],
                "responses": {
                    "204": {
                        "description": "Allowed: GET with X-Chat-Session from this Origin; "
                        "without an Origin, `Allow` says what it takes"
                    },
                    "403": {"description": "The Origin is not one of allowed_origins"},
                },
            },
        },
        "/chat/config": {
            "get": {
                "summary": "Topics in a language, upload limits and the inactivity timeout the "
                "widget offers and checks before the first message; CORS for allowed_origins",
                "operationId": "chatConfig",
                "security": PUBLIC,
                "parameters": [
                    {
                        "name": "lang",
                        "in": "query",
                        "required": False,
                        "description": "ru (the default) or en: the language of topic names",
                        "schema": STRING,
                    }
                ],
                "responses": {
                    "200": json_answer(
                        ref("ChatConfig"),
                        "Topics from categories.toml by code; limits from "
                        "[attachments.limits.webchat] in bytes and [attachments] allowed; "
                        "inactivity_timeout in seconds",
                    )
                },
            }
        },
        "/chat/upload": {
            "post": {
                "summary": "A web chat upload; X-Chat-Session names the session",
                "operationId": "chatUpload",
                "security": PUBLIC,
                "parameters": [
                    {
                        "name": "X-Chat-Session",
                        "in": "header",
                        "required": True,
                        "description": "The session token of the chat's welcome frame",
                        "schema": STRING,
                    },
                ],
                "requestBody": ONE_FILE,
                "responses": {
                    "201": json_answer(ref("Upload"), "Stored, type-checked and scanned"),
                    "400": error_answer(
                        "`unreadable`: a multipart body that cannot be parsed (no boundary), more "
                        "than one file part, or more than 4 other fields; `no_file`: no file "
                        "part (also a body that is not a form)"
                    ),
                    "401": error_answer(
                        "`no_session`: no or unknown X-Chat-Session, or the web chat is disabled"
                    ),
                    "411": response("LengthRequired"),
                    "413": error_answer(
                        "`body_too_large`: Content-Length over [attachments.limits.webchat] file "
                        "+ 256 KiB, nothing read; `file_too_large`: the file is over "
                        "[attachments.limits.webchat] file, nothing kept; "
                        "`attachments_not_accepted`: the channel's count limit is 0"
                    ),
                    "429": response("RateLimited"),
                },
            },
            "options": {
                "summary": "CORS preflight of the widget embedded on a page of allowed_origins",
                "operationId": "chatUploadPreflight",
                "security": PUBLIC,
                "responses": {
                    "204": {
                        "description": "Allowed: POST with X-Chat-Session from this Origin; "
                        "without an Origin, `Allow` says what it takes"
                    },
                    "403": {"description": "The Origin is not one of allowed_origins"},
                },
            },
        },
        "/api/v1/forms/feedback": {
            "post": {
                "summary": "The portal's feedback form; always files a new ticket",
                "operationId": "feedbackForm",
                "security": PUBLIC,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Scopes redelivery: the same fields, file contents and key "
                        "answer the same ticket",
                        "schema": STRING,
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "allOf": [
                                    FEEDBACK_FORM,
                                    {
                                        "description": "Plus up to [form] max_files (5) file "
                                        "parts under any field name",
                                    },
                                ]
                            }
                        },
                        "application/x-www-form-urlencoded": {"schema": FEEDBACK_FORM},
                        "application/json": {"schema": FEEDBACK_FORM},
                    },
                },
                "responses": {
                    "201": json_answer(ref("FormFiled"), "Stored and filed"),
                    "400": error_answer(
                        "`unreadable`: another content type, invalid JSON or JSON that is not an "
                        "object, or a multipart body that cannot be parsed"
                    ),
                    "411": response("LengthRequired"),
                    "413": error_answer(
                        "`body_too_large`: Content-Length over [attachments.limits.form] message "
                        "+ 256 KiB (multipart) or 1 MiB (otherwise), nothing read; "
                        "`file_too_large`: a file over [attachments.limits.form] file; "
                        "`too_many_attachments`: more files than [form] max_files or its count "
                        "(nothing stored); `attachments_too_large`: files "
                        "over its message total; `attachments_not_accepted`: count is 0"
                    ),
                    "422": json_answer(ref("FormInvalid"), "`invalid`: field errors by field name"),
                    "429": response("RateLimited"),
                    "503": error_answer(
                        "`disabled`: channels/webchat.toml has enabled = false; `unavailable`: "
                        "not stored, send it again later"
                    ),
                },
            }
        },
    },
    responses={
        "RateLimited": {
            "description": "`rate_limited`: over a [rate_limits] limit of channels/webchat.toml",
            "headers": {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}},
            "content": {"application/json": {"schema": ref("RateLimited")}},
        },
    },
    answers=(ChatConfig, Upload, FormFiled, FormInvalid, RateLimited),
)
