"""Bot API errors as the outbox's outcomes: which 403 puts the citizen's chat on the list."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing
from telegram.error import BadRequest, Forbidden, RetryAfter

from channels.contract import AccountSpec, DeliveryFailed, Ports
from channels.messenger.config import MessengerAccount, MessengerFile
from channels.messenger.telegram import TelegramAccount, _failure
from channels.pacing import Pacing


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
    assert throttled.account_wide  # a flood wait is the whole bot's
    refused = _failure(BadRequest("Chat not found"))
    assert refused.permanent and refused.suppress is None


def paced_bot() -> TelegramAccount:
    """A bot account's pacing on trio's clock (the mocked one in these tests), 1 message a
    second for the whole bot."""
    account = MessengerAccount(token_file=Path("telegram.token"), global_rate=1.0)
    bot = TelegramAccount(
        AccountSpec("messenger", "support", "telegram"),
        lambda: MessengerFile(enabled=True, accounts={"support": account}),
        cast(Ports, None),  # the pacing needs no port
    )
    bot._pacing = Pacing(clock=trio.current_time)
    return bot


async def test_a_message_is_not_sent_into_a_flood_wait_that_began_while_it_waited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Its turn booked a second ahead, a 429 pauses the bot meanwhile: at its turn the message
    goes back to the queue for the rest of the pause, and is not sent into it."""
    bot = paced_bot()
    await bot._chat_turn(1)  # the bot's message of this second
    refused: list[DeliveryFailed] = []

    async def next_message() -> None:
        with pytest.raises(DeliveryFailed) as caught:
            await bot._chat_turn(2)  # its turn a second from now
        refused.append(caught.value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(next_message)
        await trio.sleep(0.5)
        bot._pacing.pause("messenger", "support", 30.0)
    [failure] = refused
    assert failure.account_wide and not failure.permanent
    assert failure.retry_after == pytest.approx(29.5)


async def test_a_message_under_a_flood_wait_goes_back_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bot = paced_bot()
    bot._pacing.pause("messenger", "support", 120.0)
    began = trio.current_time()
    with pytest.raises(DeliveryFailed) as caught:
        await bot._chat_turn(1)
    assert trio.current_time() == began  # not waited out inside the attempt
    assert caught.value.retry_after == pytest.approx(120.0)
