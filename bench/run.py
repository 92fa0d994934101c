"""The benchmark run: start a daemon, drive the scenarios, print the table, write the report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import attachments, baseline, compare, edge, messenger, sms, wal, widget
from bench.procstat import CpuWindow, SyncCounter, cpu_seconds, memory_kib
from bench.profile import Profiler
from tests.integration.daemon import REPO, DaemonProcess

RESULTS = REPO / "bench" / "results"
# Scenario start is this far after the last worker said ready, so every worker is listening.
START_DELAY = 1.0
# The daemon is idle this long before its RSS is read (outbox and writer settle).
IDLE_SETTLE = 3.0
# Between scenarios the daemon must finish the previous backlog (queued frames, outbox).
IDLE_PROBE = 0.5
IDLE_TIMEOUT = 30.0

# Every scenario, in the order they run; --only picks some.
SCENARIOS = (
    "throughput",
    "rate",
    "status",
    "attachments",
    "wal",
    "edge",
    "widget",
    "compare",
    "sms",
    "messenger",
)
TARGET_INGEST_PER_S = 1000.0
TARGET_P99_AT_RATE_MS = 50.0
TARGET_STATUS_P99_MS = 200.0
TARGET_IDLE_RSS_MB = 120.0


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile `q` (0..100) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms_summary(values: list[float]) -> dict[str, float | int | None]:
    """Count, p50, p90, p99 and max of seconds, in milliseconds."""

    def ms(x: float | None) -> float | None:
        return None if x is None else round(1000 * x, 2)

    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values) if values else None),
    }


@dataclass
class Row:
    """One line of the printed table."""

    scenario: str
    metric: str
    value: float | int | str | None
    target: str = ""
    passed: bool | None = None


def stage_seconds(daemon: DaemonProcess) -> dict[str, tuple[float, float]]:
    """The daemon's omnirouter_stage_seconds histogram: stage -> (sum, count)."""
    text = httpx.get(
        daemon.base + "/metrics",
        headers={"Authorization": f"Bearer {daemon.admin_token}"},
        timeout=10,
    ).text
    out: dict[str, list[float]] = {}
    for kind, stage, value in re.findall(
        r'^omnirouter_stage_seconds_(sum|count)\{stage="(\w+)"\} (\S+)$', text, re.M
    ):
        out.setdefault(stage, [0.0, 0.0])[0 if kind == "sum" else 1] = float(value)
    return {stage: (v[0], v[1]) for stage, v in out.items()}


def stage_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float | None]:
    """Mean milliseconds per stage between two scrapes."""
    means: dict[str, float | None] = {}
    for stage, (total, count) in after.items():
        prior = before.get(stage, (0.0, 0.0))
        n = count - prior[1]
        means[f"{stage}_mean_ms"] = round(1000 * (total - prior[0]) / n, 3) if n else None
    return means


