"""Files in the widget: checked in the browser against /chat/config, uploaded with progress,
scanned by the real clamd, and sent with the message that waits for them."""

from __future__ import annotations

import pytest

from tests.chromium import CitizenPage, PickedFile, by_impact, serious
from tests.clamd import EICAR, EICAR_SIGNATURE
from tests.integration.daemon import DaemonProcess, metric, read_feed

from .widget import NOTICES, WIDGET, accepted_ticket, open_portal

pytestmark = pytest.mark.integration

PICKER = "#omni-files"
DRAFTS = "#omni-drafts"
# The smallest PNG: a signature, IHDR, IDAT and IEND of one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


async def test_a_file_with_a_virus_is_refused_with_a_reason_the_citizen_can_read(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """EICAR named like a scan passes the browser's check; clamd finds it; the widget says so."""
    await open_portal(citizen, portal_daemon)
    await citizen.press("Tab")
    await citizen.choose_files(PICKER, [PickedFile("справка.pdf", "application/pdf", EICAR)])
    refused = f'{DRAFTS} [data-state="refused"]'
    await citizen.see("Не принят: найдено вредоносное содержимое", within=refused)
    await citizen.see(EICAR_SIGNATURE, within=refused)
    await citizen.screenshot("infected-refused")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}

    text = "Прикладываю справку"
    await citizen.fill("Сообщение", text)
    await citizen.press("Enter")
    number = await accepted_ticket(citizen, text)
    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    (filed,) = [e for e in envelopes if e["ticket"]["number"] == number and e["text"] == text]
    assert filed["attachments"] == []  # the refused file never went with the message


async def test_a_dropped_file_shows_its_progress_and_verdict_and_goes_with_the_message(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A screenshot dropped on the chat uploads, is clean, and is filed with the message."""
    await open_portal(citizen, portal_daemon)
    await citizen.drop("#omni-form", [PickedFile("скриншот.png", "image/png", PNG)])
    await citizen.see("Проверен, угроз нет", within=f'{DRAFTS} [data-state="clean"]')
    assert await citizen.style(f"{DRAFTS} progress", "display") != "none"
    await citizen.screenshot("file-clean")
    text = "Ошибка на странице оплаты, скриншот приложен"
    await citizen.fill("Сообщение", text)
    await citizen.press("Enter")
    number = await accepted_ticket(citizen, text)
    await citizen.see(f"Ваше обращение №{number} зарегистрировано", within=NOTICES)
    await citizen.screenshot("file-sent")

    async with portal_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    (filed,) = [e for e in envelopes if e["text"] == text]
    assert [(a["filename"], a["scan"]["status"]) for a in filed["attachments"]] == [
        ("скриншот.png", "clean")
    ]


async def test_files_over_the_published_limits_are_refused_in_the_browser(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """A program and a 6 MB scan are refused before any upload, each with what is allowed."""
    await open_portal(citizen, portal_daemon)
    before = files_seen(portal_daemon)
    await citizen.choose_files(
        PICKER,
        [
            PickedFile("setup.exe", "application/octet-stream", b"MZ" + bytes(100)),
            PickedFile("скан.pdf", "application/pdf", size=6 * 1024 * 1024),
        ],
    )
    await citizen.see(
        "«setup.exe»: такой тип файла не принимается (можно: PDF", within="#omni-error"
    )
    await citizen.see("«скан.pdf»: больше 5 МБ, файл не загружен.", within="#omni-error")
    await citizen.screenshot("files-refused-in-browser")
    assert await citizen.texts(f"{DRAFTS} li") == []
    assert files_seen(portal_daemon) == before


def files_seen(daemon: DaemonProcess) -> float:
    """Files the daemon checked or refused (the chat's bad input counted too)."""
    return (
        metric(daemon, "omnirouter_attachments_scanned_total")
        + metric(daemon, "omnirouter_attachments_refused_total")
        + metric(daemon, "omnirouter_bad_input_total", channel="webchat")
    )
