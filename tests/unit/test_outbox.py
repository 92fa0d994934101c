"""The outbox: retries with backoff, dead letters, the per-contact limit on automatic messages."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from channels.contract import DeliveryFailed, Lane, Outbound, Sender, Sent
from channels.pacing import Pacing
from router.clock import parse_rfc3339, rfc3339, utc_now
from router.daemon import through_account
from router.delivery.fallback import Fallback
from router.delivery.outbox import Outbox, RateLimit
from router.delivery.reports import HELD_REPORTS_FOR, Reports
from router.delivery.states import Event, TransitionRefused
from router.retry import RetryPolicy
from router.store.database import Database
from router.store.transaction import NotificationRecord, Tx

from .conftest import opened_database as database

# A condition not reached in this many polls (10 s) means the outbox is stuck, not slow.
POLLS = 1000
POLL_SECONDS = 0.01
FAST_RETRY = RetryPolicy(first_delay=0.05, max_delay=0.2, max_age=3600)
NO_LIMIT = RateLimit(limit=1000, window=3600)


@dataclass
class Channel:
    """A channel adapter port that does what each test scripts, and records every attempt."""

    outcomes: list[BaseException | None] = field(default_factory=list)
    attempts: list[tuple[str, float]] = field(default_factory=list)
    hold: trio.Event | None = None
    # The peer's reference for each attempt it takes: "ref-1", "ref-2", ...
    references: bool = False

    async def __call__(self, message: Outbound) -> Sent:
        """One delivery attempt: the next scripted outcome, or success."""
        self.attempts.append((message.text, time.time()))
        if self.hold is not None:
            await self.hold.wait()
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return Sent(references=(f"ref-{len(self.attempts)}",) if self.references else ())

    def texts(self) -> list[str]:
        """The texts attempted, in order."""
        return [text for text, _ in self.attempts]


@asynccontextmanager
async def running(
    db: Database,
    channel: Channel,
    *,
    retry: RetryPolicy = FAST_RETRY,
    rate: RateLimit = NO_LIMIT,
    delivery_timeout: float = 30.0,
    channels: dict[str, Channel] | None = None,
    lanes: dict[str, Lane] | None = None,
    account_lanes: dict[tuple[str, str], Lane] | None = None,
    restarting: frozenset[tuple[str, str]] = frozenset(),
) -> AsyncIterator[Outbox]:
    """An outbox delivering to `channel` as the web chat (and to `channels` by name), for the
    length of the block; notices fall back to SMS, then email."""
    outbox = Outbox(
        db,
        lambda: {"webchat": channel, **(channels or {})},
        lambda: retry,
        lambda: rate,
        lambda: Fallback(("sms", "email")),
        lambda: lanes or {},
        account_lanes=lambda: account_lanes or {},
        restarting=lambda: restarting,
        delivery_timeout=delivery_timeout,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(outbox.run)
        yield outbox
        nursery.cancel_scope.cancel()


async def queue(
    db: Database,
    text: str,
    *,
    contact: str | None = "contact-a",
    automatic: bool = True,
    channel: str = "webchat",
    confirms_stop: bool = False,
) -> str:
    """Queue one notification; return its id."""
    now = time.time()
    notification_id, _ = await db.write(
        lambda tx: tx.queue_notification(
            f"test:{text}",
            "2026-11-23T10:00:00Z",
            now,
            ticket="2600000128",
            contact_id=contact,
            channel=channel,
            account="default",
            address="session-1",
            kind="status" if automatic else "reply",
            automatic=automatic,
            text=text,
            confirms_stop=confirms_stop,
        )
    )
    return notification_id


async def queue_from(db: Database, channel: str, account: str, address: str) -> str:
    """Queue one operator's notice on `channel` naming `account`; return its id."""
    now = time.time()
    notification_id, _ = await db.write(
        lambda tx: tx.queue_notification(
            f"test:{account}:{address}", "2026-11-23T10:00:00Z", now, ticket=None,
            contact_id=None, channel=channel, account=account, address=address,
            kind="status", automatic=False, text=f"{account} {address}",
        )
    )  # fmt: skip
    return notification_id


