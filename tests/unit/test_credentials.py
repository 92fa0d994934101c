"""mentions_credential: a password or one-time code in the text, not merely the word."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from normaliser.credentials import mentions_credential


@pytest.mark.parametrize(
    "text",
    [
        "Не могу войти. пароль: qwerty",
        "Пароль от личного кабинета: Qwerty1!",
        "мой пароль Qwerty123, почему не пускает?",
        "Пароль — Gos2024uslugi",
        "Password is hunter2",
        "the password for my account is Hunter2!",
        "password=s3cret",
    ],
)
def test_password_with_a_value_is_flagged(text: str) -> None:
    assert mentions_credential(text)


@pytest.mark.parametrize(
    "text",
    [
        "код из смс 123456",
        "Пришёл код подтверждения 4821, что с ним делать?",
        "смс-код: 5531",
        "ввожу код из СМС подтверждения 773311, пишет ошибка",
        "пришла смс с кодом 90817",
        "code: 123456",
        "OTP 9911",
        "My verification code is 482193",
    ],
)
def test_one_time_code_is_flagged(text: str) -> None:
    assert mentions_credential(text)


@pytest.mark.parametrize(
    "text",
    [
        "не могу войти, забыл пароль",
        "Забыл пароль от Госуслуг, смс не приходит",
        "Пароль: не подходит, восстановить не получается",
        "I forgot my password",
        "password is incorrect",
        "Password Reset не работает",
    ],
)
def test_password_word_without_a_value_is_not_flagged(text: str) -> None:
    assert not mentions_credential(text)


def test_subject_code_at_the_start_is_not_flagged() -> None:
    assert not mentions_credential("Код 01. Прошу выдать справку о несудимости")


def test_ticket_number_is_not_flagged() -> None:
    assert not mentions_credential("Код заявки 2600000128, сообщите статус")
    assert not mentions_credential("code 2600000128")


@pytest.mark.parametrize(
    "text",
    [
        "код подразделения 772053",
        "выдаёт код ошибки 5003",
        "error code 5003",
        "zip code 12345",
        "штрих-код 46070012",
        "смс с кодом не приходит уже 2 часа",
    ],
)
def test_other_codes_are_not_flagged(text: str) -> None:
    assert not mentions_credential(text)


@given(st.integers(1000, 99_999_999))
def test_any_otp_after_sms_code_is_flagged(code: int) -> None:
    assert mentions_credential(f"Добрый день, вот код из смс: {code}")


@given(st.integers(0, 99))
def test_two_digit_subject_code_is_never_flagged(code: int) -> None:
    assert not mentions_credential(f"Код {code:02d} Прошу помочь")
