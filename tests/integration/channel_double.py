"""A test-only channel plug-in (never shipped) that exercises the channel contract end to end.

Registered for a test daemon through an entry point in a dist-info folder on its PYTHONPATH,
as a third-party channel package would be; it stands in for the messenger channel (and, for
fallbacks, the SMS channel), whose adapters are not installed yet. Its accounts stay up or
crash on purpose, hand the intake raw deliveries (journal first, parsed after), and answer
deliveries as the address asks: throttled once, blocked for good, or with a receipt that
overtakes the answer to the attempt.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

import trio
import trio_asyncio
from pydantic import BaseModel, ConfigDict
from starlette.routing import BaseRoute

from channels.contract import (
    AccountSpec,
    Adapter,
    Channel,
    CommandRow,
    Deliver,
    DeliveryFailed,
    DeliveryReport,
    DoesNotFit,
    Fit,
    Lane,
    Outbound,
    Parser,
    Ports,
    RawInbound,
    Received,
    Sender,
    Sent,
    Unparseable,
    rfc3339,
)
from channels.openapi import HttpDocs


class DoubleAccount(BaseModel):
    """[accounts.NAME]: `steady` stays up; `crashing` fails a moment after each start.

    `inbound`: deliveries the account receives once up, each `USER\\nTEXT`, where USER may link
    a phone the channel vouches for (`42+phone:+79161234567`) or start with `?` for a sender the
    channel does not vouch for; one that starts with `!` cannot be parsed. A notice to an
    address `bounced-*` comes back as a bounce (`#bounce:ADDRESS`), as an MTA's would.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    behaviour: Literal["steady", "crashing"] = "steady"
    channel: Literal["messenger", "sms"] = "messenger"
    inbound: list[str] = []