async def record(db: Database, notification_id: str) -> NotificationRecord:
    """The notification's row as it is now."""
    found = await db.read(lambda tx: tx.notification(notification_id))
    assert found is not None
    return found


async def until(check: Callable[[], object]) -> None:
    """Wait until `check()` is true, polling."""
    for _ in range(POLLS):
        if check():
            return
        await trio.sleep(POLL_SECONDS)
    raise AssertionError("the outbox is stuck")


async def until_record(
    db: Database, notification_id: str, check: Callable[[NotificationRecord], bool]
) -> NotificationRecord:
    """Wait until the notification's row passes `check`; return it."""
    for _ in range(POLLS):
        if check(found := await record(db, notification_id)):
            return found
        await trio.sleep(POLL_SECONDS)
    raise AssertionError(f"the outbox is stuck: {found}")


async def until_state(db: Database, notification_id: str, state: str) -> NotificationRecord:
    """Wait until the notification is in `state`; return it."""
    return await until_record(db, notification_id, lambda r: r.state == state)


async def until_retry(db: Database, notification_id: str) -> NotificationRecord:
    """The notification once an attempt failed for now: queued again, its error kept."""
    return await until_record(
        db, notification_id, lambda r: r.state == "queued" and r.last_error is not None
    )


async def test_a_transient_failure_is_retried_with_backoff_until_sent(tmp_path: Path) -> None:
    """Two failed attempts, then success: sent, three attempts, waits growing between them."""
    channel = Channel(outcomes=[DeliveryFailed("peer busy"), DeliveryFailed("peer busy")])
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel):
            sent = await until_state(db, notification_id, "sent")
    assert sent.attempts == 3
    assert channel.texts() == ["Статус изменён"] * 3
    moments = [at for _, at in channel.attempts]
    # Jitter keeps each wait within half to all of first_delay * 2^(n-1).
    assert moments[1] - moments[0] >= 0.5 * FAST_RETRY.first_delay
    assert moments[2] - moments[1] >= 0.5 * FAST_RETRY.first_delay * 2


async def test_a_failed_attempt_is_visible_with_its_error(tmp_path: Path) -> None:
    """Between attempts a notification is `queued` again, with the peer's reason and a later
    due (`failed` is for good: CONTRACTS.md)."""
    channel = Channel(outcomes=[DeliveryFailed("peer busy")])
    slow = RetryPolicy(first_delay=3600, max_delay=3600, max_age=86400)
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel, retry=slow):
            failed = await until_retry(db, notification_id)
    assert failed.attempts == 1
    assert failed.last_error == "peer busy"
    assert failed.next_attempt_at >= time.time() + 1800


async def test_a_permanent_failure_is_a_dead_letter_that_can_be_replayed(tmp_path: Path) -> None:
    """A permanent refusal is dead at once, listed for operators, and delivered after replay."""
    channel = Channel(outcomes=[DeliveryFailed("citizen blocked the bot", permanent=True)])
    with database(tmp_path) as db:
        notification_id = await queue(db, "Ответ оператора", automatic=False)
        async with running(db, channel) as outbox:
            dead = await until_state(db, notification_id, "dead")
            assert dead.attempts == 1
            letters = await db.read(lambda tx: tx.dead_letters())
            assert [(d["id"], d["last_error"]) for d in letters] == [
                (f"notification:{notification_id}", "citizen blocked the bot")
            ]
            since = parse_rfc3339(letters[0]["since"]).timestamp()  # RFC 3339, ms precision
            assert abs(since - dead.first_queued_at) < 0.001
            now = time.time()
            assert await db.write(lambda tx: tx.revive_dead("notification", notification_id, now))
            outbox.wake()
            await until_state(db, notification_id, "sent")
    assert len(channel.attempts) == 2


