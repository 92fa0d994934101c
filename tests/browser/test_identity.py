"""The portal's signed identity in the widget: a verified citizen finds their tickets and history
on another device; a forged identity opens no chat at all."""

from __future__ import annotations

import pytest
import trio

from tests.chromium import CitizenPage, by_impact, serious
from tests.integration.daemon import DaemonProcess, read_feed

from .conftest import signed_identity
from .widget import CONNECTED, DISCONNECTED, NOTICES, OWN_MESSAGES, WIDGET, open_portal, write

pytestmark = pytest.mark.integration


async def test_a_verified_citizen_sees_their_tickets_on_another_device(
    citizen: CitizenPage, portal_daemon: DaemonProcess, other_device: CitizenPage
) -> None:
    """Signed in on the portal: a ticket filed on one device is listed, with its confirmation,
    on another device that shares nothing with the first but the portal login."""
    user = signed_identity("user-7001", phone="+79161230001")
    await citizen.open_portal(portal_daemon.base, identity=user)
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see("Вы вошли через портал", within="#omni-verified")
    number = await write(citizen, "Пишу из личного кабинета с ноутбука")
    await citizen.screenshot("verified")

    await other_device.open_portal(portal_daemon.base, identity=signed_identity("user-7001"))
    await other_device.see(CONNECTED, within="#omni-status")
    await other_device.see(f"№ {number} · Принято", within="#omni-tickets")
    await other_device.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await other_device.screenshot("verified-other-device")
    assert serious(by_impact(await other_device.audit(WIDGET))) == {}


