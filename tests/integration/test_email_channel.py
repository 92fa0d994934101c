"""The email channel over the real daemon, an MTA's LMTP session, Dovecot and an SMTP server:
mail is committed before it is answered, filed from a sender verified as far as our MTA's
Authentication-Results prove it, confirmed by mail that threads and can bounce back, and a
bounce fails the notice it names; a mailbox's mail is moved away only once committed."""

from __future__ import annotations

import functools
import json
import re
import smtplib
import textwrap
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from pathlib import Path
from typing import Any

import trio

from channels.email.imap import mailbox
from tests.dovecot import USERS, Dovecot, dovecot, dovecot_server
from tests.smtp_peer import PASSWORD, USER, SmtpPeer, smtp_peer, smtp_peer_server

from .daemon import (
    DaemonProcess,
    eventually,
    feed_all,
    free_port,
    log_text_lines,
    metric,
    notification_in,
    write_secret,
)

__all__ = ["dovecot", "dovecot_server", "smtp_peer", "smtp_peer_server"]  # the fixtures

SUPPORT = "support@gov.example"
PRIEM = "priem@gov.example"
CITIZEN = "ivan.petrov@mail.example"
OUR_MTA = "mx.gov.example"


def email_daemon(
    root: Path,
    smtp: SmtpPeer,
    dovecot: Dovecot | None = None,
    imap_security: str = "tls",
    imap_extra: str = "",
) -> tuple[DaemonProcess, int]:
    """A daemon with one account fed by its LMTP listener (and Dovecot's INBOX if given), its
    notices sent through the SMTP peer; and the listener's port."""
    daemon, port = DaemonProcess(root), free_port()
    write_secret(daemon.config / "secrets" / "smtp.password", PASSWORD + "\n")
    imap = ""
    if dovecot is not None:
        write_secret(daemon.config / "secrets" / "imap.password", USERS["support"] + "\n")
        imap = f"""
[accounts.support.imap]
host = "127.0.0.1"
port = {dovecot.tls_port if imap_security == "tls" else dovecot.port}
security = "{imap_security}"
username = "support"
password_file = "secrets/imap.password"
processed_folder = "Processed"
ca_file = "{dovecot.cafile}"
{imap_extra}
"""
    (daemon.config / "channels" / "email.toml").write_text(
        textwrap.dedent(f"""\
        enabled = true
        [intake]
        listen = "127.0.0.1:{port}"
        protocol = "lmtp"
        [accounts.support]
        address = "{SUPPORT}"
        display_name = "Служба поддержки"
        authserv_id = "{OUR_MTA}"
        [accounts.support.smtp]
        host = "127.0.0.1"
        port = {smtp.port}
        security = "starttls"
        username = "{USER}"
        password_file = "secrets/smtp.password"
        ca_file = "{smtp.cafile}"
        """)
        + imap
    )
    return daemon, port


def citizens_mail(subject: str, text: str, *, message_id: str, verified: bool = True) -> bytes:
    """A citizen's message as our MTA hands it on, its Authentication-Results on top."""
    mail = EmailMessage()
    if verified:
        mail["Authentication-Results"] = (
            f"{OUR_MTA}; dkim=pass header.d=mail.example header.s=s1; "
            "spf=pass smtp.mailfrom=mail.example"
        )
    mail["From"] = f"Иван Петров <{CITIZEN}>"
    mail["To"] = SUPPORT
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail["Date"] = "Thu, 03 Dec 2026 10:00:00 +0300"
    mail.set_content(text)
    return mail.as_bytes(policy=SMTP)  # CRLF lines, as it goes over the wire


