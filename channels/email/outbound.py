"""Notices out as mail through an account's submission server (aiosmtplib, RFC 5321/6409).

A notice is one MIME message, composed the same way on every attempt: its Message-ID is the
notice's (so a server that took it before can tell), it answers the citizen's message
(In-Reply-To, References) under the Subject the router tagged with the ticket, carries text
and HTML in UTF-8 and the operator's files, says it was sent automatically when it was (RFC
3834 Auto-Submitted), and goes from the VERP form of the account's address, so that a bounce comes
back to our intake naming the notice. A 4xx answer is tried again later, a 5xx fails the notice
for good; the server's queue id is kept as the peer's reference, beside the Message-ID a bounce
names.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

import aiosmtplib
import dkim
import trio_asyncio

from channels.contract import DeliveryFailed, Outbound, OutboundFile, Sent

from .bounces import verp_sender
from .config import EmailAccount, SmtpSettings
from .loops import NOTICE_HEADER, notice_message_id

# Postfix, Exim, Exchange and the big services all say "queued as ID" (or "OK id=ID", Exim).
_QUEUE_ID = re.compile(r"(?:queued as|id=)\s*<?([A-Za-z0-9._-]+)>?", re.IGNORECASE)
# What a reader of our mail needs to check a DKIM signature against (RFC 6376 5.4.1).
_SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to",
                   b"references", b"auto-submitted", b"mime-version", b"content-type")  # fmt: skip


def compose(
    notice: Outbound,
    account: EmailAccount,
    files: Sequence[tuple[OutboundFile, bytes]] = (),
) -> EmailMessage:
    """The notice as a MIME message, the same on every attempt."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr((account.display_name, account.address))
    mail["To"] = notice.address
    mail["Subject"] = notice.subject or ""  # tagged with the ticket by the router
    mail["Date"] = format_datetime(_moment(notice.created_at))
    mail["Message-ID"] = notice_message_id(notice.id, account.address)
    threading = notice.threading
    if threading.in_reply_to is not None:
        mail["In-Reply-To"] = threading.in_reply_to
    if threading.references:
        mail["References"] = " ".join(threading.references)
    if notice.automatic:
        # RFC 3834 5: auto-replied answers a message; auto-generated is a notice of our own.
        mail["Auto-Submitted"] = "auto-replied" if notice.answers else "auto-generated"
    mail[NOTICE_HEADER] = notice.id
    mail.set_content(notice.text, charset="utf-8")
    if notice.html is not None:
        mail.add_alternative(notice.html, subtype="html", charset="utf-8")
    for described, content in files:
        maintype, _, subtype = described.content_type.partition("/")
        mail.add_attachment(
            content, maintype=maintype, subtype=subtype or "octet-stream",
            filename=described.filename,
        )  # fmt: skip
    return mail


def signed(mail: EmailMessage, account: EmailAccount, key: bytes) -> bytes:
    """The message's bytes with a DKIM-Signature of the account's domain (RFC 6376)."""
    raw = mail.as_bytes()
    dkim_settings = account.dkim
    if dkim_settings is None:
        return raw
    signature: bytes = dkim.sign(
        raw,
        dkim_settings.selector.encode(),
        dkim_settings.domain.encode(),
        key,
        include_headers=[h for h in _SIGNED_HEADERS if mail[h.decode()] is not None],
    )
    return signature + raw


async def submit(
    raw: bytes,
    notice: Outbound,
    account: EmailAccount,
    settings: SmtpSettings,
    credentials: tuple[str, str] | None,
    context: ssl.SSLContext | None,
) -> Sent:
    """Hand the message to the submission server; the Message-ID and its queue id, or
    DeliveryFailed (4xx and no answer: again later; 5xx: for good)."""
    sender = verp_sender(account.address, notice.id) if settings.verp else account.address
    username, password = credentials or (None, None)
    try:
        _, answer = await trio_asyncio.aio_as_trio(aiosmtplib.send)(
            raw,
            sender=sender,
            recipients=[notice.address],
            hostname=settings.host,
            port=settings.port,
            username=username,
            password=password,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            tls_context=context,
            timeout=settings.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as refused:
        [answer_to_rcpt] = refused.recipients
        raise _failed(answer_to_rcpt.code, answer_to_rcpt.message) from None
    except aiosmtplib.SMTPResponseException as error:
        raise _failed(error.code, error.message) from None
    except (aiosmtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"SMTP {settings.host}: {type(error).__name__}: {error}") from None
    queued = _QUEUE_ID.search(answer)
    message_id = notice_message_id(notice.id, account.address)
    # A server that names no queue id ("2.0.0 Ok") gives nothing to tell notices apart by.
    return Sent(references=(message_id, queued[1]) if queued else (message_id,))


def _failed(code: int, message: str) -> DeliveryFailed:
    """An SMTP refusal as the outbox's outcome: 5xx for good (RFC 5321 4.2.1), else later."""
    reason = f"SMTP {code} {' '.join(message.split())}"
    return DeliveryFailed(reason, permanent=500 <= code < 600)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
