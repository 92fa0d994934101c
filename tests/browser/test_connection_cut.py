"""The widget across a cut connection: the daemon's sockets closed and the network gone."""

from __future__ import annotations

import pytest
import trio

from tests.chromium import CitizenPage, by_impact, serious
from tests.integration.daemon import DaemonProcess, read_feed

from .widget import (
    CONNECTED,
    DISCONNECTED,
    NOTICES,
    OWN_MESSAGES,
    WIDGET,
    accepted_ticket,
    open_portal,
)

pytestmark = pytest.mark.integration


async def test_messages_written_while_the_connection_is_cut_are_delivered_once(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Connection gone: messages wait as «Отправляется…»; back: each is filed exactly once."""
    await open_portal(citizen, portal_daemon)
    # Offline mode alone leaves an open WebSocket alone (Chromium emulates offline for new
    # requests only): stopping the daemon is what closes it, as a dropped network would.
    await citizen.set_offline(True)
    await trio.to_thread.run_sync(portal_daemon.stop)
    await citizen.see(DISCONNECTED, within="#omni-status")
    texts = ["Пишу без связи: справка нужна к пятнице", "И ещё: адрес регистрации сменился"]
    for text in texts:
        await citizen.fill("Сообщение", text)
        await citizen.press("Enter")
    await citizen.see("Отправляется…", within=OWN_MESSAGES)
    await citizen.screenshot("disconnected-sending")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}

    await trio.to_thread.run_sync(portal_daemon.start)
    await citizen.set_offline(False)  # the browser's «online» event: reconnect at once
    await citizen.see(CONNECTED, within="#omni-status")
    numbers = [await accepted_ticket(citizen, text) for text in texts]
    await citizen.see(f"Ваше обращение №{numbers[0]} зарегистрировано", within=NOTICES)
    await citizen.screenshot("reconnected-accepted")
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    filed = [(e["text"], e["ticket"]["number"]) for e in envelopes if e["text"] in texts]
    assert filed == list(zip(texts, numbers, strict=True))
    assert len(await citizen.texts(OWN_MESSAGES)) == len(texts)
