"""Hostile clients against the public edge: raw bytes over real sockets to the daemon process.

Each test ends by checking that the daemon is the same process it was (nothing stopped it)
and still answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from .daemon import DaemonProcess, eventually, metric, open_chat, running_daemon, wait_notice
from .hostile import (
    ANSWER_DEADLINE,
    STUCK_READERS,
    WS_HEAD,
    StuckReader,
    flood_replies,
    status_of,
    stuck_session,
)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon for the tests that leave it as they found it."""
    with running_daemon(tmp_path_factory.mktemp("edge")) as running:
        yield running


async def exchange(daemon: DaemonProcess, data: bytes, *, read_to_close: bool = True) -> bytes:
    """Send raw bytes and read what comes back until the server closes (or, if not
    `read_to_close`, until one response head has arrived)."""
    stream = await trio.open_tcp_stream("127.0.0.1", daemon.port)
    async with stream:
        await stream.send_all(data)
        answer = b""
        with trio.fail_after(ANSWER_DEADLINE):
            while chunk := await stream.receive_some(65536):
                answer += chunk
                if not read_to_close and b"\r\n\r\n" in answer:
                    break
    return answer


def still_the_same(daemon: DaemonProcess, pid: int) -> None:
    """The daemon process that started the test is alive and answers."""
    assert daemon.process is not None and daemon.process.pid == pid
    assert daemon.process.poll() is None, daemon.log.read_text()[-3000:]
    assert httpx.get(daemon.base + "/healthz", timeout=ANSWER_DEADLINE).status_code == 200


def open_fds(daemon: DaemonProcess) -> int:
    assert daemon.process is not None
    return len(os.listdir(f"/proc/{daemon.process.pid}/fd"))


@pytest.mark.parametrize(
    "path", ["/chat/ws", "/healthz", "/chat/", "/api/v1/envelopes", "/no/such/path"]
)
async def test_an_upgrade_with_trailing_bytes_ends_only_its_own_connection(
    edge: DaemonProcess, path: str
) -> None:
    """Hypercorn #225: a WebSocket upgrade followed by a stray byte used to stop the process."""
    assert edge.process is not None
    pid = edge.process.pid
    request = WS_HEAD.format(path=path, version=13).encode() + b"X"
    answer = await exchange(edge, request)
    assert answer == b"" or status_of(answer) in (101, 400, 403, 404), answer
    still_the_same(edge, pid)


async def test_a_refused_handshake_closes_its_connection(edge: DaemonProcess) -> None:
    """1,000 handshakes with a bad version: each answered 400 and closed; no descriptor kept."""
    assert edge.process is not None
    pid = edge.process.pid
    baseline = open_fds(edge)
    request = WS_HEAD.format(path="/chat/ws", version=7).encode()
    answers: list[bytes] = []

    async def one() -> None:
        answers.append(await exchange(edge, request))  # returns only once the server closed

    for _ in range(10):
        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(one)
    assert {status_of(a) for a in answers} == {400}
    assert open_fds(edge) <= baseline + 2
    still_the_same(edge, pid)


async def test_length_and_chunked_together_are_refused_and_closed(edge: DaemonProcess) -> None:
    """RFC 9112 6.1: the chunked body past a small Content-Length is never read."""
    assert edge.process is not None
    pid = edge.process.pid
    head = (
        b"POST /api/v1/forms/feedback HTTP/1.1\r\nHost: omnirouter\r\n"
        b"Content-Type: application/json\r\nContent-Length: 10\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    stream = await trio.open_tcp_stream("127.0.0.1", edge.port)
    answer = b""
    async with stream:
        await stream.send_all(head)
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"a" * (1 << 20))
        with trio.fail_after(ANSWER_DEADLINE):
            # Keep sending a megabyte at a time: the server must answer and close long before
            # 64 MB, without reading them.
            with trio.move_on_after(ANSWER_DEADLINE / 2):
                for _ in range(64):
                    try:
                        await stream.send_all(chunk)
                    except trio.BrokenResourceError:
                        break
            while data := await stream.receive_some(65536):
                answer += data
    assert status_of(answer) == 400
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "ambiguous_length"
    still_the_same(edge, pid)


