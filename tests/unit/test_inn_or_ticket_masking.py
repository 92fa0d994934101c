"""Masking of numbers that pass both the INN check and the Damm check (identifiers.py decides
which they are): an INN is masked, a ticket number stays readable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from normaliser import damm
from normaliser.identifiers import inn_is_valid
from normaliser.masking import mask_personal_data

# Both a valid INN and Damm-valid: 2600000038 is ticket 3 of 2026, 3170669073 of no ticket year.
TICKET_AND_INN = "2600000038"
INN_AND_DAMM = "3170669073"


def test_the_numbers_pass_both_checks() -> None:
    for number in (TICKET_AND_INN, INN_AND_DAMM):
        assert inn_is_valid(number) and damm.is_valid(number)


@pytest.mark.parametrize("number", [TICKET_AND_INN, INN_AND_DAMM])
def test_labelled_inn_is_masked(number: str) -> None:
    assert mask_personal_data(f"Мой ИНН {number}") == "Мой ИНН **********"
    assert mask_personal_data(f"ИНН №{number}") == "ИНН №**********"


@pytest.mark.parametrize(
    "line",
    [
        f"ticket {TICKET_AND_INN} viewed unmasked through the admin API",
        f"заявка №{TICKET_AND_INN}",
        f"Re: [№{TICKET_AND_INN}] документы",
        f"{TICKET_AND_INN} документы прилагаю",
        f"Статус {TICKET_AND_INN}",
    ],
)
def test_ticket_number_passing_the_inn_check_stays_readable(line: str) -> None:
    assert mask_personal_data(line) == line


def test_bare_inn_of_no_ticket_year_is_masked() -> None:
    assert mask_personal_data(f"{INN_AND_DAMM}, проверьте") == "**********, проверьте"


@given(st.integers(0, 10**9 - 1))
def test_labelled_inn_is_always_masked(number: int) -> None:
    nine = f"{number:09d}"
    inn = nine + str(
        sum(int(d) * w for d, w in zip(nine, (2, 4, 10, 3, 5, 9, 4, 6, 8), strict=True)) % 11 % 10
    )
    assert inn not in mask_personal_data(f"ИНН {inn}")
