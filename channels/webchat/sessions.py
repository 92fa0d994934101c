"""Web chat sessions and their notice history, kept through the adapter state port.

A session is the value under `session:TOKEN_HASH`; its notices are the stream
`notices:SESSION_ID`, appended once per notification; each file a notice carried is a key
`file:SESSION_ID:ATTACHMENT_ID`, which lets the session download it. Values are JSON, which
the migration that moved the sessions here (0009) writes too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from channels.contract import OutboundFile, StatePort, TicketLookup, rfc3339


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


class _Kept(msgspec.Struct, frozen=True):
    """A session as kept under its token's hash."""

    id: str
    language: str
    identity: str | None


class _KeptNotice(msgspec.Struct, frozen=True):
    """A notice as kept in its session's stream (its seq is the entry's)."""

    kind: str
    ticket: str | None
    text: str
    at: str
    attachments: list[OutboundFile] = []


_session_decoder = msgspec.json.Decoder(_Kept)
_notice_decoder = msgspec.json.Decoder(_KeptNotice)


class ChatSessions:
    """The chat's sessions and notice history."""

    def __init__(self, state: StatePort, tickets: TicketLookup) -> None:
        self.state = state
        self.tickets = tickets

    async def find(self, token_hash: str) -> ChatSession | None:
        """The session whose token hashes to `token_hash`."""
        value = await self.state.get(f"session:{token_hash}")
        if value is None:
            return None
        kept = _session_decoder.decode(value)
        last = await self.state.last(f"notices:{kept.id}")
        return ChatSession(kept.id, kept.language, last, kept.identity)

    async def create(self, token_hash: str, language: str, identity: str | None) -> ChatSession:
        """Start a session."""
        kept = _Kept(uuid.uuid4().hex, language, identity)
        await self.state.put({f"session:{token_hash}": msgspec.json.encode(kept)})
        return ChatSession(kept.id, language, 0, identity)

    async def current_ticket(self, session_id: str) -> str | None:
        """The ticket the session's conversation is about now."""
        return await self.tickets.current_ticket(f"chat:{session_id}")

    async def notices_after(self, session_id: str, after: int) -> list[Notice]:
        """Notices after a sequence number, in order."""
        entries = await self.state.entries(f"notices:{session_id}", after)
        return [_notice(entry.seq, _notice_decoder.decode(entry.value)) for entry in entries]

    async def append(
        self,
        session_id: str,
        notification_id: str,
        kind: str,
        ticket: str | None,
        text: str,
        attachments: list[OutboundFile],
    ) -> Notice:
        """Append a notice once per notification id and return it as kept."""
        # The files first: once the notice can be seen, its files can be downloaded.
        if attachments:
            await self.state.put({f"file:{session_id}:{a.id}": b"" for a in attachments})
        kept = _KeptNotice(kind, ticket, text, rfc3339(datetime.now(UTC)), attachments)
        entry = await self.state.append(
            f"notices:{session_id}", notification_id, msgspec.json.encode(kept)
        )
        return _notice(entry.seq, _notice_decoder.decode(entry.value))

    async def was_sent(self, session_id: str, attachment_id: str) -> bool:
        """Whether a notice of the session carries this file (only then may it download it)."""
        return await self.state.get(f"file:{session_id}:{attachment_id}") is not None


def _notice(seq: int, kept: _KeptNotice) -> Notice:
    return Notice(seq, kept.kind, kept.ticket, kept.text, kept.at, kept.attachments)
