"""A bounce as the router applies it: read by the email parser from the mail it came in, then
filed by the reports port against a real store; a permanent one fails the notice it names (on to
the fallback) and suppresses that notice's address, a delay moves nothing."""

from __future__ import annotations

import time

from channels.contract import DeliveryReport, Sender
from channels.email.bounces import verp_sender
from channels.email.loops import notice_message_id
from router.clock import rfc3339, utc_now
from router.delivery.fallback import Fallback
from router.delivery.reports import Reports
from router.delivery.states import Event
from router.store.database import Database
from router.store.transaction import NotificationRecord, Tx

from .test_email_parse import read as parsed

SUPPORT = "support@gov.example"
IVAN = "ivan@corp.example.ru"
ANNA = "anna@corp.example.ru"
PHONES = {IVAN: "+79161234567", ANNA: "+79161234568"}


def bounce(to: str, headers: str, text: str) -> bytes:
    """A plain-text report from a mail system, sent to `to`."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@relay.corp.example.ru>\r\nTo: {to}\r\n"
        f"{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}"
    ).encode()


def user_unknown(to: str, headers: str = "") -> bytes:
    """A report whose recipient cannot be read: it names the address only inside a sentence."""
    return bounce(
        to,
        f"Subject: Undeliverable: [2600000128] Status\r\n{headers}",
        f"Message delivery to '{IVAN}' failed:\r\nNo such mailbox: User unknown\r\n",
    )


def delayed(to: str) -> bytes:
    """The same server's warning that it goes on trying: no failure."""
    return bounce(
        to,
        "Subject: Undelivered mail: still trying\r\n",
        f"Message delivery to '{IVAN}' delayed: the mailbox is busy.\r\n"
        "Delivery will be retried for 2 more days.\r\n",
    )


def exim_uncoded(to: str, recipient: str) -> bytes:
    """Exim's report of an address it gave up on, with no SMTP code to say so."""
    return bounce(
        to,
        f"X-Failed-Recipients: {recipient}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n",
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        f"  {recipient}\r\n    Unrouteable address\r\n",
    )


def read(raw: bytes, rcpt_to: str) -> DeliveryReport:
    """The mail as the LMTP intake journals it (null sender, the VERP recipient), parsed."""
    report = parsed(raw, mail_from="", rcpt_to=rcpt_to)
    assert isinstance(report, DeliveryReport)
    return report


async def sent_notice(db: Database, address: str) -> str:
    """An email notice to `address` that the SMTP server took, under its Message-ID; its
    contact has a verified phone to fall back to. Its id."""

    def send(tx: Tx) -> str:
        contact = tx.create_contact(Sender("email", address, verified=True))
        tx.add_identity(contact, Sender("phone", PHONES[address], verified=True))
        notice, _ = tx.queue_notification(
            f"test:{address}", "2026-12-03T09:00:00Z", time.time(), ticket="2600000128",
            contact_id=contact, channel="email", account="support", address=address,
            kind="status", automatic=True, text="Статус изменён",
        )  # fmt: skip
        at = rfc3339(utc_now())
        tx.move_notification(notice, Event.CLAIMED, at)
        tx.move_notification(notice, Event.ACCEPTED, at)
        tx.add_references(notice, "email", [notice_message_id(notice, SUPPORT)], at)
        return notice

    return await db.write(send)


async def filed(db: Database, report: DeliveryReport) -> None:
    """The report applied by the reports port, as the filing worker does after the commit."""
    reports = Reports(db, lambda: Fallback(("email", "sms")), lambda: None)
    await db.write(lambda tx: reports.file(tx, "email", report, rfc3339(utc_now())))


async def notice_of(db: Database, notice: str) -> NotificationRecord:
    found = await db.read(lambda tx: tx.notification(notice))
    assert found is not None
    return found


async def suppressed(db: Database) -> list[tuple[str, str, str]]:
    """(channel, address, reason) of the suppression list."""
    entries = await db.read(lambda tx: tx.suppressions(rfc3339(utc_now())))
    return [(e["channel"], e["address"], e["reason"]) for e in entries]


async def fell_back_to_sms(db: Database, notice: str) -> bool:
    history = await db.read(lambda tx: tx.notification_history(notice))
    return any(str(h["reason"]).startswith("fell back to sms") for h in history)


async def test_a_permanent_report_without_recipients_fails_its_verp_notice(db: Database) -> None:
    """("Message delivery to 'x' failed: User unknown"): no recipient the reader can take. The
    server's warning before it moves nothing."""
    notice = await sent_notice(db, IVAN)
    verp = verp_sender(SUPPORT, notice)
    warning = read(delayed(verp), verp)
    assert (warning.delivered, warning.suppress_for) == (None, None)
    await filed(db, warning)
    assert (await notice_of(db, notice)).state == "sent"
    assert await suppressed(db) == []

    report = read(user_unknown(verp), verp)
    assert (report.delivered, report.unreachable) == (False, None)
    assert report.suppress_for == 7 * 86400
    await filed(db, report)
    failed = await notice_of(db, notice)
    assert failed.state == "failed"
    assert failed.last_error == (
        f"bounced: Message delivery to '{IVAN}' failed: No such mailbox: User unknown"
    )
    assert await fell_back_to_sms(db, notice)
    assert await suppressed(db) == [("email", IVAN, "bounced")]


async def test_the_verp_address_not_a_quoted_message_id_says_which_notice(db: Database) -> None:
    """Anna's notice's Message-ID in the report's In-Reply-To; it came back to Ivan's."""
    ivans, annas = await sent_notice(db, IVAN), await sent_notice(db, ANNA)
    verp = verp_sender(SUPPORT, ivans)
    replying = f"In-Reply-To: {notice_message_id(annas, SUPPORT)}\r\n"
    await filed(db, read(user_unknown(verp, replying), verp))
    assert [(await notice_of(db, n)).state for n in (ivans, annas)] == ["failed", "sent"]
    assert await suppressed(db) == [("email", IVAN, "bounced")]


async def test_without_verp_a_quoted_message_id_fails_the_notice_and_suppresses_none(
    db: Database,
) -> None:
    """Sent to the account's own address: no address the report names to check it against."""
    notice = await sent_notice(db, IVAN)
    replying = f"In-Reply-To: {notice_message_id(notice, SUPPORT)}\r\n"
    report = read(user_unknown(SUPPORT, replying), SUPPORT)
    await filed(db, report)
    assert (await notice_of(db, notice)).state == "failed"
    assert await suppressed(db) == []


async def test_an_exim_permanent_error_without_a_code_suppresses_the_address(
    db: Database,
) -> None:
    """Only the address the notice went to: Anna's notice's report names Ivan (a forward, a
    forgery), which suppresses no one."""
    annas, ivans = await sent_notice(db, ANNA), await sent_notice(db, IVAN)
    for notice in (annas, ivans):
        verp = verp_sender(SUPPORT, notice)
        report = read(exim_uncoded(verp, IVAN), verp)
        assert (report.delivered, report.unreachable) == (False, IVAN)
        await filed(db, report)
    for notice in (annas, ivans):
        failed = await notice_of(db, notice)
        assert (failed.state, failed.last_error) == ("failed", "bounced: Unrouteable address")
        assert await fell_back_to_sms(db, notice)
    assert await suppressed(db) == [("email", IVAN, "bounced")]
