"""Delivery status notifications: RFC 3464 reports and the plain-text forms MTAs still send,
read into what they say of each recipient; and the VERP sender that brings them back to us.

Not flufl.bounce (Mailman's detectors): it answers only which addresses failed, without the
status, the diagnostic or the returned message's Message-ID that a notice's `failed` state
needs, and knows none of the Russian forms (Yandex, Mail.ru, Exchange in Russian).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import Literal, NamedTuple, get_args

from channels.email.headers import addresses, first_value, raw_values, text_value
from channels.email.loops import from_mail_system

# RFC 3464 2.3.3: what the reporting MTA did for a recipient.
Action = Literal["failed", "delayed", "delivered", "relayed", "expanded"]
_ACTIONS: tuple[Action, ...] = get_args(Action)
# RFC 3463 2: class.subject.detail; the class says success (2), persistent transient (4) or
# permanent (5) failure.
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# An SMTP reply without an enhanced code ("550 Message was not accepted"): its class, written
# as the enhanced code X.0.0, as Postfix reports such replies in its DSNs.
_REPLY_CODE = re.compile(r"(?<![\d.])([245])\d\d(?:[ -]|$)", re.MULTILINE)
_CLASS_ACTION: dict[str, Action] = {"2": "delivered", "4": "delayed", "5": "failed"}


class BouncedRecipient(NamedTuple):
    """What a report says of one recipient: the address as we sent to it (lower case), the
    action, the RFC 3463 status ("5.1.1") and the remote server's words."""

    address: str
    action: Action
    status: str | None
    diagnostic: str | None

    @property
    def permanent(self) -> bool:
        """Failed for good: a 5.x.x status (RFC 3463 2)."""
        return self.action == "failed" and self.status is not None and self.status[0] == "5"


class Bounce(NamedTuple):
    """A delivery report: per recipient, and the notice it reports on where it can tell.

    `permanent`: some recipient failed for good (a 5.x.x status, or a report without codes
    whose words say so); `delayed`: the report only warns that delivery is still being tried,
    which is no failure. `message_id` is the Message-ID of the message it returned, and
    `notice_id` the notice whose VERP sender it came back to. `form` names the MTA's format.
    `words`: where no status judged it, the paragraph of the report whose words said it
    failed for good, the only reason a report without readable recipients gives.
    """

    form: str
    recipients: tuple[BouncedRecipient, ...]
    permanent: bool
    delayed: bool
    message_id: str | None = None
    notice_id: str | None = None
    words: str | None = None


# -- VERP ---------------------------------------------------------------------------------------

# The envelope sender of a notice is its account's address with a "+n.<notice id>" subaddress
# (support+n.01jf8z6n3qk4v7w9x2y5a8b1c3@gov.example). A "+" subaddress (RFC 5233) is delivered
# to the base mailbox by Postfix (recipient_delimiter), Exim, Dovecot LMTP and the hosted
# mailboxes without any configuration, so bounces reach the account's own intake; and the
# notice id in it survives an MTA that loses the returned message or its headers. The id is
# written in lower case, as many MTAs rewrite local parts anyway, and read in any case.
_VERP_TAG = "n."
_VERP = re.compile(
    rf"(?P<base>.+)\+{re.escape(_VERP_TAG)}(?P<notice>[0-9a-hjkmnp-tv-z]{{26}})@(?P<domain>[^@]+)",
    re.IGNORECASE,
)


def verp_sender(account_address: str, notice_id: str) -> str:
    """The envelope sender (MAIL FROM) of a notice sent from `account_address`."""
    local, _, domain = account_address.rpartition("@")
    return f"{local}+{_VERP_TAG}{notice_id.lower()}@{domain}"


def notice_of_verp(recipient: str, account_addresses: Iterable[str]) -> tuple[str, str] | None:
    """(account address, notice id) if `recipient` is the VERP sender of a notice of one of
    `account_addresses`, else None."""
    match = _VERP.fullmatch(parseaddr(recipient)[1] or recipient.strip())
    if match is None:
        return None
    base = f"{match['base']}@{match['domain']}".lower()
    for account in account_addresses:
        if account.lower() == base:
            return account, match["notice"].upper()
    return None


