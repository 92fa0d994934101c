"""Clients that misbehave on purpose: raw HTTP and WebSocket bytes, and readers that stop.

Shared by the public-edge tests and the benchmark.
"""

from __future__ import annotations

import json
import os

import trio

from .daemon import DaemonProcess

# Time allowed to an answer that the daemon gives at once; generous for a loaded CI machine.
ANSWER_DEADLINE = 10.0
WS_HEAD = (
    "GET {path} HTTP/1.1\r\nHost: omnirouter\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n"
)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer."""
    return int(answer.split(b" ", 2)[1])


# As many stuck readers as the finding had.
STUCK_READERS = 20
# Cyrillic text of a long operator reply: about 40 KB per notice on the wire.
LONG_REPLY = "Ответ оператора. " * 1150


def client_frame(text: str) -> bytes:
    """One masked WebSocket text frame (RFC 6455 5.2), as a browser sends it."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        head = bytes([0x81, 0x80 | len(payload)])
    else:
        head = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
    return head + mask + masked


class StuckReader:
    """A chat connection with a tiny receive buffer that stops reading once it is set up."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def open(cls, daemon: DaemonProcess) -> StuckReader:
        sock = trio.socket.socket()
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", daemon.port))
        reader = cls(trio.SocketStream(sock))
        await reader.stream.send_all(WS_HEAD.format(path="/chat/ws", version=13).encode())
        with trio.fail_after(ANSWER_DEADLINE):
            while b"\r\n\r\n" not in reader.buffer:
                reader.buffer += await reader.stream.receive_some(4096)
        assert status_of(reader.buffer) == 101, reader.buffer
        reader.buffer = reader.buffer.partition(b"\r\n\r\n")[2]
        return reader

    async def frame(self) -> dict[str, object]:
        """The next server frame (unmasked, text)."""
        with trio.fail_after(ANSWER_DEADLINE):
            while True:
                if len(self.buffer) >= 2:
                    length, start = self.buffer[1] & 0x7F, 2
                    if length == 126:
                        length, start = int.from_bytes(self.buffer[2:4], "big"), 4
                    elif length == 127:
                        length, start = int.from_bytes(self.buffer[2:10], "big"), 10
                    if len(self.buffer) >= start + length:
                        payload = self.buffer[start : start + length]
                        self.buffer = self.buffer[start + length :]
                        frame: dict[str, object] = json.loads(payload)
                        return frame
                self.buffer += await self.stream.receive_some(65536)

    async def send(self, frame: dict[str, object]) -> dict[str, object]:
        """Send a frame and return the first answer that is not a notice."""
        await self.stream.send_all(client_frame(json.dumps(frame)))
        while (answer := await self.frame())["type"] == "notice":
            pass
        return answer


async def stuck_session(daemon: DaemonProcess) -> tuple[str, str, list[StuckReader]]:
    """A session with a ticket and STUCK_READERS connections of it that no longer read."""
    first = await StuckReader.open(daemon)
    welcome = await first.send({"type": "hello", "session": None, "lang": "ru"})
    session = str(welcome["session"])
    accepted = await first.send(
        {"type": "message", "client_id": "c1", "text": "Не могу войти в личный кабинет"}
    )
    ticket = accepted["ticket"]
    assert isinstance(ticket, dict)
    readers = [first]
    for _ in range(STUCK_READERS - 1):
        reader = await StuckReader.open(daemon)
        assert (await reader.send({"type": "hello", "session": session}))["type"] == "welcome"
        readers.append(reader)
    return session, str(ticket["number"]), readers


async def flood_replies(daemon: DaemonProcess, ticket: str, count: int) -> None:
    """Long operator replies: far more than the stuck sockets' buffers hold."""
    async with daemon.backend() as backend:
        for _ in range(count):
            response = await backend.post(
                f"/api/v1/tickets/{ticket}/replies", json={"text": LONG_REPLY}
            )
            assert response.status_code == 202, response.text
