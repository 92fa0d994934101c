"""The channel platform over the real daemon: a plug-in found by its entry point, supervised
accounts that crash and are restarted, and a reload that adds and removes accounts."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import trio

from .channel_double import install
from .daemon import REPO, DaemonProcess, open_chat
from .test_public_edge import metric

DOUBLE = """
enabled = true
[accounts.steady]
behaviour = "steady"
[accounts.crashing]
behaviour = "crashing"
"""


async def status(daemon: DaemonProcess) -> dict[str, Any]:
    async with daemon.admin() as admin:
        body: dict[str, Any] = (await admin.get("/api/v1/admin/status")).json()
    return body


async def accounts(daemon: DaemonProcess) -> dict[str, Any]:
    found: dict[str, Any] = (await status(daemon))["channels"]["messenger"]["accounts"]
    return found


async def test_accounts_are_supervised_and_reloaded_one_by_one(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "daemon")
    daemon.env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(install(tmp_path / "site"))])
    daemon.edit_router('restart_max = "5m"', 'restart_max = "2s"')
    (daemon.config / "channels" / "messenger.toml").write_text(DOUBLE)
    daemon.start()
    try:
        assert daemon.process is not None
        pid = daemon.process.pid
        for _ in range(400):  # bounded wait for a few crashes (1 to 2 s apart)
            if (await accounts(daemon))["crashing"]["restarts"] >= 3:
                break
            await trio.sleep(0.05)
        found = await accounts(daemon)
        assert found["crashing"]["restarts"] >= 3
        assert "ConnectionResetError" in found["crashing"]["last_error"]
        assert found["steady"] == {"state": "up", "restarts": 0, "last_error": None, "runs": 1}
        assert metric(daemon, "omnirouter_channel_restarts_total") >= 3
        async with open_chat(daemon) as chat:  # the other channels are untouched
            assert (await chat.write("Справка не пришла"))["type"] == "accepted"

        (daemon.config / "channels" / "messenger.toml").write_text(
            'enabled = true\n[accounts.steady]\n[accounts.added]\nbehaviour = "steady"\n'
        )
        daemon.signal(signal.SIGHUP)
        for _ in range(200):
            if set(await accounts(daemon)) == {"steady", "added"}:
                break
            await trio.sleep(0.05)
        found = await accounts(daemon)
        assert set(found) == {"steady", "added"}
        assert found["steady"]["runs"] == 1  # unchanged: not restarted
        assert found["added"]["state"] == "up"
        # Only the account whose settings changed is restarted.
        (daemon.config / "channels" / "messenger.toml").write_text(
            'enabled = true\n[accounts.steady]\n[accounts.added]\nbehaviour = "crashing"\n'
        )
        daemon.signal(signal.SIGHUP)
        for _ in range(400):
            if (await accounts(daemon))["added"]["restarts"] >= 1:
                break
            await trio.sleep(0.05)
        found = await accounts(daemon)
        assert found["added"]["restarts"] >= 1
        assert found["steady"] == {"state": "up", "restarts": 0, "last_error": None, "runs": 1}
        assert daemon.process.pid == pid and daemon.process.poll() is None
        ready = (await status(daemon))["ready"]
        assert ready is True
    finally:
        daemon.stop()
