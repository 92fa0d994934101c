"""Session's answers to deliver_sm: those committed together go to the SMSC in one send, and
what it reads is acknowledged at once (an SMSC's Nagle holds the rest of a window back until
then)."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from channels.sms.events import BadPdu, BindKind, Inbound
from channels.sms.pdus import (
    Address,
    CommandId,
    Status,
    SubmitSm,
    encode,
    parse_header,
    submit_sm_body,
)
from channels.sms.session import Answer, Endpoint, Session

from .test_sms_session_queue import connected, session


class Commits:
    """An on_inbound whose commits end together, as one group's; how each answer was settled."""

    def __init__(self, expected: int) -> None:
        self.group = trio.Event()
        self.settled: dict[int, bool] = {}
        self.expected = expected
        self.all_settled = trio.Event()

    async def on_inbound(self, event: Inbound | BadPdu) -> Answer:
        await self.group.wait()

        async def settled(sent: bool) -> None:
            self.settled[event.seq] = sent
            if len(self.settled) == self.expected:
                self.all_settled.set()

        return Answer(Status.ESME_ROK, settled)


def deliver_sm(seq: int) -> bytes:
    """A deliver_sm of a short text (its body laid out as a submit_sm's, SMPP 3.4 4.6.1)."""
    sm = SubmitSm(Address("79161234567", 1, 1), Address("0911"), b"hello")
    return encode(CommandId.DELIVER_SM, seq, submit_sm_body(sm))


def answers(sent: bytes) -> list[int]:
    """The sequence numbers of the deliver_sm_resp in what one send carried."""
    found = []
    while sent:
        header = parse_header(sent)
        if header.command_id == CommandId.DELIVER_SM_RESP:
            found.append(header.sequence)
        sent = sent[header.length :]
    return sorted(found)


async def test_the_answers_of_one_commit_go_in_one_send(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = Commits(3)
    client = session(window=10, throughput=None)
    client.on_inbound = commits.on_inbound
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        sends: list[bytes] = []
        stream = client._stream
        assert stream is not None
        send_all = stream.send_all

        async def recorded(data: bytes | bytearray | memoryview) -> None:
            sends.append(bytes(data))
            await send_all(data)

        monkeypatch.setattr(stream, "send_all", recorded)
        smsc.push(b"".join(deliver_sm(seq) for seq in (5, 6, 7)))
        await trio.testing.wait_all_tasks_blocked()  # each of them waits for the commit
        commits.group.set()
        await commits.all_settled.wait()
        assert [answers(sent) for sent in sends if answers(sent)] == [[5, 6, 7]]
        assert commits.settled == {5: True, 6: True, 7: True}
        nursery.cancel_scope.cancel()


class TcpSmsc:
    """A session bound over loopback TCP, its setsockopt calls since, and the SMSC's end."""

    def __init__(self, client: Session, smsc: trio.SocketStream, options: list[Any]) -> None:
        self.client = client
        self.smsc = smsc
        self.options = options

    @property
    def quick_acks(self) -> int:
        """How many times the session asked TCP to acknowledge at once."""
        return self.options.count((socket.IPPROTO_TCP, getattr(socket, "TCP_QUICKACK", -1), 1))


@contextlib.asynccontextmanager
async def tcp_session(
    monkeypatch: pytest.MonkeyPatch, commits: Commits, *, refused: bool = False
) -> AsyncIterator[TcpSmsc]:
    """A session bound over loopback TCP, its deliver_sm committed by `commits`; `refused`: the
    kernel refuses every socket option from the bind on (one without TCP_QUICKACK)."""
    options: list[tuple[int, int, Any]] = []
    setsockopt = trio.SocketStream.setsockopt

    def recorded(stream: trio.SocketStream, level: int, option: int, value: Any) -> None:
        options.append((level, option, value))
        if refused and client.bound:
            raise OSError(errno.ENOPROTOOPT, "Protocol not available")
        setsockopt(stream, level, option, value)

    monkeypatch.setattr(trio.SocketStream, "setsockopt", recorded)
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    endpoint = Endpoint("127.0.0.1", port, False, BindKind.TRANSCEIVER, "id", "secret", "")
    client = Session(
        endpoint,
        commits.on_inbound,
        window=10,
        throughput=None,
        enquire_link=3600.0,
        response_timeout=60.0,
        bind_timeout=60.0,
    )
    accepted: list[trio.SocketStream] = []

    async def answer_the_bind() -> None:
        smsc = await listener.accept()
        accepted.append(smsc)
        bind = parse_header(await smsc.receive_some(65536))
        await smsc.send_all(encode(CommandId.BIND_TRANSCEIVER_RESP, bind.sequence, b"mem\0"))

    async with listener, trio.open_nursery() as nursery:
        nursery.start_soon(answer_the_bind)
        await nursery.start(client.run)  # started once bound
        [smsc] = accepted
        options.clear()  # the stream's own, when it was opened
        yield TcpSmsc(client, smsc, options)
        nursery.cancel_scope.cancel()


QUICKACK = pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="Linux's TCP_QUICKACK")


@QUICKACK
async def test_a_deliver_sm_read_over_tcp_is_acknowledged_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commits = Commits(1)
    commits.group.set()
    async with tcp_session(monkeypatch, commits) as tcp:
        await tcp.smsc.send_all(deliver_sm(5))
        await commits.all_settled.wait()
        assert tcp.quick_acks == 1


@QUICKACK
async def test_submit_sm_resp_read_while_no_deliver_sm_waits_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with tcp_session(monkeypatch, Commits(0)) as tcp:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tcp.client.submit, SubmitSm(Address("0911"), Address("7916"), b"a"))
            submit = parse_header(await tcp.smsc.receive_some(65536))
            await tcp.smsc.send_all(encode(CommandId.SUBMIT_SM_RESP, submit.sequence, b"m1\0"))
        assert tcp.quick_acks == 0


@QUICKACK
async def test_a_kernel_that_refuses_the_quick_ack_still_gets_its_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commits = Commits(2)
    commits.group.set()
    async with tcp_session(monkeypatch, commits, refused=True) as tcp:
        await tcp.smsc.send_all(deliver_sm(5))
        await tcp.smsc.send_all(deliver_sm(6))
        await commits.all_settled.wait()
        assert tcp.quick_acks >= 1  # asked, refused, and the session read on
        assert commits.settled == {5: True, 6: True}
        assert tcp.client.bound
