"""canonical_phone: one E.164 identity for a number from the form, SMS and Telegram."""

from __future__ import annotations

from collections import OrderedDict

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from channels import phones
from channels.phones import HOME_REGION, LONGEST_WRITTEN, canonical_phone
from tests.unit.phones import SEPARATORS, russian_phones


def typed(raw: str) -> str | None:
    """What a citizen's typed-in number is (a form field, the portal's identity)."""
    return canonical_phone(raw, HOME_REGION)


def msisdn(raw: str) -> str | None:
    """What a number an SMSC or Telegram gives is: international, "+" or not."""
    return canonical_phone(raw, None)


# --- typed in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "8 (495) 777-77-77",
        "8(495)777-77-77",
        "+7 495 7777777",
        "+7 495 777-77-77",
        "7 495 777 77 77",
        "84957777777",
        "74957777777",
        "4957777777",
        "+7\u00a0495\u2009777\u201077\u201277",
        "+7 (495) 777\u201377\u201377",
    ],
)
def test_a_moscow_number_in_every_national_and_international_form(written: str) -> None:
    assert typed(written) == "+74957777777"


def test_unicode_hyphens_and_narrow_spaces_dots_and_fullwidth_digits() -> None:
    assert typed("8\u2011800\u2011555\u201135\u201135") == "+78005553535"
    assert typed("8\u202f800\u202f555\u201135\u201135") == "+78005553535"
    assert typed("8.916.123.45.67") == "+79161234567"
    assert typed("８ ９１６ １２３-４５-６７") == "+79161234567"


def test_ten_digits_without_a_prefix_are_a_national_number_of_the_home_region() -> None:
    # Forms often print the "+7" or "8" outside the field: the citizen types the rest.
    assert typed("9161234567") == "+79161234567"
    assert typed("916 123-45-67") == "+79161234567"


def test_kazakhstan_shares_country_code_7() -> None:
    assert typed("8 701 123 45 67") == "+77011234567"
    assert typed("+7 701 123 45 67") == "+77011234567"


def test_international_numbers() -> None:
    assert typed("+44 20 7946 0958") == "+442079460958"
    assert typed("+375 29 123-45-67") == "+375291234567"
    assert typed("+1 650 253 0000") == "+16502530000"


def test_a_foreign_number_dialled_from_russia() -> None:
    # 8, wait for the tone, 10: the Russian international prefix.
    assert typed("8 10 44 20 7946 0958") == "+442079460958"


def test_a_national_number_of_another_region() -> None:
    assert canonical_phone("020 7946 0958", "GB") == "+442079460958"


# --- not a number ----------------------------------------------------------------------------


def test_a_russian_number_of_the_wrong_length_is_none() -> None:
    assert typed("+7 495 777-77-7") is None
    assert typed("8 495 777-77-777") is None


def test_a_number_in_no_assigned_range_is_none() -> None:
    # Area codes 1xx and 0xx, and mobile 9300 0xx, are not in Russia's numbering plan.
    assert typed("+7 123 456-78-90") is None
    assert typed("8 (012) 345-67-89") is None
    assert typed("+7 930 000-00-00") is None


def test_international_numbers_are_checked_against_their_country_plan() -> None:
    assert typed("+44 2079") is None
    assert typed("+1234567") is None
    assert typed("+12345678") is None
    assert typed("+123456789012345") is None
    assert typed("+1234567890123456") is None
    assert typed("+999 1234 5678") is None  # no such country code


def test_letters_and_extensions_make_no_identity() -> None:
    assert typed("8 800 FLOWERS") is None
    assert typed("+7 495 777-77-77 доб. 123") is None
    assert typed("позвоните мне") is None
    assert typed("") is None
    assert typed("+") is None


# --- one identity across channels ------------------------------------------------------------


def test_a_number_written_with_more_padding_than_any_hand_does_is_none() -> None:
    written = "+7 (916) 123-45-67"
    assert typed(written.center(LONGEST_WRITTEN)) == "+79161234567"
    assert typed(written.center(LONGEST_WRITTEN + 1)) is None


def test_an_sms_or_telegram_number_with_or_without_plus() -> None:
    assert msisdn("79161234567") == "+79161234567"
    assert msisdn("+79161234567") == "+79161234567"
    assert msisdn("447911123456") == "+447911123456"
    assert msisdn("375291234567") == "+375291234567"


def test_an_msisdn_is_read_by_libphonenumber_once_however_it_is_spelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SMS adapter reads the MSISDN as the SMSC wrote it (international or of unknown
    type), the normaliser its E.164 form as typed: libphonenumber parses it once."""
    parsed: list[str] = []
    parse = phonenumbers.parse

    def counting(number: str, region: str | None) -> phonenumbers.PhoneNumber:
        parsed.append(number)
        return parse(number, region)

    monkeypatch.setattr(phonenumbers, "parse", counting)
    monkeypatch.setattr(phones, "_CANONICAL", OrderedDict())
    assert msisdn("79031234567") == typed("+79031234567") == msisdn("+79031234567")
    assert typed("79051234567") == typed("+79051234567") == msisdn("79051234567")
    assert parsed == ["+79031234567", "79051234567"]


def test_a_foreign_msisdn_needs_its_international_reading() -> None:
    # Read as typed in Russia, 447911123456 would be a 12-digit national number: no one's.
    assert typed("447911123456") is None
    assert msisdn("447911123456") == typed("+44 7911 123456")


def test_an_msisdn_is_never_completed_with_a_trunk_prefix() -> None:
    assert msisdn("89161234567") is None


@given(russian_phones(prefixes=("+7", "8", "7", "")))
def test_a_russian_number_typed_any_way_is_the_sms_and_telegram_identity(
    phone: tuple[str, str],
) -> None:
    written, e164 = phone
    assert typed(written) == e164
    assert msisdn(e164.removeprefix("+")) == e164  # an SMSC's MSISDN, Telegram's phone_number
    assert msisdn(e164) == e164


_MOBILES = [
    number
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    if (number := phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE))
]


@given(st.sampled_from(_MOBILES), st.lists(st.sampled_from(["", *SEPARATORS]), min_size=8))
def test_any_countrys_mobile_number_is_one_identity_however_it_is_spaced(
    number: phonenumbers.PhoneNumber, gaps: list[str]
) -> None:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    groups = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL).split()
    written = "".join(group + gap for group, gap in zip(groups, gaps, strict=False))
    assert typed(written) == e164
    assert msisdn(e164.removeprefix("+")) == e164
