"""Web chat sessions and their notice history, as the adapter needs them from a store."""

from __future__ import annotations

from typing import Protocol

import msgspec

from channels.contract import OutboundFile


class Notice(msgspec.Struct, frozen=True):
    """One notice in a session's history; `seq` orders it for resume."""

    seq: int
    kind: str
    ticket: str | None
    text: str
    at: str
    attachments: list[OutboundFile] = []


class ChatSession(msgspec.Struct, frozen=True):
    """A session; its bearer token is never stored, only the token's hash."""

    id: str
    language: str
    last_seq: int
    identity: str | None


class SessionStore(Protocol):
    """Persistence the web chat adapter is handed by the router."""

    async def find(self, token_hash: str) -> ChatSession | None:
        """The session whose token hashes to `token_hash`."""
        ...

    async def create(self, token_hash: str, language: str, identity: str | None) -> ChatSession:
        """Start a session."""
        ...

    async def current_ticket(self, session_id: str) -> str | None:
        """The ticket the session's conversation is about now."""
        ...

    async def notices_after(self, session_id: str, after: int) -> list[Notice]:
        """Notices after a sequence number, in order."""
        ...

    async def append(
        self,
        session_id: str,
        notification_id: str,
        kind: str,
        ticket: str | None,
        text: str,
        attachments: list[OutboundFile],
    ) -> Notice:
        """Append a notice once per notification id and return it."""
        ...

    async def was_sent(self, session_id: str, attachment_id: str) -> bool:
        """Whether a notice of the session carries this file (only then may it download it)."""
        ...