async def test_retrying_ends_in_a_dead_letter_after_the_maximum_age(tmp_path: Path) -> None:
    """A peer that keeps failing: retried until max_age, then dead, never lost."""
    channel = Channel(outcomes=[DeliveryFailed("peer busy")] * 1000)
    short = RetryPolicy(first_delay=0.02, max_delay=0.05, max_age=0.3)
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel, retry=short):
            dead = await until_state(db, notification_id, "dead")
    assert dead.attempts >= 2
    assert dead.attempts == len(channel.attempts)
    assert dead.last_error == "peer busy"


async def test_a_channel_that_is_not_enabled_is_a_dead_letter(tmp_path: Path) -> None:
    """Nothing can deliver through a channel that is off: dead at once, with the reason."""
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён", channel="email")
        async with running(db, Channel()):
            dead = await until_state(db, notification_id, "dead")
    assert dead.last_error == "channel email is not enabled"


async def test_an_adapter_bug_is_one_failed_attempt_and_the_outbox_goes_on(tmp_path: Path) -> None:
    """An unexpected exception fails that attempt only; the next notification still goes out."""
    channel = Channel(outcomes=[RuntimeError("adapter bug")])
    slow = RetryPolicy(first_delay=3600, max_delay=3600, max_age=86400)
    with database(tmp_path) as db:
        first = await queue(db, "первое")
        async with running(db, channel, retry=slow) as outbox:
            failed = await until_retry(db, first)
            second = await queue(db, "второе")
            outbox.wake()
            await until_state(db, second, "sent")
    assert failed.last_error == "RuntimeError: adapter bug"


async def test_a_peer_that_never_answers_is_a_failed_attempt(tmp_path: Path) -> None:
    """A delivery hanging past the timeout is abandoned and retried later."""
    channel = Channel(hold=trio.Event())
    slow = RetryPolicy(first_delay=3600, max_delay=3600, max_age=86400)
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel, retry=slow, delivery_timeout=0.1):
            failed = await until_retry(db, notification_id)
    assert failed.last_error == "no answer in 0.1s"


async def test_an_attempt_cut_off_by_a_stop_is_made_again_after_restart(tmp_path: Path) -> None:
    """A notification left `sending` by a stop is delivered by the next outbox."""
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")
        hanging = Channel(hold=trio.Event())
        async with running(db, hanging):
            await until_state(db, notification_id, "sending")
        channel = Channel()
        async with running(db, channel):
            sent = await until_state(db, notification_id, "sent")
    assert sent.attempts == 2
    assert channel.texts() == ["Статус изменён"]


async def test_automatic_messages_over_the_per_contact_limit_wait_for_the_window(
    tmp_path: Path,
) -> None:
    """Past the limit, automatic messages to one contact are deferred, not sent and not lost.

    Operator replies and other contacts are not held back.
    """
    channel = Channel()
    rate = RateLimit(limit=2, window=3600)
    with database(tmp_path) as db:
        automatic = [await queue(db, f"статус {n}") for n in range(5)]
        reply = await queue(db, "ответ оператора", automatic=False)
        other = await queue(db, "статус другому", contact="contact-b")
        async with running(db, channel, rate=rate):
            await until(lambda: len(channel.attempts) == 4)
            await trio.sleep(0.2)  # time for any wrongly claimed extra to go out
        states = [await record(db, n) for n in automatic]
        reply_state, other_state = await record(db, reply), await record(db, other)
    assert sorted(channel.texts()) == sorted(
        ["статус 0", "статус 1", "ответ оператора", "статус другому"]
    )
    assert [s.state for s in states] == ["sent", "sent", "queued", "queued", "queued"]
    first_sent = min(at for text, at in channel.attempts if text.startswith("статус "))
    for deferred in states[2:]:
        assert deferred.attempts == 0  # waiting for the window is not a failed attempt
        assert deferred.last_error == "rate limited: automatic messages per contact"
        assert deferred.next_attempt_at >= first_sent + rate.window - 1
    assert reply_state.state == other_state.state == "sent"