async def test_an_unreadable_upload_is_answered_and_closed(edge: DaemonProcess) -> None:
    """A multipart body that cannot be parsed gets 400 and the connection ends."""
    async with open_chat(edge) as chat:
        body = b"this is not multipart at all"
        request = (
            b"POST /chat/upload HTTP/1.1\r\nHost: omnirouter\r\n"
            b"X-Chat-Session: " + (chat.session or "").encode() + b"\r\n"
            b"Content-Type: multipart/form-data\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        answer = await exchange(edge, request)  # returns only once the server closed
    assert status_of(answer) == 400
    assert b"connection: close" in answer.lower()


async def test_http2_is_refused_and_closed(edge: DaemonProcess) -> None:
    """HTTP/2 by prior knowledge (RFC 9113 3.3) gets no SETTINGS frame, only a closed socket."""
    assert edge.process is not None
    pid = edge.process.pid
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
    assert await exchange(edge, preface) == b""
    upgrade = (
        b"GET /healthz HTTP/1.1\r\nHost: omnirouter\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
    )
    answer = await exchange(edge, upgrade)
    assert b"\x00\x00" not in answer.partition(b"\r\n\r\n")[2]  # no HTTP/2 frame follows
    assert metric(edge, "omnirouter_http_connections_refused_total", reason="http2") >= 2
    still_the_same(edge, pid)


async def test_a_socket_that_never_says_hello_is_closed(edge: DaemonProcess) -> None:
    reader = await StuckReader.open(edge)
    async with reader.stream:
        with trio.fail_after(ANSWER_DEADLINE + 10):  # HELLO_TIMEOUT is 10 s
            while chunk := await reader.stream.receive_some(4096):
                reader.buffer += chunk
    assert reader.buffer[:1] == b"\x88"  # a close frame, then the end of the connection
    assert int.from_bytes(reader.buffer[2:4], "big") == 1008


async def ws_open(
    daemon: DaemonProcess, extra_headers: str = ""
) -> tuple[trio.SocketStream, bytes]:
    """A raw chat WebSocket handshake (with `extra_headers`): the stream and the answer's head."""
    stream = await trio.open_tcp_stream("127.0.0.1", daemon.port)
    head = WS_HEAD.format(path="/chat/ws", version=13)[:-2] + extra_headers + "\r\n"
    await stream.send_all(head.encode())
    answer = b""
    with trio.fail_after(ANSWER_DEADLINE):
        while b"\r\n\r\n" not in answer:
            answer += await stream.receive_some(4096)
    return stream, answer.partition(b"\r\n\r\n")[0]


async def test_a_compression_offer_is_not_taken(edge: DaemonProcess) -> None:
    """permessage-deflate would let a frame of 64 KiB inflate into hundreds of MB before any
    size check: the handshake succeeds without it."""
    offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    stream, head = await ws_open(edge, offer)
    async with stream:
        assert status_of(head) == 101, head
        assert b"sec-websocket-extensions" not in head.lower()


async def test_a_chat_message_over_the_limit_ends_its_connection(edge: DaemonProcess) -> None:
    """A text frame announcing 1 MiB (max_frame_bytes is 64 KiB), streamed on: the daemon ends
    the connection instead of buffering the rest, and counts it."""
    assert edge.process is not None
    pid = edge.process.pid
    cut = "omnirouter_http_connections_cut_total"
    before = metric(edge, cut, reason="message_too_big")
    stream, head = await ws_open(edge)
    assert status_of(head) == 101, head
    mask = os.urandom(4)
    size = 1 << 20
    chunk = bytes(byte ^ mask[i % 4] for i, byte in enumerate(b"a" * 65536))
    ended = False
    async with stream:
        with trio.fail_after(ANSWER_DEADLINE):
            try:
                await stream.send_all(bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big") + mask)
                for _ in range(size // len(chunk)):
                    await stream.send_all(chunk)
                while await stream.receive_some(65536):
                    pass  # the close (1009), if it comes before the connection ends
                ended = True
            except trio.BrokenResourceError:  # reset, the rest of the frame unread
                ended = True
    assert ended
    assert metric(edge, cut, reason="message_too_big") == before + 1
    still_the_same(edge, pid)


async def test_chat_sockets_per_client_address_are_capped_behind_a_proxy(tmp_path: Path) -> None:
    """Behind a trusted proxy the listener sees one address for everyone: the chat counts the
    sockets of each address the proxy names, and one client's many leave others served."""
    daemon = DaemonProcess(tmp_path)
    daemon.edit_router("trusted_proxies = []", 'trusted_proxies = ["127.0.0.1"]')
    webchat = daemon.config / "channels" / "webchat.toml"
    webchat.write_text(
        webchat.read_text().replace(
            "max_sockets_per_address = 100000", "max_sockets_per_address = 3"
        )
    )
    daemon.start()
    held: list[trio.SocketStream] = []
    statuses: dict[str, list[int]] = {"203.0.113.7": [], "203.0.113.8": []}

    async def handshake(client: str) -> None:
        stream, head = await ws_open(daemon, f"X-Forwarded-For: {client}\r\n")
        held.append(stream)
        statuses[client].append(status_of(head))

    try:
        async with trio.open_nursery() as nursery:  # all at once: none waits for another
            for _ in range(6):
                nursery.start_soon(handshake, "203.0.113.7")
        await handshake("203.0.113.8")
        assert sorted(statuses["203.0.113.7"]) == [101] * 3 + [403] * 3
        assert statuses["203.0.113.8"] == [101]
    finally:
        for stream in held:
            await stream.aclose()
        daemon.stop()


def keepalive_timers(port: int) -> list[tuple[int, float]]:
    """The kernel's timer of each established connection the daemon accepted on `port`
    (/proc/net/tcp: 2 is a keepalive or delayed-ACK timer), with the seconds until it fires."""
    timers = []
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local, state, timer = fields[1], fields[3], fields[5]
        if state == "01" and int(local.split(":")[1], 16) == port:
            kind, when = timer.split(":")
            timers.append((int(kind, 16), int(when, 16) / os.sysconf("SC_CLK_TCK")))
    return timers


async def test_an_idle_chat_connection_is_probed_by_tcp_keepalive(edge: DaemonProcess) -> None:
    """A phone that drops off the network leaves its chat socket half-open: the kernel probes
    an idle connection, so the daemon finds out and frees it."""

    async def probed() -> bool | None:
        # Not a delayed ACK's fraction of a second: the keepalive's minute is pending.
        return any(kind == 2 and when > 5 for kind, when in keepalive_timers(edge.port)) or None

    async with open_chat(edge):
        await eventually(probed, "a keepalive timer on the chat connection")


# -- clients that stop reading -------------------------------------------------------------------


async def admin_connections(daemon: DaemonProcess) -> int:
    async with daemon.admin() as admin:
        status = (await admin.get("/api/v1/admin/status")).json()
    return int(status["channels"]["webchat"]["accounts"]["portal"]["connections"])


@pytest.fixture
def slow_edge(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A daemon that waits a minute before it cuts off a client that does not read, and
    drains for two seconds on stop."""
    edits = {
        "drain_seconds = 10": "drain_seconds = 2",
        'send_timeout = "10s"': 'send_timeout = "60s"',
    }
    with running_daemon(tmp_path, router_edits=edits) as running:
        yield running


async def test_clients_that_stop_reading_do_not_hold_up_anyone_else(
    slow_edge: DaemonProcess,
) -> None:
    """With 20 stuck readers swamped by replies, another citizen's confirmation comes at once
    (long before any stuck reader could be cut off), a stuck reader that leaves stops counting,
    and a new connection of the stuck session gets its notices."""
    assert slow_edge.process is not None
    pid = slow_edge.process.pid
    session, ticket, readers = await stuck_session(slow_edge)
    await flood_replies(slow_edge, ticket, 40)
    async with open_chat(slow_edge) as quiet:
        started = trio.current_time()
        await quiet.write("Справка о доходах не приходит")
        confirmation = await wait_notice(quiet, "confirmation")
        latency = trio.current_time() - started
    assert confirmation["kind"] == "confirmation"
    # Every stuck reader is still connected and still stuck: nothing was freed by a timeout.
    assert metric(slow_edge, "omnirouter_http_connections_cut_total") == 0
    print(f"quiet session's confirmation with {STUCK_READERS} stuck readers: {latency:.3f}s")

    before = await admin_connections(slow_edge)
    for reader in readers[:5]:
        await reader.stream.aclose()
    for _ in range(200):  # bounded wait for the server to see them go
        if await admin_connections(slow_edge) <= before - 5:
            break
        await trio.sleep(0.05)
    assert await admin_connections(slow_edge) <= before - 5

    async with open_chat(slow_edge, session) as again:
        await again.send({"type": "resume", "after_seq": 0})
        while len([n for n in again.notices if n["kind"] == "reply"]) < 40:
            await again.expect("notice")
    still_the_same(slow_edge, pid)
    for reader in readers[5:]:
        await reader.stream.aclose()


async def test_sigterm_with_stuck_readers_stops_within_the_drain_time(
    slow_edge: DaemonProcess,
) -> None:
    """SIGTERM ends every connection within drain_seconds, stuck or not, and the process exits."""
    _, ticket, readers = await stuck_session(slow_edge)
    await flood_replies(slow_edge, ticket, 40)
    started = trio.current_time()
    assert slow_edge.stop(timeout=2 + 5) == 0  # drain_seconds + 5 s
    print(f"stopped {trio.current_time() - started:.2f}s after SIGTERM")
    for reader in readers:
        await reader.stream.aclose()


# -- lenient input that loses or hides things -----------------------------------------------


async def form(daemon: DaemonProcess, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=daemon.base, timeout=ANSWER_DEADLINE) as portal:
        return await portal.post("/api/v1/forms/feedback", **kwargs)  # type: ignore[arg-type]


async def test_a_form_of_invisible_text_is_refused_like_an_empty_one(edge: DaemonProcess) -> None:
    answer = await form(edge, json={"email": "a@example.ru", "text": "\u200b\u200c\u2060\ufeff"})
    assert answer.status_code == 422
    assert "text" in answer.json()["fields"]


@pytest.mark.parametrize("field", ["name", "email", "phone"])
async def test_bidi_and_zero_width_controls_in_names_and_addresses_are_refused(
    edge: DaemonProcess, field: str
) -> None:
    fields = {"name": "Иван", "email": "ivan@example.ru", "phone": "+7 916 123-45-67"}
    fields[field] = fields[field][:3] + "\u202e" + fields[field][3:]
    answer = await form(edge, json={**fields, "text": "Справка"})
    assert answer.status_code == 422
    assert field in answer.json()["fields"]


async def test_phones_with_narrow_and_no_break_spaces_are_still_taken(
    edge: DaemonProcess,
) -> None:
    """DOMAIN.md: citizens paste 8\u2011800\u202f555 with non-breaking hyphens and spaces."""
    phone = "8\u2011916\u202f123\u00a045\u201167"
    answer = await form(edge, json={"phone": phone, "text": "Проверка телефона"})
    assert answer.status_code == 201, answer.text


async def test_a_multipart_form_cut_short_is_refused_not_filed_without_its_file(
    edge: DaemonProcess,
) -> None:
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="text"\r\n\r\nNeed a certificate\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.ru\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="scan.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nthe scan, never finished"
    )
    answer = await form(
        edge, content=body, headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert answer.status_code == 400
    assert "closing boundary" in answer.json()["message"]


async def test_options_on_the_upload_says_it_takes_post(edge: DaemonProcess) -> None:
    """Asked plainly, it says what it takes; a page of another site is refused its preflight."""
    async with httpx.AsyncClient(base_url=edge.base) as client:
        answer = await client.options("/chat/upload")
        foreign = await client.options(
            "/chat/upload",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert answer.status_code == 204
    assert answer.headers["allow"] == "POST, OPTIONS"
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers


async def test_the_masked_ticket_view_hides_the_citizens_name_everywhere(
    edge: DaemonProcess,
) -> None:
    """The name from the form, and the operator's reply that addresses the citizen by it."""
    fields = {"name": "Петров Иван", "email": "petrov@example.ru", "text": "Нужна выписка"}
    ticket = (await form(edge, json=fields)).json()["ticket"]
    async with edge.backend() as backend:
        reply = {"text": "Уважаемый Иван Петров, выписка готова. Петрову И. отправлено."}
        answer = await backend.post(f"/api/v1/tickets/{ticket}/replies", json=reply)
        assert answer.status_code == 202, answer.text
    async with edge.admin() as admin:
        masked = (await admin.get(f"/api/v1/admin/tickets/{ticket}")).text
        unmasked = (await admin.get(f"/api/v1/admin/tickets/{ticket}?unmask=1")).text
    for word in ("Петров", "Иван"):
        assert word not in masked
        assert word in unmasked
    assert "выписка готова" in masked


# -- limits per client ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A daemon with the shipped per-client limits."""
    with running_daemon(tmp_path_factory.mktemp("limited"), shipped_rate_limits=True) as running:
        yield running


async def test_one_address_gets_its_share_of_connections_and_others_stay_served(
    limited: DaemonProcess,
) -> None:
    """150 idle connections from one address: 100 are taken, the rest answered 429 and closed;
    another address is served meanwhile."""
    assert limited.process is not None
    pid = limited.process.pid
    held: list[trio.SocketStream] = []
    refused = 0
    for _ in range(150):
        stream = await trio.open_tcp_stream("127.0.0.1", limited.port)
        held.append(stream)
    for stream in held[100:]:
        answer = b""
        with trio.fail_after(ANSWER_DEADLINE):
            while chunk := await stream.receive_some(4096):
                answer += chunk
        refused += status_of(answer) == 429
    assert refused == 50
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport, timeout=ANSWER_DEADLINE) as client:
        other = await client.get(limited.base + "/healthz")
    assert other.status_code == 200
    for stream in held:
        await stream.aclose()
    async with httpx.AsyncClient(timeout=ANSWER_DEADLINE) as client:
        for _ in range(200):  # bounded wait for the server to see them go
            if (await client.get(limited.base + "/healthz")).status_code == 200:
                break
            await trio.sleep(0.05)
    assert metric(limited, "omnirouter_http_connections_refused_total") >= 50
    still_the_same(limited, pid)


async def test_messages_per_session_are_limited_and_taken_after_the_wait(
    limited: DaemonProcess,
) -> None:
    """Past the burst a session's messages are refused with retry_after; after waiting, the
    same client_id is taken (nothing was stored for the refusal)."""
    async with open_chat(limited) as chat:
        answers = [await chat.write(f"Сообщение номер {i}", client_id=f"m{i}") for i in range(15)]
        refused = [a for a in answers if a["type"] == "error"]
        assert refused and all(a["code"] == "rate_limited" for a in refused)
        await trio.sleep(refused[0]["retry_after"])
        again = await chat.write("Сообщение ещё раз", client_id=refused[0]["client_id"])
        assert again["type"] == "accepted"
    assert metric(limited, "omnirouter_bad_input_total") >= len(refused)


async def test_uploads_per_session_are_limited(limited: DaemonProcess) -> None:
    async with open_chat(limited) as chat, httpx.AsyncClient(base_url=limited.base) as client:
        statuses = []
        for _ in range(15):
            response = await client.post(
                "/chat/upload",
                headers={"X-Chat-Session": chat.session or ""},
                files={"file": ("note.txt", b"hello", "text/plain")},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["error"] == "rate_limited"
    assert 429 in statuses and statuses[0] != 429


async def test_an_upload_is_refused_for_now_while_the_disk_is_short_of_room(
    tmp_path: Path,
) -> None:
    """Under [attachments] min_free_space the chat's upload is answered 503 with Retry-After
    (the citizen sends it later), not stored, and counted."""
    edits = {'min_free_space = "1GB"': 'min_free_space = "999999999GB"'}
    with running_daemon(tmp_path, router_edits=edits) as daemon:
        async with open_chat(daemon) as chat, httpx.AsyncClient(base_url=daemon.base) as client:
            response = await client.post(
                "/chat/upload",
                headers={"X-Chat-Session": chat.session or ""},
                files={"file": ("note.txt", b"hello", "text/plain")},
            )
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "storage_low"
        assert int(response.headers["retry-after"]) > 0
        refused = "omnirouter_attachments_refused_total"
        assert metric(daemon, refused, reason="storage_low") == 1


async def test_uploads_per_address_are_limited_across_its_sessions(tmp_path: Path) -> None:
    """Sessions are cheap: a script opening one after another to store files meets the
    address's budget (address_upload_burst, 30) before any session's own (10)."""
    refused_at = None
    with running_daemon(tmp_path, shipped_rate_limits=True) as daemon:
        async with httpx.AsyncClient(base_url=daemon.base) as client:
            for _ in range(5):
                async with open_chat(daemon) as chat:
                    for upload in range(9):  # under the session's own burst
                        response = await client.post(
                            "/chat/upload",
                            headers={"X-Chat-Session": chat.session or ""},
                            files={"file": ("note.txt", b"hello", "text/plain")},
                        )
                        if response.status_code == 429:
                            refused_at = upload
                            break
                        assert response.status_code == 201, response.text
                if refused_at is not None:
                    break
    assert refused_at is not None  # 45 tried, 30 allowed
    assert response.json()["error"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1


async def test_sessions_per_address_are_limited(limited: DaemonProcess) -> None:
    """A script opening sessions in a loop is told to wait; a new session opens once it has.

    Last of the module: it spends the address's sessions.
    """
    refusals = []
    async with open_chat(limited, hello=False) as chat:
        for _ in range(30):
            await chat.send({"type": "hello", "session": None, "lang": "ru"})
            frame = await chat.receive()
            if frame["type"] == "error":
                refusals.append(frame)
    assert refusals and {f["code"] for f in refusals} == {"rate_limited"}
    assert all(f["retry_after"] >= 1 for f in refusals)
    await trio.sleep(refusals[-1]["retry_after"])
    async with open_chat(limited) as chat:
        assert chat.session


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A daemon that cuts off a client reading nothing for a second."""
    edits = {'send_timeout = "10s"': 'send_timeout = "1s"'}
    with running_daemon(tmp_path, router_edits=edits) as running:
        yield running


async def test_a_client_that_reads_nothing_is_disconnected_and_counted(
    impatient: DaemonProcess,
) -> None:
    """Replies pile up for a session whose only socket stopped reading: the socket is closed
    (after send_timeout, or when its queue is full), counted, and the session still has
    every notice for its next connection."""
    assert impatient.process is not None
    pid = impatient.process.pid
    first = await StuckReader.open(impatient)
    welcome = await first.send({"type": "hello", "session": None, "lang": "ru"})
    accepted = await first.send({"type": "message", "client_id": "c", "text": "Нужна справка"})
    ticket = accepted["ticket"]
    assert isinstance(ticket, dict)
    await flood_replies(impatient, str(ticket["number"]), 150)
    for _ in range(400):  # bounded wait for the server to let it go
        if await admin_connections(impatient) == 0:
            break
        await trio.sleep(0.05)
    assert await admin_connections(impatient) == 0
    cut = metric(impatient, "omnirouter_http_connections_cut_total")
    behind = metric(impatient, "omnirouter_bad_input_total", reason="not_reading")
    assert cut + behind >= 1
    async with open_chat(impatient, str(welcome["session"])) as again:
        await again.send({"type": "resume", "after_seq": 0})
        while len([n for n in again.notices if n["kind"] == "reply"]) < 150:
            await again.expect("notice")
    await first.stream.aclose()
    still_the_same(impatient, pid)
