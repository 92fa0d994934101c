"""Delivery lanes: each channel's own concurrency and pacing, so that a slow SMTP DATA (RFC 5321
4.5.3.2.6 allows it 10 minutes) or Telegram's pacing never holds back another channel."""

from __future__ import annotations

from collections import Counter

import trio

from channels.contract import Lane

# Pacing entries kept at most; the ones whose time has passed are forgotten first.
MAX_PACED = 100_000


class Lanes:
    """Who is in flight on each channel, and when each paced account or address may go next."""

    def __init__(self) -> None:
        self.in_flight: Counter[str] = Counter()
        self._next: dict[tuple[str, str], float] = {}

    def room(self, lanes: dict[str, Lane], default: Lane) -> dict[str, int]:
        """How many more attempts each busy channel's lane takes now."""
        return {
            channel: lanes.get(channel, default).concurrency - count
            for channel, count in self.in_flight.items()
        }

    async def pace(self, lane: Lane, channel: str, account: str, address: str) -> None:
        """Wait for this notice's turn on its account and its address (a reservation each,
        so notices to one address go out `1 / address_rate` apart)."""
        now = trio.current_time()
        paced = [
            (key, rate)
            for key, rate in (
                ((channel, f"account:{account}"), lane.account_rate),
                ((channel, f"address:{address}"), lane.address_rate),
            )
            if rate
        ]
        turn = max([now, *(self._next.get(key, now) for key, _ in paced)])
        for key, rate in paced:
            self._next[key] = turn + 1 / rate
        if len(self._next) > MAX_PACED:
            self._next = {k: t for k, t in self._next.items() if t > now}
        await trio.sleep_until(turn)
