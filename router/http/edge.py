"""The public edge: the HTTP listener, with every connection contained, bounded and counted.

Hypercorn speaks HTTP/1.1 and WebSocket for each connection, but its own `serve()` lets one
connection's protocol error end the whole server (hypercorn issue #225: a WebSocket upgrade
followed by a stray byte raises h11's LocalProtocolError out of the listener), sends to a
peer without any time limit inside a shielded scope, and leaves a refused WebSocket handshake
open after its `Connection: close` answer. Hypercorn is the only maintained ASGI server for
trio, so instead of replacing it this module owns what sits around each of its connections:
the accept loop (connection limits, one failure contained per connection, logged once and
counted), the stream it writes to (a send that the peer does not read within `send_timeout`
breaks that connection only), closing once a response says the connection must close, and a
drain that ends every connection within `drain_seconds` of SIGTERM.

Two more of Hypercorn's WebSocket habits are turned off here. It accepts permessage-deflate
whenever a client offers it, and wsproto inflates a compressed frame with no bound on the
output: one read of 64 KiB became 190 MB before the message-size check ran. And once a message
is over the size limit it answers with a close (1009) but keeps the connection and keeps adding
what comes after to the same buffer, so a client that goes on sending grows the daemon's memory
without end.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import h11
import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config as HypercornConfig
from hypercorn.events import Event, RawData
from hypercorn.protocol import ws_stream
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from starlette.types import ASGIApp, Receive, Scope, Send

from channels.http import address_key
from router.ops import logs, metrics

log = logging.getLogger(__name__)
# The unit of progress a slow reader must make within send_timeout: 16 KiB, a few TCP
# segments, so 10 s allow a reader of 1.6 KB/s (GPRS manages more).
SEND_SLICE = 16 * 1024
# A contained connection error of the same kind is logged at most this often (the metric
# counts each): a flood of hostile connections must not flood the journal too.
ERROR_LOG_INTERVAL = 10.0
# TCP keepalive on every accepted connection: probes after a minute of silence, then every 10 s,
# six unanswered end it. A citizen's phone that drops off the network leaves a chat socket
# half-open, and an idle chat socket sends nothing to find out: without probes its slot (and
# its share of the per-address cap) is held for good. Data sent and never acknowledged (a
# notice pushed to the phone that left) ends it after TCP_USER_TIMEOUT_MS, where the kernel's
# retransmissions alone would take some fifteen minutes.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES = 60, 10, 6
TCP_USER_TIMEOUT_MS = 120_000
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EdgeLimits:
    """How much of the daemon one connection, one address and everyone together may hold."""

    max_connections: int
    max_connections_per_ip: int
    # A peer that reads nothing of a pending write for this long is cut off.
    send_timeout: float
    drain_seconds: float
    # Connections from these addresses carry many clients (a reverse proxy): no per-IP cap.
    trusted_proxies: tuple[IPNetwork, ...] = ()


def parse_networks(
    entries: Iterable[str],
) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR networks, e.g. ["127.0.0.1", "10.0.0.0/8"]."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def in_networks(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether `address` (an IP in text; an IPv4-mapped one as its IPv4) belongs to one of
    `networks`."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    forms: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        forms.append(ip.ipv4_mapped)
    return any(form in network for form in forms for network in networks)


class GuardedStream(trio.abc.HalfCloseableStream):
    """A socket stream whose every send ends within `send_timeout`, or breaks the connection.

    Hypercorn shields its sends from cancellation, so a peer that stops reading would hold the
    sending task (and whatever it holds: an outbox slot, a lock) for as long as the kernel's
    buffers stay full. The deadline here is inside the shield and applies anyway.
    """

    def __init__(self, inner: trio.SocketStream, send_timeout: float) -> None:
        self.inner = inner
        self.send_timeout = send_timeout

    @property
    def socket(self) -> trio.socket.SocketType:
        """The socket, for Hypercorn's peer and local addresses."""
        return self.inner.socket

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        # The deadline is per slice: a slow reader that keeps reading (a file downloaded over a
        # poor mobile link) goes on; one that reads nothing for send_timeout is cut off.
        for start in range(0, len(view), SEND_SLICE):
            with trio.move_on_after(self.send_timeout):
                await self.inner.send_all(view[start : start + SEND_SLICE])
                continue
            # A half-written frame cannot be resumed: the connection is over.
            metrics.http_connections_cut.labels("send_timeout").inc()
            self.abort()
            raise trio.BrokenResourceError(f"the peer read nothing for {self.send_timeout:g}s")

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def abort(self) -> None:
        """Close the socket now; tasks blocked on it wake with ClosedResourceError."""
        self.inner.socket.close()


