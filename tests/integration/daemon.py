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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import WebSocketConnection

REPO = Path(__file__).resolve().parents[2]
# Generous for a loaded CI machine; the daemon answers in milliseconds.
FRAME_DEADLINE = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaemonProcess:
    """Configuration, process and clients of one test daemon."""

    def __init__(self, root: Path, router_overrides: str = "") -> None:
        self.root = root
        self.config = root / "config"
        self.state = root / "state"
        shutil.copytree(
            REPO / "config", self.config, ignore=shutil.ignore_patterns("*.tokens", "*.key")
        )
        self.port = free_port()
        self.backend_token = secrets.token_urlsafe(24)
        self.admin_token = secrets.token_urlsafe(24)
        (self.config / "secrets" / "backend.tokens").write_text(self.backend_token + "\n")
        (self.config / "secrets" / "admin.tokens").write_text(self.admin_token + "\n")
        text = (self.config / "router.toml").read_text()
        text = text.replace('state_dir = "../var/state"', f'state_dir = "{self.state}"')
        text = text.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{self.port}"')
        (self.config / "router.toml").write_text(text + router_overrides)
        self.log = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

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

    def start(self, timeout: float = 20.0) -> None:
        """Start the daemon and wait until /readyz says ready."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "router", "--config", str(self.config), "run"],
                stdout=log,
                stderr=log,
                cwd=self.root,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
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

    def backend(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base,
            timeout=30,
            headers={"Authorization": f"Bearer {self.backend_token}"},
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base, timeout=30, headers={"Authorization": f"Bearer {self.admin_token}"}
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the omnirouter command against this daemon's config."""
        return subprocess.run(
            [sys.executable, "-m", "router", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


@contextmanager
def running_daemon(root: Path, router_overrides: str = "") -> Iterator[DaemonProcess]:
    """A started daemon, stopped (and its log shown on failure) afterwards."""
    daemon = DaemonProcess(root, router_overrides)
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
        self, text: str, client_id: str | None = None, topic: str | None = None
    ) -> dict[str, Any]:
        """Send a message and return its `accepted` frame."""
        client_id = client_id or secrets.token_hex(8)
        await self.send(
            {
                "type": "message",
                "client_id": client_id,
                "text": text,
                "topic": topic,
                "attachments": [],
            }
        )
        while True:
            frame = await self.receive()
            if frame["type"] in ("accepted", "error") and frame.get("client_id") == client_id:
                return frame

    async def notice(self, kind: str) -> dict[str, Any]:
        """The first notice of `kind`, already received or arriving."""
        for notice in self.notices:
            if notice["kind"] == kind:
                return notice
        while True:
            frame = await self.expect("notice")
            if frame["kind"] == kind:
                return frame
