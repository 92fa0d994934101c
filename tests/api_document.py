"""An HTTP answer checked against what the OpenAPI document declares for its path, method and
status: the status must be listed, the media type among the listed ones, a JSON body valid."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import jsonschema_rs

# The document's address in the schema registry; its own "#/components/..." refs resolve in it.
DOCUMENT_URI = "urn:omnirouter:openapi"


def _pointer(*parts: str) -> str:
    """A URI fragment of the JSON pointer (RFC 6901 6) to the document's part under `parts`."""
    pointer = "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)
    return quote(pointer, safe="/~")


class ApiDocument:
    """The OpenAPI document, ready to check answers against."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._registry = jsonschema_rs.Registry([(DOCUMENT_URI, document)])

    def operations(self) -> set[tuple[str, str]]:
        """Every documented (METHOD, path)."""
        return {
            (method.upper(), path)
            for path, item in self.document["paths"].items()
            for method in item
        }

    def mismatches(
        self, method: str, path: str, status: int, content_type: str, body: bytes
    ) -> list[str]:
        """What in the answer to METHOD `path` the document does not declare; [] if nothing."""
        where = f"{method} {path} {status}"
        responses = self.document["paths"][path][method.lower()]["responses"]
        parts: tuple[str, ...] = ("paths", path, method.lower(), "responses", str(status))
        response = responses.get(str(status))
        if response is None:
            return [f"{where}: the status is not documented"]
        if "$ref" in response:
            name = response["$ref"].rpartition("/")[2]
            parts = ("components", "responses", name)
            response = self.document["components"]["responses"][name]
        content = response.get("content", {})
        media_type = content_type.partition(";")[0].strip()
        if not content:
            return [f"{where}: a body where none is documented"] if body else []
        if media_type not in content and "*/*" not in content:
            return [f"{where}: {media_type or 'no'} body, documented: {', '.join(content)}"]
        if media_type != "application/json":
            return []
        schema = _pointer(*parts, "content", media_type, "schema")
        validator = jsonschema_rs.validator_for(
            {"$ref": DOCUMENT_URI + "#" + schema}, registry=self._registry, validate_formats=True
        )
        return [
            f"{where}: {error.instance_path}: {error.message}"
            for error in validator.iter_errors(json.loads(body))
        ]
