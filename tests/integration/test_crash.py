"""SIGKILL mid-stream: nothing acknowledged is lost or doubled, no confirmation is sent twice."""

from __future__ import annotations

import json
import random
import secrets
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from .daemon import FRAME_DEADLINE, ChatClient, DaemonProcess, feed_all

SESSIONS = 20
# Messages each session has sent and not yet seen `accepted` for: the daemon is killed with
# frames still queued in its sockets, some persisted and unanswered, some never read.
WINDOW = 4
FRESH_SESSIONS = 3
RESENT_ACKED = 3


@dataclass
class Session:
    """What one citizen sent and which messages the daemon acknowledged."""

    index: int
    token: str | None = None
    sent: list[str] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)

    def client_id(self) -> str:
        return f"s{self.index}-m{len(self.sent)}-{secrets.token_hex(4)}"


def citizen_text(client_id: str) -> str:
    """Letters-only words: no identifiers, unlike any other message, and the same each time
    the message is sent again (a resend is the same message, not a new one under its id)."""
    chance = random.Random(client_id)
    return " ".join(
        "".join(chance.choices(string.ascii_lowercase, k=chance.randint(4, 9))) for _ in range(10)
    )


def message(client_id: str) -> dict[str, Any]:
    return {
        "type": "message",
        "client_id": client_id,
        "text": citizen_text(client_id),
        "topic": None,
        "attachments": [],
    }


class Tally:
    """Acknowledgements seen across sessions; fires `reached` at the kill point."""

    def __init__(self, kill_after: int) -> None:
        self.kill_after = kill_after
        self.accepted = 0
        self.reached = trio.Event()

    def count(self) -> None:
        self.accepted += 1
        if self.accepted >= self.kill_after:
            self.reached.set()


async def chat_until_killed(daemon: DaemonProcess, session: Session, tally: Tally) -> None:
    """Send messages with WINDOW in flight until the daemon dies under us."""
    window = trio.Semaphore(WINDOW)

    async def receive(ws: Any, nursery: trio.Nursery) -> None:
        try:
            while True:
                frame = json.loads(await ws.get_message())
                if frame["type"] == "accepted":
                    assert frame["client_id"] not in session.accepted, frame
                    session.accepted[frame["client_id"]] = frame
                    window.release()
                    tally.count()
                elif frame["type"] == "error":
                    raise AssertionError(f"daemon refused a message: {frame}")
        except ConnectionClosed:
            nursery.cancel_scope.cancel()

    async def send(ws: Any, nursery: trio.Nursery) -> None:
        try:
            while True:
                await window.acquire()
                client_id = session.client_id()
                session.sent.append(client_id)
                await ws.send_message(json.dumps(message(client_id)))
        except ConnectionClosed:
            nursery.cancel_scope.cancel()

    try:
        async with open_websocket_url(daemon.ws_url) as ws:
            client = ChatClient(ws)
            await client.hello()
            session.token = client.session
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive, ws, nursery)
                nursery.start_soon(send, ws, nursery)
    except* (ConnectionClosed, HandshakeError, OSError, trio.BrokenResourceError):
        pass


async def resend(daemon: DaemonProcess, session: Session, resent_ids: dict[str, str]) -> None:
    """Reconnect with the session token; resend the unacknowledged and a few acknowledged."""
    assert session.token is not None
    acked = list(session.accepted)
    unacked = [c for c in session.sent if c not in session.accepted]
    again = acked[:2] + acked[-1:] if len(acked) >= RESENT_ACKED else acked
    async with open_websocket_url(daemon.ws_url) as ws:
        client = ChatClient(ws)
        welcome = await client.hello(session.token)
        assert welcome["session"] == session.token, "the session did not survive the crash"
        for client_id in unacked:
            frame = await client.write(citizen_text(client_id), client_id)
            assert frame["type"] == "accepted", frame
            session.accepted[client_id] = frame
        for client_id in again:
            frame = await client.write(citizen_text(client_id), client_id)
            assert frame["type"] == "accepted", frame
            first = session.accepted[client_id]
            assert frame["envelope_id"] == first["envelope_id"], (client_id, first, frame)
            assert frame["ticket"]["number"] == first["ticket"]["number"]
            resent_ids[client_id] = frame["envelope_id"]


async def fresh_ticket(daemon: DaemonProcess, session: Session) -> None:
    """A new citizen after the restart opens a new ticket."""
    async with open_websocket_url(daemon.ws_url) as ws:
        client = ChatClient(ws)
        await client.hello()
        session.token = client.session
        client_id = session.client_id()
        session.sent.append(client_id)
        frame = await client.write(citizen_text(client_id), client_id)
        assert frame["type"] == "accepted" and frame["ticket"]["is_new"], frame
        session.accepted[client_id] = frame


async def wait_outbox_drained(daemon: DaemonProcess) -> None:
    """Poll the admin status until every queued notification went out (no event exists)."""
    async with daemon.admin() as admin:
        with trio.fail_after(30):
            while True:
                status = (await admin.get("/api/v1/admin/status")).json()
                if status["queues"]["outbox"] == 0 and status["queues"]["intake"] == 0:
                    assert status["queues"]["dead"] == 0, status
                    return
                await trio.sleep(0.05)


async def replay_notices(daemon: DaemonProcess, token: str) -> list[dict[str, Any]]:
    """Every notice of a session, from resume{after_seq: 0} on a new connection."""
    async with open_websocket_url(daemon.ws_url) as ws:
        client = ChatClient(ws)
        welcome = await client.hello(token)
        last = welcome["last_seq"]
        await client.send({"type": "resume", "after_seq": 0})
        with trio.fail_after(FRAME_DEADLINE):
            while not client.notices or client.notices[-1]["seq"] < last:
                await client.receive()
        return client.notices


