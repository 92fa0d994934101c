"""Fixtures of the browser tests: one Chromium, a daemon the portal page may embed, a fresh tab."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
import trio

from tests.chromium import BrowserPeer, CitizenPage, artifacts_for, browser_peer
from tests.integration.daemon import DaemonProcess

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


@pytest.fixture(scope="module")
def portal_daemon(
    browser_peer: BrowserPeer,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaemonProcess]:
    """A daemon whose chat the portal page (another origin) may open; shared by a module."""
    daemon = DaemonProcess(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]))
    webchat = daemon.config / "channels" / "webchat.toml"
    shipped = webchat.read_text()
    assert "allowed_origins = []" in shipped, "the shipped webchat.toml changed its allowlist"
    webchat.write_text(
        shipped.replace(
            "allowed_origins = []", f'allowed_origins = ["{browser_peer.portal_origin}"]'
        )
    )
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
async def citizen(
    browser_peer: BrowserPeer, request: pytest.FixtureRequest
) -> AsyncIterator[CitizenPage]:
    """A citizen's fresh browser tab (own storage and network); its last screenshot is end.png."""
    artifacts = artifacts_for(request.node.nodeid)
    shutil.rmtree(artifacts, ignore_errors=True)
    stream = await trio.open_tcp_stream("127.0.0.1", browser_peer.control_port)
    async with stream:
        page = CitizenPage(stream, browser_peer, artifacts)
        await page.command("start", artifacts=str(artifacts))
        yield page
        # Async fixtures end inside the test's own trio run, before its outcome is known.
        await page.screenshot("end")
