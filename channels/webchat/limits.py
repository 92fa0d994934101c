"""Per-client rate limits of the public chat and form: token buckets keyed by address or session."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

# Buckets kept at most per limit; past it the longest-idle ones go (a full bucket forgets
# nothing worth keeping). An attacker rotating addresses cannot grow memory without bound.
MAX_KEYS = 100_000


class RateLimitSettings(BaseModel):
    """channels/webchat.toml [rate_limits]: rates per second, bursts as counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # New chat sessions per client address: a page reload or a new tab makes one, a script
    # that opens thousands is refused (one every 2 s after a burst of 20).
    session_rate: float = Field(0.5, gt=0)
    session_burst: int = Field(20, ge=1)
    # Chat messages per session: a person types far slower than one a second; a paste of
    # several short lines fits in the burst.
    message_rate: float = Field(1.0, gt=0)
    message_burst: int = Field(10, ge=1)
    # Chat messages per client address, all its sessions together: an office behind one
    # address writes far less than this; a script with many sessions is held to it.
    address_message_rate: float = Field(5.0, gt=0)
    address_message_burst: int = Field(50, ge=1)
    # File uploads per session (each also held to [attachments.limits.webchat]).
    upload_rate: float = Field(0.5, gt=0)
    upload_burst: int = Field(10, ge=1)
    # File uploads per client address, all its sessions together: a citizen attaching a stack
    # of scans fits in the burst; a script that opens session after session to store files is
    # held to one a minute (each a few MB the store keeps).
    address_upload_rate: float = Field(1 / 60, gt=0)
    address_upload_burst: int = Field(30, ge=1)
    # Feedback forms per client address.
    form_rate: float = Field(0.1, gt=0)
    form_burst: int = Field(5, ge=1)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per key: `burst` at once, then `rate` per second."""

    def __init__(
        self,
        rate: Callable[[], tuple[float, int]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Spend one token of `key`'s bucket: 0 if allowed, else the seconds until one is due."""
        rate, burst = self.rate()
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        # Re-inserted last: the dict's order is least recently used first.
        self._buckets[key] = bucket
        if len(self._buckets) > MAX_KEYS:
            del self._buckets[next(iter(self._buckets))]
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate


def retry_after(seconds: float) -> int:
    """Whole seconds to wait, as Retry-After and `retry_after` say it (at least 1)."""
    return max(1, math.ceil(seconds))


class ClientLimits:
    """The buckets of the kinds one adapter limits, at the rates the settings say now."""

    def __init__(
        self,
        kinds: tuple[str, ...],
        settings: Callable[[], RateLimitSettings],
        counted: Callable[[str], None],
    ) -> None:
        self.counted = counted

        def rate(kind: str) -> Callable[[], tuple[float, int]]:
            # Named once: this runs for every message, twice.
            rate_field, burst_field = f"{kind}_rate", f"{kind}_burst"

            def current() -> tuple[float, int]:
                limits = settings()
                return getattr(limits, rate_field), getattr(limits, burst_field)

            return current

        self._limiters = {kind: RateLimiter(rate(kind)) for kind in kinds}

    def over(self, kind: str, key: str) -> int:
        """0 if `key` may go on, else the whole seconds it must wait (and it is counted)."""
        wait = self._limiters[kind].take(key)
        if not wait:
            return 0
        self.counted(f"rate_limited_{kind}")
        return retry_after(wait)
