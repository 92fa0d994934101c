"""Lifecycle as systemd sees it: sd_notify, SIGHUP reload, SIGTERM drain, start-up failures."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from .daemon import ChatClient, DaemonProcess, feed_all, open_chat, running_daemon

# systemd passes the watchdog timeout in microseconds; the daemon pings at half of it.
WATCHDOG_USEC = 2_000_000
# Generous for a loaded machine; the daemon sends within milliseconds (a watchdog ping in 1 s).
DATAGRAM_DEADLINE = 10.0

Datagram = dict[str, str]


class NotifySocket:
    """A stand-in for systemd's notify socket: collects the daemon's sd_notify datagrams."""

    def __init__(self) -> None:
        # sockaddr_un paths are limited to 108 bytes, so not under pytest's deep tmp_path.
        self.directory = Path(tempfile.mkdtemp(prefix="omr-notify-"))
        self.path = self.directory / "notify"
        self.sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.datagrams: list[Datagram] = []
        self._arrived = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.sock.bind(str(self.path))
        task_status.started()
        while True:
            data = await self.sock.recv(65536)
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.datagrams.append(fields)
            self._arrived.set()
            self._arrived = trio.Event()

    async def wait_for(self, match: Callable[[Datagram], bool], start: int = 0) -> int:
        """Index of the first datagram from `start` on that matches, waiting for it to come."""
        with trio.fail_after(DATAGRAM_DEADLINE):
            while True:
                for index in range(start, len(self.datagrams)):
                    if match(self.datagrams[index]):
                        return index
                await self._arrived.wait()

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)
        self.directory.rmdir()


@asynccontextmanager
async def notified_daemon(root: Path) -> AsyncIterator[tuple[DaemonProcess, NotifySocket]]:
    """A running daemon that reports to our notify socket, with a 2 s watchdog."""
    notify = NotifySocket()
    daemon = DaemonProcess(
        root,
        env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)},
    )
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(notify.run)
            await trio.to_thread.run_sync(daemon.start)
            try:
                yield daemon, notify
            finally:
                if daemon.process is not None and daemon.process.poll() is None:
                    await trio.to_thread.run_sync(daemon.stop)
                nursery.cancel_scope.cancel()
    finally:
        notify.close()


def has(key: str, value: str = "1") -> Callable[[Datagram], bool]:
    return lambda datagram: datagram.get(key) == value


async def chat(daemon: DaemonProcess, text: str) -> dict[str, object]:
    """Send one chat message in a new session; the daemon's answer frame."""
    async with open_websocket_url(daemon.ws_url) as ws:
        client = ChatClient(ws)
        await client.hello()
        return await client.write(text)


async def reload_and_wait(daemon: DaemonProcess, notify: NotifySocket) -> Datagram:
    """SIGHUP; wait for RELOADING=1 and then READY=1; the READY datagram."""
    start = len(notify.datagrams)
    daemon.signal(signal.SIGHUP)
    reloading = await notify.wait_for(has("RELOADING"), start)
    assert "MONOTONIC_USEC" in notify.datagrams[reloading]
    ready = await notify.wait_for(has("READY"), reloading + 1)
    return notify.datagrams[ready]


def messages(daemon: DaemonProcess) -> list[str]:
    return [record["msg"] for record in daemon.log_lines()]


async def reload_metric(daemon: DaemonProcess, result: str) -> float:
    async with daemon.admin() as admin:
        text = (await admin.get("/metrics")).text
    prefix = f'omnirouter_config_reloads_total{{result="{result}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    return values[0] if values else 0.0


async def test_ready_status_and_watchdog_notifications(tmp_path: Path) -> None:
    """The daemon sends READY=1 with STATUS, then WATCHDOG=1 repeatedly with a status line."""
    async with notified_daemon(tmp_path) as (_daemon, notify):
        ready = await notify.wait_for(has("READY"))
        assert notify.datagrams[ready].get("STATUS") == "running"
        first = await notify.wait_for(has("WATCHDOG"), ready + 1)
        second = await notify.wait_for(has("WATCHDOG"), first + 1)
        for index in (first, second):
            assert notify.datagrams[index]["STATUS"].startswith("running; connections ")


