"""Bot API errors as the outbox's outcomes: which 403 puts the citizen's chat on the list."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, Forbidden, RetryAfter

from channels.messenger.telegram import _failure


@pytest.mark.parametrize(
    ("description", "suppress"),
    [
        ("Forbidden: bot was blocked by the user", "bot_blocked"),
        ("Forbidden: user is deactivated", "user_deactivated"),
        # About this bot, not the citizen: they talk to another of our bots, or never started
        # this one; another bot (or channel) may still reach them.
        ("Forbidden: bot can't initiate conversation with a user", None),
        ("Forbidden: bot was kicked from the group chat", None),
    ],
)
def test_a_403_suppresses_only_a_citizen_out_of_reach(description: str, suppress: str) -> None:
    outcome = _failure(Forbidden(description))
    assert outcome.permanent and outcome.suppress == suppress
    assert outcome.reason == f"403 {description}"


def test_a_429_waits_and_a_400_fails_for_good_without_suppressing() -> None:
    throttled = _failure(RetryAfter(3))
    assert throttled.retry_after == 3.0 and not throttled.permanent
    refused = _failure(BadRequest("Chat not found"))
    assert refused.permanent and refused.suppress is None
