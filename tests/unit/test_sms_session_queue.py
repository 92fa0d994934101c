"""Session's ready queue in front of the window, over an in-memory SMSC on trio's mock clock:
submits paced under `throughput`, one that gave up before it went never sent, those left
waiting when the session ends told they were never sent, and a drain's end to the session."""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from channels.sms.events import BindKind
from channels.sms.pdus import (
    HEADER_LENGTH,
    RESPONSE_BIT,
    Address,
    CommandId,
    PduError,
    Status,
    SubmitSm,
    decode_deliver_sm,
    encode,
    parse_header,
)
from channels.sms.protocol import Policy
from channels.sms.session import (
    THROTTLED_PAUSE,
    Answer,
    Endpoint,
    Session,
    SessionEnded,
    SubmitError,
)


class MemorySmsc:
    """The SMSC end of an in-memory connection: answers the bind, the unbind and, unless held,
    each submit_sm; notes when each submit_sm and the unbind arrived."""

    def __init__(self, stream: trio.abc.Stream, client_end: trio.abc.Stream) -> None:
        self.stream = stream
        self._client_end = client_end
        self.hold = False
        self.held: list[int] = []
        self.deaf = False  # reads nothing more, as an SMSC that hangs
        self.lag = 0.0  # seconds before each read, as an SMSC slow to read
        self.client_ended: str | None = None  # why the client's session ended, once it has
        self.submitted: list[tuple[float, bytes]] = []  # arrival time, body
        self.answers: list[tuple[int, int]] = []  # the client's responses: command_id, sequence
        self.unbound_at: float | None = None

    async def serve(self) -> None:
        """Read PDUs and answer them, until either end closes the connection."""
        with contextlib.suppress(trio.ClosedResourceError):
            await self._serve()

    async def _serve(self) -> None:
        buffer = bytearray()
        while True:
            if self.lag:
                await trio.sleep(self.lag)
            if not (data := await self.stream.receive_some(65536)):
                break
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
        elif command_id == CommandId.UNBIND:
            self.unbound_at = trio.current_time()
            await self.stream.send_all(encode(CommandId.UNBIND_RESP, sequence))
        elif command_id & RESPONSE_BIT:
            self.answers.append((command_id, sequence))

    def push(self, pdu: bytes) -> None:
        """`pdu` put straight into the client's end, with no checkpoint: the client reads it in
        the same turn of the run loop as whatever the test does next."""
        assert isinstance(self._client_end, trio.StapledStream)
        receiving = self._client_end.receive_stream
        assert isinstance(receiving, trio.testing.MemoryReceiveStream)
        receiving.put_data(pdu)

    async def respond(self, *sequences: int) -> None:
        """A submit_sm_resp for each, in one write, with a message id made from the sequence."""
        await self.stream.send_all(
            b"".join(encode(CommandId.SUBMIT_SM_RESP, seq, b"m%d\0" % seq) for seq in sequences)
        )


async def no_inbound(event: object) -> Answer:
    """No deliver_sm comes from this SMSC."""
    raise AssertionError(f"unexpected {event!r}")


def session(window: int, throughput: float | None, enquire_link: float = 3600.0) -> Session:
    """A transceiver session whose connection the test hands it."""
    endpoint = Endpoint("memory", 0, False, BindKind.TRANSCEIVER, "id", "secret", "")
    return Session(
        endpoint,
        no_inbound,
        window=window,
        throughput=throughput,
        enquire_link=enquire_link,
        response_timeout=3600.0,
        bind_timeout=60.0,
    )


def text_sm(text: str) -> SubmitSm:
    """A submit_sm of an ASCII text; short_message ends its body."""
    return SubmitSm(Address("0911"), Address("79161234567", 1, 1), text.encode())


def texts(smsc: MemorySmsc) -> list[str]:
    """The texts the SMSC received, in order (a deliver_sm's body is laid out as a submit_sm's,
    SMPP 3.4 4.4.1 and 4.6.1)."""
    return [decode_deliver_sm(body).short_message.decode() for _, body in smsc.submitted]


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
    smsc = MemorySmsc(theirs, ours)
    nursery.start_soon(smsc.serve)
    await nursery.start(run)
    return smsc


async def submit_noting(
    client: Session, outcomes: dict[str, str | Policy | None], text: str
) -> None:
    """Submit `text`; its message id, or the policy of its refusal, into `outcomes`."""
    try:
        outcomes[text] = await client.submit(text_sm(text))
    except SubmitError as refused:
        outcomes[text] = refused.policy


