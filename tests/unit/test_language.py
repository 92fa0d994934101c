"""guess_language: the share of each language's letters decides, Russian when in doubt."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from normaliser.language import ALPHABETS, guess_language


def test_russian_text_is_russian() -> None:
    assert guess_language("Здравствуйте! Не могу получить справку о доходах.") == "ru"


def test_english_text_is_english() -> None:
    assert guess_language("Hello, I cannot log in to my personal account.") == "en"


def test_russian_text_with_latin_terms_is_russian() -> None:
    text = "Не приходит SMS с кодом, пишет error на странице Госуслуг"
    assert guess_language(text) == "ru"


def test_english_text_with_a_russian_name_is_english() -> None:
    text = "My application was filed by Иван, but the status never changed since Monday"
    assert guess_language(text) == "en"


def test_hint_decides_when_there_are_no_letters() -> None:
    assert guess_language("2600000128 !!! 8 800 555-35-35", hint="en") == "en"


def test_unknown_hint_without_letters_falls_back_to_russian() -> None:
    assert guess_language("12345", hint="tt") == "ru"


def test_no_letters_and_no_hint_is_russian() -> None:
    assert guess_language("   ") == "ru"


def test_letters_of_no_known_language_count_as_no_evidence() -> None:
    assert guess_language("申請番号", hint="en") == "en"


def test_evidence_outweighs_the_hint() -> None:
    assert guess_language("Прошу выдать справку", hint="en") == "ru"


def test_tie_goes_to_russian() -> None:
    assert guess_language("ok ок") == "ru"


@given(st.text())
def test_answer_is_always_a_known_language(text: str) -> None:
    assert guess_language(text) in ALPHABETS
