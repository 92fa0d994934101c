"""The router's side of the ports a channel's adapters are handed: state and ticket lookups."""

from __future__ import annotations

from collections.abc import Mapping

from channels.contract import StateEntry
from router.clock import rfc3339, utc_now
from router.store.database import Database
from router.store.transaction import Tx


class ChannelState:
    """One channel's durable state (channels.contract.StatePort), kept in the database."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, if any."""
        return await self.db.read(lambda conn: Tx(conn).state_get(self.channel, key))

    async def items(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every key starting with `prefix`, in key order, with its value."""
        return await self.db.read(lambda conn: Tx(conn).state_items(self.channel, prefix))

    async def put(self, changes: Mapping[str, bytes | None]) -> None:
        """Set these keys (None deletes one) in one commit."""
        now = rfc3339(utc_now())
        await self.db.write(lambda conn: Tx(conn).state_put(self.channel, changes, now))

    async def append(self, stream: str, key: str, value: bytes) -> StateEntry:
        """Append to a stream once per `key`: appending a key again returns the first entry."""
        now = rfc3339(utc_now())
        return await self.db.write(
            lambda conn: Tx(conn).state_append(self.channel, stream, key, value, now)
        )

    async def entries(self, stream: str, after: int) -> list[StateEntry]:
        """A stream's entries after `after`, in order."""
        return await self.db.read(lambda conn: Tx(conn).state_entries(self.channel, stream, after))

    async def last(self, stream: str) -> int:
        """The seq of a stream's last entry, 0 for none."""
        return await self.db.read(lambda conn: Tx(conn).state_last(self.channel, stream))


class Tickets:
    """What adapters may read of the tickets (channels.contract.TicketLookup)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def current_ticket(self, conversation_id: str) -> str | None:
        """The ticket a conversation is about now, if any."""
        ticket = await self.db.read(lambda conn: Tx(conn).conversation_ticket(conversation_id))
        return None if ticket is None else ticket.number
