"""The OpenAPI document refuses exactly the status changes, replies and ids the server refuses."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.http.openapi import OPENAPI
from router.ticketing.catalogue import STATUSES
from router.ticketing.updates import (
    Reply,
    StatusChange,
    UpdateRejected,
    checked_reply,
    checked_status_change,
)


def _validator(path: str) -> Any:
    """A JSON Schema validator, formats included, of the JSON body of POST `path`."""
    body = OPENAPI["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return jsonschema_rs.validator_for(body["schema"], validate_formats=True)


STATUS_BODY = _validator("/api/v1/tickets/{number}/status")
REPLY_BODY = _validator("/api/v1/tickets/{number}/replies")


def _server_takes(body: dict[str, Any], model: type[Any], check: Any) -> bool:
    """The server's answer to `body` is not a 422: it decodes as `model` and passes `check`."""
    try:
        check(msgspec.json.decode(msgspec.json.encode(body), type=model))
    except (msgspec.ValidationError, UpdateRejected):
        return False
    return True


# Blanks as str.strip() sees them and as ECMA-262's \s does not (and the reverse: U+FEFF, U+200B).
_SPACES = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2007\u2028\u202f\u3000\ufeff\u200b"
_TEXT = st.text(alphabet=st.sampled_from([*_SPACES, "a", "Ж"]), max_size=4) | st.text(max_size=8)


# One part of a date-time written wrong (its first occurrence replaced): RFC 3339 refuses it.
_WRONG_PARTS = {
    "month": ("-06-", "-13-"),
    "hour": ("00:", "24:"),
    "second": (":00", ":60"),
    "separator": ("T", " "),
    "offset": ("+03:00", "+0300"),
    "long offset": ("+03:00", "+03:00:30"),
    "comma": (".5", ",5"),
}


@st.composite
def _times(draw: st.DrawFn) -> str:
    """Date-times around the accepted years, half of them with one part written wrong."""
    year = draw(st.sampled_from([2026, 2000, 2999]) | st.sampled_from([1999, 3000, 999, 1, 9999]))
    year_text = draw(st.sampled_from([f"{year:04d}", str(year)]))
    day, minute = draw(st.integers(1, 31)), draw(st.integers(0, 59))
    fraction = draw(st.sampled_from(["", ".5", ".123456789"]))
    separator, zulu = draw(st.sampled_from(["T", "t"])), draw(st.sampled_from(["Z", "z"]))
    offset = draw(st.sampled_from([zulu, "+03:00", "-23:59"]))
    text = f"{year_text}-06-{day:02d}{separator}00:{minute:02d}:00{fraction}{offset}"
    wrong = draw(st.none() | st.sampled_from([*_WRONG_PARTS, "trailing newline"]))
    if wrong == "trailing newline":
        return text + "\n"
    if wrong is not None:
        right, written = _WRONG_PARTS[wrong]
        return text.replace(right, written, 1)
    return text


def _sometimes_with_unknown_field(
    bodies: st.SearchStrategy[dict[str, Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    """`bodies`, a third of them with a field neither side knows."""
    return bodies | bodies | bodies.map(lambda body: {**body, "colour": "red"})


_STATUS_BODIES = _sometimes_with_unknown_field(
    st.fixed_dictionaries(
        {"status": st.sampled_from([*STATUSES, *STATUSES, "closed", "Rejected", ""])},
        optional={
            "comment": st.none() | _TEXT,
            "reason": st.none() | _TEXT | _TEXT | st.integers(),
            "expected_at": st.none() | _times() | _times() | _TEXT,
        },
    )
)
_REPLY_BODIES = _sometimes_with_unknown_field(
    st.fixed_dictionaries(
        {},
        optional={
            "text": _TEXT | st.none(),
            "attachments": st.lists(st.text(max_size=4), max_size=2) | st.just([1]),
        },
    )
)


@settings(max_examples=2000)
@given(_STATUS_BODIES)
def test_status_body_schema_refuses_what_the_server_refuses(body: dict[str, Any]) -> None:
    """A status change is valid for the document exactly when the server takes it."""
    assert STATUS_BODY.is_valid(body) == _server_takes(body, StatusChange, checked_status_change)


@settings(max_examples=500)
@given(_REPLY_BODIES)
def test_reply_body_schema_refuses_what_the_server_refuses(body: dict[str, Any]) -> None:
    """A reply is valid for the document exactly when the server takes it."""
    assert REPLY_BODY.is_valid(body) == _server_takes(body, Reply, checked_reply)


@pytest.mark.parametrize(
    "expected_at",
    ["0999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "999-01-01"],
)
def test_expected_at_outside_the_years_is_422_not_a_crash(expected_at: str) -> None:
    """A year before 1000 (strftime writes it with fewer digits) or after 2999 is refused."""
    change = StatusChange(status="in_progress", expected_at=expected_at)
    with pytest.raises(UpdateRejected) as refused:
        checked_status_change(change)
    assert (refused.value.status, refused.value.code) == (422, "bad_expected_at")


@pytest.mark.parametrize(
    ("expected_at", "stored"),
    [
        ("2026-06-30T18:00:00+03:00", "2026-06-30T15:00:00.000Z"),
        ("2026-06-30t15:00:00.5z", "2026-06-30T15:00:00.500Z"),
        ("2000-01-01T00:00:00+03:00", "1999-12-31T21:00:00.000Z"),
    ],
)
def test_expected_at_is_stored_in_utc(expected_at: str, stored: str) -> None:
    """An accepted expected time is kept as the router writes times: UTC with a Z."""
    change = StatusChange(status="in_progress", expected_at=expected_at)
    assert checked_status_change(change) == stored


def test_integer_parameters_stop_where_sqlite_does() -> None:
    """The feed cursor and limit and a merge id go no further than SQLite's integers."""
    paths = OPENAPI["paths"]
    feed = {p["name"]: p["schema"] for p in paths["/api/v1/envelopes"]["get"]["parameters"]}
    merge = paths["/api/v1/admin/merges/{id}/undo"]["post"]["parameters"][0]["schema"]
    assert feed["after"]["maximum"] == feed["limit"]["maximum"] == merge["maximum"] == 2**63 - 1


def test_operation_ids_are_unique() -> None:
    """OpenAPI requires it; tools that key operations by id would otherwise lose one."""
    ids = [op["operationId"] for item in OPENAPI["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