async def test_messages_still_being_delivered_count_against_the_limit(tmp_path: Path) -> None:
    """Automatic messages on their way count too: a slow peer cannot be flooded past the limit."""
    channel = Channel(hold=trio.Event())
    rate = RateLimit(limit=2, window=3600)
    with database(tmp_path) as db:
        first = [await queue(db, f"статус {n}") for n in range(2)]
        async with running(db, channel, rate=rate) as outbox:
            await until(lambda: len(channel.attempts) == 2)
            later = [await queue(db, f"статус {n}") for n in range(2, 4)]
            outbox.wake()
            deferred = [
                await until_record(db, n, lambda r: r.last_error is not None) for n in later
            ]
            assert channel.hold is not None
            channel.hold.set()
            for n in first:
                await until_state(db, n, "sent")
    assert [d.last_error for d in deferred] == ["rate limited: automatic messages per contact"] * 2
    assert sorted(channel.texts()) == ["статус 0", "статус 1"]


async def test_a_drain_lets_the_delivery_in_flight_finish_and_claims_nothing_more(
    tmp_path: Path,
) -> None:
    """SIGTERM: the notice being sent is sent; the one queued after waits for the restart."""
    with database(tmp_path) as db:
        channel = Channel(hold=trio.Event())
        async with running(db, channel) as outbox:
            first = await queue(db, "in flight")
            outbox.wake()
            await until(lambda: channel.attempts)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(outbox.drain)
                await trio.sleep(0.05)
                second = await queue(db, "queued while draining")
                outbox.wake()
                channel.hold.set()  # the peer answers; the drain ends
            assert (await record(db, first)).state == "sent"
            assert (await record(db, second)).state == "queued"
            assert channel.texts() == ["in flight"]


async def test_a_throttle_waits_retry_after_and_is_not_a_failed_attempt(tmp_path: Path) -> None:
    """The peer's 429 / retry_after: queued again for that long, the attempt given back."""
    with database(tmp_path) as db:
        channel = Channel(outcomes=[DeliveryFailed("Too Many Requests", retry_after=0.3)])
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel):
            throttled = await until_retry(db, notification_id)
            assert throttled.attempts == 0
            assert throttled.next_attempt_at - time.time() > 0.1
            sent = await until_state(db, notification_id, "sent")
        history = await db.read(lambda tx: tx.notification_history(notification_id))
    assert sent.attempts == 1
    assert [(h["state"], h["event"]) for h in history] == [
        ("queued", "created"),
        ("sending", "claimed"),
        ("queued", "throttled"),
        ("sending", "claimed"),
        ("sent", "accepted"),
    ]
    assert history[2]["reason"] == "Too Many Requests"


async def test_a_permanent_failure_is_failed_then_dead_in_one_step(tmp_path: Path) -> None:
    with database(tmp_path) as db:
        channel = Channel(outcomes=[DeliveryFailed("bot blocked by the user", permanent=True)])
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel):
            await until_state(db, notification_id, "dead")
        history = await db.read(lambda tx: tx.notification_history(notification_id))
    assert [h["state"] for h in history] == ["queued", "sending", "failed", "dead"]


async def test_a_move_the_table_does_not_allow_changes_nothing(tmp_path: Path) -> None:
    """A late or duplicate event (a submit answer after a receipt) is refused, not applied."""
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")

        def deliver_then_accept(tx: Tx) -> None:
            tx.claim_notifications([notification_id], "2026-12-02T10:00:00.000Z")
            tx.move_notification(notification_id, Event.RECEIPT_DELIVERED, "2026-12-02T10:00:01Z")
            with pytest.raises(TransitionRefused):
                tx.move_notification(notification_id, Event.ACCEPTED, "2026-12-02T10:00:02Z")

        await db.write(deliver_then_accept)
        assert (await record(db, notification_id)).state == "delivered"


