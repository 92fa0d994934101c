"""Delivery reports of several MTAs read into recipients, permanence and the notice they
report on; a citizen's mail that merely talks about bounces is none; the VERP sender."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.contract import DeliveryReport, Received
from channels.email.bounces import Bounce, notice_of_verp, read_bounce, verp_sender
from channels.email.config import EmailFile
from channels.email.identity import verified_sender
from channels.email.loops import auto_reply_forbidden, is_out_of_office
from channels.email.parse import parse as parse_received
from tests.email_corpus import MALFORMED_HEADERS, corpus_message, corpus_names, parse, with_header

OURS = ("support@gov.example",)


class Expected:
    """What a corpus report must be read as."""

    def __init__(
        self,
        form: str,
        recipient: tuple[str, str, str | None],
        *,
        message_id: str,
        permanent: bool = True,
        delayed: bool = False,
        notice_id: str | None = None,
        diagnostic: str,
    ) -> None:
        self.form, self.recipient, self.message_id = form, recipient, message_id
        self.permanent, self.delayed, self.notice_id = permanent, delayed, notice_id
        self.diagnostic = diagnostic


def notice(ulid: str) -> str:
    return f"<{ulid}.notice@gov.example>"


REPORTS = {
    "postfix-user-unknown.eml": Expected(
        "rfc3464",
        ("i.petrov@example.org", "failed", "5.1.1"),
        message_id=notice("01JF8Z6N3QK4V7W9X2Y5A8B1C3"),
        diagnostic="User unknown in virtual mailbox table",
    ),
    "postfix-verp-mailbox-full.eml": Expected(
        "rfc3464",
        ("m.sidorova@example.net", "failed", "5.2.2"),
        message_id=notice("01JF9A2B3C4D5E6F7G8H9J0K1M"),
        notice_id="01JF9A2B3C4D5E6F7G8H9J0K1M",
        diagnostic="Disk quota exceeded",
    ),
    "postfix-delayed.eml": Expected(
        "rfc3464",
        ("a.kuznetsov@example.com", "delayed", "4.4.1"),
        message_id=notice("01JF9C7D8E9F0G1H2J3K4M5N6P"),
        permanent=False,
        delayed=True,
        diagnostic="Connection timed out",
    ),
    "exim-failed.eml": Expected(
        "exim",
        ("o.smirnova@example.org", "failed", "5.1.1"),
        message_id=notice("01JFB1Q2R3S4T5V6W7X8Y9Z0A1"),
        diagnostic="Recipient address rejected: User unknown",
    ),
    "qmail-failed.eml": Expected(
        "qmail",
        ("p.volkov@example.net", "failed", "5.1.1"),
        message_id=notice("01JFB3D4E5F6G7H8J9K0M1N2P3"),
        diagnostic="Sorry, no mailbox here by that name.",
    ),
    "exchange-ndr-en.eml": Expected(
        "rfc3464",
        ("n.egorov@corp.example", "failed", "5.1.10"),
        message_id=notice("01JFB6A7B8C9D0E1F2G3H4J5K6"),
        diagnostic="RESOLVER.ADR.RecipientNotFound",
    ),
    "exchange-ndr-ru.eml": Expected(
        "exchange",
        ("a.morozova@corp.example.ru", "failed", "5.1.1"),
        message_id=notice("01JFB8M9N0P1Q2R3S4T5V6W7X8"),
        diagnostic="RESOLVER.ADR.RecipNotFound",
    ),
    "gmail-address-not-found.eml": Expected(
        "rfc3464",
        ("e.belova.1987@gmail.com", "failed", "5.1.1"),
        message_id=notice("01JFBE9F0G1H2J3K4M5N6P7Q8R"),
        diagnostic="The email account that you tried to reach does not exist",
    ),
    "yandex-undelivered.eml": Expected(
        "yandex",
        ("d.orlov@yandex.ru", "failed", "5.7.1"),
        message_id=notice("01JFBC5D6E7F8G9H0J1K2M3N4P"),
        diagnostic="No such user!",
    ),
    "mailru-failure.eml": Expected(
        "mailru",
        # "550" without an enhanced code: its class, as Postfix writes such replies.
        ("nosuchuser@mail.ru", "failed", "5.0.0"),
        message_id=notice("01JFBA1B2C3D4E5F6G7H8J9K0M"),
        diagnostic="user not found",
    ),
}
NEAR_MISSES = [name for name in corpus_names("bounces") if name.startswith("near-miss")]


def test_the_tables_cover_the_corpus() -> None:
    assert sorted([*REPORTS, *NEAR_MISSES]) == corpus_names("bounces")
    assert len(NEAR_MISSES) >= 3


@pytest.mark.parametrize(("name", "expected"), sorted(REPORTS.items()))
def test_the_corpus(name: str, expected: Expected) -> None:
    bounce = read_bounce(corpus_message("bounces", name), account_addresses=OURS)
    assert bounce is not None
    assert bounce.form == expected.form
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [expected.recipient]
    diagnostic = bounce.recipients[0].diagnostic
    assert diagnostic is not None and expected.diagnostic in diagnostic
    assert (bounce.permanent, bounce.delayed) == (expected.permanent, expected.delayed)
    assert bounce.message_id == expected.message_id
    assert bounce.notice_id == expected.notice_id


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_mail_about_bounces_is_no_bounce(name: str) -> None:
    assert read_bounce(corpus_message("bounces", name), account_addresses=OURS) is None


@pytest.mark.parametrize("name", corpus_names("autoreplies"))
def test_automatic_replies_are_no_bounces(name: str) -> None:
    assert read_bounce(corpus_message("autoreplies", name), account_addresses=OURS) is None


def test_the_lmtp_recipient_names_the_notice() -> None:
    # Over LMTP the RCPT TO is the VERP address even where the report's To is rewritten.
    message = corpus_message("bounces", "exim-failed.eml")
    verp = verp_sender("support@gov.example", "01JFB1Q2R3S4T5V6W7X8Y9Z0A1")
    bounce = read_bounce(message, account_addresses=OURS, recipient=verp)
    assert bounce is not None and bounce.notice_id == "01JFB1Q2R3S4T5V6W7X8Y9Z0A1"
    # Someone else's account's VERP form names no notice of ours.
    other = verp_sender("support@other.example", "01JFB1Q2R3S4T5V6W7X8Y9Z0A1")
    bounce = read_bounce(message, account_addresses=OURS, recipient=other)
    assert bounce is not None and bounce.notice_id is None


REPORT = """\
From: MAILER-DAEMON@mx1.gov.example (Mail Delivery System)
To: support@gov.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Report.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.gov.example

