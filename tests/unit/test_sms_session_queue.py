"""Session's ready queue in front of the window, over an in-memory SMSC on trio's mock clock:
submits paced under `throughput`, one that gave up before it went never sent, and those left
waiting when the session ends told they were never sent."""

from __future__ import annotations

import contextlib
import itertools

import pytest
import trio
import trio.testing

from channels.sms.events import BindKind
from channels.sms.pdus import (
    HEADER_LENGTH,
    Address,
    CommandId,
    SubmitSm,
    encode,
    parse_header,
)
from channels.sms.protocol import Policy
from channels.sms.session import Answer, Endpoint, Session, SessionEnded, SubmitError


class MemorySmsc:
    """The SMSC end of an in-memory connection: answers the bind and, unless held, each
    submit_sm; notes when each submit_sm arrived and its sequence number."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.hold = False
        self.held: list[int] = []
        self.deaf = False  # reads nothing more, as an SMSC that hangs
        self.client_ended: str | None = None  # why the client's session ended, once it has
        self.submitted: list[tuple[float, bytes]] = []  # arrival time, body

    async def serve(self) -> None:
        """Read PDUs and answer them, until either end closes the connection."""
        with contextlib.suppress(trio.ClosedResourceError):
            await self._serve()

    async def _serve(self) -> None:
        buffer = bytearray()
        while data := await self.stream.receive_some(65536):
            if self.deaf:
                await trio.sleep_forever()
            buffer += data
            while len(buffer) >= HEADER_LENGTH and len(buffer) >= parse_header(buffer).length:
                header = parse_header(buffer)
                body = bytes(buffer[HEADER_LENGTH : header.length])
                del buffer[: header.length]
                await self._answer(header.command_id, header.sequence, body)

    async def _answer(self, command_id: int, sequence: int, body: bytes) -> None:
        if command_id == CommandId.BIND_TRANSCEIVER:
            await self.stream.send_all(encode(CommandId.BIND_TRANSCEIVER_RESP, sequence, b"mem\0"))
        elif command_id == CommandId.SUBMIT_SM:
            self.submitted.append((trio.current_time(), body))
            if self.hold:
                self.held.append(sequence)
            else:
                await self.respond(sequence)

    async def respond(self, *sequences: int) -> None:
        """A submit_sm_resp for each, in one write, with a message id made from the sequence."""
        await self.stream.send_all(
            b"".join(encode(CommandId.SUBMIT_SM_RESP, seq, b"m%d\0" % seq) for seq in sequences)
        )


async def no_inbound(event: object) -> Answer:
    """No deliver_sm comes from this SMSC."""
    raise AssertionError(f"unexpected {event!r}")


def session(window: int, throughput: float | None) -> Session:
    """A transceiver session whose connection the test hands it."""
    endpoint = Endpoint("memory", 0, False, BindKind.TRANSCEIVER, "id", "secret", "")
    return Session(
        endpoint,
        no_inbound,
        window=window,
        throughput=throughput,
        enquire_link=3600.0,
        response_timeout=3600.0,
        bind_timeout=60.0,
    )


def text_sm(text: str) -> SubmitSm:
    """A submit_sm of an ASCII text; short_message ends its body."""
    return SubmitSm(Address("0911"), Address("79161234567", 1, 1), text.encode())


def texts(smsc: MemorySmsc) -> list[str]:
    """Which of the texts sent here the SMSC received, in order."""
    known = ("first", "given up", "next", "sent", "waiting")
    return [t for _, body in smsc.submitted for t in known if body.endswith(t.encode())]


async def connected(
    nursery: trio.Nursery,
    client: Session,
    monkeypatch: pytest.MonkeyPatch,
    *,
    lockstep: bool = False,
) -> MemorySmsc:
    """`client` bound to a MemorySmsc over an in-memory stream pair (`lockstep`: a send waits
    until the other end reads it, as a full TCP window makes it)."""
    pair = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
    ours, theirs = pair()

    async def connect() -> trio.abc.Stream:
        return ours

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await client.run(task_status=task_status)
        except SessionEnded as ended:  # the tests that drop the connection end it
            smsc.client_ended = str(ended)

    monkeypatch.setattr(client, "_connect", connect)
    smsc = MemorySmsc(theirs)
    nursery.start_soon(smsc.serve)
    await nursery.start(run)
    return smsc


async def submit_into(ids: list[str], client: Session, n: int) -> None:
    """Submit text number `n`; its message id into `ids`."""
    ids.append(await client.submit(text_sm(f"n{n}")))


def shortest_gap(smsc: MemorySmsc) -> float:
    """The least time between two submit_sm arriving at `smsc`."""
    arrivals = [at for at, _ in smsc.submitted]
    return min(later - earlier for earlier, later in itertools.pairwise(arrivals))


async def test_submits_beyond_the_window_go_at_their_turns_and_never_faster(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=4, throughput=20.0)
    ids: list[str] = []
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        async with trio.open_nursery() as senders:
            for n in range(12):  # three windows' worth at once
                senders.start_soon(submit_into, ids, client, n)
        nursery.cancel_scope.cancel()
    assert len(set(ids)) == len(smsc.submitted) == 12
    assert shortest_gap(smsc) >= 1 / 20 - 1e-9  # slots freed together never make a burst


async def test_slots_freed_together_are_refilled_each_at_its_turn(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=2, throughput=20.0)
    ids: list[str] = []
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        with trio.fail_after(60):  # of the mock clock: a refill nobody woke for waits forever
            async with trio.open_nursery() as senders:
                for n in range(4):
                    senders.start_soon(submit_into, ids, client, n)
                await trio.sleep(1)  # the first two went at their turns
                assert len(smsc.held) == 2  # the window is full; two wait in the ready queue
                smsc.hold = False
                await smsc.respond(*smsc.held)  # both answers in one read: two slots at once
        nursery.cancel_scope.cancel()
    assert len(ids) == 4
    assert shortest_gap(smsc) >= 1 / 20 - 1e-9


async def test_a_submit_given_up_while_it_waited_for_a_slot_is_never_sent(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=1, throughput=None)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        first = trio.Event()

        async def send_first() -> None:
            assert await client.submit(text_sm("first")) == "m2"
            first.set()

        nursery.start_soon(send_first)
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1.0):  # the window is full: it waits in the ready queue
            await client.submit(text_sm("given up"))
        smsc.hold = False
        await smsc.respond(smsc.held.pop())
        await first.wait()
        assert await client.submit(text_sm("next")) == "m3"
        nursery.cancel_scope.cancel()
    assert texts(smsc) == ["first", "next"]


async def test_submits_left_waiting_when_the_session_ends_may_go_again(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=1, throughput=None)
    outcomes: dict[str, Policy | None] = {}

    async def send(text: str) -> None:
        with pytest.raises(SubmitError) as refused:
            await client.submit(text_sm(text))
        outcomes[text] = refused.value.policy

    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        async with trio.open_nursery() as senders:
            senders.start_soon(send, "sent")
            await trio.testing.wait_all_tasks_blocked()
            senders.start_soon(send, "waiting")
            await trio.testing.wait_all_tasks_blocked()
            await smsc.stream.aclose()  # the connection drops with one answer owed
    # The one sent may or may not be the SMSC's; the one that waited was never sent.
    assert outcomes == {"sent": None, "waiting": Policy.RETRY}
    assert texts(smsc) == ["sent"]


async def test_an_smsc_that_stops_reading_ends_the_session_and_nothing_is_guessed(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=2, throughput=None)
    outcomes: list[tuple[float, SubmitError]] = []

    async def send(text: str) -> None:
        with pytest.raises(SubmitError) as lost:
            await client.submit(text_sm(text))
        outcomes.append((trio.current_time(), lost.value))

    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch, lockstep=True)
        smsc.deaf = True
        began = trio.current_time()
        async with trio.open_nursery() as senders:
            senders.start_soon(send, "read, never answered")
            await trio.sleep(0.5)
            senders.start_soon(send, "never read")  # its send waits for the SMSC to read
        nursery.cancel_scope.cancel()
    # The first, read and never answered, times out and leaves the session bound. The second's
    # send gives up after response_timeout and closes the connection, which ends the session.
    # Neither outcome is known, and neither is sent again behind anyone's back.
    assert [(at - began, lost.policy) for at, lost in outcomes] == [(3600.0, None), (3600.5, None)]
    assert [lost.reason for _, lost in outcomes] == [
        "no submit_sm_resp in time: the SMSC may or may not have it",
        "the session ended before the SMSC answered: the SMSC may or may not have it",
    ]
    assert smsc.client_ended == "the SMSC took nothing we sent for 3600s"
