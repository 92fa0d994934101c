"""clamd client without a socket: addresses, replies, INSTREAM framing over memory streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from router.attachments.clamd import (
    INSTREAM,
    MAX_REPLY,
    TOO_LARGE,
    Clamd,
    ClamdAddress,
    ScanResult,
    frames,
    instream,
    parse_scan_reply,
    read_reply,
)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("unix:/run/clamav/clamd.ctl", ClamdAddress(kind="unix", location="/run/clamav/clamd.ctl")),
        ("tcp:127.0.0.1:3310", ClamdAddress(kind="tcp", location="127.0.0.1", port=3310)),
        (
            "tcp:clamav.internal:3310",
            ClamdAddress(kind="tcp", location="clamav.internal", port=3310),
        ),
        ("tcp:[::1]:3310", ClamdAddress(kind="tcp", location="::1", port=3310)),
    ],
)
def test_address_parses_config_form(text: str, address: ClamdAddress) -> None:
    assert ClamdAddress.parse(text) == address
    assert str(address) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/run/clamav/clamd.ctl",
        "unix:",
        "tcp:127.0.0.1",
        "tcp::3310",
        "tcp:127.0.0.1:0",
        "tcp:127.0.0.1:65536",
        "tcp:127.0.0.1:clamd",
        "udp:127.0.0.1:3310",
    ],
)
def test_address_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="expected 'unix:"):
        ClamdAddress.parse(text)


@pytest.mark.parametrize(
    ("reply", "result"),
    [
        (b"stream: OK", ScanResult(status="clean")),
        (
            b"stream: Win.Test.EICAR_HDB-1 FOUND",
            ScanResult(status="infected", signature="Win.Test.EICAR_HDB-1"),
        ),
        (
            b"INSTREAM size limit exceeded. ERROR",
            ScanResult(status="error", detail="INSTREAM size limit exceeded. ERROR"),
        ),
        (
            b"stream: Can't allocate memory ERROR",
            ScanResult(status="error", detail="stream: Can't allocate memory ERROR"),
        ),
    ],
)
def test_reply_verdicts(reply: bytes, result: ScanResult) -> None:
    assert parse_scan_reply(reply) == result


@pytest.mark.parametrize(
    "reply", [b"", b"PONG", b"OK", b"FOUND", b"stream: FOUND", b"stream: foo OK", b"\xff\xfe"]
)
def test_garbage_reply_is_an_error_not_a_verdict(reply: bytes) -> None:
    result = parse_scan_reply(reply)
    assert result.status == "error"
    assert result.detail is not None
    assert result.detail.startswith("unexpected reply from clamd: ")


def test_frames_split_to_chunk_size() -> None:
    framed = list(frames(b"a" * 150, 64))
    assert framed == [
        (64).to_bytes(4, "big") + b"a" * 64,
        (64).to_bytes(4, "big") + b"a" * 64,
        (22).to_bytes(4, "big") + b"a" * 22,
    ]


def test_empty_data_makes_no_frame() -> None:
    # A zero-length frame would end the stream (clamd(8)); an empty read must not send one.
    assert list(frames(b"", 64)) == []


@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(1, 100))
def test_frames_round_trip(pieces: list[bytes], chunk: int) -> None:
    data = b""
    for piece in pieces:
        for frame in frames(piece, chunk):
            length = int.from_bytes(frame[:4], "big")
            assert 0 < length <= chunk
            assert len(frame) == 4 + length
            data += frame[4:]
    assert data == b"".join(pieces)


async def _source(*pieces: bytes) -> AsyncGenerator[bytes, None]:
    for piece in pieces:
        yield piece


class FakeClamd:
    """The clamd end of a memory stream: decodes one INSTREAM request and answers it."""

    def __init__(self, stream: trio.abc.Stream, reply: bytes) -> None:
        self.stream = stream
        self.reply = reply
        self.buffer = bytearray()
        self.frames: list[int] = []
        self.data = b""
        self.ended = False

    async def _read(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            received = await self.stream.receive_some()
            if not received:
                return None
            self.buffer += received
        head = bytes(self.buffer[:size])
        del self.buffer[:size]
        return head

    async def serve(self) -> None:
        """Read the command and frames up to the zero-length one, then reply."""
        assert await self._read(len(INSTREAM)) == INSTREAM
        while (header := await self._read(4)) is not None:
            length = int.from_bytes(header, "big")
            if length == 0:
                self.ended = True
                await self.stream.send_all(self.reply)
                return
            body = await self._read(length)
            assert body is not None
            self.frames.append(length)
            self.data += body


async def _exchange(
    reply: bytes, *pieces: bytes, chunk: int = 64, stream_max: int = 1000
) -> tuple[ScanResult, FakeClamd]:
    client, server = trio.testing.memory_stream_pair()
    fake = FakeClamd(server, reply)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fake.serve)
        async with client, aclosing(_source(*pieces)) as chunks:
            result = await instream(client, chunks, chunk=chunk, stream_max=stream_max)
    return result, fake


async def test_instream_frames_each_chunk_and_ends_with_zero_length() -> None:
    result, fake = await _exchange(b"stream: OK\0", b"a" * 150, b"", b"b" * 10)
    assert result == ScanResult(status="clean")
    assert fake.frames == [64, 64, 22, 10]
    assert fake.data == b"a" * 150 + b"b" * 10
    assert fake.ended


async def test_instream_stops_before_exceeding_stream_max() -> None:
    result, fake = await _exchange(b"stream: OK\0", b"a" * 600, b"b" * 600, stream_max=1000)
    assert result == ScanResult(status="error", detail=TOO_LARGE)
    # The piece that would cross the limit is never sent, and no verdict is asked for.
    assert fake.data == b"a" * 600
    assert not fake.ended


async def test_instream_exactly_stream_max_is_scanned() -> None:
    # clamd accepts a stream of exactly StreamMaxLength bytes; one more is refused.
    result, fake = await _exchange(b"stream: OK\0", b"a" * 600, b"b" * 400, stream_max=1000)
    assert result == ScanResult(status="clean")
    assert fake.ended


async def test_reply_arrives_in_pieces() -> None:
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:

        async def answer() -> None:
            for piece in (b"stream: Om", b"nirouter.Test FO", b"UND\0"):
                await server.send_all(piece)
                # Let the reader take each piece on its own before the next one arrives.
                await trio.testing.wait_all_tasks_blocked()

        nursery.start_soon(answer)
        assert await read_reply(client) == b"stream: Omnirouter.Test FOUND"


async def test_hang_up_before_reply_is_eof() -> None:
    client, server = trio.testing.memory_stream_pair()
    await server.send_all(b"stream: O")
    await server.aclose()
    with pytest.raises(EOFError):
        await read_reply(client)


async def test_endless_reply_is_cut_at_max_reply() -> None:
    client, server = trio.testing.memory_stream_pair()
    await server.send_all(b"x" * (MAX_REPLY * 3))
    assert await read_reply(client) == b"x" * MAX_REPLY


@pytest.mark.parametrize("chunk", [0, 2**32])
def test_chunk_must_fit_a_four_byte_length(chunk: int) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        Clamd(ClamdAddress.parse("unix:/run/clamav/clamd.ctl"), chunk=chunk)
