"""channels/sms/session.Session against the SMSC simulator, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from channels.sms.encoding import gsm7_encode
from channels.sms.events import BadPdu, BindKind, Inbound
from channels.sms.pdus import Address, Status, SubmitSm
from channels.sms.protocol import Policy
from channels.sms.receipts import parse_receipt
from channels.sms.session import Answer, Endpoint, OnInbound, Session, SessionEnded, SubmitError
from tests.integration.daemon import free_port
from tests.smsc import Smsc, smsc, smsc_server

__all__ = ["smsc", "smsc_server"]  # the fixtures, for pytest to find

pytestmark = pytest.mark.integration

# Bounds on waits that succeed at once when the session works; never a measured duration.
DEADLINE = 10.0
# Small, so that the tests of a missing answer are quick.
RESPONSE_TIMEOUT = 0.2


async def accept(event: Inbound | BadPdu) -> Answer:
    """Commit nothing, answer ESME_ROK."""
    return Answer(Status.ESME_ROK)


def session_for(
    smsc: Smsc,
    on_inbound: OnInbound = accept,
    *,
    password: str | None = None,
    port: int | None = None,
    window: int = 10,
    enquire_link: float = 30.0,
    response_timeout: float = DEADLINE,
    tls: bool = False,
    ca_file: Path | None = None,
) -> Session:
    """A transceiver session to the simulator (over TLS, checked against `ca_file`)."""
    if port is None:
        port = smsc.tls_port if tls else smsc.port
    assert port is not None
    endpoint = Endpoint(
        host=smsc.host,
        port=port,
        tls=tls,
        ca_file=ca_file,
        kind=BindKind.TRANSCEIVER,
        system_id=smsc.system_id,
        password=smsc.password if password is None else password,
        system_type="",
    )
    return Session(
        endpoint,
        on_inbound,
        window=window,
        throughput=None,
        enquire_link=enquire_link,
        response_timeout=response_timeout,
        bind_timeout=DEADLINE,
    )


class Served:
    """A session's run() in the background, and the SessionEnded that ended it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ended = trio.Event()
        self.reason: SessionEnded | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """run() until it raises SessionEnded; anything else fails the test."""
        try:
            await self.session.run(task_status=task_status)
        except SessionEnded as reason:
            self.reason = reason
        finally:
            self.ended.set()

    async def end(self) -> str:
        """Why run() ended, once it has."""
        with trio.fail_after(DEADLINE):
            await self.ended.wait()
        assert self.reason is not None, "run() returned without SessionEnded"
        return str(self.reason)


@asynccontextmanager
async def bound(session: Session) -> AsyncIterator[tuple[Served, trio.Nursery]]:
    """The session bound and served; a nursery for the test's own tasks."""
    served = Served(session)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(DEADLINE):
            await nursery.start(served.run)
        yield served, nursery
        nursery.cancel_scope.cancel()


def text_sm(text: str) -> SubmitSm:
    """A submit_sm of a GSM 03.38 text."""
    encoded = gsm7_encode(text)
    assert encoded is not None
    return SubmitSm(Address("1234"), Address("79161234567"), short_message=encoded)


