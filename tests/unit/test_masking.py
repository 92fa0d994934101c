"""mask_personal_data: what may reach a log line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from normaliser.masking import mask_personal_data


def test_email_keeps_first_letter_and_tld() -> None:
    assert mask_personal_data("почта ivan.petrov@mail.ru") == "почта i***@***.ru"


def test_phone_keeps_country_code_and_last_two_digits() -> None:
    assert mask_personal_data("тел. 8 (495) 777-12-77") == "тел. +7*******77"


def test_international_phone_keeps_its_country_code() -> None:
    assert mask_personal_data("+44 20 7946 0958") == "+44*******58"


def test_snils_is_fully_masked() -> None:
    assert mask_personal_data("СНИЛС 112-233-445 95.") == "СНИЛС ***-***-*** **."


def test_snils_with_a_wrong_checksum_is_masked_too() -> None:
    assert mask_personal_data("СНИЛС 112-233-445 96") == "СНИЛС ***-***-*** **"


def test_inn_is_fully_masked() -> None:
    assert mask_personal_data("ИНН 7707083893, ИНН 500100732259") == (
        "ИНН **********, ИНН ************"
    )


def test_valid_ticket_number_is_not_masked() -> None:
    assert mask_personal_data("заявка №2600000128") == "заявка №2600000128"


def test_text_without_personal_data_is_unchanged() -> None:
    text = "Код 01. Прошу выдать справку, срок 5 дней."
    assert mask_personal_data(text) == text


def test_fullwidth_digits_are_masked() -> None:
    assert mask_personal_data("тел ８ ９１６ １２３-４５-６７") == "тел +7*******67"


def test_everything_in_a_log_line() -> None:
    line = "inbound from ivan@mail.ru: заявка 2600000128, СНИЛС 11223344595, тел +79161234567"
    assert mask_personal_data(line) == (
        "inbound from i***@***.ru: заявка 2600000128, СНИЛС ***-***-*** **, тел +7*******67"
    )


SEPARATORS = ["", " ", "-", "\u2011", "\u202f", "\u00a0", "."]


@given(
    st.integers(0, 10**10 - 1).map(lambda n: f"{n:010d}"),
    st.sampled_from(["+7", "8", "7"]),
    st.sampled_from(SEPARATORS),
)
def test_masked_phone_never_shows_the_number(national: str, prefix: str, sep: str) -> None:
    written = sep.join([prefix, national[:3], national[3:6], national[6:8], national[8:]])
    masked = mask_personal_data(f"Перезвоните на {written} после обеда")
    assert [ch for ch in masked if ch.isdigit()] == ["7", *national[-2:]]


@given(st.from_regex(r"[a-z0-9_]{4,20}(\.[a-z0-9_]{1,10})?", fullmatch=True))
def test_masked_email_never_shows_the_local_part(local: str) -> None:
    masked = mask_personal_data(f"Ответ прошу на {local}@yandex.ru, спасибо")
    assert local not in masked
    assert masked == f"Ответ прошу на {local[0]}***@***.ru, спасибо"
