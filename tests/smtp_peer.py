"""The SMTP peer for outbound mail (tests/peers/smtp, aiosmtpd in its own process) and a handle."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import peer_process
from tests.certificates import issue_server_certificate

SERVER = Path(__file__).parent / "peers" / "smtp" / "server.py"
USER = "omnirouter@peer.test"
PASSWORD = "smtp secret"
# Python and aiosmtpd start in well under a second; a loaded CI box gets slack.
START_DEADLINE = 30.0


class SmtpPeerError(Exception):
    """The peer refused a control command (an unknown command, a reply that is not 4xx/5xx)."""


@dataclass(frozen=True)
class Received:
    """One message the peer read to the end of DATA, and what it answered."""

    mail_from: str
    mail_options: list[str]
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    tls: bool
    # None when the script dropped the connection instead of answering.
    reply: str | None
    # Set only when the reply was 250 (the message was queued).
    queue_id: str | None


class SmtpPeer:
    """The running peer: its ports, the test user, and its control commands as async methods."""

    def __init__(self, ports: dict[str, int], cafile: Path, output: Path) -> None:
        self.host = "127.0.0.1"
        self.port = ports["port"]
        self.tls_port = ports["tls_port"]
        self.control_port = ports["control"]
        self.cafile = cafile
        self.output = output
        self.user = USER
        self.password = PASSWORD

    async def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        """One control command over its own connection; the reply, or SmtpPeerError."""
        return await peer_process.control(self.host, self.control_port, cmd, args, SmtpPeerError)

    async def reset(self) -> None:
        """Forget the script and the messages, and drop every connection."""
        await self.command("reset")

    async def messages(self) -> list[Received]:
        """Every message read to the end of DATA, in order, with the answer it got."""
        entries = (await self.command("messages"))["messages"]
        return [Received(**{**e, "data": base64.b64decode(e["data"])}) for e in entries]

    async def queued(self) -> list[Received]:
        """The messages the peer took (answered 250 with a queue id)."""
        return [message for message in await self.messages() if message.queue_id is not None]

    async def answer(self, reply: str, count: int = 1) -> None:
        """Answer the next `count` messages `reply` (such as "451 4.3.0 ...") after DATA."""
        await self.command("answer", reply=reply, count=count)

    async def refuse(self, address: str, reply: str | None = None) -> None:
        """Refuse RCPT TO `address` (550 5.1.1 unknown user unless `reply`) until reset."""
        await self.command("refuse", address=address, reply=reply)

    async def drop(self, count: int = 1) -> None:
        """Drop the connection after the DATA of the next `count` messages, answering nothing."""
        await self.command("drop", count=count)

    async def require_auth(self, required: bool) -> None:
        """Whether connections from now on must AUTH before MAIL FROM (they must by default)."""
        await self.command("require_auth", required=required)


def start_peer(root: Path) -> tuple[subprocess.Popen[bytes], SmtpPeer]:
    """Start the peer with a new certificate under `root`; the process and its handle."""
    certificate = issue_server_certificate(root)
    output = root / "smtp-peer.err"
    with output.open("wb") as errors:
        # stdin stays open for the peer's lifetime: it exits when it closes, so a killed pytest
        # leaves no server behind.
        process = subprocess.Popen(
            [
                sys.executable,
                str(SERVER),
                str(certificate.certfile),
                str(certificate.keyfile),
                USER,
                PASSWORD,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    assert process.stdout is not None
    try:
        ports = json.loads(process.stdout.readline())
    except ValueError:
        process.kill()
        process.wait(START_DEADLINE)
        raise RuntimeError(f"the SMTP peer did not start:\n{output.read_text()[-2000:]}") from None
    return process, SmtpPeer(ports, certificate.cafile, output)


@pytest.fixture(scope="session")
def smtp_peer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpPeer]:
    """One SMTP peer for the whole test session."""
    try:
        process, peer = start_peer(tmp_path_factory.mktemp("smtp-peer"))
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield peer
    finally:
        peer_process.stop(process)


@pytest.fixture
async def smtp_peer(
    smtp_peer_server: SmtpPeer, request: pytest.FixtureRequest
) -> AsyncIterator[SmtpPeer]:
    """The peer with a clean script and no messages; what it logged is shown if the test fails."""
    await smtp_peer_server.reset()
    offset = smtp_peer_server.output.stat().st_size
    yield smtp_peer_server
    with smtp_peer_server.output.open(errors="replace") as log:
        log.seek(offset)
        request.node.add_report_section("teardown", "SMTP peer log", log.read())
