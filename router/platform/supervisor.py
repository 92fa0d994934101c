"""Supervision of channel accounts: each runs as a task of its own, restarted with backoff.

One account's crash never ends the daemon or another account (ARCHITECTURE.md 4), as in
Erlang/OTP's one_for_one supervisor: the failed account alone is restarted, after a jittered
exponential backoff so that a peer that is down is not hammered and accounts that failed
together do not retry together.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import trio

from channels.contract import AccountSpec, Adapter
from router.ops import logs, metrics

log = logging.getLogger(__name__)


class AccountState(StrEnum):
    """Where a supervised account is in its life."""

    STARTING = "starting"
    UP = "up"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Backoff:
    """Restart delays: `first`, doubling per crash in a row, at most `most`, jittered."""

    first: float
    most: float

    def delay(self, crashes: int) -> float:
        """Seconds before the restart after `crashes` crashes in a row (1 or more)."""
        ceiling: float = min(self.most, self.first * 2.0 ** min(crashes - 1, 32))
        # "Equal jitter": at least half the delay, so a crash loop never spins.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass
class Account:
    """One supervised account and what `omnirouter status` says of it."""

    spec: AccountSpec
    adapter: Adapter
    state: AccountState = AccountState.STARTING
    restarts: int = 0
    last_error: str | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    stopped: trio.Event = field(default_factory=trio.Event)

    @property
    def key(self) -> tuple[str, str]:
        """(channel, account)."""
        return (self.spec.channel, self.spec.account)

    def status(self) -> dict[str, object]:
        """The account's line in the admin status."""
        return {
            "state": str(self.state),
            "restarts": self.restarts,
            "last_error": self.last_error,
            **self.adapter.detail(),
        }


class Supervisor:
    """Starts, restarts and stops accounts inside the nursery given to `run`."""

    def __init__(self, backoff: Callable[[], Backoff]) -> None:
        self.backoff = backoff
        self.accounts: dict[tuple[str, str], Account] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the accounts' tasks until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def start(self, spec: AccountSpec, adapter: Adapter) -> Account:
        """Run a new account under supervision."""
        assert self._nursery is not None, "the supervisor is not running"
        account = Account(spec, adapter)
        self.accounts[account.key] = account
        for key in adapter.detail():
            metrics.channel_detail.labels(*account.key, key).set_function(
                functools.partial(_detail, adapter, key)
            )
        self._nursery.start_soon(self._supervise, account)
        return account

    async def stop(self, key: tuple[str, str]) -> None:
        """Stop an account and wait until its task has ended."""
        account = self.accounts.pop(key, None)
        if account is None:
            return
        # Its intake may live outside its task (the chat's sockets run under the listener):
        # tell it first, so that nothing keeps feeding a stopped account.
        account.adapter.stop_intake()
        account.scope.cancel()
        await account.stopped.wait()
        # Gone from the configuration (or started anew): its series would go on saying
        # "stopped", and an alert on channel_up would fire for an account that is no more.
        # One that ended by itself stays listed, stopped, until a reload.
        channel, name = account.key
        for each in AccountState:
            metrics.channel_state.remove(channel, name, str(each))
        metrics.channel_up.remove(channel, name)
        with contextlib.suppress(KeyError):  # never restarted: never counted
            metrics.channel_restarts.remove(channel, name)

    async def stop_all(self, keys: Iterable[tuple[str, str]]) -> None:
        """Stop these accounts at once and wait until each has ended: one SMS bind draining its
        window does not hold the next account's stop behind it."""
        async with trio.open_nursery() as nursery:
            for key in keys:
                nursery.start_soon(self.stop, key)

    async def _supervise(self, account: Account) -> None:
        channel, name = account.key
        crashes = 0
        with account.scope:
            try:
                while True:
                    self._enter(account, AccountState.STARTING)
                    began = time.monotonic()
                    try:
                        async with trio.open_nursery() as nursery:
                            await nursery.start(account.adapter.run)
                            self._enter(account, AccountState.UP)
                    except Exception as group:  # the account's own failure, not the daemon's
                        exc = logs.innermost(group)
                        account.restarts += 1
                        account.last_error = f"{type(exc).__name__}: {exc}"
                        metrics.channel_restarts.labels(channel, name).inc()
                        # An account that ran for longer than the longest delay crashed anew.
                        backoff = self.backoff()
                        up_for = time.monotonic() - began
                        crashes = 1 if up_for > backoff.most else crashes + 1
                        delay = backoff.delay(crashes)
                        log.error(
                            "channel %s/%s failed (%s); restart %d in %.1fs",
                            channel,
                            name,
                            account.last_error,
                            account.restarts,
                            delay,
                            exc_info=exc,
                        )
                        self._enter(account, AccountState.BACKOFF)
                        await trio.sleep(delay)
                    else:
                        log.info("channel %s/%s ended by itself", channel, name)
                        return
            finally:
                self._enter(account, AccountState.STOPPED)
                for key in account.adapter.detail():
                    metrics.channel_detail.remove(channel, name, key)
                account.stopped.set()

    @staticmethod
    def _enter(account: Account, state: AccountState) -> None:
        account.state = state
        channel, name = account.key
        for each in AccountState:
            metrics.channel_state.labels(channel, name, str(each)).set(int(each is state))
        metrics.channel_up.labels(channel, name).set(int(state is AccountState.UP))


def _detail(adapter: Adapter, key: str) -> float:
    """One figure of an adapter's detail, for its gauge."""
    value = adapter.detail().get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0
