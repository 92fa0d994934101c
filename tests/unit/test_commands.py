"""parse_command: «СТАТУС 2600000128» and "/status" as a whole message."""

from __future__ import annotations

import pytest

from normaliser.commands import Command, parse_command, says_nothing_else
from normaliser.text import clean_text


@pytest.mark.parametrize(
    "text",
    [
        "статус 2600000128",
        "СТАТУС №2600000128",
        "Статус заявки 2600000128",
        "Статус моей заявки: №2600000128?",
        "/status 2600000128",
        "/status@gosuslugi_help_bot 2600000128",
        "status 2600000128",
        "Status #2600000128.",
        "  статус   2600000128  ",
    ],
)
def test_status_with_a_ticket_is_recognised(text: str) -> None:
    assert parse_command(text) == Command("status", "2600000128")


@pytest.mark.parametrize("text", ["/status", "СТАТУС", "Статус заявки?", "status"])
def test_status_alone_has_no_ticket(text: str) -> None:
    assert parse_command(text) == Command("status", None)


def test_status_after_clean_text() -> None:
    assert parse_command(clean_text("\ufeffСТАТУС\u00a0№2600000128\r\n")) == Command(
        "status", "2600000128"
    )


def test_ticket_with_wrong_check_digit_is_not_a_command() -> None:
    assert parse_command("статус 2600000129") is None


def test_ticket_of_wrong_length_is_not_a_command() -> None:
    assert parse_command("статус 260000012") is None


def test_word_status_later_in_a_message_is_not_a_command() -> None:
    text = "Добрый день! Подскажите, пожалуйста, статус заявки 2600000128, очень жду"
    assert parse_command(text) is None


def test_message_starting_with_status_but_saying_more_is_not_a_command() -> None:
    assert parse_command("Статус моей заявки не меняется уже неделю, помогите") is None
    assert parse_command("статус 2600000128 почему отклонено?") is None


def test_similar_words_are_not_commands() -> None:
    assert parse_command("статусы 2600000128") is None
    assert parse_command("/statuses") is None


def test_ticket_length_follows_the_configured_format() -> None:
    assert parse_command("статус 26000010", ticket_length=8) == Command("status", "26000010")


@pytest.mark.parametrize(
    "text",
    ["статус 7707084174", "/status@gosuslugi_help_bot 7707084174", "Статус обращения: 7707084174"],
)
def test_number_passing_the_inn_check_is_still_the_ticket_of_a_status_command(text: str) -> None:
    # 7707084174 is a valid INN as well as a Damm-valid number; the command says which it is.
    assert parse_command(text) == Command("status", "7707084174")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "Здравствуйте!",
        "Добрый день.\n\nС уважением,\nИванова Мария Петровна\n+7 916 123-45-67",
        "--\nИван Петров\nООО «Ромашка», бухгалтер\nДлинная подпись, сколько угодно строк о себе",
        "Заранее спасибо!\nИван",
        "Отправлено из мобильной Почты Mail.ru",
        "Sent from my iPhone",
    ],
)
def test_body_that_says_nothing_else(body: str) -> None:
    assert says_nothing_else(body)


@pytest.mark.parametrize(
    "body",
    [
        "Прошу ускорить рассмотрение",
        "Здравствуйте!\nДокументы во вложении.\n\nС уважением,\nИван",
        "Спасибо за ответ, но справку я так и не получил, хотя прошло уже две недели",
        "С уважением,\n1\n2\n3\n4\n5\n6",  # no signature is that long
        # Short sentences that start with thanks are still something to say.
        "Спасибо за ответ!\nНо документы так и не пришли.\nЧто делать?",
        "Благодарю, но справку так и не выдали",
        "Thanks, but nothing arrived yet. What now?",
    ],
)
def test_body_that_says_more(body: str) -> None:
    assert not says_nothing_else(body)
