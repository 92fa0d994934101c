"""A real omnirouter daemon in a subprocess, on a free port, with its own config and state."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
# Generous for a loaded CI machine; the daemon answers in milliseconds.
FRAME_DEADLINE = 10.0


LAX_RATE_LIMITS = """
[rate_limits]
session_rate = 10000
session_burst = 10000
message_rate = 10000
message_burst = 10000
address_message_rate = 10000
address_message_burst = 10000
upload_rate = 10000
upload_burst = 10000
address_upload_rate = 10000
address_upload_burst = 10000
form_rate = 10000
form_burst = 10000
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_secret(path: Path, text: str) -> None:
    """Write a secret file as an admin must: unreadable by other users."""
    path.write_text(text)
    path.chmod(0o600)


class DaemonProcess:
    """Configuration, process and clients of one test daemon."""

    def __init__(
        self,
        root: Path,
        router_overrides: str = "",
        env: dict[str, str] | None = None,
        *,
        shipped_rate_limits: bool = False,
    ) -> None:
        self.root = root
        # Extra environment for the process (NOTIFY_SOCKET, WATCHDOG_USEC).
        self.env = dict(env or {})
        self.config = root / "config"
        self.state = root / "state"
        shutil.copytree(
            REPO / "config", self.config, ignore=shutil.ignore_patterns("*.tokens", "*.key")
        )
        self.port = free_port()
        self.backend_token = secrets.token_urlsafe(24)
        self.admin_token = secrets.token_urlsafe(24)
        self.metrics_token = secrets.token_urlsafe(24)
        for role in ("backend", "admin", "metrics"):
            write_secret(self.config / "secrets" / f"{role}.tokens", self.token(role) + "\n")
        text = (self.config / "router.toml").read_text()
        text = text.replace('state_dir = "../var/state"', f'state_dir = "{self.state}"')
        text = text.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{self.port}"')
        if not shipped_rate_limits:
            text = text.replace("max_connections_per_ip = 100", "max_connections_per_ip = 100000")
        (self.config / "router.toml").write_text(text + router_overrides)
        if not shipped_rate_limits:
            # Suites write faster than any citizen and from one address; the limits
            # themselves are tested in test_public_edge.
            webchat = self.config / "channels" / "webchat.toml"
            shipped = webchat.read_text().replace(
                "max_sockets_per_address = 100", "max_sockets_per_address = 100000"
            )
            webchat.write_text(shipped.partition("[rate_limits]")[0] + LAX_RATE_LIMITS)
        self.log = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def token(self, role: str) -> str:
        """This daemon's token for a role: backend, admin or metrics."""
        token: str = getattr(self, f"{role}_token")
        return token

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/chat/ws"

    def edit_router(self, old: str, new: str) -> None:
        """Change router.toml in place (for reload tests)."""
        path = self.config / "router.toml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))

    def spawn(self) -> None:
        """Start the process without waiting for readiness."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                # The systemd unit's form: the command, then --config.
                [sys.executable, "-m", "router", "run", "--config", str(self.config)],
                stdout=log,
                stderr=log,
                cwd=self.root,
                env={**os.environ, "PYTHONPATH": str(REPO), **self.env},
            )

    def start(self, timeout: float = 20.0) -> None:
        """Start the daemon and wait until /readyz says ready."""
        self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"daemon exited with {self.process.returncode}:\n" + self.log.read_text()
                )
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("daemon did not become ready:\n" + self.log.read_text())

    def wait_exit(self, timeout: float = 20.0) -> int:
        """Wait for the process to end by itself; its exit code."""
        assert self.process is not None
        return self.process.wait(timeout)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: no chance to drain or commit anything more."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode

    def log_lines(self) -> list[dict[str, Any]]:
        """The daemon's JSON log records."""
        return [
            json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")
        ]

    # -- clients --------------------------------------------------------------------------

    def client(self, role: str) -> httpx.AsyncClient:
        """An HTTP client holding this daemon's token for a role."""
        return httpx.AsyncClient(
            base_url=self.base,
            timeout=30,
            headers={"Authorization": f"Bearer {self.token(role)}"},
        )

    def backend(self) -> httpx.AsyncClient:
        return self.client("backend")

    def admin(self) -> httpx.AsyncClient:
        return self.client("admin")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the omnirouter command against this daemon's config."""
        return subprocess.run(
            [sys.executable, "-m", "router", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO), **self.env},
        )


@contextmanager
def running_daemon(
    root: Path,
    router_overrides: str = "",
    router_edits: Mapping[str, str] | None = None,
    *,
    shipped_rate_limits: bool = False,
) -> Iterator[DaemonProcess]:
    """A started daemon (router.toml overridden, or edited old -> new), stopped afterwards."""
    daemon = DaemonProcess(root, router_overrides, shipped_rate_limits=shipped_rate_limits)
    for old, new in (router_edits or {}).items():
        daemon.edit_router(old, new)
    daemon.start()
    try:
        yield daemon
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.stop()


