"""How a consumer reaches the store: through a protocol of its own, never a connection.

Each consumer (intake, filing, ticket updates, attachments, reports, the HTTP API, adapter
state, the daemon) defines a small `typing.Protocol` of the store methods it uses, next to its
code, and holds the database as a `Store` of that protocol. The function it hands to `read` or
`write` then sees only those methods, and mypy checks where the daemon wires a `Database` in
that its `Tx` implements the protocol. A PostgreSQL store implements the same protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
# Covariant: a Store handing a Tx is a Store of every protocol Tx implements.
View_co = TypeVar("View_co", covariant=True)


class Queued(Protocol[T_co]):
    """A write queued for its transaction."""

    async def committed(self) -> T_co:
        """Wait for the transaction to commit; what the function returned, or what it raised."""
        ...


class Store(Protocol[View_co]):
    """Runs functions inside a transaction, handing each the consumer's view of the store."""

    async def read(self, fn: Callable[[View_co], T]) -> T:
        """Run a read-only `fn` on a consistent snapshot; return what it returned."""
        ...

    def queue(self, fn: Callable[[View_co], T], *, urgent: bool = False) -> Queued[T]:
        """Queue `fn` for a write transaction now: functions queued one after another run in
        that order, each seeing the writes of those before it. Urgent ones (a peer waits on
        the commit) go before the rest and their transaction commits soon after them."""
        ...

    async def write(self, fn: Callable[[View_co], T], *, urgent: bool = False) -> T:
        """Run `fn` in a write transaction; return once that transaction has committed."""
        ...
