"""Delivery lanes' pacing: each channel's own rates, so that Telegram's pacing never holds back
another channel. The outbox paces notices with it; an adapter whose notice goes out as several
messages (a long Telegram text, its files) paces those messages with it as well."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

from channels.contract import Lane

# Pacing entries kept at most; the ones whose time has passed are forgotten first.
MAX_PACED = 100_000


class Pacing:
    """When each paced account and address may have its next notice: a notice is claimed only
    at its turn, so one waiting for its pace holds no lane slot (one busy chat does not hold
    the others)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._next: dict[tuple[str, str], float] = {}
        # Turns booked by take(), by account, in order: the messages an adapter waits to send.
        self._booked: dict[tuple[str, str], list[float]] = {}

    def wait(self, lane: Lane, channel: str, account: str, address: str) -> float:
        """Seconds until this notice's turn (0: now)."""
        now = self.clock()
        keys = [key for key, _ in _paced(lane, channel, account, address)]
        keys.append((channel, f"paused:{account}"))
        return max([now, *(self._next.get(key, now) for key in keys)]) - now

    def pause(self, channel: str, account: str, seconds: float) -> None:
        """The peer asked the whole account to wait (Telegram's 429 retry_after): no message
        of the account goes before, whoever waits for its turn."""
        key = (channel, f"paused:{account}")
        self._next[key] = max(self._next.get(key, 0.0), self.clock() + seconds)

    def paused_for(self, channel: str, account: str) -> float:
        """Seconds the peer's pause of the account still lasts (0: none)."""
        return max(0.0, self._next.get((channel, f"paused:{account}"), 0.0) - self.clock())

    def take(self, lane: Lane, channel: str, account: str, address: str) -> float:
        """Book the earliest turn of a message that waits for it: its address's next turn, or
        the first turn after it that keeps the account's bookings 1/rate apart (so a chat
        waiting its turn holds no other chat's); the seconds to wait for it."""
        now = self.clock()
        turn = max(now, self._next.get((channel, f"address:{address}"), now))
        turn = max(turn, self._next.get((channel, f"paused:{account}"), now))
        if lane.account_rate:
            spacing = 1 / lane.account_rate
            booked = self._booked.setdefault((channel, account), [])
            del booked[: bisect.bisect_left(booked, now - spacing)]  # past: they hold nothing
            for other in booked[bisect.bisect_left(booked, turn - spacing) :]:
                if other - turn >= spacing:
                    break  # a gap wide enough before the next booking
                turn = max(turn, other + spacing)
            bisect.insort(booked, turn)
        if lane.address_rate:
            self._next[(channel, f"address:{address}")] = turn + 1 / lane.address_rate
            self._forget_past(now)
        return turn - now

    def reserve(self, lane: Lane, channel: str, account: str, address: str) -> None:
        """This notice goes now: the next one of its account and address waits its pace."""
        now = self.clock()
        for key, rate in _paced(lane, channel, account, address):
            self._next[key] = max(now, self._next.get(key, now)) + 1 / rate
        self._forget_past(now)

    def _forget_past(self, now: float) -> None:
        """Every chat a bot ever wrote to is not kept for ever: the turns that passed go."""
        if len(self._next) > MAX_PACED:
            self._next = {key: turn for key, turn in self._next.items() if turn > now}


def _paced(
    lane: Lane, channel: str, account: str, address: str
) -> list[tuple[tuple[str, str], float]]:
    return [
        (key, rate)
        for key, rate in (
            ((channel, f"account:{account}"), lane.account_rate),
            ((channel, f"address:{address}"), lane.address_rate),
        )
        if rate
    ]
