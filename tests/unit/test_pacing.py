"""The lanes' pacing as a sender that waits uses it: each message booked at its turn."""

from __future__ import annotations

from channels.contract import Lane
from channels.pacing import Pacing

LANE = Lane(account_rate=4.0, address_rate=1.0)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_turns_are_booked_in_order_and_never_above_either_rate() -> None:
    pacing = Pacing(Clock())
    waits = [pacing.take(LANE, "messenger", "bot", chat) for chat in ("1", "2", "1", "3", "1")]
    # Chat 1 at 0, 1 and 2 s, a second apart; the bot's turns a quarter apart after each; a
    # message booked later never goes before one booked earlier.
    assert waits == [0.0, 0.25, 1.0, 1.25, 2.0]


def test_a_turn_passed_is_not_waited_for() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    assert pacing.take(LANE, "messenger", "bot", "1") == 0.0
    clock.now += 5
    assert pacing.take(LANE, "messenger", "bot", "1") == 0.0
