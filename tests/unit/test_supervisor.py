"""Supervision of channel accounts, without sockets: crashes, backoff, restarts, stops."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
import trio.testing
from starlette.routing import BaseRoute

from channels.contract import AccountSpec, Channel, Deliver, Lane
from router.ops import metrics
from router.platform.supervisor import AccountState, Backoff, Supervisor


class Flaky:
    """An adapter that crashes its first `crashes` runs, then stays up."""

    channel: Channel = "webchat"
    account = "flaky"
    deliver: Deliver | None = None
    websocket_max_message = 0
    lane = Lane()

    def __init__(self, crashes: int, *, before_started: bool = False) -> None:
        self.crashes = crashes
        self.before_started = before_started
        self.runs = 0
        self.started_at: list[float] = []

    def routes(self) -> Sequence[BaseRoute]:
        return []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.runs += 1
        self.started_at.append(trio.current_time())
        if self.runs <= self.crashes and self.before_started:
            raise ConnectionRefusedError("the peer is down")
        task_status.started()
        if self.runs <= self.crashes:
            await trio.sleep(0.01)
            raise RuntimeError(f"crash {self.runs}")
        await trio.sleep_forever()

    def stop_intake(self) -> None:
        pass

    def detail(self) -> dict[str, object]:
        return {}


SPEC = AccountSpec("webchat", "flaky", "flaky")


def restarts() -> float:
    return metrics.channel_restarts.labels("webchat", "flaky")._value.get()  # type: ignore[no-any-return]


@pytest.mark.parametrize("before_started", [False, True])
async def test_a_crashing_account_is_restarted_with_growing_delays_until_it_stays_up(
    autojump_clock: trio.testing.MockClock, before_started: bool
) -> None:
    supervisor = Supervisor(lambda: Backoff(first=1.0, most=60.0))
    adapter = Flaky(crashes=4, before_started=before_started)
    counted = restarts()
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        account = supervisor.start(SPEC, adapter)
        await trio.sleep(100)
        assert account.state is AccountState.UP
        assert account.restarts == 4 and restarts() == counted + 4
        expected = "ConnectionRefusedError" if before_started else "RuntimeError: crash 4"
        assert account.last_error is not None and expected in account.last_error
        gaps = [b - a for a, b in zip(adapter.started_at, adapter.started_at[1:], strict=False)]
        # Equal jitter: each delay is between half and all of 1, 2, 4, 8 seconds.
        for gap, ceiling in zip(gaps, (1, 2, 4, 8), strict=True):
            assert ceiling / 2 <= gap <= ceiling + 0.05
        nursery.cancel_scope.cancel()


async def test_one_accounts_crashes_leave_another_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    supervisor = Supervisor(lambda: Backoff(first=1.0, most=2.0))
    steady, crashing = Flaky(crashes=0), Flaky(crashes=1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        calm = supervisor.start(AccountSpec("webchat", "steady", "steady"), steady)
        loop = supervisor.start(SPEC, crashing)
        await trio.sleep(30)
        assert calm.state is AccountState.UP and steady.runs == 1
        assert loop.restarts > 10  # never more often than every second (half of 2 s)
        assert loop.restarts <= 30
        nursery.cancel_scope.cancel()


async def test_a_stopped_account_ends_and_says_so(autojump_clock: trio.testing.MockClock) -> None:
    supervisor = Supervisor(lambda: Backoff(first=1.0, most=2.0))
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        account = supervisor.start(SPEC, Flaky(crashes=0))
        await trio.sleep(1)
        assert account.state is AccountState.UP
        labels = {"channel": "webchat", "account": "flaky"}
        assert metrics.registry.get_sample_value("omnirouter_channel_up", labels) == 1
        await supervisor.stop(account.key)
        assert account.state is AccountState.STOPPED
        assert account.key not in supervisor.accounts
        # Stopped by a reload that removed it: no series says it is still there, stopped.
        assert metrics.registry.get_sample_value("omnirouter_channel_up", labels) is None
        for state in AccountState:
            sample = {**labels, "state": str(state)}
            assert metrics.registry.get_sample_value("omnirouter_channel_state", sample) is None
        nursery.cancel_scope.cancel()


def test_backoff_is_capped_and_never_zero() -> None:
    backoff = Backoff(first=1.0, most=300.0)
    for crashes in (1, 5, 9, 10, 50, 10_000):
        delay = backoff.delay(crashes)
        ceiling = min(300.0, 2.0 ** min(crashes - 1, 32))
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_jittered_over_the_whole_upper_half_of_its_delay() -> None:
    """So that binds cut off by one SMSC restart do not all bind again in the same instant."""
    delays = [Backoff(first=1.0, most=300.0).delay(4) for _ in range(200)]
    assert len(set(delays)) > 100
    assert min(delays) < 5 and max(delays) > 7  # spread over the whole of 4..8 seconds


class Draining(Flaky):
    """An adapter that takes DRAIN seconds to end once stopped (an SMS bind's window)."""

    DRAIN = 10.0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(self.DRAIN)


async def test_accounts_stopped_together_drain_at_the_same_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A reload that changes two SMS accounts waits for the slower drain, not for the sum."""
    supervisor = Supervisor(lambda: Backoff(first=1.0, most=2.0))
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        accounts = [
            supervisor.start(AccountSpec("sms", name, name), Draining(crashes=0))
            for name in ("mts", "beeline")
        ]
        await trio.sleep(1)
        began = trio.current_time()
        await supervisor.stop_all([account.key for account in accounts])
        assert trio.current_time() - began == Draining.DRAIN  # the mocked clock: one drain
        assert all(a.state is AccountState.STOPPED for a in accounts)
        assert supervisor.accounts == {}
        nursery.cancel_scope.cancel()
