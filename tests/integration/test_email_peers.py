"""The email channel's peers: the private Dovecot and the SMTP peer do what the tests rely on."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import aioimaplib
import aiosmtplib
import pytest
import trio_asyncio

from tests.dovecot import Dovecot, DovecotError, dovecot, dovecot_server
from tests.smtp_peer import SmtpPeer, smtp_peer, smtp_peer_server

__all__ = ["dovecot", "dovecot_server", "smtp_peer", "smtp_peer_server"]  # for pytest to find

pytestmark = pytest.mark.integration

# Bounds on waits that succeed at once when the peer works; never a measured duration.
DEADLINE = 10.0
RAW = (
    b"From: =?utf-8?b?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <citizen@mail.example>\r\n"
    b"To: support@gov.example\r\n"
    b"Subject: =?utf-8?b?0J/RgNC+0YjRgyDQv9C+0LzQvtGH0Yw=?=\r\n"
    b"Message-ID: <first@mail.example>\r\n"
    b"\r\n"
    b"Body line\r\n"
)


def verifying(cafile: Path) -> ssl.SSLContext:
    """A client context that trusts only the peer's own CA, and checks the host name."""
    return ssl.create_default_context(cafile=str(cafile))


@pytest.fixture
async def asyncio_loop() -> AsyncIterator[None]:
    """The trio-asyncio loop the asyncio mail libraries run in, as in the daemon."""
    async with trio_asyncio.open_loop():
        yield


def outbound(recipients: str = "citizen@mail.example") -> EmailMessage:
    """A notice as the channel would send it."""
    message = EmailMessage()
    message["From"] = "support@gov.example"
    message["To"] = recipients
    message["Subject"] = "Обращение [№2600000128] зарегистрировано"
    message["Message-ID"] = "<notice-1@gov.example>"
    message.set_content("Ваше обращение зарегистрировано.")
    return message


# IMAP


def test_login_over_starttls_with_the_certificate_verified(dovecot: Dovecot) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=DEADLINE)
    client.starttls(verifying(dovecot.cafile))
    assert client.login("citizen", dovecot.users["citizen"])[0] == "OK"
    client.logout()


def test_login_over_implicit_tls_and_a_wrong_password_is_refused(dovecot: Dovecot) -> None:
    client = imaplib.IMAP4_SSL(
        dovecot.host, dovecot.tls_port, ssl_context=verifying(dovecot.cafile)
    )
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("support", "not the password")
    assert client.login("support", dovecot.users["support"])[0] == "OK"
    client.logout()


def test_a_client_that_does_not_trust_the_test_ca_is_refused(dovecot: Dovecot) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=ssl.create_default_context())


def test_append_uids_flags_and_folders_round_trip(dovecot: Dovecot) -> None:
    first = dovecot.append("support", "INBOX", RAW)
    second = dovecot.append("support", "INBOX", RAW.replace(b"first@", b"second@"), ["\\Seen"])
    dovecot.create_folder("support", "Processed")
    moved = dovecot.append("support", "Processed", RAW, ["\\Flagged", "$Omnirouter"])

    assert dovecot.uids("support") == [first, second]
    assert first < second
    assert dovecot.flags("support", "INBOX", first) == frozenset()
    assert dovecot.flags("support", "INBOX", second) == {"\\Seen"}
    assert dovecot.flags("support", "Processed", moved) == {"\\Flagged", "$Omnirouter"}
    assert dovecot.message("support", "INBOX", first) == RAW
    # Reading a message through the handle does not mark it read.
    assert dovecot.flags("support", "INBOX", first) == frozenset()
    assert dovecot.folders("support") == ["INBOX", "Processed"]
    assert dovecot.uids("citizen") == []
    with pytest.raises(DovecotError, match="no UID"):
        dovecot.message("support", "INBOX", second + 1)


def test_reset_empties_every_mailbox(dovecot: Dovecot) -> None:
    dovecot.create_folder("other", "Archive")
    dovecot.append("other", "Archive", RAW)
    dovecot.append("other", "INBOX", RAW)

    dovecot.reset()

    assert dovecot.folders("other") == ["INBOX"]
    assert dovecot.uids("other") == []


async def test_idle_announces_a_new_message(dovecot: Dovecot, asyncio_loop: None) -> None:
    async def idle_until_push() -> list[bytes]:
        client = aioimaplib.IMAP4_SSL(
            dovecot.host, dovecot.tls_port, ssl_context=verifying(dovecot.cafile)
        )
        await client.wait_hello_from_server()
        await client.login("support", dovecot.users["support"])
        await client.select("INBOX")
        idle = await client.idle_start(timeout=DEADLINE)
        dovecot.append("support", "INBOX", RAW)
        push: list[bytes] = await client.wait_server_push(timeout=DEADLINE)
        client.idle_done()
        await asyncio.wait_for(idle, DEADLINE)
        await client.logout()
        return push

    push = await trio_asyncio.aio_as_trio(idle_until_push)()

    assert b"1 EXISTS" in push


