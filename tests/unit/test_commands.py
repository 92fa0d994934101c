"""The command table: «СТАТУС 2600000128», «СТОП», "/help" as a whole message, in any case,
with Latin look-alike letters; and an email body that says nothing beside its subject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.contract import CommandRow
from normaliser.commands import COMMANDS, SHARED_ROWS, Command, parse_command, says_nothing_else
from normaliser.damm import check_digit
from normaliser.text import clean_text


def read(text: str) -> tuple[str, str | None] | None:
    """The command's name and ticket, or None."""
    command = parse_command(text)
    return None if command is None else (command.name, command.ticket)


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
    assert read(text) == ("status", "2600000128")


@pytest.mark.parametrize("text", ["/status", "СТАТУС", "Статус заявки?", "status"])
def test_status_alone_has_no_ticket(text: str) -> None:
    assert read(text) == ("status", None)


def test_status_after_clean_text() -> None:
    assert read(clean_text("\ufeffСТАТУС\u00a0№2600000128\r\n")) == ("status", "2600000128")


def test_ticket_with_wrong_check_digit_is_not_a_command() -> None:
    assert parse_command("статус 2600000129") is None


def test_ticket_of_wrong_length_is_not_a_command() -> None:
    assert parse_command("статус 260000012") is None


def test_word_status_later_in_a_message_is_not_a_command() -> None:
    text = "Добрый день! Подскажите, пожалуйста, статус заявки 2600000128, очень жду"
    assert parse_command(text) is None


def test_message_starting_with_status_but_saying_more_is_not_a_command() -> None:
    assert parse_command("Статус моей заявки не меняется уже неделю, помогите") is None
    assert parse_command("Статус моей заявки не меняется неделю") is None
    assert parse_command("статус 2600000128 почему отклонено?") is None


def test_similar_words_are_not_commands() -> None:
    assert parse_command("статусы 2600000128") is None
    assert parse_command("/statuses") is None
    assert parse_command("Стопка справок") is None
    assert parse_command("Стоп-лист") is None
    assert parse_command("Startup") is None


def test_ticket_length_follows_the_configured_format() -> None:
    assert read("статус 26000010") is None
    assert parse_command("статус 26000010", ticket_length=8) == Command("status", "26000010", "ru")


@pytest.mark.parametrize(
    "text",
    ["статус 7707084174", "/status@gosuslugi_help_bot 7707084174", "Статус обращения: 7707084174"],
)
def test_number_passing_the_inn_check_is_still_the_ticket_of_a_status_command(text: str) -> None:
    # 7707084174 is a valid INN as well as a Damm-valid number; the command says which it is.
    assert read(text) == ("status", "7707084174")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("СТОП", Command("stop", None, "ru")),
        ("стоп!", Command("stop", None, "ru")),
        ("Отписаться", Command("stop", None, "ru")),
        ("STOP", Command("stop", None, "en")),
        ("/stop", Command("stop", None, "en")),
        ("Unsubscribe", Command("stop", None, "en")),
        ("СТАРТ", Command("start", None, "ru")),
        ("подписаться", Command("start", None, "ru")),
        ("START", Command("start", None, "en")),
        ("/start@gosuslugi_help_bot", Command("start", None, "en")),
        ("ПОМОЩЬ", Command("help", None, "ru")),
        ("Help?", Command("help", None, "en")),
        ("/help", Command("help", None, "en")),
    ],
)
def test_stop_start_and_help_are_recognised_with_their_language(
    text: str, command: Command
) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("CTATYC", Command("status", None, "ru")),  # every letter Latin
        ("cтоп", Command("stop", None, "ru")),  # a Latin c
        ("CTOП", Command("stop", None, "ru")),
        ("CTAPT", Command("start", None, "ru")),
        ("CTATYC 2600000128", Command("status", "2600000128", "ru")),
        ("Cтатуc мoей заявки №2600000128", Command("status", "2600000128", "ru")),
    ],
)
def test_latin_look_alikes_in_cyrillic_words_are_read_as_cyrillic(
    text: str, command: Command
) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize("text", ["Справка", "?", "??", "стоп 2600000128", "STOP IT", "помогите"])
def test_words_left_out_of_the_table_are_requests(text: str) -> None:
    # «Справка» is the certificate of category 01; "?" in a chat asks after the open ticket.
    assert parse_command(text) is None


# Letters that have a Latin twin, as a keyboard left on the Latin layout types them.
_TWINS = {"а": "aA", "с": "cC", "е": "eE", "о": "oO", "р": "pP", "х": "xX", "у": "yY", "к": "kK",
          "т": "T", "н": "H", "в": "B", "м": "M"}  # fmt: skip
_PHRASES = [(row, phrase) for row in SHARED_ROWS for phrase in row.phrases]


@st.composite
def written(draw: st.DrawFn, phrase: str) -> str:
    """`phrase` as a citizen may type it: any case, any Cyrillic letter maybe a Latin twin."""
    letters = []
    for letter in phrase:
        letter = draw(st.sampled_from([letter, letter.upper()]))
        twins = _TWINS.get(letter.lower(), "")
        letters.append(draw(st.sampled_from([letter, *twins])) if twins else letter)
    return "".join(letters)


@given(st.data(), st.sampled_from(_PHRASES))
def test_every_phrase_of_the_table_is_its_command_however_written(
    data: st.DataObject, entry: tuple[CommandRow, str]
) -> None:
    row, phrase = entry
    text = data.draw(written(phrase))
    command = parse_command(text)
    assert command is not None and command.name == row.name, text
    assert command.language == row.language


@given(
    st.sampled_from([p for row, p in _PHRASES if row.name != "status"]),
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=20),
)
def test_a_phrase_with_more_after_it_is_a_request(phrase: str, more: str) -> None:
    assert parse_command(f"{phrase} {more}") is None


@given(st.integers(min_value=0, max_value=9_999_999), st.sampled_from(["статус", "STATUS"]))
def test_status_reads_any_valid_ticket_number(counter: int, word: str) -> None:
    digits = f"26{counter:07d}"
    number = digits + check_digit(digits)
    assert read(f"{word} {number}") == ("status", number)
    wrong = digits + str((int(check_digit(digits)) + 1) % 10)
    assert parse_command(f"{word} {wrong}") is None


@given(st.text(max_size=200))
def test_any_text_is_read_without_error(text: str) -> None:
    command = parse_command(text)
    assert command is None or command.name in {row.name for row in SHARED_ROWS}


def test_a_channels_rows_come_first() -> None:
    telegram = COMMANDS.with_rows([CommandRow("help", None, ("/start",))])
    assert parse_command("/start", table=telegram) == Command("help", None, None)
    assert parse_command("СТАРТ", table=telegram) == Command("start", None, "ru")
    assert parse_command("/start") == Command("start", None, "en")


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
