"""Webhook handoff against a real HTTP receiver: signatures, retries, dead letters, replay, drop."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import string
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from trio_websocket import open_websocket_url

from .daemon import ChatClient, DaemonProcess, free_port, write_secret

SCHEMA = "omnirouter.envelope/v1"
# Retries are 0.5-1 s apart and max_age is 2 s: everything here settles within seconds.
WAIT_DEADLINE = 20.0


@dataclass(frozen=True)
class Delivery:
    """One POST the daemon made to the receiver, and what the receiver answered."""

    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")


class Receiver:
    """The ticketing backend's webhook endpoint: records every POST, answers per `answer`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.deliveries: list[Delivery] = []
        # (idempotency key, attempt number for that key) -> HTTP status to answer.
        self.answer: Callable[[str, int], int] = lambda key, attempt: 200
        self._arrived = trio.Event()
        self._stop = trio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/omnirouter"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key", "")
        attempt = 1 + sum(d.key == key for d in self.deliveries)
        status = self.answer(key, attempt) if scope["method"] == "POST" else 405
        self.deliveries.append(Delivery(headers, body, status))
        self._arrived.set()
        self._arrived = trio.Event()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        config = HypercornConfig()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = None
        await serve(self, config, shutdown_trigger=self._stop.wait, task_status=task_status)  # type: ignore[arg-type]

    def stop(self) -> None:
        self._stop.set()

    def of(self, key: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.key == key]

    async def delivered(self, key: str) -> list[Delivery]:
        """Wait until the envelope `key` got a 2xx; every attempt made for it."""
        with trio.fail_after(WAIT_DEADLINE):
            while not any(200 <= d.status < 300 for d in self.of(key)):
                await self._arrived.wait()
        return self.of(key)


def webhook_daemon(root: Path, receiver: Receiver, max_age: str) -> tuple[DaemonProcess, bytes]:
    """A daemon (not started) in webhook mode with 1 s retries, and its signing key."""
    daemon = DaemonProcess(root)
    key = secrets.token_hex(24).encode()  # 48 bytes
    write_secret(daemon.config / "secrets" / "webhook.key", key.decode() + "\n")
    daemon.edit_router(
        'mode = "feed"\nfirst_retry = "2s"\nmax_retry = "10m"',
        'mode = "webhook"\nfirst_retry = "1s"\nmax_retry = "1s"',
    )
    daemon.edit_router(
        '(omnirouter dlq list).\nmax_age = "24h"', f'(omnirouter dlq list).\nmax_age = "{max_age}"'
    )
    daemon.edit_router(
        "# [handoff.webhook]\n",
        f'[handoff.webhook]\nurl = "{receiver.url}"\nsecret_file = "secrets/webhook.key"\n'
        'timeout = "5s"\n',
    )
    return daemon, key


@asynccontextmanager
async def webhook_setup(
    root: Path, max_age: str
) -> AsyncIterator[tuple[DaemonProcess, Receiver, bytes]]:
    receiver = Receiver()
    daemon, key = webhook_daemon(root, receiver, max_age)
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.run)
        await trio.to_thread.run_sync(daemon.start)
        try:
            yield daemon, receiver, key
        finally:
            if daemon.process is not None and daemon.process.poll() is None:
                assert await trio.to_thread.run_sync(daemon.stop) == 0
            receiver.stop()


async def chat_messages(daemon: DaemonProcess, texts: list[str]) -> list[str]:
    """Send messages in one chat session; their envelope ids."""
    async with open_websocket_url(daemon.ws_url) as ws:
        client = ChatClient(ws)
        await client.hello()
        ids = []
        for text in texts:
            frame = await client.write(text)
            assert frame["type"] == "accepted", frame
            ids.append(frame["envelope_id"])
        return ids


def assert_signed(delivery: Delivery, key: bytes, envelope_id: str) -> None:
    """Headers per CONTRACTS.md, and a signature we compute ourselves."""
    headers = delivery.headers
    assert headers["idempotency-key"] == envelope_id
    assert headers["content-type"].startswith("application/json")
    timestamp = headers["x-omnirouter-timestamp"]
    assert timestamp.isdigit()
    expected = hmac.new(key, timestamp.encode() + b"." + delivery.body, hashlib.sha256)
    assert hmac.compare_digest(headers["x-omnirouter-signature"], "sha256=" + expected.hexdigest())
    envelope = json.loads(delivery.body)
    assert envelope["id"] == envelope_id and envelope["schema"] == SCHEMA


async def queues(daemon: DaemonProcess) -> dict[str, int]:
    async with daemon.admin() as admin:
        response = await admin.get("/api/v1/admin/status")
        assert response.status_code == 200
        return response.json()["queues"]


async def dead_letters(daemon: DaemonProcess) -> list[dict[str, Any]]:
    async with daemon.admin() as admin:
        response = await admin.get("/api/v1/admin/dlq")
        assert response.status_code == 200
        return response.json()["dead_letters"]


