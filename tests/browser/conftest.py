"""Fixtures of the browser tests: one Chromium, a daemon the portal page may embed, a fresh tab."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from channels.webchat.identity import signature
from tests.chromium import BrowserPeer, CitizenPage, artifacts_for, browser_peer
from tests.clamd import ClamdServer
from tests.integration.daemon import DaemonProcess, write_secret

# The portal's identity key, which the test daemon trusts (identity_secret_file).
PORTAL_KEY = "portal-key-of-the-browser-tests"
PORTAL_KEY_FILE = "secrets/portal-identity.key"

__all__ = ["browser_peer"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed browser test's report shows the page's console log and where its screenshots are."""
    report = yield
    if report.when == "call" and report.failed:
        artifacts = artifacts_for(item.nodeid)
        console = artifacts / "console.log"
        report.sections.append(
            ("browser console", console.read_text() if console.exists() else "(nothing)")
        )
        report.sections.append(
            ("browser artifacts", f"{artifacts}/ (end.png: the page as the test ended)")
        )
    return report


def portal_daemon_process(
    root: Path, portal_origin: str, clamd: ClamdServer, webchat: dict[str, str] | None = None
) -> DaemonProcess:
    """A daemon the portal page (another origin) may chat with: it trusts the portal's identity
    key (PORTAL_KEY) and scans files with the test clamd. `webchat` sets keys of
    channels/webchat.toml ("inactivity_timeout": '"2s"'; "rate_limits": a table's body)."""
    daemon = DaemonProcess(root)
    daemon.edit_router('clamd = "unix:/run/clamav/clamd.ctl"', f'clamd = "{clamd.address_unix}"')
    write_secret(daemon.config / PORTAL_KEY_FILE, PORTAL_KEY + "\n")
    path = daemon.config / "channels" / "webchat.toml"
    settings = {
        "allowed_origins": f'["{portal_origin}"]',
        "identity_secret_file": f'"{PORTAL_KEY_FILE}"',
        **(webchat or {}),
    }
    rate_limits = settings.pop("rate_limits", None)
    text = path.read_text()
    if rate_limits is not None:
        text = text.partition("[rate_limits]")[0] + "[rate_limits]\n" + rate_limits
    for key, value in settings.items():
        line = f"{key} = {value}"
        text, found = re.subn(rf"^#? ?{key} = .*$", line, text, count=1, flags=re.MULTILINE)
        assert found, f"the shipped webchat.toml has no {key}"
    path.write_text(text)
    return daemon


@pytest.fixture(scope="module")
def portal_daemon(
    browser_peer: BrowserPeer,
    clamd: ClamdServer,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaemonProcess]:
    """A daemon whose chat the portal page may open; shared by a module. A module sets more
    of channels/webchat.toml with a WEBCHAT dict (a shorter inactivity_timeout, say)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    webchat = getattr(request.module, "WEBCHAT", None)
    daemon = portal_daemon_process(root, browser_peer.portal_origin, clamd, webchat)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def signed_identity(
    user_id: str, phone: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """The portal's signature of its logged-in user, as docs/api.md shows the portal makes it."""
    iat = int(time.time())
    sig = signature(PORTAL_KEY.encode(), user_id, phone, email, iat)
    return {"user_id": user_id, "phone": phone, "email": email, "iat": iat, "sig": sig}


@asynccontextmanager
async def browser_of(peer: BrowserPeer, artifacts: Path) -> AsyncIterator[CitizenPage]:
    """A fresh browser (own storage and network) with one tab; its last screenshot is end.png."""
    shutil.rmtree(artifacts, ignore_errors=True)
    stream = await trio.open_tcp_stream("127.0.0.1", peer.control_port)
    async with stream:
        page = CitizenPage(stream, peer, artifacts)
        await page.command("start", artifacts=str(artifacts))
        yield page
        # Async fixtures end inside the test's own trio run, before its outcome is known.
        await page.screenshot("end")


@pytest.fixture
async def citizen(
    browser_peer: BrowserPeer, request: pytest.FixtureRequest
) -> AsyncIterator[CitizenPage]:
    """A citizen's fresh browser tab (own storage and network); its last screenshot is end.png."""
    async with browser_of(browser_peer, artifacts_for(request.node.nodeid)) as page:
        yield page


@pytest.fixture
async def other_device(
    browser_peer: BrowserPeer, request: pytest.FixtureRequest
) -> AsyncIterator[CitizenPage]:
    """The same citizen's other device: a browser sharing nothing with `citizen`'s."""
    async with browser_of(
        browser_peer, artifacts_for(request.node.nodeid) / "other-device"
    ) as page:
        yield page