class _UncompressedHandshake(ws_stream.Handshake):
    """A WebSocket handshake that takes no extension a client offers: Hypercorn has no setting
    for it, and permessage-deflate inflates without a bound (the module's docstring)."""

    def __init__(self, headers: list[tuple[bytes, bytes]], http_version: str) -> None:
        offered = b"sec-websocket-extensions"
        kept = [(name, value) for name, value in headers if name.lower() != offered]
        super().__init__(kept, http_version)


# Hypercorn's WSStream makes its handshake by this module-level name; the widget's frames are a
# few KB of JSON and gain nothing from compression.
ws_stream.Handshake = _UncompressedHandshake  # type: ignore[misc]


class _Connection(TCPServer):
    """Hypercorn's connection, HTTP/1.1 only, closed as soon as an answer says it must close,
    or as soon as its close of a WebSocket message over the size limit is written."""

    async def protocol_send(self, event: Event) -> None:
        if isinstance(getattr(self.protocol, "protocol", None), H2Protocol):
            # A client's HTTP/2 (prior knowledge, or an h2c upgrade) is not served: its streams
            # would share one connection past the per-address cap, and its flow control would
            # stall a response without ever blocking a send, so send_timeout would not apply.
            # Browsers speak HTTP/2 only over TLS, which a reverse proxy in front terminates.
            metrics.http_connections_refused.labels("http2").inc()
            self.stream.abort()
            return
        await super().protocol_send(event)
        if isinstance(event, RawData) and _must_close(self.protocol):
            # Hypercorn answers a refused WebSocket handshake with `Connection: close` and then
            # keeps reading; the answer has been written, so the connection ends here (RFC 9112
            # 9.6: after sending close the server must not process further requests).
            self.stream.abort()
        elif isinstance(event, RawData) and _message_too_big(self.protocol):
            # Its close (1009) is written; Hypercorn would keep the connection and keep adding
            # what comes after the oversized message to its buffer (the module's docstring).
            metrics.http_connections_cut.labels("message_too_big").inc()
            self.stream.abort()


def _keep_alive(sock: trio.socket.SocketType) -> None:
    """TCP keepalive probes and a bound on unacknowledged data on `sock` (KEEPALIVE_IDLE),
    each where the kernel has it: only safeguards, a socket without them still serves."""
    options = [(socket.SOL_SOCKET, "SO_KEEPALIVE", 1)] + [
        (socket.IPPROTO_TCP, name, value)
        for name, value in (
            ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
            ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
            ("TCP_KEEPCNT", KEEPALIVE_PROBES),
            ("TCP_USER_TIMEOUT", TCP_USER_TIMEOUT_MS),
        )
    ]
    for level, name, value in options:
        if hasattr(socket, name):
            with contextlib.suppress(OSError):
                sock.setsockopt(level, getattr(socket, name), value)


def _message_too_big(protocol: Any) -> bool:
    """True when the connection's WebSocket has taken in more of a message than its limit."""
    buffer = getattr(getattr(getattr(protocol, "protocol", None), "stream", None), "buffer", None)
    return isinstance(buffer, ws_stream.WebsocketBuffer) and buffer.length > buffer.max_length


def _must_close(protocol: Any) -> bool:
    """True when the HTTP/1.1 side of the connection has said its last word."""
    connection = getattr(getattr(protocol, "protocol", None), "connection", None)
    connection = getattr(connection, "h11_connection", connection)
    return isinstance(connection, h11.Connection) and connection.our_state in (
        h11.MUST_CLOSE,
        h11.CLOSED,
    )


