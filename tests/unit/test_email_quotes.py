"""A reply's new text apart from its history and signature, and HTML bodies as readable text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.html import content_ids, sanitised, to_text
from channels.email.quotes import Line, Stripped, classify, strip

ATTRIBUTIONS = {
    "gmail-en": "On Mon, Dec 1, 2026 at 10:00 AM Support <support@gosuslugi.example> wrote:",
    "thunderbird-en": "On 01.12.2026 10:00, Support wrote:",
    "apple-en": "On Dec 1, 2026, at 10:00, Support <support@gosuslugi.example> wrote:",
    "thunderbird-ru": "01.12.2026 10:00, Служба поддержки пишет:",
    "gmail-ru": "пн, 1 дек. 2026 г. в 10:00, Служба поддержки <support@gosuslugi.example>:",
    "apple-ru": "1 дек. 2026 г., в 10:00, Служба поддержки <support@gosuslugi.example> написал(а):",
    "yandex": '01.12.2026, 10:00, "Служба поддержки" <support@gosuslugi.example>:',
    "mailru": "Понедельник, 1 декабря 2026, 10:00 +03:00 от Служба поддержки "
    "<support@gosuslugi.example>:",
}
FORWARDS = [
    "---------- Forwarded message ---------",
    "-------- Пересылаемое сообщение --------",
    "-------- Перенаправленное сообщение --------",
    "Begin forwarded message:",
    "Начало переадресованного сообщения:",
]
SEPARATORS = ["-----Original Message-----", "----- Исходное сообщение -----", *FORWARDS]
FOOTERS = [
    "Sent from my iPhone",
    "Sent from my Galaxy",
    "Get Outlook for Android",
    "Отправлено с iPhone",
    "Отправлено с моего Samsung Galaxy",
    "Отправлено из мобильной Почты Mail.ru",
    "Отправлено из приложения Яндекс Почта",
]
NEW = "Добрый день!\nКод так и не пришёл."


@pytest.mark.parametrize("client", sorted(ATTRIBUTIONS))
def test_each_clients_attribution_starts_the_history(client: str) -> None:
    text = f"{NEW}\n\n{ATTRIBUTIONS[client]}\n> Ваше обращение принято.\n> Номер 2600000128."
    assert strip(text) == Stripped(
        NEW, f"{ATTRIBUTIONS[client]}\n> Ваше обращение принято.\n> Номер 2600000128.", ""
    )


@pytest.mark.parametrize("separator", SEPARATORS)
def test_unquoted_history_under_a_separator_runs_to_the_end(separator: str) -> None:
    history = f"{separator}\nFrom: Support\n\nВаше обращение принято.\nСпасибо."
    assert strip(f"{NEW}\n\n{history}") == Stripped(NEW, history, "")


@pytest.mark.parametrize(
    "block",
    [
        "От: Служба поддержки <support@gosuslugi.example>\nОтправлено: 1 декабря 2026 г. 10:00\n"
        "Кому: Иван\nТема: Обращение",
        "From: Support <support@gosuslugi.example>\nSent: Monday, December 1, 2026 10:00 AM\n"
        "To: Ivan\nSubject: Request",
        "*From:* Support\n*Sent:* Monday\n*To:* Ivan",
        "От: Служба поддержки\nДата: 1 декабря 2026\nТема: Обращение",
    ],
)
def test_outlooks_header_block_starts_the_history(block: str) -> None:
    text = f"{NEW}\n\n________________________________\n{block}\n\nВаше обращение принято."
    stripped = strip(text)
    assert stripped.new == NEW
    assert stripped.history.startswith("________________________________\n")


def test_an_attribution_without_a_date_is_the_citizens_own() -> None:
    text = "Сотрудник МФЦ мне пишет:\nприходите завтра с паспортом.\nНо завтра выходной."
    assert strip(text).new == text


def test_a_from_line_alone_is_the_citizens_own() -> None:
    """«От: ...» without a date and another field under it is no header block."""
    text = "Прошу помочь.\nОт: Иванова Мария, кв. 12\nДом 5"
    assert strip(text).new == text


@pytest.mark.parametrize("footer", FOOTERS)
def test_a_clients_footer_at_the_end_is_not_the_citizens_text(footer: str) -> None:
    assert strip(f"{NEW}\n\n{footer}") == Stripped(NEW, "", footer)


def test_a_footer_like_sentence_in_the_middle_is_kept() -> None:
    text = "Заявление отправлено с опозданием.\nОтправлено с iPhone\nПрошу принять его."
    assert strip(text).new == text


def test_signature_after_the_delimiter() -> None:
    text = f"{NEW}\n-- \nИван Петров\n+7 916 123-45-67"
    assert strip(text) == Stripped(NEW, "", "-- \nИван Петров\n+7 916 123-45-67")


def test_a_list_with_dashes_is_no_signature() -> None:
    """mail-parser-reply would cut here: "- word" lines are a citizen's list."""
    text = "Не работает:\n- вход\n- оплата\n--- итого две ошибки"
    assert strip(text).new == text


