"""The lanes' pacing as a sender that waits uses it: each message booked at its turn."""

from __future__ import annotations

import itertools

import pytest

from channels import pacing as pacing_module
from channels.contract import Lane
from channels.pacing import Pacing

LANE = Lane(account_rate=4.0, address_rate=1.0)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_chat_waiting_its_turn_holds_no_other_chat() -> None:
    pacing = Pacing(Clock())
    waits = [pacing.take(LANE, "messenger", "bot", chat) for chat in ("1", "1", "2", "3", "1")]
    # Chat 1 a second apart; chats 2 and 3 take the bot's free turns before chat 1's second.
    assert waits == [0.0, 1.0, 0.25, 0.5, 2.0]


def test_the_bots_turns_stay_a_rate_apart_in_any_order_of_booking() -> None:
    pacing = Pacing(Clock())
    waits = [pacing.take(LANE, "messenger", "bot", str(chat)) for chat in range(12)]
    waits += [pacing.take(LANE, "messenger", "bot", str(chat)) for chat in range(12)]
    turns = sorted(waits)
    assert all(b - a >= 0.25 - 1e-9 for a, b in itertools.pairwise(turns))
    assert turns[-1] == 23 * 0.25  # no turn left unused


def test_a_turn_passed_is_not_waited_for() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    assert pacing.take(LANE, "messenger", "bot", "1") == 0.0
    clock.now += 5
    assert pacing.take(LANE, "messenger", "bot", "1") == 0.0


def test_the_turns_of_chats_long_quiet_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """A national bot writes to millions of chats: their passed turns are not kept for ever,
    and a chat forgotten is paced as a new one."""
    monkeypatch.setattr(pacing_module, "MAX_PACED", 10)
    clock = Clock()
    pacing = Pacing(clock)
    for chat in range(20):
        pacing.take(LANE, "messenger", "bot", str(chat))
    clock.now += 60.0
    assert pacing.take(LANE, "messenger", "bot", "new") == 0.0
    assert len(pacing._next) <= 2
    assert pacing.take(LANE, "messenger", "bot", "new") == 1.0  # its own turn is still kept


def test_a_flood_wait_holds_every_chat_of_the_bot() -> None:
    """Telegram's retry_after is the bot's: no chat's message goes before it is over."""
    clock = Clock()
    pacing = Pacing(clock)
    pacing.pause("messenger", "bot", 7.0)
    assert pacing.take(LANE, "messenger", "bot", "1") == 7.0
    assert pacing.wait(LANE, "messenger", "bot", "2") == 7.0
    assert pacing.take(LANE, "messenger", "other-bot", "3") == 0.0
