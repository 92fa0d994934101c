"""The [intake] listener: an MTA delivers our accounts' mail over LMTP or SMTP (aiosmtpd).

Each recipient is matched to an account by its address (or the VERP form of it a bounce comes
back to) and refused `550 5.1.1` otherwise. The message is committed through the intake once per
recipient's account before the answer: `250` only after the commit, `451 4.3.0` when it cannot
be committed (the MTA keeps it and tries again), LMTP answering each recipient on its own line
(RFC 2033 4.2). Over the size limit (`SIZE` is advertised) the answer is `552 5.3.4` with a text
saying the limit and the other ways to write, which the MTA's bounce carries to the sender: we
send nothing ourselves, so a forged sender gets no backscatter.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import AnyStr, NamedTuple

import trio
import trio_asyncio
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.routing import BaseRoute

from channels.contract import AccountSpec, Channel, Deliver, Lane, Ports

from . import inbound
from .bounces import notice_of_verp
from .config import LISTENER, EmailFile

log = logging.getLogger(__name__)
# MAIL's argument (RFC 5321 4.1.1.2): "FROM:<reverse-path> [SIZE=n ...]" (RFC 1870).
_MAIL_FROM = re.compile(r"FROM:\s*<?([^<>\s]*)>?", re.IGNORECASE)
_SIZE_PARAMETER = re.compile(r"\sSIZE=(\d+)", re.IGNORECASE)
# What an oversize message's sender reads in the MTA's bounce (RFC 3463 5.3.4: message too big
# for system); SMTP replies are ASCII (RFC 5321 4.2), so it is in English.
OVERSIZE_REPLY = (
    "552-5.3.4 Your message is larger than {limit}, the most the support centre accepts\r\n"
    "552-5.3.4 by mail, and it was not received. Please send large scans in several\r\n"
    "552 5.3.4 messages, or attach them in the portal's chat or feedback form."
)


class MailListener:
    """The [intake] listener of channels/email.toml, supervised as the account `@intake`."""

    channel: Channel = "email"
    account = LISTENER
    websocket_max_message = 0
    lane = Lane()
    deliver: Deliver | None = None

    def __init__(self, spec: AccountSpec, settings: Callable[[], EmailFile], ports: Ports) -> None:
        self.settings = settings
        self.ports = ports
        self._server: asyncio.Server | None = None
        self._refused = {"oversize": 0, "unknown_recipient": 0}

    def routes(self) -> Sequence[BaseRoute]:
        """No HTTP routes."""
        return []

    def detail(self) -> dict[str, object]:
        """What it refused since it started."""
        return {f"refused_{reason}": count for reason, count in self._refused.items()}

    def stop_intake(self) -> None:
        """Take no new connection; the MTA delivers to the next instance."""
        if self._server is not None:
            self._server.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled."""
        intake = self.settings().intake
        assert intake is not None, "the listener runs only with an [intake] table"
        host, _, port = intake.listen.rpartition(":")
        protocol: type[_Polite] = _Lmtp if intake.protocol == "lmtp" else _Polite

        def connection() -> SMTP:
            limit = self.ports.attachments.limits("email").message
            server = protocol(_Handler(self), data_size_limit=limit, hostname="omnirouter")
            server.oversize_reply = OVERSIZE_REPLY.format(limit=_size(limit))
            server.refused = self.refuse
            return server

        server = await trio_asyncio.aio_as_trio(_listen)(connection, host, int(port))
        self._server = server
        log.info("mail intake listening on %s (%s)", intake.listen, intake.protocol)
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            server.close()

    def refuse(self, reason: str) -> None:
        """Count what was refused: an oversize message, a recipient that is no account's."""
        self._refused[reason] += 1
        self.ports.bad_input("email", reason)


