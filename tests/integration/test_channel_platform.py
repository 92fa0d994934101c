"""The channel platform over the real daemon: a plug-in found by its entry point, supervised
accounts that crash and are restarted, and a reload that adds and removes accounts."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import trio

from .channel_double import install
from .daemon import REPO, DaemonProcess, eventually, feed_all, notification_in, open_chat
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


# An account up since its first run, in the daemon's asyncio loop.
UNTOUCHED = {
    "state": "up",
    "restarts": 0,
    "last_error": None,
    "runs": 1,
    "asyncio": "TrioEventLoop",
}


def health(account: dict[str, Any]) -> dict[str, Any]:
    """An account's supervision figures and the double's own counts, without its traffic."""
    return {k: account[k] for k in ("state", "restarts", "last_error", "runs", "asyncio")}


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
        assert health(found["steady"]) == UNTOUCHED
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
        assert health(found["steady"]) == UNTOUCHED
        assert daemon.process.pid == pid and daemon.process.poll() is None
        ready = (await status(daemon))["ready"]
        assert ready is True
    finally:
        daemon.stop()


CONTRACT = """
enabled = true
[accounts.default]
channel = "sms"
[accounts.bot]
inbound = [
    "early-1\\nНужна справка о доходах",
    "throttled-2\\nНе пришёл ответ на заявление",
    "blocked-3+phone:+79161234567\\nПрошу выдать выписку из реестра",
    "muted-4\\nВопрос о пособии на ребёнка",
    "!unreadable-5",
    "?early-1\\nОтмените мою заявку",
    "~auto-6\\nЯ в отпуске до понедельника",
    "bounced-7\\nПрошу выслать ответ почтой",
]
"""


async def test_the_contract_end_to_end_over_the_daemon(tmp_path: Path) -> None:
    """Raw deliveries are journalled and parsed after; a receipt that overtakes the answer to
    its attempt, a throttle, a block that falls back to SMS, a suppressed address and an
    unreadable delivery each end as the platform promises."""
    daemon = DaemonProcess(tmp_path / "daemon")
    daemon.env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(install(tmp_path / "site"))])
    messenger = daemon.config / "channels" / "messenger.toml"
    messenger.write_text('enabled = true\n[accounts.default]\nchannel = "sms"\n')
    daemon.start()
    try:
        async with daemon.admin() as admin:
            muted = {"address": "muted-4", "channel": "messenger", "reason": "operator"}
            assert (await admin.post("/api/v1/admin/suppressions", json=muted)).status_code == 201
        messenger.write_text(CONTRACT)
        daemon.signal(signal.SIGHUP)  # the bot account starts and receives its deliveries

        async def all_filed() -> list[dict[str, Any]] | None:
            found = [e for e in await feed_all(daemon) if e["channel"] == "messenger"]
            return found if len(found) == 8 else None

        envelopes = {e["channel_message_id"]: e for e in await eventually(all_filed, "8 filed")}
        assert not any("bounce" in key for key in envelopes)  # a bounce files no message
        unreadable = envelopes["bot:4"]
        assert unreadable["flags"] == ["unparseable"] and unreadable["text"] == ""
        async with daemon.backend() as backend:
            raw = await backend.get(f"/api/v1/raw/{unreadable['raw']['id']}")
        assert raw.status_code == 200 and raw.content == b"!unreadable-5"
        assert raw.headers["content-type"].startswith("text/plain")
        assert envelopes["bot:0"]["raw"]["size"] == len("early-1\nНужна справка о доходах".encode())
        # Point 10: a sender the channel does not vouch for, with a verified citizen's address,
        # joins nothing of theirs: a new ticket, flagged, related to theirs.
        forged, owner = envelopes["bot:5"], envelopes["bot:0"]
        assert "unverified_sender" in forged["flags"]
        assert forged["ticket"]["number"] != owner["ticket"]["number"]
        assert forged["ticket"]["related"] == [owner["ticket"]["number"]]
        assert forged["thread"]["conversation_id"] != owner["thread"]["conversation_id"]

        async def deliveries() -> dict[str, list[dict[str, Any]]]:
            found = await accounts(daemon)
            sent = [
                *found["bot"]["deliveries"],
                *(await status(daemon))["channels"]["sms"]["accounts"]["default"]["deliveries"],
            ]
            by_address: dict[str, list[dict[str, Any]]] = {}
            for delivery in sent:
                by_address.setdefault(delivery["address"], []).append(delivery)
            return by_address

        async def settled() -> dict[str, list[dict[str, Any]]] | None:
            found = await deliveries()
            return (
                found
                if {"early-1", "throttled-2", "+79161234567", "bounced-7"} <= set(found)
                and len(found["throttled-2"]) == 2
                else None
            )

        sent = await eventually(settled, "the deliveries")
        assert "muted-4" not in sent  # suppressed: no automatic message
        assert "!unreadable-5" not in sent and "unreadable-5" not in sent  # nothing to answer
        # A channel's auto_submitted (an autoreply) is filed, flagged, and never answered.
        assert "auto_submitted" in envelopes["bot:6"]["flags"]
        assert "auto-6" not in sent

        def notification(delivery: dict[str, Any], state: str) -> Awaitable[dict[str, Any] | None]:
            return notification_in(daemon, delivery["id"], state)

        early = await eventually(
            lambda: notification(sent["early-1"][0], "delivered"), "the early receipt applied"
        )
        assert [h["state"] for h in early["history"]][-2:] == ["sent", "delivered"]
        throttled = await eventually(lambda: notification(sent["throttled-2"][0], "sent"), "sent")
        assert "throttled" in [h["event"] for h in throttled["history"]]
        assert throttled["attempts"] == 1  # the throttle is not counted as a failed attempt
        fallback = await eventually(lambda: notification(sent["+79161234567"][0], "sent"), "sent")
        assert fallback["channel"] == "sms"
        # A bounce read from a message fails the notice it names and suppresses the address
        # for the channel's time.
        # (failed, then dead: the contact has no other verified channel to fall back to)
        bounced = await eventually(
            lambda: notification(sent["bounced-7"][0], "dead"), "the bounce applied"
        )
        failed = [h for h in bounced["history"] if h["event"] == "receipt_failed"]
        assert [h["reason"] for h in failed] == ["550 5.1.1 no such user"]
        async with daemon.admin() as admin:
            listed = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
        [entry] = [e for e in listed if e["address"] == "bounced-7"]
        assert entry["reason"] == "bounced" and entry["until"] is not None

        async with daemon.admin() as admin:
            letters = (await admin.get("/api/v1/admin/dlq")).json()["dead_letters"]
        intake = [letter for letter in letters if letter["id"].startswith("intake:")]
        assert [letter["last_error"] for letter in intake] == [
            "unparseable: the payload starts with '!'"
        ]
        suppressed = [letter for letter in letters if "suppressed" in (letter["last_error"] or "")]
        assert len(suppressed) == 1  # muted-4's confirmation: no other verified channel
        assert daemon.process is not None and daemon.process.poll() is None
    finally:
        daemon.stop()


def test_check_config_refuses_a_template_that_cannot_fit_its_channel(tmp_path: Path) -> None:
    """Every template is fitted to every channel that limits texts, with the longest values
    the router fills in; a reload would be refused the same way."""
    daemon = DaemonProcess(tmp_path / "daemon")
    daemon.env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(install(tmp_path / "site"))])
    messenger = daemon.config / "channels" / "messenger.toml"
    messenger.write_text('enabled = true\nsms_chars = 70\n[accounts.default]\nchannel = "sms"\n')
    refused = daemon.cli("check-config")
    assert refused.returncode != 0
    lines = refused.stdout.splitlines() + refused.stderr.splitlines()
    unfit = [line for line in lines if "does not fit the sms channel" in line]
    # The shipped SMS texts fit one Cyrillic SMS (70 characters) but for the longest.
    assert unfit and all(line.startswith("templates/") for line in unfit), lines
    assert not any(line.startswith("templates/ru.toml: confirmation:") for line in unfit)
    assert any(line.startswith("templates/en.toml: ") for line in unfit)

    messenger.write_text('enabled = true\nsms_chars = 1000\n[accounts.default]\nchannel = "sms"\n')
    assert daemon.cli("check-config").returncode == 0
