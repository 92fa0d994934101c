"""Loop protection: mail that gets no automatic reply, out-of-office replies, our own
outbound."""

from __future__ import annotations

import pytest

from channels.email.loops import (
    NOTICE_HEADER,
    auto_reply_forbidden,
    is_out_of_office,
    mail_system_address,
    notice_message_id,
)
from tests.email_corpus import MALFORMED_HEADERS, corpus_message, corpus_names, parse, with_header

OURS = ("support@gov.example", "priem@gov.example")

# Each file of tests/corpus/email/autoreplies: a word the reason must name (None: a reply is
# allowed), and whether it is an out-of-office reply.
AUTOREPLIES = {
    "bulk-newsletter.eml": ("Precedence", False),
    "exchange-ooo-ru.eml": ("X-Auto-Response-Suppress", True),
    "gmail-vacation.eml": ("Auto-Submitted", True),
    "mailing-list.eml": ("Precedence: list", False),
    "mailru-autoreply.eml": ("Precedence: junk", True),
    "near-miss-citizen-on-vacation.eml": (None, False),
    "near-miss-complains-of-autoreply.eml": (None, False),
    "noreply-sender.eml": ("no-reply", False),
    "null-return-path.eml": ("null return path", False),
    "ordinary-citizen.eml": (None, False),
    "our-own-notice.eml": ("Auto-Submitted", False),
    "outlook-ooo-en.eml": ("Auto-Submitted: auto-generated", True),
    "x-loop-ours.eml": ("X-Loop", False),
    "yandex-autoreply.eml": ("Auto-Submitted: auto-replied", True),
}


def test_the_table_covers_the_corpus() -> None:
    assert sorted(AUTOREPLIES) == corpus_names("autoreplies")


@pytest.mark.parametrize(("name", "expected"), sorted(AUTOREPLIES.items()))
def test_the_corpus(name: str, expected: tuple[str | None, bool]) -> None:
    reason_word, out_of_office = expected
    message = corpus_message("autoreplies", name)
    reason = auto_reply_forbidden(message, our_addresses=OURS)
    if reason_word is None:
        assert reason is None
    else:
        assert reason is not None and reason_word.lower() in reason.lower()
    assert is_out_of_office(message) is out_of_office


@pytest.mark.parametrize("name", corpus_names("bounces"))
def test_bounces_are_no_one_s_absence(name: str) -> None:
    # Bounces mark themselves auto-replied or come from a mail system: never answered, and
    # never taken for an out-of-office reply.
    message = corpus_message("bounces", name)
    if name.startswith("near-miss"):
        return
    assert auto_reply_forbidden(message, our_addresses=OURS) is not None
    assert not is_out_of_office(message)


def mail(headers: str, body: str = "Здравствуйте! Прошу выдать справку.\n") -> str:
    return (
        "From: Ivan Petrov <i.petrov@example.org>\nTo: support@gov.example\n"
        f"Subject: Справка\nMessage-ID: <abc@example.org>\n{headers}"
        "Content-Type: text/plain; charset=utf-8\n\n" + body
    )