async def test_sighup_applies_a_valid_configuration(tmp_path: Path) -> None:
    """SIGHUP with a valid change: RELOADING=1, READY=1, logged, applied, still serving."""
    async with notified_daemon(tmp_path) as (daemon, notify):
        await notify.wait_for(has("READY"))
        assert (await chat(daemon, "a" * 400))["type"] == "accepted"
        daemon.edit_router("auto_limit = 10", "auto_limit = 5")
        webchat = daemon.config / "channels" / "webchat.toml"
        webchat.write_text(
            webchat.read_text()
            .replace("max_text_chars = 4000", "max_text_chars = 300")
            .replace("max_frame_bytes = 65536", "max_frame_bytes = 2048")
        )
        ready = await reload_and_wait(daemon, notify)
        assert ready["STATUS"] == "running; configuration reloaded"
        assert "configuration reloaded" in messages(daemon)
        # The server was built with the frame limit: the change waits for a restart, and says so.
        assert any("max_frame_bytes changed" in m and "restart" in m for m in messages(daemon))
        assert (await chat(daemon, "c" * 2500))["code"] == "text_too_long"  # not closed: 1009
        assert await reload_metric(daemon, "applied") == 1
        refused = await chat(daemon, "b" * 400)
        assert refused["type"] == "error" and refused["code"] == "text_too_long", refused
        assert (await chat(daemon, "short message after reload"))["type"] == "accepted"


async def test_sighup_refuses_an_invalid_configuration(tmp_path: Path) -> None:
    """SIGHUP with a broken router.toml is refused with FILE: KEY: REASON; old config kept."""
    async with notified_daemon(tmp_path) as (daemon, notify):
        await notify.wait_for(has("READY"))
        daemon.edit_router("auto_limit = 10", "auto_limit = 0")
        # A valid change elsewhere must not be half-applied either.
        webchat = daemon.config / "channels" / "webchat.toml"
        webchat.write_text(
            webchat.read_text().replace("max_text_chars = 4000", "max_text_chars = 300")
        )
        ready = await reload_and_wait(daemon, notify)
        assert "refused" in ready["STATUS"]
        refusals = [m for m in messages(daemon) if m.startswith("reload refused: ")]
        assert refusals, messages(daemon)
        assert any(
            m.startswith("reload refused: router.toml: notifier.auto_limit: ") for m in refusals
        )
        assert "configuration reloaded" not in messages(daemon)
        assert await reload_metric(daemon, "refused") == 1
        assert await reload_metric(daemon, "applied") == 0
        assert (await chat(daemon, "c" * 400))["type"] == "accepted"
        async with daemon.backend() as backend:
            assert (await backend.get("/api/v1/envelopes")).status_code == 200


async def test_sigterm_drains_and_keeps_what_was_accepted(tmp_path: Path) -> None:
    """SIGTERM sends STOPPING=1 and exits 0; a message accepted just before is in the feed."""
    async with notified_daemon(tmp_path) as (daemon, notify):
        await notify.wait_for(has("READY"))
        accepted = await chat(daemon, "accepted just before the stop")
        assert accepted["type"] == "accepted"
        start = len(notify.datagrams)
        code = await trio.to_thread.run_sync(daemon.stop)
        assert code == 0
        stopping = await notify.wait_for(has("STOPPING"), start)
        assert notify.datagrams[stopping].get("STATUS") == "draining"
        assert "draining after SIGTERM" in messages(daemon)
        assert messages(daemon)[-1] == "omnirouter stopped"
        await trio.to_thread.run_sync(daemon.start)
        envelopes = await feed_all(daemon)
        assert [e["id"] for e in envelopes] == [accepted["envelope_id"]]


async def test_broken_configuration_exits_78(tmp_path: Path) -> None:
    """Starting with an invalid router.toml exits 78 (EX_CONFIG), naming FILE: KEY: REASON."""
    daemon = DaemonProcess(tmp_path)
    daemon.edit_router("auto_limit = 10", "auto_limit = 0")
    daemon.edit_router('timezone = "Europe/Moscow"', 'timezone = "Mars/Olympus"')
    daemon.spawn()
    assert await trio.to_thread.run_sync(daemon.wait_exit) == 78
    errors = [r["msg"] for r in daemon.log_lines() if r["level"] == "error"]
    assert any(m.startswith("configuration: router.toml: notifier.auto_limit: ") for m in errors)
    assert any(m.startswith("configuration: router.toml: router.timezone: ") for m in errors)


async def test_taken_port_exits_71(tmp_path: Path) -> None:
    """Starting when the listen port is taken exits 71 (EX_OSERR) naming the address."""
    daemon = DaemonProcess(tmp_path)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", daemon.port))
        squatter.listen()
        daemon.spawn()
        assert await trio.to_thread.run_sync(daemon.wait_exit) == 71
    errors = [r["msg"] for r in daemon.log_lines() if r["level"] == "error"]
    assert any(
        m.startswith(f"cannot start on 127.0.0.1:{daemon.port}: ")
        and "address already in use" in m.lower()
        for m in errors
    ), errors