class Edge:
    """Accepts connections on the listen address and serves the ASGI app on each."""

    def __init__(self, app: ASGIApp, listen: str, limits: EdgeLimits, max_frame: int) -> None:
        self.app = ASGIWrapper(app)  # type: ignore[arg-type]
        self.listen = listen
        self.limits = limits
        self.config = HypercornConfig()
        self.max_frame = max_frame
        self.config.websocket_max_message_size = max_frame
        self.config.accesslog = None
        self.config.errorlog = logging.getLogger("hypercorn.error")
        self.context = WorkerContext(None)
        self.per_ip: Counter[str] = Counter()
        self.streams: set[GuardedStream] = set()
        self._logged: dict[str, float] = {}
        self._idle = trio.Event()
        self._idle.set()

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self.streams)

    async def serve(
        self,
        stop: Callable[[], Awaitable[object]],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until `stop` returns, then drain: at most `drain_seconds` more."""
        host, _, port = self.listen.rpartition(":")
        listeners = await trio.open_tcp_listeners(int(port), host=host.strip("[]"))
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                accepting.start_soon(
                    partial(
                        trio.serve_listeners, self._handle, listeners, handler_nursery=connections
                    )
                )
                task_status.started()
                await stop()
                accepting.cancel_scope.cancel()  # the listening sockets close: no new clients
            # Idle keep-alive connections close at once; requests in flight get the drain time.
            await self.context.terminated.set()
            with trio.move_on_after(self.limits.drain_seconds):
                await self._idle.wait()
            for stream in list(self.streams):
                stream.abort()
            connections.cancel_scope.cancel()

    async def _handle(self, raw: trio.SocketStream) -> None:
        try:
            peer = str(raw.socket.getpeername()[0])
        except OSError:  # gone before we looked
            await raw.aclose()
            return
        ip = address_key(peer)
        refusal = self._refusal(peer, ip)
        if refusal is not None:
            await self._refuse(raw, refusal)
            return
        _keep_alive(raw.socket)
        stream = GuardedStream(raw, self.limits.send_timeout)
        self.per_ip[ip] += 1
        self.streams.add(stream)
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        metrics.http_connections.set(len(self.streams))
        try:
            # Hypercorn types its stream as SSLStream but, unencrypted, uses only what
            # GuardedStream has (it tells the two apart by do_handshake being absent).
            guarded: Any = stream
            await _Connection(self.app, self.config, self.context, ConnectionState({}), guarded)
        except Exception as exc:  # one connection's failure is that connection's only
            self._contained(ip, exc)
        except BaseExceptionGroup as group:
            errors, rest = group.split(Exception)
            if errors is not None:
                self._contained(ip, errors)
            if rest is not None:
                raise rest from None
        finally:
            stream.abort()
            self.streams.discard(stream)
            self.per_ip[ip] -= 1
            if not self.per_ip[ip]:
                del self.per_ip[ip]
            metrics.http_connections.set(len(self.streams))
            if not self.streams:
                self._idle.set()

    def _refusal(self, peer: str, ip: str) -> str | None:
        """Why a new connection from `peer` (counted under `ip`) is refused, or None."""
        if len(self.streams) >= self.limits.max_connections:
            return "max_connections"
        if self.per_ip[ip] >= self.limits.max_connections_per_ip and not in_networks(
            peer, self.limits.trusted_proxies
        ):
            return "max_connections_per_ip"
        return None

    async def _refuse(self, raw: trio.SocketStream, reason: str) -> None:
        """Answer 429 or 503 without reading the request, and close."""
        metrics.http_connections_refused.labels(reason).inc()
        status = (
            "429 Too Many Requests"
            if reason == "max_connections_per_ip"
            else ("503 Service Unavailable")
        )
        body = b'{"error":"rate_limited","message":"too many connections, retry later"}'
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with trio.move_on_after(self.limits.send_timeout):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await raw.send_all(head.encode() + body)
        await raw.aclose()

    def _contained(self, ip: str, error: BaseException) -> None:
        error = logs.innermost(error)
        kind = type(error).__name__
        metrics.http_connection_errors.labels(kind).inc()
        now = time.monotonic()
        if now - self._logged.get(kind, -math.inf) < ERROR_LOG_INTERVAL:
            return
        self._logged[kind] = now
        log.warning(
            "a connection from %s ended on a server error, the listener goes on (logged at "
            "most every %gs per kind; omnirouter_http_connection_errors_total counts each): "
            "%s: %s",
            ip,
            ERROR_LOG_INTERVAL,
            kind,
            error,
        )


class ClientAddress:
    """ASGI middleware: the client's address is the peer's, or a trusted proxy's header.

    Only a peer in `trusted_proxies` may name the client, and only in `header`; the address
    taken is the last one in the list that is not itself a trusted proxy (the one the nearest
    untrusted hop connected from), as nginx's realip module does with `real_ip_recursive on`.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted: Callable[[], tuple[IPNetwork, ...]],
        header: Callable[[], str],
    ) -> None:
        self.app = app
        self.trusted = trusted
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            trusted = self.trusted()
            peer, port = scope["client"]
            if trusted and in_networks(peer, trusted):
                name = self.header().lower().encode("latin-1")
                hops = [
                    hop.strip()
                    for key, value in scope["headers"]
                    if key == name
                    for hop in value.decode("latin-1").split(",")
                ]
                for hop in map(_without_port, reversed(hops)):
                    if not in_networks(hop, trusted):
                        if _is_ip(hop):
                            scope["client"] = (hop, port)
                        break
        await self.app(scope, receive, send)


def _without_port(hop: str) -> str:
    """A forwarded address without the port some proxies add ("203.0.113.7:51234",
    "[2001:db8::7]:51234"); anything else as it is."""
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    host, colon, port = hop.rpartition(":")
    return host if colon and "." in host and port.isascii() and port.isdigit() else hop


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