class ChatClient:
    """One citizen in the web chat: a session over a real WebSocket."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.session: str | None = None
        self.welcome: dict[str, Any] = {}
        self.notices: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send_message(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self) -> dict[str, Any]:
        """The next frame; a test waiting longer than FRAME_DEADLINE fails rather than hangs."""
        with trio.fail_after(FRAME_DEADLINE):
            frame: dict[str, Any] = json.loads(await self.ws.get_message())
        if frame["type"] == "notice":
            self.notices.append(frame)
        return frame

    async def hello(self, session: str | None = None, lang: str = "ru") -> dict[str, Any]:
        await self.send({"type": "hello", "session": session, "identity": None, "lang": lang})
        self.welcome = await self.expect("welcome")
        self.session = self.welcome["session"]
        return self.welcome

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next frame of type `kind`, keeping notices seen on the way."""
        while True:
            frame = await self.receive()
            if frame["type"] == kind:
                return frame

    async def write(
        self,
        text: str,
        client_id: str | None = None,
        topic: str | None = None,
        attachment_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """Send a message and return its `accepted` frame."""
        client_id = client_id or secrets.token_hex(8)
        await self.send(
            {
                "type": "message",
                "client_id": client_id,
                "text": text,
                "topic": topic,
                "attachments": attachment_ids or [],
            }
        )
        while True:
            frame = await self.receive()
            if frame["type"] in ("accepted", "error") and frame.get("client_id") == client_id:
                return frame


# -- helpers appended for the operations tests (lifecycle, crash, webhook, logging) ---------------


def log_text_lines(daemon: DaemonProcess) -> list[str]:
    """Every non-empty line the daemon wrote to its log, JSON or not."""
    return [line for line in daemon.log.read_text().splitlines() if line.strip()]


async def feed_all(daemon: DaemonProcess, page: int = 500) -> list[dict[str, Any]]:
    """Every envelope in the pull feed, paging with the cursor from the start."""
    envelopes: list[dict[str, Any]] = []
    cursor = "0"
    async with daemon.backend() as client:
        while True:
            response = await client.get(
                "/api/v1/envelopes", params={"after": cursor, "limit": page}
            )
            response.raise_for_status()
            body = response.json()
            envelopes.extend(body["envelopes"])
            if not body["envelopes"]:
                return envelopes
            cursor = body["next"]


# -- helpers for the chat, backend API, feedback form and admin CLI suites ---------------------
# (appended; nothing above depends on them)

SETTLE_ROUNDS = 200  # x 0.05 s: a bounded wait for queues to drain, never a timed assertion


@asynccontextmanager
async def open_chat(
    daemon: DaemonProcess, session: str | None = None, *, hello: bool = True
) -> AsyncIterator[ChatClient]:
    """A chat client on a fresh WebSocket, greeted (with `session` if given) unless hello=False."""
    async with open_websocket_url(daemon.ws_url) as ws:
        client = ChatClient(ws)
        if hello:
            await client.hello(session)
        yield client


async def wait_notice(
    client: ChatClient, kind: str, *, since: int = 0, ticket: str | None = None
) -> dict[str, Any]:
    """The first notice of `kind` (for `ticket`) at index >= `since` of the client's notices."""
    index = since
    while True:
        while index < len(client.notices):
            notice = client.notices[index]
            index += 1
            if notice["kind"] == kind and (ticket is None or notice["ticket"] == ticket):
                return notice
        await client.expect("notice")


async def read_feed(
    backend: httpx.AsyncClient, after: str | int = 0, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Every envelope in the feed after `after` (following `next`), and the final cursor."""
    envelopes: list[dict[str, Any]] = []
    cursor = str(after)
    while True:
        response = await backend.get("/api/v1/envelopes", params={"after": cursor, "limit": limit})
        assert response.status_code == 200, response.text
        page = response.json()
        envelopes.extend(page["envelopes"])
        if not page["envelopes"]:
            return envelopes, page["next"]
        cursor = page["next"]


async def envelope(backend: httpx.AsyncClient, envelope_id: str) -> dict[str, Any]:
    """One envelope from the feed, by id."""
    envelopes, _ = await read_feed(backend)
    for item in envelopes:
        if item["id"] == envelope_id:
            return item
    raise AssertionError(f"envelope {envelope_id} is not in the feed")


async def settle(daemon: DaemonProcess) -> dict[str, Any]:
    """Wait (bounded) until the intake and outbox queues are empty; the admin status then."""
    async with daemon.admin() as admin:
        for _ in range(SETTLE_ROUNDS):
            status = (await admin.get("/api/v1/admin/status")).json()
            if status["queues"]["intake"] == 0 and status["queues"]["outbox"] == 0:
                return dict(status)
            await trio.sleep(0.05)
    raise AssertionError(f"queues did not drain: {status['queues']}")


async def final_notification(backend: httpx.AsyncClient, notification_id: str) -> dict[str, Any]:
    """Poll a notification (bounded) until it leaves queued/sending; its record then."""
    for _ in range(SETTLE_ROUNDS):
        response = await backend.get(f"/api/v1/notifications/{notification_id}")
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        if record["state"] not in ("queued", "sending"):
            return record
        await trio.sleep(0.05)
    raise AssertionError(f"notification {notification_id} stayed {record['state']}")


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` (bounded: 20 s) until it returns something, not None and not empty."""
    for _ in range(400):
        found = await probe()
        if found:
            return found
        await trio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def metric(daemon: DaemonProcess, name: str, **labels: str) -> float:
    """The sum of a metric's samples (every label set, or those with `labels`) from /metrics."""
    response = httpx.get(
        daemon.base + "/metrics",
        headers={"Authorization": f"Bearer {daemon.metrics_token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    text = response.text
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith(name)
        and line[len(name)] in "{ "
        and all(f'{key}="{value}"' in line for key, value in labels.items())
    )


async def notification_in(
    daemon: DaemonProcess, notice_id: str, state: str
) -> dict[str, Any] | None:
    """The notification (GET /api/v1/notifications/ID) once it is in `state`, else None: a
    probe for eventually()."""
    async with daemon.backend() as backend:
        found: dict[str, Any] = (await backend.get(f"/api/v1/notifications/{notice_id}")).json()
    return found if found["state"] == state else None
