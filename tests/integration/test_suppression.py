"""The suppression list over the real daemon: the admin API, the command, and the outbox."""

from __future__ import annotations

import functools
import json

import trio

from .daemon import DaemonProcess, final_notification, open_chat, read_feed


async def cli(daemon: DaemonProcess, *args: str) -> tuple[int, str]:
    done = await trio.to_thread.run_sync(functools.partial(daemon.cli, *args))
    return done.returncode, done.stdout + done.stderr


async def test_a_suppressed_address_gets_nothing_and_the_notice_waits_as_a_dead_letter(
    module_daemon: DaemonProcess,
) -> None:
    daemon = module_daemon
    async with open_chat(daemon) as chat, daemon.backend() as backend, daemon.admin() as admin:
        accepted = await chat.write("Не приходит код подтверждения")
        number = accepted["ticket"]["number"]
        envelopes, _ = await read_feed(backend)
        session = next(e for e in envelopes if e["id"] == accepted["envelope_id"])["sender"]
        entry = {"address": session["address"], "channel": "webchat", "reason": "operator"}
        added = await admin.post("/api/v1/admin/suppressions", json=entry)
        assert added.status_code == 201, added.text
        assert added.json()["reason"] == "operator" and added.json()["until"] is None

        change = {"status": "in_progress", "comment": "Проверяем"}
        queued = await backend.post(f"/api/v1/tickets/{number}/status", json=change)
        notification_id = queued.json()["notification_id"]
        record = await final_notification(backend, notification_id)
        assert record["state"] == "dead"
        assert record["last_error"] == "suppressed: operator"
        assert [(h["state"], h["event"]) for h in record["history"]] == [
            ("queued", "created"),
            ("failed", "suppressed"),
            ("dead", "no_fallback"),
        ]
        assert record["attempts"] == 0

        removed = await admin.delete(
            "/api/v1/admin/suppressions",
            params={"address": session["address"], "channel": "webchat"},
        )
        assert removed.status_code == 200, removed.text
        replayed = await admin.post(f"/api/v1/admin/dlq/notification:{notification_id}/replay")
        assert replayed.status_code == 200, replayed.text
        record = await final_notification(backend, notification_id)
        assert record["state"] == "sent"
        status = await chat.expect("notice")
        while status["kind"] != "status":
            status = await chat.expect("notice")
        assert status["ticket"] == number


async def test_the_command_adds_lists_masked_and_removes(module_daemon: DaemonProcess) -> None:
    code, out = await cli(
        module_daemon, "suppress", "add", "Ivan.Petrov@Mail.RU", "--reason", "bounced"
    )
    assert code == 0, out
    assert json.loads(out)["address"] == "ivan.petrov@mail.ru"
    code, out = await cli(module_daemon, "suppress", "list")
    assert code == 0 and "bounced" in out
    assert "ivan.petrov" not in out and "email" in out
    code, out = await cli(module_daemon, "suppress", "list", "--json")
    assert "ivan.petrov" not in out and "bounced" in out  # --json is masked too
    code, out = await cli(module_daemon, "suppress", "list", "--unmask")
    assert "ivan.petrov@mail.ru" in out
    code, out = await cli(module_daemon, "suppress", "remove", "ivan.petrov@mail.ru")
    assert code == 0, out
    code, out = await cli(module_daemon, "suppress", "list", "--unmask")
    assert "ivan.petrov" not in out
    code, out = await cli(module_daemon, "suppress", "remove", "ivan.petrov@mail.ru")
    assert code == 1 and "not on the list" in out


async def test_entries_that_cannot_be_read_are_refused(module_daemon: DaemonProcess) -> None:
    async with module_daemon.admin() as admin:
        for entry in (
            {"address": "someone", "reason": "bounced"},  # which channel?
            {"address": "+7 abc", "channel": "sms", "reason": "bounced"},
            {"address": "+7 123 456-78-90", "channel": "sms", "reason": "bounced"},  # unassigned
            {"address": "a@b.ru", "reason": "  "},
            {"address": "a\u202e@b.ru", "reason": "bounced"},
            {"address": "a@b.ru", "reason": "bounced", "until": "0999-01-01T00:00:00Z"},
        ):
            answer = await admin.post("/api/v1/admin/suppressions", json=entry)
            assert answer.status_code == 422, (entry, answer.text)
        missing = await admin.delete(
            "/api/v1/admin/suppressions", params={"address": "nobody@example.ru"}
        )
        assert missing.status_code == 404