def counter_of(number: str) -> int:
    """The counter part of a ticket number (2-digit year + counter + check digit)."""
    return int(number[2:-1])


@pytest.mark.parametrize("kill_after", [25, 400], ids=["early", "mid-stream"])
async def test_sigkill_loses_and_doubles_nothing(tmp_path: Path, kill_after: int) -> None:
    """After SIGKILL and restart every acked message is in the feed once, confirmations once."""
    daemon = DaemonProcess(tmp_path)
    await trio.to_thread.run_sync(daemon.start)
    try:
        sessions = [Session(i) for i in range(SESSIONS)]
        tally = Tally(kill_after)
        async with trio.open_nursery() as nursery:
            for session in sessions:
                nursery.start_soon(chat_until_killed, daemon, session, tally)
            with trio.fail_after(60):
                await tally.reached.wait()
            daemon.kill()
        acked_before = {c: dict(f) for s in sessions for c, f in s.accepted.items()}
        unacked_before = sum(len(s.sent) - len(s.accepted) for s in sessions)
        assert len(acked_before) >= kill_after
        print(
            f"kill_after={kill_after}: {len(acked_before)} acknowledged, "
            f"{unacked_before} sent but unacknowledged at SIGKILL"
        )
        tickets_before = {f["ticket"]["number"] for f in acked_before.values()}

        await trio.to_thread.run_sync(daemon.start)
        resent_ids: dict[str, str] = {}
        fresh = [Session(SESSIONS + i) for i in range(FRESH_SESSIONS)]
        async with trio.open_nursery() as nursery:
            for session in sessions:
                if session.token is not None:
                    nursery.start_soon(resend, daemon, session, resent_ids)
            for session in fresh:
                nursery.start_soon(fresh_ticket, daemon, session)
        assert resent_ids, "no acknowledged message was resent"
        # A session the kill caught between its welcome and its first message has nothing to
        # check (and no ticket): the others are everyone who wrote.
        everyone = [s for s in sessions + fresh if s.token is not None and s.sent]
        for session in everyone:
            assert set(session.sent) == set(session.accepted), "a resent message was not taken"

        envelopes = await feed_all(daemon)
        # No envelope twice, and nothing the citizens did not send.
        ids = Counter(e["id"] for e in envelopes)
        assert [i for i, n in ids.items() if n > 1] == []
        keys = Counter((e["thread"]["conversation_id"], e["channel_message_id"]) for e in envelopes)
        assert [k for k, n in keys.items() if n > 1] == []
        by_message = {e["channel_message_id"]: e for e in envelopes}
        sent = {c for s in everyone for c in s.sent}
        assert set(by_message) == sent
        assert len(envelopes) == len(sent)
        for session in everyone:
            conversations = {by_message[c]["thread"]["conversation_id"] for c in session.sent}
            assert len(conversations) == 1, (session.index, conversations)
            for client_id, frame in session.accepted.items():
                assert by_message[client_id]["id"] == frame["envelope_id"], client_id
        for client_id, frame in acked_before.items():
            assert by_message[client_id]["id"] == frame["envelope_id"], client_id

        # One ticket per conversation, opened once, numbers never reused.
        new_tickets = [e["ticket"]["number"] for e in envelopes if e["ticket"]["is_new"]]
        assert len(new_tickets) == len(set(new_tickets)) == len(everyone)
        assert len({counter_of(n) for n in new_tickets}) == len(new_tickets)
        for session in everyone:
            numbers = {by_message[c]["ticket"]["number"] for c in session.sent}
            assert len(numbers) == 1, (session.index, numbers)
        after_restart = [s.accepted[s.sent[0]]["ticket"]["number"] for s in fresh]
        assert min(counter_of(n) for n in after_restart) > max(
            counter_of(n) for n in tickets_before
        )

        async with daemon.admin() as admin:
            scrape = (await admin.get("/metrics")).text
        redelivered = sum(
            float(line.rsplit(" ", 1)[1])
            for line in scrape.splitlines()
            if line.startswith('omnirouter_inbound_redeliveries_total{channel="webchat"}')
        )
        # Acked messages resent, plus those persisted at the kill whose `accepted` never left.
        assert redelivered >= len(resent_ids)
        print(
            f"resent after restart: {sum(len(s.sent) for s in sessions) - len(acked_before)} "
            f"unacknowledged ({int(redelivered) - len(resent_ids)} of them persisted before the "
            f"kill), {len(resent_ids)} acknowledged; {len(envelopes)} envelopes in the feed"
        )

        # Confirmations: delivered into each session's history once, seqs strictly increasing.
        await wait_outbox_drained(daemon)
        for session in everyone:
            assert session.token is not None
            notices = await replay_notices(daemon, session.token)
            seqs = [n["seq"] for n in notices]
            assert seqs == sorted(set(seqs)) == list(range(1, len(seqs) + 1)), seqs
            confirmations = Counter(n["ticket"] for n in notices if n["kind"] == "confirmation")
            ticket = session.accepted[session.sent[0]]["ticket"]["number"]
            assert confirmations == {ticket: 1}, (session.index, notices)

        assert daemon.stop() == 0
        records = []
        for line in daemon.log.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by SIGKILL
        assert [r for r in records if r.get("level") in ("error", "critical")] == []
        assert sum(" ready on " in r.get("msg", "") for r in records) == 2
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()