def run_workers(
    daemon: DaemonProcess,
    mode: str,
    sessions: int,
    workers: int,
    job: dict[str, Any],
    profile: Path | None = None,
    on_ready: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run one scenario on `workers` load-generator processes; merge their results.
    `on_ready` runs once every session is open and greeted, before any message."""
    assert daemon.process is not None
    warmup, duration = job.get("warmup", 0.0), job["duration"]
    shares = [sessions // workers + (1 if i < sessions % workers else 0) for i in range(workers)]
    procs: list[subprocess.Popen[str]] = []
    first = 0
    for i, share in enumerate(shares):
        spec = {
            **job,
            "mode": mode,
            "url": daemon.ws_url,
            "base": daemon.base,
            "backend_token": daemon.backend_token,
            "sessions": share,
            "first_session": first,
            "total_sessions": sessions,
            "seed": job.get("seed", 1) * 1000 + i,
        }
        first += share
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen", json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        )
    try:
        setup = [_expect(p, "ready") for p in procs]
        if mode == "status":
            wait_idle(daemon)  # the tickets' confirmations are out before the clock starts
        if on_ready is not None:
            on_ready()
        before = stage_seconds(daemon)
        start = time.monotonic() + START_DELAY
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(json.dumps({"start": start}) + "\n")
            p.stdin.flush()
        window = CpuWindow(daemon.process.pid, [p.pid for p in procs])
        time.sleep(max(0.0, start + warmup - time.monotonic()))
        window.begin()
        syncs = SyncCounter(daemon.process.pid, duration)
        profiler = Profiler(daemon.process.pid, duration, profile) if profile else None
        time.sleep(max(0.0, start + warmup + duration - time.monotonic()))
        cpu = window.end(duration)
        sync_count = syncs.result()
        hotspots = profiler.result() if profiler else None
        results = [_expect(p, "result") for p in procs]
        after = stage_seconds(daemon)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    merged: dict[str, Any] = {
        "mode": mode,
        "sessions": sum(r["sessions"] for r in results),
        "client_processes": workers,
        "setup_seconds": round(max(s["setup_s"] for s in setup), 2),
        "window_seconds": duration,
        "sent": sum(r["sent"] for r in results),
        "accepted_in_window": sum(r["accepted_in_window"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "unanswered": sum(r["unanswered"] for r in results),
        "latency": ms_summary([x for r in results for x in r["latencies"]]),
        "cpu": cpu,
        "daemon_stage_means": stage_means(before, after),
        "wal_syncs_in_window": sync_count,
    }
    merged["accepted_per_s"] = round(merged["accepted_in_window"] / duration, 1)
    if merged["accepted_in_window"]:
        # Independent of how much CPU other processes took: the cost of one message.
        merged["daemon_cpu_ms_per_message"] = round(
            10 * cpu["daemon_cpu_pct"] * duration / merged["accepted_in_window"], 3
        )
    lags = [x for r in results for x in r.get("send_lag", [])]
    if lags:
        merged["client_send_lag"] = ms_summary(lags)
    posts = [x for r in results for x in r.get("post_latencies", [])]
    if posts:
        merged["status_post"] = ms_summary(posts)
    if hotspots:
        merged["profile"] = hotspots
    if sync_count:
        # Jobs besides messages (outbox claims, notice appends, results) are a few percent.
        merged["estimated_groups_per_s"] = round(sync_count / duration, 1)
        merged["estimated_messages_per_group"] = round(merged["accepted_in_window"] / sync_count, 2)
    return merged


def _expect(proc: subprocess.Popen[str], event: str) -> dict[str, Any]:
    """The next JSON line of a worker, which must be `event`."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"load generator {proc.pid} exited with {proc.wait()}")
    record: dict[str, Any] = json.loads(line)
    if record.get("event") != event:
        raise RuntimeError(f"load generator said {record!r}, expected {event}")
    return record


def queues(daemon: DaemonProcess) -> dict[str, int]:
    """The daemon's durable queue depths (admin status)."""
    answer = httpx.get(
        daemon.base + "/api/v1/admin/status",
        headers={"Authorization": f"Bearer {daemon.admin_token}"},
        timeout=30,
    )
    depths: dict[str, int] = answer.json()["queues"]
    return depths


def wait_idle(daemon: DaemonProcess, timeout: float = IDLE_TIMEOUT) -> float:
    """Wait until the daemon has worked off its backlog; return the seconds waited.

    Idle means two CPU probes in a row under 5% of a core and nothing waiting in the intake
    or outbox queues.
    """
    assert daemon.process is not None
    began = time.monotonic()
    before = cpu_seconds(daemon.process.pid)
    quiet = 0
    while time.monotonic() - began < timeout:
        time.sleep(IDLE_PROBE)
        now = cpu_seconds(daemon.process.pid)
        quiet = quiet + 1 if now - before < 0.05 * IDLE_PROBE else 0
        before = now
        if quiet >= 2:
            depths = queues(daemon)
            if not depths.get("intake") and not depths.get("outbox"):
                break
    return round(time.monotonic() - began, 1)


def idle_rss(daemon: DaemonProcess) -> dict[str, float]:
    """RSS and peak RSS of the daemon in MB (MiB) after it has been idle a moment."""
    assert daemon.process is not None
    time.sleep(IDLE_SETTLE)
    mem = memory_kib(daemon.process.pid)
    return {"rss_mb": round(mem["VmRSS"] / 1024, 1), "peak_rss_mb": round(mem["VmHWM"] / 1024, 1)}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "platform": platform.platform(),
    }


