"""The daemon's CPU per message at an earlier commit, measured in the same run as this one.

The channel platform (issue 8) may cost at most 10% more CPU per message than the code before
it. Machines differ by up to 2x from one session to the next, so the earlier commit is checked
out beside this tree and benchmarked by its own bench (closed-loop chat ingest) right after
this tree's figures: the ratio of the two is the figure that judges.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.integration.daemon import REPO

# The last commit before the channel platform (issue 8).
BEFORE_PLATFORM = "0b19f16"
TARGET_RATIO = 1.10
# A scenario that has not finished in this long is a finding, not a wait.
TIMEOUT = 900


def run(rev: str = BEFORE_PLATFORM) -> dict[str, Any]:
    """Closed-loop ingest of the daemon at `rev`: messages per second and CPU per message."""
    tree = Path(tempfile.mkdtemp(prefix="omnirouter-bench-rev-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(tree), rev],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "bench", "--only", "throughput"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            timeout=TIMEOUT,
            stdout=subprocess.DEVNULL,
        )
        report = json.loads((tree / "bench" / "results" / "latest.json").read_text())
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True
        )
    throughput = report["figures"]["throughput"]
    return {
        "rev": rev,
        "accepted_per_s": throughput["accepted_per_s"],
        "daemon_cpu_ms_per_message": throughput["daemon_cpu_ms_per_message"],
        "foreign_cpu_pct": throughput["cpu"]["foreign_cpu_pct"],
    }
