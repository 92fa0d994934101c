"""Ticket numbers (CONTRACTS.md "Ticket numbers") and the status vocabulary."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from normaliser.damm import is_valid
from router.ticketing.catalogue import CLOSED_STATUSES, STATUSES, TicketNumbering


def test_default_number_matches_the_contract_example() -> None:
    assert TicketNumbering().number(2026, 12) == "2600000128"


def test_default_is_ten_digits_and_no_reopening() -> None:
    numbering = TicketNumbering()
    assert numbering.pattern_length == 10
    assert numbering.subject_tag == "[№{number}]"
    assert numbering.reopen_after_resolved is False


def test_counter_width_follows_config() -> None:
    numbering = TicketNumbering(counter_digits=4)
    number = numbering.number(2031, 7)
    assert number[:6] == "310007"
    assert len(number) == numbering.pattern_length == 7


def test_counter_that_overflows_its_width_is_refused() -> None:
    numbering = TicketNumbering(counter_digits=2)
    assert numbering.number(2026, 99).startswith("2699")
    with pytest.raises(ValueError, match="does not fit in 2 digits"):
        numbering.number(2026, 100)


def test_negative_counter_is_refused() -> None:
    with pytest.raises(ValueError):
        TicketNumbering().number(2026, -1)


@pytest.mark.parametrize("digits", [1, 10])
def test_counter_digits_outside_2_to_9_is_a_config_error(digits: int) -> None:
    with pytest.raises(ValidationError) as info:
        TicketNumbering(counter_digits=digits)
    assert info.value.errors()[0]["loc"] == ("counter_digits",)


@pytest.mark.parametrize("tag", ["[ticket]", "[№{num}]", "[{number}/{year}]", "{0}"])
def test_subject_tag_must_hold_exactly_the_number(tag: str) -> None:
    with pytest.raises(ValidationError, match=r"must contain \{number\}"):
        TicketNumbering(subject_tag=tag)


def test_subject_tag_can_be_changed() -> None:
    numbering = TicketNumbering.model_validate({"subject_tag": "(Обращение {number})"})
    assert numbering.subject_tag.format(number="2600000128") == "(Обращение 2600000128)"


def test_unknown_key_in_tickets_table_is_an_error() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TicketNumbering.model_validate({"counter_digit": 7})


numberings = st.builds(TicketNumbering, counter_digits=st.integers(2, 9))


@given(numberings, st.integers(2000, 2099), st.data())
def test_every_number_is_valid_with_its_length_and_year(
    numbering: TicketNumbering, year: int, data: st.DataObject
) -> None:
    counter = data.draw(st.integers(0, 10**numbering.counter_digits - 1))
    number = numbering.number(year, counter)
    assert is_valid(number)
    assert len(number) == numbering.pattern_length
    assert number.startswith(f"{year % 100:02d}")
    assert int(number[2:-1]) == counter


@given(numberings, st.integers(2000, 2099), st.integers(0, 99), st.integers(0, 10), st.data())
def test_any_single_digit_change_breaks_the_number(
    numbering: TicketNumbering, year: int, counter: int, position: int, data: st.DataObject
) -> None:
    number = numbering.number(year, counter)
    index = position % len(number)
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != number[index]]))
    assert not is_valid(number[:index] + other + number[index + 1 :])


def test_statuses_are_the_six_of_the_contract_in_order() -> None:
    assert STATUSES == (
        "accepted",
        "in_progress",
        "under_review",
        "awaiting_citizen",
        "resolved",
        "rejected",
    )
    assert {"resolved", "rejected"} == CLOSED_STATUSES
