"""What /proc says about a process: memory, CPU time per process and per thread, machine CPU."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def _stat_cpu(path: Path) -> float:
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = path.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    return _stat_cpu(Path(f"/proc/{pid}/stat"))


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds so far of each thread of a process, by thread id."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = _stat_cpu(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue  # a worker thread that ended meanwhile
    return out


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is already counted in user
    return (total - idle) / TICKS, total / TICKS


@dataclass
class CpuWindow:
    """CPU used by the daemon (whole and per thread), the clients and the machine in a window."""

    daemon_pid: int
    client_pids: list[int]

    def begin(self) -> None:
        """Take the opening sample."""
        self._daemon = cpu_seconds(self.daemon_pid)
        self._threads = thread_cpu_seconds(self.daemon_pid)
        self._clients = {pid: cpu_seconds(pid) for pid in self.client_pids}
        self._machine = machine_busy_seconds()

    def end(self, seconds: float) -> dict[str, Any]:
        """Take the closing sample; CPU as percent of one core over `seconds`."""
        daemon = cpu_seconds(self.daemon_pid) - self._daemon
        threads_now = thread_cpu_seconds(self.daemon_pid)
        threads = {tid: used - self._threads.get(tid, 0.0) for tid, used in threads_now.items()}
        main = threads.pop(self.daemon_pid, 0.0)
        others = sorted(threads.values(), reverse=True)
        clients = [cpu_seconds(pid) - self._clients[pid] for pid in self.client_pids]
        busy, total = machine_busy_seconds()
        machine_busy = busy - self._machine[0]
        machine_total = total - self._machine[1]

        def pct(x: float) -> float:
            return round(100 * x / seconds, 1)

        cores = machine_total / seconds if seconds else 0.0
        # CPU used by processes that are not part of this benchmark (another test run, say):
        # on a shared machine it competes with the daemon and skews every figure.
        foreign = max(0.0, machine_busy - daemon - sum(clients))

        return {
            "daemon_cpu_pct": pct(daemon),
            # The main thread runs trio (HTTP, WebSocket, intake); the busiest other thread is
            # the SQLite writer (Python 3.11 threads carry no OS name to tell them apart).
            "daemon_main_thread_cpu_pct": pct(main),
            "daemon_busiest_other_thread_cpu_pct": pct(others[0]) if others else 0.0,
            "daemon_other_threads_cpu_pct": pct(sum(others)),
            "client_cpu_pct_per_process": [pct(c) for c in clients],
            "client_cpu_pct_total": pct(sum(clients)),
            "machine_cpu_busy_pct": round(100 * machine_busy / machine_total, 1)
            if machine_total
            else 0.0,
            "machine_cores": os.cpu_count(),
            "machine_cores_seen": round(cores, 2),
            "foreign_cpu_pct": pct(foreign),
        }


class SyncCounter:
    """Counts fsync/fdatasync calls of a process over a window with `perf stat` tracepoints.

    SQLite in WAL mode with synchronous=FULL syncs the WAL once per commit (plus twice per
    checkpoint), so the count is close to the number of write groups the daemon committed.
    """

    EVENTS = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync"

    def __init__(self, pid: int, seconds: float) -> None:
        self.process: subprocess.Popen[str] | None = None
        perf = shutil.which("perf")
        if perf is None:
            return
        self.process = subprocess.Popen(
            [
                perf,
                "stat",
                "-x",
                ",",
                "-e",
                self.EVENTS,
                "-p",
                str(pid),
                "--",
                "sleep",
                str(seconds),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> int | None:
        """Syncs counted, or None when perf is missing or may not trace."""
        if self.process is None:
            return None
        _, err = self.process.communicate()
        total, seen = 0, False
        for line in err.splitlines():
            parts = line.split(",")
            if len(parts) > 2 and parts[2].startswith("syscalls:") and parts[0].isdigit():
                total += int(parts[0])
                seen = True
        return total if seen else None
