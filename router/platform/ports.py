"""The router's side of the ports a channel's adapters are handed: state and ticket lookups."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from channels.contract import Sender, StateEntry, TicketSummary, Topic
from dedupe.identity import canonical_contact
from dedupe.ports import DedupeState
from router.clock import rfc3339, utc_now
from router.delivery.suppression import KINDS
from router.store.access import Store
from router.ticketing.catalogue import Catalogue

# The channel that reaches an address of each kind ("phone" by SMS).
_CHANNEL_OF_KIND = {kind: channel for channel, kind in KINDS.items()}


class AdapterStateStore(Protocol):
    """The store as a channel's state port uses it: one channel's keys and streams."""

    def state_get(self, channel: str, key: str) -> bytes | None: ...
    def state_items(self, channel: str, prefix: str) -> list[tuple[str, bytes]]: ...
    def state_put(self, channel: str, changes: Mapping[str, bytes | None], now: str) -> None: ...
    def state_append(
        self, channel: str, stream: str, key: str, value: bytes, now: str
    ) -> StateEntry: ...
    def state_entries(
        self, channel: str, stream: str, after: int, limit: int | None = None
    ) -> list[StateEntry]: ...
    def state_last(self, channel: str, stream: str) -> int: ...


class TicketLookupStore(DedupeState, Protocol):
    """The store as the adapters' ticket lookup uses it: with dedupe's state, to find the
    person who holds an identity."""

    def contact_tickets(self, contact_ids: list[str], since: str) -> list[tuple[str, str, str]]: ...
    def declare_recipient(
        self, conversation_id: str, channel: str, address: str, at: str
    ) -> None: ...


class ChannelState:
    """One channel's durable state (channels.contract.StatePort), kept in the database.

    Its writes are urgent, as every port's: an adapter writes on a peer's behalf (a long SMS's
    part, a mailbox's last UID) and answers the peer after the commit."""

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
        await self.db.write(lambda tx: tx.state_put(self.channel, changes, now), urgent=True)

    async def append(self, stream: str, key: str, value: bytes) -> StateEntry:
        """Append to a stream once per `key`: appending a key again returns the first entry."""
        now = rfc3339(utc_now())
        return await self.db.write(
            lambda tx: tx.state_append(self.channel, stream, key, value, now), urgent=True
        )

    async def entries(self, stream: str, after: int, limit: int | None = None) -> list[StateEntry]:
        """A stream's entries after `after`, in order; the first `limit` of them if given."""
        return await self.db.read(lambda tx: tx.state_entries(self.channel, stream, after, limit))

    async def last(self, stream: str) -> int:
        """The seq of a stream's last entry, 0 for none."""
        return await self.db.read(lambda tx: tx.state_last(self.channel, stream))


class Tickets:
    """What adapters may read of the tickets (channels.contract.TicketLookup)."""

    def __init__(self, db: Store[TicketLookupStore], catalogue: Callable[[], Catalogue]) -> None:
        self.db = db
        self.catalogue = catalogue

    async def current_ticket(self, conversation_id: str) -> str | None:
        """The ticket a conversation is about now, if any."""
        ticket = await self.db.read(lambda tx: tx.conversation_ticket(conversation_id))
        return None if ticket is None else ticket.number

    async def contact_tickets(
        self, identity: Sender, since: str, language: str
    ) -> list[TicketSummary]:
        """The tickets of the person who holds `identity`, active since `since`, newest first."""

        def tickets(tx: TicketLookupStore) -> list[tuple[str, str, str]]:
            own = tx.identity_contact(identity)
            if own is None:
                return []
            person = canonical_contact(tx, own)
            return tx.contact_tickets(tx.merged_contacts(person), since)

        catalogue = self.catalogue()
        return [
            TicketSummary(number, status, code, catalogue.category_name(code, language))
            for number, status, code in await self.db.read(tickets)
        ]

    async def topics(self, language: str) -> list[Topic]:
        """The categories of categories.toml, by code, named in `language`."""
        catalogue = self.catalogue()
        return [
            Topic(code, catalogue.category_name(code, language))
            for code in sorted(catalogue.categories)
        ]

    async def declare_recipients(self, conversation_id: str, addresses: list[Sender]) -> None:
        """The conversation's tickets' notices go to these addresses too (declared, not
        verified), in one commit."""
        routes = []
        for address in addresses:
            channel = _CHANNEL_OF_KIND.get(address.kind)
            if channel is None or channel == "webchat":
                raise ValueError(f"notices cannot go to an address of kind {address.kind!r}")
            routes.append((channel, address.address))
        at = rfc3339(utc_now())

        def declare(tx: TicketLookupStore) -> None:
            for channel, address in routes:
                tx.declare_recipient(conversation_id, channel, address, at)

        await self.db.write(declare, urgent=True)
