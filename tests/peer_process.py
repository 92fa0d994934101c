"""What the tests' peers (the SMSC simulator, the SMTP peer, the Bot API double, the browser)
share: a control command as one JSON line each way, and an end once the test session is over."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import trio

# A control command is answered at once by a running peer.
CONTROL_DEADLINE = 10.0
# How long a peer may take to exit once its stdin closes.
STOP_DEADLINE = 30.0


async def control(
    host: str, port: int, cmd: str, args: dict[str, Any], error: type[Exception]
) -> dict[str, Any]:
    """One control command over its own connection: the reply, or `error` with the peer's
    reason (or for a peer that closed the connection without one)."""
    with trio.fail_after(CONTROL_DEADLINE):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = await stream.receive_some(65536)
                if not chunk:
                    raise error(f"the peer closed the control connection: {cmd}")
                reply += chunk
    answer: dict[str, Any] = json.loads(reply)
    if "error" in answer:
        raise error(f"{cmd}: {answer['error']}")
    return answer


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a peer started with its stdin open: it exits when stdin closes, or is killed."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
