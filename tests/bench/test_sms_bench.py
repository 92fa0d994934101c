"""The SMS benchmark's own parts against the SMSC simulator: its bare PDU client, and the
simulator's bulk commands (quiet, deliver_many, deliveries) that the figures rest on."""

from __future__ import annotations

import socket
from functools import partial

import pytest
import trio

from bench.sms import BareEsme, LoopbackSmsc, confirmation, cpu_per_submit
from channels.sms.pdus import CommandId, Status, encode, parse_header
from tests.smsc import Smsc, smsc, smsc_server

__all__ = ["smsc", "smsc_server"]  # the fixtures, for pytest to find

pytestmark = pytest.mark.integration

# A bound on a wait that ends at once when both sides work; never a measured duration.
DEADLINE = 10.0


@pytest.mark.parametrize(
    ("from_tasks", "work"),
    [(False, 0.0), (True, 0.0), (False, 2e-6)],
    ids=["loop", "a-task-per-submit", "loop-with-work"],
)
async def test_a_quiet_simulator_counts_every_submit_the_bare_client_had_answered(
    smsc: Smsc, from_tasks: bool, work: float
) -> None:
    await smsc.quiet()
    esme = await BareEsme.bind(smsc, CommandId.BIND_TRANSCEIVER)
    submit = esme.submit_from_tasks if from_tasks else partial(esme.submit, work=work)
    async with esme.stream:
        with trio.fail_after(DEADLINE):  # a caller left parked would hang the bench
            await submit(confirmation(), 30, window=7)
    counts = await smsc.counts()
    assert counts["bind_transceiver"] == 1
    assert counts["submit_sm"] == 30  # none lost, none extra: each one answered was sent once


async def test_the_cpu_a_submit_is_read_for_both_clients_against_the_loopback_smsc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both clients bind to the SMSC in the bench's own thread and have every submit answered
    (a client left waiting would hang the bench): each run's figure is a CPU time a submit."""
    monkeypatch.setattr("bench.sms.CPU_SUBMITS", 200)
    monkeypatch.setattr("bench.sms.CPU_RUNS", 2)
    monkeypatch.setattr("bench.sms.WARMUP_SUBMITS", 50)
    with trio.fail_after(DEADLINE):
        cpu = await cpu_per_submit()
    assert [len(runs) for runs in cpu["runs"].values()] == [2, 2]
    for name, runs in cpu["runs"].items():
        assert all(0 < us < 10_000 for us in runs)
        assert cpu[name] == min(runs)


def test_the_loopback_smsc_refuses_what_it_does_not_answer() -> None:
    """A request other than a bind or a submit_sm gets generic_nack, not silence."""
    with LoopbackSmsc() as loopback, socket.create_connection((loopback.host, loopback.port)) as c:
        c.sendall(encode(CommandId.ENQUIRE_LINK, 7))
        header = parse_header(c.recv(64))
    assert (header.command_id, header.sequence) == (CommandId.GENERIC_NACK, 7)
    assert header.status == Status.ESME_RINVCMDID


async def test_an_answer_the_bare_client_did_not_expect_fails_its_callers_instead_of_hanging() -> (
    None
):
    ours, simulator = trio.testing.memory_stream_pair()
    esme = BareEsme(ours)

    async def refuse_the_first() -> None:
        sequence = parse_header(await simulator.receive_some()).sequence
        await simulator.send_all(encode(CommandId.GENERIC_NACK, sequence, b"", Status.ESME_RSYSERR))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(refuse_the_first)
        with trio.fail_after(DEADLINE), pytest.raises(ExceptionGroup) as failed:
            await esme.submit_from_tasks(confirmation(), 30, window=7)
    assert failed.group_contains(RuntimeError, match="expected submit_sm_resp")
    assert failed.group_contains(RuntimeError, match="stopped before this submit's answer")


async def test_deliver_many_keeps_its_window_and_times_the_last_answer(smsc: Smsc) -> None:
    await smsc.quiet()
    esme = await BareEsme.bind(smsc, CommandId.BIND_RECEIVER)
    async with esme.stream:
        await smsc.deliver_many(20, window=5, first_source=79000000000, text="Нужна справка")
        assert await smsc.deliveries() == {
            "count": 20, "sent": 5, "answered": 0, "refused": 0, "seconds": None,
        }  # fmt: skip
        await esme.answer_delivers(20)
        with trio.fail_after(DEADLINE):
            while True:
                done = await smsc.deliveries()
                if done["seconds"] is not None:
                    break
                await trio.sleep(0.01)
    assert (done["sent"], done["answered"], done["refused"]) == (20, 20, 0)
    assert done["seconds"] > 0
    assert (await smsc.counts())["deliver_sm_resp"] == 20
