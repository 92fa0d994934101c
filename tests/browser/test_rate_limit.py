"""Over the per-session message limit the widget waits retry_after, says so, and sends again."""

from __future__ import annotations

import pytest

from tests.chromium import CitizenPage
from tests.integration.daemon import DaemonProcess, read_feed

from .widget import OWN_MESSAGES, accepted_ticket, open_portal, write

pytestmark = pytest.mark.integration

# One message at once, then one in four seconds: the second of two is refused for seconds,
# however slow the machine that runs the test.
WEBCHAT = {"rate_limits": "message_rate = 0.25\nmessage_burst = 1\n"}


async def test_a_message_over_the_rate_limit_is_sent_again_after_the_wait(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Two messages at once: the second waits, the citizen reads why, then it is filed once."""
    await open_portal(citizen, portal_daemon)
    await write(citizen, "Первое сообщение")
    text = "Второе сообщение сразу за первым"
    await citizen.fill("Сообщение", text)
    await citizen.press("Enter")
    await citizen.see("Слишком часто. Отправим снова через", within=OWN_MESSAGES)
    await citizen.screenshot("rate-limited")
    number = await accepted_ticket(citizen, text)
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    assert [e["ticket"]["number"] for e in envelopes if e["text"] == text] == [number]
