"""MIME to a readable message (issue 9, point 4): `channels.email.mime.read` against the bare
standard-library parse it is built on, and the Rust fast-mail-parser it was chosen over.

Two messages: a scan (a 10 MiB PDF attachment under a short Russian text) and a typical
20 KB reply (Russian text and Outlook-style HTML with an inline logo). Time is the median CPU
time of ROUNDS parses, the parsers taking turns. Memory is measured in a fresh process per
parser and message, so that one's heap does not flatter or burden the next: the growth of peak
RSS over the first parse (the kernel's VmHWM, reset just before) and, for the Python parsers,
tracemalloc's peak of the Python heap.

`python -m bench.mime` prints the table and writes bench/results/mime-<timestamp>.json.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bench.procstat import memory_kib
from bench.run import RESULTS, Row, machine, print_table, source

SCAN_BYTES = 10 * 1024 * 1024  # the email channel's default message limit (CONTRACTS.md)
ROUNDS = {"scan": 7, "typical": 300}
PARSERS = ("stdlib", "read", "fast_mail_parser")
# The target for intake to envelope, of which this parse is one step: peak RSS
# growth at most 3x the message size.
TARGET_RSS_TO_SIZE = 3.0


def scan_message() -> bytes:
    """A citizen's scan: a short text and a 10 MiB PDF of incompressible content."""
    rng = random.Random(9)
    pdf = b"%PDF-1.7\n" + rng.randbytes(SCAN_BYTES - 16) + b"\n%%EOF\n"
    message = EmailMessage()
    message["From"] = "Иван Петров <ivan.petrov@citizen.example>"
    message["To"] = "support@gosuslugi.example"
    message["Subject"] = "[02] Заявление и скан паспорта"
    message["Message-ID"] = "<scan.1@citizen.example>"
    message.set_content("Добрый день! Заявление и скан паспорта во вложении.\n\nИван Петров")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="скан.pdf")
    return message.as_bytes()


def typical_message() -> bytes:
    """A 20 KB reply: Russian text and HTML (quoted history included) and a small logo."""
    paragraph = (
        "Добрый день! Код из СМС так и не пришёл, вход в личный кабинет по-прежнему "
        "невозможен. Прошу проверить привязку номера +7 916 123-45-67 к учётной записи.\n"
    )
    history = "".join(f"> {paragraph}" for _ in range(20))
    text = paragraph * 3 + "\nС уважением,\nИван Петров\n\n" + history
    html = "".join(f'<p class="MsoNormal">{line}<o:p></o:p></p>\n' for line in text.split("\n"))
    message = EmailMessage()
    message["From"] = "=?windows-1251?B?yOLg7SDP5fLw7uI=?= <ivan.petrov@citizen.example>"
    message["To"] = "support@gosuslugi.example"
    message["Subject"] = "RE: [№2600000128] Ваше обращение принято"
    message["Message-ID"] = "<typical.1@citizen.example>"
    message.set_content(text)
    message.add_alternative(
        f'<html><body>{html}<img src="cid:logo@citizen.example"></body></html>', subtype="html"
    )
    html_part = message.get_payload()[1]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        random.Random(20).randbytes(2048), "image", "png", cid="<logo@citizen.example>"
    )
    return message.as_bytes()


MESSAGES: dict[str, Callable[[], bytes]] = {"scan": scan_message, "typical": typical_message}


