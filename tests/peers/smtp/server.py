"""A scriptable SMTP server for the email channel's outbound tests, on aiosmtpd.

    python server.py CERTFILE KEYFILE USER PASSWORD

Listens on 127.0.0.1 for submission with STARTTLS, for implicit TLS (RFC 8314) and for the
tests on a control port; prints {"port": N, "tls_port": T, "control": M} as the first line of
stdout. AUTH PLAIN or LOGIN as USER is required (after STARTTLS on the plain port) until the
tests say otherwise. The control port speaks one JSON object per line each way, as the SMSC
simulator's does: {"cmd": "name", ...arguments} in, {"ok": true, ...} or {"error": "..."} out.
It exits when its stdin closes, so it never outlives the test run.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import re
import secrets
import ssl
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOSTNAME = "mx.peer.test"
# Postfix's answers, which clients and operators know; the queue id is what a client keeps.
QUEUED = "250 2.0.0 Ok: queued as {queue_id}"
UNKNOWN_USER = (
    "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
)
# A scripted answer is a failure: 4xx (deferred) or 5xx (bounced), RFC 5321 4.2.1.
FAILURE = re.compile(r"[45]\d\d[ -].*")

Command = Callable[..., dict[str, Any]]


@dataclass
class Script:
    """What the next messages and recipients get; `reset` starts a new one."""

    answers: list[str] = field(default_factory=list)
    drops: int = 0
    # Lower-case address -> the reply, or None for 550 5.1.1 naming the address as sent.
    refused: dict[str, str | None] = field(default_factory=dict)
    auth_required: bool = True


class Peer:
    """The aiosmtpd handler: answers by the script and keeps every message that came."""

    def __init__(self, user: str, password: str) -> None:
        self.credentials = LoginPassword(user.encode(), password.encode())
        self.script = Script()
        self.messages: list[dict[str, Any]] = []
        self.connections: set[PeerSMTP] = set()
        # Postfix's short queue ids are hex; a counter keeps them unique, the prefix per run.
        self.queue_ids = (f"{secrets.randbits(20):05X}{n:06X}" for n in itertools.count(1))

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """AUTH PLAIN or LOGIN as the one test user."""
        # handled=False: aiosmtpd answers a failure 535 5.7.8 itself.
        return AuthResult(success=auth_data == self.credentials, handled=False, auth_data=auth_data)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse a recipient the script names; take the others."""
        key = address.lower()
        if key in self.script.refused:
            return self.script.refused[key] or UNKNOWN_USER.format(address=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Queue the message, or answer what the script says, or drop the connection."""
        assert server.transport is not None
        entry: dict[str, Any] = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "data": base64.b64encode(envelope.original_content or b"").decode(),
            "login": session.auth_data.login.decode() if session.authenticated else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "reply": None,
            "queue_id": None,
        }
        self.messages.append(entry)
        if self.script.drops:
            self.script.drops -= 1
            # No answer at all: the connection ends, and aiosmtpd cancels this handler with it.
            server.transport.abort()
            await asyncio.Event().wait()
        if self.script.answers:
            entry["reply"] = self.script.answers.pop(0)
        else:
            entry["queue_id"] = next(self.queue_ids)
            entry["reply"] = QUEUED.format(queue_id=entry["queue_id"])
        reply: str = entry["reply"]
        return reply

    def protocol(self, tls_context: ssl.SSLContext, *, implicit_tls: bool) -> PeerSMTP:
        """An SMTP session as the script says now; STARTTLS only where TLS is not implicit."""
        return PeerSMTP(
            self,
            hostname=HOSTNAME,
            ident="Postfix (omnirouter test peer)",
            tls_context=None if implicit_tls else tls_context,
            authenticator=self.authenticate,
            auth_required=self.script.auth_required,
            # aiosmtpd counts only STARTTLS as TLS; on the implicit-TLS port AUTH is over TLS.
            auth_require_tls=not implicit_tls,
        )

    def drop_connections(self) -> int:
        """Abort every client connection; how many there were."""
        connections = list(self.connections)
        for connection in connections:
            if connection.transport is not None:
                connection.transport.abort()
        return len(connections)

    def commands(self) -> dict[str, Command]:
        """The control commands by name."""
        return {
            "reset": self.reset,
            "messages": lambda: {"messages": self.messages},
            "answer": self.answer,
            "refuse": self.refuse,
            "drop": self.drop,
            "require_auth": self.require_auth,
        }

    def reset(self) -> dict[str, Any]:
        """Forget the script and the messages, and drop every connection: each test starts clean."""
        self.script = Script()
        self.messages = []
        return {"dropped": self.drop_connections()}

    def answer(self, reply: str, count: int = 1) -> dict[str, Any]:
        """The next `count` messages are answered `reply` (4xx or 5xx) at the end of DATA."""
        if not FAILURE.fullmatch(reply):
            raise ValueError(f"not a 4xx or 5xx reply: {reply!r}")
        self.script.answers.extend([reply] * count)
        return {}

    def refuse(self, address: str, reply: str | None = None) -> dict[str, Any]:
        """RCPT TO `address` is refused (by default 550 5.1.1, unknown user) until reset."""
        if reply is not None and not FAILURE.fullmatch(reply):
            raise ValueError(f"not a 4xx or 5xx reply: {reply!r}")
        self.script.refused[address.lower()] = reply
        return {}

    def drop(self, count: int = 1) -> dict[str, Any]:
        """The next `count` messages get no answer after DATA: the connection is dropped."""
        self.script.drops += count
        return {}

    def require_auth(self, required: bool) -> dict[str, Any]:
        """Whether new connections must AUTH before MAIL FROM."""
        self.script.auth_required = required
        return {}


class PeerSMTP(SMTP):
    """aiosmtpd's SMTP session, known to the peer while connected (for reset and drop)."""

    def __init__(self, peer: Peer, **settings: Any) -> None:
        super().__init__(peer, **settings)
        self.peer = peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection (again after STARTTLS, harmlessly)."""
        super().connection_made(transport)
        self.peer.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        """Forget the connection."""
        self.peer.connections.discard(self)
        super().connection_lost(error)


async def serve_control(
    peer: Peer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer control commands, one JSON line each, until the test closes the connection."""
    commands = peer.commands()
    while line := await reader.readline():
        try:
            arguments = json.loads(line)
            name = arguments.pop("cmd")
            if name not in commands:
                raise ValueError(f"unknown command {name}")
            reply: dict[str, Any] = {"ok": True, **commands[name](**arguments)}
        except (ValueError, TypeError, KeyError) as error:
            reply = {"error": str(error)}
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()
    writer.close()


async def main(certfile: str, keyfile: str, user: str, password: str) -> None:
    """Listen, print the ports, serve until stdin closes."""
    tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_context.load_cert_chain(certfile, keyfile)
    peer = Peer(user, password)
    loop = asyncio.get_running_loop()
    submission = await loop.create_server(
        lambda: peer.protocol(tls_context, implicit_tls=False), "127.0.0.1", 0
    )
    implicit = await loop.create_server(
        lambda: peer.protocol(tls_context, implicit_tls=True), "127.0.0.1", 0, ssl=tls_context
    )
    control = await asyncio.start_server(
        lambda reader, writer: serve_control(peer, reader, writer), "127.0.0.1", 0
    )
    ports = {
        "port": submission.sockets[0].getsockname()[1],
        "tls_port": implicit.sockets[0].getsockname()[1],
        "control": control.sockets[0].getsockname()[1],
    }
    print(json.dumps(ports), flush=True)
    await loop.run_in_executor(None, sys.stdin.buffer.read)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    # aiosmtpd logs each command at INFO, and at WARNING its own deprecations and AUTH without
    # STARTTLS on every implicit-TLS connection (where TLS is there); the fixture shows the
    # errors (a handler that raised) when a test fails.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    asyncio.run(main(*sys.argv[1:]))