async def test_restart_mid_idle_drops_the_client_and_keeps_mail_and_uidvalidity(
    dovecot: Dovecot, asyncio_loop: None
) -> None:
    uid = dovecot.append("support", "INBOX", RAW)
    uidvalidity = dovecot.uidvalidity("support")

    async def idle_through_restart() -> None:
        lost = asyncio.Event()
        # IMAP4_SSL does not pass conn_lost_cb on; IMAP4 with a context is the same client.
        client = aioimaplib.IMAP4(
            dovecot.host,
            dovecot.tls_port,
            ssl_context=verifying(dovecot.cafile),
            conn_lost_cb=lambda _: lost.set(),
        )
        await client.wait_hello_from_server()
        await client.login("support", dovecot.users["support"])
        await client.select("INBOX")
        await client.idle_start(timeout=DEADLINE)
        dovecot.restart()
        await asyncio.wait_for(lost.wait(), DEADLINE)

    await trio_asyncio.aio_as_trio(idle_through_restart)()

    assert dovecot.uids("support") == [uid]
    assert dovecot.uidvalidity("support") == uidvalidity
    assert dovecot.message("support", "INBOX", uid) == RAW


def test_a_stopped_server_refuses_connections_and_comes_back_with_the_mail(
    dovecot: Dovecot,
) -> None:
    uid = dovecot.append("citizen", "INBOX", RAW)

    dovecot.stop()
    with pytest.raises(ConnectionRefusedError):
        imaplib.IMAP4(dovecot.host, dovecot.port, timeout=DEADLINE)
    dovecot.start()

    assert dovecot.uids("citizen") == [uid]


# SMTP


async def send(
    peer: SmtpPeer,
    message: EmailMessage,
    *,
    implicit_tls: bool = False,
    password: str | None = None,
    recipients: list[str] | None = None,
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """Submit `message` as the channel would: verified TLS, AUTH as the test user."""
    result: tuple[dict[str, aiosmtplib.SMTPResponse], str] = await trio_asyncio.aio_as_trio(
        aiosmtplib.send
    )(
        message,
        recipients=recipients,
        hostname=peer.host,
        port=peer.tls_port if implicit_tls else peer.port,
        use_tls=implicit_tls,
        start_tls=not implicit_tls,
        tls_context=verifying(peer.cafile),
        username=peer.user,
        password=peer.password if password is None else password,
        timeout=DEADLINE,
    )
    return result


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "implicit-tls"])
async def test_a_submitted_message_is_listed_with_its_queue_id(
    smtp_peer: SmtpPeer, asyncio_loop: None, implicit_tls: bool
) -> None:
    message = outbound()
    refused, reply = await send(smtp_peer, message, implicit_tls=implicit_tls)

    [received] = await smtp_peer.messages()
    assert refused == {}
    assert received.queue_id is not None
    assert reply == f"2.0.0 Ok: queued as {received.queue_id}"
    assert received.mail_from == "support@gov.example"
    assert received.rcpt_tos == ["citizen@mail.example"]
    assert received.login == smtp_peer.user
    assert received.tls
    sent = BytesParser(policy=policy.default).parsebytes(received.data)
    assert sent["Message-ID"] == message["Message-ID"]
    assert sent["Subject"] == message["Subject"]
    assert sent.get_content().splitlines() == message.get_content().splitlines()


async def test_each_message_gets_a_fresh_queue_id(smtp_peer: SmtpPeer, asyncio_loop: None) -> None:
    await send(smtp_peer, outbound())
    await send(smtp_peer, outbound())

    first, second = await smtp_peer.queued()
    assert first.queue_id != second.queue_id


async def test_auth_is_required_and_a_wrong_password_refused(
    smtp_peer: SmtpPeer, asyncio_loop: None
) -> None:
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await send(smtp_peer, outbound(), password="wrong")
    assert refused.value.code == 535
    unauthenticated = trio_asyncio.aio_as_trio(aiosmtplib.send)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as sender_refused:
        await unauthenticated(
            outbound(),
            hostname=smtp_peer.host,
            port=smtp_peer.port,
            start_tls=True,
            tls_context=verifying(smtp_peer.cafile),
            timeout=DEADLINE,
        )
    assert sender_refused.value.code == 530

    await smtp_peer.require_auth(False)
    await unauthenticated(
        outbound(),
        hostname=smtp_peer.host,
        port=smtp_peer.port,
        start_tls=True,
        tls_context=verifying(smtp_peer.cafile),
        timeout=DEADLINE,
    )
    [received] = await smtp_peer.queued()
    assert received.login is None


async def test_scripted_deferral_then_acceptance(smtp_peer: SmtpPeer, asyncio_loop: None) -> None:
    await smtp_peer.answer("451 4.3.0 Error: queue file write error", count=2)

    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
            await send(smtp_peer, outbound())
        assert deferred.value.code == 451
    await send(smtp_peer, outbound())

    replies = [m.reply for m in await smtp_peer.messages()]
    assert replies[:2] == ["451 4.3.0 Error: queue file write error"] * 2
    assert replies[2] is not None
    assert replies[2].startswith("250 2.0.0 Ok: queued as ")


async def test_a_refused_recipient_gets_550_and_the_others_the_message(
    smtp_peer: SmtpPeer, asyncio_loop: None
) -> None:
    await smtp_peer.refuse("Gone@Mail.Example")

    refused, _ = await send(
        smtp_peer, outbound(), recipients=["gone@mail.example", "citizen@mail.example"]
    )

    assert refused["gone@mail.example"].code == 550
    assert refused["gone@mail.example"].message.startswith(
        "5.1.1 <gone@mail.example>: Recipient address rejected"
    )
    [received] = await smtp_peer.queued()
    assert received.rcpt_tos == ["citizen@mail.example"]


async def test_a_dropped_connection_after_data_answers_nothing(
    smtp_peer: SmtpPeer, asyncio_loop: None
) -> None:
    await smtp_peer.drop()

    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await send(smtp_peer, outbound())

    [received] = await smtp_peer.messages()
    assert received.reply is None
    assert received.queue_id is None
    assert received.rcpt_tos == ["citizen@mail.example"]
