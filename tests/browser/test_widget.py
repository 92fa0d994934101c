"""The citizen widget in headless Chromium, embedded in a portal page like the portal does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.chromium import CitizenPage, by_impact, serious
from tests.integration.daemon import DaemonProcess, read_feed

from .widget import CONNECTED, NOTICES, OWN_MESSAGES, WIDGET, open_portal, write

pytestmark = pytest.mark.integration

# The widget has five controls; a page that needs more Tabs to reach one has lost its order.
MAX_TAB_STOPS = 10


async def test_a_message_is_accepted_with_its_ticket_number_and_confirmed(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Type, Enter: the message shows «Принято» with the ticket's number, then the confirmation."""
    await open_portal(citizen, portal_daemon)
    await citizen.screenshot("connected")
    text = "Не приходит справка о доходах, подскажите, что делать"
    number = await write(citizen, text)

    await citizen.see(f"Ваше обращение № {number}", within="#omni-ticket")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.screenshot("accepted")
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    filed = [e["ticket"]["number"] for e in envelopes if e["text"] == text]
    assert filed == [number]


async def test_an_operator_status_change_appears_as_a_notice(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """The backend moves the ticket to «В обработке»: the chat shows it with the comment."""
    await open_portal(citizen, portal_daemon)
    number = await write(citizen, "Заявление на субсидию висит вторую неделю")
    async with portal_daemon.backend() as backend:
        change = {"status": "in_progress", "comment": "Запросили данные в ведомстве"}
        response = await backend.post(f"/api/v1/tickets/{number}/status", json=change)
        assert response.status_code == 202, response.text

    await citizen.see(f"Обращение №{number}", within=f'{NOTICES}[data-kind="status"]')
    await citizen.see("статус «В обработке»", within=f'{NOTICES}[data-kind="status"]')
    await citizen.see("Запросили данные в ведомстве", within=f'{NOTICES}[data-kind="status"]')
    await citizen.screenshot("status-notice")


async def test_after_a_reload_the_session_resumes_and_missed_notices_arrive(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Reload: the same ticket is shown; a status change made while the page was away arrives."""
    await open_portal(citizen, portal_daemon)
    number = await write(citizen, "Не могу войти в личный кабинет")
    await citizen.reload()
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see(f"Ваше обращение № {number}", within="#omni-ticket")

    await citizen.leave()
    async with portal_daemon.backend() as backend:
        change = {"status": "awaiting_citizen", "comment": "Пришлите номер телефона из профиля"}
        response = await backend.post(f"/api/v1/tickets/{number}/status", json=change)
        assert response.status_code == 202, response.text
    await open_portal(citizen, portal_daemon)
    await citizen.see("Пришлите номер телефона из профиля", within=f'{NOTICES}[data-kind="status"]')
    await citizen.screenshot("resumed")


async def test_after_a_reload_the_conversation_is_shown_again(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """What the citizen wrote and the confirmation seen before a reload are on the page after
    it, in the order they came; a status change then updates the list of requests."""
    await open_portal(citizen, portal_daemon)
    number = await write(citizen, "Где мой паспорт?")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.reload()
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see("Где мой паспорт?", within=f"{OWN_MESSAGES}[data-seq='1']")
    await citizen.see(
        f"Ваше обращение №{number} зарегистрировано", within=f"{NOTICES}[data-seq='2']"
    )
    async with portal_daemon.backend() as backend:
        change = {"status": "in_progress"}
        response = await backend.post(f"/api/v1/tickets/{number}/status", json=change)
        assert response.status_code == 202, response.text
    await citizen.see("В обработке", within=f'#omni-tickets li[data-ticket="{number}"]')


async def test_the_chat_can_be_used_with_the_keyboard_alone(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Tab to the topic, arrow to choose, Tab, type, Enter: accepted; each focus stop is visible."""
    await open_portal(citizen, portal_daemon)
    stops = [await tab_to(citizen, "Тема обращения")]
    for _ in range(3):  # past «не знаю», 01 and 02 to 03: passports, which the text never names
        await citizen.press("ArrowDown")
    await citizen.press("Tab")
    stops.append(await citizen.focused())
    await citizen.type("Пишу только с клавиатуры, подскажите, как быть")
    await citizen.press("Enter")
    await citizen.see(
        "Паспорта и водительские удостоверения", within=f"{OWN_MESSAGES}[data-state='accepted']"
    )
    await citizen.screenshot("keyboard-accepted")
    after_send = await citizen.focused()
    await citizen.press("Tab")
    stops.append(await citizen.focused())

    assert after_send is not None and after_send["label"] == "Сообщение"
    assert [stop["label"] for stop in stops if stop] == [
        "Тема обращения",
        "Сообщение",
        "Прикрепить файлы",
    ]
    assert [
        stop for stop in stops if not (stop and stop["focus_visible"] and stop["indicator"])
    ] == []


async def tab_to(citizen: CitizenPage, label: str) -> dict[str, Any]:
    """Press Tab until the control labelled `label` has focus; every stop on the way shows it."""
    for _ in range(MAX_TAB_STOPS):
        await citizen.press("Tab")
        focused = await citizen.focused()
        assert focused and focused["focus_visible"] and focused["indicator"], focused
        if focused["label"] == label:
            return focused
    raise AssertionError(f"{label} not reached in {MAX_TAB_STOPS} presses of Tab")


async def test_the_widget_has_no_serious_accessibility_violations(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """axe-core finds nothing serious or critical in the widget's main states."""
    found: dict[str, dict[str, list[str]]] = {}

    async def audit(state: str) -> None:
        await citizen.screenshot(state)
        found[state] = by_impact(await citizen.audit(WIDGET))

    await open_portal(citizen, portal_daemon)
    await audit("connected")
    await citizen.fill("Сообщение", "")
    await citizen.press("Enter")
    await citizen.see("Введите текст сообщения.", within="#omni-error")
    await audit("empty-message-refused")
    number = await write(citizen, "Проверка доступности: нужна справка")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await audit("accepted-and-confirmed")
    async with portal_daemon.backend() as backend:
        reply = {"text": "Справка готова, её можно скачать в личном кабинете."}
        response = await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
        assert response.status_code == 202, response.text
    await citizen.see("Справка готова", within=f'{NOTICES}[data-kind="reply"]')
    await audit("operator-reply")
    await citizen.prefer_color_scheme("dark")
    await audit("operator-reply-dark")

    (citizen.artifacts / "axe.json").write_text(json.dumps(found, ensure_ascii=False, indent=2))
    assert {state: serious(by) for state, by in found.items() if serious(by)} == {}


async def test_the_portal_language_on_the_script_tag_is_the_chat_language(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """data-lang="en" on a Russian portal page: the chat and its confirmation are in English."""
    await citizen.open_portal(portal_daemon.base, lang="en")
    await citizen.see("Connected", within="#omni-status")
    await citizen.select("Topic", "01 — Certificates and registry extracts")
    await citizen.fill("Message", "I need a certificate of income")
    await citizen.press("Enter")
    await citizen.see("Your request has been registered as No.", within=NOTICES)
    await citizen.see("Certificates and registry extracts", within=OWN_MESSAGES)
    await citizen.screenshot("english")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}


async def test_an_english_chat_words_the_servers_refusal_in_english(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A text over max_text_chars: the server refuses it (text_too_long, its message in
    Russian) and the English chat says why in English."""
    await citizen.open_portal(portal_daemon.base, lang="en")
    await citizen.see("Connected", within="#omni-status")
    await citizen.fill("Message", "a" * 4001)
    await citizen.press("Enter")
    await citizen.see("Not sent: The message is too long", within=OWN_MESSAGES)
    assert not any("Сообщение" in text for text in await citizen.texts(WIDGET))


async def test_without_data_lang_the_chat_follows_the_portal_page(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """No data-lang: the portal page's <html lang="ru"> decides, not the browser's."""
    await citizen.open_portal(portal_daemon.base, lang=None)
    await citizen.see("Подключено", within="#omni-status")
    assert await citizen.texts("#omni-title") == ["Чат с центром поддержки"]


async def test_new_messages_do_not_move_when_the_citizen_asks_for_reduced_motion(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A new line slides in, unless the system asks for reduced motion."""
    await open_portal(citizen, portal_daemon)
    await write(citizen, "Проверка анимации")
    assert await citizen.style(OWN_MESSAGES, "animation-name") == "omni-arrive"
    await citizen.reduce_motion(True)
    assert await citizen.style(OWN_MESSAGES, "animation-name") == "none"


async def test_text_at_twice_its_size_still_fits_the_chat(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Browser text at 200% (WCAG 2.1 1.4.4): the chat's text grows, nothing scrolls sideways."""
    await open_portal(citizen, portal_daemon)
    await write(citizen, "Проверка крупного шрифта")
    normal = float((await citizen.style("#omni-text", "font-size")).removesuffix("px"))
    await citizen.text_size(200)
    assert float((await citizen.style("#omni-text", "font-size")).removesuffix("px")) == 2 * normal
    await citizen.screenshot("text-200")
    assert [s for s in (WIDGET, "#omni-log", "#omni-form") if await citizen.overflows(s)] == []
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}
