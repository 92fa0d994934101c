"""Citizens' commands over the real daemon: «СТОП» silences the chat until the citizen writes
again, «СТАРТ» and «ПОМОЩЬ» are answered, none of them is a request, and a form always is."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from .daemon import ChatClient, DaemonProcess, final_notification, open_chat, read_feed, wait_notice

pytestmark = pytest.mark.integration


async def session_address(backend: httpx.AsyncClient, envelope_id: str) -> str:
    """The chat session's address, as the suppression list knows it, from its envelope."""
    envelopes, _ = await read_feed(backend)
    address: str = next(e for e in envelopes if e["id"] == envelope_id)["sender"]["address"]
    return address


async def listed(admin: httpx.AsyncClient, address: str) -> str | None:
    """Why the address is on the suppression list, or None."""
    entries = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
    return next((e["reason"] for e in entries if e["address"] == address), None)


async def change_status(backend: httpx.AsyncClient, number: str, status: str) -> dict[str, Any]:
    """Post a status change; the notification's record once it has left the queue."""
    queued = await backend.post(
        f"/api/v1/tickets/{number}/status", json={"status": status, "comment": "Проверяем"}
    )
    assert queued.status_code == 202, queued.text
    return await final_notification(backend, queued.json()["notification_id"])


async def new_request(chat: ChatClient, text: str) -> str:
    """Open a ticket from the chat; its number once the confirmation is in."""
    accepted = await chat.write(f"{text} ({secrets.token_hex(3)})")
    await wait_notice(chat, "confirmation")
    number: str = accepted["ticket"]["number"]
    return number


async def test_a_stop_silences_the_chat_until_the_citizen_writes_again(
    module_daemon: DaemonProcess,
) -> None:
    daemon = module_daemon
    async with open_chat(daemon) as chat, daemon.backend() as backend, daemon.admin() as admin:
        accepted = await chat.write(f"Не приходит код подтверждения ({secrets.token_hex(3)})")
        number = accepted["ticket"]["number"]
        await wait_notice(chat, "confirmation")
        address = await session_address(backend, accepted["envelope_id"])

        seen = len(chat.notices)
        stop = await chat.write("CTOП")  # C, T and O typed on the Latin layout
        assert stop["type"] == "accepted" and stop["ticket"] is None
        confirmation = await wait_notice(chat, "system", since=seen)
        assert "Вы отписались" in confirmation["text"]
        assert await listed(admin, address) == "stop_requested"

        suppressed = await change_status(backend, number, "in_progress")
        assert suppressed["state"] == "dead"
        assert suppressed["last_error"] == "suppressed: stop_requested"

        seen = len(chat.notices)
        query = await chat.write("статус")
        answer = await wait_notice(chat, "status", since=seen)
        assert query["ticket"]["number"] == number and number in answer["text"]
        assert await listed(admin, address) is None
        delivered = await change_status(backend, number, "under_review")
        assert delivered["state"] == "sent"
        notice = await wait_notice(chat, "status", since=chat.notices.index(answer) + 1)
        assert "На согласовании" in notice["text"]
    # Only the first message was a request for the backend.
    async with daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    ids = {e["id"] for e in envelopes}
    assert accepted["envelope_id"] in ids and stop["envelope_id"] not in ids


async def test_start_and_help_are_answered_and_file_nothing(module_daemon: DaemonProcess) -> None:
    async with open_chat(module_daemon) as chat, module_daemon.admin() as admin:
        await chat.write("СТОП")
        await wait_notice(chat, "system")
        seen = len(chat.notices)
        start = await chat.write("START")
        started = await wait_notice(chat, "system", since=seen)
        help_ = await chat.write("/help")
        helped = await wait_notice(chat, "system", since=chat.notices.index(started) + 1)
        entries = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
    assert start["ticket"] is None and help_["ticket"] is None
    # The session said it reads Russian: the answers are in Russian whatever the command's words.
    assert "снова будут приходить" in started["text"]
    assert "СТАТУС" in helped["text"] and "https://www.gosuslugi.ru/help" in helped["text"]
    assert [e for e in entries if e["reason"] == "stop_requested"] == []
    assert not [n for n in chat.notices if n["kind"] == "confirmation"]


async def test_writing_again_lifts_no_bounce(module_daemon: DaemonProcess) -> None:
    """An address suppressed for another reason stays so, «СТОП» or not."""
    daemon = module_daemon
    async with open_chat(daemon) as chat, daemon.backend() as backend, daemon.admin() as admin:
        number = await new_request(chat, "Не открывается личный кабинет")
        accepted = await chat.write("Есть новости?")
        address = await session_address(backend, accepted["envelope_id"])
        entry = {"address": address, "channel": "webchat", "reason": "bounced"}
        assert (await admin.post("/api/v1/admin/suppressions", json=entry)).status_code == 201
        await chat.write("Есть новости?!")
        await chat.write("СТОП")
        await chat.write("СТАРТ")
        assert await listed(admin, address) == "bounced"
        suppressed = await change_status(backend, number, "in_progress")
    assert suppressed["last_error"] == "suppressed: bounced"


@pytest.mark.parametrize("text", ["СТОП", "статус", "ПОМОЩЬ"])
async def test_a_form_is_always_a_request(module_daemon: DaemonProcess, text: str) -> None:
    async with httpx.AsyncClient(base_url=module_daemon.base, timeout=30) as portal:
        response = await portal.post(
            "/api/v1/forms/feedback",
            json={
                "name": "Иванов Иван",
                "phone": "",
                "email": f"ivanov.{secrets.token_hex(3)}@example.ru",
                "type": "service_question",
                "text": text,
            },
        )
    assert response.status_code == 201, response.text
    assert response.json()["ticket"] is not None
