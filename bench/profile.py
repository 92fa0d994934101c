"""Optional sampling profile of the daemon during a scenario window, with py-spy (`--profile`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# py-spy's raw format with -t: "thread (TID): NAME;frame;frame;... COUNT", frames
# "func (file:line)".
_THREAD = re.compile(r"^thread \((\w+)\)(?::\s*(.*))?$")
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")
TOP = 25


def py_spy() -> str | None:
    """The py-spy next to this interpreter, or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """Runs `py-spy record` against a pid for a window; summarises where the time went."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None
        exe = py_spy()
        if exe is None:
            print("bench: --profile needs py-spy (pip install py-spy)", file=sys.stderr)
            return
        command = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100"]
        command += ["-f", "raw", "-t", "-o", str(out), "--nonblocking"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def result(self) -> dict[str, Any] | None:
        """Self and inclusive shares of the hottest functions, per thread and overall."""
        if self.process is None:
            return None
        self.process.wait()
        if not self.out.exists():
            return None
        return summarise(self.out.read_text())


def _label(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    func, path = match.groups()
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{func} ({path})"


def summarise(raw: str) -> dict[str, Any]:
    """Fold raw stacks into per-thread totals and top self/inclusive functions."""
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_thread_self: dict[str, Counter[str]] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        match = _THREAD.match(frames[0])
        thread = f"{match.group(2) or '?'} ({match.group(1)})" if match else "?"
        calls = [_label(f) for f in frames[1 if match else 0 :] if f]
        if not calls:
            continue
        total += count
        threads[thread] += count
        self_time[calls[-1]] += count
        by_thread_self.setdefault(thread, Counter())[calls[-1]] += count
        for name in set(calls):
            inclusive[name] += count

    def pct(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(TOP)]

    return {
        "samples": total,
        "threads_pct": {t: round(100 * n / total, 1) for t, n in threads.most_common()},
        "self_pct": pct(self_time),
        "inclusive_pct": pct(inclusive),
        "self_pct_by_thread": {
            t: [[name, round(100 * n / total, 1)] for name, n in c.most_common(12)]
            for t, c in by_thread_self.items()
        },
    }