async def test_a_notice_that_fails_for_good_goes_to_the_next_verified_channel(
    tmp_path: Path,
) -> None:
    """The chat cannot deliver it: the same notice goes by SMS to the person's verified phone
    (not to an unverified email), and the original says where it went."""
    with database(tmp_path) as db:

        def person(tx: Tx) -> str:
            contact = tx.create_contact(Sender("webchat", "session-1", verified=True))
            tx.add_identity(contact, Sender("email", "typed@example.ru", verified=False))
            tx.add_identity(contact, Sender("phone", "+79161234567", verified=True))
            return contact

        contact = await db.write(person)
        chat = Channel(outcomes=[DeliveryFailed("session gone", permanent=True)])
        sms = Channel()
        original = await queue(db, "Статус изменён", contact=contact)
        async with running(db, chat, channels={"sms": sms}):
            await until(lambda: sms.attempts)
            failed = await until_state(db, original, "failed")
        history = await db.read(lambda tx: tx.notification_history(original))
        copies = await db.read(
            lambda tx: tx.conn.execute(
                "SELECT channel, address, state FROM notifications WHERE id != ?", (original,)
            ).fetchall()
        )
    assert sms.texts() == ["Статус изменён"]
    assert copies == [("sms", "+79161234567", "sent")]
    assert history[-1]["event"] == "fell_back" and "sms" in history[-1]["reason"]
    assert failed.last_error == "session gone"


async def test_with_no_verified_channel_left_the_notice_is_a_dead_letter(tmp_path: Path) -> None:
    with database(tmp_path) as db:
        contact = await db.write(
            lambda tx: tx.create_contact(Sender("webchat", "session-1", verified=True))
        )
        chat = Channel(outcomes=[DeliveryFailed("session gone", permanent=True)])
        original = await queue(db, "Статус изменён", contact=contact)
        async with running(db, chat):
            await until_state(db, original, "dead")
        history = await db.read(lambda tx: tx.notification_history(original))
    assert [h["event"] for h in history][-2:] == ["refused", "no_fallback"]


async def suppress(db: Database, reason: str) -> None:
    """Put the chat address the notices go to on the suppression list for `reason`."""
    await db.write(
        lambda tx: tx.suppress("webchat", "session-1", reason, "2026-11-23T09:00:00Z", None)
    )


async def test_a_stopped_address_gets_the_confirmation_of_its_stop_and_nothing_else(
    tmp_path: Path,
) -> None:
    with database(tmp_path) as db:
        await suppress(db, "stop_requested")
        chat = Channel()
        notice = await queue(db, "Статус изменён")
        confirmation = await queue(db, "Вы отписались", confirms_stop=True)
        async with running(db, chat):
            await until_state(db, confirmation, "sent")
            suppressed = await until_state(db, notice, "dead")
    assert chat.texts() == ["Вы отписались"]
    assert suppressed.last_error == "suppressed: stop_requested"


@pytest.mark.parametrize("reason", ["bounced", "bot_blocked", "operator"])
async def test_the_confirmation_of_a_stop_goes_past_no_other_suppression(
    tmp_path: Path, reason: str
) -> None:
    with database(tmp_path) as db:
        await suppress(db, reason)
        chat = Channel()
        confirmation = await queue(db, "Вы отписались", confirms_stop=True)
        async with running(db, chat):
            suppressed = await until_state(db, confirmation, "dead")
    assert chat.attempts == []
    assert suppressed.last_error == f"suppressed: {reason}"


