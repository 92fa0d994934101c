"""A journalled mail as the router files it: a citizen's message, flagged when no one should
answer it, its sender verified only by our MTA; a bounce as a report on our notice; and any
bytes at all either read or refused as unparseable, never an error of another kind."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.contract import DeliveryReport, RawInbound, Received, Unparseable
from channels.email.config import EmailFile
from channels.email.parse import parse
from tests.email_corpus import CORPUS, corpus_names

FILE = EmailFile.model_validate(
    {
        "enabled": True,
        "loops": {"bounce_suppression": "7d"},
        "accounts": {
            "support": {"address": "support@gov.example", "authserv_id": "mx.gov.example"}
        },
    }
)
# The corpus's bounces that are a citizen's mail, not a report.
NEAR_MISSES = {name for name in corpus_names("bounces") if name.startswith("near-miss")}
# The corpus's mail that is answered as any citizen's.
ANSWERED = {"ordinary-citizen.eml", "near-miss-citizen-on-vacation.eml",
            "near-miss-complains-of-autoreply.eml"}  # fmt: skip


def read(raw: bytes, **metadata: str) -> RawInbound | DeliveryReport:
    received = Received(
        channel="email",
        account="support",
        idempotency_key="<k@example>",
        received_at="2026-12-03T10:00:00.000Z",
        content_type="message/rfc822",
        payload=raw,
        metadata=metadata,
    )
    return parse(received, lambda: FILE)


@pytest.mark.parametrize("name", corpus_names("bounces"))
def test_a_bounce_is_a_report_on_our_notice_and_a_near_miss_a_message(name: str) -> None:
    result = read((CORPUS / "bounces" / name).read_bytes())
    if name in NEAR_MISSES:
        assert isinstance(result, RawInbound)
        return
    assert isinstance(result, DeliveryReport)
    if "delayed" in name:
        assert result.delivered is None and result.unreachable is None
    else:
        assert result.delivered is False and result.reason and result.reason.startswith("bounced")
        assert result.references, "a report must name the notice it is on"
    if result.unreachable is not None:
        assert result.suppress_for == 7 * 86400


@pytest.mark.parametrize("name", corpus_names("autoreplies"))
def test_mail_no_one_should_answer_is_flagged_auto_submitted(name: str) -> None:
    result = read((CORPUS / "autoreplies" / name).read_bytes())
    if isinstance(result, DeliveryReport):  # a mail system's null sender may be a report
        return
    assert ("auto_submitted" in result.flags) is (name not in ANSWERED)


@pytest.mark.parametrize("name", corpus_names(""))
def test_every_client_style_is_read_from_an_unverified_sender(name: str) -> None:
    # As an MTA delivers it: a From that cannot be read leaves the envelope's sender.
    result = read((CORPUS / name).read_bytes(), mail_from="citizen@citizen.example")
    assert isinstance(result, RawInbound)
    assert result.sender.kind == "email" and not result.sender.verified
    assert result.text or result.files or result.subject is not None


def test_only_our_mtas_aligned_pass_verifies_the_sender() -> None:
    def mail(results: str) -> bytes:
        return (
            f"Authentication-Results: {results}\r\nFrom: Иван <ivan@mail.example>\r\n"
            "Subject: =?utf-8?b?0JLQvtC/0YDQvtGB?=\r\nMessage-ID: <v@mail.example>\r\n\r\n"
            "Здравствуйте\r\n"
        ).encode()

    ours = read(mail("mx.gov.example; dkim=pass header.d=mail.example"))
    forged = read(mail("mx.other.example; dkim=pass header.d=mail.example"))
    misaligned = read(mail("mx.gov.example; dkim=pass header.d=elsewhere.example"))
    assert isinstance(ours, RawInbound) and ours.sender.verified
    assert (
        ours.subject == "Вопрос"
        and ours.referable
        and ours.channel_message_id == "<v@mail.example>"
    )
    assert isinstance(forged, RawInbound) and not forged.sender.verified
    assert isinstance(misaligned, RawInbound) and not misaligned.sender.verified


def test_a_mail_without_a_readable_sender_is_unparseable() -> None:
    with pytest.raises(Unparseable, match="no single From"):
        read((CORPUS / "broken-headers-nul.eml").read_bytes())


def test_a_mail_whose_from_no_one_can_read_is_filed_from_its_envelope_sender_flagged() -> None:
    raw = b"From: a@[b\r\nSubject: x\r\nMessage-ID: <z1@x.example>\r\n\r\nHello\r\n"
    result = read(raw, mail_from="ivan@mail.example")
    assert isinstance(result, RawInbound) and result.text == "Hello"
    assert result.sender.address == "ivan@mail.example" and not result.sender.verified
    assert result.flags == ["malformed_sender"]
    readable = read(raw.replace(b"a@[b", b"ivan@mail.example"), mail_from="ivan@mail.example")
    assert isinstance(readable, RawInbound) and readable.flags == []


def mail_saying(text: str) -> bytes:
    """A citizen's plain-text mail with `text` as its body."""
    return (
        "From: ivan@mail.example\r\n"
        "Subject: =?utf-8?b?0KHRgtCw0YLRg9GBIFvihJYyNjAwMDAwMTI4XQ==?=\r\n"  # Статус [№2600000128]
        "Message-ID: <q@mail.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + text.replace("\n", "\r\n")
    ).encode()


