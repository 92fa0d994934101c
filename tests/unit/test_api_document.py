"""The OpenAPI document's schemas are the answers' Structs: an answer that drifts from the
document is caught, and the document is valid OpenAPI."""

from __future__ import annotations

import json

import jsonschema_rs
import msgspec
import pytest
import schemathesis

from channels.contract import Sender
from channels.http import UploadScan
from normaliser.envelope import Category, Envelope, Thread, envelope_encoder
from router.http.openapi import OPENAPI
from router.http.views import Queued, ReplyFile
from tests.api_document import ApiDocument

DOCUMENT = ApiDocument(OPENAPI)
ENVELOPE = Envelope(
    id="01JD0000000000000000000000",
    received_at="2026-11-23T02:07:37.123Z",
    channel="webchat",
    channel_account="main",
    channel_message_id="m-1",
    sender=Sender("webchat", "s-1"),
    contact_id="c-1",
    thread=Thread("conv-1"),
    text="Не открывается личный кабинет",
    language="ru",
)


def _mismatches(path: str, method: str, status: int, body: object) -> list[str]:
    encoded = msgspec.json.encode(body)
    return DOCUMENT.mismatches(method, path, status, "application/json", encoded)


def test_an_answer_written_from_its_struct_matches_the_document() -> None:
    """What the API writes for a reply's file and a queued notification is what it declares."""
    file = ReplyFile("a-1", 1024, UploadScan("clean", None))
    assert (
        _mismatches("/api/v1/tickets/{number}/attachments", "POST", 201, msgspec.to_builtins(file))
        == []
    )
    assert (
        _mismatches(
            "/api/v1/tickets/{number}/status", "POST", 202, msgspec.to_builtins(Queued("n-1"))
        )
        == []
    )


@pytest.mark.parametrize("drift", ["missing", "extra", "wrong type"])
def test_an_envelope_that_drifts_from_the_document_is_caught(drift: str) -> None:
    """A feed page whose envelope lacks a field, has one more or one of another type fails."""
    envelope = json.loads(envelope_encoder.encode(ENVELOPE))
    page = {"envelopes": [envelope], "next": "1"}
    assert _mismatches("/api/v1/envelopes", "GET", 200, page) == []
    if drift == "missing":
        del envelope["duplicate_of"]  # a field with a default is written all the same
    elif drift == "extra":
        envelope["priority"] = "high"
    else:
        envelope["identifiers"]["phones"] = "+79161234567"
    assert _mismatches("/api/v1/envelopes", "GET", 200, page)


def test_an_error_answer_is_held_to_the_error_schema() -> None:
    """A 404 without its message, or an undocumented status, is caught."""
    path = "/api/v1/tickets/{number}"
    assert _mismatches(path, "GET", 404, {"error": "not_found", "message": "no such ticket"}) == []
    assert _mismatches(path, "GET", 404, {"error": "not_found"})
    assert _mismatches(path, "GET", 418, {"error": "teapot", "message": "short and stout"})


def test_the_unauthorized_answer_is_resolved_through_its_shared_response() -> None:
    """401 is declared once under components/responses; answers are checked against it."""
    unauthorized = {"error": "unauthorized", "message": "send Authorization: Bearer <token>"}
    assert _mismatches("/api/v1/admin/status", "GET", 401, unauthorized) == []
    assert _mismatches("/api/v1/admin/status", "GET", 401, {**unauthorized, "hint": "x"})


def test_an_optional_field_may_be_left_out_only_where_the_struct_can_leave_it_out() -> None:
    """A reply event carries no comment (UNSET), but a ticket's category is never left out."""
    schemas = OPENAPI["components"]["schemas"]
    assert "comment" not in schemas["TicketEvent"]["required"]
    assert {"at", "kind", "status"} <= set(schemas["TicketEvent"]["required"])
    assert "category" in schemas["Ticket"]["required"]


def test_component_schemas_come_from_the_structs() -> None:
    """Each schema is the one msgspec makes of its Struct: descriptions from their docstrings."""
    schemas = OPENAPI["components"]["schemas"]
    assert schemas["Category"]["description"] == Category.__doc__
    assert set(schemas["Envelope"]["properties"]) == set(Envelope.__struct_fields__)


def test_the_document_is_valid_openapi() -> None:
    """The document passes the OpenAPI 3.1 schema, and each component is valid JSON Schema."""
    schemathesis.openapi.from_dict(OPENAPI).validate()
    for name, schema in OPENAPI["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
