"""Building blocks of the OpenAPI document, for the router's routes and a channel's alike.

A channel that serves HTTP routes describes them in its plug-in's `http_docs` (HttpDocs): the
daemon's document (router/http/openapi.py) takes its paths, its responses and the schemas of
its answer types, so that the document describes every route the listener serves while the
router knows no channel by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

REF = "#/components/schemas/{name}"
STRING = {"type": "string"}
PUBLIC: list[dict[str, list[str]]] = []
# A character that str.strip() keeps (Python's whitespace spelled out, the same in ECMA-262
# and Python regexes): a field the server refuses when blank after strip() must match it.
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# The body of an upload: one multipart file part.
ONE_FILE: dict[str, Any] = {
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


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema `name`."""
    return {"$ref": REF.format(name=name)}


def response(name: str) -> dict[str, str]:
    """A reference to the component response `name`."""
    return {"$ref": f"#/components/responses/{name}"}


def json_answer(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A JSON answer of `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_answer(description: str) -> dict[str, Any]:
    """An `Error` answer; `description` names the `error` codes it can carry."""
    return json_answer(ref("Error"), description)


def path_parameter(name: str, description: str, schema: dict[str, Any] = STRING) -> dict[str, Any]:
    """A required path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


class HttpDocs(NamedTuple):
    """The OpenAPI description of a plug-in's HTTP routes: its path items, the component
    responses they refer to, and the msgspec types of their JSON answers (their schemas join
    the document's components under the types' names)."""

    paths: Mapping[str, Any] = {}
    responses: Mapping[str, Any] = {}
    answers: tuple[type[msgspec.Struct], ...] = ()