QUOTE = "03.12.2026 10:00, Служба поддержки пишет:\n> Ваше обращение №2600000128 принято."


FORWARD = "---------- Forwarded message ---------\nОт: Ведомство\n\nОтказ в приёме."


@pytest.mark.parametrize(
    ("body", "flags", "text"),
    [
        # Nothing typed over the client's quote of our confirmation: the quote is the text.
        (QUOTE, ["quoted_only"], QUOTE),
        (f"Отправлено с iPhone\n\n{QUOTE}", ["quoted_only"], f"Отправлено с iPhone\n\n{QUOTE}"),
        # Words of the citizen's own; a forward with no comment, whose letter is for a person.
        (f"Прошу ускорить.\n\n{QUOTE}", [], "Прошу ускорить."),
        (FORWARD, [], FORWARD),
    ],
)
def test_a_reply_that_only_quotes_is_flagged_and_keeps_its_text(
    body: str, flags: list[str], text: str
) -> None:
    result = read(mail_saying(body))
    assert isinstance(result, RawInbound)
    assert (result.flags, result.text) == (flags, text)
    assert result.subject == "Статус [№2600000128]"


def test_an_oversize_header_only_mail_is_flagged() -> None:
    header = b"From: ivan@mail.example\r\nSubject: Scan\r\nMessage-ID: <o@mail.example>\r\n\r\n"
    result = read(header, oversize="12000000")
    assert isinstance(result, RawInbound) and "oversize" in result.flags


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_unparseable(raw: bytes) -> None:
    try:
        result = read(raw)
    except Unparseable:
        return
    assert isinstance(result, RawInbound | DeliveryReport)


@settings(max_examples=200)
@given(st.sampled_from(corpus_names("")), st.data())
def test_a_damaged_corpus_mail_is_read_or_unparseable(name: str, data: st.DataObject) -> None:
    raw = bytearray((CORPUS / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(Unparseable):
        read(bytes(raw))


def dsn(action: str, status: str) -> bytes:
    """A minimal RFC 3464 report on our notice, sent to its VERP address."""
    return (
        "From: MAILER-DAEMON@mx.mail.example\r\n"
        "To: support+n.01m8xdd3mdxmct2r06cr0w0cj8@gov.example\r\n"
        "Subject: Delivery Status Notification\r\nMessage-ID: <dsn@mx.mail.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nReport.\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; ivan@mail.example\r\nAction: {action}\r\n"
        f"Status: {status}\r\n\r\n--B--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("action", "status", "delivered"),
    [("failed", "5.1.1", False), ("delivered", "2.0.0", True), ("relayed", "2.0.0", None),
     ("delayed", "4.4.1", None)],
)  # fmt: skip
def test_a_report_moves_the_notice_only_as_far_as_it_says(
    action: str, status: str, delivered: bool | None
) -> None:
    report = read(dsn(action, status), mail_from="")
    assert isinstance(report, DeliveryReport)
    assert report.references == ["<01M8XDD3MDXMCT2R06CR0W0CJ8.notice@gov.example>"]
    assert report.delivered is delivered
    assert (report.unreachable is not None) is (action == "failed")
