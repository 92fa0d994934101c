"""A citizen's whole conversation in the widget: a topic, a message, the confirmation, a status
change and an operator's reply; then the history after a reload and in a second tab."""

from __future__ import annotations

import pytest

from tests.chromium import CitizenPage, by_impact, serious
from tests.integration.daemon import DaemonProcess, read_feed

from .conftest import signed_identity
from .widget import CONNECTED, NOTICES, OWN_MESSAGES, WIDGET, open_portal, write

pytestmark = pytest.mark.integration

TICKETS = "#omni-tickets"


async def test_topic_message_confirmation_status_and_reply(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """The topic chosen from /chat/config files the ticket under it; every answer shows up."""
    await open_portal(citizen, portal_daemon)
    await citizen.select("Тема обращения", "01 — Справки и выписки")
    text = "Нужна выписка из реестра, где её заказать?"
    number = await write(citizen, text)
    await citizen.see("Справки и выписки", within=f"{OWN_MESSAGES}[data-state='accepted']")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    # The topic is chosen before the first message only.
    assert await citizen.style(".omni-field:has(#omni-topic)", "display") == "none"
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
        (filed,) = [e for e in envelopes if e["text"] == text]
        assert filed["ticket"]["category"]["code"] == "01"
        change = {"status": "in_progress", "comment": "Выписку готовит ведомство"}
        response = await backend.post(f"/api/v1/tickets/{number}/status", json=change)
        assert response.status_code == 202, response.text
        await citizen.see("Выписку готовит ведомство", within=f'{NOTICES}[data-kind="status"]')
        reply = {"text": "Выписка будет готова в пятницу."}
        response = await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
        assert response.status_code == 202, response.text
    await citizen.see("Выписка будет готова в пятницу.", within=f'{NOTICES}[data-kind="reply"]')
    await citizen.screenshot("conversation")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}

    await citizen.reload()
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see(f"№ {number} · В обработке · Справки и выписки", within=TICKETS)
    await citizen.see("Выписка будет готова в пятницу.", within=f'{NOTICES}[data-kind="reply"]')
    kinds = [await citizen.texts(f'{NOTICES}[data-kind="{kind}"]') for kind in KINDS]
    assert [len(shown) for shown in kinds] == [1, 1, 1]  # each once, none lost, none doubled
    await citizen.screenshot("history-after-reload")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}


KINDS = ("confirmation", "status", "reply")


async def test_a_second_tab_of_the_same_session_sees_the_same_notices(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Two tabs of one browser, signed in on the portal: a reply appears in both, and the second
    shows the history. (An anonymous chat belongs to its tab: test_identity.)"""
    await citizen.open_portal(portal_daemon.base, identity=signed_identity("user-7101"))
    await citizen.see(CONNECTED, within="#omni-status")
    number = await write(citizen, "Открою чат во второй вкладке")
    await citizen.new_tab()
    await citizen.open_portal(portal_daemon.base, identity=signed_identity("user-7101"))
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    async with portal_daemon.backend() as backend:
        reply = {"text": "Отвечаем в обе вкладки."}
        response = await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
        assert response.status_code == 202, response.text
    await citizen.see("Отвечаем в обе вкладки.", within=f'{NOTICES}[data-kind="reply"]')
    await citizen.screenshot("second-tab")
    await citizen.switch_tab(0)
    await citizen.see("Отвечаем в обе вкладки.", within=f'{NOTICES}[data-kind="reply"]')
    assert len(await citizen.texts(f'{NOTICES}[data-kind="reply"]')) == 1
