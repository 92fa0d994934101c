"""The daemon's own chat page, /chat/, on the shipped configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chromium import CitizenPage
from tests.integration.daemon import DaemonProcess, running_daemon

from .widget import CONNECTED, NOTICES, write

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shipped_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A daemon on the shipped webchat.toml: no allowed_origins, so only its own page chats."""
    with running_daemon(tmp_path_factory.mktemp("chat_page")) as running:
        yield running


async def test_the_chat_page_works_under_its_content_security_policy(
    citizen: CitizenPage, shipped_daemon: DaemonProcess
) -> None:
    """/chat/ under its strict CSP: the chat connects, files a message; the CSP refuses nothing."""
    await citizen.open(f"{shipped_daemon.base}/chat/")
    await citizen.see(CONNECTED, within="#omni-status")
    number = await write(citizen, "Пишу со страницы чата самого центра")
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.screenshot("chat-page")
    console = (citizen.artifacts / "console.log").read_text().splitlines()
    assert [line for line in console if "Content Security Policy" in line] == []
