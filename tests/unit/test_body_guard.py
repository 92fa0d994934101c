"""BodyGuard: request bodies counted as read, chunked or not; ClientAddress: trusted proxies."""

from __future__ import annotations

from typing import Any

import trio
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from channels.http import BODY_LIMIT, BodyGuard, address_key
from router.http.edge import ClientAddress, in_networks, parse_networks


def http_scope(headers: list[tuple[bytes, bytes]], client: str = "192.0.2.10") -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": headers,
        "client": (client, 1),
    }


class Body:
    """A request body arriving in chunks; counts what the app pulled."""

    def __init__(self, chunks: int, size: int) -> None:
        self.left = chunks
        self.size = size
        self.pulled = 0

    async def receive(self) -> Message:
        if self.left == 0:
            await trio.sleep_forever()
        self.left -= 1
        self.pulled += 1
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.left > 0}


async def run(app: Any, scope: Scope, body: Body) -> tuple[list[Message], list[tuple[int, str]]]:
    sent: list[Message] = []
    refused: list[tuple[int, str]] = []

    async def send(message: Message) -> None:
        sent.append(message)

    guard = BodyGuard(app, seconds=lambda: 5.0, refused=lambda s, c: refused.append((s, c)))
    await guard(scope, body.receive, send)
    return sent, refused


async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    scope[BODY_LIMIT] = 1000
    await Request(scope, receive).body()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_a_chunked_body_is_cut_off_at_the_limit_by_the_bytes_read() -> None:
    body = Body(chunks=1000, size=300)
    sent, refused = await run(reading_app, http_scope([(b"transfer-encoding", b"chunked")]), body)
    assert refused == [(413, "body_too_large")]
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert body.pulled == 4  # 1,200 bytes: the first chunk over the limit, nothing after it


async def test_a_body_within_the_limit_reaches_the_app() -> None:
    sent, refused = await run(reading_app, http_scope([(b"content-length", b"900")]), Body(3, 300))
    assert refused == []
    assert sent[0]["status"] == 200


async def test_length_and_chunked_together_are_refused_before_the_app_runs() -> None:
    ran = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ran.append(scope)

    headers = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    body = Body(5, 100)
    sent, refused = await run(app, http_scope(headers), body)
    assert ran == [] and body.pulled == 0
    assert refused == [(400, "ambiguous_length")]
    assert (b"connection", b"close") in sent[0]["headers"]


async def seen_client(scope: Scope, trusted: list[str]) -> str:
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"][0])

    middleware = ClientAddress(
        app, trusted=lambda: parse_networks(trusted), header=lambda: "X-Real"
    )
    await middleware(scope, Body(0, 0).receive, Body(0, 0).receive)  # type: ignore[arg-type]
    return seen[0]


async def test_only_a_trusted_proxy_names_the_client() -> None:
    forwarded = [(b"x-real", b"203.0.113.7, 10.0.0.2")]
    assert await seen_client(http_scope(forwarded, "10.0.0.1"), ["10.0.0.0/8"]) == "203.0.113.7"
    assert await seen_client(http_scope(forwarded, "198.51.100.1"), ["10.0.0.0/8"]) == (
        "198.51.100.1"
    )
    assert await seen_client(http_scope(forwarded, "10.0.0.1"), []) == "10.0.0.1"
    garbage = [(b"x-real", b"not-an-address")]
    assert await seen_client(http_scope(garbage, "10.0.0.1"), ["10.0.0.0/8"]) == "10.0.0.1"


async def test_a_forwarded_address_with_a_port_or_ipv4_mapped_is_the_clients_own() -> None:
    """Some proxies add the client's port, or write IPv4 clients IPv4-mapped: each is still
    that client (not the proxy), and IPv4-mapped ones share no limits with other clients."""
    for written, client in [
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::7]:51234", "2001:db8::7"),
        ("::ffff:203.0.113.7", "::ffff:203.0.113.7"),
    ]:
        forwarded = [(b"x-real", written.encode())]
        assert await seen_client(http_scope(forwarded, "10.0.0.1"), ["10.0.0.0/8"]) == client
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7" != address_key("::ffff:203.0.113.8")
    assert address_key("2001:db8::7") == "2001:db8::/64"
    # A proxy that connects IPv4-mapped is still the trusted proxy, listed either way.
    assert in_networks("::ffff:10.0.0.1", parse_networks(["10.0.0.0/8"]))
    assert in_networks("::ffff:10.0.0.1", parse_networks(["::ffff:10.0.0.1"]))
