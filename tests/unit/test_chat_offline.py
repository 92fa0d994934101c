"""The chat going offline after inactivity, and the contact a citizen leaves for the answer."""

from __future__ import annotations

import pytest

from channels.contract import Sender
from channels.webchat.offline import (
    OFFLINE_TEXTS,
    TRANSITIONS,
    Activity,
    ContactInvalid,
    Presence,
    contact_addresses,
    offline_text,
)


def run(events: list[Activity]) -> list[Presence]:
    """The presences a connection goes through, from ACTIVE."""
    presence, seen = Presence.ACTIVE, []
    for event in events:
        presence = TRANSITIONS[(presence, event)]
        seen.append(presence)
    return seen


def test_every_presence_answers_every_activity() -> None:
    assert set(TRANSITIONS) == {(p, a) for p in Presence for a in Activity}


def test_silence_goes_offline_once_and_any_frame_or_upload_comes_back() -> None:
    idle, frame, upload = Activity.IDLE, Activity.FRAME, Activity.UPLOAD
    assert run([idle, idle, frame, idle, upload]) == [
        Presence.OFFLINE,
        Presence.OFFLINE,
        Presence.ACTIVE,
        Presence.OFFLINE,
        Presence.ACTIVE,
    ]


def test_activity_keeps_the_dialogue_online() -> None:
    assert run([Activity.FRAME, Activity.UPLOAD, Activity.FRAME]) == [Presence.ACTIVE] * 3


def test_the_offline_text_says_where_the_answer_comes_in_the_session_language() -> None:
    assert "истории этого чата" in offline_text("ru")
    assert "this chat's history" in offline_text("en")
    assert offline_text("tt") == OFFLINE_TEXTS["ru"]  # Russian first (DOMAIN.md)


def test_a_contact_is_kept_canonical_and_declared() -> None:
    assert contact_addresses(" Citizen@Example.RU ", "8 (916) 123-45-67") == [
        Sender("email", "citizen@example.ru", verified=False),
        Sender("phone", "+79161234567", verified=False),
    ]
    assert contact_addresses(None, "+375 29 123-45-67") == [Sender("phone", "+375291234567")]
    assert contact_addresses("a@b.ru", "") == [Sender("email", "a@b.ru")]


@pytest.mark.parametrize(
    ("email", "phone", "code"),
    [
        pytest.param(None, None, "contact_empty", id="nothing"),
        pytest.param("  ", "", "contact_empty", id="blank"),
        pytest.param("citizen@", None, "email_invalid", id="half-an-address"),
        pytest.param("a@b.ru\u202e", None, "email_invalid", id="bidi-override"),
        pytest.param(None, "+7 123 456-78-90", "phone_invalid", id="nobody's-number"),
        pytest.param("a@b.ru", "доб. 12", "phone_invalid", id="good-email-bad-phone"),
    ],
)
def test_a_bad_contact_is_refused_whole_with_a_code(
    email: str | None, phone: str | None, code: str
) -> None:
    with pytest.raises(ContactInvalid) as refused:
        contact_addresses(email, phone)
    assert refused.value.code == code
    assert refused.value.message