class _Polite(SMTP):
    """aiosmtpd's answer to an oversize message replaced by our explanation."""

    # Set for each connection by the listener (connection()).
    oversize_reply: str
    refused: Callable[[str], None]
    # MAIL's argument: aiosmtpd refuses a SIZE= over the limit before it keeps the sender.
    mail_argument = ""

    async def smtp_MAIL(self, arg: str | None) -> None:
        """MAIL FROM, its argument kept for the log line of a refusal."""
        self.mail_argument = arg or ""
        await super().smtp_MAIL(arg)

    async def push(self, status: AnyStr) -> None:
        """aiosmtpd's 552 in our words (at MAIL FROM's SIZE=, or after too much DATA: then in
        LMTP once per recipient, RFC 2033 4.2, or the MTA waits for the rest)."""
        if isinstance(status, str) and status.startswith("552 Error:"):
            self.refused("oversize")
            after_data = "Too much mail data" in status
            self._log_oversize(after_data)
            per_recipient = after_data and isinstance(self, LMTP)
            recipients = len(self.envelope.rcpt_tos) if per_recipient and self.envelope else 1
            for _ in range(max(1, recipients)):
                await super().push(self.oversize_reply)
            return
        await super().push(status)

    def _log_oversize(self, after_data: bool) -> None:
        """One line for operators: who was refused, the size and the limit. The sender's
        address is masked with the rest of the line by the log's formatter (router/ops/logs.py),
        as the channel may not import the normaliser's mask."""
        mail = self.envelope.mail_from if after_data and self.envelope else None
        if mail is None:
            found = _MAIL_FROM.search(self.mail_argument)
            mail = found[1] if found else "?"
        declared = _SIZE_PARAMETER.search(self.mail_argument)
        size = f"{declared[1]} bytes declared" if declared else "more sent"
        log.warning(
            "mail from <%s> refused as oversize (552 5.3.4): %s, the limit %d bytes",
            mail.strip("<>"), size, self.data_size_limit or 0,
        )  # fmt: skip


class _Lmtp(_Polite, LMTP):
    """LMTP (RFC 2033): LHLO, and an answer per recipient after DATA."""


class Recipient(NamedTuple):
    """A recipient that is ours: the account, the address as given, and the notice its VERP
    form names (a bounce coming back)."""

    account: str
    address: str
    notice: str | None = None


def recipient_of(address: str, accounts: Mapping[str, str]) -> Recipient | None:
    """The account `address` reaches (its own address or a notice's VERP form), or None."""
    by_address = {account_address.lower(): name for name, account_address in accounts.items()}
    name = by_address.get(address.strip().strip("<>").lower())
    if name is not None:
        return Recipient(name, address)
    verp = notice_of_verp(address, accounts.values())
    return None if verp is None else Recipient(by_address[verp[0].lower()], address, verp[1])


class _Handler:
    """aiosmtpd's hooks, in asyncio; the commit goes to the intake in trio."""

    def __init__(self, listener: MailListener) -> None:
        self.listener = listener
        self.recipients: dict[str, Recipient] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Ours, or 550 5.1.1 (RFC 3463: bad destination mailbox address)."""
        accounts = self.listener.settings().accounts
        recipient = recipient_of(address, {name: a.address for name, a in accounts.items()})
        if recipient is None:
            self.listener.refuse("unknown_recipient")
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        self.recipients[address] = recipient
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Commit once per account, then answer: each recipient in LMTP, all at once in SMTP."""
        raw = envelope.original_content or b""
        answers: dict[str, str] = {}
        for address in envelope.rcpt_tos:
            recipient = self.recipients[address]
            if recipient.account not in answers:
                answers[recipient.account] = await self._commit(
                    raw, recipient, server, session, envelope
                )
        lines = [answers[self.recipients[address].account] for address in envelope.rcpt_tos]
        if isinstance(server, LMTP):
            return "\r\n".join(lines)
        failed = [line for line in lines if not line.startswith("250")]
        return failed[0] if failed else lines[0]

    async def _commit(
        self, raw: bytes, recipient: Recipient, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        metadata = {
            "transport": "lmtp" if isinstance(server, LMTP) else "smtp",
            # The null reverse-path (RFC 5321 4.5.5: a bounce, an autoreply) as the empty
            # string loop protection knows it by; aiosmtpd gives it as "<>".
            "mail_from": (envelope.mail_from or "").strip("<>"),
            "rcpt_to": recipient.address,
            "helo": session.host_name or "",
        }
        if recipient.notice is not None:
            metadata["verp_notice"] = recipient.notice
        received = inbound.received(raw, recipient.account, metadata)
        try:
            receipt = await trio_asyncio.trio_as_aio(self.listener.ports.intake.receive)(received)
        except Exception as error:
            log.error("mail for %s not committed (%s)", recipient.account, type(error).__name__)
            return "451 4.3.0 Temporary failure: the message could not be stored; try again later"
        if received.sender is None and not receipt.redelivery:
            self.listener.ports.bad_input("email", "malformed_sender")
        return f"250 2.0.0 OK: committed to {recipient.account}"


def _size(limit: int) -> str:
    """A size limit as people say it: 10 MB, 500 KB."""
    return f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit / 1000:g} KB"


async def _listen(factory: Callable[[], SMTP], host: str, port: int) -> asyncio.Server:
    """The listening socket, in the daemon's asyncio loop."""
    return await asyncio.get_running_loop().create_server(factory, host, port)