class DoubleFile(BaseModel):
    """channels/messenger.toml as the double reads it: a messenger message holds
    `messenger_chars` (longer texts are split at paragraphs), an SMS `sms_chars` (longer ones
    do not fit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False
    messenger_chars: int = 4096
    sms_chars: int = 1000
    accounts: dict[str, DoubleAccount] = {}


def split_at_paragraphs(text: str, limit: int) -> list[str]:
    """`text` in messages of at most `limit` characters, cut between paragraphs."""
    parts: list[str] = []
    for paragraph in text.split("\n\n"):
        if len(paragraph) > limit:
            raise DoesNotFit(f"a paragraph of {len(paragraph)} characters, over {limit}")
        if parts and len(parts[-1]) + 2 + len(paragraph) <= limit:
            parts[-1] += "\n\n" + paragraph
        else:
            parts.append(paragraph)
    return parts


def within(text: str, limit: int) -> list[str]:
    """`text` as one message, or DoesNotFit over `limit` characters."""
    if len(text) > limit:
        raise DoesNotFit(f"{len(text)} characters, over {limit}")
    return [text]


def parse(received: Received) -> RawInbound | DeliveryReport:
    """The double's parser: `[?|~]USER[+phone:NUMBER]\\nTEXT`, where `?` marks a sender the
    channel does not vouch for (a forged one), `~` a message sent by a machine (an autoreply)."""
    if received.payload.startswith(b"!"):
        raise Unparseable("the payload starts with '!'")
    if received.payload.startswith(b"#bounce:"):
        # As an email bounce is: a report on the notice sent to ADDRESS, which never arrives.
        address = received.payload.decode().removeprefix("#bounce:")
        return DeliveryReport(
            [f"ref-{address}"], False, "550 5.1.1 no such user", address, suppress_for=3600
        )
    user, _, text = received.payload.decode().partition("\n")
    forged, automatic = user.startswith("?"), user.startswith("~")
    user, _, phone = user.lstrip("?~").partition("+phone:")
    links = [Sender("phone", phone, verified=True)] if phone else []
    kind = "phone" if received.channel == "sms" else "telegram"
    return RawInbound(
        channel=received.channel,
        account=received.account,
        idempotency_key=received.idempotency_key,
        channel_message_id=received.idempotency_key,
        sender=Sender(kind, user, verified=not forged),
        text=text,
        received_at=received.received_at,
        verified_links=links,
        flags=["auto_submitted"] if automatic else [],
    )


class DoubleAdapter:
    """Counts its runs and what it was handed to deliver; a crashing one raises 50 ms after
    it said it was up."""

    websocket_max_message = 0
    lane = Lane(attempt_timeout=5.0)

    def __init__(self, spec: AccountSpec, ports: Ports) -> None:
        settings = cast(DoubleAccount, spec.settings)
        self.channel: Channel = spec.channel
        self.account = spec.account
        self.behaviour = settings.behaviour
        self.inbound = settings.inbound
        self.ports = ports
        self.runs = 0
        self.loop = ""
        self.receipts: list[dict[str, object]] = []
        self.deliveries: list[dict[str, object]] = []
        self._bounce, self._bounces = trio.open_memory_channel[str](100)

    def routes(self) -> Sequence[BaseRoute]:
        return []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.runs += 1
        # As the email and Telegram adapters do: an asyncio library's call, in the daemon's
        # asyncio loop (it raises if the daemon opened none).
        self.loop = await trio_asyncio.aio_as_trio(_running_loop)()
        task_status.started()
        if self.behaviour == "crashing":
            await trio.sleep(0.05)
            raise ConnectionResetError(f"the double's peer hung up (run {self.runs})")
        for index, payload in enumerate(self.inbound):
            await self._receive(f"{self.account}:{index}", payload, index + 1)
        async for address in self._bounces:
            await self._receive(f"{self.account}:bounce:{address}", f"#bounce:{address}")

    async def _receive(self, key: str, payload: str, next_index: int | None = None) -> None:
        received = Received(
            channel=self.channel,
            account=self.account,
            idempotency_key=key,
            received_at=rfc3339(datetime.now(UTC)),
            content_type="text/plain; charset=utf-8",
            payload=payload.encode(),
            sender=Sender("telegram", payload.partition("\n")[0].partition("+")[0].lstrip("?")),
        )
        state = {} if next_index is None else {f"{self.account}:next": b"%d" % next_index}
        receipt = await self.ports.intake.receive(received, state)
        self.receipts.append({"key": key, "redelivery": receipt.redelivery})

    def stop_intake(self) -> None:
        pass

    def detail(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "asyncio": self.loop,
            "receipts": self.receipts,
            "deliveries": self.deliveries,
        }

    @property
    def deliver(self) -> Deliver:
        return self._deliver

    async def _deliver(self, message: Outbound) -> Sent:
        """Answer as the address asks: `throttled-*` once with a 429, `blocked-*` for good,
        `early-*` with a receipt sent before the answer, `bounced-*` taken and then bounced;
        anything else taken."""
        attempts = sum(1 for d in self.deliveries if d["id"] == message.id) + 1
        self.deliveries.append(
            {"id": message.id, "address": message.address, "attempt": attempts,
             "parts": len(message.parts)}
        )  # fmt: skip
        if message.address.startswith("throttled-") and attempts == 1:
            raise DeliveryFailed("429 Too Many Requests", retry_after=0.5)
        if message.address.startswith("blocked-"):
            raise DeliveryFailed("403 Forbidden: bot was blocked by the user", permanent=True)
        reference = f"ref-{message.id}"
        if message.address.startswith("bounced-"):
            # An MTA takes it, then bounces it back (named by address in the double).
            reference = f"ref-{message.address}"
            self._bounce.send_nowait(message.address)
        if message.address.startswith("early-"):
            assert self.ports.reports is not None
            await self.ports.reports.report(self.channel, reference, delivered=True)
        return Sent(references=(reference,))


async def _running_loop() -> str:
    """The class of the asyncio loop this coroutine runs in."""
    return type(asyncio.get_running_loop()).__name__


class DoublePlugin:
    """The plug-in the entry point names."""

    name = "messenger"
    settings_model: type[BaseModel] = DoubleFile
    http_docs = HttpDocs()
    parsers: Mapping[Channel, Parser] = {"messenger": Parser(parse), "sms": Parser(parse)}
    # As a Telegram bot would: the app sends "/start" when a citizen first opens the bot.
    commands: Mapping[Channel, Sequence[CommandRow]] = {
        "messenger": (CommandRow("help", None, ("/start",)),)
    }

    def fit(self, channel: Channel, settings: BaseModel) -> Fit:
        file = cast(DoubleFile, settings)
        if channel == "sms":
            return functools.partial(within, limit=file.sms_chars)
        return functools.partial(split_at_paragraphs, limit=file.messenger_chars)

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        file = cast(DoubleFile, settings)
        if not file.enabled:
            return []
        return [AccountSpec(spec.channel, name, spec) for name, spec in file.accounts.items()]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        return DoubleAdapter(spec, ports)


PLUGIN = DoublePlugin()


def install(site: Path) -> Path:
    """A dist-info in `site` whose entry point registers the double; put `site` on the path."""
    info = site / "omnirouter_channel_double-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: omnirouter-channel-double\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[omnirouter.channels]\nmessenger = tests.integration.channel_double:PLUGIN\n"
    )
    return site
