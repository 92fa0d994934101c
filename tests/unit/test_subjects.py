"""Email subjects: reply prefixes, the ticket's tag read back and put into a notice once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.subjects import SubjectTag, reply_prefixes, without_reply_prefixes
from tests.email_corpus import corpus_message


@pytest.mark.parametrize(
    ("subject", "rest"),
    [
        ("Re: Справка", "Справка"),
        ("RE: Fwd: FW: Справка", "Справка"),
        ("Ответ: Отв: Справка", "Справка"),
        ("Пересл: Справка", "Справка"),
        ("AW: WG: SV: Antw: TR: Справка", "Справка"),
        ("Re[2]: Re(3): Справка", "Справка"),
        ("re : Справка", "Справка"),
        ("  Re:Справка", "Справка"),
        ("Справка", "Справка"),
        ("Rekvizity: справка", "Rekvizity: справка"),  # a word, not a prefix
        ("Отвод: справка", "Отвод: справка"),
        ("Ответственный: Иванов", "Ответственный: Иванов"),
    ],
)
def test_reply_prefixes(subject: str, rest: str) -> None:
    assert without_reply_prefixes(subject) == rest


def test_the_prefixes_themselves() -> None:
    assert reply_prefixes("Re: Fwd:Справка") == "Re: Fwd:"
    assert reply_prefixes("Справка: Re: x") == ""


TAG = SubjectTag()


@pytest.mark.parametrize(
    ("subject", "numbers"),
    [
        ("[№2600000128] Обращение принято", ["2600000128"]),
        ("Re: [№2600000128] Обращение принято", ["2600000128"]),
        ("Re: [ № 2600000128 ] Обращение принято", ["2600000128"]),
        ("Fwd: [№2600000128] Re: [№2600000131]", ["2600000128", "2600000131"]),
        ("[№26000001289] a longer number", []),
        ("[№260000012] a shorter number", []),
        ("№2600000128 without the brackets", []),
        ("Справка 01", []),
    ],
)
def test_the_default_tag(subject: str, numbers: list[str]) -> None:
    assert TAG.numbers(subject) == numbers


def test_a_configured_tag() -> None:
    hash_tag = SubjectTag("[#{number}]")
    assert hash_tag.numbers("RE: [#2600000128] Ticket") == ["2600000128"]
    assert hash_tag.numbers("RE: [№2600000128] Ticket") == []
    words = SubjectTag("(Обращение {number})")
    assert words.numbers("Re: (обращение  2600000128) статус") == ["2600000128"]
    assert words.tagged("Статус", "2600000128") == "(Обращение 2600000128) Статус"
    nine_digits = SubjectTag(digits=11)
    assert nine_digits.numbers("[№26000000001] x") == ["26000000001"]


@pytest.mark.parametrize("template", ["[#]", "[{number}{number}]", "[{number}] {year}", "{}"])
def test_a_tag_names_the_number_once(template: str) -> None:
    with pytest.raises(ValueError, match="number"):
        SubjectTag(template)


@pytest.mark.parametrize(
    ("subject", "tagged"),
    [
        ("Обращение принято", "[№2600000128] Обращение принято"),
        ("", "[№2600000128]"),
        ("Re: Справка о регистрации", "Re: [№2600000128] Справка о регистрации"),
        # An answer to the citizen's reply to our notice: the tag is there already.
        ("Re: [№2600000128] Обращение принято", "Re: [№2600000128] Обращение принято"),
        ("RE: Re: [ №2600000128 ] Обращение", "RE: Re: [ №2600000128 ] Обращение"),
        # A related ticket's tag stays; ours goes first, where threading reads first.
        ("Re: [№2600000131] Справка", "Re: [№2600000128] [№2600000131] Справка"),
    ],
)
def test_the_tag_goes_in_once(subject: str, tagged: str) -> None:
    assert TAG.tagged(subject, "2600000128") == tagged


@given(st.text(max_size=60))
def test_tagging_twice_is_tagging_once(subject: str) -> None:
    once = TAG.tagged(subject, "2600000128")
    assert "2600000128" in TAG.numbers(once)
    assert TAG.tagged(once, "2600000128") == once


@pytest.mark.parametrize(
    ("subject", "topic"),
    [
        ("Re: [№2600000128] [01] Справка", "[01] Справка"),
        ("Fwd: [№2600000128] Re: Код 02 заявление", "Код 02 заявление"),
        ("[01] Справка", "[01] Справка"),
        ("RE: код: 01 справка [№2600000128]", "код: 01 справка"),
    ],
)
def test_the_topic_puts_the_category_code_first_again(subject: str, topic: str) -> None:
    assert TAG.topic(subject) == topic


def test_the_corpus_subjects() -> None:
    # RFC 2047-encoded subjects as clients send them, decoded by the parser.
    outlook = corpus_message("autoreplies", "outlook-ooo-en.eml")
    assert TAG.numbers(str(outlook["Subject"])) == ["2600000179"]
    citizen = corpus_message("autoreplies", "ordinary-citizen.eml")
    assert TAG.topic(str(citizen["Subject"])) == "[01] Справка о регистрации"
