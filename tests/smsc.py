"""The SMSC simulator (tests/peers/smsc, node and the npm `smpp` package) and a handle on it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import trio

from tests import peer_process
from tests.certificates import ServerCertificate, issue_server_certificate

SIMULATOR = Path(__file__).parent / "peers" / "smsc"
SYSTEM_ID = "omnirouter"
PASSWORD = "s3cret"
# Node starts in well under a second; a loaded CI box gets slack.
START_DEADLINE = 30.0
# How long a test waits for the simulator to see what the session sent.
WAIT_DEADLINE = 10.0
POLL_INTERVAL = 0.01

LogEntry = dict[str, Any]


class SmscError(Exception):
    """The simulator refused a control command (no ESME bound, an unknown command)."""


class Started(NamedTuple):
    """A running simulator process and its ports."""

    process: subprocess.Popen[bytes]
    port: int
    tls_port: int | None
    control_port: int


def start_simulator(tls: ServerCertificate | None = None) -> Started:
    """Start node on the simulator, serving TLS as well with `tls`."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "node not found: the SMSC simulator needs Node.js (apt-get install nodejs)"
        )
    if not (SIMULATOR / "node_modules" / "smpp").is_dir():
        raise RuntimeError(
            f"the npm package smpp is not installed in {SIMULATOR}: run `make peers` (npm ci)"
        )
    tls_files = [] if tls is None else [str(tls.keyfile), str(tls.certfile)]
    # stdin stays open for the simulator's lifetime: it exits when it closes, so a killed
    # pytest leaves no node behind.
    process = subprocess.Popen(
        [node, str(SIMULATOR / "smsc.js"), "0", SYSTEM_ID, PASSWORD, *tls_files],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        ports = json.loads(first)
    except ValueError:
        process.kill()
        _, error = process.communicate(timeout=START_DEADLINE)
        raise RuntimeError(f"the SMSC simulator did not start:\n{error.decode()[-2000:]}") from None
    return Started(process, int(ports["port"]), ports["tls"], int(ports["control"]))


class Smsc:
    """The running simulator: its SMPP port, and its control commands as async methods."""

    def __init__(
        self, port: int, control_port: int, tls_port: int | None = None, ca_file: Path | None = None
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.control_port = control_port
        # The same SMSC over TLS, with a certificate for 127.0.0.1 that `ca_file` signed.
        self.tls_port = tls_port
        self.ca_file = ca_file
        self.system_id = SYSTEM_ID
        self.password = PASSWORD

    async def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        """One control command over its own connection; the reply, or SmscError."""
        return await peer_process.control(self.host, self.control_port, cmd, args, SmscError)

    async def reset(self) -> None:
        """Forget the script and the log, and drop every connection."""
        await self.command("reset")

    async def log(self) -> list[LogEntry]:
        """What the ESMEs sent and the simulator did, in order."""
        entries: list[LogEntry] = (await self.command("log"))["log"]
        return entries

    async def throttle(self, count: int = 1) -> None:
        """Answer the next `count` submits ESME_RTHROTTLED."""
        await self.command("throttle", count=count)

    async def queue_full(self, count: int = 1) -> None:
        """Answer the next `count` submits ESME_RMSGQFUL."""
        await self.command("queue_full", count=count)

    async def refuse(self, status: str, nth: int = 1) -> None:
        """Answer the `nth` submit from now (1: the next) `status`, an SMPP status name."""
        await self.command("refuse", status=status, nth=nth)

    async def silence(self, count: int = 1) -> None:
        """Answer nothing to the next `count` submits."""
        await self.command("silence", count=count)

    async def message_ids(self, *ids: str) -> None:
        """Answer the next submits with these message ids, in order."""
        await self.command("message_ids", ids=list(ids))

    async def hold(self) -> None:
        """Keep the answers to submits until release()."""
        await self.command("hold")

    async def release(self) -> int:
        """Send the held answers; how many there were."""
        released: int = (await self.command("release"))["released"]
        return released

    async def deliver(self, **fields: Any) -> int:
        """A deliver_sm to the bound ESME (text, source, data_coding, TLVs...); its sequence."""
        sequence: int = (await self.command("deliver", **fields))["sequence"]
        return sequence

    async def receipt(
        self, message_id: str, *, stat: str = "DELIVRD", err: str = "000", format: str = "text"
    ) -> int:
        """A delivery receipt for `message_id` ("text", "tlvs" or "both"); its sequence."""
        answer = await self.command(
            "receipt", message_id=message_id, stat=stat, err=err, format=format
        )
        sequence: int = answer["sequence"]
        return sequence

    async def unbind(self) -> int:
        """The SMSC unbinds the ESME; the unbind's sequence."""
        sequence: int = (await self.command("unbind"))["sequence"]
        return sequence

    async def ping(self) -> None:
        """An enquire_link round trip: what the ESME sent before it is in the log after it."""
        await self.command("ping")

    async def malformed(self, kind: str) -> int:
        """A PDU with a bad command_length, an unknown command_id or a short body; its sequence."""
        sequence: int = (await self.command("malformed", kind=kind))["sequence"]
        return sequence

    async def drop(self, *, reset: bool = False) -> None:
        """Close every ESME connection without an unbind; with `reset`, by a TCP RST."""
        await self.command("drop", reset=reset)

    async def outbind(self, port: int, **credentials: str) -> None:
        """Connect to an ESME's outbind listener and send outbind (system_id, password)."""
        await self.command("outbind", port=port, **credentials)

    async def wait_for(
        self, kind: str, count: int = 1, where: Callable[[LogEntry], bool] = lambda _: True
    ) -> list[LogEntry]:
        """The first `count` log entries of type `kind` (and `where`), once there are as many."""
        with trio.fail_after(WAIT_DEADLINE):
            while True:
                found = [e for e in await self.log() if e["type"] == kind and where(e)]
                if len(found) >= count:
                    return found[:count]
                await trio.sleep(POLL_INTERVAL)

    async def quiet(self) -> None:
        """Until reset(), count the log's entries by type instead of keeping them (benchmarks)."""
        await self.command("quiet")

    async def counts(self) -> dict[str, int]:
        """While quiet: how many entries of each type the log would hold."""
        counts: dict[str, int] = (await self.command("log"))["log"]["counts"]
        return counts

    async def deliver_many(
        self, count: int, *, window: int, first_source: int, text: str, data_coding: int = 8
    ) -> None:
        """Start `count` deliver_sm from numbers `first_source`.., at most `window` unanswered."""
        await self.command(
            "deliver_many",
            count=count,
            window=window,
            first_source=first_source,
            text=text,
            data_coding=data_coding,
        )

    async def deliveries(self) -> dict[str, Any]:
        """The last deliver_many's count, sent, answered, refused, and seconds once all are in."""
        progress = await self.command("deliveries")
        del progress["ok"]
        return progress


@pytest.fixture(scope="session")
def smsc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    """One simulator for the whole test session, over TCP and TLS."""
    certificate = issue_server_certificate(tmp_path_factory.mktemp("smsc-tls"))
    try:
        started = start_simulator(certificate)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    ca_file = certificate.cafile
    process = started.process
    try:
        yield Smsc(started.port, started.control_port, started.tls_port, ca_file)
    finally:
        peer_process.stop(process)


@pytest.fixture
async def smsc(smsc_server: Smsc) -> AsyncIterator[Smsc]:
    """The simulator with a clean script and log, and no ESME connected."""
    await smsc_server.reset()
    yield smsc_server
