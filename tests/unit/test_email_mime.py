"""MIME to a readable message: the corpus of real clients' mail, broken mail, a 10 MB scan, and
random or mutated MIME that must never raise."""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import hashlib
import os
import random
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.email.headers import Address
from channels.email.mime import (
    MAX_ATTACHED_DEPTH,
    MAX_FILENAME_BYTES,
    Mail,
    read,
    safe_filename,
    unflowed,
)
from tests.email_corpus import CORPUS, MALFORMED_HEADERS, raw_with_header

SUPPORT = "support@gosuslugi.example"


@dataclass(frozen=True)
class Expected:
    """What a person reading the message would say it contains."""

    subject: str
    sender: str | None
    text: str
    quoted_from: str = ""  # the first line of the stripped history
    signature: str = ""
    # (filename, content type, inline, index of the attachment it came out of)
    attachments: list[tuple[str, str, bool, int | None]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    text_goes_on: bool = False  # `text` is how a long text begins


CASES: dict[str, Expected] = {
    "outlook-html-ru.eml": Expected(
        "RE: [№2600000128] Ваше обращение принято",
        "ivan.petrov@citizen.example",
        "Добрый день!\n\nКод из СМС так и не пришёл, вход в личный кабинет по-прежнему "
        "невозможен.\nТелефон: +7 916 123-45-67.\n\nС уважением,\nИван Петров",
        quoted_from="________________________________",
        attachments=[("image001.png", "image/png", True, None)],
    ),
    "outlook-original-message-en.eml": Expected(
        "RE: [#2600000128] Your request has been registered",
        "john.smith@contoso.example",
        'Hello,\n\nI still cannot log in to my account. The error says "account blocked".\n\nJohn',
        quoted_from="-----Original Message-----",
    ),
    "thunderbird-ru.eml": Expected(
        "Re: [№2600000131] Изменение персональных данных",
        "maria.sidorova@citizen.example",
        "Здравствуйте. Прикладываю номер СНИЛС: 112-233-445 95. Прошу исправить дату рождения "
        "в профиле, там указано 01.01.1980 вместо 01.10.1980.",
        quoted_from="01.12.2026 10:00, Служба поддержки пишет:",
        signature="--\nМария Сидорова",
    ),
    "thunderbird-bottom-post-en.eml": Expected(
        "Re: Driving licence renewal",
        "anna.meyer@citizen.example",
        "Moscow region. The scan is on its way in a separate email.\n\n"
        "No, the photo is from last year.",
        quoted_from="On 01.12.2026 11:00, Support wrote:",
    ),
    "gmail-ru.eml": Expected(
        "Re: [№2600000139] Статус обращения: Отклонено",
        "oleg.kuznetsov@gmail.example",
        "Добрый день!\n\nЗаявление на субсидию (код 04) отклонено, причина не указана. Прошу\n"
        "разъяснить.",
        quoted_from="пн, 1 дек. 2026 г. в 10:00, Служба поддержки <support@gosuslugi.example>:",
    ),
    "gmail-en.eml": Expected(
        "Re: Passport application status",
        "peter.brown@gmail.example",
        "Thank you. When can I pick up the passport?",
        quoted_from="On Mon, Dec 1, 2026 at 10:00 AM Citizen Support Centre <",
    ),
    "apple-mail-iphone-ru.eml": Expected(
        "Re: Запись к врачу",
        "elena.smirnova@icloud.example",
        "Здравствуйте, не могу записаться к врачу через портал, выдаёт ошибку 500.",
        quoted_from="> 1 дек. 2026 г., в 10:00, Служба поддержки <support@gosuslugi.example> "
        "написал(а):",
        signature="Отправлено с iPhone",
    ),
    "iphone-photo-en.eml": Expected(
        "Photo of my ID",
        "sam.green@icloud.example",
        "Here is the photo you asked for.",
        quoted_from="> On Dec 1, 2026, at 10:00 AM, Support <support@gosuslugi.example> wrote:",
        signature="Sent from my iPhone",
        # Apple Mail marks a photo "inline" but the HTML shows none: it is the citizen's file.
        attachments=[("IMG_4821.jpeg", "image/jpeg", False, None)],
    ),
    "yandex-ru.eml": Expected(
        "Re: Запись на приём",
        "a.volkov@yandex.example",
        "Добрый день.\nПрошу отменить запись на 05.12.2026, код заявления 02.",
        quoted_from='01.12.2026, 10:00, "Служба поддержки" <support@gosuslugi.example>:',
        signature="--\nОтправлено из мобильного приложения Яндекс Почты",
    ),
    "mailru-ru.eml": Expected(
        "Re: Блокировка учётной записи",
        "s.ivanov@mail.example",
        "Здравствуйте!\nМне заблокировали учётную запись после трёх попыток входа. "
        "Прошу разблокировать.",
        quoted_from="Понедельник, 1 декабря 2026, 10:00 +03:00 от Служба поддержки "
        "<support@gosuslugi.example>:",
        signature="--\nСергей Иванов",
    ),
    "charset-koi8r.eml": Expected(
        "[01] Справка",
        "p.orlov@citizen.example",
        "Здравствуйте!\nПрошу выдать справку об отсутствии судимости.",
    ),
    "charset-cp1251-labelled-koi8r.eml": Expected(
        "Не могу войти",
        "petrova@citizen.example",
        "Добрый день, не могу войти в личный кабинет, пишет что пароль неверный.",
        defects=["part 1: declared koi8-r, read as windows-1251"],
    ),
    "charset-missing-8bit.eml": Expected(
        "Не приходит код",
        "nikolay@citizen.example",
        "ПОМОГИТЕ! Не приходит код подтверждения на телефон.",
    ),
    "charset-iso-8859-5.eml": Expected(
        "Обращение", "citizen@citizen.example", "Прошу продлить срок подачи документов."
    ),
    "charset-cp866.eml": Expected(
        "Обращение", "citizen@citizen.example", "Прошу сообщить статус заявления о пособии."
    ),
    "charset-maccyrillic.eml": Expected(
        "Обращение",
        "citizen@citizen.example",
        "Вышлите, пожалуйста, квитанцию об оплате госпошлины.",
        # Python knows the code page as mac-cyrillic, not by the IANA alias x-mac-cyrillic.
        defects=["part 1: unknown charset label"],
    ),
    "html-only-hostile.eml": Expected(
        "Жалоба на МФЦ",
        "t.lebedeva@citizen.example",
        "Жалоба\n\nСотрудник МФЦ отказался принять документы.\n\nПодробности по ссылке "
        "(https://mfc.example/complaint?id=7), фото: тут\n\nДата       28.11.2026\n"
        "Отделение  № 12",
    ),
    "forwarded-ru.eml": Expected(
        "Fwd: Отказ в приёме заявления",
        "irina.kotova@gmail.example",
        "Пересылаю ответ ведомства, прошу разобраться.",
        quoted_from="---------- Forwarded message ---------",
    ),
    "attached-message.eml": Expected(
        "Решение ведомства во вложении",
        "irina.kotova@gmail.example",
        "Письмо ведомства во вложении, прошу проверить решение.",
        attachments=[
            ("Решение по заявлению.eml", "message/rfc822", False, None),
            ("reshenie.pdf", "application/pdf", False, 0),
        ],
    ),
    "rfc2231-filenames.eml": Expected(
        "Документы для справки",
        "olga.belova@citizen.example",
        "Документы во вложении.",
        attachments=[
            (
                "Заявление о выдаче справки об отсутствии судимости для трудоустройства"
                " в школу.pdf",
                "application/pdf",
                False,
                None,
            ),
            ("Скан паспорта.jpg", "image/jpeg", False, None),
            ("evil.exe", "application/octet-stream", False, None),
        ],
    ),
    "inline-image.eml": Expected(
        "Ошибка на портале",
        "d.sokolov@citizen.example",
        "При оплате пошлины портал показывает ошибку:",
        attachments=[
            ("attachment.png", "image/png", True, None),
            ("receipt.png", "image/png", False, None),
        ],
    ),
    "tnef-winmail.eml": Expected(
        "Documents",
        "a.kozlov@corp.example",
        "Please find the files attached.",
        attachments=[
            ("winmail.dat", "application/ms-tnef", False, None),
            ("AUTHORS", "application/octet-stream", False, 0),
            ("README", "application/octet-stream", False, 0),
        ],
    ),
    "tnef-body-only.eml": Expected(
        "Bill of Rights",
        "a.kozlov@corp.example",
        # Outlook sent its rich text only inside winmail.dat, as HTML.
        "THE BILL OF RIGHTS\nAmendments 1-10 of the Constitution\nThe Conventions of a number",
        attachments=[("winmail.dat", "application/ms-tnef", False, None)],
        text_goes_on=True,
    ),
    "broken-truncated.eml": Expected(
        "Truncated",
        "broken@citizen.example",
        "Текст письма дошёл целиком.",
        attachments=[("scan.pdf", "application/pdf", False, None)],
        defects=["part 1.2: invalid base64 padding", "part 1: close boundary not found"],
    ),
    "broken-base64.eml": Expected(
        "Bad base64",
        "broken@citizen.example",
        "Прошу помочь с входом.",
        attachments=[("photo.jpg", "image/jpeg", False, None)],
        defects=[
            "part 1.1: invalid base64 characters",
            "part 1.1: invalid base64 padding",
            "part 1.2: invalid base64 characters",
            "part 1.2: invalid base64 padding",
        ],
    ),
    "broken-headers-nul.eml": Expected(
        # An encoded-word that does not decode is shown as it came, not lost.
        "=?utf-8?B?not-base64?= =?unknown-charset?Q?abc?=",
        None,
        # The header ends at the line without a colon; the rest is the body, NULs dropped.
        "this line has no colon at all\nContent-Type: text/plain; charset=utf-8\n\n"
        "Текст с NUL байтами внутри.",
        defects=[
            "no sender address in From",
            "unreadable Date",
            "part 1: missing header body separator",
        ],
    ),
}


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_every_corpus_file_has_its_expectations() -> None:
    """A message added to the corpus without expectations would be tested for nothing."""
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_message_reads_as_its_reader_would(name: str) -> None:
    expected = CASES[name]
    mail = read(corpus(name))
    assert mail.subject == expected.subject
    assert mail.from_address == expected.sender
    if expected.text_goes_on:
        assert mail.text.startswith(expected.text)
    else:
        assert mail.text == expected.text
    assert mail.quoted.split("\n")[0] == expected.quoted_from
    assert mail.signature == expected.signature
    assert [(a.filename, a.content_type, a.inline, a.within) for a in mail.attachments] == (
        expected.attachments
    )
    assert mail.defects == expected.defects
    # What was stripped is still there for an operator, line for line.
    for piece in filter(None, (mail.text, mail.quoted, mail.signature)):
        assert set(piece.split("\n")) <= set(mail.full_text.split("\n"))


def test_outlook_reply_threads_and_names_its_people() -> None:
    mail = read(corpus("outlook-html-ru.eml"))
    assert mail.message_id == (
        "<AM0PR07MB4531C2B7D0E1F2A3B4C5D6E7F8@AM0PR07MB4531.eurprd07.prod.outlook.com>"
    )
    assert mail.in_reply_to == "<20261201100000.2600000128.confirm@gosuslugi.example>"
    assert mail.references == ["<20261201100000.2600000128.confirm@gosuslugi.example>"]
    # The display names are windows-1251 and KOI8-R encoded-words.
    assert mail.from_display == "Иван Петров"
    assert [(a.address, a.display_name) for a in mail.to] == [(SUPPORT, "Служба поддержки")]
    assert mail.date == "2026-12-01T07:14:51+00:00"
    assert mail.headers("x-mailer") == ["Microsoft Outlook 16.0"]


def test_references_keep_their_order_oldest_first() -> None:
    mail = read(corpus("thunderbird-ru.eml"))
    assert mail.references == [
        "<20261201090000.2600000131.confirm@gosuslugi.example>",
        "<20261201100000.2600000131.reply@gosuslugi.example>",
    ]
    assert mail.in_reply_to == mail.references[-1]
    assert mail.date == "2026-12-01T12:31:07+03:00"


def test_outlook_html_is_sanitised_and_keeps_its_inline_logo() -> None:
    mail = read(corpus("outlook-html-ru.eml"))
    assert mail.html is not None
    assert "<style" not in mail.html and "mso" not in mail.html.lower()
    assert 'href="https://www.gosuslugi.example/lk"' in mail.html
    assert 'src="cid:image001.png@01DB63A1.5E3C2F10"' in mail.html
    (logo,) = mail.attachments
    assert logo.content_id == "image001.png@01DB63A1.5E3C2F10"
    assert logo.content.startswith(b"\x89PNG")


def test_hostile_html_loses_scripts_handlers_and_trackers() -> None:
    mail = read(corpus("html-only-hostile.eml"))
    assert mail.html is not None
    for hostile in ("<script", "alert", "onload", "onclick", "onerror", "<iframe", "javascript:"):
        assert hostile not in mail.html
    assert "display:none" not in mail.html
    assert "<title>" not in mail.html and not mail.html.startswith("x")
    assert "(javascript:" not in mail.text


def test_attached_message_is_kept_whole_and_its_file_listed_under_it() -> None:
    mail = read(corpus("attached-message.eml"))
    message, pdf = mail.attachments
    inner = read(message.content)
    assert inner.subject == "Решение по заявлению"
    assert inner.from_address == "noreply@vedomstvo.example"
    assert inner.text == "Решение во вложении."
    assert [a.content for a in inner.attachments] == [pdf.content]
    assert pdf.content.startswith(b"%PDF-1.4")


def test_tnef_files_come_out_whole() -> None:
    mail = read(corpus("tnef-winmail.eml"))
    _, authors, readme = mail.attachments
    assert (len(authors.content), len(readme.content)) == (244, 893)
    assert readme.content.isascii()


def test_nested_attached_messages_stop_at_the_bound() -> None:
    message = read_nested(depth=8)
    # Each level is listed as an attached message under the previous one, up to the bound.
    kinds = [(a.content_type, a.within) for a in message.attachments]
    assert kinds[0] == ("message/rfc822", None)
    assert all(within == i for i, (_, within) in enumerate(kinds[1:]))
    # Levels read down to the bound, then one attached message holding the rest whole.
    assert len(kinds) == MAX_ATTACHED_DEPTH + 1
    assert b"level 8" in message.attachments[-1].content


def read_nested(depth: int) -> Mail:
    inner = EmailMessage()
    inner["Subject"] = f"level {depth}"
    inner["From"] = "a@example.org"
    inner.set_content(f"level {depth}")
    for level in range(depth - 1, -1, -1):
        outer = EmailMessage()
        outer["Subject"] = f"level {level}"
        outer["From"] = "a@example.org"
        outer.set_content(f"level {level}")
        outer.add_attachment(inner)
        inner = outer
    return read(inner.as_bytes())


def test_a_10_mb_scan_comes_through_byte_for_byte() -> None:
    scan = b"%PDF-1.7\n" + os.urandom(10 * 1024 * 1024) + b"\n%%EOF"
    message = EmailMessage()
    message["From"] = "Иван Петров <ivan@citizen.example>"
    message["To"] = SUPPORT
    message["Subject"] = "Скан заявления"
    message.set_content("Добрый день, скан заявления во вложении.")
    message.add_attachment(scan, maintype="application", subtype="pdf", filename="скан.pdf")
    mail = read(message.as_bytes())
    assert mail.text == "Добрый день, скан заявления во вложении."
    (attachment,) = mail.attachments
    assert attachment.filename == "скан.pdf"
    assert hashlib.sha256(attachment.content).digest() == hashlib.sha256(scan).digest()
    assert mail.defects == []


def test_over_max_size_only_the_header_is_read() -> None:
    raw = corpus("attached-message.eml")
    mail = read(raw, max_size=500)
    assert mail.subject == "Решение ведомства во вложении"
    assert mail.from_address == "irina.kotova@gmail.example"
    assert (mail.text, mail.attachments) == ("", [])
    assert mail.defects == [f"message of {len(raw)} bytes is over the limit of 500: header only"]


def test_headers_are_decoded_in_order_top_to_bottom() -> None:
    raw = (
        b"Received: by b.example; Mon, 1 Dec 2026 10:00:02 +0300\r\n"
        b"Received: by a.example; Mon, 1 Dec 2026 10:00:01 +0300\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"Precedence: bulk\r\n"
        b"List-Id: =?utf-8?B?0KDQsNGB0YHRi9C70LrQsA==?= <news.example.org>\r\n"
        b"X-Loop: support@gosuslugi.example\r\n"
        b"Authentication-Results: mx.gosuslugi.example;\r\n dkim=pass header.d=citizen.example\r\n"
        b"Return-Path: <bounce@citizen.example>\r\n"
        b"From: a@citizen.example\r\n\r\nbody\r\n"
    )
    mail = read(raw)
    assert mail.headers("received") == [
        "by b.example; Mon, 1 Dec 2026 10:00:02 +0300",
        "by a.example; Mon, 1 Dec 2026 10:00:01 +0300",
    ]
    assert mail.headers("AUTO-SUBMITTED") == ["auto-replied"]
    assert mail.headers("list-id") == ["Рассылка <news.example.org>"]
    assert mail.headers("authentication-results") == [
        "mx.gosuslugi.example; dkim=pass header.d=citizen.example"
    ]
    assert mail.headers("return-path") == ["<bounce@citizen.example>"]
    assert mail.headers("x-absent") == []


def test_raw_8bit_display_name_and_wrongly_labelled_encoded_word() -> None:
    name = "Пётр Сергеевич".encode("cp1251")
    label_koi8_bytes_cp1251 = "Справка о доходах".encode("cp1251").hex()
    subject = "=?koi8-r?Q?" + "".join(
        f"={label_koi8_bytes_cp1251[i : i + 2].upper()}"
        for i in range(0, len(label_koi8_bytes_cp1251), 2)
    )
    raw = (
        b"From: " + name + b" <Petr@Citizen.Example>\r\nSubject: " + subject.encode() + b"?=\r\n"
        b"\r\nbody\r\n"
    )
    mail = read(raw)
    assert (mail.from_display, mail.from_address) == ("Пётр Сергеевич", "petr@citizen.example")
    assert mail.subject == "Справка о доходах"


def test_a_comma_inside_an_encoded_display_name_stays_in_the_name() -> None:
    raw = (
        b"From: =?utf-8?B?" + base64.b64encode("Иванов, Иван".encode()) + b"?= <ivan@x.example>\r\n"
        b"To: =?utf-8?B?" + base64.b64encode("Отдел, приёмная".encode()) + b"?= <a@gov.example>,"
        b" b@gov.example\r\n\r\nbody\r\n"
    )
    mail = read(raw)
    assert (mail.from_display, mail.from_address) == ("Иванов, Иван", "ivan@x.example")
    assert mail.to == [Address("a@gov.example", "Отдел, приёмная"), Address("b@gov.example")]


@pytest.mark.parametrize("line", MALFORMED_HEADERS)
def test_header_fields_the_stdlib_raises_on_are_read_as_text(line: str) -> None:
    """Fields whose stdlib header classes raise (or are merely broken) cost nothing else."""
    name = line.split(":")[0]
    mail = read(raw_with_header(line))
    assert mail.text == "Здравствуйте!"
    assert not any("unreadable" in defect for defect in mail.defects)
    assert len(mail.headers(name)) == 1  # kept, as text
    if name != "Subject":
        assert mail.subject == "Справка"


def test_format_flowed_joins_soft_breaks_but_not_the_signature_delimiter() -> None:
    text = "Первая строка \nпродолжение.\n-- \nПодпись\n> цитата \n> дальше\n"
    assert unflowed(text, delsp=False) == (
        "Первая строка продолжение.\n-- \nПодпись\n> цитата дальше\n"
    )
    assert unflowed("слово-\nперенос", delsp=True) == "слово-\nперенос"
    assert unflowed("abc \ndef", delsp=True) == "abcdef"


@pytest.mark.parametrize(
    ("name", "content_type", "safe"),
    [
        ("../../etc/passwd", None, "passwd"),
        ("C:\\Users\\x\\evil.exe", None, "evil.exe"),
        (".htaccess", None, "htaccess"),
        ("a\x00b\x1fc<d>:e.pdf", None, "a_b_c_d__e.pdf"),
        ("", "application/pdf", "attachment.pdf"),
        (None, "image/png", "attachment.png"),
        ("   ", None, "attachment.bin"),
        ("я" * 300 + ".pdf", None, "я" * 125 + ".pdf"),
    ],
)
def test_filenames_are_safe_to_save(name: str | None, content_type: str | None, safe: str) -> None:
    assert safe_filename(name, content_type) == safe
    assert len(safe.encode()) <= MAX_FILENAME_BYTES


# --- properties: nothing a peer sends makes read() raise; what the stdlib can read comes through


@settings(max_examples=300)
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\x00" * 64)
@example(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--")
@example(b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n")
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(read(raw), Mail)


MIME_SYNTAX = [b"\r\n--", b"=?", b"?=", b"\r\n\r\n", b";", b'"', b"\x00", b"\r\n "]


@settings(max_examples=200)
@given(
    name=st.sampled_from(sorted(CASES)),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    edits=st.integers(min_value=1, max_value=20),
)
def test_mutated_corpus_never_raises(name: str, seed: int, edits: int) -> None:
    data = bytearray(corpus(name))
    rng = random.Random(seed)
    for _ in range(edits):
        at = rng.randrange(len(data) + 1)
        match rng.randrange(4):
            case 0:  # flip a byte
                if at < len(data):
                    data[at] = rng.randrange(256)
            case 1:  # cut the message short
                del data[at:]
            case 2:  # insert MIME syntax where it does not belong
                data[at:at] = rng.choice(MIME_SYNTAX)
            case _:  # drop a stretch
                del data[at : at + rng.randrange(1, 200)]
        if not data:
            break
    assert isinstance(read(bytes(data)), Mail)


def test_deeply_nested_multiparts_are_bounded_not_fatal() -> None:
    depth = 3000
    raw = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    mail = read(b"From: a@citizen.example\r\n" + raw + b"Content-Type: text/plain\r\n\r\nhi\r\n")
    assert mail.from_address == "a@citizen.example"
    assert any("nested" in defect for defect in mail.defects)


LETTERS = st.characters(
    codec="utf-8", categories=("L", "N", "Zs", "P"), exclude_characters="\u2028\u2029"
)
WORDS = st.text(LETTERS, min_size=1, max_size=30).map(str.strip).filter(bool)


@settings(max_examples=100)
@given(
    subject=st.lists(WORDS, min_size=1, max_size=6).map(" ".join),
    lines=st.lists(WORDS, min_size=1, max_size=8),
    files=st.lists(
        st.tuples(st.text(LETTERS, min_size=1, max_size=40), st.binary(max_size=300)),
        max_size=3,
    ),
)
def test_what_the_stdlib_writes_comes_through(
    subject: str, lines: list[str], files: list[tuple[str, bytes]]
) -> None:
    # A line that looks like quoting or an attribution would rightly be stripped from `text`;
    # `full_text` is compared, which keeps everything.
    message = EmailMessage()
    message["From"] = "Гражданин <citizen@example.org>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message.set_content("\n".join(lines))
    for name, content in files:
        message.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=name
        )
    raw = message.as_bytes()
    mail = read(raw)
    # The oracle is the standard library reading what it wrote (its writer can drop a space
    # between two encoded-words, which its reader and every other reader then lose too).
    stdlib = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(stdlib, email.message.EmailMessage)
    assert mail.subject == str(stdlib["subject"])
    assert mail.full_text == "\n".join(line.rstrip() for line in lines).strip("\n")
    assert [(a.filename, a.content) for a in mail.attachments] == [
        (safe_filename(part.get_filename(), "application/octet-stream"), part.get_content())
        for part in stdlib.iter_attachments()
    ]
    assert [a.content for a in mail.attachments] == [content for _, content in files]
    assert mail.text  # never stripped to nothing


@settings(max_examples=1000)
@given(st.text(alphabet="AZaz09+/=\r\n \t*", max_size=80))
def test_base64_reads_as_the_standard_decoder_reads_it(body: str) -> None:
    """Clean base64 is decoded straight from the parser's text (bench/mime.py): the same bytes
    and the same defects as the standard decoder's road, whatever the body."""
    raw = (
        "From: a@citizen.example\r\nContent-Type: application/octet-stream; name=scan.bin\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}"
    ).encode()
    stdlib = email.message_from_bytes(raw, policy=email.policy.default)
    content = stdlib.get_payload(decode=True)
    mail = read(raw)
    assert [a.content for a in mail.attachments] == [content]
    assert len(mail.defects) == len(stdlib.defects)