# -- recognition ---------------------------------------------------------------------------------

# The plain-text forms, by the words their MTA writes in the Subject or the notice. They are
# read only in mail from a mail system (see read_bounce): a citizen quoting them is a citizen.
_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (form, re.compile(words, re.IGNORECASE))
    for form, words in (
        ("exim", r"created\s+automatically\s+by\s+mail\s+delivery\s+software"),
        ("qmail", r"Hi\.\s+This\s+is\s+the\s+qmail-send\s+program"),
        ("yandex", r"Недоставленное\s+сообщение|сервером\s+Яндекс"),
        ("exchange", r"Delivery\s+has\s+failed\s+to\s+these\s+recipients"
                     r"|Не\s+удалось\s+доставить\s+сообщение\s+следующим\s+получателям"),
        ("gmail", r"Delivery\s+Status\s+Notification\s+\((?:Failure|Delay)\)"
                  r"|Address\s+not\s+found"),
        ("mailru", r"\AMail\s+failure|сервером\s+Mail\.ru|Сообщение\s+не\s+доставлено"),
        ("postfix", r"Undelivered\s+Mail\s+Returned\s+to\s+Sender|Delayed\s+Mail"),
        ("generic", r"Undeliverable|Undelivered|Mail\s+delivery\s+failed|failure\s+notice"
                    r"|Returned\s+mail|Не\s+доставлено|не\s+может\s+быть\s+доставлено"),
    )
)  # fmt: skip