async def test_a_full_lane_holds_only_its_own_channel(tmp_path: Path) -> None:
    """70 SMS queued first, their peer answering none: the SMS lane fills (16 in flight, the
    rest queued) and the chat's notice behind them still goes out."""
    with database(tmp_path) as db:
        sms = Channel(hold=trio.Event())
        chat = Channel()
        for i in range(70):
            await queue(db, f"sms {i}", channel="sms", contact=None)
        await queue(db, "chat", contact=None)
        lanes = {"sms": Lane(concurrency=16), "webchat": Lane(concurrency=4)}
        async with running(db, chat, channels={"sms": sms}, lanes=lanes) as outbox:
            await until(lambda: chat.attempts)
            assert len(sms.attempts) == 16
            # With its lane full the loop waits for a slot: it does not claim over and over.
            claims = [0]
            claim = outbox._claim

            def counted(*args: Any, **kwargs: Any) -> Any:
                claims[0] += 1
                return claim(*args, **kwargs)

            outbox._claim = counted  # type: ignore[method-assign]
            outbox.wake()
            await trio.sleep(0.3)
            assert claims[0] <= 2
            sms.hold.set()
            await until(lambda: len(sms.attempts) == 70)


def test_pacing_spaces_notices_to_one_address() -> None:
    """address_rate 2 a second: turns 0.5 s apart for one address, none for another."""
    now = [100.0]
    pacing = Pacing(lambda: now[0])
    lane = Lane(address_rate=2.0)
    assert pacing.wait(lane, "sms", "default", "+1") == 0
    pacing.reserve(lane, "sms", "default", "+1")
    assert pacing.wait(lane, "sms", "default", "+1") == pytest.approx(0.5)
    assert pacing.wait(lane, "sms", "default", "+2") == 0
    now[0] += 0.5
    assert pacing.wait(lane, "sms", "default", "+1") == 0
    assert pacing.wait(Lane(), "sms", "default", "+1") == 0  # an unpaced lane never waits


async def test_a_paced_address_holds_no_slot_of_its_lane(tmp_path: Path) -> None:
    """One address paced at one notice a second: another address's notice goes at once, and
    the paced ones wait queued, not sending."""
    with database(tmp_path) as db:
        sms = Channel()
        for i in range(3):
            await queue(db, f"busy {i}", channel="sms", contact=None)
        lanes = {"sms": Lane(concurrency=1, address_rate=1.0)}

        async def other() -> str:
            now = time.time()
            notification_id, _ = await db.write(
                lambda tx: tx.queue_notification(
                    "test:other", "2026-11-23T10:00:00Z", now, ticket=None, contact_id=None,
                    channel="sms", account="default", address="other", kind="status",
                    automatic=False, text="other",
                )
            )  # fmt: skip
            return notification_id

        async with running(db, Channel(), channels={"sms": sms}, lanes=lanes) as outbox:
            await until(lambda: sms.attempts)
            late = await other()
            outbox.wake()
            await until(lambda: "other" in sms.texts())
            # The second busy notice still waits for its turn, and it waits queued.
            assert sms.texts().count("other") == 1 and len(sms.attempts) == 2
            states = await db.read(
                lambda tx: tx.conn.execute(
                    "SELECT state FROM notifications WHERE text LIKE 'busy%' ORDER BY text"
                ).fetchall()
            )
            assert [s for (s,) in states] == ["sent", "queued", "queued"]
            assert (await record(db, late)).state == "sent"


async def test_each_account_is_paced_by_its_own_lane(tmp_path: Path) -> None:
    """Two short numbers of one channel: the one whose SMSC takes a submit a second is paced
    so, and the other's notices do not wait behind that pace."""
    with database(tmp_path) as db:
        slow = [await queue_from(db, "sms", "slow", address) for address in ("a1", "a2")]
        fast = [await queue_from(db, "sms", "fast", address) for address in ("b1", "b2")]
        sms = Channel()
        lanes = {"sms": Lane(concurrency=4)}
        accounts = {
            ("sms", "slow"): Lane(concurrency=2, account_rate=1 / 60),
            ("sms", "fast"): Lane(concurrency=2),
        }
        async with running(
            db, Channel(), channels={"sms": sms}, lanes=lanes, account_lanes=accounts
        ):
            for notification_id in fast:
                await until_state(db, notification_id, "sent")
            states = [(await record(db, n)).state for n in slow]
    assert sorted(states) == ["queued", "sent"]  # the second waits a minute for its turn


