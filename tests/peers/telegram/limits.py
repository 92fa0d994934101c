"""When the double answers 429: scripted refusals, storms, and the published flood limits."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

# The methods that put a message in a chat: the ones Telegram's flood limits count
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
SENDS = frozenset({"sendmessage", "sendphoto", "senddocument"})

# The window the published limits are stated over: "messages per second".
WINDOW = 1.0
# Arrival times at the double lag the sender's schedule: PTB's sends over loopback through
# trio-asyncio arrived 4 ms late at the median and 13-25 ms at the 99th percentile here, with
# rare spikes of hundreds on a loaded machine. An adapter pacing exactly at the limit must not be
# refused for the usual lag; one 10% too fast still is (1/1.1 s = 0.91 s between messages).
DEFAULT_TOLERANCE = 0.05


@dataclass
class Refusals:
    """The next `count` calls to `methods` get 429 with `retry_after`."""

    count: int
    retry_after: int
    methods: frozenset[str]


@dataclass
class Storm:
    """Every call to `methods` gets 429 with `retry_after` until the monotonic time `until`."""

    until: float
    retry_after: int
    methods: frozenset[str]


@dataclass
class FloodControl:
    """At most `per_chat` messages a second to one chat and `overall` a second to all of them.

    A sliding one-second window over accepted messages, as the published limits read; a message
    over either gets a 429 whose retry_after is the whole seconds until the window has room.
    """

    per_chat: int
    overall: int
    tolerance: float = DEFAULT_TOLERANCE
    by_chat: dict[int, deque[float]] = field(default_factory=dict)
    everyone: deque[float] = field(default_factory=deque)

    def admit(self, chat_id: int, now: float) -> int | None:
        """Count a message to `chat_id` at `now`; None if it may go, else its retry_after."""
        chat = self.by_chat.setdefault(chat_id, deque())
        horizon = now - WINDOW + self.tolerance
        for sent in (chat, self.everyone):
            while sent and sent[0] <= horizon:
                sent.popleft()
        waits = [
            sent[-limit] - horizon
            for sent, limit in ((chat, self.per_chat), (self.everyone, self.overall))
            if len(sent) >= limit
        ]
        if waits:
            return max(1, math.ceil(max(waits)))
        chat.append(now)
        self.everyone.append(now)
        return None


@dataclass
class Limits:
    """Everything that may make the double answer 429, checked in the order a test expects."""

    refusals: Refusals | None = None
    storm: Storm | None = None
    flood: FloodControl | None = None

    def scripted(self, method: str, now: float) -> int | None:
        """The retry_after of a scripted 429 for this call, if one is due (it is used up)."""
        if self.refusals and method in self.refusals.methods and self.refusals.count > 0:
            self.refusals.count -= 1
            return self.refusals.retry_after
        if self.storm and method in self.storm.methods and now < self.storm.until:
            return self.storm.retry_after
        return None

    def flooded(self, method: str, chat_id: int, now: float) -> int | None:
        """The retry_after if this message goes over the flood limits, else None (counted)."""
        if self.flood is None or method not in SENDS:
            return None
        return self.flood.admit(chat_id, now)
