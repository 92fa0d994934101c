"""Charsets of email text parts: the label is a hint; short Russian texts in every code page
citizens' clients use come out as written, with the label right, wrong or missing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.charsets import CYRILLIC, codec_name, decode, plausibility

# What citizens write, short texts first: detectors are weakest there.
PHRASES = [
    "Да",
    "Вход",
    "СНИЛС",
    "Привет",
    "Ошибка",
    "Спасибо!",
    "Добрый день",
    "Иванов Иван",
    "Не могу войти",
    "ПРОШУ ПОМОЧЬ С ВХОДОМ",
    "Съешь же ещё этих мягких французских булок",
    "Здравствуйте, не могу войти в личный кабинет",
    "Прошу выдать справку об отсутствии судимости, код 01.",
]
CODECS = [codec_name(c) for c in CYRILLIC]
# A wrong label needs a few words against it: two letters decide nothing, and then the label
# stands (see the last test).
LONG_ENOUGH = [p for p in PHRASES if len(p) >= 6]


@pytest.mark.parametrize(("phrase", "codec"), list(itertools.product(PHRASES, CODECS)))
def test_without_a_label_the_text_comes_out_as_written(phrase: str, codec: str) -> None:
    decoded = decode(phrase.encode(codec), None)
    assert decoded.text == phrase
    assert decoded.defect is None


@pytest.mark.parametrize(("phrase", "codec"), list(itertools.product(PHRASES, CODECS)))
def test_with_the_right_label_the_label_is_used(phrase: str, codec: str) -> None:
    assert decode(phrase.encode(codec), codec) == (phrase, codec, None)


@pytest.mark.parametrize(
    ("phrase", "codec", "label"),
    [
        (phrase, codec, label)
        for phrase in LONG_ENOUGH
        for codec, label in itertools.permutations(CODECS, 2)
        # MacCyrillic and windows-1251 share every lower-case letter: a lower-case word reads
        # the same in both, so which one the label names does not matter.
        if phrase.encode(codec).decode(label, errors="replace") != phrase
    ],
)
def test_a_wrong_label_is_overruled(phrase: str, codec: str, label: str) -> None:
    decoded = decode(phrase.encode(codec), label)
    assert decoded.text == phrase
    assert decoded.defect == f"declared {label}, read as {decoded.charset}"


@pytest.mark.parametrize("label", [None, "koi8-r", "windows-1251", "us-ascii", "iso-8859-1"])
def test_valid_utf8_is_utf8_whatever_the_label(label: str | None) -> None:
    decoded = decode("Не могу войти".encode(), label)
    assert (decoded.text, decoded.charset) == ("Не могу войти", "utf-8")


def test_a_latin_label_that_fits_is_kept() -> None:
    text = "Café crème brûlée, déjà vu"
    assert decode(text.encode("latin-1"), "iso-8859-1").text == text


def test_windows_1251_labelled_latin1_is_read_as_russian() -> None:
    decoded = decode("Прошу перезвонить".encode("cp1251"), "iso-8859-1")
    assert decoded.text == "Прошу перезвонить"
    assert decoded.defect == "declared iso8859-1, read as windows-1251"


@pytest.mark.parametrize("label", ["x-unknown-charset", "base64", "rot13", "utf-8\x00"])
def test_an_unknown_or_non_text_label_is_reported_and_the_text_still_read(label: str) -> None:
    decoded = decode("Прошу помочь".encode("koi8-r"), label)
    assert decoded.text == "Прошу помочь"
    assert decoded.defect == "unknown charset label"


def test_broken_utf8_keeps_its_good_letters() -> None:
    # A truncated multi-byte sequence in the middle: the rest is still UTF-8, not windows-1251.
    data = "Не могу войти".encode() + b"\xd0" + " в кабинет".encode()
    decoded = decode(data, "utf-8")
    assert decoded.text == "Не могу войти\ufffd в кабинет"


def test_two_letters_under_a_wrong_label_keep_the_label() -> None:
    """«он» in KOI8-R is «ПО» in windows-1251, a word too: the sender's label decides."""
    decoded = decode("он".encode("koi8-r"), "windows-1251")
    assert (decoded.text, decoded.charset, decoded.defect) == ("ПО", "cp1251", None)


def test_mojibake_scores_below_the_text() -> None:
    text = "Здравствуйте, не могу войти в личный кабинет"
    for wrong in ("koi8-r", "cp866", "iso-8859-5", "latin-1"):
        assert plausibility(text) > plausibility(text.encode("cp1251").decode(wrong, "replace"))


VOCABULARY = [
    "здравствуйте",
    "добрый",
    "день",
    "прошу",
    "помочь",
    "не",
    "могу",
    "войти",
    "в",
    "личный",
    "кабинет",
    "код",
    "из",
    "смс",
    "пришёл",
    "заявление",
    "справка",
    "паспорт",
    "снилс",
    "инн",
    "пособие",
    "субсидия",
    "запись",
    "к",
    "врачу",
    "ошибка",
    "портал",
    "спасибо",
    "пожалуйста",
    "срочно",
    "жалоба",
    "отказ",
    "решение",
    "ведомство",
    "документы",
    "скан",
    "вложение",
    "ЗДРАВСТВУЙТЕ",
    "ПОМОГИТЕ",
    "Москва",
    "Иван",
    "Петрович",
    "Мария",
    "Сидорова",
]
SENTENCES = st.lists(st.sampled_from(VOCABULARY), min_size=3, max_size=12, unique=True).map(
    " ".join
)


@settings(max_examples=300)
@given(sentence=SENTENCES, codec=st.sampled_from(CODECS))
def test_any_sentence_without_a_label_comes_out_as_written(sentence: str, codec: str) -> None:
    assert decode(sentence.encode(codec), None).text == sentence


@settings(max_examples=300)
@given(sentence=SENTENCES, codecs=st.permutations(CODECS).map(lambda c: c[:2]))
def test_any_sentence_under_a_wrong_label_comes_out_as_written(
    sentence: str, codecs: list[str]
) -> None:
    codec, label = codecs
    assert decode(sentence.encode(codec), label).text == sentence
