"""The public edge under hostile clients: stuck readers, and a wave of connections (issue 7).

- A quiet citizen's confirmation latency, first with nobody else connected (the baseline of the
  same run), then with 20 chat connections that stopped reading while long operator replies
  are pushed at them; the ratio of the two is the figure that judges.
- RSS of the daemon before, at the peak of, and after 1,500 chat connections opened (each
  greeted) and closed, three waves in a row: what stays resident after a wave of citizens
  has left, and whether the next wave reuses it (bounded) or adds to it (a leak).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import trio

from bench.procstat import memory_kib
from tests.integration.daemon import DaemonProcess, open_chat
from tests.integration.hostile import STUCK_READERS, flood_replies, stuck_session

SAMPLES = 20
# Stuck readers may cost a quiet citizen little: the bound is "a few hundred ms" where
# the quiet figure is a few ms, so twice the quiet latency is already a finding.
TARGET_STUCK_RATIO = 2.0
WAVE = 1500
WAVES = 3
# The wave opens this many connections at a time (a page of citizens arriving together).
WAVE_BATCH = 100
# After the wave the daemon gets this long to notice and give memory back.
SETTLE = 3.0


async def _confirmation_latency(daemon: DaemonProcess, samples: int) -> list[float]:
    """Seconds from sending a new message to its confirmation notice, one session each."""
    latencies = []
    for i in range(samples):
        async with open_chat(daemon) as chat:
            started = time.perf_counter()
            await chat.write(f"Не приходит справка, обращение {i}")
            await chat.expect("notice")
            latencies.append(time.perf_counter() - started)
    return latencies


async def _stuck_readers(daemon: DaemonProcess) -> dict[str, Any]:
    quiet = await _confirmation_latency(daemon, SAMPLES)
    _, ticket, readers = await stuck_session(daemon)
    await flood_replies(daemon, ticket, 40)
    stuck = await _confirmation_latency(daemon, SAMPLES)
    for reader in readers:
        await reader.stream.aclose()
    base, loaded = median(quiet), median(stuck)
    return {
        "stuck_readers": STUCK_READERS,
        "quiet_p50_ms": round(base * 1000, 2),
        "with_stuck_p50_ms": round(loaded * 1000, 2),
        "with_stuck_max_ms": round(max(stuck) * 1000, 2),
        "ratio_stuck_to_quiet": round(loaded / base, 2),
    }


def _rss_mb(daemon: DaemonProcess) -> float:
    assert daemon.process is not None
    return round(memory_kib(daemon.process.pid)["VmRSS"] / 1024, 1)


async def _wave(daemon: DaemonProcess) -> dict[str, Any]:
    before = _rss_mb(daemon)
    release = trio.Event()
    async with trio.open_nursery() as nursery:
        for start in range(0, WAVE, WAVE_BATCH):
            batch = min(WAVE_BATCH, WAVE - start)
            arrived = trio.Semaphore(0)

            async def citizen(arrived: trio.Semaphore = arrived) -> None:
                async with open_chat(daemon):
                    arrived.release()
                    await release.wait()

            for _ in range(batch):
                nursery.start_soon(citizen)
            for _ in range(batch):  # the whole batch is greeted before the next arrives
                await arrived.acquire()
        peak = _rss_mb(daemon)
        release.set()
    await trio.sleep(SETTLE)
    after = _rss_mb(daemon)
    return {
        "connections": WAVE,
        "rss_before_mb": before,
        "rss_open_mb": peak,
        "rss_after_close_mb": after,
        "kept_after_close_mb": round(after - before, 1),
    }


def run() -> dict[str, Any]:
    """Both scenarios against one daemon of their own."""
    tmp = Path(tempfile.mkdtemp(prefix="omnirouter-bench-edge-"))
    # The stuck readers must stay stuck for the whole scenario: nothing cut by a timeout.
    daemon = DaemonProcess(tmp)
    daemon.edit_router('send_timeout = "10s"', 'send_timeout = "120s"')
    daemon.env["MALLOC_ARENA_MAX"] = "2"  # as the systemd unit and `make run` set it
    daemon.start()
    try:
        figures: dict[str, Any] = {"stuck_readers": trio.run(_stuck_readers, daemon)}
        figures["connection_waves"] = [trio.run(_wave, daemon) for _ in range(WAVES)]
    finally:
        daemon.stop(timeout=60)
    return figures