async def test_a_forged_identity_opens_no_chat(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A signature the portal did not make: the citizen is told, and nothing can be sent as
    that user or anonymously instead."""
    forged = {**signed_identity("user-7002"), "user_id": "user-1"}
    await citizen.open_portal(portal_daemon.base, identity=forged)
    await citizen.see("Чат недоступен", within="#omni-status")
    await citizen.see("Вход через портал не подтверждён", within="#omni-error")
    assert await citizen.texts("#omni-tickets li") == []
    text = "Пишу под чужим именем"
    await citizen.fill("Сообщение", text)
    await citizen.press("Enter")
    await citizen.see("Отправляется…", within=OWN_MESSAGES)
    await citizen.screenshot("identity-refused")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    assert [e for e in envelopes if e["text"] == text] == []


async def test_the_portal_identifies_its_user_after_the_chat_opened(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Anonymous first; window.omniChat.identify() after the portal login makes the chat the
    user's, verified, and a message written then is filed as theirs."""
    await citizen.open_portal(portal_daemon.base)
    await citizen.see(CONNECTED, within="#omni-status")
    assert await citizen.style("#omni-verified", "display") == "none"
    await citizen.identify(signed_identity("user-7003", email="citizen7003@example.ru"))
    await citizen.see("Вы вошли через портал", within="#omni-verified")
    text = "Вошёл на портал, продолжаю в чате"
    await write(citizen, text)
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    (filed,) = [e for e in envelopes if e["text"] == text]
    assert filed["sender"]["address"] == "user-7003" and filed["sender"]["verified"] is True


async def test_after_the_portal_logout_the_next_visitor_does_not_get_the_users_chat(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A shared computer: the user's chat, then the portal page without a login (logged out)
    starts an anonymous chat that shows none of the user's tickets or notices."""
    await citizen.open_portal(portal_daemon.base, identity=signed_identity("user-7004"))
    number = await write(citizen, "Пишу с библиотечного компьютера")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.open_portal(portal_daemon.base)
    await citizen.see(CONNECTED, within="#omni-status")
    assert await citizen.style("#omni-verified", "display") == "none"
    assert await citizen.texts("#omni-tickets li") == []  # the welcome listed none
    # The visitor's own confirmation comes after any history the chat would replay.
    own = await write(citizen, "Я другой посетитель")
    await citizen.see(f"Ваше обращение №{own} зарегистрировано", within=NOTICES)
    (notice,) = await citizen.texts(NOTICES)
    assert own != number and f"№{number}" not in notice


async def test_identify_without_a_user_on_the_same_page_forgets_the_users_chat(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A single-page portal logs out without a reload: identify(null) leaves no trace of the
    user's chat on the page, and the next chat is anonymous."""
    await citizen.open_portal(portal_daemon.base, identity=signed_identity("user-7005"))
    number = await write(citizen, "Пишу и выхожу из портала")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.identify(None)
    await citizen.see(CONNECTED, within="#omni-status")
    assert await citizen.style("#omni-verified", "display") == "none"
    assert await citizen.texts(NOTICES) == []
    assert await citizen.texts("#omni-tickets li") == []
    assert not any("Пишу и выхожу" in text for text in await citizen.texts(".omni-msg--own"))


async def test_a_message_unsent_at_the_logout_is_not_sent_as_the_next_visitor(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """The user writes while the connection is down, then logs out (identify(null)): what
    they wrote goes nowhere, not into the next, anonymous, chat."""
    await citizen.open_portal(portal_daemon.base, identity=signed_identity("user-7006"))
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.set_offline(True)
    await trio.to_thread.run_sync(portal_daemon.stop)
    try:
        await citizen.see(DISCONNECTED, within="#omni-status")
        unsent = "Пишу без связи и выхожу из портала"
        await citizen.fill("Сообщение", unsent)
        await citizen.press("Enter")
        await citizen.see("Отправляется…", within=OWN_MESSAGES)
        await citizen.identify(None)
    finally:
        await trio.to_thread.run_sync(portal_daemon.start)
    await citizen.set_offline(False)
    await citizen.see(CONNECTED, within="#omni-status")
    # The next visitor's message comes after anything the new session would have re-sent.
    await write(citizen, "Я следующий посетитель")
    assert not any(unsent in text for text in await citizen.texts(OWN_MESSAGES))
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    assert [e for e in envelopes if e["text"] == unsent] == []


async def test_a_portal_that_signs_in_after_the_page_loads_finds_its_users_unsent_message(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """The portal calls identify() once the page has loaded (no data-identity): a message the
    user wrote while the connection was down, before they went to another page of the tab and
    came back, is theirs again, and goes out once the chat is back."""
    user = signed_identity("user-7008")
    await citizen.open_portal(portal_daemon.base)
    await citizen.identify(user)
    await citizen.see("Вы вошли через портал", within="#omni-verified")
    await citizen.set_offline(True)
    await trio.to_thread.run_sync(portal_daemon.stop)
    unsent = "Пишу без связи, потом страница перезагрузится"
    try:
        await citizen.see(DISCONNECTED, within="#omni-status")
        await citizen.fill("Сообщение", unsent)
        await citizen.press("Enter")
        await citizen.see("Отправляется…", within=OWN_MESSAGES)
        await citizen.leave()  # the tab goes on to another page, its sessionStorage kept
    finally:
        await trio.to_thread.run_sync(portal_daemon.start)
    await citizen.set_offline(False)
    # Back in the same tab: anonymous until the portal signs its user in again.
    await citizen.open_portal(portal_daemon.base)
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.identify(user)

    async def filed() -> list[dict[str, object]]:
        async with portal_daemon.backend() as backend:
            envelopes, _ = await read_feed(backend)
        return [e for e in envelopes if e["text"] == unsent]

    for _ in range(200):  # bounded: the resend follows the welcome
        if found := await filed():
            break
        await trio.sleep(0.05)
    else:
        raise AssertionError("the unsent message never went out")
    assert [e["sender"]["address"] for e in found] == ["user-7008"]


async def test_an_anonymous_chat_survives_a_reload_but_not_the_browser_closing(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A shared computer: an anonymous chat comes back after a reload of its tab; a page opened
    after the browser was closed (the site's localStorage kept, sessionStorage new) does not
    resume it, so the next visitor sees none of its history or tickets."""
    await open_portal(citizen, portal_daemon)
    number = await write(citizen, "Пишу без входа с компьютера в МФЦ")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.reload()
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see(f"№ {number}", within="#omni-tickets")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)

    await citizen.leave()
    await citizen.new_tab()  # what a browser opened again starts with
    await open_portal(citizen, portal_daemon)
    assert await citizen.texts("#omni-tickets li") == []
    own = await write(citizen, "Я другой посетитель этого компьютера")
    await citizen.see(f"Ваше обращение №{own} зарегистрировано", within=NOTICES)
    (notice,) = await citizen.texts(NOTICES)
    assert own != number and f"№{number}" not in notice
    assert not any("в МФЦ" in text for text in await citizen.texts(OWN_MESSAGES))
