"""Near-identical texts: the cheap filters never change the verdict of the character ratio."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.similarity import (
    FINGERPRINT_CHARS,
    _lcs_length,
    fingerprint,
    near_identical,
    similarity,
)

# A small alphabet repeats letters often, which is where difflib's greedy matching and any
# filter that is not a true upper bound part ways.
ALPHABET = "аеиклнорст"
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


@pytest.mark.parametrize(
    ("first", "again"),
    [
        # Spaces restored: two words become four, though only two characters change.
        ("Немогу войти в личныйкабинет!", "Не могу войти в личный кабинет"),
        (
            "немогу войти в личныйкабинет, пишет ошибка",
            "Не могу войти в личный кабинет. Пишет ошибка",
        ),
        # Typos in most words: few words are shared, yet the characters nearly all are.
        (
            "Здраствуйте не прходит код подтвержденя при вхоже",
            "Здравствуйте, не приходит код подтверждения при входе",
        ),
    ],
)
def test_a_retyped_message_with_typos_or_missing_spaces_is_near_identical(
    first: str, again: str
) -> None:
    a, b = fingerprint(first), fingerprint(again)
    assert similarity(a, b) >= 0.95
    assert near_identical(a, b, 0.9)
    assert near_identical(b, a, 0.9)


def test_unrelated_messages_are_not_near_identical() -> None:
    a = fingerprint(
        "Во дворе дома 7 по Садовой уже месяц не вывозят мусор, контейнеры переполнены."
    )
    b = fingerprint("Не пришла пенсия за март, в банке говорят, что перечислений не было.")
    assert not near_identical(a, b, 0.5)
    assert not near_identical(a, b, 0.9)


def test_the_fingerprint_ignores_case_punctuation_and_spacing() -> None:
    assert (
        fingerprint("  Не МОГУ,  войти!!!\tв_личный\nкабинет… ") == "не могу войти в личный кабинет"
    )
    assert fingerprint("Ёлка—2024") == "ёлка 2024"
    assert fingerprint("?!") == ""
    assert fingerprint("а" * (FINGERPRINT_CHARS + 10)) == "а" * FINGERPRINT_CHARS


def test_identical_and_empty_fingerprints() -> None:
    assert near_identical("код", "код", 1.0)
    assert not near_identical("код", "", 0.5)
    assert not near_identical("", "код", 0.5)


_EDITS = ("delete", "insert", "swap", "replace", "unspace", "space", "punctuate", "capitalise")


@st.composite
def retyped_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """A text and the same text retyped with a few typical edits, or an unrelated text."""
    words = st.lists(st.text(ALPHABET, min_size=1, max_size=8), min_size=1, max_size=12)
    first = " ".join(draw(words))
    if draw(st.integers(0, 9)) == 0:
        return first, " ".join(draw(words))
    chars = list(first)
    for edit in draw(st.lists(st.sampled_from(_EDITS), max_size=8)):
        if not chars:
            break
        at = draw(st.integers(0, len(chars) - 1))
        letter = draw(st.sampled_from(ALPHABET))
        if edit == "delete":
            del chars[at]
        elif edit == "insert":
            chars.insert(at, letter)
        elif edit == "swap" and at + 1 < len(chars):
            chars[at], chars[at + 1] = chars[at + 1], chars[at]
        elif edit == "replace":
            chars[at] = letter
        elif edit == "unspace":
            spaces = [i for i, char in enumerate(chars) if char == " "]
            if spaces:
                del chars[draw(st.sampled_from(spaces))]
        elif edit == "space":
            chars.insert(at, " ")
        elif edit == "punctuate":
            chars.insert(at, draw(st.sampled_from([",", ".", "!", " - ", "  "])))
        elif edit == "capitalise":
            chars[at] = chars[at].upper()
    return first, "".join(chars)


@settings(max_examples=600)
@given(retyped_pairs())
def test_the_verdict_is_the_character_ratio_against_the_threshold(pair: tuple[str, str]) -> None:
    a, b = (fingerprint(text) for text in pair)
    for first, second in ((a, b), (b, a)):
        ratio = similarity(first, second)
        for threshold in THRESHOLDS:
            assert near_identical(first, second, threshold) == (ratio >= threshold)
        # Right at the ratio, and the next float above it: no rounding slack either way.
        assert near_identical(first, second, ratio)
        assert not near_identical(first, second, math.nextafter(ratio, 2.0))


def _lcs_table(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for char in a:
        previous = row
        row = [0]
        for j, other in enumerate(b):
            row.append(previous[j] + 1 if char == other else max(previous[j + 1], row[j]))
    return row[-1]


@settings(max_examples=300)
@given(st.text("аб в", max_size=40), st.text("аб в", max_size=40))
def test_the_bit_parallel_lcs_is_the_textbook_one(a: str, b: str) -> None:
    assert _lcs_length(a, b) == _lcs_table(a, b)