async def one_sent_one_ready(
    smsc: MemorySmsc,
    senders: trio.Nursery,
    send: Callable[[str], Awaitable[None]],
    sent: str,
    ready: str,
) -> None:
    """On a window of 1: `sent` out, its answer held; `ready` waiting in the ready queue."""
    smsc.hold = True
    senders.start_soon(send, sent)
    await trio.testing.wait_all_tasks_blocked()
    senders.start_soon(send, ready)  # the window is full
    await trio.testing.wait_all_tasks_blocked()


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


async def test_a_submit_smpp_cannot_carry_is_refused_to_its_caller_and_the_bind_goes_on(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=1, throughput=20.0)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        with trio.fail_after(60), pytest.raises(PduError, match="dest_addr is 25 characters"):
            await client.submit(SubmitSm(Address("0911"), Address("7" * 25), b"too far"))
        began = trio.current_time()
        assert await client.submit(text_sm("next"))
        nursery.cancel_scope.cancel()
    assert texts(smsc) == ["next"]
    assert smsc.submitted[0][0] == began  # the refused one took no turn under throughput


async def test_a_slot_freed_by_a_timeout_goes_to_the_next_ready_submit(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=1, throughput=None)
    ids: list[str] = []
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True

        async def never_answered() -> None:
            with pytest.raises(SubmitError, match="no submit_sm_resp in time"):
                await client.submit(text_sm("never answered"))

        nursery.start_soon(never_answered)
        await trio.testing.wait_all_tasks_blocked()
        smsc.hold = False
        with trio.fail_after(7200):  # of the mock clock: nothing else would wake the queue
            await submit_into(ids, client, 2)
        nursery.cancel_scope.cancel()
    [(sent_at, _)] = smsc.submitted[1:]
    assert sent_at == pytest.approx(3601.0, abs=1.0)  # as the first's response_timeout ends
    assert len(ids) == 1  # answered


@pytest.mark.parametrize("turn", range(16))  # trio runs a turn's tasks in a random order
async def test_a_submit_given_up_in_the_turn_its_slot_frees_is_never_sent(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch, turn: int
) -> None:
    client = session(window=1, throughput=None)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        nursery.start_soon(client.submit, text_sm("first"))
        await trio.testing.wait_all_tasks_blocked()
        caller = trio.CancelScope()

        async def give_up() -> None:
            with caller:
                await client.submit(text_sm("given up"))

        nursery.start_soon(give_up)
        await trio.testing.wait_all_tasks_blocked()
        # The caller's deadline and the answer that frees the slot, in one turn of the run loop.
        caller.cancel()
        smsc.push(encode(CommandId.SUBMIT_SM_RESP, smsc.held[0], b"m1\0"))
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert caller.cancelled_caught
    assert texts(smsc) == ["first"]


@pytest.mark.parametrize("turn", range(8))
async def test_an_unbind_read_as_a_submit_comes_ends_the_session_and_answers_the_submit(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch, turn: int
) -> None:
    client = session(window=4, throughput=None)
    outcomes: list[Policy | None] = []

    async def submit() -> None:
        with pytest.raises(SubmitError) as refused:
            await client.submit(text_sm("late"))
        outcomes.append(refused.value.policy)

    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.push(encode(CommandId.UNBIND, 7))
        # In the turn the reader reads the unbind, or while it sends its unbind_resp.
        nursery.start_soon(submit)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert smsc.client_ended == "the SMSC unbound the session"
    # Answered, never left waiting: sent before the unbind was read (its outcome unknown), or
    # never sent (tried again on the next bind).
    assert outcomes in ([None], [Policy.RETRY])
    assert texts(smsc) == (["late"] if outcomes == [None] else [])


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
    outcomes: dict[str, tuple[float, Policy | None, str]] = {}

    async def send(text: str) -> None:
        with pytest.raises(SubmitError) as lost:
            await client.submit(text_sm(text))
        outcomes[text] = (trio.current_time() - began, lost.value.policy, lost.value.reason)

    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch, lockstep=True)
        smsc.deaf = True
        began = trio.current_time()
        async with trio.open_nursery() as senders:
            senders.start_soon(send, "read, never answered")
            await trio.sleep(0.5)
            senders.start_soon(send, "never read")  # its send waits for the SMSC to read
            await trio.sleep(0.5)
            senders.start_soon(send, "queued")  # waits for a slot
            senders.start_soon(send, "queued too")
        nursery.cancel_scope.cancel()
    # The first, read and never answered, times out and leaves the session bound; the slot it
    # frees is not taken while the second's send hangs. That send gives up after
    # response_timeout and closes the connection, which ends the session. The outcome of the
    # first two is unknown, and neither is sent again behind anyone's back; the queued ones
    # were never sent and may go on the next bind.
    ended = "the session ended before the SMSC answered: the SMSC may or may not have it"
    assert outcomes == {
        "read, never answered": (
            3600.0, None, "no submit_sm_resp in time: the SMSC may or may not have it",
        ),
        "never read": (3600.5, None, ended),
        "queued": (3600.5, Policy.RETRY, "not bound to the SMSC"),
        "queued too": (3600.5, Policy.RETRY, "not bound to the SMSC"),
    }  # fmt: skip
    assert smsc.client_ended == "the SMSC took nothing we sent for 3600s"