async def test_sigterm_closes_open_chat_sockets_as_going_away(tmp_path: Path) -> None:
    """On SIGTERM an idle chat WebSocket gets a close frame (1001/1012), not a dropped socket."""
    daemon = DaemonProcess(tmp_path)
    # Short, so that a daemon which waits out the drain instead costs this test little.
    daemon.edit_router("drain_seconds = 10", "drain_seconds = 2")
    await trio.to_thread.run_sync(daemon.start)
    try:
        async with open_websocket_url(daemon.ws_url) as ws:
            client = ChatClient(ws)
            await client.hello()
            assert (await client.write("before the stop"))["type"] == "accepted"
            daemon.signal(signal.SIGTERM)
            with trio.fail_after(30), pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.get_message()
        # 1001 going away, or 1012 service restart: either tells the widget to reconnect.
        assert closed.value.reason.code in (1001, 1012), closed.value.reason
        assert await trio.to_thread.run_sync(daemon.wait_exit) == 0
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()


async def test_state_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """Started from a shell with umask 022, the database and blob files are still the service's
    alone (owner only), as under the unit's UMask=0077."""
    daemon = DaemonProcess(tmp_path)
    previous = os.umask(0o022)
    try:
        daemon.start()
    finally:
        os.umask(previous)
    try:
        assert (await chat(daemon, "Не приходит справка"))["type"] == "accepted"
    finally:
        await trio.to_thread.run_sync(daemon.stop)
    made = [daemon.state, *daemon.state.rglob("*")]
    assert daemon.state / "omnirouter.db" in made, made
    shared = [(str(p), oct(p.stat().st_mode)) for p in made if p.stat().st_mode & 0o077]
    assert shared == []


async def test_sigterm_answers_an_open_long_poll(tmp_path: Path) -> None:
    """A backend long-poll open at SIGTERM gets its (empty) page, not a cut connection."""
    with running_daemon(tmp_path) as daemon:
        async with daemon.backend() as backend:
            polled: dict[str, httpx.Response] = {}

            async def poll() -> None:
                polled["page"] = await backend.get(
                    "/api/v1/envelopes", params={"after": 0, "wait": 60}, timeout=90
                )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                await trio.sleep(0.5)  # the poll is waiting inside the daemon
                code = await trio.to_thread.run_sync(daemon.stop)
    assert code == 0
    assert polled["page"].status_code == 200
    assert polled["page"].json() == {"envelopes": [], "next": "0"}


async def test_a_stalled_request_body_is_answered_408(tmp_path: Path) -> None:
    """A client that announces a body and stops sending it gets 408 and its connection closed;
    the daemon goes on serving."""
    quick = {'body_timeout = "60s"': 'body_timeout = "1s"'}
    with running_daemon(tmp_path, router_edits=quick) as d:
        stream = await trio.open_tcp_stream("127.0.0.1", d.port)
        async with stream:
            await stream.send_all(
                b"POST /api/v1/forms/feedback HTTP/1.1\r\nHost: omnirouter\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            answer = b""
            with trio.fail_after(30):  # a bound on a hang, not a timing assertion
                while chunk := await stream.receive_some():
                    answer += chunk
        async with open_chat(d) as chat:
            accepted = await chat.write("После зависшего запроса всё работает")
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 ", answer
    assert b"connection: close" in rest.lower()
    assert b'"error":"body_timeout"' in answer
    assert accepted["type"] == "accepted"


async def test_sigterm_amid_traffic_logs_no_errors_and_loses_nothing(tmp_path: Path) -> None:
    """Chats pipelining messages when SIGTERM comes: a clean exit, no error in the log, and
    every message the daemon accepted is in the feed after the restart."""
    daemon = DaemonProcess(tmp_path)
    daemon.edit_router("drain_seconds = 10", "drain_seconds = 2")
    await trio.to_thread.run_sync(daemon.start)
    accepted: set[str] = set()
    try:

        async def citizen(n: int) -> None:
            with suppress(ConnectionClosed):
                async with open_websocket_url(daemon.ws_url) as ws:
                    client = ChatClient(ws)
                    await client.hello()
                    for k in range(400):
                        await client.send(
                            {"type": "message", "client_id": f"{n}-{k}", "text": f"вопрос {n}-{k}"}
                        )
                        if k % 20 == 19:  # a burst in flight, then read what came back
                            while (frame := await client.expect("accepted"))[
                                "client_id"
                            ] != f"{n}-{k}":
                                accepted.add(frame["envelope_id"])
                            accepted.add(frame["envelope_id"])

        async with trio.open_nursery() as nursery:
            for n in range(5):
                nursery.start_soon(citizen, n)
            await trio.sleep(0.5)
            daemon.signal(signal.SIGTERM)
        assert await trio.to_thread.run_sync(daemon.wait_exit) == 0
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()
    errors = [r for r in daemon.log_lines() if r["level"] in ("error", "critical")]
    assert errors == []
    await trio.to_thread.run_sync(daemon.start)
    try:
        filed = {e["id"] for e in await feed_all(daemon)}
    finally:
        await trio.to_thread.run_sync(daemon.stop)
    assert accepted and accepted <= filed
