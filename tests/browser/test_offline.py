"""The dialogue going offline after inactivity_timeout (shortened here): the widget says how the
answer will come, takes an email or a phone for it, and writing again resumes the dialogue."""

from __future__ import annotations

import pytest

from tests.chromium import CitizenPage, by_impact, serious
from tests.integration.daemon import DaemonProcess

from .widget import CONNECTED, NOTICES, WIDGET, open_portal, write

pytestmark = pytest.mark.integration

# Fifteen minutes in production (DOMAIN.md); two seconds let a test see it happen.
WEBCHAT = {"inactivity_timeout": '"2s"'}
CONTACT = "#omni-contact"


async def test_offline_the_citizen_leaves_a_contact_and_comes_back(
    citizen: CitizenPage, portal_daemon: DaemonProcess
) -> None:
    """Silence: the server's offline text and a contact form; a bad address is refused in the
    browser, a good one saved; writing again brings the chat back."""
    await open_portal(citizen, portal_daemon)
    number = await write(citizen, "Пишу и ухожу, ответьте на почту")
    await citizen.see("диалог перешёл в офлайн", within='.omni-msg--system[data-kind="offline"]')
    await citizen.see("Диалог в офлайне", within="#omni-status")
    await citizen.screenshot("offline")
    assert serious(by_impact(await citizen.audit(WIDGET))) == {}

    await citizen.fill("Электронная почта", "citizen-at-example.ru")
    await citizen.press("Enter")
    await citizen.see("Адрес почты выглядит неверно.", within=CONTACT)
    await citizen.screenshot("contact-refused")
    await citizen.fill("Электронная почта", "citizen@example.ru")
    await citizen.press("Enter")
    await citizen.see("Контакт сохранён", within='.omni-msg--system[data-kind="contact"]')
    assert await citizen.style(CONTACT, "display") == "none"
    await citizen.screenshot("contact-saved")

    text = "Я вернулся, есть новости?"
    await citizen.fill("Сообщение", text)
    await citizen.press("Enter")
    await citizen.see(CONNECTED, within="#omni-status")
    await citizen.see(f"обращение № {number}", within=".omni-msg--own[data-state='accepted']")
    await citizen.see(f"№{number}", within=f"{NOTICES}[data-kind='confirmation']")