def test_bottom_posted_answers_between_quotes_are_kept() -> None:
    text = (
        "On 01.12.2026 11:00, Support wrote:\n> Which region?\n\nMoscow.\n\n"
        "> Do you need a photo?\n\nNo."
    )
    stripped = strip(text)
    assert stripped.new == "Moscow.\n\nNo."
    assert "> Which region?" in stripped.history and "> Do you need a photo?" in stripped.history


def test_an_attribution_wrapped_over_two_lines_is_one() -> None:
    text = (
        "Thanks.\n\nOn Mon, Dec 1, 2026 at 10:00 AM Citizen Support Centre <\n"
        "support@gosuslugi.example> wrote:\n\n> Approved."
    )
    assert classify(text.split("\n"))[2:4] == [Line.ATTRIBUTION, Line.ATTRIBUTION]
    assert strip(text).new == "Thanks."


def test_attribution_over_unquoted_text_is_html_quoting_turned_to_text() -> None:
    text = f"{NEW}\n\n{ATTRIBUTIONS['gmail-ru']}\nВаше обращение принято.\n\nСпасибо."
    assert strip(text).new == NEW


@pytest.mark.parametrize(
    ("text", "quoted_only"),
    [
        ("> только цитата\n> и ничего больше", True),
        ("---------- Forwarded message ---------\nОт: Ведомство\n\nОтказ.", False),
        ("-- \nИван Петров", False),
        ("Sent from my iPhone", False),
    ],
)
def test_never_stripped_to_nothing(text: str, quoted_only: bool) -> None:
    assert strip(text) == Stripped(text, "", "", quoted_only=quoted_only)


QUOTE = "> Ваше обращение принято.\n> Номер 2600000128."


@pytest.mark.parametrize(
    "text",
    [
        QUOTE,
        *(f"{attribution}\n{QUOTE}" for attribution in ATTRIBUTIONS.values()),
        # HTML quoting turned into text: the attribution over the quote's unquoted lines.
        f"{ATTRIBUTIONS['gmail-ru']}\n\nВаше обращение принято.",
        "-----Original Message-----\nFrom: Support\n\nВаше обращение принято.",
        "________________________________\nОт: Служба поддержки <support@gosuslugi.example>\n"
        "Отправлено: 1 декабря 2026 г. 10:00\nТема: Обращение\n\nВаше обращение принято.",
        # Nothing typed but what the client or the citizen's settings put there.
        f"Sent from my iPhone\n\n{ATTRIBUTIONS['apple-ru']}\n{QUOTE}",
        f"-- \nИван Петров\n\n{ATTRIBUTIONS['thunderbird-ru']}\n{QUOTE}",
    ],
)
def test_a_reply_that_only_quotes_is_kept_whole_and_marked(text: str) -> None:
    """The citizen typed nothing: the text is the quote, and says so (the subject may ask)."""
    assert strip(text) == Stripped(text, "", "", quoted_only=True)


