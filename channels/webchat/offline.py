"""The dialogue going offline after `inactivity_timeout` (DOMAIN.md: 15 minutes) and the
contact a citizen leaves for the answer: pure rules, no I/O."""

from __future__ import annotations

from enum import Enum

from channels.contract import Sender
from channels.emails import canonical_email
from channels.phones import HOME_REGION, canonical_phone


class Presence(Enum):
    """Whether the citizen is in the dialogue, as the connection sees it."""

    ACTIVE = "active"
    OFFLINE = "offline"


class Activity(Enum):
    """What happens to a connection: the client sent a frame, uploaded a file, or neither
    within `inactivity_timeout`."""

    FRAME = "frame"
    UPLOAD = "upload"
    IDLE = "idle"


# (presence, activity) -> the presence after it. Only ACTIVE --IDLE--> OFFLINE tells the
# citizen anything (the `offline` frame); any frame or upload brings the dialogue back.
TRANSITIONS: dict[tuple[Presence, Activity], Presence] = {
    (Presence.ACTIVE, Activity.FRAME): Presence.ACTIVE,
    (Presence.ACTIVE, Activity.UPLOAD): Presence.ACTIVE,
    (Presence.ACTIVE, Activity.IDLE): Presence.OFFLINE,
    (Presence.OFFLINE, Activity.FRAME): Presence.ACTIVE,
    (Presence.OFFLINE, Activity.UPLOAD): Presence.ACTIVE,
    (Presence.OFFLINE, Activity.IDLE): Presence.OFFLINE,
}

# What the `offline` frame says, by the session's language: where the answer will come.
OFFLINE_TEXTS = {
    "ru": "Вы давно не писали, и диалог перешёл в офлайн. Ответ появится в истории этого чата; "
    "оставьте электронную почту или телефон, и мы продублируем его туда. Напишите снова, "
    "чтобы продолжить диалог.",
    "en": "You have been away for a while, so the chat is now offline. The answer will appear "
    "in this chat's history; leave an email or a phone number and we will send it there too. "
    "Write again to continue.",
}


def offline_text(language: str) -> str:
    """The `offline` frame's text in `language`; Russian first (DOMAIN.md)."""
    return OFFLINE_TEXTS.get(language, OFFLINE_TEXTS["ru"])


class ContactInvalid(ValueError):
    """A contact frame is refused: `code` for the widget, `message` for the citizen."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def contact_addresses(email: str | None, phone: str | None) -> list[Sender]:
    """The addresses a contact frame leaves, canonical (an email in lower case, a phone in
    E.164), declared and so unverified; ContactInvalid if one is malformed or both are empty."""
    addresses = []
    if email and email.strip():
        address = canonical_email(email)
        if address is None:
            raise ContactInvalid("email_invalid", "Адрес почты выглядит неверно.")
        addresses.append(Sender("email", address))
    if phone and phone.strip():
        number = canonical_phone(phone, HOME_REGION)
        if number is None:
            raise ContactInvalid("phone_invalid", "Номер телефона выглядит неверно.")
        addresses.append(Sender("phone", number))
    if not addresses:
        raise ContactInvalid("contact_empty", "Укажите электронную почту или телефон.")
    return addresses
