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
# Covariant: a Store handing a Tx is a Store of every protocol Tx implements.
View_co = TypeVar("View_co", covariant=True)


class Store(Protocol[View_co]):
    """Runs functions inside a transaction, handing each the consumer's view of the store."""

    async def read(self, fn: Callable[[View_co], T]) -> T:
        """Run a read-only `fn` on a consistent snapshot; return what it returned."""
        ...

    async def write(self, fn: Callable[[View_co], T]) -> T:
        """Run `fn` in a write transaction; return once that transaction has committed."""
        ...
