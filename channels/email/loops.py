"""Loop protection (RFC 3834): which mail gets no automatic reply, which mail is an
out-of-office reply, and how our own outbound names itself. How many automatic replies one
address may get is the router's [notifier] limit per contact, the same on every channel."""

from __future__ import annotations

import re
from collections.abc import Collection
from email.message import EmailMessage
from email.utils import parseaddr

from channels.email.headers import addresses, first_value, text_value
from channels.subjects import without_reply_prefixes

# The header every notice we send carries, its value the notice id: mail that comes back with it
# (a citizen's server redirecting it to us, an alias looping to itself) is our own. A Message-ID
# of ours (notice_message_id) says the same where a forwarder drops unknown headers.
NOTICE_HEADER = "X-Omnirouter-Notice"
_NOTICE_ID = "[0-9A-HJKMNP-TV-Z]{26}"  # router/ulid.py: a ULID in Crockford base32


def notice_message_id(notice_id: str, account_address: str) -> str:
    """The Message-ID of a notice, the same on every attempt so the peer can dedupe it."""
    return f"<{notice_id.upper()}.notice@{_domain(account_address)}>"


# RFC 3834 2: no response to a local part "MAILER-DAEMON", "LISTSERV", "majordomo", ending in
# "-request" or starting with "owner-"; "postmaster" (RFC 5321 4.5.1) answers for the mail
# system, and "bounce(s)" is where mailing lists take their returns. The no-reply family is
# what senders write to say a reply reaches no one: no-reply, noreply, no_reply, do-not-reply,
# donotreply, and the same with a suffix ("noreply-dmarc-support").
_MAIL_SYSTEM = re.compile(r"mailer-daemon|postmaster|listserv|majordomo", re.IGNORECASE)
_NO_REPLY = re.compile(
    r"""(?:no|do[-_.]?not)[-_.]?reply(?:[-_.+].*)?
      | .+-request | owner-.+ | bounces?(?:[-_.+].*)?""",
    re.IGNORECASE | re.VERBOSE,
)


def mail_system_address(address: str) -> bool:
    """True if `address` is a mail system's own (MAILER-DAEMON, postmaster): it sends DSNs."""
    return _MAIL_SYSTEM.fullmatch(_local_part(address)) is not None


def from_mail_system(message: EmailMessage, *, envelope_sender: str | None = None) -> bool:
    """True if a mail system sent `message`: the null return path, or a MAILER-DAEMON or
    postmaster From (RFC 5321 4.5.5, and every MTA's default for its notifications)."""
    return _return_path(message, envelope_sender) == "" or any(
        map(mail_system_address, _senders(message))
    )


def _robot(address: str) -> bool:
    return mail_system_address(address) or _NO_REPLY.fullmatch(_local_part(address)) is not None


def auto_reply_forbidden(
    message: EmailMessage,
    *,
    our_addresses: Collection[str],
    envelope_sender: str | None = None,
) -> str | None:
    """Why `message` must get no automatic reply, or None if it may get one.

    `envelope_sender` is the SMTP MAIL FROM where the intake saw it ("" for the null sender of
    a bounce); over IMAP the Return-Path header the delivering MTA wrote says the same.
    """
    ours = {address.lower() for address in our_addresses}
    for check in _CHECKS:
        if (reason := check(message, ours)) is not None:
            return reason
    return_path = _return_path(message, envelope_sender)
    # RFC 3834 2: no response where it would go to the null address; RFC 5321 4.5.5: that
    # is the mail system's own reverse-path, and answering the From of such mail instead would
    # answer whoever a forged bounce names.
    if return_path == "":
        return "null return path (a mail system's message)"
    if return_path is not None and _robot(return_path):
        return "return path is a mail system or no-reply address"
    return None


def _auto_submitted(message: EmailMessage, ours: set[str]) -> str | None:
    # RFC 3834 5.1: any value but "no" (auto-generated, auto-replied, auto-notified); a
    # parameter may follow after ";".
    value = _token(message, "Auto-Submitted")
    return None if value in (None, "no") else f"Auto-Submitted: {value}"


def _precedence(message: EmailMessage, ours: set[str]) -> str | None:
    # No standard defines Precedence, but list servers and bulk senders set it.
    value = _token(message, "Precedence")
    return f"Precedence: {value}" if value in ("bulk", "list", "junk") else None


def _list_headers(message: EmailMessage, ours: set[str]) -> str | None:
    # RFC 2369 and RFC 2919: List-Id, List-Unsubscribe, List-Post... mark list mail.
    names = [name for name in message if name.lower().startswith("list-")]
    return f"{names[0]} header (list mail)" if names else None


