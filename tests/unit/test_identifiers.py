"""Identifiers citizens write: validators, phone normalisation and find_identifiers."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from channels.contract import Sender
from normaliser import damm
from normaliser.envelope import Identifiers
from normaliser.identifiers import (
    canonical_sender,
    find_identifiers,
    inn_is_valid,
    snils_is_valid,
)
from tests.unit.phones import SEPARATORS, russian_phones


# Written out case by case as the Pension Fund states it, independently of the module's
# arithmetic, so that the two can disagree.
def snils_check(nine: str) -> str:
    total = sum(int(digit) * (9 - position) for position, digit in enumerate(nine))
    if total < 100:
        check = total
    elif total in (100, 101):
        check = 0
    else:
        check = total % 101
        if check == 100:
            check = 0
    return f"{check:02d}"


def inn_check(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)


INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


# Above 001-001-998, where the check digits are verified.
checked_snils_numbers = st.integers(1_001_999, 999_999_999).map(lambda n: f"{n:09d}")
separators = st.sampled_from(SEPARATORS)


@st.composite
def valid_inns(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        nine = f"{draw(st.integers(0, 10**9 - 1)):09d}"
        return nine + inn_check(nine, INN10)
    ten = f"{draw(st.integers(0, 10**10 - 1)):010d}"
    eleven = ten + inn_check(ten, INN12_1)
    return eleven + inn_check(eleven, INN12_2)


# --- validators -------------------------------------------------------------------------------


def test_snils_is_valid_accepts_a_real_looking_number() -> None:
    assert snils_is_valid("11223344595")


def test_snils_is_valid_rejects_a_wrong_check_number() -> None:
    assert not snils_is_valid("11223344596")


def test_snils_sum_of_100_or_101_gives_00() -> None:
    # 9*9 + 8*2 + 3*1 = 100; 9*9 + 8*2 + 4*1 = 101.
    assert snils_is_valid("90000008300") and snils_is_valid("90000008400")
    assert not snils_is_valid("90000008310")


def test_snils_sum_above_101_is_taken_mod_101() -> None:
    # 9*9 + 8*9 + 7*9 = 216; 216 mod 101 = 14.
    assert snils_is_valid("99900000014")
    assert not snils_is_valid("99900000015")


def test_snils_mod_101_result_of_100_gives_00() -> None:
    # 1*9 + 1*7 + 9*6 + 9*5 + 8*4 + 9*3 + 9*2 + 9*1 = 201; 201 mod 101 = 100 -> 00.
    assert snils_is_valid("10199899900")
    assert not snils_is_valid("10199899999")


def test_snils_up_to_001_001_998_is_not_checked() -> None:
    assert snils_is_valid("00100199812")
    assert not snils_is_valid("00100199912")


def test_snils_is_valid_needs_eleven_ascii_digits() -> None:
    assert not snils_is_valid("1122334459")
    assert not snils_is_valid("112-233-445 95")
    assert not snils_is_valid("１１２２３３４４５９５")


def test_inn_is_valid_for_an_organisation() -> None:
    assert inn_is_valid("7707083893")
    assert not inn_is_valid("7707083894")


def test_inn_is_valid_for_a_person_checks_both_digits() -> None:
    assert inn_is_valid("500100732259")
    assert not inn_is_valid("500100732269")  # 11th digit wrong
    assert not inn_is_valid("500100732258")  # 12th digit wrong


def test_inn_is_valid_only_for_10_or_12_digits() -> None:
    assert not inn_is_valid("77070838930")
    assert not inn_is_valid("770708389")
    assert not inn_is_valid("77070838a3")


@given(valid_inns())
def test_generated_inn_is_valid(inn: str) -> None:
    assert inn_is_valid(inn)


@given(checked_snils_numbers)
def test_generated_snils_is_valid(nine: str) -> None:
    assert snils_is_valid(nine + snils_check(nine))


# --- find_identifiers: phones ----------------------------------------------------------------


@given(russian_phones())
def test_any_russian_phone_format_is_found_in_text(phone: tuple[str, str]) -> None:
    written, e164 = phone
    assert find_identifiers(f"Перезвоните мне: {written}. Спасибо").phones == [e164]


# --- find_identifiers: SNILS ------------------------------------------------------------------


def test_snils_in_card_form_is_reported_canonically() -> None:
    assert find_identifiers("СНИЛС 112-233-445 95").snils == ["112-233-445 95"]


def test_snils_with_spaces_or_hyphen_before_check_digits() -> None:
    text = "112 233 445 95 и 112-233-445-95 и 112\u2011233\u2011445\u202f95"
    assert find_identifiers(text).snils == ["112-233-445 95"]


def test_snils_as_eleven_plain_digits() -> None:
    assert find_identifiers("мой снилс 11223344595").snils == ["112-233-445 95"]


def test_snils_with_wrong_check_digits_is_not_reported() -> None:
    assert find_identifiers("СНИЛС 112-233-445 96").snils == []


def test_snils_in_fullwidth_digits() -> None:
    assert find_identifiers("СНИЛС １１２-２３３-４４５ ９５").snils == ["112-233-445 95"]


def test_snils_digits_inside_a_longer_number_are_not_snils() -> None:
    assert find_identifiers("счёт 4081781009911223344595").snils == []


def test_plain_eleven_digits_starting_with_8_read_as_a_phone() -> None:
    # 89161234520 passes the SNILS check too; citizens write phones far more often.
    assert snils_is_valid("89161234520")
    found = find_identifiers("89161234520")
    assert found.phones == ["+79161234520"]
    assert found.snils == []


def test_grouped_snils_starting_with_8_is_not_a_phone() -> None:
    found = find_identifiers("СНИЛС 891-612-345 20")
    assert found.snils == ["891-612-345 20"]
    assert found.phones == []


@given(checked_snils_numbers, separators, separators, st.sampled_from(["", *SEPARATORS]))
def test_valid_snils_with_any_separators_is_always_found(
    nine: str, first: str, second: str, third: str
) -> None:
    written = f"{nine[:3]}{first}{nine[3:6]}{second}{nine[6:]}{third}{snils_check(nine)}"
    canonical = f"{nine[:3]}-{nine[3:6]}-{nine[6:]} {snils_check(nine)}"
    assert find_identifiers(f"Мой СНИЛС: {written}, проверьте пожалуйста").snils == [canonical]


@given(checked_snils_numbers, st.integers(0, 99), st.sampled_from(["", *SEPARATORS]))
def test_snils_with_wrong_checksum_is_never_reported(nine: str, check: int, sep: str) -> None:
    assume(f"{check:02d}" != snils_check(nine))
    written = f"{nine[:3]}{sep}{nine[3:6]}{sep}{nine[6:]}{sep}{check:02d}"
    assert find_identifiers(f"СНИЛС {written}").snils == []


# --- find_identifiers: INN --------------------------------------------------------------------


def test_inn_of_organisation_and_person_are_found() -> None:
    found = find_identifiers("ИНН организации 7707083893, мой ИНН 500100732259.")
    assert found.inn == ["7707083893", "500100732259"]


def test_inn_with_wrong_check_digit_is_not_reported() -> None:
    assert find_identifiers("ИНН 7707083894").inn == []


# About one valid 10-digit INN in ten passes the Damm check too (identifiers.py says which reading
# wins where). 3170669073 and 7707084174 are both; 31 and 77 are no years of ticket numbers.


def test_labelled_inn_that_passes_damm_is_an_inn() -> None:
    assert inn_is_valid("3170669073") and damm.is_valid("3170669073")
    found = find_identifiers("Мой ИНН 3170669073")
    assert (found.inn, found.ticket_refs) == (["3170669073"], [])


@pytest.mark.parametrize(
    "text", ["ИНН 7707084174", "ИНН: 7707084174", "инн №7707084174", "INN 7707084174"]
)
def test_inn_label_wins_over_a_ticket_marker(text: str) -> None:
    found = find_identifiers(text)
    assert (found.inn, found.ticket_refs) == (["7707084174"], [])


def test_bare_inn_that_passes_damm_is_an_inn_only() -> None:
    found = find_identifiers("7707084174")
    assert (found.inn, found.ticket_refs) == (["7707084174"], [])
    found = find_identifiers("Организация 7707084174, прошу проверить")
    assert (found.inn, found.ticket_refs) == (["7707084174"], [])


@pytest.mark.parametrize(
    "text",
    [
        "заявка №7707084174",
        "#7707084174",
        "N 7707084174",
        "Re: [№7707084174] ответ",
        "по обращению 7707084174",
        "Номер обращения: 7707084174",
        "заявка номер 7707084174",
        "обращение за номером 7707084174",
        "Статус заявки 7707084174",
        "ticket 7707084174 viewed",
        "по заявкам 2600000128, 7707084174 и 2600000131",
    ],
)
def test_inn_valid_number_marked_as_a_ticket_is_a_ticket_only(text: str) -> None:
    found = find_identifiers(text)
    assert "7707084174" in found.ticket_refs
    assert found.inn == []


def test_bare_inn_valid_number_of_a_ticket_year_is_both() -> None:
    # A citizen quoting their ticket bare: the reference must not be lost; nor may the INN.
    assert inn_is_valid("2600000038") and damm.is_valid("2600000038")  # ticket 3 of 2026
    found = find_identifiers("2600000038 документы прилагаю")
    assert (found.inn, found.ticket_refs) == (["2600000038"], ["2600000038"])
    assert find_identifiers("ИНН 2600000038").ticket_refs == []


def test_a_word_ending_in_n_is_no_ticket_marker() -> None:
    found = find_identifiers("Please check INN 7707084174")
    assert (found.inn, found.ticket_refs) == (["7707084174"], [])


@given(valid_inns(), st.sampled_from(["ИНН: ", "Мой ИНН ", "INN ", "ИНН организации ", ""]))
def test_valid_inn_is_always_found(inn: str, before: str) -> None:
    assert find_identifiers(f"{before}{inn}").inn == [inn]


@given(valid_inns())
def test_labelled_inn_is_never_a_ticket_ref(inn: str) -> None:
    assert find_identifiers(f"ИНН {inn}").ticket_refs == []


@given(st.integers(0, 10**9 - 1))
def test_number_that_is_no_valid_inn_stays_a_ticket_ref_bare(number: int) -> None:
    nine = f"{number:09d}"
    ticket = nine + damm.check_digit(nine)
    assume(not inn_is_valid(ticket))
    assert find_identifiers(f"{ticket} документы прилагаю").ticket_refs == [ticket]


@given(st.integers(0, 10**7 - 1))
def test_ticket_of_this_service_stays_a_ticket_ref_bare(counter: int) -> None:
    nine = f"26{counter:07d}"
    ticket = nine + damm.check_digit(nine)
    assert find_identifiers(f"{ticket} документы прилагаю").ticket_refs == [ticket]


@given(st.integers(0, 10**9 - 1), st.integers(0, 9))
def test_inn_with_wrong_check_digit_is_never_reported(number: int, check: int) -> None:
    nine = f"{number:09d}"
    assume(str(check) != inn_check(nine, INN10))
    assert find_identifiers(f"ИНН {nine}{check}").inn == []


# --- find_identifiers: phones, emails ---------------------------------------------------------


def test_phones_in_every_form_are_deduplicated_in_order() -> None:
    text = (
        "Звоните: +7 916 123-45-67 или 8 (495) 777-77-77; мобильный 8\u2011916\u2011123\u201145"
        "\u201167, рабочий 7\u202f495\u202f777\u202f77\u202f77"
    )
    assert find_identifiers(text).phones == ["+79161234567", "+74957777777"]


def test_international_phone_is_found() -> None:
    assert find_identifiers("Я в Минске, тел. +375 29 123-45-67").phones == ["+375291234567"]


def test_a_number_in_no_assigned_range_is_reported_as_nothing() -> None:
    # Its digits are a phone number mistyped, not a SNILS (81234567891 passes that check).
    assert snils_is_valid("81234567891")
    assert find_identifiers("тел. +7 123 456-78-90, 81234567891") == Identifiers()


def test_a_national_prefix_in_brackets_after_the_country_code_is_dropped() -> None:
    assert find_identifiers("тел. +44 (0)20 7946 0958").phones == ["+442079460958"]


def test_a_country_code_no_plan_has_is_no_phone() -> None:
    assert find_identifiers("тел. +999 1234 5678").phones == []


def test_eleven_digits_not_starting_with_7_or_8_are_no_phone() -> None:
    assert find_identifiers("номер 91612345678").phones == []


def test_email_domain_is_lower_cased_local_part_kept() -> None:
    assert find_identifiers("Пишите: Ivan.Petrov@Mail.RU.").emails == ["Ivan.Petrov@mail.ru"]


def test_emails_are_deduplicated_in_order_of_first_appearance() -> None:
    text = "petrov@yandex.ru, ivanova+gos@gmail.com, petrov@YANDEX.RU"
    assert find_identifiers(text).emails == ["petrov@yandex.ru", "ivanova+gos@gmail.com"]


def test_cyrillic_email_domain() -> None:
    assert find_identifiers("почта: иван@почта.рф").emails == ["иван@почта.рф"]


def test_digits_of_an_email_address_are_not_a_phone() -> None:
    found = find_identifiers("89161234567@mail.ru")
    assert found.emails == ["89161234567@mail.ru"]
    assert found.phones == []


def test_not_an_email() -> None:
    assert find_identifiers("ошибка @ сайте, user@localhost, a@b.c").emails == []


# --- ticket numbers ---------------------------------------------------------------------------


def test_ticket_refs_with_markers_are_found() -> None:
    text = "По заявке №2600000128 и #2600000131, также N 2600000144 и [№2600000153]"
    assert find_identifiers(text).ticket_refs == [
        "2600000128",
        "2600000131",
        "2600000144",
        "2600000153",
    ]


def test_ticket_ref_with_wrong_check_digit_is_not_found() -> None:
    assert find_identifiers("заявка 2600000129").ticket_refs == []


def test_ticket_ref_must_be_exactly_ten_digits() -> None:
    assert find_identifiers("счёт 26000001280 и 126000001288").ticket_refs == []


def test_ticket_ref_inside_a_phone_number_is_not_a_ticket() -> None:
    assert damm.is_valid("4957777775")
    assert find_identifiers("звоните +7 4957777775").ticket_refs == []
    assert find_identifiers("звоните +7 4957777775").phones == ["+74957777775"]


def test_ticket_ref_of_another_length() -> None:
    eight = "2600012" + damm.check_digit("2600012")
    assert find_identifiers(f"заявка {eight}", ticket_length=8).ticket_refs == [eight]
    assert find_identifiers(f"заявка {eight}").ticket_refs == []


def test_ticket_refs_are_deduplicated() -> None:
    assert find_identifiers("2600000128, повторяю: №2600000128").ticket_refs == ["2600000128"]


@given(st.integers(0, 10**9 - 1))
def test_damm_valid_number_is_always_a_ticket_ref(number: int) -> None:
    nine = f"{number:09d}"
    ticket = nine + damm.check_digit(nine)
    assert find_identifiers(f"Прошу ускорить рассмотрение заявки №{ticket}.").ticket_refs == [
        ticket
    ]


@given(st.integers(0, 10**9 - 1), st.integers(0, 9))
def test_damm_invalid_number_is_never_a_ticket_ref(number: int, check: int) -> None:
    nine = f"{number:09d}"
    assume(str(check) != damm.check_digit(nine))
    assert find_identifiers(f"заявка {nine}{check}").ticket_refs == []


def test_everything_in_one_message() -> None:
    text = (
        "Здравствуйте! По заявке №2600000128: СНИЛС 112-233-445 95, ИНН 500100732259,\n"
        "тел. 8 916 123-45-67, почта ivan@mail.ru"
    )
    found = find_identifiers(text)
    assert found.ticket_refs == ["2600000128"]
    assert found.snils == ["112-233-445 95"]
    assert found.inn == ["500100732259"]
    assert found.phones == ["+79161234567"]
    assert found.emails == ["ivan@mail.ru"]


def test_a_typed_in_phone_sender_becomes_e164() -> None:
    """A form's phone, written any way, is the same identity as the number in E.164."""
    for typed in ("8 (916) 765-43-21", "+7\u202f916\u2011765\u201143\u201121", " 79167654321 "):
        sender = canonical_sender(Sender("phone", typed, "Петрова Анна"))
        assert sender == Sender("phone", "+79167654321", "Петрова Анна")


def test_an_email_sender_keeps_its_local_part_and_lowers_its_domain() -> None:
    """Domains are case-insensitive, local parts are not (RFC 5321 2.4)."""
    sender = canonical_sender(Sender("email", " Ivan.Petrov@Example.RU ", None, True))
    assert sender == Sender("email", "Ivan.Petrov@example.ru", None, True)


def test_an_address_that_cannot_be_read_is_kept_as_written() -> None:
    """A phone that is not a phone number is kept (trimmed); other kinds are left alone."""
    assert canonical_sender(Sender("phone", " 12-34 ")).address == "12-34"
    assert canonical_sender(Sender("phone", "+7 123 456-78-90")).address == "+7 123 456-78-90"
    session = Sender("webchat", "01M83SESSION", None, True)
    assert canonical_sender(session) == session
