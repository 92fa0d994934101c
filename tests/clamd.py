"""A real clamd in a subprocess, on its own socket, port and test-only signature database."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.integration.daemon import free_port

# Built from two halves so this source file is not itself flagged by a scanner on a dev box.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"OMNIROUTER-TEST-MALWARE-7f3a9c"
# libclamav appends ".UNOFFICIAL" to every signature loaded from a database that is not a
# signed .cvd/.cld, so clamd reports our names with that suffix.
EICAR_SIGNATURE = "Omnirouter.Test.EICAR.UNOFFICIAL"
CUSTOM_SIGNATURE = "Omnirouter.Test.Custom.UNOFFICIAL"

# Both are .ndb body signatures "Name:TargetType:Offset:HexSignature" with target type 0 (any
# file) and offset * (anywhere), so they match inside a ZIP member once clamd unpacks it and
# after a PDF's own bytes; an .hdb hash signature would match only a file that is exactly
# the marker.
SIGNATURES = "".join(
    f"{name.removesuffix('.UNOFFICIAL')}:0:*:{body.hex()}\n"
    for name, body in ((EICAR_SIGNATURE, EICAR), (CUSTOM_SIGNATURE, MARKER))
)

# With two signatures clamd is up in well under a second; a loaded CI box gets slack.
START_DEADLINE = 30.0
STOP_DEADLINE = 10.0
# sun_path holds 108 bytes including the NUL (unix(7)); a deep pytest basetemp can exceed it.
SUN_PATH_MAX = 107
MISSING = "clamd not found: install the Debian package clamav-daemon (make test does)"


def find_clamd() -> str:
    """The clamd program; Debian installs it in /usr/sbin, which a user's PATH may lack."""
    path = shutil.which("clamd") or shutil.which("clamd", path="/usr/local/sbin:/usr/sbin")
    if path is None:
        raise RuntimeError(MISSING)
    return path


class ClamdServer:
    """clamd in the foreground with a generated clamd.conf under one directory."""

    def __init__(self, root: Path, extra_config: str = "") -> None:
        self.root = root
        self.socket = root / "clamd.sock"
        if len(str(self.socket)) > SUN_PATH_MAX:
            raise ValueError(f"{self.socket}: too long for a unix socket path")
        self.port = free_port()
        self.log = root / "clamd.log"
        self.output = root / "clamd.out"
        self.config = root / "clamd.conf"
        database = root / "db"
        database.mkdir(exist_ok=True)
        (database / "omnirouter-test.ndb").write_text(SIGNATURES)
        # No User directive: clamd runs as whoever starts it, root included (clamd.conf(5)).
        self.config.write_text(
            "Foreground yes\n"
            f"LocalSocket {self.socket}\n"
            f"TCPSocket {self.port}\n"
            "TCPAddr 127.0.0.1\n"
            f"DatabaseDirectory {database}\n"
            f"LogFile {self.log}\n"
            "LogTime yes\n"
            "StreamMaxLength 25M\n"
            "ScanArchive yes\n" + extra_config
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address_unix(self) -> str:
        """The unix socket in the client's config form."""
        return f"unix:{self.socket}"

    @property
    def address_tcp(self) -> str:
        """The TCP socket in the client's config form."""
        return f"tcp:127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start clamd and wait until it answers PING."""
        program = find_clamd()
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                [program, "--config-file", str(self.config)], stdout=output, stderr=output
            )
        deadline = time.monotonic() + START_DEADLINE
        while not self._pong():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"clamd did not start:\n{self.output.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop clamd; it removes its unix socket on the way out."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same socket and port."""
        self.stop()
        self.start()

    def _pong(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1.0)
                sock.connect(str(self.socket))
                sock.sendall(b"zPING\0")
                return sock.recv(16) == b"PONG\0"
        except OSError:
            return False
