"""The portal's feedback form, POST /api/v1/forms/feedback, over a real socket."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from normaliser.damm import is_valid

from .daemon import DaemonProcess, envelope, read_feed

pytestmark = pytest.mark.integration

FORM = "/api/v1/forms/feedback"


def _unique(text: str) -> str:
    """Make a submission distinct from every other one in the module."""
    return f"{text} (обращение {secrets.token_hex(3)})"


async def _submit(daemon: DaemonProcess, **kwargs: Any) -> httpx.Response:
    """POST the form without any token: the portal's visitors have none."""
    async with httpx.AsyncClient(base_url=daemon.base, timeout=30) as portal:
        return await portal.post(FORM, **kwargs)


async def test_json_submission_files_a_form_envelope(module_daemon: DaemonProcess) -> None:
    """A JSON submission gets 201 {ticket, envelope_id} and a "form" envelope from the email."""
    text = _unique("Не могу записаться на приём в МФЦ через портал")
    response = await _submit(
        module_daemon,
        json={
            "name": "Иванов Иван",
            "phone": "+7 916 123-45-67",
            "email": "ivanov@example.ru",
            "type": "service_question",
            "text": text,
        },
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert len(answer["ticket"]) == 10 and is_valid(answer["ticket"])
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, answer["envelope_id"])
    assert filed["channel"] == "form"
    assert filed["sender"]["kind"] == "email"
    assert filed["sender"]["address"] == "ivanov@example.ru"
    assert filed["sender"]["display_name"] == "Иванов Иван"
    assert filed["text"] == text
    assert filed["ticket"]["number"] == answer["ticket"]
    assert filed["ticket"]["is_new"] is True


async def test_multipart_submission_with_phone_only(module_daemon: DaemonProcess) -> None:
    """A multipart submission with only a phone files an envelope whose sender is the phone."""
    text = _unique("Подскажите, как получить выписку из ЕГРН")
    fields = {"name": "Петрова Анна", "phone": "8 (916) 765-43-21", "text": text}
    response = await _submit(
        module_daemon, files={key: (None, value) for key, value in fields.items()}
    )
    assert response.status_code == 201, response.text
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    answer = response.json()
    assert is_valid(answer["ticket"])
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, answer["envelope_id"])
    assert filed["channel"] == "form"
    assert filed["sender"]["kind"] == "phone"
    # Written as the citizen likes, kept as one identity: the same number an SMS would carry.
    assert filed["sender"]["address"] == "+79167654321"
    assert filed["identifiers"]["phones"] == ["+79167654321"]
    assert filed["text"] == text
    assert filed["ticket"]["category"]["code"] == "01"


async def test_a_status_question_in_the_form_is_a_request_with_a_number(
    module_daemon: DaemonProcess,
) -> None:
    """«статус N» typed into the form opens a ticket related to N: the portal always gets a
    number to show, and a typed-in address learns nothing about N."""
    first = await _submit(
        module_daemon, json={"email": "owner@example.ru", "text": _unique("Где моя справка?")}
    )
    number = first.json()["ticket"]
    response = await _submit(
        module_daemon, json={"email": "owner@example.ru", "text": f"статус {number}"}
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert is_valid(answer["ticket"]) and answer["ticket"] != number
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, answer["envelope_id"])
    assert filed["ticket"]["is_new"] is True
    assert filed["ticket"]["related"] == [number]
    assert "status_query" not in filed["flags"]


async def test_urlencoded_submission_is_accepted(module_daemon: DaemonProcess) -> None:
    """A plain urlencoded HTML form post is accepted too."""
    response = await _submit(
        module_daemon,
        data={"email": "sidorov@example.ru", "text": _unique("Где посмотреть статус заявления")},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("contact", "kind", "text", "code"),
    [
        (
            {"email": "tech@example.ru"},
            "technical_problem",
            "Хочу подать заявление на справку",
            "11",
        ),
        ({"phone": "+79161112233"}, "suggestion", "Сделайте тёмную тему", "08"),
    ],
    ids=["technical_problem", "suggestion"],
)
async def test_request_type_decides_the_category(
    module_daemon: DaemonProcess, contact: dict[str, str], kind: str, text: str, code: str
) -> None:
    """The form's request type files the ticket under its code, whatever the text says."""
    response = await _submit(module_daemon, json={**contact, "type": kind, "text": _unique(text)})
    assert response.status_code == 201, response.text
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, response.json()["envelope_id"])
    assert filed["ticket"]["category"]["code"] == code
    if kind == "technical_problem":
        assert filed["ticket"]["priority"] == "technical"


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        pytest.param({"email": "a@example.ru", "text": ""}, {"text"}, id="missing-text"),
        pytest.param({"email": "a@example.ru"}, {"text"}, id="no-text-field"),
        pytest.param({"email": "not-an-email", "text": "Вопрос"}, {"email"}, id="bad-email"),
        pytest.param({"text": "Вопрос без контактов"}, {"email", "phone"}, id="no-contact"),
        pytest.param({"phone": "12", "text": "Вопрос"}, {"phone"}, id="bad-phone"),
        # Eleven digits in the right shape, but Russia assigns no area code 1xx: no one's number.
        pytest.param(
            {"phone": "+7 123 456-78-90", "text": "Вопрос"}, {"phone"}, id="unassigned-phone"
        ),
        pytest.param(
            {"email": "a@example.ru", "type": "other", "text": "Вопрос"}, {"type"}, id="bad-type"
        ),
    ],
)
async def test_invalid_submission_is_422_with_field_errors(
    module_daemon: DaemonProcess, fields: dict[str, str], bad: set[str]
) -> None:
    """An invalid form is 422 naming the bad fields, and nothing reaches the feed."""
    async with module_daemon.backend() as backend:
        _, cursor = await read_feed(backend)
        if fields.get("text"):
            fields = {**fields, "text": _unique(fields["text"])}
        response = await _submit(module_daemon, json=fields)
        # A valid submission after it: the feed must hold that one and nothing before it.
        valid = await _submit(
            module_daemon, json={"email": "ok@example.ru", "text": _unique("Корректное обращение")}
        )
        assert valid.status_code == 201
        later, _ = await read_feed(backend, cursor)
    assert response.status_code == 422, response.text
    body = response.json()
    named = set(body["fields"])
    assert named and named <= bad, body  # no-contact may be reported on email, phone or both
    assert all(body["fields"][name] for name in named)
    assert [e["id"] for e in later] == [valid.json()["envelope_id"]]