{recipients}
--b--
"""


def report(*recipients: str) -> Bounce | None:
    return read_bounce(parse(REPORT.format(recipients="\n".join(recipients))))


def test_several_recipients_and_the_original_address() -> None:
    bounce = report(
        "Final-Recipient: rfc822; ivan@mail.example\n"
        "Original-Recipient: rfc822; Ivan.Petrov@Example.ORG\nAction: failed\nStatus: 5.1.1\n",
        "Final-Recipient: rfc822;<anna@example.org>\nAction: delayed\nStatus: 4.2.2\n",
        "Final-Recipient: rfc822; oleg@example.org\nAction: delivered\nStatus: 2.0.0\n",
    )
    assert bounce is not None
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [
        ("ivan.petrov@example.org", "failed", "5.1.1"),
        ("anna@example.org", "delayed", "4.2.2"),
        ("oleg@example.org", "delivered", "2.0.0"),
    ]
    # One permanent failure is enough; a warning beside a failure is no mere delay.
    assert (bounce.permanent, bounce.delayed) == (True, False)
    assert bounce.message_id is None  # nothing returned, nothing to match


def test_a_transient_failure_is_not_permanent() -> None:
    bounce = report("Final-Recipient: rfc822; ivan@example.org\nAction: failed\nStatus: 4.4.7\n")
    assert bounce is not None
    assert (bounce.permanent, bounce.delayed) == (False, False)


def test_a_missing_status_comes_from_the_diagnostic_and_a_missing_action_from_the_status() -> None:
    bounce = report(
        "Final-Recipient: rfc822; ivan@example.org\n"
        "Diagnostic-Code: smtp; 552-5.2.2 The email account\n  is over quota\n"
    )
    assert bounce is not None
    [recipient] = bounce.recipients
    assert (recipient.action, recipient.status, bounce.permanent) == ("failed", "5.2.2", True)
    assert recipient.diagnostic == "552-5.2.2 The email account is over quota"


def test_a_success_report_is_a_report_but_no_failure() -> None:
    bounce = report("Final-Recipient: rfc822; ivan@example.org\nAction: delivered\nStatus: 2.0.0\n")
    assert bounce is not None and not bounce.permanent and not bounce.delayed


def test_a_read_receipt_is_no_bounce() -> None:
    # RFC 8098 read receipts are multipart/report too, from the citizen's own client.
    receipt = parse(
        "From: Ivan Petrov <i.petrov@example.org>\nTo: support@gov.example\n"
        "Subject: Read: [№2600000128]\nMIME-Version: 1.0\nContent-Type: multipart/report;"
        ' report-type=disposition-notification; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        "Your message was read.\n\n--b\nContent-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822; i.petrov@example.org\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\n\n--b--\n"
    )
    assert read_bounce(receipt, account_addresses=OURS) is None


def test_a_plain_text_report_without_recipients_is_still_a_report() -> None:
    """And one that fails the notice it returns, with its words as the reason; sent to no VERP
    address, it names no address to suppress (test_bounce_reports applies it)."""
    raw = (
        "From: MAILER-DAEMON@relay.example.org\nTo: support@gov.example\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "In-Reply-To: <01JFB1Q2R3S4T5V6W7X8Y9Z0A1.notice@gov.example>\n"
        "Content-Type: text/plain\n\nThis is a permanent error.\nThe message was refused.\n"
    )
    bounce = read_bounce(parse(raw), account_addresses=OURS)
    assert bounce is not None
    assert (bounce.recipients, bounce.permanent) == ((), True)
    assert bounce.message_id == "<01JFB1Q2R3S4T5V6W7X8Y9Z0A1.notice@gov.example>"
    assert bounce.words == "This is a permanent error. The message was refused."
    received = Received(
        channel="email", account="support", idempotency_key="<k@example>",
        received_at="2026-12-03T10:00:00.000Z", content_type="message/rfc822",
        payload=raw.encode(), metadata={},
    )  # fmt: skip
    accounts = {"support": {"address": OURS[0]}}
    file = EmailFile.model_validate({"enabled": True, "accounts": accounts})
    assert parse_received(received, lambda: file) == DeliveryReport(
        references=["<01JFB1Q2R3S4T5V6W7X8Y9Z0A1.notice@gov.example>"],
        delivered=False,
        reason="bounced: This is a permanent error. The message was refused.",
    )


def test_exim_names_the_failed_recipients_in_a_header() -> None:
    message = parse(
        "From: Mail Delivery System <Mailer-Daemon@relay.example.org>\nTo: support@gov.example\n"
        "X-Failed-Recipients: o.smirnova@example.org, ,\n"
        "Subject: Mail delivery failed: returning message to sender\nContent-Type: text/plain\n\n"
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent could not be delivered. This is a permanent error.\n"
    )
    bounce = read_bounce(message, account_addresses=OURS)
    assert bounce is not None
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [
        ("o.smirnova@example.org", "failed", None)
    ]
    assert bounce.permanent


def test_a_plain_text_warning_is_a_delay() -> None:
    message = parse(
        "From: Mail Delivery System <Mailer-Daemon@relay.example.org>\nTo: support@gov.example\n"
        "Subject: Warning: message 1tF3xA-0004Zp-1e delayed 24 hours\nContent-Type: text/plain\n\n"
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent has not yet been delivered to one or more of its\n"
        "recipients after more than 24 hours on the queue. It will be retried.\n\n"
        "  o.smirnova@example.org\n    Delay reason: connection timed out\n\n"
        "No action is required on your part.\n"
    )
    bounce = read_bounce(message, account_addresses=OURS)
    assert bounce is not None
    assert [(r.address, r.action) for r in bounce.recipients] == [
        ("o.smirnova@example.org", "delayed")
    ]
    assert (bounce.permanent, bounce.delayed) == (False, True)


def test_a_citizen_pasting_a_report_is_a_citizen() -> None:
    text = corpus_message("bounces", "exim-failed.eml").as_string()
    pasted = text.replace("From: Mail Delivery System <Mailer-Daemon@relay.example.org>",
                          "From: Olga Smirnova <o.smirnova@example.org>")  # fmt: skip
    pasted = pasted.replace("Return-path: <>", "Return-path: <o.smirnova@example.org>")
    assert read_bounce(parse(pasted), account_addresses=OURS) is None


# -- VERP -----------------------------------------------------------------------------------------


def test_the_verp_form() -> None:
    sender = verp_sender("support@gov.example", "01JF8Z6N3QK4V7W9X2Y5A8B1C3")
    assert sender == "support+n.01jf8z6n3qk4v7w9x2y5a8b1c3@gov.example"
    accounts = ["priem@gov.example", "Support@Gov.Example"]
    expected = ("Support@Gov.Example", "01JF8Z6N3QK4V7W9X2Y5A8B1C3")
    assert notice_of_verp(sender, accounts) == expected
    assert notice_of_verp(f"<{sender.upper()}>", accounts) == expected
    assert notice_of_verp(f"Support <{sender}>", accounts) == expected
    # An account whose own address has a subaddress keeps it.
    tagged = verp_sender("support+gov@gov.example", "01JF8Z6N3QK4V7W9X2Y5A8B1C3")
    assert notice_of_verp(tagged, ["support+gov@gov.example"]) == (
        "support+gov@gov.example",
        "01JF8Z6N3QK4V7W9X2Y5A8B1C3",
    )


@pytest.mark.parametrize(
    "recipient",
    [
        "support@gov.example",
        "support+n.01JF8Z6N3QK4V7W9X2Y5A8B1C@gov.example",  # 25 characters
        "support+n.01JF8Z6N3QK4V7W9X2Y5A8B1CU@gov.example",  # U is no Crockford digit
        "support+x.01JF8Z6N3QK4V7W9X2Y5A8B1C3@gov.example",
        "support+n.01JF8Z6N3QK4V7W9X2Y5A8B1C3@other.example",
        "other+n.01JF8Z6N3QK4V7W9X2Y5A8B1C3@gov.example",
        "",
        "not an address",
    ],
)
def test_not_our_verp(recipient: str) -> None:
    assert notice_of_verp(recipient, ["support@gov.example"]) is None


@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26))
def test_every_notice_id_comes_back(notice_id: str) -> None:
    sender = verp_sender("support@gov.example", notice_id)
    assert notice_of_verp(sender, ["support@gov.example"]) == ("support@gov.example", notice_id)


@pytest.mark.parametrize("line", MALFORMED_HEADERS)
def test_malformed_headers_are_read_as_text(line: str) -> None:
    assert read_bounce(with_header(line), account_addresses=OURS) is None


def test_a_malformed_report() -> None:
    # The Return-Path and Message-ID the stdlib cannot read, a recipient block without an
    # address, and a Status that is no status: still a report, read as far as it goes.
    text = REPORT.format(
        recipients="Action: failed\n\nFinal-Recipient: rfc822; ivan@example.org\nStatus: x\n"
    ).replace("To: support@gov.example", "To: ivan@\nMessage-ID: <<>>")
    bounce = read_bounce(parse(text), account_addresses=OURS)
    assert bounce is not None
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [
        ("ivan@example.org", "failed", None)
    ]
    assert not bounce.permanent


# Pieces of header values the stdlib's and our readers treat specially, and the fields they go in.
_PIECES = [
    *'<>@"(),;:=?.-_ aZ09\\[]ёЯ\t',
    *("=?utf-8?b?", "?=", "multipart/report", "report-type=delivery-status", "boundary=b"),
    *("MAILER-DAEMON", "mx.gov.example"),
]
_NAMES = ["From", "To", "Subject", "Return-Path", "Message-ID", "Content-Type", "Auto-Submitted",
          "X-Loop", "Authentication-Results", "References", "X-Failed-Recipients"]  # fmt: skip


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.sampled_from(_NAMES), st.lists(st.sampled_from(_PIECES)).map("".join)),
        max_size=6,
    ),
    st.text(max_size=200),
)
def test_no_message_makes_the_policy_raise(headers: list[tuple[str, str]], body: str) -> None:
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    message = parse(
        f"{head}\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n\n--b--\n{body}"
    )
    read_bounce(message, account_addresses=OURS)
    auto_reply_forbidden(message, our_addresses=OURS)
    is_out_of_office(message)
    verified_sender(message, authserv_id="mx.gov.example")
