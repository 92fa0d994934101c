"""The messenger channel against the Bot API double (issue 11): updates ingested and committed
per second, and outbound pacing measured against the configured limits.

A backlog of citizens' messages waits in the double before the daemon starts; the rate is the
backlog over the time from the first getUpdates to the one whose offset confirms the last
update (an update is confirmed only after its commit). The answers to that backlog measure the
bot's overall pace (more chats than `global_rate`, so the bot's limit binds); one citizen's
burst afterwards measures one chat's pace. Both are read from the double's log of the messages
Telegram took: the rate over the middle 80% of them, and the most in any one second (less the
loopback jitter the double allows).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.integration.daemon import DaemonProcess, write_secret
from tests.peers.telegram.limits import SENDS
from tests.telegram import BotDouble, Citizen, TelegramDouble, start_double

CITIZENS = 100
MESSAGES_EACH = 6
BURST = 15  # one chat's messages for its pace
PER_CHAT_RATE = 1.0
GLOBAL_RATE = 30.0
# Issue 11: within 5% of the limit, and never above it.
TARGET_RATIO = 0.95
# Every send's time as the double took it lags the adapter's schedule by loopback jitter
# (tests/peers/telegram/limits.py DEFAULT_TOLERANCE): a window that long is slack.
JITTER = 0.05
DEADLINE = 600.0

Json = dict[str, Any]


def run() -> dict[str, Any]:
    """Start the double and a daemon with one bot; measure; stop both."""
    process, port = start_double()
    try:
        return trio.run(_run, TelegramDouble(port))
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(30)


async def _run(double: TelegramDouble) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        await double.reset(client)
        bot = await double.new_bot(client)
        citizens = [await bot.citizen(f"Гражданин {n}") for n in range(CITIZENS)]
        backlog = [
            (citizen, f"Вопрос {m} гражданина {n}")
            for m in range(MESSAGES_EACH)
            for n, citizen in enumerate(citizens)
        ]
        updates = await bot.write_many(backlog)
        daemon = _daemon(Path(tempfile.mkdtemp(prefix="omnirouter-bench-messenger-")), bot)
        daemon.start()
        try:
            ingest = await _ingest(bot, updates[-1]["update_id"], len(updates))
            # Each message is answered: a confirmation and the phone button for the first of
            # a chat, "added to your request" for the others.
            expected = CITIZENS * (MESSAGES_EACH + 1)
            overall = _pace(await _sent(bot, expected), GLOBAL_RATE)
            burster = await bot.citizen("Гражданин с вопросами")
            await bot.write_many([(burster, f"Ещё вопрос {m}") for m in range(BURST)])
            # The answers and the phone button after the first.
            chat = _pace(await _sent(bot, BURST + 1, burster), PER_CHAT_RATE)
        finally:
            daemon.stop()
    return {"ingest": ingest, "overall": overall, "per_chat": chat}


def _daemon(root: Path, bot: BotDouble) -> DaemonProcess:
    daemon = DaemonProcess(root)
    # Every answer counts here; the per-contact limit on automatic messages would hold some.
    daemon.edit_router("auto_limit = 10", "auto_limit = 1000")
    write_secret(daemon.config / "secrets" / "telegram.token", bot.token + "\n")
    (daemon.config / "channels" / "messenger.toml").write_text(
        f"""enabled = true
[accounts.support]
token_file = "secrets/telegram.token"
api_url = "{bot.api_url}"
per_chat_rate = {PER_CHAT_RATE}
global_rate = {GLOBAL_RATE}
"""
    )
    return daemon


async def _ingest(bot: BotDouble, last: int, count: int) -> dict[str, Any]:
    """Updates committed per second: from the first poll to the one that confirms the last."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        polls = [c for c in await bot.calls() if c["method"] == "getUpdates"]
        done = [p for p in polls if p["offset"] > last]
        if polls and done:
            seconds = done[0]["at"] - polls[0]["at"]
            return {
                "updates": count,
                "seconds": round(seconds, 3),
                "committed_per_s": round(count / seconds, 1),
                "polls": polls.index(done[0]) + 1,
            }
        await trio.sleep(0.2)
    raise TimeoutError(f"the backlog of {count} updates was not committed in {DEADLINE:g} s")


async def _sent(bot: BotDouble, count: int, chat: Citizen | None = None) -> list[Json]:
    """The messages sent (to `chat`), once there are `count`."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = await bot.sent(chat)
        if len(found) >= count:
            return found
        await trio.sleep(0.5)
    raise TimeoutError(f"{count} messages were not sent in {DEADLINE:g} s")


def _pace(sent: list[Json], limit: float) -> dict[str, Any]:
    """The rate while the backlog lasts, and the most messages in any one second."""
    times = sorted(c["at"] for c in sent if c["method"].lower() in SENDS)
    # The middle 80%: the first answers wait for their updates to be filed, and the last few
    # chats' answers, once the others are done, go at the chats' pace, not the bot's.
    low, high = len(times) // 10, len(times) - 1 - len(times) // 10
    span = times[high] - times[low]
    # Messages paced at `limit` are 1/limit apart: the rate of the gaps.
    rate = (high - low) / span if span else float("inf")
    busiest = max(
        sum(1 for t in times[i:] if t < start + 1.0 - JITTER) for i, start in enumerate(times)
    )
    return {
        "messages": len(times),
        "seconds": round(times[-1] - times[0], 3),
        "rate_per_s": round(rate, 3),
        "limit_per_s": limit,
        "ratio_to_limit": round(rate / limit, 4),
        "most_in_one_second": busiest,
        "within_target": rate / limit >= TARGET_RATIO and busiest <= limit,
    }


def main() -> None:
    """Print the figures (python -m bench --only messenger prints them in the table)."""
    print(run())


if __name__ == "__main__":
    main()
