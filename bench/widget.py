"""The citizen widget at scale (issue 12, point 10): 1,000 chat sessions held open, the daemon's
memory per session against its idle RSS in the same run, the message rate those sessions sustain
with acknowledgements, and the widget's size as a browser downloads it (gzipped, with its CSS).
"""

from __future__ import annotations

import gzip
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procstat import memory_kib
from tests.integration.daemon import REPO, DaemonProcess

SESSIONS = 1000
WORKERS = 2
# The targets: a held session costs the daemon under 50 KB; the widget and its
# stylesheet download in under 20 KB gzipped (a third of a typical portal page's own script).
TARGET_KB_PER_SESSION = 50.0
TARGET_WIDGET_GZIP_KB = 20.0
STATIC = REPO / "channels" / "webchat" / "static"
# RSS is read after the daemon has been left alone this long (the writer and outbox settle).
SETTLE = 3.0

RunWorkers = Callable[..., dict[str, Any]]


def _rss_kib(daemon: DaemonProcess) -> int:
    assert daemon.process is not None
    time.sleep(SETTLE)
    return memory_kib(daemon.process.pid)["VmRSS"]


def widget_size() -> dict[str, Any]:
    """Bytes of widget.js and widget.css as served, and gzipped at level 9 (as a CDN would)."""
    files = {name: (STATIC / name).read_bytes() for name in ("widget.js", "widget.css")}
    together = b"".join(files.values())
    return {
        "js_bytes": len(files["widget.js"]),
        "css_bytes": len(files["widget.css"]),
        "gzip_bytes": {name: len(gzip.compress(body, 9)) for name, body in files.items()},
        # Both in one stream compress a little better than apart: the sum is what is judged.
        "gzip_total_kb": round(sum(len(gzip.compress(b, 9)) for b in files.values()) / 1024, 1),
        "gzip_together_kb": round(len(gzip.compress(together, 9)) / 1024, 1),
    }


def run(run_workers: RunWorkers, warmup: float, duration: float) -> dict[str, Any]:
    """Hold SESSIONS sessions open on a daemon of their own, read its RSS, then load them."""
    daemon = DaemonProcess(Path(tempfile.mkdtemp(prefix="omnirouter-bench-widget-")))
    daemon.env["MALLOC_ARENA_MAX"] = "2"  # as the systemd unit and `make run` set it
    daemon.start()
    held: dict[str, int] = {}
    try:
        idle = _rss_kib(daemon)

        def sessions_open() -> None:
            held["rss_kib"] = _rss_kib(daemon)

        load = run_workers(
            daemon,
            "closed",
            SESSIONS,
            WORKERS,
            {"warmup": warmup, "duration": duration, "seed": 12, "session_messages": 0},
            on_ready=sessions_open,
        )
    finally:
        daemon.stop(timeout=60)
    per_session = (held["rss_kib"] - idle) * 1024 / SESSIONS / 1000
    return {
        "sessions": SESSIONS,
        "idle_rss_mb": round(idle / 1024, 1),
        "sessions_open_rss_mb": round(held["rss_kib"] / 1024, 1),
        "kb_per_session": round(per_session, 1),
        "accepted_per_s": load["accepted_per_s"],
        "latency": load["latency"],
        "errors": load["errors"],
        "unanswered": load["unanswered"],
        "size": widget_size(),
    }
