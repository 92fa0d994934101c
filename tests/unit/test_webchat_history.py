"""The chat's history over the real intake and store: a message the store refused is not in it,
and the same client_id sent again is filed and listed once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import msgspec

from channels.contract import (
    Acceptance,
    AccountSpec,
    AttachmentPort,
    Ports,
    RawInbound,
    StreamAppend,
)
from channels.webchat.adapter import WebchatChannel, _Connection
from channels.webchat.config import WebchatSettings
from channels.webchat.frames import encode_frame
from router.intake.journal import Intake
from router.platform.ports import ChannelState, Tickets
from router.store.blobs import FileBlobStore
from router.store.database import Database

from .test_filing import filer


class DiskFullOnce:
    """The real intake, but its first commit fails as a full disk would."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.failed = False

    async def accept(self, raw: RawInbound, history: Sequence[StreamAppend] = ()) -> Acceptance:
        if not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")
        return await self.intake.accept(raw, history)


class Socket:
    """A chat connection as the adapter sees it, keeping what is sent to it."""

    def __init__(self) -> None:
        self.address = "127.0.0.1"
        self.session = None
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: msgspec.Struct) -> None:
        self.frames.append(json.loads(encode_frame(frame)))

    def push(self, frame: msgspec.Struct) -> bool:
        self.frames.append(json.loads(encode_frame(frame)))
        return True


async def test_a_refused_message_is_not_in_the_history_and_its_resend_is_once(
    db: Database, tmp_path: Path
) -> None:
    rules = filer()
    intake = DiskFullOnce(
        Intake(db, FileBlobStore(tmp_path / "blobs"), lambda: rules, lambda: 20000, lambda _: None)
    )
    settings = WebchatSettings()
    ports = Ports(
        intake=intake,  # type: ignore[arg-type]
        attachments=cast(AttachmentPort, None),  # a message without files asks nothing of it
        bad_input=lambda channel, reason: None,
        state=ChannelState(db, "webchat"),
        tickets=Tickets(db, lambda: rules.catalogue),
    )
    chat = WebchatChannel(AccountSpec("webchat", "portal", settings), lambda: settings, ports)
    socket = Socket()
    conn = cast(_Connection, socket)

    async def frame(**fields: object) -> dict[str, Any]:
        await chat._on_frame(conn, json.dumps(fields))
        return socket.frames[-1]

    assert (await frame(type="hello", session=None, identity=None, lang="ru"))["type"] == "welcome"
    write = {"type": "message", "client_id": "c1", "text": "Не приходит код подтверждения"}
    refused = await frame(**write)
    assert refused["type"] == "error" and refused["code"] == "unavailable", refused

    # Another tab resumes: nothing shows the message as sent.
    session = socket.session
    assert session is not None
    assert await chat.sessions.notices_after(session.address, 0) == []

    accepted = await frame(**write)
    assert socket.frames[-2]["type"] == "accepted" and accepted["kind"] == "citizen"
    again = await frame(**write)
    assert again["kind"] == "citizen" and again["seq"] == accepted["seq"]
    [written] = await chat.sessions.notices_after(session.address, 0)
    assert (written.kind, written.client_id) == ("citizen", "c1")
    envelopes = await db.read(
        lambda tx: tx.conn.execute("SELECT count(*) FROM envelopes").fetchone()[0]
    )
    assert envelopes == 1

    # Another session whose client picked the same client_id: its own message, its own entry,
    # never the first session's text.
    other = Socket()

    async def other_frame(**fields: object) -> dict[str, Any]:
        await chat._on_frame(cast(_Connection, other), json.dumps(fields))
        return other.frames[-1]

    await other_frame(type="hello", session=None, identity=None, lang="ru")
    theirs = await other_frame(type="message", client_id="c1", text="Другой вопрос")
    assert theirs["kind"] == "citizen" and theirs["text"] == "Другой вопрос"
    assert other.session is not None
    [own] = await chat.sessions.notices_after(other.session.address, 0)
    assert own.text == "Другой вопрос"
    assert [n.text for n in await chat.sessions.notices_after(session.address, 0)] == [
        "Не приходит код подтверждения"
    ]