async def test_sends_each_shorter_than_response_timeout_keep_the_session(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=1, throughput=None, enquire_link=86400.0)  # no enquire_link between
    ids: list[str] = []
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch, lockstep=True)
        await trio.testing.wait_all_tasks_blocked()  # the SMSC waits to read the first
        smsc.lag = 2000.0  # before each read after that: the second and third sends wait
        began = trio.current_time()
        for n in range(3):
            await submit_into(ids, client, n)
        # One send after the other for longer than response_timeout, none of them as long.
        assert trio.current_time() - began == 4000.0
        assert client.bound
        nursery.cancel_scope.cancel()
    assert smsc.client_ended is None
    assert ids == ["m2", "m3", "m4"]


async def test_a_drain_refuses_the_ready_submits_awaits_the_sent_then_unbinds(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=1, throughput=None)
    outcomes: dict[str, str | Policy | None] = {}
    send = functools.partial(submit_noting, client, outcomes)

    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        await one_sent_one_ready(smsc, nursery, send, "sent", "waiting")
        drained = trio.Event()

        async def drain() -> None:
            await client.drain(60.0)
            drained.set()

        nursery.start_soon(drain)
        await trio.testing.wait_all_tasks_blocked()
        await send("after")
        # Never sent, safe to send on another bind; the one sent still awaits its answer.
        assert outcomes == {"waiting": Policy.RETRY, "after": Policy.RETRY}
        assert smsc.unbound_at is None
        await trio.sleep(1)
        await smsc.respond(*smsc.held)
        with trio.fail_after(1):
            await drained.wait()
        assert smsc.unbound_at == pytest.approx(1.0, abs=0.01)  # as soon as the answer came
    assert outcomes["sent"] == "m2"
    assert smsc.client_ended == "unbound"
    assert texts(smsc) == ["sent"]


