"""The web chat adapter's SessionStore, kept in the router's database."""

from __future__ import annotations

from channels.contract import OutboundFile
from channels.webchat.sessions import ChatSession, Notice
from router.clock import rfc3339, utc_now
from router.store.database import Database
from router.store.transaction import Tx


class ChatStore:
    """Sessions and notice history for channels.webchat."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, token_hash: str) -> ChatSession | None:
        """The session whose token hashes to `token_hash`."""
        return await self.db.read(lambda conn: Tx(conn).chat_session(token_hash))

    async def create(self, token_hash: str, language: str, identity: str | None) -> ChatSession:
        """Start a session."""
        now = rfc3339(utc_now())
        return await self.db.write(
            lambda conn: Tx(conn).create_chat_session(token_hash, language, identity, now)
        )

    async def current_ticket(self, session_id: str) -> str | None:
        """The ticket the session's conversation is about now."""
        ticket = await self.db.read(lambda conn: Tx(conn).conversation_ticket(f"chat:{session_id}"))
        return None if ticket is None else ticket.number

    async def notices_after(self, session_id: str, after: int) -> list[Notice]:
        """Notices after a sequence number, in order."""
        return await self.db.read(lambda conn: Tx(conn).notices_after(session_id, after))

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
        now = rfc3339(utc_now())
        notice = Notice(0, kind, ticket, text, now, attachments)
        return await self.db.write(
            lambda conn: Tx(conn).append_notice(session_id, notification_id, notice)
        )

    async def was_sent(self, session_id: str, attachment_id: str) -> bool:
        """Whether a notice of the session carries this file (only then may it download it)."""
        return await self.db.read(lambda conn: Tx(conn).notice_file(session_id, attachment_id))
