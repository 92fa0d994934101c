"""A message the store could not take ("unavailable") is sent again by the widget on the same
socket, with the same client_id, until it is stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.chromium import CitizenPage
from tests.integration.daemon import DaemonProcess, read_feed

from .widget import CONNECTED, OWN_MESSAGES, WIDGET, accepted_ticket, open_portal

pytestmark = pytest.mark.integration


@contextmanager
def store_refuses_chat_messages(daemon: DaemonProcess) -> Iterator[None]:
    """The daemon's database refuses to journal a chat message, as a full disk would: the
    journal's insert fails, and so does the dead letter intake writes for a failed filing."""
    with sqlite3.connect(daemon.state / "omnirouter.db", isolation_level=None) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_chat BEFORE INSERT ON journal WHEN NEW.channel = 'webchat' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER refuse_chat")
    conn.close()


async def test_a_message_the_store_could_not_take_is_sent_again_on_the_open_socket(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """The store refuses: the message stays «sending» and says it will be sent again; once the
    store takes messages again it is filed, once, without a reconnect."""
    await open_portal(citizen, portal_daemon)
    text = "Диск сервера полон, а я пишу"
    with store_refuses_chat_messages(portal_daemon):
        await citizen.fill("Сообщение", text)
        await citizen.press("Enter")
        # The refusal arrived (shown in the bubble; an older widget showed it under the field).
        await citizen.see("не сохранено", within=WIDGET)
        await citizen.screenshot("unavailable")
        (state,) = await citizen.texts(f'{OWN_MESSAGES}[data-state="sending"] .omni-msg-state')
        assert state.startswith("Не сохранено. Отправим снова через"), state
    number = await accepted_ticket(citizen, text)
    await citizen.see(CONNECTED, within="#omni-status")
    assert await citizen.texts("#omni-error") == [""]
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    assert [e["ticket"]["number"] for e in envelopes if e["text"] == text] == [number]
