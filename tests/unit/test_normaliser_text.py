"""clean_text, html_to_text and the normalise() entry point."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from normaliser.commands import Command
from normaliser.normalise import normalise
from normaliser.text import clean_text, html_to_text

# --- clean_text -------------------------------------------------------------------------------


def test_decomposed_letters_are_composed_to_nfc() -> None:
    # «й» and «ё» as some phones send them: base letter + combining breve / diaeresis.
    assert clean_text("Андреи\u0306, пришлите е\u0308") == "Андрей, пришлите ё"


def test_letters_are_composed_after_invisible_characters_are_removed() -> None:
    # A zero-width space between «е» and its diaeresis hides the pair from NFC until removed.
    assert clean_text("е\u200b\u0308") == "ё"


def test_crlf_and_cr_become_lf() -> None:
    assert clean_text("Добрый день.\r\nПрошу помочь.\rСпасибо.") == (
        "Добрый день.\nПрошу помочь.\nСпасибо."
    )


def test_unicode_line_separators_become_lf() -> None:
    assert (
        clean_text("строка\u2028строка\u2029строка\x85строка") == "строка\nстрока\nстрока\nстрока"
    )


def test_zero_width_and_soft_hyphen_are_removed() -> None:
    text = "\ufeffСНИЛС\u200b 112\u200c-233\u200d-445\u2060 95, госу\u00adслуги"
    assert clean_text(text) == "СНИЛС 112-233-445 95, госуслуги"


def test_control_characters_are_removed_but_tab_and_newline_kept() -> None:
    assert clean_text("Ошибка\x00\x07 на\x1b сайте\x7f\x9b\nдва") == "Ошибка на сайте\nдва"


def test_tabs_become_spaces() -> None:
    assert clean_text("ИНН\t7707083893") == "ИНН 7707083893"


def test_trailing_spaces_are_stripped_on_each_line() -> None:
    assert clean_text("Здравствуйте,   \nпомогите \u00a0\nпожалуйста") == (
        "Здравствуйте,\nпомогите\nпожалуйста"
    )


def test_leading_indentation_is_kept() -> None:
    assert clean_text("Пункты:\n    1. справка") == "Пункты:\n    1. справка"


def test_more_than_two_blank_lines_collapse_to_two() -> None:
    assert clean_text("Вопрос\n\n\n\n\n\nПодпись") == "Вопрос\n\n\nПодпись"
    assert clean_text("Вопрос\n\n\nПодпись") == "Вопрос\n\n\nПодпись"


def test_whitespace_only_lines_count_as_blank() -> None:
    assert clean_text("Вопрос\n \n\t\n  \n \nПодпись") == "Вопрос\n\n\nПодпись"


def test_leading_and_trailing_blank_lines_are_stripped() -> None:
    assert clean_text("\n\n  \nТекст обращения\n\n\n") == "Текст обращения"


def test_only_invisible_characters_leave_nothing() -> None:
    assert clean_text("\u200b\ufeff \r\n\t\u00ad") == ""


_MESSY = st.text(
    alphabet=st.sampled_from(
        list("ае ёйЙ\t\n\r\x00\x85\u0301\u0306\u0308\u00ad\u200b\u200d\u2028\ufeff1-")
    )
    | st.characters(),
)


@given(_MESSY)
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@given(_MESSY)
def test_clean_text_output_has_no_cr_tab_or_invisible_chars(text: str) -> None:
    cleaned = clean_text(text)
    assert not set(cleaned) & set("\r\t\x00\x85\u00ad\u200b\u200d\u2028\ufeff")
    assert unicodedata.is_normalized("NFC", cleaned)
    assert "\n\n\n\n" not in cleaned


# --- html_to_text -----------------------------------------------------------------------------


def test_script_style_and_head_are_dropped() -> None:
    html = (
        "<html><head><title>Письмо</title><style>p {color: red}</style></head>"
        "<body><script>track()</script>Прошу выдать справку</body></html>"
    )
    assert html_to_text(html) == "Прошу выдать справку"


def test_unclosed_head_does_not_swallow_the_body() -> None:
    assert html_to_text("<head><title>x</title><body>Текст письма</body>") == "Текст письма"


def test_paragraphs_and_divs_become_lines() -> None:
    html = "<p>Здравствуйте!</p><p>Не могу войти.</p><div>С уважением,</div><div>Иван</div>"
    assert html_to_text(html) == "Здравствуйте!\nНе могу войти.\nС уважением,\nИван"


def test_br_is_a_line_break_and_an_empty_div_with_br_a_blank_line() -> None:
    # Gmail writes an empty line as <div><br></div>.
    html = "<div>Добрый день<br>Иван</div><div><br></div><div>Подпись</div>"
    assert html_to_text(html) == "Добрый день\nИван\n\nПодпись"


def test_headings_and_table_rows_are_lines_cells_are_spaced() -> None:
    html = "<h1>Заявление</h1><table><tr><td>ИНН</td><td>7707083893</td></tr></table>"
    assert html_to_text(html) == "Заявление\nИНН 7707083893"


def test_list_items_are_prefixed_with_a_dash() -> None:
    html = "<p>Приложены:</p><ul><li>паспорт</li><li>СНИЛС</li></ul>"
    assert html_to_text(html) == "Приложены:\n- паспорт\n- СНИЛС"


def test_entities_are_decoded() -> None:
    html = "&laquo;Госуслуги&raquo; &amp; МФЦ &#8470;5 &lt;срочно&gt;"
    assert html_to_text(html) == "«Госуслуги» & МФЦ №5 <срочно>"


def test_source_whitespace_is_collapsed() -> None:
    html = "<div>\n    Не приходит\n    смс   с кодом\n</div>"
    assert html_to_text(html) == "Не приходит смс с кодом"


def test_pre_keeps_its_line_breaks() -> None:
    assert html_to_text("<pre>строка 1\n  строка 2</pre>") == "строка 1\n  строка 2"


def test_html_result_is_cleaned() -> None:
    assert html_to_text("<p>Текст\u200b</p>\r\n\r\n\r\n\r\n<p></p><p>конец</p>") == "Текст\nконец"


# --- normalise --------------------------------------------------------------------------------


def test_normalise_cleans_and_finds_identifiers_in_subject_and_text() -> None:
    result = normalise(
        "Прошу сообщить, готова ли справка.\r\nТел. 8 916 123-45-67",
        subject="[01] Справка, СНИЛС 112-233-445 95",
    )
    assert result.text == "Прошу сообщить, готова ли справка.\nТел. 8 916 123-45-67"
    assert result.language == "ru"
    assert result.identifiers.snils == ["112-233-445 95"]
    assert result.identifiers.phones == ["+79161234567"]
    assert result.flags == []


def test_normalise_subject_and_text_do_not_run_together() -> None:
    result = normalise("2600000128", subject="Заявка 77")
    assert result.identifiers.ticket_refs == ["2600000128"]


def test_normalise_takes_text_from_html_when_text_is_empty() -> None:
    result = normalise(" \r\n", html="<p>Не могу войти</p>")
    assert result.text == "Не могу войти"
    assert "empty_text" not in result.flags


def test_normalise_prefers_plain_text_over_html() -> None:
    assert normalise("Текст", html="<p>HTML</p>").text == "Текст"


def test_normalise_flags_empty_text() -> None:
    assert normalise("\u200b\n\n").flags == ["empty_text"]


def test_normalise_truncates_at_max_chars() -> None:
    result = normalise("а" * 30, max_chars=10)
    assert result.text == "а" * 10
    assert result.flags == ["truncated"]


def test_normalise_does_not_truncate_at_exactly_max_chars() -> None:
    assert normalise("а" * 10, max_chars=10).flags == []


def test_normalise_flags_credentials() -> None:
    assert "contains_credential" in normalise("Мой пароль Qwerty123, помогите").flags


def test_normalise_recognises_a_status_command() -> None:
    command = normalise("\ufeffСТАТУС №2600000128\r\n").command
    assert command is not None
    assert command.ticket == "2600000128"


def test_normalise_uses_the_language_hint_only_without_evidence() -> None:
    assert normalise("2600000128", language_hint="en").language == "en"
    assert normalise("Добрый день", language_hint="en").language == "ru"


# --- a status query in an email's subject (DOMAIN.md "Requests") -------------------------------


@pytest.mark.parametrize(
    "body",
    ["", "\u200b\r\n", "--\r\nИван Петров", "Здравствуйте!\r\n\r\nС уважением,\r\nИван Петров"],
)
def test_status_in_the_subject_with_nothing_in_the_body_is_a_command(body: str) -> None:
    result = normalise(body, subject="Статус 2600000014")
    assert result.command == Command("status", "2600000014", "ru")


def test_status_in_the_subject_is_read_after_cleaning() -> None:
    result = normalise("", subject="\ufeffСТАТУС\u00a0№2600000014\r\n")
    assert result.command == Command("status", "2600000014", "ru")


@pytest.mark.parametrize("subject", ["Статус [№2600000014]", "СТАТУС [ #2600000014 ]"])
def test_status_before_our_tag_in_the_subject_is_a_command(subject: str) -> None:
    assert normalise("", subject=subject).command == Command("status", "2600000014", "ru")


def test_status_in_the_subject_follows_the_ticket_length() -> None:
    result = normalise("", subject="Статус 26000010", ticket_length=8)
    assert result.command == Command("status", "26000010", "ru")
    assert normalise("", subject="Статус 26000010").command is None


def test_status_in_the_subject_with_a_request_in_the_body_is_no_command() -> None:
    # The body is for a person to read; a status answer would leave it unfiled.
    result = normalise("Прошу приобщить документы к заявке", subject="Статус 2600000014")
    assert result.command is None
    assert result.identifiers.ticket_refs == ["2600000014"]


# A reply to our confirmation whose subject the citizen changed, with nothing typed: the mail
# client's quote is all the body holds, and the email channel says so.
QUOTED_CONFIRMATION = (
    "03.12.2026 10:00, Служба поддержки пишет:\n"
    "> Ваше обращение принято, номер 2600000014.\n> Ответим в течение 5 рабочих дней."
)


def test_status_in_the_subject_over_a_body_that_only_quotes_is_a_command() -> None:
    result = normalise(QUOTED_CONFIRMATION, subject="Статус [№2600000014]", quoted_only=True)
    assert result.command == Command("status", "2600000014", "ru")
    assert result.text == QUOTED_CONFIRMATION  # the text stays what was sent


def test_a_quote_not_known_as_one_says_something_else() -> None:
    """The normaliser does not guess quotes: only the channel, which read the MIME, knows."""
    assert normalise(QUOTED_CONFIRMATION, subject="Статус [№2600000014]").command is None


def test_a_quote_only_reply_with_no_command_in_the_subject_is_none() -> None:
    assert (
        normalise(QUOTED_CONFIRMATION, subject="Re: Статус 2600000014", quoted_only=True).command
        is None
    )
    assert (
        normalise(QUOTED_CONFIRMATION, subject="Re: [№2600000014]", quoted_only=True).command
        is None
    )


def test_reply_with_status_in_the_subject_is_no_command() -> None:
    assert normalise("", subject="Re: Статус 2600000014").command is None


def test_command_in_the_body_wins_over_the_subject() -> None:
    result = normalise("статус 2600000128", subject="Статус 2600000014")
    assert result.command == Command("status", "2600000128", "ru")


def test_subject_that_is_no_command_gives_none() -> None:
    assert normalise("", subject="Справка о несудимости").command is None
