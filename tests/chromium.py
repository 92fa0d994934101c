"""Headless Chromium (tests/peers/browser: node, npm playwright-core) and a citizen's page in it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trio

from tests import peer_process

PEER = Path(__file__).parent / "peers" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# Screenshots and console logs of each browser test, one directory per test (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "artifacts" / "browser"
# Chromium starts in well under a second; a loaded CI box gets slack.
START_DEADLINE = 30.0
# Every page command waits at most 10 s inside the peer; this bounds the round trip around it.
COMMAND_DEADLINE = 30.0


class BrowserError(Exception):
    """The page did not do or show what a command asked; says what the page logged."""


@dataclass(frozen=True)
class BrowserPeer:
    """The running peer: its control port, the portal page's port, and what it launched."""

    control_port: int
    portal_port: int
    chromium_version: str
    launch_ms: int

    @property
    def portal_origin(self) -> str:
        """The origin of the portal page that embeds the widget (for allowed_origins)."""
        return f"http://127.0.0.1:{self.portal_port}"

    def portal_url(
        self, daemon_base: str, lang: str | None = "ru", identity: dict[str, Any] | None = None
    ) -> str:
        """The portal page embedding the widget of the daemon at `daemon_base`, with the
        portal's language and its signed identity of the logged-in user on the script tag."""
        query = {"widget": f"{daemon_base}/chat/widget.js"}
        if lang:
            query["lang"] = lang
        if identity is not None:
            query["identity"] = json.dumps(identity)
        return f"{self.portal_origin}/portal?{urlencode(query)}"


def start_peer() -> tuple[subprocess.Popen[bytes], BrowserPeer]:
    """Start node on the peer (it launches Chromium); the process and its ports."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "node not found: the browser tests need Node.js (apt-get install nodejs)"
        )
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: run `make peers` (apt-get install chromium)")
    if not (PEER / "node_modules" / "playwright-core").is_dir():
        raise RuntimeError(
            f"the npm package playwright-core is not installed in {PEER}: run `make peers` (npm ci)"
        )
    # What node and Chromium say on stderr goes to a file: a pipe nobody reads could fill up
    # and stall the peer.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "peer.log"
    # stdin stays open for the peer's lifetime: it exits when it closes, so a killed pytest
    # leaves no Chromium behind.
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [node, str(PEER / "browser.js"), str(CHROMIUM)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        )
    assert process.stdout is not None
    try:
        ready = json.loads(process.stdout.readline())
    except ValueError:
        process.kill()
        process.wait(START_DEADLINE)
        raise RuntimeError(f"Chromium did not start:\n{log.read_text()[-2000:]}") from None
    return process, BrowserPeer(
        ready["control"], ready["portal"], ready["chromium"], ready["launch_ms"]
    )


def artifacts_for(nodeid: str) -> Path:
    """The artifacts directory of one test: its module's name, then its own."""
    module, _, name = nodeid.partition("::")
    return ARTIFACTS / Path(module).stem / re.sub(r"[^\w.-]+", "_", name)


@dataclass(frozen=True)
class PickedFile:
    """A file a citizen picks or drops: its name, type and bytes (or a size of zero bytes)."""

    name: str
    mime: str
    content: bytes | None = None
    size: int = 0

    def wire(self) -> dict[str, Any]:
        """As the browser peer takes it."""
        if self.content is None:
            return {"name": self.name, "mime": self.mime, "size": self.size}
        return {"name": self.name, "mime": self.mime, "base64": b64encode(self.content).decode()}