async def test_a_flood_wait_holds_the_account_that_sent_whatever_account_the_notice_named(
    tmp_path: Path,
) -> None:
    """A notice naming no bot that sends ("default") goes out through the channel's first bot:
    the flood wait that bot is told holds that bot's own notices too, and no other bot's, nor
    those of a bot a reload is restarting (they wait for that bot, not for the first)."""
    with database(tmp_path) as db:
        bots = Channel(outcomes=[DeliveryFailed("429", retry_after=60, account_wide=True)])
        lanes = {"messenger": Lane(concurrency=4)}
        accounts = {("messenger", bot): Lane(concurrency=2) for bot in ("first", "second")}
        copy = await queue_from(db, "messenger", "default", "chat-1")
        async with running(
            db,
            Channel(),
            channels={"messenger": bots},
            lanes=lanes,
            account_lanes=accounts,
            restarting=frozenset({("messenger", "third")}),
        ) as outbox:
            await until_retry(db, copy)
            held = await queue_from(db, "messenger", "first", "chat-2")
            others = [
                await queue_from(db, "messenger", bot, "chat-3") for bot in ("second", "third")
            ]
            outbox.wake()
            for other in others:
                await until_state(db, other, "sent")
            await until_record(db, held, lambda r: r.next_attempt_at > time.time() + 30)
        history = await db.read(lambda tx: tx.notification_history(held))
    assert [h["event"] for h in history] == ["created", "paced"]  # never claimed meanwhile
    assert sorted(bots.texts()) == ["default chat-1", "second chat-3", "third chat-3"]


async def test_a_drain_gives_back_what_a_claim_took_after_it_began(tmp_path: Path) -> None:
    """The stop comes while a claim is committing: what it took goes back to queued, never
    attempted, and the drain ends."""
    with database(tmp_path) as db:
        notification_id = await queue(db, "Статус изменён")
        channel = Channel()
        holder: list[Outbox] = []

        def rate_while_stopping() -> RateLimit:
            holder[0].worker._draining = True  # the drain begins as this claim runs
            return NO_LIMIT

        outbox = Outbox(db, lambda: {"webchat": channel}, lambda: FAST_RETRY, rate_while_stopping)
        holder.append(outbox)
        async with trio.open_nursery() as nursery:
            await nursery.start(outbox.run)
            with trio.fail_after(10):
                await outbox.drain()
            nursery.cancel_scope.cancel()
        history = await db.read(lambda tx: tx.notification_history(notification_id))
    assert channel.attempts == []
    last = history[-1]
    assert (last["state"], last["event"]) == ("queued", "interrupted")


async def test_a_receipt_that_overtakes_the_answer_is_held_and_applied(tmp_path: Path) -> None:
    """SMPP can send deliver_sm before submit_sm_resp: the receipt waits for the reference."""
    with database(tmp_path) as db:
        reports = Reports(db, lambda: Fallback(()), lambda: None)
        channel = Channel(hold=trio.Event(), references=True)
        notification_id = await queue(db, "Статус изменён")
        async with running(db, channel):
            await until(lambda: channel.attempts)
            await reports.report("webchat", "ref-1", delivered=True)  # before the answer
            assert (await record(db, notification_id)).state == "sending"
            channel.hold.set()
            delivered = await until_state(db, notification_id, "delivered")
        history = await db.read(lambda tx: tx.notification_history(notification_id))
    assert delivered.attempts == 1
    assert [h["event"] for h in history][-2:] == ["accepted", "receipt_delivered"]