def _suppression_asked(message: EmailMessage, ours: set[str]) -> str | None:
    # Microsoft's [MS-OXCMAIL]: the sender asks for no automatic replies (All, or AutoReply;
    # OOF alone only declines out-of-office replies, which we never send).
    value = (first_value(message, "X-Auto-Response-Suppress") or "").lower()
    asked = {part.strip() for part in value.split(",")}
    return "X-Auto-Response-Suppress" if asked & {"all", "autoreply"} else None


def _exchange_rule(message: EmailMessage, ours: set[str]) -> str | None:
    # Exchange stamps mail that an inbox rule (a forward, an out-of-office) generated.
    return "sent by an Exchange inbox rule" if "X-MS-Exchange-Inbox-Rules-Loop" in message else None


def _x_loop(message: EmailMessage, ours: set[str]) -> str | None:
    # X-Loop names the addresses a message has passed through (procmail, RT, list servers).
    looped = {address.lower() for address in addresses(message, "X-Loop")}
    return "X-Loop names our address" if looped & ours else None


def _from_robot(message: EmailMessage, ours: set[str]) -> str | None:
    robot = any(map(_robot, _senders(message)))
    return "From is a mail system or no-reply address" if robot else None


def _our_own(message: EmailMessage, ours: set[str]) -> str | None:
    if {address.lower() for address in _senders(message)} & ours:
        return "From is our own address"
    if NOTICE_HEADER in message:
        return f"{NOTICE_HEADER} (our own notice)"
    message_id = first_value(message, "Message-ID") or ""
    domains = "|".join(re.escape(_domain(address)) for address in ours)
    if domains and re.fullmatch(rf"<{_NOTICE_ID}\.notice@(?:{domains})>", message_id, re.I):
        return "Message-ID of our own notice"
    return None


_CHECKS = (
    _auto_submitted,
    _precedence,
    _list_headers,
    _suppression_asked,
    _exchange_rule,
    _x_loop,
    _from_robot,
    _our_own,
)

# Subjects of out-of-office replies. Clients' own start the subject: Outlook and Exchange
# ("Automatic reply:", «Автоматический ответ:», older «Автоответ:»), "Out of Office:",
# "Autoreply:". Those users write count as the whole subject («Нет на месте», «Я в отпуске»):
# «Я в отпуске за границей, как получить справку?» is a citizen's question.
_CLIENT_PHRASES = r"""automatic\s+reply|auto[-\s]?reply|auto-?response|out\s+of\s+(?:the\s+)?office
    |автоответ|автоматический\s+ответ"""
_USER_PHRASES = r"""нет\s+на\s+месте|я\s+в\s+отпуске|в\s+отпуске|отсутствую(?:\s+в\s+офисе)?
    |вне\s+офиса|on\s+vacation|away\s+from\s+(?:the\s+)?office|out\s+of\s+(?:the\s+)?office"""
_OOO_SUBJECT = re.compile(
    rf"(?:{_CLIENT_PHRASES})\s*(?:[:：]|\Z) | (?:{_USER_PHRASES})[\s.!]*\Z", re.I | re.VERBOSE
)
_OOO_WORDS = re.compile(f"{_CLIENT_PHRASES}|{_USER_PHRASES}", re.I | re.VERBOSE)


def is_out_of_office(message: EmailMessage) -> bool:
    """True if `message` is an out-of-office or vacation reply."""
    # Delivery reports (MTAs mark them "auto-replied", RFC 3834 5.2) and our own notices are
    # automatic replies too, but nobody's absence.
    report = message.get_content_type() == "multipart/report"
    if report or NOTICE_HEADER in message or any(map(mail_system_address, _senders(message))):
        return False
    # RFC 3834 5.2: "auto-replied" is what a responder (Sieve vacation, Gmail, Yandex) sets.
    if _token(message, "Auto-Submitted") == "auto-replied":
        return True
    # Mail.ru, Yandex and older responders mark themselves with their own headers.
    if any(name in message for name in ("X-Autoreply", "X-Autorespond", "X-Yandex-Autoreply")):
        return True
    subject = without_reply_prefixes(text_value(message, "Subject"))
    if _OOO_SUBJECT.match(subject):
        return True
    # Generated mail (Exchange's out-of-office is "auto-generated", sent by an inbox rule) says
    # so anywhere in its subject.
    generated = _auto_submitted(message, set()) or _exchange_rule(message, set())
    return generated is not None and _OOO_WORDS.search(subject) is not None


def _senders(message: EmailMessage) -> list[str]:
    return addresses(message, "From")


def _return_path(message: EmailMessage, envelope_sender: str | None) -> str | None:
    written = first_value(message, "Return-Path")
    if envelope_sender is not None or written is None:
        return envelope_sender
    return parseaddr(written)[1]


def _token(message: EmailMessage, name: str) -> str | None:
    value = first_value(message, name)
    return None if value is None else value.split(";")[0].strip().lower()


def _local_part(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()
