"""The citizen widget as a citizen sees it: what they do on the portal page, what they read."""

from __future__ import annotations

import re

from tests.chromium import CitizenPage
from tests.integration.daemon import DaemonProcess

WIDGET = "#omni-chat"
OWN_MESSAGES = ".omni-msg--own"
NOTICES = ".omni-msg--notice"
CONNECTED = "Подключено"
DISCONNECTED = "Нет соединения, переподключаемся…"


async def open_portal(citizen: CitizenPage, daemon: DaemonProcess) -> None:
    """Open the portal page with the chat and wait until the chat is connected."""
    await citizen.open_portal(daemon.base)
    await citizen.see(CONNECTED, within="#omni-status")


async def write(citizen: CitizenPage, text: str) -> str:
    """Type a message, press Enter, wait until it is accepted; the ticket number it shows."""
    await citizen.fill("Сообщение", text)
    await citizen.press("Enter")
    return await accepted_ticket(citizen, text)


async def accepted_ticket(citizen: CitizenPage, text: str) -> str:
    """Wait until the citizen's message `text` shows it was accepted; the ticket number shown."""
    bubble = f'{OWN_MESSAGES}[data-state="accepted"]:has(.omni-msg-text:text-is("{text}"))'
    await citizen.wait_for(bubble)
    (state,) = await citizen.texts(f"{bubble} .omni-msg-state")
    found = re.search(r"обращение № (\S+)", state)
    assert found, f"no ticket number in {state!r}"
    return found.group(1)
