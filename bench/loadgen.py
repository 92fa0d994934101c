"""Load generator worker: web-chat sessions over real WebSockets, driven by bench.run.

Run as `python -m bench.loadgen '<json job>'`. The worker opens its sessions, prints one
`ready` JSON line on stdout, waits for a `{"start": T}` line on stdin (T on the shared
CLOCK_MONOTONIC, so every worker process starts on the same instant), runs the job and prints
one `result` JSON line. Times are `time.monotonic()` seconds throughout.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import trio
from trio_websocket import WebSocketConnection, connect_websocket_url

# Frames the bench waits for longer than this mean the daemon is wedged, not slow.
FRAME_DEADLINE = 30.0
# Open loop: after the schedule ends, answers still in flight get this long to arrive.
DRAIN_SECONDS = 10.0
# Sessions are opened in waves so the handshakes do not measure the accept backlog.
CONNECT_PARALLEL = 50

_WORDS = tuple(
    " ".join(
        (
            "не могу войти в личный кабинет портала госуслуг после обновления страница выдаёт",
            "ошибку заявление на выплату пособия висит в статусе отправлено уже третью неделю",
            "прошу помочь записаться к врачу через сайт не получается код подтверждения из смс",
            "не приходит паспорт загранпаспорт справка налоговый вычет регистрация по месту",
            "жительства штраф оплата квитанция электронная подпись детский сад очередь запись",
            "перенос отмена срок",
        )
    ).split(" ")
)

_decode = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()


def chat_text(rng: random.Random) -> str:
    """A distinct citizen-like message of about 100 characters (never a near-duplicate)."""
    words = rng.choices(_WORDS, k=rng.randint(10, 18))
    return " ".join(words).capitalize() + f". Номер {rng.randrange(10**9)}."


@dataclass
class Session:
    """One chat session and what the worker learned from it."""

    index: int
    ws: WebSocketConnection
    token: str = ""
    ticket: str | None = None
    notices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stats:
    """Raw observations of one worker, returned to the orchestrator."""

    latencies: list[float] = field(default_factory=list)
    send_lag: list[float] = field(default_factory=list)
    accepted_in_window: int = 0
    errors: int = 0
    unanswered: int = 0
    sent: int = 0


def cpu_seconds() -> float:
    """User + system CPU of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def receive(session: Session) -> dict[str, Any]:
    """The next frame of a session, keeping notices."""
    with trio.fail_after(FRAME_DEADLINE):
        frame: dict[str, Any] = _decode.decode(await session.ws.get_message())
    if frame.get("type") == "notice":
        session.notices.append(frame)
    return frame


async def send_message(session: Session, client_id: str, text: str) -> None:
    """Send one chat message frame."""
    frame = {"type": "message", "client_id": client_id, "text": text, "topic": None}
    await session.ws.send_message(_encode.encode(frame).decode())


async def open_sessions(nursery: trio.Nursery, url: str, first: int, count: int) -> list[Session]:
    """Open `count` WebSockets and say hello on each."""
    sessions: list[Session | None] = [None] * count
    limiter = trio.CapacityLimiter(CONNECT_PARALLEL)

    async def one(i: int) -> None:
        async with limiter:
            ws = await connect_websocket_url(nursery, url, message_queue_size=64)
            session = Session(first + i, ws)
            await hello(session)
            sessions[i] = session

    async with trio.open_nursery() as inner:
        for i in range(count):
            inner.start_soon(one, i)
    return [s for s in sessions if s is not None]


def trio_deadline(moment: float) -> float:
    """Convert a CLOCK_MONOTONIC moment to trio's clock."""
    return trio.current_time() + (moment - time.monotonic())


async def hello(session: Session, *, wait: bool = True) -> None:
    """Start a new session (a new citizen) on this connection."""
    frame = {"type": "hello", "session": None, "identity": None, "lang": "ru"}
    await session.ws.send_message(_encode.encode(frame).decode())
    if wait:
        while (answer := await receive(session))["type"] != "welcome":
            pass
        session.token = answer["session"]


def new_citizen(job: dict[str, Any], n: int) -> bool:
    """True when message `n` (from 0) should come from a fresh session (--session-messages)."""
    every = job.get("session_messages") or 0
    return bool(every) and n > 0 and n % every == 0


async def closed_loop(session: Session, job: dict[str, Any], start: float, stats: Stats) -> None:
    """Send back to back, each message after the previous one was accepted."""
    rng = random.Random(job["seed"] * 100_003 + session.index)
    window_start, window_end = start + job["warmup"], start + job["warmup"] + job["duration"]
    n = 0
    while time.monotonic() < window_end:
        if new_citizen(job, n):
            await hello(session)
        sent_at = time.monotonic()
        n += 1
        client_id = f"c{session.index}-{n}"
        await send_message(session, client_id, chat_text(rng))
        stats.sent += 1
        while True:
            frame = await receive(session)
            if frame.get("client_id") == client_id and frame["type"] in ("accepted", "error"):
                break
        done = time.monotonic()
        if frame["type"] == "error":
            stats.errors += 1
        elif window_start <= done < window_end:
            stats.accepted_in_window += 1
            if sent_at >= window_start:
                stats.latencies.append(done - sent_at)