async def test_body_that_is_not_json_is_400(module_daemon: DaemonProcess) -> None:
    """A JSON content type with a broken body is refused, not filed."""
    response = await _submit(
        module_daemon, content=b"{text:", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_same_submission_twice_is_one_ticket(module_daemon: DaemonProcess) -> None:
    """Submitting the same form twice (a double click) gives the same ticket and envelope."""
    fields = {"email": "twice@example.ru", "text": _unique("Не приходит код на телефон")}
    first = await _submit(module_daemon, json=fields)
    second = await _submit(module_daemon, json=fields)
    assert first.status_code == 201 and second.status_code in (200, 201)
    assert second.json() == first.json()
    async with module_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    assert [e["id"] for e in envelopes if e["text"] == fields["text"]] == [
        first.json()["envelope_id"]
    ]


async def test_different_submissions_are_different_tickets(module_daemon: DaemonProcess) -> None:
    """Two different submissions from one address are two tickets (a form is one request)."""
    first = await _submit(
        module_daemon, json={"email": "two@example.ru", "text": _unique("Первый вопрос про льготы")}
    )
    second = await _submit(
        module_daemon,
        json={"email": "two@example.ru", "text": _unique("Второй вопрос про паспорт")},
    )
    assert first.json()["ticket"] != second.json()["ticket"]


async def test_idempotency_key_header_is_respected(module_daemon: DaemonProcess) -> None:
    """A retry with the same key and content gets the first answer; other content or key do not.

    The key only scopes a submission: someone holding another person's key but sending other
    content must not be answered with that person's ticket.
    """
    key = secrets.token_hex(12)
    body = {"email": "retry@example.ru", "text": _unique("Не могу оплатить штраф")}
    first = await _submit(module_daemon, json=body, headers={"Idempotency-Key": key})
    retry = await _submit(module_daemon, json=body, headers={"Idempotency-Key": key})
    guessed = await _submit(
        module_daemon,
        json={"email": "someone@example.ru", "text": _unique("Чужое обращение")},
        headers={"Idempotency-Key": key},
    )
    other = await _submit(
        module_daemon, json=body, headers={"Idempotency-Key": secrets.token_hex(12)}
    )
    assert first.status_code == 201, first.text
    assert retry.json() == first.json()
    assert guessed.json()["envelope_id"] != first.json()["envelope_id"]
    assert guessed.json()["ticket"] != first.json()["ticket"]
    assert other.status_code == 201
    assert other.json()["envelope_id"] != first.json()["envelope_id"]


async def test_deeply_nested_json_is_400(module_daemon: DaemonProcess) -> None:
    """A small body nested a thousand levels deep is refused as unreadable, not a crash."""
    body = '{"text":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}"
    response = await _submit(
        module_daemon, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unreadable"


async def test_too_many_files_are_refused_as_such_and_nothing_is_kept(
    module_daemon: DaemonProcess,
) -> None:
    """One file more than the form takes is 413 too_many_attachments, before anything is
    stored; nothing reaches the feed."""
    fields = {"email": "many.files@example.ru", "text": _unique("Прикладываю документы")}
    parts = [(key, (None, value)) for key, value in fields.items()]
    parts += [("files", (f"note{n}.txt", f"страница {n}".encode(), "text/plain")) for n in range(6)]
    async with module_daemon.backend() as backend:
        _, cursor = await read_feed(backend)
        response = await _submit(module_daemon, files=parts)
        later, _ = await read_feed(backend, cursor)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "too_many_attachments"
    assert [e for e in later if e["text"] == fields["text"]] == []
    blobs = module_daemon.state / "blobs"
    stored = {p.read_bytes() for p in blobs.rglob("*") if p.is_file()} if blobs.exists() else set()
    assert "страница 5".encode() not in stored