@pytest.mark.parametrize(
    ("headers", "word"),
    [
        ("Auto-Submitted: auto-notified\n", "auto-notified"),
        ("Auto-Submitted: Auto-Generated; owner-email=x@example.org\n", "auto-generated"),
        ("Precedence: JUNK\n", "junk"),
        ("List-Unsubscribe: <mailto:leave@example.org>\n", "List-Unsubscribe"),
        ("List-Id: <news.example.org>\n", "List-Id"),
        ("X-Loop: priem@gov.example\n", "X-Loop"),
        ("X-Auto-Response-Suppress: DR, AutoReply\n", "X-Auto-Response-Suppress"),
        ("X-MS-Exchange-Inbox-Rules-Loop: x@corp.example\n", "inbox rule"),
        ("Return-Path: <>\n", "null return path"),
        ("Return-Path: <MAILER-DAEMON@mx.example.org>\n", "return path"),
        ("Return-Path: <owner-news@lists.example.org>\n", "return path"),
        ("Return-Path: <news-request@lists.example.org>\n", "return path"),
        ("Return-Path: <bounces+123@mailer.example.com>\n", "return path"),
        (f"{NOTICE_HEADER}: 01JF8Z6N3QK4V7W9X2Y5A8B1C3\n", "our own notice"),
    ],
)
def test_what_forbids_an_automatic_reply(headers: str, word: str) -> None:
    reason = auto_reply_forbidden(parse(mail(headers)), our_addresses=OURS)
    assert reason is not None and word.lower() in reason.lower()


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: no\n",
        "Precedence: first-class\n",
        "X-Loop: someone-else@example.org\n",
        "X-Auto-Response-Suppress: OOF\n",  # only out-of-office replies are unwanted
        "Return-Path: <i.petrov@example.org>\n",
        "Return-Path: <noreplyman@example.org>\n",  # a name, not "no reply"
        "Message-ID: <01JF8Z6N3QK4V7W9X2Y5A8B1C3.notice@example.org>\n",  # not our domain
    ],
)
def test_ordinary_mail_may_be_answered(headers: str) -> None:
    text = mail(headers)
    if headers.startswith("Message-ID"):
        text = text.replace("Message-ID: <abc@example.org>\n", "")
    assert auto_reply_forbidden(parse(text), our_addresses=OURS) is None


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@example.org", "postmaster@example.org", "noreply@example.org",
     "no-reply@example.org", "do-not-reply@example.org", "DoNotReply@example.org",
     "no_reply@example.org", "noreply-dmarc-support@google.com"],
)  # fmt: skip
def test_robot_senders(sender: str) -> None:
    text = mail("").replace("Ivan Petrov <i.petrov@example.org>", sender)
    reason = auto_reply_forbidden(parse(text), our_addresses=OURS)
    assert reason is not None and "From" in reason


def test_the_envelope_sender_speaks_for_the_return_path() -> None:
    # Over LMTP the MAIL FROM is known before any Return-Path header exists.
    message = parse(mail("Return-Path: <i.petrov@example.org>\n"))
    assert auto_reply_forbidden(message, our_addresses=OURS, envelope_sender="") is not None
    assert (
        auto_reply_forbidden(message, our_addresses=OURS, envelope_sender="x@example.org") is None
    )


def test_our_own_outbound() -> None:
    own_from = mail("").replace("Ivan Petrov <i.petrov@example.org>", "Support@Gov.Example")
    assert auto_reply_forbidden(parse(own_from), our_addresses=OURS) == "From is our own address"
    message_id = notice_message_id("01jf8z6n3qk4v7w9x2y5a8b1c3", "priem@Gov.Example")
    assert message_id == "<01JF8Z6N3QK4V7W9X2Y5A8B1C3.notice@gov.example>"
    own_id = mail("").replace("<abc@example.org>", message_id)
    reason = auto_reply_forbidden(parse(own_id), our_addresses=OURS)
    assert reason == "Message-ID of our own notice"


@pytest.mark.parametrize(
    ("subject", "headers", "out_of_office"),
    [
        ("Automatic reply: Справка", "", True),
        ("Автоматический ответ: [№2600000128]", "", True),
        ("RE: Автоответ: Справка", "", True),
        ("Out of Office", "", True),
        ("Нет на месте!", "", True),
        ("Я в отпуске", "", True),
        ("Я в отпуске до 15 января", "Auto-Submitted: auto-generated\n", True),
        ("Re: Справка", "X-Autoreply: yes\n", True),
        ("Re: Справка", "X-Autorespond: Re: Справка\n", True),
        ("Re: Справка", "Auto-Submitted: auto-replied\n", True),
        ("Я в отпуске до 15 января, нужна справка", "", False),
        ("Out of office у вас, что ли?", "", False),
        ("Re: Справка", "Auto-Submitted: auto-generated\n", False),
        ("Статус 2600000128", "X-Auto-Response-Suppress: OOF\n", False),
    ],
)
def test_out_of_office(subject: str, headers: str, out_of_office: bool) -> None:
    message = parse(mail(headers).replace("Subject: Справка", f"Subject: {subject}"))
    assert is_out_of_office(message) is out_of_office


def test_a_mail_system_is_told_by_its_local_part() -> None:
    assert mail_system_address("Mailer-Daemon@relay.example.org")
    assert mail_system_address("MAILER-DAEMON")
    assert not mail_system_address("daemon@example.org")
    assert not mail_system_address("i.petrov@postmaster.example.org")


@pytest.mark.parametrize("line", MALFORMED_HEADERS)
def test_malformed_headers_are_read_as_text(line: str) -> None:
    message = with_header(line)
    auto_reply_forbidden(message, our_addresses=OURS)
    is_out_of_office(message)