# Where the plain-text forms start the copy of the returned message (or its headers).
_RETURNED_COPY = re.compile(
    r"""^[ \t]*(?:
        -+\s*This\s+is\s+a\s+copy\s+of\s+the\s+message.*           # Exim, Mail.ru
      | -+\s*Below\s+this\s+line\s+is\s+a\s+copy\s+of\s+the\s+message.*   # qmail
      | (?:Original\s+message\s+headers|Исходные\s+заголовки\s+сообщения):   # Exchange
      | -+\s*(?:Original\s+message|Исходное\s+сообщение|Оригинальное\s+сообщение)\s*-+
    )[ \t]*$""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
# Words of a report without codes that warn of a delay, or say a failure is for good.
_DELAY_WORDS = re.compile(
    r"warning\s+only|will\s+be\s+retried|still\s+(?:being\s+)?tr(?:y|ied)|delayed"
    r"|will\s+(?:keep\s+)?try(?:ing)?|повторн\w+\s+попытк|задерж",
    re.IGNORECASE,
)
_PERMANENT_WORDS = re.compile(
    r"permanent\s+error|given\s+up|постоянн\w+\s+ошибк|user\s+unknown|no\s+such\s+user"
    r"|does\s+not\s+exist|couldn't\s+be\s+found|не\s+существует|не\s+удалось\s+найти",
    re.IGNORECASE,
)
# A reason is read by operators in a notice's history: a paragraph, not the whole report.
_WORDS_MAX = 300
_ADDRESS = r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
# A paragraph of a plain-text report about one recipient starts with its address:
# "  o.smirnova@example.org" (Exim), "<p.volkov@example.net>:" (qmail), "<x@y>: host ... said:"
# (Postfix, Yandex), an address alone on its line (Exchange).
_RECIPIENT_PARAGRAPH = re.compile(rf"\A[ \t]*<?(?P<address>{_ADDRESS})>?:?[ \t]*(?P<rest>.*)", re.S)


def read_bounce(
    message: EmailMessage,
    *,
    account_addresses: Iterable[str] = (),
    recipient: str | None = None,
    envelope_sender: str | None = None,
) -> Bounce | None:
    """The delivery report `message` is, or None if it is none.

    `account_addresses` are ours, never a bounced recipient. Where the intake saw the SMTP
    envelope (LMTP), `recipient` is its RCPT TO and `envelope_sender` its MAIL FROM; else the
    Delivered-To, X-Original-To and To headers name the recipient, a VERP one the notice, and
    the Return-Path the sender.
    """
    accounts = tuple(account_addresses)
    report = _delivery_status(message)
    # Citizens' mail, nearly all there is, stops here: its text is never decoded.
    if report is None and not from_mail_system(message, envelope_sender=envelope_sender):
        return None
    notice_text, copy_text = _report_text(message)
    blocks = _blocks(report) if report is not None else []
    if report is not None:
        # RFC 3464 2.1: the per-message fields, then one block of fields per recipient.
        recipients = tuple(filter(None, map(_recipient_fields, blocks[1:])))
        bounce = _bounce("rfc3464", recipients)
    elif (found := _plain_text(message, notice_text, accounts)) is not None:
        bounce = found
    else:
        return None
    returned = _returned_headers(message, copy_text)
    verp = (notice_of_verp(to, accounts) for to in _recipients(message, recipient, returned))
    notice = next(filter(None, verp), None)
    return bounce._replace(
        message_id=_reported_message_id(message, returned, blocks[:1]),
        notice_id=None if notice is None else notice[1],
    )


def _recipients(
    message: EmailMessage, recipient: str | None, returned: Message | None
) -> list[str]:
    # Where a report came to; the returned message's Return-Path is the MAIL FROM it was sent
    # with, should an alias have rewritten the report's own recipient.
    headers = [
        v for name in ("Delivered-To", "X-Original-To", "To") for v in raw_values(message, name)
    ]
    return_path = [] if returned is None else raw_values(returned, "Return-Path")
    return [*([recipient] if recipient else []), *headers, *return_path]


# -- RFC 3464 ------------------------------------------------------------------------------------


def _delivery_status(message: EmailMessage) -> Message | None:
    """The message/delivery-status part of a top-level multipart/report (RFC 3462), if any:
    a report forwarded inside a citizen's mail is the citizen's mail."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    # RFC 3462 1: the report is a part of the report itself, not of the message it returns.
    kinds = ("message/delivery-status", "message/global-delivery-status")
    return next((part for part in message.iter_parts() if part.get_content_type() in kinds), None)


def _blocks(report: Message) -> list[Message]:
    payload = report.get_payload()
    return [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []


def _recipient_fields(block: Message) -> BouncedRecipient | None:
    # RFC 3464 2.3.1/2.3.2: Original-Recipient is the address as we gave it in RCPT TO,
    # Final-Recipient as the reporting MTA last saw it (after an alias).
    address = _typed_value(first_value(block, "Original-Recipient")) or _typed_value(
        first_value(block, "Final-Recipient")
    )
    if not address:
        return None
    diagnostic = _typed_value(first_value(block, "Diagnostic-Code"))
    status = _status(first_value(block, "Status") or "") or _status(diagnostic)
    action_text = (first_value(block, "Action") or "").strip().lower()
    action: Action | None = next((a for a in _ACTIONS if a == action_text), None)
    if action is None:
        action = _CLASS_ACTION.get(status[0], "failed") if status else "failed"
    return BouncedRecipient(_address(address), action, status, diagnostic or None)


def _typed_value(value: str | None) -> str:
    """A DSN field's value without its type ("rfc822; x@y" → "x@y", "smtp; 550 …" → "550 …"),
    its folding undone."""
    if value is None:
        return ""
    text = " ".join(value.split())
    kind, separator, rest = text.partition(";")
    return rest.strip() if separator and " " not in kind.strip() else text


# -- the plain-text forms ------------------------------------------------------------------------


def _plain_text(message: EmailMessage, notice: str, accounts: tuple[str, ...]) -> Bounce | None:
    subject = text_value(message, "Subject")
    form = next(
        (form for form, words in _FORMS if words.search(subject) or words.search(notice)), None
    )
    if form is None:
        return None
    ignored = {a.lower() for a in (*accounts, *addresses(message, "From"))}
    delayed_words = _DELAY_WORDS.search(notice) is not None
    permanent_words = _PERMANENT_WORDS.search(notice) is not None
    found: dict[str, tuple[str | None, str | None]] = {}
    for address, diagnostic in _recipient_paragraphs(notice):
        if address in ignored or notice_of_verp(address, accounts) is not None:
            continue
        status = _status(diagnostic)
        earlier = found.get(address)
        # Exchange names a recipient twice: first in words, then with the server's answer.
        if earlier is None or (earlier[0] is None and status is not None):
            found[address] = (status, diagnostic or None)
    # Exim names the failed recipients in a header of its own as well.
    for address in filter(None, addresses(message, "X-Failed-Recipients")):
        found.setdefault(address.lower(), (None, None))
    recipients = tuple(
        BouncedRecipient(address, _action(status, delayed_words, permanent_words), status, text)
        for address, (status, text) in found.items()
    )
    # Without codes the words decide; a report whose recipients cannot be read is still a
    # report (never answered, never a ticket), matched by the Message-ID or VERP it returns.
    uncoded = not recipients or any(r.action == "failed" and r.status is None for r in recipients)
    bounce = _bounce(form, recipients)
    judged = uncoded and permanent_words
    return bounce._replace(
        permanent=bounce.permanent or judged,
        delayed=bounce.delayed or (not recipients and delayed_words and not permanent_words),
        words=_permanent_paragraph(notice) if judged else None,
    )


def _permanent_paragraph(text: str) -> str | None:
    """The first paragraph of `text` whose words say the failure is for good, on one line."""
    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        if _PERMANENT_WORDS.search(paragraph):
            line = " ".join(paragraph.split())
            return line if len(line) <= _WORDS_MAX else line[: _WORDS_MAX - 1] + "…"
    return None


def _action(status: str | None, delayed_words: bool, permanent_words: bool) -> Action:
    if status is not None:
        return _CLASS_ACTION.get(status[0], "failed")
    return "delayed" if delayed_words and not permanent_words else "failed"


def _report_text(message: EmailMessage) -> tuple[str, str]:
    """A report's first text part, split where it starts quoting the returned message."""
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return "", ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken transfer encoding
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(text, str):
        return "", ""
    copy = _RETURNED_COPY.search(text)
    return (text[: copy.start()], text[copy.end() :]) if copy else (text, "")


def _recipient_paragraphs(text: str) -> Iterator[tuple[str, str]]:
    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        match = _RECIPIENT_PARAGRAPH.match(paragraph)
        if match is not None:
            yield match["address"].lower(), " ".join(match["rest"].split())


# -- what both forms share -----------------------------------------------------------------------


def _bounce(form: str, recipients: tuple[BouncedRecipient, ...]) -> Bounce:
    delayed = bool(recipients) and all(r.action == "delayed" for r in recipients)
    return Bounce(form, recipients, any(r.permanent for r in recipients), delayed)


def _status(text: str) -> str | None:
    if (match := _STATUS.search(text)) is not None:
        return match.group(0)
    if (reply := _REPLY_CODE.search(text)) is not None:
        return f"{reply[1]}.0.0"
    return None


def _address(value: str) -> str:
    return (parseaddr(value)[1] or value.strip("<> ")).lower()


def _returned_headers(message: EmailMessage, copy_text: str) -> Message | None:
    """The headers of the message a report returns: a message/rfc822 or text/rfc822-headers
    part (RFC 3462 2), else the copy a plain-text report quotes after its marker."""
    for part in message.walk():
        kind = part.get_content_type()
        inner = part.get_payload() if kind == "message/rfc822" else None
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0]
        if kind == "text/rfc822-headers":
            return _headers_of(str(part.get_content()))
    return _headers_of(copy_text) if copy_text else None


def _headers_of(text: str) -> Message:
    return HeaderParser(policy=default_policy).parsestr(text.lstrip("\r\n"))


def _reported_message_id(
    message: EmailMessage, returned: Message | None, per_message: list[Message]
) -> str | None:
    # The returned copy says it best; Gmail also names it in its per-message fields, and Exim
    # and Exchange make the report a reply to it (In-Reply-To, References).
    candidates = [
        first_value(returned, "Message-ID") if returned is not None else None,
        *(first_value(fields, "X-Original-Message-ID") for fields in per_message),
        first_value(message, "In-Reply-To"),
        *(first_value(message, "References") or "").split()[-1:],
    ]
    for candidate in candidates:
        if candidate and (found := re.search(r"<[^<>\s]+>", str(candidate))):
            return found.group(0)
    return None
