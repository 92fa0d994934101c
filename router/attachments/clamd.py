"""Client for clamd's PING, VERSION and INSTREAM commands over a trio socket (clamd(8))."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Final, Literal

import msgspec
import trio

# clamd's built-in StreamMaxLength is 100M (clamd.conf(5)), but Debian's clamav-daemon writes
# "StreamMaxLength 25M" into /etc/clamav/clamd.conf (debconf clamav-daemon/StreamMaxLength,
# default 25), as does the commented example in upstream's clamd.conf.sample. A client limit
# above clamd's gets the connection cut mid-stream (clamd(8), INSTREAM); one below only
# refuses a little earlier, so we follow the smaller, packaged value.
DEFAULT_STREAM_MAX: Final = 25 * 1024 * 1024
# One chunk is all a scan holds in memory; 64 KiB keeps 400 frames for a 25 MiB stream.
DEFAULT_CHUNK: Final = 64 * 1024
# One deadline for a whole exchange: scanning 25 MiB, archives unpacked, takes seconds, so
# 30 s means clamd is stuck or overloaded, and the message is held for a retry.
DEFAULT_TIMEOUT: Final = 30.0
# A reply is one line: "stream: " plus a signature name, or a short error; more than this is
# not clamd talking, and we stop reading rather than buffer whatever a peer sends.
MAX_REPLY: Final = 4096

# clamd(8): the "z" prefix makes clamd read the command and write its reply NUL-terminated.
PING: Final = b"zPING\0"
VERSION: Final = b"zVERSION\0"
INSTREAM: Final = b"zINSTREAM\0"
# clamd(8), INSTREAM: each chunk is a 4-byte unsigned length in network order, then the data;
# a zero-length chunk ends the stream.
_LENGTH: Final = struct.Struct("!I")
END_OF_STREAM: Final = _LENGTH.pack(0)

TOO_LARGE: Final = "larger than clamd's StreamMaxLength"


class ClamdUnavailable(Exception):
    """clamd could not be reached or did not answer: hold the attachment and retry later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScanResult(msgspec.Struct, frozen=True):
    """clamd's verdict on one stream."""

    status: Literal["clean", "infected", "error"]
    signature: str | None = None
    detail: str | None = None


class ClamdAddress(msgspec.Struct, frozen=True):
    """Where clamd listens: a unix socket path, or a TCP host and port."""

    kind: Literal["unix", "tcp"]
    location: str
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> ClamdAddress:
        """Read the config form "unix:/run/clamav/clamd.ctl" or "tcp:HOST:PORT"."""
        kind, _, rest = text.partition(":")
        if kind == "unix" and rest:
            return cls(kind="unix", location=rest)
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            # Brackets let an IPv6 host carry its own colons: "tcp:[::1]:3310".
            host = host.removeprefix("[").removesuffix("]")
            if host and port.isdigit() and 0 < int(port) < 65536:
                return cls(kind="tcp", location=host, port=int(port))
        raise ValueError(
            f"clamd address {text!r}: expected 'unix:/path/to/clamd.ctl' or 'tcp:HOST:PORT'"
        )

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.location}"
        host = f"[{self.location}]" if ":" in self.location else self.location
        return f"tcp:{host}:{self.port}"

    async def connect(self) -> trio.SocketStream:
        """Open a connection to clamd."""
        if self.kind == "unix":
            return await trio.open_unix_socket(self.location)
        return await trio.open_tcp_stream(self.location, self.port)


def frames(data: bytes, chunk: int) -> Iterator[bytes]:
    """Frame data as INSTREAM chunks of at most `chunk` bytes each."""
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        piece = view[start : start + chunk]
        yield _LENGTH.pack(len(piece)) + piece


def _clean(head: str, text: str) -> ScanResult | None:
    return ScanResult(status="clean") if head == "stream:" else None


def _infected(head: str, text: str) -> ScanResult | None:
    signature = head.removeprefix("stream: ")
    if signature == head or not signature:
        return None
    return ScanResult(status="infected", signature=signature)


def _error(head: str, text: str) -> ScanResult:
    return ScanResult(status="error", detail=text)


# clamd(8) and clamd's replies to INSTREAM, keyed by their last word: "stream: OK",
# "stream: <signature> FOUND", "<reason> ERROR" (e.g. "INSTREAM size limit exceeded. ERROR").
_VERDICTS: Final[dict[str, Callable[[str, str], ScanResult | None]]] = {
    "OK": _clean,
    "FOUND": _infected,
    "ERROR": _error,
}