class Results:
    """Submits run in background tasks: each one's message id or SubmitError, by name."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str | SubmitError] = {}
        self.changed = trio.Event()

    async def submit(self, session: Session, name: str) -> None:
        """Submit a text named `name` and keep what came of it."""
        try:
            self.outcomes[name] = await session.submit(text_sm(name))
        except SubmitError as error:
            self.outcomes[name] = error
        self.changed.set()
        self.changed = trio.Event()

    async def wait(self, count: int) -> None:
        """Until `count` submits have an outcome."""
        with trio.fail_after(DEADLINE):
            while len(self.outcomes) < count:
                await self.changed.wait()


async def test_bind_ok(smsc: Smsc) -> None:
    session = session_for(smsc)
    async with bound(session):
        assert session.bound
        [bind] = await smsc.wait_for("bind_transceiver")
    assert bind["system_id"] == smsc.system_id
    assert bind["status"] == Status.ESME_ROK


async def test_bind_over_tls_with_the_operators_ca(smsc: Smsc) -> None:
    session = session_for(smsc, tls=True, ca_file=smsc.ca_file)
    async with bound(session):
        assert await session.submit(text_sm("over TLS"))
    [submit] = await smsc.wait_for("submit_sm")
    assert submit["text"] == "over TLS"


async def test_a_certificate_no_ca_we_trust_signed_ends_the_session(smsc: Smsc) -> None:
    session = session_for(smsc, tls=True)  # the system's CAs never signed the simulator's
    with trio.fail_after(DEADLINE), pytest.raises(SessionEnded, match="CERTIFICATE_VERIFY_FAILED"):
        await session.run()


async def test_bind_refused_names_the_status(smsc: Smsc) -> None:
    session = session_for(smsc, password="wrong")
    with trio.fail_after(DEADLINE), pytest.raises(SessionEnded, match="ESME_RINVPASWD"):
        await session.run()
    assert not session.bound


async def test_connection_refused_ends_the_session(smsc: Smsc) -> None:
    session = session_for(smsc, port=free_port())
    with trio.fail_after(DEADLINE), pytest.raises(SessionEnded, match="cannot connect"):
        await session.run()


async def test_enquire_link_keeps_the_link(smsc: Smsc) -> None:
    session = session_for(smsc, enquire_link=RESPONSE_TIMEOUT)
    async with bound(session) as (served, _):
        # Two sent in turn, the first answered, and the session still bound.
        await smsc.wait_for("enquire_link", 2)
        assert session.bound
        assert not served.ended.is_set()


async def test_submit_returns_the_message_id(smsc: Smsc) -> None:
    session = session_for(smsc)
    async with bound(session):
        message_id = await session.submit(text_sm("Hello @ 10:00"))
        [submit] = await smsc.wait_for("submit_sm")
    assert message_id == submit["message_id"]
    assert submit["text"] == "Hello @ 10:00"
    assert submit["destination_addr"] == "79161234567"


async def test_ucs2_submit_reaches_the_smsc_as_text(smsc: Smsc) -> None:
    session = session_for(smsc)
    text = "Заявка принята"
    sm = SubmitSm(Address("1234"), Address("79161234567"), text.encode("utf-16-be"), data_coding=8)
    async with bound(session):
        await session.submit(sm)
        [submit] = await smsc.wait_for("submit_sm")
    assert (submit["data_coding"], submit["text"]) == (8, text)


async def test_a_full_window_holds_the_next_submit(smsc: Smsc) -> None:
    session = session_for(smsc, window=2)
    results = Results()
    await smsc.hold()
    async with bound(session) as (_, nursery):
        for name in ("one", "two", "three"):
            nursery.start_soon(results.submit, session, name)
        await smsc.wait_for("submit_sm", 2)
        await smsc.ping()  # a third submit sent before the ping's answer would be logged by now
        assert len([e for e in await smsc.log() if e["type"] == "submit_sm"]) == 2
        assert results.outcomes == {}
        await smsc.release()
        await results.wait(3)
    submits = {e["text"]: e["message_id"] for e in await smsc.log() if e["type"] == "submit_sm"}
    assert results.outcomes == submits


@pytest.mark.parametrize(
    ("script", "status"), [("throttle", "ESME_RTHROTTLED"), ("queue_full", "ESME_RMSGQFUL")]
)
async def test_a_busy_smsc_means_back_off(smsc: Smsc, script: str, status: str) -> None:
    session = session_for(smsc)
    await smsc.command(script, count=1)
    async with bound(session):
        with pytest.raises(SubmitError, match=status) as refused:
            await session.submit(text_sm("busy"))
        assert refused.value.policy is Policy.BACK_OFF
        # Only the next submit was scripted: the one after it is taken.
        assert await session.submit(text_sm("again"))


async def test_no_answer_is_an_unknown_outcome(smsc: Smsc) -> None:
    session = session_for(smsc, window=1, response_timeout=RESPONSE_TIMEOUT)
    await smsc.silence()
    async with bound(session) as (served, _):
        with trio.fail_after(DEADLINE), pytest.raises(SubmitError, match="may or may not") as lost:
            await session.submit(text_sm("lost"))
        assert lost.value.policy is None
        # The one slot it held is free again, and the session stays bound.
        assert session.connection.window_free == 1
        assert session.bound
        assert not served.ended.is_set()


async def test_a_submit_whose_caller_gave_up_still_frees_its_slot_when_answered(
    smsc: Smsc,
) -> None:
    session = session_for(smsc, window=1)
    await smsc.hold()
    async with bound(session):
        with trio.move_on_after(RESPONSE_TIMEOUT):  # the caller stops waiting; the PDU went
            await session.submit(text_sm("given up"))
        await smsc.wait_for("submit_sm")
        assert session.connection.window_free == 0  # still outstanding at the SMSC
        assert await smsc.release() == 1
        # Its late answer frees the one slot, and the next submit is taken and answered.
        with trio.fail_after(DEADLINE):
            assert await session.submit(text_sm("next"))
    assert [e["text"] for e in await smsc.log() if e["type"] == "submit_sm"] == ["given up", "next"]


async def test_deliver_sm_is_answered_after_the_commit(smsc: Smsc) -> None:
    received: list[Inbound | BadPdu] = []
    entered = trio.Event()
    committed = trio.Event()

    async def commit(event: Inbound | BadPdu) -> Answer:
        received.append(event)
        entered.set()
        await committed.wait()
        return Answer(Status.ESME_ROK)

    session = session_for(smsc, commit)
    async with bound(session):
        sequence = await smsc.deliver(source="79161234567", text="СТАТУС 2600000128")
        with trio.fail_after(DEADLINE):
            await entered.wait()
        await smsc.ping()  # a deliver_sm_resp sent before the commit would be logged by now
        assert [e for e in await smsc.log() if e["type"] == "deliver_sm_resp"] == []
        committed.set()
        [answer] = await smsc.wait_for("deliver_sm_resp")
    assert answer == {"type": "deliver_sm_resp", "sequence": sequence, "status": 0}
    [event] = received
    assert isinstance(event, Inbound)
    assert event.seq == sequence
    assert event.message.source.addr == "79161234567"
    assert event.message.data_coding == 8
    assert event.message.short_message.decode("utf-16-be") == "СТАТУС 2600000128"


async def test_the_commit_status_is_the_answer(smsc: Smsc) -> None:
    async def refuse(event: Inbound | BadPdu) -> Answer:
        return Answer(Status.ESME_RSYSERR)

    session = session_for(smsc, refuse)
    async with bound(session):
        sequence = await smsc.deliver(text="hello")
        [answer] = await smsc.wait_for("deliver_sm_resp")
    assert (answer["sequence"], answer["status"]) == (sequence, Status.ESME_RSYSERR)


async def test_the_account_learns_once_its_answer_went(smsc: Smsc) -> None:
    settled: list[bool] = []
    done = trio.Event()

    async def note(sent: bool) -> None:
        settled.append(sent)
        done.set()

    async def commit(event: Inbound | BadPdu) -> Answer:
        return Answer(Status.ESME_ROK, note)

    session = session_for(smsc, commit)
    async with bound(session):
        await smsc.deliver(text="hello")
        await smsc.wait_for("deliver_sm_resp")
        with trio.fail_after(DEADLINE):
            await done.wait()
    assert settled == [True]


async def test_a_receipt_before_the_submit_answer(smsc: Smsc) -> None:
    received: list[Inbound | BadPdu] = []
    got = trio.Event()

    async def commit(event: Inbound | BadPdu) -> Answer:
        received.append(event)
        got.set()
        return Answer(Status.ESME_ROK)

    session = session_for(smsc, commit)
    results = Results()
    await smsc.hold()
    async with bound(session) as (_, nursery):
        nursery.start_soon(results.submit, session, "receipted")
        [submit] = await smsc.wait_for("submit_sm")
        await smsc.receipt(submit["message_id"], format="both")
        with trio.fail_after(DEADLINE):
            await got.wait()
        assert results.outcomes == {}
        await smsc.release()
        await results.wait(1)
    [event] = received
    assert isinstance(event, Inbound)
    receipt = parse_receipt(event.message, "gsm7")
    assert receipt is not None
    assert receipt.message_id == results.outcomes["receipted"] == submit["message_id"]


async def test_the_smscs_unbind_ends_the_session(smsc: Smsc) -> None:
    session = session_for(smsc)
    async with bound(session) as (served, _):
        sequence = await smsc.unbind()
        assert await served.end() == "the SMSC unbound the session"
        assert not session.bound
    [answer] = await smsc.wait_for("unbind_resp")
    assert (answer["sequence"], answer["status"]) == (sequence, Status.ESME_ROK)


async def test_our_unbind_ends_the_session(smsc: Smsc) -> None:
    session = session_for(smsc)
    async with bound(session) as (served, _):
        await session.drain(DEADLINE)
        assert await served.end() == "unbound"
    await smsc.wait_for("unbind")


async def test_an_unknown_command_id_is_nacked_and_the_bind_kept(smsc: Smsc) -> None:
    session = session_for(smsc)
    async with bound(session) as (served, _):
        sequence = await smsc.malformed("command_id")
        [nack] = await smsc.wait_for("generic_nack")
        assert (nack["sequence"], nack["status"]) == (sequence, Status.ESME_RINVCMDID)
        assert await session.submit(text_sm("still bound"))
        assert not served.ended.is_set()


async def test_an_unreadable_deliver_sm_is_filed_then_answered(smsc: Smsc) -> None:
    received: list[Inbound | BadPdu] = []

    async def commit(event: Inbound | BadPdu) -> Answer:
        received.append(event)
        return Answer(Status.ESME_ROK if isinstance(event, Inbound) else event.status)

    session = session_for(smsc, commit)
    async with bound(session) as (served, _):
        sequence = await smsc.malformed("body")
        [answer] = await smsc.wait_for("deliver_sm_resp")
        assert not served.ended.is_set()
    [event] = received
    assert isinstance(event, BadPdu)
    assert (answer["sequence"], answer["status"]) == (sequence, event.status)
    assert answer["status"] != Status.ESME_ROK


async def test_a_bad_command_length_is_nacked_and_ends_the_session(smsc: Smsc) -> None:
    session = session_for(smsc)
    async with bound(session) as (served, _):
        sequence = await smsc.malformed("command_length")
        assert "unreadable stream from the SMSC: command_length 8" in await served.end()
    [nack] = await smsc.wait_for("generic_nack")
    assert (nack["sequence"], nack["status"]) == (sequence, Status.ESME_RINVCMDLEN)


@pytest.mark.parametrize(
    ("reset", "reason"),
    [(False, "the SMSC closed the connection"), (True, "connection lost: ")],
    ids=["fin", "rst"],
)
async def test_a_dropped_connection_fails_the_waiting_submits(
    smsc: Smsc, reset: bool, reason: str
) -> None:
    session = session_for(smsc, window=2)
    results = Results()
    await smsc.hold()
    async with bound(session) as (served, nursery):
        for name in ("one", "two", "three"):
            nursery.start_soon(results.submit, session, name)
        sent = {e["text"] for e in await smsc.wait_for("submit_sm", 2)}
        await smsc.drop(reset=reset)
        assert (await served.end()).startswith(reason)
        await results.wait(3)
    [waiting] = {"one", "two", "three"} - sent
    policies = {
        name: outcome.policy
        for name, outcome in results.outcomes.items()
        if isinstance(outcome, SubmitError)
    }
    # Sent and unanswered, the SMSC may have them; the one never sent fails like any submit
    # to an unbound session.
    assert policies == {**dict.fromkeys(sent), waiting: Policy.RETRY}
    assert not session.bound