@pytest.mark.parametrize("separator", FORWARDS)
def test_a_forward_with_no_comment_is_the_letter_forwarded(separator: str) -> None:
    text = f"{separator}\nОт: Ведомство\n\nВ приёме заявления отказано."
    assert strip(text) == Stripped(text, "", "", quoted_only=False)
    assert strip(f"-- \nИван Петров\n\n{text}").quoted_only is False


def test_a_reply_with_words_of_its_own_is_not_marked() -> None:
    assert strip(f"{NEW}\n\n{ATTRIBUTIONS['yandex']}\n{QUOTE}").quoted_only is False
    assert strip(NEW).quoted_only is False


@settings(max_examples=300)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400))
def test_any_text_keeps_words_and_loses_none(text: str) -> None:
    stripped = strip(text)
    if text.strip():
        assert stripped.new
    kept = [line for part in stripped[:3] for line in part.split("\n") if part]
    # A part is stripped as a whole: its first line may lose the white space before it and
    # its last the white space after (" 0\x85\n0" keeps "0\x85").
    cuts = {cut for line in text.split("\n") for cut in (line, line.lstrip(), line.rstrip())}
    assert set(kept) <= cuts | {line.strip() for line in text.split("\n")}


# --- HTML


OUTLOOK = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv=Content-Type content="text/html; charset=utf-8"><style><!--
p.MsoNormal {margin:0cm; font-family:"Calibri",sans-serif;}--></style>
<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head><body lang=RU link="#0563C1"><div class=WordSection1>
<p class=MsoNormal>Добрый день!<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>См. <a href="https://www.gosuslugi.example/help">инструкцию</a>
и пишите на <a href="mailto:help@gosuslugi.example">help@gosuslugi.example</a>.<o:p></o:p></p>
<table class=MsoTableGrid><tr><td><p class=MsoNormal>СНИЛС<o:p></o:p></p></td>
<td><p class=MsoNormal>112-233-445 95<o:p></o:p></p></td></tr></table>
<ul><li>первое</li><li>второе</li></ul>
</div></body></html>"""


def test_outlook_word_html_reads_as_text_with_links() -> None:
    assert to_text(OUTLOOK) == (
        "Добрый день!\n\nСм. инструкцию (https://www.gosuslugi.example/help) и пишите на "
        "help@gosuslugi.example.\n\nСНИЛС  112-233-445 95\n\n\n  * первое\n  * второе"
    )


def test_sanitised_html_keeps_content_and_drops_what_runs() -> None:
    html = (
        '<p onclick="x()" style="color:red">Текст <a href="javascript:alert(1)">a</a> '
        '<a href="https://ok.example/">b</a><img src="cid:logo@x"><img src="https://t.example/p">'
        "</p><script>alert(1)</script><style>p{}</style><iframe src=x></iframe>"
        "<form action=https://evil.example><input name=p></form>"
    )
    clean = sanitised(html)
    for hostile in ("onclick", "javascript:", "<script", "alert", "<style", "<iframe", "<form"):
        assert hostile not in clean
    assert 'href="https://ok.example/"' in clean
    assert 'src="cid:logo@x"' in clean
    assert "Текст" in clean


def test_content_ids_the_html_shows() -> None:
    html = (
        "<img src=\"cid:Image001.PNG@01DB\"><img src='cid:b@x'>"
        '<div style="background:url(cid:c@y)">'
    )
    assert content_ids(html) == {"image001.png@01db", "b@x", "c@y"}


@pytest.mark.parametrize("html", ["", "   ", "<!-- nothing -->", "\x00\x01", "<html></html>"])
def test_empty_html_is_empty_text(html: str) -> None:
    assert to_text(html) == ""


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_html_reads_without_raising(html: str) -> None:
    assert isinstance(to_text(html), str)
    assert "<script" not in sanitised(html).lower()