async def wait_dead(daemon: DaemonProcess, envelope_id: str) -> dict[str, Any]:
    """Poll the dead-letter list (no event exists) until the envelope's handoff is in it."""
    with trio.fail_after(WAIT_DEADLINE):
        while True:
            for letter in await dead_letters(daemon):
                if letter["subject"] == envelope_id:
                    return letter
            await trio.sleep(0.1)


async def wait_handoff_idle(daemon: DaemonProcess) -> None:
    """Poll until no webhook delivery is queued (the last 2xx was recorded)."""
    with trio.fail_after(WAIT_DEADLINE):
        while True:
            if (await queues(daemon))["handoff"] == 0:
                return
            await trio.sleep(0.05)


async def cli(daemon: DaemonProcess, *args: str) -> Any:
    return await trio.to_thread.run_sync(lambda: daemon.cli(*args))


async def test_webhook_is_signed_retried_and_delivered_once(tmp_path: Path) -> None:
    """Each envelope is POSTed signed, retried after 500s, then delivered once with a 2xx."""
    async with webhook_setup(tmp_path, max_age="1h") as (daemon, receiver, key):
        receiver.answer = lambda envelope_id, attempt: 500 if attempt <= 2 else 204
        ids = await chat_messages(daemon, ["первое сообщение в чат", "второе, уже другое"])
        for envelope_id in ids:
            attempts = await receiver.delivered(envelope_id)
            assert [d.status for d in attempts] == [500, 500, 204]
            assert len({d.body for d in attempts}) == 1, "a retry changed the body"
            for delivery in attempts:
                assert_signed(delivery, key, envelope_id)
        await wait_handoff_idle(daemon)
        assert (await queues(daemon))["dead"] == 0
        successes = [d.key for d in receiver.deliveries if 200 <= d.status < 300]
        assert sorted(successes) == sorted(ids)
        assert {d.key for d in receiver.deliveries} == set(ids)


async def test_webhook_dead_letter_replay_and_drop(tmp_path: Path) -> None:
    """Failing past max_age makes a dead letter; dlq replay delivers it, dlq drop removes it."""
    async with webhook_setup(tmp_path, max_age="2s") as (daemon, receiver, key):
        receiver.answer = lambda envelope_id, attempt: 500
        [first] = await chat_messages(daemon, ["этот конверт станет мёртвым письмом"])
        letter = await wait_dead(daemon, first)
        assert letter["id"].startswith("handoff:")
        assert letter["attempts"] >= 2 and letter["last_error"] == "HTTP 500", letter
        assert len(receiver.of(first)) == letter["attempts"]

        listed = await cli(daemon, "dlq", "list")
        assert listed.returncode == 0, listed.stderr
        assert letter["id"] in listed.stdout and first in listed.stdout
        as_json = await cli(daemon, "dlq", "list", "--json")
        assert [d["id"] for d in json.loads(as_json.stdout)["dead_letters"]] == [letter["id"]]

        receiver.answer = lambda envelope_id, attempt: 200
        replayed = await cli(daemon, "dlq", "replay", letter["id"])
        assert replayed.returncode == 0, replayed.stderr
        attempts = await receiver.delivered(first)
        assert [d.status for d in attempts].count(200) == 1
        assert_signed(attempts[-1], key, first)
        await wait_handoff_idle(daemon)
        assert await dead_letters(daemon) == []
        assert "no dead letters" in (await cli(daemon, "dlq", "list")).stdout

        receiver.answer = lambda envelope_id, attempt: 503
        [second] = await chat_messages(daemon, ["а этот конверт оператор отбросит"])
        dropped = await wait_dead(daemon, second)
        result = await cli(daemon, "dlq", "drop", dropped["id"])
        assert result.returncode == 0, result.stderr
        assert await dead_letters(daemon) == []
        assert "no dead letters" in (await cli(daemon, "dlq", "list")).stdout
        assert (await cli(daemon, "dlq", "show", dropped["id"])).returncode == 1
        assert (await cli(daemon, "dlq", "replay", dropped["id"])).returncode == 1
        assert not any(200 <= d.status < 300 for d in receiver.of(second))


async def test_webhook_posts_each_envelope_once_when_the_backend_is_healthy(tmp_path: Path) -> None:
    """With a backend answering 2xx at once, every envelope is POSTed exactly once."""
    async with webhook_setup(tmp_path, max_age="1h") as (daemon, receiver, _key):
        texts = [
            " ".join("".join(random.choices(string.ascii_lowercase, k=7)) for _ in range(6))
            for _ in range(100)
        ]
        ids = await chat_messages(daemon, texts)
        for envelope_id in ids:
            await receiver.delivered(envelope_id)
        await wait_handoff_idle(daemon)
        posts = Counter(d.key for d in receiver.deliveries)
        assert {key: n for key, n in posts.items() if n > 1} == {}
        assert set(posts) == set(ids)