class CitizenPage:
    """One citizen's browser tab (a fresh context): what they do and what they see."""

    def __init__(self, stream: trio.SocketStream, peer: BrowserPeer, artifacts: Path) -> None:
        self.stream = stream
        self.peer = peer
        self.artifacts = artifacts
        self.buffer = b""

    async def command(self, cmd: str, **args: Any) -> Any:
        """One control command; its result, or BrowserError with the page's console log."""
        with trio.fail_after(COMMAND_DEADLINE):
            await self.stream.send_all(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            while b"\n" not in self.buffer:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise BrowserError(f"the browser peer closed the connection during {cmd}")
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            console = "\n".join(answer.get("console", [])) or "(nothing)"
            raise BrowserError(
                f"{cmd} {args}: {answer['error']}\nscreenshot: {answer.get('screenshot')}\n"
                f"page console:\n{console}"
            )
        return answer["result"]

    async def open(self, url: str) -> None:
        """Go to `url` and wait for it to load."""
        await self.command("open", url=url)

    async def open_portal(
        self, daemon_base: str, lang: str | None = "ru", identity: dict[str, Any] | None = None
    ) -> None:
        """Go to the portal page embedding the widget of the daemon at `daemon_base`."""
        await self.open(self.peer.portal_url(daemon_base, lang, identity))

    async def new_tab(self) -> int:
        """Open another tab of this browser (same storage); it becomes the current one."""
        index: int = await self.command("new_tab")
        return index

    async def switch_tab(self, index: int) -> None:
        """Make the tab `index` (0: the first) the current one."""
        await self.command("switch_tab", index=index)

    async def identify(self, identity: dict[str, Any] | None) -> None:
        """The portal's script calls window.omniChat.identify(identity): its user logged in
        (None: out)."""
        await self.command("identify", identity=identity)

    async def select(self, label: str, option: str) -> None:
        """Choose the option shown as `option` in the list labelled `label`."""
        await self.command("select", label=label, option=option)

    async def choose_files(self, selector: str, files: list[PickedFile]) -> None:
        """Pick `files` in the file input `selector`, as the system's file dialog does."""
        await self.command("choose_files", selector=selector, files=[f.wire() for f in files])

    async def drop(self, selector: str, files: list[PickedFile]) -> None:
        """Drag `files` from the desktop and drop them on `selector`."""
        await self.command("drop", selector=selector, files=[f.wire() for f in files])

    async def reduce_motion(self, reduce: bool) -> None:
        """Emulate the citizen's system asking for reduced motion (or not)."""
        await self.command("reduced_motion", reduce=reduce)

    async def text_size(self, percent: int) -> None:
        """Set the browser's text size to `percent` of the default, as its settings do."""
        await self.command("text_size", percent=percent)

    async def overflows(self, selector: str) -> bool:
        """Whether the element `selector` is wider than its box (scrolls sideways, cuts text)."""
        wider: bool = await self.command("overflows", selector=selector)
        return wider

    async def style(self, selector: str, prop: str) -> str:
        """The computed CSS property `prop` of the first element matching `selector`."""
        value: str = await self.command("style", selector=selector, property=prop)
        return value

    async def reload(self) -> None:
        """Reload the page, as the citizen's F5 does."""
        await self.command("reload")

    async def leave(self) -> None:
        """Go away from the page (about:blank): its scripts and sockets end."""
        await self.command("leave")

    async def fill(self, label: str, text: str) -> None:
        """Type `text` into the field labelled `label`."""
        await self.command("fill", label=label, text=text)

    async def type(self, text: str) -> None:
        """Type on the keyboard into whatever has focus."""
        await self.command("type", text=text)

    async def press(self, key: str) -> None:
        """Press a key (Playwright's names: "Enter", "Tab", "Shift+Tab")."""
        await self.command("press", key=key)

    async def see(self, text: str, within: str = "body") -> None:
        """Wait (bounded) until `text` is visible inside the CSS selector `within`."""
        await self.command("see", text=text, within=within)

    async def wait_for(self, selector: str) -> None:
        """Wait (bounded) until an element matches the CSS selector `selector`."""
        await self.command("wait_for", selector=selector)

    async def texts(self, selector: str) -> list[str]:
        """The rendered text of every element matching `selector`, in page order."""
        texts: list[str] = await self.command("texts", selector=selector)
        return texts

    async def set_offline(self, offline: bool) -> None:
        """Cut (True) or restore (False) this tab's network, as the browser's offline mode."""
        await self.command("offline", offline=offline)

    async def prefer_color_scheme(self, scheme: str) -> None:
        """Emulate the citizen's system colour preference: "light" or "dark"."""
        await self.command("color_scheme", scheme=scheme)

    async def focused(self) -> dict[str, Any] | None:
        """The element with keyboard focus (tag, id, label) and whether its focus is visible."""
        focused: dict[str, Any] | None = await self.command("focused")
        return focused

    async def audit(self, include: str) -> list[dict[str, Any]]:
        """axe-core's violations inside the CSS selector `include`."""
        violations: list[dict[str, Any]] = await self.command("audit", include=include)
        return violations

    async def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot as artifacts/`name`.png; its path."""
        return Path(await self.command("screenshot", name=name))


def by_impact(violations: list[dict[str, Any]]) -> dict[str, list[str]]:
    """axe violations grouped by impact, each as "rule-id: target, target"."""
    grouped: dict[str, list[str]] = {}
    for violation in violations:
        targets = ", ".join(node["target"] for node in violation["nodes"])
        grouped.setdefault(violation["impact"], []).append(f"{violation['id']}: {targets}")
    return grouped


def serious(grouped: dict[str, list[str]]) -> dict[str, list[str]]:
    """The serious and critical ones of violations grouped by impact."""
    return {impact: rules for impact, rules in grouped.items() if impact in ("serious", "critical")}


@pytest.fixture(scope="session")
def browser_peer() -> Iterator[BrowserPeer]:
    """One Chromium for the whole test session."""
    started = time.monotonic()
    try:
        process, peer = start_peer()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    print(
        f"\nChromium {peer.chromium_version}: launched in {peer.launch_ms} ms, "
        f"peer ready in {(time.monotonic() - started) * 1000:.0f} ms"
    )
    try:
        yield peer
    finally:
        peer_process.stop(process)