async def test_a_report_held_longer_than_its_horizon_moves_no_notice(tmp_path: Path) -> None:
    """A receipt held for a reference no notice had (another client's id, or one the SMSC has
    since reused) does not fail the notice that gets that reference an hour later."""
    with database(tmp_path) as db:
        reports = Reports(db, lambda: Fallback(()), lambda: None)
        long_ago = rfc3339(utc_now() - HELD_REPORTS_FOR - timedelta(minutes=1))
        for reference in ("ref-1", "ref-9"):  # the notice's to be, and one never named
            await db.write(
                lambda tx, r=reference: tx.hold_report("webchat", r, False, "old", long_ago, "")
            )
        notification_id = await queue(db, "Статус изменён")
        async with running(db, Channel(references=True)):
            sent = await until_state(db, notification_id, "sent")
            await reports.report("webchat", "ref-2", delivered=True)  # another, held now
        held = await db.read(
            lambda tx: tx.conn.execute("SELECT reference FROM early_reports").fetchall()
        )
    assert sent.last_error is None
    assert held == [("ref-2",)]  # holding it forgot ref-9, from before the horizon


async def test_a_reference_the_peer_reuses_names_its_newest_notice(tmp_path: Path) -> None:
    """An SMSC whose ids wrapped gives a new notice an id an old one had: its receipt is about
    the new one."""
    with database(tmp_path) as db:
        reports = Reports(db, lambda: Fallback(()), lambda: None)
        first = await queue(db, "Первое")
        async with running(db, Channel(references=True)):
            await until_state(db, first, "sent")
        second = await queue(db, "Второе")
        async with running(db, Channel(references=True)):  # numbers its answers from 1 again
            await until_state(db, second, "sent")
            await reports.report("webchat", "ref-1", delivered=True)
        states = [(await record(db, n)).state for n in (first, second)]
    assert states == ["sent", "delivered"]


async def test_a_bounce_after_sending_fails_the_notice_on_to_the_fallback(
    tmp_path: Path,
) -> None:
    with database(tmp_path) as db:

        def person(tx: Tx) -> str:
            contact = tx.create_contact(Sender("webchat", "session-1", verified=True))
            tx.add_identity(contact, Sender("phone", "+79161234567", verified=True))
            return contact

        contact = await db.write(person)
        reports = Reports(db, lambda: Fallback(("sms", "email")), lambda: None)
        chat, sms = Channel(references=True), Channel()
        notification_id = await queue(db, "Статус изменён", contact=contact)
        async with running(db, chat, channels={"sms": sms}) as outbox:
            await until_state(db, notification_id, "sent")
            await reports.report("webchat", "ref-1", delivered=False, reason="mailbox full")
            outbox.wake()
            await until(lambda: sms.attempts)
        failed = await record(db, notification_id)
        unknown = await db.read(lambda tx: tx.referenced_notification("webchat", "no-such-ref"))
    assert failed.state == "failed" and failed.last_error == "mailbox full"
    assert sms.texts() == ["Статус изменён"]
    assert unknown is None


async def test_a_notice_goes_through_its_account_else_the_channels_first() -> None:
    """router.daemon.through_account: a reply from where the citizen wrote; a copy naming no
    account that sends ("default"), through the channel's first."""
    used: list[str] = []

    def account(name: str) -> Callable[[Outbound], Awaitable[Sent]]:
        async def deliver(message: Outbound) -> Sent:
            used.append(name)
            return Sent()

        return deliver

    delivers = {"support": account("support"), "priem": account("priem")}
    for named in ("priem", "default", "support"):
        message = Outbound(
            id="n1", channel="email", account=named, address="a@b.example", kind="reply",
            ticket=None, text="", created_at="2026-12-04T10:00:00Z",
        )  # fmt: skip
        await through_account(delivers, frozenset(), message)
    assert used == ["priem", "support", "support"]
    # A reload restarting priem: its notice waits, not sent from the support mailbox.
    with pytest.raises(DeliveryFailed) as waiting:
        priem = msgspec.structs.replace(message, account="priem")
        await through_account(delivers, frozenset({"priem"}), priem)
    assert waiting.value.retry_after is not None and not waiting.value.permanent
    # A reload restarting support, the first: a copy naming no account waits for it too.
    with pytest.raises(DeliveryFailed):
        copy = msgspec.structs.replace(message, account="default")
        await through_account(delivers, frozenset({"support"}), copy)
    assert used == ["priem", "support", "support"]