def parse_scan_reply(reply: bytes) -> ScanResult:
    """Turn clamd's reply to INSTREAM, without its NUL, into a ScanResult."""
    text = reply.decode("utf-8", "replace")
    head, _, verdict = text.rpartition(" ")
    reader = _VERDICTS.get(verdict)
    result = reader(head, text) if reader is not None else None
    if result is None:
        return ScanResult(status="error", detail=f"unexpected reply from clamd: {text!r}")
    return result


async def read_reply(stream: trio.abc.ReceiveStream) -> bytes:
    """Read one NUL-terminated reply, at most MAX_REPLY bytes; EOFError if clamd hung up."""
    reply = bytearray()
    while len(reply) < MAX_REPLY:
        data = await stream.receive_some(MAX_REPLY - len(reply))
        if not data:
            raise EOFError("clamd closed the connection without answering")
        reply += data
        end = reply.find(b"\0")
        if end >= 0:
            return bytes(reply[:end])
    return bytes(reply)


async def instream(
    stream: trio.abc.Stream,
    chunks: AsyncIterable[bytes],
    *,
    chunk: int = DEFAULT_CHUNK,
    stream_max: int = DEFAULT_STREAM_MAX,
) -> ScanResult:
    """Send chunks with INSTREAM and read the verdict, holding one piece and one frame at a time."""
    await stream.send_all(INSTREAM)
    length = 0
    try:
        async for data in chunks:
            length += len(data)
            if length > stream_max:
                # clamd(8): past StreamMaxLength clamd replies with an error and closes the
                # connection mid-stream; we stop first and hang up, which clamd takes quietly.
                return ScanResult(status="error", detail=TOO_LARGE)
            for frame in frames(data, chunk):
                await stream.send_all(frame)
        await stream.send_all(END_OF_STREAM)
    except trio.BrokenResourceError:
        # A clamd whose StreamMaxLength is below ours closes while we send, but its
        # "INSTREAM size limit exceeded. ERROR" is already waiting to be read.
        pass
    return parse_scan_reply(await read_reply(stream))


class Clamd:
    """A clamd daemon, reached through a new connection per command."""

    def __init__(
        self,
        address: ClamdAddress,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stream_max: int = DEFAULT_STREAM_MAX,
        chunk: int = DEFAULT_CHUNK,
    ) -> None:
        if not 0 < chunk < 2**32:
            raise ValueError(f"chunk {chunk}: an INSTREAM length has 4 bytes (clamd(8))")
        self.address = address
        self._timeout = timeout
        self._stream_max = stream_max
        self._chunk = chunk

    async def ping(self) -> bool:
        """Whether clamd answers PING with PONG."""
        async with self._connection() as stream:
            await stream.send_all(PING)
            return await read_reply(stream) == b"PONG"

    async def version(self) -> str:
        """clamd's VERSION reply: "ClamAV 1.4.6", plus "/daily/date" with official signatures."""
        async with self._connection() as stream:
            await stream.send_all(VERSION)
            return (await read_reply(stream)).decode("utf-8", "replace")

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        """Scan a stream with INSTREAM; ClamdUnavailable if clamd is down or silent."""
        # We may stop before the end of chunks (too large, clamd gone): their owner closes
        # them, e.g. an async generator with contextlib.aclosing.
        async with self._connection() as stream:
            return await instream(stream, chunks, chunk=self._chunk, stream_max=self._stream_max)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[trio.SocketStream]:
        """A connection under one deadline for the whole exchange; failures: ClamdUnavailable."""
        try:
            with trio.fail_after(self._timeout):
                try:
                    stream = await self.address.connect()
                except OSError as exc:
                    raise ClamdUnavailable(_reason(self.address, exc)) from exc
                async with stream:
                    yield stream
        except trio.TooSlowError:
            raise ClamdUnavailable(
                f"clamd at {self.address} did not answer within {self._timeout:g} s"
            ) from None
        except (trio.BrokenResourceError, EOFError) as exc:
            raise ClamdUnavailable(_reason(self.address, exc)) from exc


def _reason(address: ClamdAddress, exc: Exception) -> str:
    # trio's BrokenResourceError can come without a message; its type still says what broke.
    return f"clamd at {address}: {exc or type(exc).__name__}"
