"""sd_notify(3) without libsystemd: READY, STATUS, RELOADING, STOPPING and WATCHDOG datagrams."""

from __future__ import annotations

import os
import socket


class ServiceManager:
    """Talks to systemd's notify socket; does nothing when not run by systemd."""

    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET")
        self._address: str | None = None
        if address:
            # A leading @ names a socket in the abstract namespace (sd_notify(3)).
            self._address = "\0" + address[1:] if address.startswith("@") else address
        watchdog = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        self.watchdog_usec = (
            int(watchdog) if watchdog and (pid is None or pid == str(os.getpid())) else None
        )

    def send(self, **fields: str) -> None:
        """Send KEY=value lines, e.g. send(READY="1", STATUS="running")."""
        if self._address is None:
            return
        payload = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(self._address)
            sock.sendall(payload)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between keep-alive pings: half the watchdog timeout, as systemd advises."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000