async def test_a_drain_waits_for_answers_no_longer_than_its_grace(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = session(window=2, throughput=None)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True

        async def never_answered() -> None:
            with pytest.raises(SubmitError, match="may or may not have it") as unknown:
                await client.submit(text_sm("never answered"))
            assert unknown.value.policy is None  # not sent again

        nursery.start_soon(never_answered)
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()
        await client.drain(5.0)
        assert smsc.unbound_at == pytest.approx(began + 5.0)
    assert smsc.client_ended == "unbound"


async def test_a_second_drain_returns_only_when_the_first_is_over(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sibling bind ended and this one drains; the account is stopped meanwhile and drains it
    again: that caller, which lifts its shields on return, waits for the same end."""
    client = session(window=1, throughput=None)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        nursery.start_soon(client.submit, text_sm("sent"))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(client.drain, 60.0)
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()

        async def answer_later() -> None:
            await trio.sleep(3.0)
            await smsc.respond(*smsc.held)

        nursery.start_soon(answer_later)
        await client.drain(60.0)
        assert trio.current_time() == pytest.approx(began + 3.0)
        assert smsc.unbound_at == pytest.approx(began + 3.0)
    assert smsc.client_ended == "unbound"


async def test_a_throttled_answer_pauses_the_binds_submits(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ESME_RTHROTTLED: the submits ready behind the refused one wait THROTTLED_PAUSE instead
    of meeting the same answer at once."""
    client = session(window=1, throughput=None)
    outcomes: dict[str, str | Policy | None] = {}
    send = functools.partial(submit_noting, client, outcomes)

    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        with trio.fail_after(10):
            async with trio.open_nursery() as senders:  # over once both are answered
                await one_sent_one_ready(smsc, senders, send, "refused", "next")
                smsc.hold = False
                [sequence] = smsc.held
                throttled_at = trio.current_time()
                await smsc.stream.send_all(
                    encode(CommandId.SUBMIT_SM_RESP, sequence, b"", Status.ESME_RTHROTTLED)
                )
        nursery.cancel_scope.cancel()
    assert outcomes["refused"] is Policy.BACK_OFF
    assert isinstance(outcomes["next"], str)
    [_, (next_at, _)] = smsc.submitted
    assert next_at - throttled_at >= THROTTLED_PAUSE


async def test_a_generic_nack_without_an_error_code_is_a_retry_and_the_bind_goes_on(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§4.3 has a generic_nack carry the error; one with command_status 0 fails its submit as a
    fault at the SMSC (a failed attempt, retried), and the session reads on."""
    client = session(window=1, throughput=None)
    outcomes: dict[str, str | Policy | None] = {}
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        with trio.fail_after(10):
            async with trio.open_nursery() as senders:
                senders.start_soon(submit_noting, client, outcomes, "nacked")
                await trio.testing.wait_all_tasks_blocked()
                smsc.hold = False
                [sequence] = smsc.held
                await smsc.stream.send_all(encode(CommandId.GENERIC_NACK, sequence))  # status 0
            await submit_noting(client, outcomes, "next")
        nursery.cancel_scope.cancel()
    assert outcomes == {"nacked": Policy.RETRY, "next": "m3"}
    assert smsc.client_ended is None
    [(nacked_at, _), (next_at, _)] = smsc.submitted
    assert next_at == nacked_at  # not a throttle: no pause before the next


async def test_an_enquire_link_read_with_submit_answers_is_answered(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enquire_link in the same read as the submit_sm_resp the reader hands out without
    asking for anything to send is still answered."""
    client = session(window=2, throughput=None)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        smsc.hold = True
        async with trio.open_nursery() as senders:
            for text in ("one", "two"):
                senders.start_soon(client.submit, text_sm(text))
            await trio.testing.wait_all_tasks_blocked()
            first, second = smsc.held
            smsc.push(
                encode(CommandId.SUBMIT_SM_RESP, first, b"m1\0")
                + encode(CommandId.ENQUIRE_LINK, 77)
                + encode(CommandId.SUBMIT_SM_RESP, second, b"m2\0")
            )
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert smsc.answers == [(CommandId.ENQUIRE_LINK_RESP, 77)]


async def test_an_enquire_link_left_unanswered_ends_the_session(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link that stops answering (this SMSC never answers enquire_link) is found dead within
    enquire_link and response_timeout, and the session ends for the supervisor to bind again."""
    client = session(window=1, throughput=None, enquire_link=30.0)
    async with trio.open_nursery() as nursery:
        smsc = await connected(nursery, client, monkeypatch)
        await trio.sleep(30.0 + 3600.0 - 2.0)
        assert smsc.client_ended is None  # not before its response_timeout
        await trio.sleep(4.0)
        assert smsc.client_ended == "no answer to enquire_link in 3600s"
        nursery.cancel_scope.cancel()


async def test_a_bind_never_answered_ends_the_session_at_the_bind_timeout(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SMSC that takes the connection and never answers the bind: the session ends at
    bind_timeout (60 s here), for the supervisor to try again after its backoff."""
    client = session(window=1, throughput=None)
    ours, theirs = trio.testing.memory_stream_pair()

    async def connect() -> trio.abc.Stream:
        return ours

    monkeypatch.setattr(client, "_connect", connect)
    smsc = MemorySmsc(theirs, ours)
    smsc.deaf = True  # reads the bind and never answers
    async with trio.open_nursery() as nursery:
        nursery.start_soon(smsc.serve)
        began = trio.current_time()
        # A bound of the mock clock's: without the session's own, the test would hang.
        with (
            trio.fail_after(120),
            pytest.raises(SessionEnded, match="no answer to the bind in 60s"),
        ):
            await client.run()
        assert trio.current_time() - began == pytest.approx(60.0)
        nursery.cancel_scope.cancel()