def _stdlib(raw: bytes) -> object:
    """The baseline: the standard parser with policy.default, each leaf's content decoded."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return [part.get_payload(decode=True) for part in message.walk()]


def _read(raw: bytes) -> object:
    from channels.email.mime import read

    return read(raw)


def _fast_mail_parser(raw: bytes) -> object:
    import fast_mail_parser

    return fast_mail_parser.parse_email(raw)


_PARSE: dict[str, Callable[[bytes], object]] = {
    "stdlib": _stdlib,
    "read": _read,
    "fast_mail_parser": _fast_mail_parser,
}


def _reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux: 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def memory(parser: str, path: Path) -> dict[str, Any]:
    """In this (fresh) process: peak RSS growth and Python heap peak of one parse."""
    parse = _PARSE[parser]
    # Imports and first-use caches (compiled patterns, the HTML parser) are not what is
    # measured; a typical message walks every path once.
    parse(typical_message())
    # Read from a file, not built here: building it would leave freed memory in the
    # allocator for the parse to reuse, and its RSS growth would read too low.
    raw = path.read_bytes()
    pid = os.getpid()
    _reset_peak_rss()
    before = memory_kib(pid)["VmRSS"]
    parse(raw)
    rss_growth = memory_kib(pid)["VmHWM"] - before
    tracemalloc.start()
    parse(raw)
    heap_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "peak_rss_growth_mib": round(rss_growth / 1024, 1),
        # fast-mail-parser's Rust heap is not Python's: tracemalloc cannot see it.
        "python_heap_peak_mib": None
        if parser == "fast_mail_parser"
        else round(heap_peak / 2**20, 2),
    }


def _memory_in_fresh_process(parser: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.mime", "--memory", parser, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def cpu_ms(raw: bytes, rounds: int) -> dict[str, float]:
    """Median CPU milliseconds of each parser on `raw`, the parsers taking turns each round
    (CPU time, not wall time: other processes on a shared machine do not count)."""
    seconds: dict[str, list[float]] = {parser: [] for parser in PARSERS}
    for parser in PARSERS:
        _PARSE[parser](raw)
    for _ in range(rounds):
        for parser in PARSERS:
            started = time.process_time()
            _PARSE[parser](raw)
            seconds[parser].append(time.process_time() - started)
    return {parser: round(1000 * statistics.median(s), 3) for parser, s in seconds.items()}


def run() -> dict[str, Any]:
    """Every parser on every message; ratios against the stdlib."""
    figures: dict[str, Any] = {}
    for kind, message in MESSAGES.items():
        raw = message()
        times = cpu_ms(raw, ROUNDS[kind])
        by_parser: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="omnirouter-bench-") as tmp:
            path = Path(tmp) / f"{kind}.eml"
            path.write_bytes(raw)
            memories = {parser: _memory_in_fresh_process(parser, path) for parser in PARSERS}
        for parser in PARSERS:
            result = {"message_bytes": len(raw), "rounds": ROUNDS[kind]}
            result |= {"median_cpu_ms": times[parser]} | memories[parser]
            result["time_vs_stdlib"] = round(times[parser] / times["stdlib"], 3)
            result["rss_growth_to_message_size"] = round(
                result["peak_rss_growth_mib"] * 2**20 / len(raw), 2
            )
            by_parser[parser] = result
        figures[kind] = by_parser
    return figures


def table(figures: dict[str, Any]) -> list[Row]:
    """The rows of the printed table."""
    rows: list[Row] = []
    for kind, by_parser in figures.items():
        size = by_parser["stdlib"]["message_bytes"]
        shown = f"{size / 2**20:.1f} MiB" if size > 2**20 else f"{size / 1024:.0f} KiB"
        for parser, r in by_parser.items():
            label = f"{kind} ({shown}), {parser}"
            rows += [
                Row(label, "median CPU ms", r["median_cpu_ms"]),
                Row(label, "time / stdlib", r["time_vs_stdlib"]),
                Row(label, "Python heap peak MiB", r["python_heap_peak_mib"]),
            ]
            if kind == "scan":  # a few KiB of growth is page-granular noise
                ratio = r["rss_growth_to_message_size"]
                rows += [
                    Row(label, "peak RSS growth MiB", r["peak_rss_growth_mib"]),
                    Row(label, "RSS growth / message size", ratio,
                        f"<= {TARGET_RSS_TO_SIZE:g}", ratio <= TARGET_RSS_TO_SIZE),
                ]  # fmt: skip
    return rows


def main() -> int:
    """Measure, print the table, write the JSON report."""
    if sys.argv[1:2] == ["--memory"]:
        print(json.dumps(memory(sys.argv[2], Path(sys.argv[3]))))
        return 0
    figures = run()
    rows = table(figures)
    print_table(rows)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"mime-{stamp}.json"
    report = {
        "timestamp": stamp,
        "machine": machine(),
        "source": source(),
        "figures": figures,
        "table": [vars(r) for r in rows],
    }
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nreport: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
