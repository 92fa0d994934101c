"""The shipped systemd unit, sysusers.d and tmpfiles.d files, checked by systemd's own tools."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from router.cli import build_parser

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "omnirouter.service"
SYSUSERS = SYSTEMD_DIR / "omnirouter.sysusers.conf"
TMPFILES = SYSTEMD_DIR / "omnirouter.tmpfiles.conf"

# systemd-analyze's rating bands (src/analyze/analyze-security.c, badness_table), in tenths:
# PERFECT 0, SAFE 0.1-0.9, OK 1.0-4.9, MEDIUM 5.0-7.4, EXPOSED 7.5-8.9, UNSAFE 9.0-9.9,
# DANGEROUS 10. --threshold takes the same tenths and fails above it.
OK_THRESHOLD = 49
ACCEPTED_LEVELS = {"PERFECT", "SAFE", "OK"}
OVERALL_RE = re.compile(
    r"Overall exposure level for (?P<unit>\S+): (?P<score>\d+\.\d) (?P<level>[A-Z]+)"
)

# Debian 12: systemd-analyze, systemd-sysusers and systemd-tmpfiles all ship in "systemd".
DEBIAN_PACKAGE = "systemd"


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found: install the Debian package '{DEBIAN_PACKAGE}' "
            f"(apt-get install {DEBIAN_PACKAGE}); these tests do not skip without it",
            pytrace=False,
        )
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def _unit_settings(path: Path) -> dict[str, list[str]]:
    """Return "Section.Key" -> values in order; unit files may repeat a key (and "" resets)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def test_security_exposure_is_ok_or_better() -> None:
    analyze = _program("systemd-analyze")
    # --offline=true reads the unit file itself: no running systemd (PID 1) is needed.
    result = _run(analyze, "security", "--offline=true", f"--threshold={OK_THRESHOLD}", str(UNIT))
    match = OVERALL_RE.search(result.stdout)
    assert match is not None, (
        f"no overall exposure line in systemd-analyze output:\n{result.stdout}\n{result.stderr}"
    )
    score, level = float(match["score"]), match["level"]
    failing = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert level in ACCEPTED_LEVELS, (
        f"exposure {score} {level}, want OK or better; not set:\n" + "\n".join(failing)
    )
    assert score * 10 <= OK_THRESHOLD
    assert result.returncode == 0, result.stderr


def test_unit_verifies(tmp_path: Path) -> None:
    analyze = _program("systemd-analyze")
    # verify insists the ExecStart binary exists; the package is not installed system-wide
    # here, so point ExecStart at an executable stub and verify everything else as shipped.
    stub = tmp_path / "omnirouter"
    stub.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    stub.chmod(0o755)
    text = UNIT.read_text(encoding="utf-8")
    assert "\nExecStart=/usr/bin/omnirouter run --config /etc/omnirouter\n" in text
    unit = tmp_path / "omnirouter.service"
    unit.write_text(
        text.replace("\nExecStart=/usr/bin/omnirouter ", f"\nExecStart={stub} "), encoding="utf-8"
    )
    result = _run(analyze, "verify", str(unit))
    # verify exits 0 on unknown keys and unparsable values and only warns: warnings fail too.
    problems = [line for line in result.stderr.splitlines() if "omnirouter" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_unit_keeps_the_daemon_contract() -> None:
    s = _unit_settings(UNIT)

    def one(key: str) -> str:
        values = s.get(key)
        assert values, f"{key} is not set"
        return values[-1]

    assert one("Service.Type") == "notify"
    assert one("Service.NotifyAccess") == "main"
    assert one("Service.ExecStart") == "/usr/bin/omnirouter run --config /etc/omnirouter"
    assert one("Service.ExecReload") == "/bin/kill -HUP $MAINPID"
    _, *argv = shlex.split(one("Service.ExecStart"))
    started = build_parser().parse_args(argv)  # what the daemon makes of the unit's command line
    assert (started.command, started.config) == ("run", "/etc/omnirouter")
    assert one("Service.Restart") == "on-failure"
    assert one("Service.WatchdogSec") == "30s"
    assert one("Service.User") == one("Service.Group") == "omnirouter"
    assert one("Service.StateDirectory") == "omnirouter"  # state_dir = /var/lib/omnirouter
    assert one("Service.ConfigurationDirectory") == "omnirouter"
    assert one("Service.CapabilityBoundingSet") == ""
    assert one("Service.AmbientCapabilities") == ""
    assert one("Service.UMask") == "0077"
    assert one("Service.Environment") == "MALLOC_ARENA_MAX=2"  # memory returned after a peak
    assert one("Service.ProtectSystem") == "strict"
    assert "Service.LogsDirectory" not in s  # logs are JSON on stderr, to journald
    assert "Service.IPAddressDeny" not in s  # it must reach the backends
    assert "Service.PrivateNetwork" not in s
    assert one("Install.WantedBy") == "multi-user.target"


def test_sysusers_and_tmpfiles_create_user_and_directories(tmp_path: Path) -> None:
    sysusers = _program("systemd-sysusers")
    tmpfiles = _program("systemd-tmpfiles")
    # Apply both to an empty root so the host's users and directories are not touched.
    (tmp_path / "etc").mkdir()
    for source, conf_dir in ((SYSUSERS, "sysusers.d"), (TMPFILES, "tmpfiles.d")):
        target = tmp_path / "usr" / "lib" / conf_dir / "omnirouter.conf"
        target.parent.mkdir(parents=True)
        shutil.copyfile(source, target)

    result = _run(sysusers, f"--root={tmp_path}")
    assert result.returncode == 0, result.stderr
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in (tmp_path / "etc" / "passwd").read_text(encoding="utf-8").splitlines()
    }
    groups = {
        line.split(":")[0]: line.split(":")
        for line in (tmp_path / "etc" / "group").read_text(encoding="utf-8").splitlines()
    }
    user = passwd["omnirouter"]
    uid, gid = int(user[2]), int(user[3])
    assert uid < 1000, "a system user"
    assert gid == int(groups["omnirouter"][2])
    assert user[5] == "/var/lib/omnirouter"
    assert user[6] in {"/usr/sbin/nologin", "/sbin/nologin", "/bin/false"}

    # tmpfiles resolves user names through the root's own /etc/passwd written above.
    result = _run(tmpfiles, f"--root={tmp_path}", "--create")
    assert result.returncode == 0, result.stderr
    expected = {
        "var/lib/omnirouter": (0o750, uid, gid),
        "etc/omnirouter/secrets": (0o750, 0, gid),
    }
    for rel, (mode, owner, group) in expected.items():
        st = (tmp_path / rel).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, owner, group), rel
