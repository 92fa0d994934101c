"""mask_personal_data: what may reach a log line."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from normaliser import damm
from normaliser.masking import mask_names, mask_personal_data
from router.http.api import token_fingerprint
from tests.unit.phones import ANY, russian_phones


def test_email_keeps_first_letter_and_tld() -> None:
    assert mask_personal_data("почта ivan.petrov@mail.ru") == "почта i***@***.ru"


def test_phone_keeps_country_code_and_last_two_digits() -> None:
    assert mask_personal_data("тел. 8 (495) 777-12-77") == "тел. +7*******77"


def test_international_phone_keeps_its_country_code() -> None:
    assert mask_personal_data("+44 20 7946 0958") == "+44*******58"
    assert mask_personal_data("+375 29 123-45-67") == "+375*******67"


def test_a_phone_in_no_assigned_range_is_masked_all_the_same() -> None:
    # Not a valid number, so not reported in an envelope; still somebody's digits, mistyped.
    assert mask_personal_data("тел. +7 123 456-78-90") == "тел. +7*******90"
    assert mask_personal_data("тел. 8 (012) 345-67-89") == "тел. +7*******89"


def test_eight_ten_before_eight_digits_is_masked_as_a_russian_number() -> None:
    # 8~10 dials abroad from Russia, but 8 and 10 digits are how a Russian number is written.
    assert mask_personal_data("тел. 8 101 234-56-00") == "тел. +7*******00"


def test_a_country_code_no_plan_has_is_masked_with_the_rest() -> None:
    assert mask_personal_data("тел. +999 1234 5678") == "тел. +*******78"


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


# --- leaks found in review ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("916 123-45-67", "+7*******67"),
        ("(916) 123-45-67", "+7*******67"),
        ("916-123-45-67", "+7*******67"),
        ("495 777 77 77", "+7*******77"),
        ("916.123.45.67", "+7*******67"),
        ("495 777-7777", "+7*******77"),
        ("(495)7777777", "+7*******77"),
        ("(3412) 12-34-56", "+7*******56"),
        ("８１２ ３４５-６７-８９", "+7*******89"),
    ],
)
def test_national_phone_without_seven_or_eight_is_masked(written: str, masked: str) -> None:
    assert mask_personal_data(f"звоните {written} до 18:00") == f"звоните {masked} до 18:00"


def test_bare_national_phone_passing_the_damm_check_is_masked() -> None:
    # "Year 91" is no year a ticket number can have been issued in.
    assert damm.is_valid("9161234564")
    assert mask_personal_data("тел 9161234564.") == "тел **********."
    assert mask_personal_data("тел №9161234564") == "тел №**********"


def test_phone_right_after_a_date_is_masked() -> None:
    # "2026 916 123" is no phone number; refusing it must not leave "916 123-45-67" behind.
    masked = mask_personal_data("31.05.2026 916 123-45-67")
    assert masked == "31.05.2026 +7*******67"


def test_damm_valid_number_of_a_year_before_the_first_ticket_is_masked() -> None:
    assert damm.is_valid("2000000016")
    assert mask_personal_data("номер 2000000016") == "номер **********"


@pytest.mark.parametrize(
    "local",
    [
        "ivan!petrov",
        "ivan#petrov",
        "o'brien",
        "a=b/c+d",
        "ivan&maria",
        "x{y}z|w~v`u^t?s$r*q",
        "ivan.",  # a trailing dot, as sloppy forms accept
        "ivan..petrov",
        '"ivan petrov"',  # RFC 5322 quoted-string
    ],
)
def test_email_local_part_with_special_characters_is_masked(local: str) -> None:
    masked = mask_personal_data(f"почта {local}@mail.ru, пишите")
    assert masked == f"почта {local[0]}***@***.ru, пишите"


# --- what is not personal data stays readable -------------------------------------------------


def test_ticket_number_in_an_audit_line_stays_readable() -> None:
    line = "ticket 2600000128 viewed unmasked through the admin API"
    assert mask_personal_data(line) == line


@pytest.mark.parametrize(
    "text",
    [
        "Оплачено 31.05.2026 в 10:30, сумма 1 500 000 руб. 45 коп., код 01.",
        "срок до 2026-12-31 23:59:59, 350 000,00 ₽, заявка №2600000128 (проверено 3 раза)",
        "elapsed=0.0123s attempt=3 queue=intake ts=2026-11-23T04:04:14.123Z",
    ],
)
def test_dates_times_amounts_and_codes_stay_readable(text: str) -> None:
    assert mask_personal_data(text) == text


def test_eleven_digits_passing_the_damm_check_are_masked_as_a_snils() -> None:
    # With counter_digits = 8 ticket numbers have 11 digits, as many as a SNILS; masking does not
    # know the setting, and a SNILS written as plain digits must never show.
    assert damm.is_valid("26000000015")
    assert mask_personal_data("ticket 26000000015 viewed") == "ticket ***-***-*** ** viewed"


# --- properties --------------------------------------------------------------------------------


@given(russian_phones(prefixes=("+7", "8", "7", ""), starts=ANY))
def test_russian_phone_in_any_format_never_survives_masking(phone: tuple[str, str]) -> None:
    written, e164 = phone
    national = e164.removeprefix("+7")
    # From 2029 on, a bare 3x number can be a ticket number of year 203x (see masking).
    assume(not (written == national and national.startswith("3")))
    masked = mask_personal_data(f"Перезвоните на {written} после обеда")
    shown = "".join(ch for ch in masked if ch.isdigit())
    # A phone mask shows the country code and the last two digits; a bare number shows none.
    assert shown in ("7" + national[-2:], "")


# RFC 5322 3.2.3 atext beyond letters and digits.
ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~"
atoms = st.text(st.sampled_from(string.ascii_letters + string.digits + ATEXT_SPECIALS), min_size=1)


@given(st.lists(atoms, min_size=1, max_size=4).map(".".join))
def test_email_with_atext_specials_shows_only_the_first_character(local: str) -> None:
    assume(any(ch in ATEXT_SPECIALS for ch in local))
    masked = mask_personal_data(f"Ответ прошу на {local}@yandex.ru, спасибо")
    assert masked == f"Ответ прошу на {local[0]}***@***.ru, спасибо"


@given(st.sampled_from("456789"), st.integers(0, 10**8 - 1))
def test_damm_valid_number_that_may_be_a_phone_is_masked(first: str, rest: int) -> None:
    # 3x is left out: from 2029 on it is a plausible ticket year (see masking).
    nine = f"{first}{rest:08d}"
    number = nine + damm.check_digit(nine)
    assert mask_personal_data(f"номер {number} верный") == "номер ********** верный"


@given(st.integers(0, 10**7 - 1))
def test_ticket_number_stays_readable(counter: int) -> None:
    nine = f"26{counter:07d}"
    line = f"ticket {nine}{damm.check_digit(nine)} viewed unmasked"
    assert mask_personal_data(line) == line


def test_longer_ticket_numbers_stay_readable_when_configured() -> None:
    """With 8 or 9 counter digits ([tickets]), numbers of 11 or 12 digits are tickets, not a
    SNILS or an INN; without being told, the mask hides them as it must."""
    eleven, twelve = "2600012345", "26000012345"
    eleven += damm.check_digit(eleven)
    twelve += damm.check_digit(twelve)
    for number in (eleven, twelve):
        line = f"ticket №{number} viewed unmasked"
        assert mask_personal_data(line, ticket_length=len(number)) == line
        assert number not in mask_personal_data(line)
    assert "112-233-445 95" not in mask_personal_data("СНИЛС 112-233-445 95", ticket_length=11)


def test_the_citizens_name_is_masked_in_every_case_ending() -> None:
    text = "Уважаемый Иван Петров! Петрову Ивану отправлено, ИВАНОВА не трогаем? Иван."
    masked = mask_names(text, ["Петров Иван", "И"])
    assert "Петров" not in masked and "Иван" not in masked and "ИВАН" not in masked
    assert masked.startswith("Уважаемый И*** П***!")
    assert "отправлено" in masked


def test_without_names_the_text_is_unchanged() -> None:
    assert mask_names("Иван Петров", []) == "Иван Петров"


def test_names_that_drop_a_vowel_or_use_yo_are_masked_too() -> None:
    masked = mask_names("Павлу Петрову и Петру Сидорову отправлено.", ["Павел Пётр Петров"])
    assert masked == "П*** П*** и П*** Сидорову отправлено."


def test_one_and_two_letter_parts_of_a_name_mask_nothing() -> None:
    assert mask_names("Анкета заполнена", ["Ан Ли"]) == "Анкета заполнена"


@given(st.text(min_size=1, max_size=64))
@example("t477")  # its SHA-256 starts with twelve decimal digits: 096794041617
def test_an_audit_token_fingerprint_stays_readable(token: str) -> None:
    """The audit log names the admin's token by a fingerprint that no mask can take for an
    identifier (hex digits were all decimal one time in 250, and then read as an INN)."""
    line = f"token:{token_fingerprint(token)}"
    assert mask_personal_data(line) == line