async def open_loop(session: Session, job: dict[str, Any], start: float, stats: Stats) -> None:
    """Send on a fixed schedule whatever the answers do; latency counts from the schedule."""
    rng = random.Random(job["seed"] * 100_003 + session.index)
    rate, total_sessions = job["rate"], job["total_sessions"]
    window_start = start + job["warmup"]
    window_end = window_start + job["duration"]
    # Message k of the whole run is due at start + k/rate and belongs to session k % S.
    schedule = []
    k = session.index
    while (due := start + k / rate) < window_end:
        schedule.append(due)
        k += total_sessions
    pending: dict[str, float] = {}
    all_sent = trio.Event()

    async def sender() -> None:
        for n, due in enumerate(schedule):
            await trio.sleep_until(trio_deadline(due))
            client_id = f"o{session.index}-{n}"
            if new_citizen(job, n):
                await hello(session, wait=False)  # the server handles frames in order
            pending[client_id] = due
            stats.send_lag.append(time.monotonic() - due)
            await send_message(session, client_id, chat_text(rng))
            stats.sent += 1
        all_sent.set()

    async def receiver() -> None:
        while not (all_sent.is_set() and not pending):
            frame = await receive(session)
            due = pending.pop(frame.get("client_id") or "", None)
            if due is None or frame["type"] not in ("accepted", "error"):
                continue
            done = time.monotonic()
            if frame["type"] == "error":
                stats.errors += 1
                continue
            if window_start <= done < window_end:
                stats.accepted_in_window += 1
            if due >= window_start:
                stats.latencies.append(done - due)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        with trio.move_on_at(trio_deadline(window_end + DRAIN_SECONDS)):
            await receiver()
        nursery.cancel_scope.cancel()
    stats.unanswered += sum(1 for due in pending.values() if due >= window_start)


async def status_job(
    sessions: list[Session], job: dict[str, Any], start: float, stats: Stats
) -> dict[str, Any]:
    """POST a status change per ticket at a steady pace; time each until its notice arrives."""
    post_times: list[float] = []
    headers = {"Authorization": f"Bearer {job['backend_token']}"}
    async with (
        httpx.AsyncClient(base_url=job["base"], headers=headers, timeout=30) as client,
        trio.open_nursery() as nursery,
    ):

        async def one(i: int, session: Session) -> None:
            due = start + i / job["rate"]
            await trio.sleep_until(trio_deadline(due))
            posted = time.monotonic()
            response = await client.post(
                f"/api/v1/tickets/{session.ticket}/status",
                json={"status": "in_progress", "comment": "bench"},
            )
            post_times.append(time.monotonic() - posted)
            if response.status_code != 202:
                stats.errors += 1
                return
            with trio.move_on_after(FRAME_DEADLINE):
                while not any(n["kind"] == "status" for n in session.notices):
                    await receive(session)
                stats.latencies.append(time.monotonic() - due)
                return
            stats.unanswered += 1

        for i, session in enumerate(sessions):
            nursery.start_soon(one, i, session)
    return {"post_latencies": post_times}


async def prepare_tickets(sessions: list[Session], seed: int) -> None:
    """Open one ticket per session (the orchestrator waits for the confirmations to go out)."""

    async def one(session: Session) -> None:
        rng = random.Random(seed * 7919 + session.index)
        await send_message(session, "first", chat_text(rng))
        while True:
            frame = await receive(session)
            if frame["type"] == "accepted" and frame["client_id"] == "first":
                session.ticket = frame["ticket"]["number"]
                break

    async with trio.open_nursery() as nursery:
        for session in sessions:
            nursery.start_soon(one, session)


def emit(record: dict[str, Any]) -> None:
    """One JSON line to the orchestrator."""
    sys.stdout.write(_encode.encode(record).decode() + "\n")
    sys.stdout.flush()


async def run(job: dict[str, Any]) -> None:
    """Open the sessions, wait for the common start, run the job, report."""
    stats = Stats()
    extra: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        began = time.monotonic()
        sessions = await open_sessions(nursery, job["url"], job["first_session"], job["sessions"])
        if job["mode"] == "status":
            await prepare_tickets(sessions, job["seed"])
        emit({"event": "ready", "sessions": len(sessions), "setup_s": time.monotonic() - began})
        start = msgspec.json.decode(await trio.to_thread.run_sync(sys.stdin.readline))["start"]
        warmed_up = start + job.get("warmup", 0.0)
        if job["mode"] == "status":
            await trio.sleep_until(trio_deadline(warmed_up))
            cpu_start = cpu_seconds()
            extra = await status_job(sessions, job, start, stats)
        else:
            # The loops run from `start` and count only their window: the warm-up is load too.
            # (Sleeping through it first would send the open loop's warm-up schedule in one
            # burst at the window's start and bill that backlog to the daemon.)
            await trio.sleep_until(trio_deadline(start))
            loop = closed_loop if job["mode"] == "closed" else open_loop
            async with trio.open_nursery() as load:
                for session in sessions:
                    load.start_soon(loop, session, job, start, stats)
                await trio.sleep_until(trio_deadline(warmed_up))
                cpu_start = cpu_seconds()
        cpu_used = cpu_seconds() - cpu_start
        with trio.move_on_after(5):
            for session in sessions:
                await session.ws.aclose()
        nursery.cancel_scope.cancel()
    emit(
        {
            "event": "result",
            "sessions": len(sessions),
            "latencies": stats.latencies,
            "send_lag": stats.send_lag,
            "accepted_in_window": stats.accepted_in_window,
            "sent": stats.sent,
            "errors": stats.errors,
            "unanswered": stats.unanswered,
            "cpu_seconds_after_warmup": cpu_used,
            **extra,
        }
    )


def main() -> None:
    """Entry point: the job is the first argument, as JSON."""
    trio.run(run, msgspec.json.decode(sys.argv[1]))


if __name__ == "__main__":
    main()
