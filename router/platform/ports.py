"""The router's side of the ports a channel's adapters are handed: state and ticket lookups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from channels.contract import StateEntry
from dedupe.ports import TicketState
from router.clock import rfc3339, utc_now
from router.store.access import Store


class AdapterStateStore(Protocol):
    """The store as a channel's state port uses it: one channel's keys and streams."""

    def state_get(self, channel: str, key: str) -> bytes | None: ...
    def state_items(self, channel: str, prefix: str) -> list[tuple[str, bytes]]: ...
    def state_put(self, channel: str, changes: Mapping[str, bytes | None], now: str) -> None: ...
    def state_append(
        self, channel: str, stream: str, key: str, value: bytes, now: str
    ) -> StateEntry: ...
    def state_entries(self, channel: str, stream: str, after: int) -> list[StateEntry]: ...
    def state_last(self, channel: str, stream: str) -> int: ...


class TicketLookupStore(Protocol):
    """The store as the adapters' ticket lookup uses it."""

    def conversation_ticket(self, conversation_id: str) -> TicketState | None: ...


class ChannelState:
    """One channel's durable state (channels.contract.StatePort), kept in the database."""

    def __init__(self, db: Store[AdapterStateStore], channel: str) -> None:
        self.db = db
        self.channel = channel

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, if any."""
        return await self.db.read(lambda tx: tx.state_get(self.channel, key))

    async def items(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every key starting with `prefix`, in key order, with its value."""
        return await self.db.read(lambda tx: tx.state_items(self.channel, prefix))

    async def put(self, changes: Mapping[str, bytes | None]) -> None:
        """Set these keys (None deletes one) in one commit."""
        now = rfc3339(utc_now())
        await self.db.write(lambda tx: tx.state_put(self.channel, changes, now))

    async def append(self, stream: str, key: str, value: bytes) -> StateEntry:
        """Append to a stream once per `key`: appending a key again returns the first entry."""
        now = rfc3339(utc_now())
        return await self.db.write(
            lambda tx: tx.state_append(self.channel, stream, key, value, now)
        )

    async def entries(self, stream: str, after: int) -> list[StateEntry]:
        """A stream's entries after `after`, in order."""
        return await self.db.read(lambda tx: tx.state_entries(self.channel, stream, after))

    async def last(self, stream: str) -> int:
        """The seq of a stream's last entry, 0 for none."""
        return await self.db.read(lambda tx: tx.state_last(self.channel, stream))


class Tickets:
    """What adapters may read of the tickets (channels.contract.TicketLookup)."""

    def __init__(self, db: Store[TicketLookupStore]) -> None:
        self.db = db

    async def current_ticket(self, conversation_id: str) -> str | None:
        """The ticket a conversation is about now, if any."""
        ticket = await self.db.read(lambda tx: tx.conversation_ticket(conversation_id))
        return None if ticket is None else ticket.number
