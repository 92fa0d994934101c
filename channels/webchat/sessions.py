"""Web chat sessions and their notice history, kept through the adapter state port.

A session is the value under `session:TOKEN_HASH`. Notices are addressed to the session's
`address`: its own id, or the portal user's id when a signed identity vouches for it (so every
session of that user, on any tab or device, shares them). Each address's notices are the stream
`notices:ADDRESS`, appended once per notification; each file a notice carried is a key
`file:ADDRESS:ATTACHMENT_ID`, which lets its sessions download it. The phone and email the portal
last signed for a user are `user:USER_ID`, so that every session of theirs vouches for those and
no longer for the ones signed before. Values are JSON, which the migration that moved the
sessions here (0009) writes too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from channels.contract import (
    Outbound,
    OutboundFile,
    StateEntry,
    StatePort,
    StreamAppend,
    rfc3339,
)

from .identity import PortalUser


class Notice(msgspec.Struct, frozen=True):
    """One entry of a session's history, `seq` ordering it for resume: a notice to the
    citizen, or (kind `citizen`) a message of theirs, by its client_id."""

    seq: int
    kind: str
    ticket: str | None
    text: str
    at: str
    attachments: list[OutboundFile] = []
    status: str | None = None
    client_id: str | None = None


class ChatSession(msgspec.Struct, frozen=True):
    """A session; its bearer token is never stored, only the token's hash. `identity` is the
    portal user a signed identity proved, with the phone and email the portal vouched for."""

    id: str
    language: str
    last_seq: int
    identity: str | None
    phone: str | None = None
    email: str | None = None

    @property
    def address(self) -> str:
        """Where its notices go: the portal user's, or the session's own."""
        return self.identity or self.id


class _Kept(msgspec.Struct, frozen=True):
    """A session as kept under its token's hash."""

    id: str
    language: str
    identity: str | None
    phone: str | None = None
    email: str | None = None


class _Vouched(msgspec.Struct, frozen=True):
    """The phone and email the portal last signed for its user."""

    phone: str | None
    email: str | None


class _KeptNotice(msgspec.Struct, frozen=True, omit_defaults=True):
    """A notice as kept in its session's stream (its seq is the entry's)."""

    kind: str
    ticket: str | None
    text: str
    at: str
    attachments: list[OutboundFile] = []
    status: str | None = None
    client_id: str | None = None


_session_decoder = msgspec.json.Decoder(_Kept)
_notice_decoder = msgspec.json.Decoder(_KeptNotice)
_vouched_decoder = msgspec.json.Decoder(_Vouched)


class ChatSessions:
    """The chat's sessions and notice history."""

    def __init__(self, state: StatePort) -> None:
        self.state = state

    async def find(self, token_hash: str) -> ChatSession | None:
        """The session whose token hashes to `token_hash`."""
        value = await self.state.get(f"session:{token_hash}")
        if value is None:
            return None
        kept = _session_decoder.decode(value)
        last = await self.state.last(f"notices:{kept.identity or kept.id}")
        phone, email = kept.phone, kept.email
        if kept.identity is not None:
            # What the portal signed last, at any session's hello, over what it signed at this
            # one's start (a session kept before user keys were has only the latter).
            vouched = await self.state.get(f"user:{kept.identity}")
            if vouched is not None:
                phone, email = msgspec.structs.astuple(_vouched_decoder.decode(vouched))
        return ChatSession(kept.id, kept.language, last, kept.identity, phone, email)

    async def create(
        self, token_hash: str, language: str, user: PortalUser | None = None
    ) -> ChatSession:
        """Start a session, anonymous or for the portal user a signed identity proved."""
        identity, phone, email = user or (None, None, None)
        kept = _Kept(uuid.uuid4().hex, language, identity, phone, email)
        changes = {f"session:{token_hash}": msgspec.json.encode(kept)}
        if identity is not None:
            changes[f"user:{identity}"] = msgspec.json.encode(_Vouched(phone, email))
        await self.state.put(changes)
        last = await self.state.last(f"notices:{identity}") if identity else 0
        return ChatSession(kept.id, language, last, identity, phone, email)

    async def vouch(self, session: ChatSession, user: PortalUser) -> ChatSession:
        """The session of a portal user resumed with their identity signed anew: its phone and
        email are the ones signed now, for every session of the user from then on."""
        if (session.phone, session.email) == (user.phone, user.email):
            return session
        vouched = _Vouched(user.phone, user.email)
        await self.state.put({f"user:{user.user_id}": msgspec.json.encode(vouched)})
        return msgspec.structs.replace(session, phone=user.phone, email=user.email)

    async def notices_after(
        self, address: str, after: int, limit: int | None = None
    ) -> list[Notice]:
        """An address's notices after a sequence number, in order; the first `limit` if given."""
        entries = await self.state.entries(f"notices:{address}", after, limit)
        return [_notice(entry.seq, _notice_decoder.decode(entry.value)) for entry in entries]

    async def append(self, address: str, notice: Outbound) -> Notice:
        """Append a notice once per notification id and return it as kept."""
        # The files first: once the notice can be seen, its files can be downloaded.
        if notice.attachments:
            await self.state.put({f"file:{address}:{a.id}": b"" for a in notice.attachments})
        kept = _KeptNotice(
            notice.kind,
            notice.ticket,
            notice.text,
            rfc3339(datetime.now(UTC)),
            notice.attachments,
            status=notice.status,
        )
        return await self._append(
            StreamAppend(f"notices:{address}", notice.id, msgspec.json.encode(kept))
        )

    def writing(self, address: str, client_id: str, text: str) -> StreamAppend:
        """The history entry of a message the citizen wrote, for the intake to append in the
        commit that accepts it: the history of every tab and device shows what was written as
        well as what was answered, and never a message the store refused."""
        kept = _KeptNotice("citizen", None, text, rfc3339(datetime.now(UTC)), client_id=client_id)
        # Keyed by the address too: entry keys are unique in the whole channel, and another
        # session's client_id must never name (and be answered with) this one's entry.
        key = f"message:{address}:{client_id}"
        return StreamAppend(f"notices:{address}", key, msgspec.json.encode(kept))

    async def written(self, entry: StreamAppend, kept: Sequence[StateEntry]) -> Notice:
        """The history entry of an accepted message: as its commit `kept` it, else (a message
        journalled but not filed) appended now, once per client_id."""
        if kept:
            return _notice(kept[0].seq, _notice_decoder.decode(kept[0].value))
        return await self._append(entry)

    async def _append(self, entry: StreamAppend) -> Notice:
        kept = await self.state.append(*entry)
        return _notice(kept.seq, _notice_decoder.decode(kept.value))

    async def was_sent(self, address: str, attachment_id: str) -> bool:
        """Whether a notice to the address carries this file (only then may it download it)."""
        return await self.state.get(f"file:{address}:{attachment_id}") is not None


def _notice(seq: int, kept: _KeptNotice) -> Notice:
    return Notice(
        seq, kept.kind, kept.ticket, kept.text, kept.at, kept.attachments,
        kept.status, kept.client_id,
    )  # fmt: skip
