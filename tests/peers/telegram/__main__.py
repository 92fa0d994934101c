"""`python -m tests.peers.telegram`: serve the double on a free loopback port until stdin closes.

Prints {"port": N} as the first line of stdout once it listens.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from .app import Service, build_app


async def stdin_closed() -> None:
    """Return when the test process closes our stdin (or dies): the double never outlives it."""
    await trio.to_thread.run_sync(sys.stdin.buffer.read, abandon_on_cancel=True)


async def main() -> None:
    """Serve until stdin closes."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    with tempfile.TemporaryDirectory(prefix="telegram-double-") as files:
        async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
            # Hypercorn's ASGIFramework type is narrower than Starlette's own __call__ signature.
            app: Any = build_app(Service(nursery, client, Path(files)))
            binds = await nursery.start(
                lambda task_status: serve(
                    app, config, shutdown_trigger=stdin_closed, task_status=task_status
                )
            )
            port = int(binds[0].rpartition(":")[2])
            print(json.dumps({"port": port}), flush=True)
            await stdin_closed()
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
