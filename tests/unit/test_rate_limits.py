"""Token buckets of the chat's per-client limits, on a clock the test moves."""

from __future__ import annotations

import pytest

from channels.webchat import limits
from channels.webchat.limits import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_taken_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(lambda: (0.5, 3), clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 2.0  # one token every 2 s
    assert limiter.take("b") == 0  # another key has its own bucket
    clock.now += 2
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0


def test_a_refusal_spends_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(lambda: (1.0, 1), clock)
    assert limiter.take("a") == 0
    assert limiter.take("a") == 1.0
    clock.now += 1
    assert limiter.take("a") == 0


def test_keys_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    bound = 50
    monkeypatch.setattr(limits, "MAX_KEYS", bound)
    limiter = RateLimiter(lambda: (1.0, 1), Clock())
    for key in range(bound * 3):
        limiter.take(str(key))
    assert len(limiter._buckets) == bound
    assert limiter.take(str(bound * 3 - 1)) > 0  # the most recent keys are kept


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after(0.01) == 1
    assert retry_after(1.2) == 2
