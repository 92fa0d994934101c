"""The clamd client against a real clamd with the test signature database."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

import pytest
import trio

from router.attachments.clamd import (
    DEFAULT_STREAM_MAX,
    TOO_LARGE,
    Clamd,
    ClamdAddress,
    ClamdUnavailable,
    ScanResult,
)
from tests.clamd import CUSTOM_SIGNATURE, EICAR, EICAR_SIGNATURE, MARKER, ClamdServer

MiB = 1024 * 1024
SOCKETS = pytest.mark.parametrize("kind", ["unix", "tcp"])


def client(server: ClamdServer, kind: str, stream_max: int = DEFAULT_STREAM_MAX) -> Clamd:
    """A client for the server's unix or TCP socket."""
    text = server.address_unix if kind == "unix" else server.address_tcp
    return Clamd(ClamdAddress.parse(text), stream_max=stream_max)


async def pieces(data: bytes, size: int = 100_000) -> AsyncGenerator[bytes, None]:
    """Data as a blob store would hand it out: in reads of `size` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def scan(scanner: Clamd, data: bytes, size: int = 100_000) -> ScanResult:
    """Scan data; the caller owns the generator, so it closes it when scan() stops early."""
    async with aclosing(pieces(data, size)) as chunks:
        return await scanner.scan(chunks)


def zipped(name: str, content: bytes) -> bytes:
    """A ZIP archive holding one deflated member."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, content)
    return archive.getvalue()


@SOCKETS
async def test_ping_and_version(clamd: ClamdServer, kind: str) -> None:
    scanner = client(clamd, kind)
    assert await scanner.ping()
    assert (await scanner.version()).startswith("ClamAV ")


@pytest.mark.parametrize(
    ("data", "result"),
    [
        ("Здравствуйте, прошу продлить справку.".encode(), ScanResult(status="clean")),
        (os.urandom(3 * MiB), ScanResult(status="clean")),
        (EICAR, ScanResult(status="infected", signature=EICAR_SIGNATURE)),
        (
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n" + EICAR,
            ScanResult(status="infected", signature=EICAR_SIGNATURE),
        ),
        (zipped("docs/scan.com", EICAR), ScanResult(status="infected", signature=EICAR_SIGNATURE)),
        (
            b"before " + MARKER + b" after",
            ScanResult(status="infected", signature=CUSTOM_SIGNATURE),
        ),
    ],
    ids=["text", "random-3MiB", "eicar", "eicar-after-pdf", "eicar-in-zip", "custom-marker"],
)
@SOCKETS
async def test_verdicts(clamd: ClamdServer, kind: str, data: bytes, result: ScanResult) -> None:
    assert await scan(client(clamd, kind), data) == result


@SOCKETS
async def test_stream_over_our_limit_stops_before_clamd_cuts(clamd: ClamdServer, kind: str) -> None:
    scanner = client(clamd, kind, stream_max=1 * MiB)
    result = await scan(scanner, b"a" * (2 * MiB))
    assert result == ScanResult(status="error", detail=TOO_LARGE)
    # clamd never hit its own limit, and the next scan on it goes through.
    assert "Size limit reached" not in clamd.log.read_text()
    assert await scan(scanner, b"small") == ScanResult(status="clean")


async def test_clamd_limit_below_ours_is_an_error_not_unavailable(clamd: ClamdServer) -> None:
    # Over the unix socket clamd's refusal survives its hang-up; over TCP a reset may discard it.
    scanner = client(clamd, "unix", stream_max=30 * MiB)
    result = await scan(scanner, b"a" * (26 * MiB), 1 * MiB)
    assert result == ScanResult(status="error", detail="INSTREAM size limit exceeded. ERROR")


async def test_stopped_clamd_is_unavailable_and_restarted_one_scans(tmp_path: Path) -> None:
    server = ClamdServer(tmp_path)
    await trio.to_thread.run_sync(server.start)
    try:
        await trio.to_thread.run_sync(server.stop)
        for kind in ("unix", "tcp"):
            with trio.fail_after(2), pytest.raises(ClamdUnavailable, match="clamd at "):
                await scan(client(server, kind), EICAR)
        await trio.to_thread.run_sync(server.start)
        for kind in ("unix", "tcp"):
            result = await scan(client(server, kind), EICAR)
            assert result == ScanResult(status="infected", signature=EICAR_SIGNATURE)
    finally:
        await trio.to_thread.run_sync(server.stop)


async def test_restart_keeps_socket_and_port(clamd: ClamdServer) -> None:
    await trio.to_thread.run_sync(clamd.restart)
    for kind in ("unix", "tcp"):
        assert await client(clamd, kind).ping()


async def _hold(stream: trio.SocketStream) -> None:
    """A peer that accepts and never answers."""
    async with stream:
        await trio.sleep_forever()


async def _silent_unix_listener(path: Path) -> trio.SocketListener:
    sock = trio.socket.socket(trio.socket.AF_UNIX)
    await sock.bind(str(path))
    sock.listen()
    return trio.SocketListener(sock)


@SOCKETS
async def test_silent_peer_is_unavailable_after_the_timeout(tmp_path: Path, kind: str) -> None:
    if kind == "unix":
        listener = await _silent_unix_listener(tmp_path / "silent.sock")
        address = ClamdAddress.parse(f"unix:{tmp_path / 'silent.sock'}")
    else:
        (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        address = ClamdAddress.parse(f"tcp:127.0.0.1:{listener.socket.getsockname()[1]}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, _hold, [listener])
        scanner = Clamd(address, timeout=0.5)
        for call in (scanner.ping, lambda: scan(scanner, b"a" * 200_000)):
            started = trio.current_time()
            with pytest.raises(ClamdUnavailable, match=r"did not answer within 0\.5 s"):
                await call()
            assert 0.5 <= trio.current_time() - started < 2
        nursery.cancel_scope.cancel()


def test_missing_clamd_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(
        RuntimeError, match="clamd not found: install the Debian package clamav-daemon"
    ):
        ClamdServer(tmp_path).start()
