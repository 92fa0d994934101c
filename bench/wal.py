"""The WAL under a flood: its largest size while web-chat messages pour in, and after the flood.

The daemon's state_dir/omnirouter.db-wal is sampled from a thread of the orchestrator for the
whole flood; after it, once the daemon has worked off its backlog, the bench waits (bounded)
for the daemon's idle checkpoint to empty the WAL and reports the size it found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router.store.database import CHECKPOINT_INTERVAL, IDLE_SECONDS, WAL_SOFT_LIMIT
from tests.integration.daemon import DaemonProcess

MIB = 1024 * 1024
# The file is at its largest from the commit that passes the soft bound until the first commit
# after the RESTART cuts it: tens of ms. A sample every 10 ms sees that peak (a stat is cheap).
SAMPLE_SECONDS = 0.01
# The daemon empties the WAL IDLE_SECONDS after the last change; a few ticks more are slack.
SETTLE_SECONDS = IDLE_SECONDS + 5 * CHECKPOINT_INTERVAL
# The soft bound plus what the writer appends before the RESTART stops it: twice is generous.
TARGET_LARGEST_MIB = 2 * WAL_SOFT_LIMIT / MIB


def file_size(path: Path) -> int:
    """Bytes of a file, 0 when there is none."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class SizeSampler:
    """The largest size of a file over a window, and its largest size in each second of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.largest = 0
        self.per_second: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-sampler", daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        while True:
            size = file_size(self.path)
            self.largest = max(self.largest, size)
            second = int(time.monotonic() - began)
            while len(self.per_second) <= second:
                self.per_second.append(0)
            self.per_second[second] = max(self.per_second[second], size)
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def start(self) -> None:
        """Begin sampling."""
        self._thread.start()

    def stop(self) -> None:
        """End sampling."""
        self._stop.set()
        self._thread.join()


def run(
    daemon: DaemonProcess,
    flood: Callable[[], dict[str, Any]],
    wait_idle: Callable[[DaemonProcess], float],
) -> dict[str, Any]:
    """Run `flood` (the load generators' figures) while sampling the WAL; then the WAL at rest."""
    db = daemon.state / "omnirouter.db"
    wal = db.with_name(db.name + "-wal")
    db_before, wal_before = file_size(db), file_size(wal)
    sampler = SizeSampler(wal)
    sampler.start()
    try:
        figures = flood()
    finally:
        sampler.stop()
    figures["wal_flood_end_mib"] = round(file_size(wal) / MIB, 1)
    figures["daemon_busy_after_window_s"] = wait_idle(daemon)
    # Bounded: a WAL left large is the finding, reported with its size, not a bench error.
    began = time.monotonic()
    while file_size(wal) and time.monotonic() - began < SETTLE_SECONDS:
        time.sleep(CHECKPOINT_INTERVAL / 2)
    figures.update(
        {
            "wal_soft_limit_mib": WAL_SOFT_LIMIT / MIB,
            "wal_before_mib": round(wal_before / MIB, 1),
            "wal_largest_mib": round(sampler.largest / MIB, 1),
            "wal_after_flood_mib": round(file_size(wal) / MIB, 1),
            "wal_after_flood_waited_s": round(time.monotonic() - began, 1),
            "db_growth_mib": round((file_size(db) - db_before) / MIB, 1),
            "wal_largest_mib_each_second": [round(s / MIB, 1) for s in sampler.per_second],
        }
    )
    return figures
