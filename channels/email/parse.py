"""A journalled mail read after the commit: a citizen's message (RawInbound), or a bounce of one
of our notices (DeliveryReport).

What the message says comes from mime.read; who sent it counts as verified only as far as our
MTA's Authentication-Results prove it (identity.py); mail no one should answer automatically
(RFC 3834, out-of-office replies) is filed flagged `auto_submitted`; a reply that only quotes is
flagged `quoted_only`; a delivery report is never filed as a message but fails the notice it
names (bounces.py).
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

from channels.contract import (
    DeliveryReport,
    InboundFile,
    RawInbound,
    Received,
    Sender,
    Unparseable,
)

from . import mime
from .bounces import Bounce, read_bounce
from .config import EmailFile
from .identity import verified_sender
from .loops import auto_reply_forbidden, from_mail_system, is_out_of_office, notice_message_id

_parser = BytesParser(policy=default)


def parse(received: Received, settings: Callable[[], EmailFile]) -> RawInbound | DeliveryReport:
    """The mail `received` holds, as the router files it."""
    file = settings()
    ours = [account.address for account in file.accounts.values()]
    envelope_sender = received.metadata.get("mail_from")
    headers = _parser.parsebytes(received.payload, headersonly=True)
    if _may_be_a_report(headers, received, envelope_sender):
        whole = _parser.parsebytes(received.payload)
        bounce = read_bounce(
            whole,
            account_addresses=ours,
            recipient=received.metadata.get("rcpt_to"),
            envelope_sender=envelope_sender,
        )
        if bounce is not None:
            return _report(bounce, ours, file.loops.bounce_suppression)
    mail = mime.read(received.payload)
    # No From we can read: the envelope's sender (LMTP's MAIL FROM), unverified as any.
    address = mail.from_address or envelope_sender or None
    if address is None:
        raise Unparseable("the message has no single From address, nor an envelope sender")
    account = file.accounts.get(received.account)
    authserv_id = None if account is None else account.authserv_id
    verification = verified_sender(headers, authserv_id=authserv_id) if authserv_id else None
    # Too big to fetch: only its header was committed (imap.py), the message kept on the server.
    flags = ["oversize"] if "oversize" in received.metadata else []
    if mail.from_address is None:  # the envelope's sender stands in, as said above
        flags.append("malformed_sender")
    if mail.quoted_only:
        # The text is the quote of what the citizen answers (our confirmation, say) and not a
        # word of theirs: the normaliser then reads a command from the Subject.
        flags.append("quoted_only")
    if auto_reply_forbidden(
        headers, our_addresses=ours, envelope_sender=envelope_sender
    ) or is_out_of_office(headers):
        flags.append("auto_submitted")
    return RawInbound(
        channel="email",
        account=received.account,
        idempotency_key=received.idempotency_key,
        channel_message_id=mail.message_id or received.idempotency_key,
        sender=Sender(
            "email",
            address.lower(),
            mail.from_display or None,
            verified=mail.from_address is not None
            and verification is not None
            and verification.verified,
        ),
        # What the citizen wrote now; all of it when stripping left nothing to read.
        text=mail.text or mail.full_text,
        subject=mail.subject,
        html=mail.html,
        in_reply_to=mail.in_reply_to,
        references=list(mail.references),
        referable=mail.message_id is not None,
        received_at=received.received_at,
        flags=flags,
        files=[
            InboundFile(attachment.filename, attachment.content_type, attachment.content)
            for attachment in mail.attachments
        ],
    )


def _may_be_a_report(
    headers: EmailMessage, received: Received, envelope_sender: str | None
) -> bool:
    """Worth reading whole for a delivery report: sent to a notice's VERP address, by a mail
    system, or a multipart/report. A citizen's mail, nearly all there is, is none of these."""
    return (
        "verp_notice" in received.metadata
        or headers.get_content_type() == "multipart/report"
        or from_mail_system(headers, envelope_sender=envelope_sender)
    )


def _report(bounce: Bounce, ours: list[str], suppress_for: float) -> DeliveryReport:
    """A delivery report as the router applies it: the notice it names failed for good, or
    delivered (every recipient `delivered`), or left alone (delayed, relayed, expanded: no
    outcome yet); a permanent failure's recipient suppressed."""
    verp: list[str] = []
    if bounce.notice_id is not None:
        # Our notices' Message-IDs are made from their ids (loops.notice_message_id), and each
        # notice's references hold it: the VERP address names the notice exactly. Its domain
        # is the account's whose VERP address it came back to, unknown here: one per domain.
        domains = dict.fromkeys(address.rpartition("@")[2].lower() for address in ours)
        verp = [notice_message_id(bounce.notice_id, f"x@{d}") for d in domains]
    returned = [bounce.message_id] if bounce.message_id is not None else []
    if not bounce.recipients:
        return _unnamed_recipient(bounce, verp, returned, suppress_for)
    actions = [recipient.action for recipient in bounce.recipients]
    failed = [recipient for recipient in bounce.recipients if recipient.action == "failed"]
    delivered: bool | None = None
    if failed:
        delivered = False
    elif actions and all(action == "delivered" for action in actions):
        delivered = True
    reason = "; ".join(
        " ".join(filter(None, [recipient.status, recipient.diagnostic])) for recipient in failed
    )
    # A 5.x.x status first; else one without a code, which the report's words judged (Exim's
    # "This is a permanent error" over "Unrouteable address").
    unreachable = next((r.address for r in failed if r.permanent), None) or next(
        (r.address for r in failed if r.status is None), None
    )
    return DeliveryReport(
        references=list(dict.fromkeys(verp + returned)),
        delivered=delivered,
        reason=(f"bounced: {reason}" if reason else "bounced") if failed else None,
        unreachable=unreachable if bounce.permanent else None,
        suppress_for=suppress_for if bounce.permanent else None,
    )


def _unnamed_recipient(
    bounce: Bounce, verp: list[str], returned: list[str], suppress_for: float
) -> DeliveryReport:
    """A report whose recipients cannot be read ("Message delivery to 'x' failed: ..."), as its
    words judge it."""
    if not bounce.permanent:  # a delay, or words that tell nothing: no outcome yet
        return DeliveryReport(references=list(dict.fromkeys(verp + returned)), delivered=None)
    return DeliveryReport(
        # VERP is the source of truth: a quoted Message-ID counts only without one, as it may
        # be any notice's (a report on a forward of it) where the VERP sender is this one's.
        references=list(dict.fromkeys(verp or returned)),
        delivered=False,
        reason=f"bounced: {bounce.words}" if bounce.words else "bounced",
        # A notice goes to one address, so a report back to its own VERP sender is on that
        # address: `unreachable` None says so (DeliveryReport). A quoted Message-ID alone names
        # no address to check the report against: it suppresses no one.
        suppress_for=suppress_for if verp else None,
    )