def source() -> dict[str, Any]:
    """The commit benchmarked and whether the working tree had local changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty_paths": [p for p in changed if not p.startswith("bench/")],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (the defaults are the issue's scenarios)."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--sessions", type=int, default=200, help="concurrent chat sessions")
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    p.add_argument("--rate", type=float, default=500.0, help="open-loop messages/s")
    p.add_argument("--status-tickets", type=int, default=200, help="status changes to time")
    p.add_argument("--status-rate", type=float, default=50.0, help="status changes/s")
    p.add_argument("--baseline-seconds", type=float, default=2.0, help="per baseline variant")
    p.add_argument("--baseline-rows", type=int, default=5000, help="daemon rows to copy")
    p.add_argument("--wal-seconds", type=float, default=60.0, help="flood while the WAL is watched")
    p.add_argument(
        "--compare-rounds",
        type=int,
        default=compare.ROUNDS,
        help="rounds of this tree's and the earlier commit's ingest, judged by their median",
    )
    p.add_argument(
        "--only",
        choices=SCENARIOS,
        action="append",
        help="subset",
    )
    p.add_argument(
        "--session-messages",
        type=int,
        default=0,
        help="messages per citizen before the connection starts a new session (0: no limit)",
    )
    p.add_argument("--keep", action="store_true", help="keep the daemon's temp directory")
    p.add_argument(
        "--profile", action="store_true", help="sample the daemon with py-spy in load windows"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every scenario; print the table; write the JSON report."""
    args = parse_args(argv)
    wanted = set(args.only or SCENARIOS)
    # The scenarios that drive the shared daemon (its idle RSS is read around them).
    on_daemon = bool(wanted & {"throughput", "rate", "status", "wal"})
    began = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="omnirouter-bench-"))
    daemon = DaemonProcess(tmp)
    print(f"bench: daemon in {tmp}", file=sys.stderr)
    if on_daemon:
        daemon.start()
    load = {"warmup": args.warmup, "duration": args.duration}
    # Status first: the open-loop scenario may overload the daemon, and the backlog it leaves
    # (frames of closed connections still being filed) would be billed to the next scenario.
    scenarios: list[tuple[str, str, str, int, int, dict[str, Any]]] = [
        ("status", "status_to_notice", "status", args.status_tickets, 1,
         {"duration": args.status_tickets / args.status_rate, "rate": args.status_rate,
          "seed": 3}),
        ("throughput", "throughput", "closed", args.sessions, args.workers,
         {**load, "seed": 1, "session_messages": args.session_messages}),
        ("rate", "fixed_rate", "open", args.sessions, args.workers,
         {**load, "seed": 2, "rate": args.rate, "session_messages": args.session_messages}),
    ]  # fmt: skip
    try:
        if on_daemon:
            figures["idle_after_start"] = idle_rss(daemon)
        for name, key, mode, sessions, workers, job in scenarios:
            if name not in wanted:
                continue
            print(f"bench: {key} ({mode})…", file=sys.stderr)
            profile = RESULTS / f"profile-{key}.txt" if args.profile else None
            try:
                figures[key] = run_workers(daemon, mode, sessions, workers, job, profile)
            except Exception as exc:  # one broken scenario must not lose the others' figures
                print(f"bench: {key} failed: {exc}", file=sys.stderr)
                figures[key] = {"error": f"{type(exc).__name__}: {exc}"}
            # Work queued in the daemon by this scenario must not be billed to the next one.
            figures[key]["daemon_busy_after_window_s"] = wait_idle(daemon)
        if "fixed_rate" in figures:
            figures["fixed_rate"]["target_rate_per_s"] = args.rate
        if on_daemon:
            figures["idle_after_load"] = idle_rss(daemon)
        if "wal" in wanted:
            # Last, after the idle RSS: a minute of flood must not change the figures above.
            print(f"bench: WAL during a {args.wal_seconds:g} s flood (closed)…", file=sys.stderr)
            job = {"warmup": 0.0, "duration": args.wal_seconds, "seed": 4, "session_messages": 0}
            try:
                figures["wal_flood"] = wal.run(
                    daemon,
                    lambda: run_workers(daemon, "closed", args.sessions, args.workers, job),
                    wait_idle,
                )
            except Exception as exc:
                print(f"bench: wal_flood failed: {exc}", file=sys.stderr)
                figures["wal_flood"] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        try:
            exit_code: int | str = daemon.stop() if on_daemon else 0
        except subprocess.TimeoutExpired:
            # DaemonProcess.stop killed it: a finding (drain took too long), not a bench error.
            exit_code = "SIGKILLed: still running 20 s after SIGTERM"
    figures["daemon_exit_code"] = exit_code
    if wanted & {"throughput", "rate"}:  # it copies the rows those scenarios stored
        print("bench: raw SQLite baseline…", file=sys.stderr)
        figures["baseline"] = run_baseline(daemon, figures, args)
    if "attachments" in wanted:
        print("bench: attachments scan-and-store vs raw clamd…", file=sys.stderr)
        figures["attachments"] = attachments.run()
    if "messenger" in wanted:
        print("bench: Telegram updates committed and messages paced…", file=sys.stderr)
        try:
            figures["messenger"] = messenger.run()
        except (OSError, RuntimeError, TimeoutError) as exc:
            figures["messenger"] = {"error": f"{type(exc).__name__}: {exc}"}
    if "edge" in wanted:
        print("bench: stuck readers and a wave of connections…", file=sys.stderr)
        figures["edge"] = edge.run()
    if "widget" in wanted:
        print(f"bench: {widget.SESSIONS} chat sessions held open, then loaded…", file=sys.stderr)
        figures["widget"] = widget.run(run_workers, args.warmup, args.duration)
    if "compare" in wanted:
        print(
            f"bench: this tree and {compare.BEFORE_PLATFORM}, {args.compare_rounds} rounds "
            "of ingest in alternating order…",
            file=sys.stderr,
        )
        try:
            figures["compare"] = compare.run(rounds=args.compare_rounds)
        except (OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
            figures["compare"] = {"error": f"{type(exc).__name__}: {exc}"}
    if "sms" in wanted:
        print("bench: SMPP submits and delivers vs a bare PDU client…", file=sys.stderr)
        try:
            figures["sms"] = sms.run(wait_idle)
        except Exception as exc:  # one broken scenario must not lose the others' figures
            figures["sms"] = {"error": f"{type(exc).__name__}: {exc}"}
    figures["bench_seconds"] = round(time.monotonic() - began, 1)
    rows = table(figures)
    print_table(rows)
    noisy = [
        name
        for name in ("throughput", "fixed_rate", "status_to_notice", "wal_flood")
        if figures.get(name, {}).get("cpu", {}).get("foreign_cpu_pct", 0) > 20
    ]
    if noisy:
        print(
            "\nwarning: other processes used more than 20% of a core during "
            + ", ".join(noisy)
            + "; the machine was shared and these figures understate the daemon"
        )
    path = write_report(args, figures, rows)
    print(f"\nreport: {path}")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


def run_baseline(
    daemon: DaemonProcess, figures: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Insert the daemon's rows raw: in the daemon's group size, per row, and in max groups."""
    db = daemon.state / "omnirouter.db"
    rows = baseline.sample_rows(db, args.baseline_rows)
    measured: dict[str, Any] = next(
        (
            figures[k]
            for k in ("throughput", "fixed_rate")
            if k in figures and "error" not in figures[k]
        ),
        {},
    )
    group = max(1, round(measured.get("estimated_messages_per_group") or 1))
    out: dict[str, Any] = {"rows_sampled": len(rows), "daemon_group_size_used": group}
    variants = {"daemon_group": group, "per_row": 1, "group_256": 256}
    for name, size in variants.items():
        out[name] = baseline.insert_rate(daemon.root, db, rows, size, args.baseline_seconds)
    if measured:
        daemon_rate = measured["accepted_per_s"]
        for name in variants:
            out[f"ratio_daemon_to_{name}"] = round(daemon_rate / out[name]["messages_per_s"], 4)
    return out


def table(f: dict[str, Any]) -> list[Row]:
    """The rows of the summary table."""
    rows: list[Row] = []
    for key in ("throughput", "fixed_rate", "status_to_notice", "wal_flood"):
        if "error" in f.get(key, {}):
            rows.append(Row(key, "error", f[key]["error"][:60], "", False))
    t = f.get("throughput")
    if t and "error" not in t:
        rate = t["accepted_per_s"]
        rows += [
            Row("ingest closed loop", "accepted msg/s", rate, f">= {TARGET_INGEST_PER_S:g}",
                rate >= TARGET_INGEST_PER_S),
            Row("ingest closed loop", "accept p50 ms", t["latency"]["p50_ms"]),
            Row("ingest closed loop", "accept p99 ms", t["latency"]["p99_ms"]),
            Row("ingest closed loop", "daemon CPU % (1 core=100)", t["cpu"]["daemon_cpu_pct"]),
            Row("ingest closed loop", "daemon CPU ms per msg", t.get("daemon_cpu_ms_per_message")),
            Row("ingest closed loop", "client CPU % (all procs)", t["cpu"]["client_cpu_pct_total"]),
            Row("ingest closed loop", "other processes CPU %", t["cpu"]["foreign_cpu_pct"]),
            Row("ingest closed loop", "est. msgs per commit",
                t.get("estimated_messages_per_group")),
        ]  # fmt: skip
    r = f.get("fixed_rate")
    if r and "error" not in r:
        p99 = r["latency"]["p99_ms"]
        rows += [
            Row("ingest open loop", "achieved msg/s", r["accepted_per_s"],
                f"{r['target_rate_per_s']:g} offered"),
            Row("ingest open loop", "accept p50 ms", r["latency"]["p50_ms"]),
            Row("ingest open loop", "accept p99 ms", p99, f"< {TARGET_P99_AT_RATE_MS:g}",
                p99 is not None and p99 < TARGET_P99_AT_RATE_MS and not r["unanswered"]),
            Row("ingest open loop", "accept max ms", r["latency"]["max_ms"]),
            Row("ingest open loop", "client send lag p99 ms",
                r.get("client_send_lag", {}).get("p99_ms")),
            Row("ingest open loop", "daemon CPU %", r["cpu"]["daemon_cpu_pct"]),
            Row("ingest open loop", "other processes CPU %", r["cpu"]["foreign_cpu_pct"]),
        ]  # fmt: skip
    s = f.get("status_to_notice")
    if s and "error" not in s:
        p99 = s["latency"]["p99_ms"]
        rows += [
            Row("status to notice", "p50 ms", s["latency"]["p50_ms"]),
            Row("status to notice", "p99 ms", p99, f"< {TARGET_STATUS_P99_MS:g}",
                p99 is not None and p99 < TARGET_STATUS_P99_MS and not s["unanswered"]),
            Row("status to notice", "POST p99 ms", s.get("status_post", {}).get("p99_ms")),
        ]  # fmt: skip
    w = f.get("wal_flood")
    if w and "error" not in w:
        label = f"WAL, {w['window_seconds']:g} s flood"
        largest, after = w["wal_largest_mib"], w["wal_after_flood_mib"]
        rows += [
            Row(label, "accepted msg/s", w["accepted_per_s"]),
            Row(label, "largest WAL MiB", largest, f"< {wal.TARGET_LARGEST_MIB:g}",
                largest < wal.TARGET_LARGEST_MIB),
            Row(label, "WAL MiB after flood", after, "0", after == 0),
            Row(label, "database growth MiB", w["db_growth_mib"]),
        ]  # fmt: skip
    for key, label in (("idle_after_start", "after start"), ("idle_after_load", "after load")):
        if key not in f:
            continue
        rss = f[key]["rss_mb"]
        rows.append(
            Row("idle RSS", f"{label} MiB", rss, f"< {TARGET_IDLE_RSS_MB:g}",
                rss < TARGET_IDLE_RSS_MB)
        )  # fmt: skip
    if f.get("daemon_exit_code") != 0:
        rows.append(Row("shutdown", "SIGTERM exit", str(f.get("daemon_exit_code")), "0", False))
    b = f.get("baseline")
    if b:
        g = b["daemon_group_size_used"]
        rows += [
            Row("raw SQLite", f"msg/s, commit per {g}", b["daemon_group"]["messages_per_s"]),
            Row("raw SQLite", "msg/s, commit per msg", b["per_row"]["messages_per_s"]),
            Row("raw SQLite", "msg/s, commit per 256", b["group_256"]["messages_per_s"]),
        ]
        if "ratio_daemon_to_daemon_group" in b:
            rows.append(
                Row("raw SQLite", f"daemon / raw (commit per {g})",
                    b["ratio_daemon_to_daemon_group"])
            )  # fmt: skip
    e = f.get("edge")
    if e:
        stuck, waves = e["stuck_readers"], e["connection_waves"]
        rows += [
            Row("stuck readers", "confirmation p50 ms, quiet", stuck["quiet_p50_ms"]),
            Row("stuck readers", f"p50 ms, {stuck['stuck_readers']} stuck",
                stuck["with_stuck_p50_ms"]),
            Row("stuck readers", "stuck / quiet", stuck["ratio_stuck_to_quiet"],
                f"< {edge.TARGET_STUCK_RATIO:g}",
                stuck["ratio_stuck_to_quiet"] < edge.TARGET_STUCK_RATIO),
        ]  # fmt: skip
        for number, wave in enumerate(waves, 1):
            label = f"{wave['connections']} connections, wave {number}"
            rows += [
                Row(label, "RSS MiB open", wave["rss_open_mb"]),
                Row(label, "RSS MiB kept after close", wave["kept_after_close_mb"]),
            ]
    w = f.get("widget")
    if w:
        label = f"widget, {w['sessions']} sessions"
        size = w["size"]["gzip_total_kb"]
        rows += [
            Row(label, "daemon RSS MiB idle", w["idle_rss_mb"]),
            Row(label, "daemon RSS MiB sessions open", w["sessions_open_rss_mb"]),
            Row(label, "KB per open session", w["kb_per_session"],
                f"< {widget.TARGET_KB_PER_SESSION:g}",
                w["kb_per_session"] < widget.TARGET_KB_PER_SESSION),
            Row(label, "accepted msg/s (closed loop)", w["accepted_per_s"]),
            Row(label, "accept p99 ms", w["latency"]["p99_ms"]),
            Row("widget", "JS + CSS gzipped KB", size, f"< {widget.TARGET_WIDGET_GZIP_KB:g}",
                size < widget.TARGET_WIDGET_GZIP_KB),
        ]  # fmt: skip
    c = f.get("compare")
    if c and "error" in c:
        rows.append(Row("vs earlier commit", "error", c["error"][:60], "", False))
    elif c:
        label = f"vs {c['rev']}"
        ratio = c["ratio_cpu_per_message"]
        rows += [
            Row(label, "accepted msg/s there", c["accepted_per_s"]),
            Row(label, "daemon CPU ms per msg now", c["now_cpu_ms_per_message"]),
            Row(label, "daemon CPU ms per msg there", c["daemon_cpu_ms_per_message"]),
            Row(label, "now / then, each round", " ".join(f"{r:g}" for r in c["ratios"])),
            Row(label, "CPU per msg, now / then", ratio, f"<= {compare.TARGET_RATIO:g}",
                ratio <= compare.TARGET_RATIO),
        ]  # fmt: skip
    m = f.get("messenger")
    if m and "error" in m:
        rows.append(Row("messenger", "error", m["error"][:60], "", False))
    elif m:
        rows.append(Row("messenger", "updates committed/s", m["ingest"]["committed_per_s"]))
        for scope in ("overall", "per_chat"):
            p = m[scope]
            rows += [
                Row(f"messenger {scope}", "sent/s (middle 80%)", p["rate_per_s"],
                    f">= {messenger.TARGET_RATIO * p['limit_per_s']:g}",
                    p["rate_per_s"] >= messenger.TARGET_RATIO * p["limit_per_s"]),
                Row(f"messenger {scope}", "most sent in 1 s", p["most_in_one_second"],
                    f"<= {p['limit_per_s']:g}", p["most_in_one_second"] <= p["limit_per_s"]),
            ]  # fmt: skip
    if "error" in f.get("sms", {}):
        rows.append(Row("SMS", "error", f["sms"]["error"][:60], "", False))
    elif "sms" in f:
        rows += [Row(*row) for row in sms.rows(f["sms"])]
    a = f.get("attachments")
    if a:
        rows += [
            Row("attachments", "raw clamd INSTREAM MB/s", a["raw_clamd_mb_s"]),
            Row("attachments", "scan-and-store MB/s", a["scan_and_store_mb_s"]),
            Row("attachments", "scan-and-store / raw", a["ratio"],
                f">= {a['target_ratio']:g}", a["ratio"] >= a["target_ratio"]),
        ]  # fmt: skip
    return rows


def print_table(rows: list[Row]) -> None:
    """Print the rows aligned, with PASS/FAIL where there is a target."""
    header = ("scenario", "metric", "value", "target", "result")
    lines = [
        (
            r.scenario,
            r.metric,
            "—"
            if r.value is None
            else f"{r.value:g}"
            if isinstance(r.value, float)
            else str(r.value),
            r.target,
            "" if r.passed is None else "PASS" if r.passed else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(5)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*header))
    print(fmt.format(*("-" * w for w in widths)))
    for line in lines:
        print(fmt.format(*line))


def _show(value: float | int | str | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def write_report(args: argparse.Namespace, figures: dict[str, Any], rows: list[Row]) -> Path:
    """Write bench/results/<timestamp>.json and latest.json; return the first path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "timestamp": stamp,
        "machine": machine(),
        "source": source(),
        "config": {k: v for k, v in vars(args).items() if k != "keep"},
        "targets": {
            "ingest_accepted_per_s_min": TARGET_INGEST_PER_S,
            "accept_p99_ms_at_rate_max": TARGET_P99_AT_RATE_MS,
            "status_to_notice_p99_ms_max": TARGET_STATUS_P99_MS,
            "idle_rss_mb_max": TARGET_IDLE_RSS_MB,
            "wal_largest_mib_max": wal.TARGET_LARGEST_MIB,
        },
        "figures": figures,
        "table": [vars(r) for r in rows],
    }
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    path = RESULTS / f"{stamp}.json"
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path