def lmtp(port: int, sender: str, recipients: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
    """One LMTP transaction as an MTA runs it; the answers to refused recipients, raising on
    a refused message (smtplib gives LMTP's per-recipient answers only for failures)."""
    with smtplib.LMTP("127.0.0.1", port) as client:
        return client.sendmail(sender, recipients, raw)


async def email_envelopes(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [e for e in await feed_all(daemon) if e["channel"] == "email"]


async def test_mail_in_over_lmtp_confirmed_by_mail_and_its_bounce_applied(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    daemon.start()
    try:
        raw = citizens_mail("[10] Не могу войти", "Здравствуйте!\n\nНе могу войти в кабинет.",
                            message_id="<m1@mail.example>")  # fmt: skip
        refused = await trio.to_thread.run_sync(
            lmtp, port, CITIZEN, [SUPPORT, "nobody@gov.example"], raw
        )
        assert refused == {
            "nobody@gov.example": (
                550, b"5.1.1 <nobody@gov.example>: Recipient address rejected: User unknown"
            )
        }  # fmt: skip
        [envelope] = await eventually(lambda: email_envelopes(daemon), "the mail filed")
        assert envelope["sender"] == {
            "kind": "email", "address": CITIZEN, "display_name": "Иван Петров", "verified": True,
        }  # fmt: skip
        assert envelope["text"].startswith("Здравствуйте!")
        assert envelope["subject"] == "[10] Не могу войти"
        assert envelope["ticket"]["category"]["code"] == "10"
        assert envelope["raw"]["content_type"] == "message/rfc822"
        async with daemon.backend() as backend:
            kept = await backend.get(f"/api/v1/raw/{envelope['raw']['id']}")
        assert kept.content == raw  # byte for byte
        number = envelope["ticket"]["number"]

        # The confirmation: threaded, tagged, automatic, from the notice's VERP address.
        [sent] = await eventually(smtp_peer.queued, "the confirmation sent")
        confirmation = BytesParser(policy=default).parsebytes(sent.data)
        assert sent.rcpt_tos == [CITIZEN] and sent.tls and sent.login == USER
        assert sent.mail_from.startswith("support+n.") and sent.mail_from.endswith("@gov.example")
        assert confirmation["Subject"].startswith(f"[№{number}] ")
        assert confirmation["In-Reply-To"] == "<m1@mail.example>"
        assert confirmation["Auto-Submitted"] == "auto-replied"
        assert confirmation.get_body(("html",)) is not None
        async with daemon.backend() as backend:
            ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
        [notice] = ticket["notifications"]

        # «Статус» before our tag in a reply's subject, from the verified citizen: answered.
        query = citizens_mail(f"Статус [№{number}]", "", message_id="<m2@mail.example>")
        await trio.to_thread.run_sync(lmtp, port, CITIZEN, [SUPPORT], query)

        async def answered(message_id: str) -> EmailMessage | None:
            for taken in await smtp_peer.queued():
                mail = BytesParser(policy=default).parsebytes(taken.data)
                if mail["In-Reply-To"] == message_id:
                    return mail
            return None

        answer = await eventually(
            functools.partial(answered, "<m2@mail.example>"), "the status query answered"
        )
        assert f"№{number}" in answer.get_body(("plain",)).get_content()
        assert answer["Auto-Submitted"] == "auto-replied"

        # The same from a reply to our confirmation in which the citizen typed nothing: the body
        # is only the client's quote of it. Answered with the status, not "added to your
        # request" (which filing our own confirmation as the citizen's text would say).
        ours = confirmation.get_body(("plain",)).get_content().strip().split("\n")
        quote = "\n".join(
            ["03.12.2026 10:00, Служба поддержки пишет:", *(f"> {line}" for line in ours)]
        )
        quoting = citizens_mail(f"Статус [№{number}]", quote, message_id="<m2q@mail.example>")
        quoting = quoting.replace(
            b"Message-ID:", f"In-Reply-To: {confirmation['Message-ID']}\r\nMessage-ID:".encode()
        )
        await trio.to_thread.run_sync(lmtp, port, CITIZEN, [SUPPORT], quoting)

        status = await eventually(
            functools.partial(answered, "<m2q@mail.example>"), "the quoting status query answered"
        )
        said = status.get_body(("plain",)).get_content()
        assert f"Обращение №{number}" in said and "статус «Принято»" in said
        assert "добавлено к обращению" not in said
        [queried] = [
            e
            for e in await email_envelopes(daemon)
            if e["channel_message_id"] == "<m2q@mail.example>"
        ]
        assert {"status_query", "quoted_only"} <= set(queried["flags"])
        assert queried["text"].startswith("03.12.2026 10:00, Служба поддержки пишет:")

        # A reply without our tag that names our confirmation joins the ticket.
        reply = citizens_mail(
            "Re: спасибо", "Вот ещё один документ", message_id="<m3@mail.example>"
        )
        reply = reply.replace(
            b"Message-ID:", f"In-Reply-To: {confirmation['Message-ID']}\r\nMessage-ID:".encode()
        )
        await trio.to_thread.run_sync(lmtp, port, CITIZEN, [SUPPORT], reply)

        async def joined() -> dict[str, Any] | None:
            found = {e["channel_message_id"]: e for e in await email_envelopes(daemon)}
            return found.get("<m3@mail.example>")

        follow_up = await eventually(joined, "the reply filed")
        assert follow_up["ticket"]["number"] == number and not follow_up["ticket"]["is_new"]

        # The citizen's server bounces it: the notice fails and the address is suppressed.
        dsn = bounce_of(sent.mail_from, CITIZEN, confirmation["Message-ID"])
        await trio.to_thread.run_sync(lmtp, port, "", [sent.mail_from], dsn)

        bounced = await eventually(
            lambda: notification_in(daemon, notice["id"], "dead"), "the bounce applied"
        )
        assert "5.1.1" in bounced["last_error"]
        async with daemon.admin() as admin:
            listed = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
        assert [(e["address"], e["reason"]) for e in listed] == [(CITIZEN, "bounced")]
        filed = [e["channel_message_id"] for e in await email_envelopes(daemon)]
        assert filed == [f"<{m}@mail.example>" for m in ("m1", "m2", "m2q", "m3")]
    finally:
        daemon.stop()


async def test_mail_whose_from_no_one_can_read_is_taken_and_filed_flagged(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    """The stdlib raises AttributeError on this From; it was answered 500, so the MTA bounced
    the citizen's mail and nothing was kept."""
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    daemon.start()
    try:
        raw = citizens_mail("Вопрос", "Здравствуйте!", message_id="<m9@mail.example>")
        raw = re.sub(rb"(?m)^From: .*\r\n", b"From: a@[b\r\n", raw)
        refused = await trio.to_thread.run_sync(lmtp, port, CITIZEN, [SUPPORT], raw)
        assert refused == {}
        [envelope] = await eventually(lambda: email_envelopes(daemon), "the mail filed")
        # From the envelope's sender, which no one vouches for.
        assert envelope["sender"]["address"] == CITIZEN and not envelope["sender"]["verified"]
        assert envelope["flags"] == ["malformed_sender"]
        assert envelope["text"].startswith("Здравствуйте!")
        async with daemon.backend() as backend:
            kept = await backend.get(f"/api/v1/raw/{envelope['raw']['id']}")
        assert kept.content == raw
        counted = metric(daemon, "omnirouter_bad_input_total", reason="malformed_sender")
        assert counted == 1
    finally:
        daemon.stop()


async def test_an_oversize_refusal_is_listed_in_the_log_with_the_sender_masked(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    daemon.edit_router(
        '[attachments.limits.email]\nfile = "10MB"\nmessage = "10MB"',
        '[attachments.limits.email]\nfile = "100KB"\nmessage = "100KB"',
    )
    daemon.start()
    try:
        raw = citizens_mail("Скан", "x" * 150_000, message_id="<big@mail.example>")

        def refused() -> list[int]:
            with smtplib.LMTP("127.0.0.1", port) as client:
                client.ehlo()
                declared = client.mail(CITIZEN, [f"SIZE={len(raw)}"])[0]
                client.rset()
                # No SIZE (sendmail would say it): refused after DATA.
                client.mail(CITIZEN)
                client.rcpt(SUPPORT)
                return [declared, client.data(raw)[0]]

        assert await trio.to_thread.run_sync(refused) == [552, 552]

        async def listed() -> list[str]:
            return [line for line in log_text_lines(daemon) if "refused as oversize" in line]

        lines = await eventually(listed, "the refusals logged")
        assert len(lines) == 2, lines
        for line, size in zip(lines, [f"{len(raw)} bytes declared", "more sent"], strict=True):
            assert json.loads(line)["msg"] == (
                f"mail from <i***@***.example> refused as oversize (552 5.3.4): {size}, "
                "the limit 102400 bytes"
            )
        assert not [line for line in log_text_lines(daemon) if "ivan.petrov" in line]
    finally:
        daemon.stop()


def bounce_of(verp: str, recipient: str, message_id: str) -> bytes:
    """Postfix's delivery status notification (RFC 3464) for a message to `recipient`."""
    return (
        textwrap.dedent(f"""\
        From: MAILER-DAEMON@mx.mail.example (Mail Delivery System)
        To: {verp}
        Subject: Undelivered Mail Returned to Sender
        Message-ID: <bounce-1@mx.mail.example>
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"

        --B
        Content-Type: text/plain

        I'm sorry to have to inform you that your message could not be delivered.

        --B
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.mail.example

        Final-Recipient: rfc822; {recipient}
        Action: failed
        Status: 5.1.1
        Diagnostic-Code: smtp; 550 5.1.1 User unknown

        --B
        Content-Type: text/rfc822-headers

        Message-ID: {message_id}
        From: support@gov.example
        To: {recipient}

        --B--
        """)
        .replace("\n", "\r\n")
        .encode()
    )


async def test_plain_text_bounces_without_a_code_fail_the_notice_and_suppress_its_address(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    """Two forms a DSN reader takes no status from: a report whose recipient cannot be read
    (back to the notice's VERP address), and Exim's permanent error with no SMTP code."""
    anna = "anna.sidorova@mail.example"
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    daemon.start()
    try:
        notices: dict[str, tuple[str, str]] = {}  # address: (notice id, its VERP sender)
        for n, citizen in enumerate((CITIZEN, anna)):
            raw = citizens_mail("Вопрос", "Когда будет ответ?", message_id=f"<b{n}@mail.example>")
            raw = raw.replace(CITIZEN.encode(), citizen.encode())
            await trio.to_thread.run_sync(lmtp, port, citizen, [SUPPORT], raw)

            async def confirmed(to: str = citizen) -> list[Any] | None:
                return [m for m in await smtp_peer.queued() if m.rcpt_tos == [to]] or None

            [sent] = await eventually(confirmed, "the confirmation sent")
            filed = await email_envelopes(daemon)
            [envelope] = [e for e in filed if e["sender"]["address"] == citizen]
            async with daemon.backend() as backend:
                number = envelope["ticket"]["number"]
                [notice] = (await backend.get(f"/api/v1/tickets/{number}")).json()["notifications"]
            notices[citizen] = (notice["id"], sent.mail_from)

        def plain(verp: str, subject: str, text: str, more: str = "") -> bytes:
            return (
                f"From: Mail Delivery System <MAILER-DAEMON@relay.mail.example>\r\nTo: {verp}\r\n"
                f"{more}Subject: {subject}\r\nContent-Type: text/plain\r\n\r\n{text}"
            ).encode()

        ivans, ivans_verp = notices[CITIZEN]
        # The relay's warning first: it goes on trying, which fails nothing.
        warning = plain(ivans_verp, "Undelivered mail: still trying",
                        f"Message delivery to '{CITIZEN}' delayed: mailbox busy.\r\n"
                        "Delivery will be retried for 2 more days.\r\n")  # fmt: skip
        await trio.to_thread.run_sync(lmtp, port, "", [ivans_verp], warning)

        async def told() -> list[str] | None:
            return [line for line in log_text_lines(daemon) if "no outcome yet" in line] or None

        await eventually(told, "the warning filed")
        assert await notification_in(daemon, ivans, "sent") is not None
        failure = plain(ivans_verp, "Undeliverable: Вопрос",
                        f"Message delivery to '{CITIZEN}' failed:\r\n"
                        "No such mailbox: User unknown\r\n")  # fmt: skip
        await trio.to_thread.run_sync(lmtp, port, "", [ivans_verp], failure)
        failed = await eventually(
            lambda: notification_in(daemon, ivans, "dead"), "the plain bounce applied"
        )
        assert failed["last_error"].endswith("failed: No such mailbox: User unknown")
        assert [h["state"] for h in failed["history"]][-2:] == ["failed", "dead"]

        annas, annas_verp = notices[anna]
        exim = plain(annas_verp, "Mail delivery failed: returning message to sender",
                     "This message was created automatically by mail delivery software.\r\n\r\n"
                     "A message that you sent could not be delivered to one or more of its\r\n"
                     "recipients. This is a permanent error. The following address(es) failed:"
                     f"\r\n\r\n  {anna}\r\n    Unrouteable address\r\n",
                     more=f"X-Failed-Recipients: {anna}\r\n")  # fmt: skip
        await trio.to_thread.run_sync(lmtp, port, "", [annas_verp], exim)
        failed = await eventually(
            lambda: notification_in(daemon, annas, "dead"), "Exim's bounce applied"
        )
        assert failed["last_error"] == "bounced: Unrouteable address"
        async with daemon.admin() as admin:
            listed = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
        assert sorted((e["address"], e["reason"]) for e in listed) == [
            (anna, "bounced"), (CITIZEN, "bounced")
        ]  # fmt: skip
        assert len(await email_envelopes(daemon)) == 2  # no bounce filed as a message
    finally:
        daemon.stop()


async def test_mailbox_mail_is_filed_then_moved_and_an_oversize_one_kept_flagged(
    tmp_path: Path, smtp_peer: SmtpPeer, dovecot: Dovecot
) -> None:
    dovecot.create_folder("support", "Processed")
    daemon, _ = email_daemon(tmp_path / "daemon", smtp_peer, dovecot)
    daemon.edit_router('[attachments.limits.email]\nfile = "10MB"\nmessage = "10MB"',
                       '[attachments.limits.email]\nfile = "10MB"\nmessage = "20KB"')  # fmt: skip
    raw = citizens_mail("Справка", "Нужна справка о доходах", message_id="<m2@mail.example>")
    dovecot.append("support", "INBOX", raw)
    big = citizens_mail("Скан", "Скан паспорта\n" + "x" * 40_000, message_id="<m3@mail.example>")
    big_uid = dovecot.append("support", "INBOX", big)
    daemon.start()
    try:

        async def two() -> list[dict[str, Any]] | None:
            found = await email_envelopes(daemon)
            return found if len(found) == 2 else None

        filed = {e["channel_message_id"]: e for e in await eventually(two, "both filed")}
        assert filed["<m2@mail.example>"]["text"] == "Нужна справка о доходах"
        assert "oversize" in filed["<m3@mail.example>"]["flags"]

        async def moved() -> list[int] | None:
            return (
                await trio.to_thread.run_sync(
                    functools.partial(dovecot.uids, "support", "Processed")
                )
                or None
            )

        assert len(await eventually(moved, "the filed mail moved")) == 1
        # Its sender is told, once, that it did not come and how to send it.

        # (A confirmation threads to the conversation's newest message when it goes: which
        # answer names which message depends on timing, so the answers are read by content.)
        async def explanations() -> list[str] | None:
            texts = [
                BytesParser(policy=default).parsebytes(sent.data).get_body(("plain",)).get_content()
                for sent in await smtp_peer.queued()
            ]
            found = [t for t in texts if "письмо больше допустимого размера и не получено" in t]
            return found or None

        [explained] = await eventually(explanations, "the oversize mail's sender told")
        assert "Скан" not in explained  # nothing of what the sender wrote echoed
        # The oversize one stays where it was, flagged for the mailbox's owner; never deleted.
        assert dovecot.uids("support", "INBOX") == [big_uid]
        assert {"\\Flagged", "$TooBig"} <= dovecot.flags("support", "INBOX", big_uid)
    finally:
        daemon.stop()


async def test_a_mailbox_server_restarted_mid_idle_loses_nothing(
    tmp_path: Path, smtp_peer: SmtpPeer, dovecot: Dovecot
) -> None:
    """Read over STARTTLS (RFC 2595), which aioimaplib lacks and the adapter adds."""
    dovecot.create_folder("support", "Processed")
    daemon, _ = email_daemon(tmp_path / "daemon", smtp_peer, dovecot, imap_security="starttls")
    daemon.start()
    try:
        dovecot.append("support", "INBOX", citizens_mail("Один", "Первое", message_id="<i1@m>"))
        await eventually(lambda: email_envelopes(daemon), "the first filed")
        # The reader is in IDLE now; the server goes away and comes back with new mail.
        await trio.to_thread.run_sync(dovecot.restart)
        dovecot.append("support", "INBOX", citizens_mail("Два", "Второе", message_id="<i2@m>"))

        async def both() -> list[dict[str, Any]] | None:
            found = await email_envelopes(daemon)
            return found if len(found) == 2 else None

        filed = await eventually(both, "the mail after the restart filed")
        assert {e["channel_message_id"] for e in filed} == {"<i1@m>", "<i2@m>"}
        async with daemon.admin() as admin:
            status = (await admin.get("/api/v1/admin/status")).json()
        account = status["channels"]["email"]["accounts"]["support"]
        assert account["restarts"] >= 1 and account["state"] == "up"
    finally:
        daemon.stop()


async def test_a_daemon_killed_while_reading_a_mailbox_files_each_mail_once(
    tmp_path: Path, smtp_peer: SmtpPeer, dovecot: Dovecot
) -> None:
    """Killed wherever it was (fetched, committed, moved, or between), nothing is lost and
    nothing is filed twice: the state and the Message-ID keys say what was done."""
    dovecot.create_folder("support", "Processed")
    daemon, _ = email_daemon(tmp_path / "daemon", smtp_peer, dovecot)
    ids = [f"<k{n}@mail.example>" for n in range(30)]
    for n, message_id in enumerate(ids):
        dovecot.append("support", "INBOX", citizens_mail(f"Вопрос {n}", f"Текст {n}",
                                                         message_id=message_id))  # fmt: skip
    daemon.start()
    try:

        async def some() -> list[dict[str, Any]] | None:
            found = await email_envelopes(daemon)
            return found if len(found) >= 3 else None

        await eventually(some, "some filed")
        daemon.kill()
        daemon.start()

        async def every() -> list[dict[str, Any]] | None:
            found = await email_envelopes(daemon)
            return found if len(found) >= len(ids) else None

        filed = await eventually(every, "every mail filed after the restart")
        assert sorted(e["channel_message_id"] for e in filed) == sorted(ids)

        async def all_moved() -> list[int] | None:
            left = await trio.to_thread.run_sync(functools.partial(dovecot.uids, "support"))
            return None if left else [0]

        await eventually(all_moved, "every mail moved out of the INBOX")
        assert len(dovecot.uids("support", "Processed")) == len(ids)
    finally:
        daemon.stop()


async def test_a_submission_server_that_defers_is_tried_again(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    await smtp_peer.answer("451 4.3.0 Temporary failure, try later", count=1)
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    daemon.start()
    try:
        raw = citizens_mail("Вопрос", "Когда будет ответ?", message_id="<d1@mail.example>")
        await trio.to_thread.run_sync(lmtp, port, CITIZEN, [SUPPORT], raw)
        [envelope] = await eventually(lambda: email_envelopes(daemon), "the mail filed")
        await eventually(smtp_peer.queued, "the confirmation taken on the second try")
        tries = [m for m in await smtp_peer.messages() if m.rcpt_tos == [CITIZEN]]
        assert [m.reply[:3] if m.reply else None for m in tries] == ["451", "250"]
        first, second = (BytesParser(policy=default).parsebytes(m.data) for m in tries)
        assert first["Message-ID"] == second["Message-ID"]  # the same notice: it can dedupe
        async with daemon.backend() as backend:
            number = envelope["ticket"]["number"]
            [notice] = (await backend.get(f"/api/v1/tickets/{number}")).json()["notifications"]
            found = (await backend.get(f"/api/v1/notifications/{notice['id']}")).json()
        assert found["state"] == "sent" and found["attempts"] == 2
        assert "SMTP 451" in found["history"][-3]["reason"]
    finally:
        daemon.stop()


async def test_a_submission_server_that_refuses_the_address_fails_the_notice(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    await smtp_peer.refuse(CITIZEN)
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    daemon.start()
    try:
        raw = citizens_mail("Вопрос", "Где мой ответ?", message_id="<r1@mail.example>")
        await trio.to_thread.run_sync(lmtp, port, CITIZEN, [SUPPORT], raw)
        [envelope] = await eventually(lambda: email_envelopes(daemon), "the mail filed")
        number = envelope["ticket"]["number"]

        async with daemon.backend() as backend:
            [notice] = (await backend.get(f"/api/v1/tickets/{number}")).json()["notifications"]
        failed = await eventually(
            lambda: notification_in(daemon, notice["id"], "dead"), "the refused notice failed"
        )
        assert failed["attempts"] == 1 and failed["last_error"].startswith("SMTP 550 5.1.1")
        assert await smtp_peer.queued() == []
    finally:
        daemon.stop()


async def test_a_mailbox_read_by_polling_where_idle_is_not_used(
    tmp_path: Path, smtp_peer: SmtpPeer, dovecot: Dovecot
) -> None:
    dovecot.create_folder("support", "Processed")
    daemon, _ = email_daemon(
        tmp_path / "daemon", smtp_peer, dovecot, imap_extra='idle = false\npoll_interval = "1s"'
    )
    daemon.start()
    try:
        dovecot.append("support", "INBOX", citizens_mail("Опрос", "Первое", message_id="<p1@m>"))
        await eventually(lambda: email_envelopes(daemon), "the first mail read")
        dovecot.append("support", "INBOX", citizens_mail("Опрос", "Второе", message_id="<p2@m>"))

        async def both() -> list[dict[str, Any]] | None:
            found = await email_envelopes(daemon)
            return found if len(found) == 2 else None

        await eventually(both, "the next mail read at the next poll")
    finally:
        daemon.stop()


async def test_several_folders_with_russian_names(
    tmp_path: Path, smtp_peer: SmtpPeer, dovecot: Dovecot
) -> None:
    """Folders named as people name them, sent as IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    citizens, done = mailbox("Обращения граждан").strip('"'), mailbox("Обработано").strip('"')
    dovecot.create_folder("support", citizens)
    dovecot.create_folder("support", done)
    daemon, _ = email_daemon(tmp_path / "daemon", smtp_peer, dovecot)
    settings = daemon.config / "channels" / "email.toml"
    settings.write_text(
        settings.read_text().replace(
            'processed_folder = "Processed"',
            'folders = ["INBOX", "Обращения граждан"]\nprocessed_folder = "Обработано"',
        )
    )
    dovecot.append("support", citizens, citizens_mail("Папка", "Из папки", message_id="<f1@m>"))
    dovecot.append("support", "INBOX", citizens_mail("Входящие", "Из INBOX", message_id="<f2@m>"))
    daemon.start()
    try:

        async def both() -> list[dict[str, Any]] | None:
            found = await email_envelopes(daemon)
            return found if len(found) == 2 else None

        filed = await eventually(both, "the mail of both folders filed")
        assert {e["channel_message_id"] for e in filed} == {"<f1@m>", "<f2@m>"}

        async def moved() -> list[int] | None:
            uids = await trio.to_thread.run_sync(functools.partial(dovecot.uids, "support", done))
            return uids if len(uids) == 2 else None

        await eventually(moved, "both moved to «Обработано»")
        assert dovecot.uids("support", citizens) == []
    finally:
        daemon.stop()


async def test_a_citizen_is_answered_from_the_mailbox_they_wrote_to(
    tmp_path: Path, smtp_peer: SmtpPeer
) -> None:
    """Two of our addresses: the confirmation of a mail to the second comes from the second,
    not from the first account that sends."""
    daemon, port = email_daemon(tmp_path / "daemon", smtp_peer)
    config = daemon.config / "channels" / "email.toml"
    first = config.read_text().split("[accounts.support]", 1)[1]
    second = first.replace(SUPPORT, PRIEM).replace("[accounts.support.", "[accounts.priem.")
    config.write_text(config.read_text() + "[accounts.priem]" + second)
    daemon.start()
    try:
        raw = citizens_mail("Запись на приём", "Хочу записаться", message_id="<p1@mail.example>")
        await trio.to_thread.run_sync(lmtp, port, CITIZEN, [PRIEM], raw)
        [envelope] = await eventually(lambda: email_envelopes(daemon), "the mail filed")
        assert envelope["channel_account"] == "priem"
        [sent] = await eventually(smtp_peer.queued, "the confirmation sent")
        confirmation = BytesParser(policy=default).parsebytes(sent.data)
        assert confirmation["From"].addresses[0].addr_spec == PRIEM
        assert sent.mail_from.startswith("priem+n.")  # its bounces come back to it too
    finally:
        daemon.stop()
