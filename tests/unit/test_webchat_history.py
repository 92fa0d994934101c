"""The chat's history over the real intake and store: a message the store refused is not in it,
and the same client_id sent again is filed and listed once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest

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


def chat_over(
    db: Database, tmp_path: Path, intake: Callable[[Intake], Any] = lambda intake: intake
) -> WebchatChannel:
    """The chat over the real intake (as `intake` wraps it) and store."""
    rules = filer()
    blobs = FileBlobStore(tmp_path / "blobs")
    settings = WebchatSettings()
    ports = Ports(
        intake=intake(Intake(db, blobs, lambda: rules, lambda: 20000, lambda _: None)),
        attachments=cast(AttachmentPort, None),  # a message without files asks nothing of it
        bad_input=lambda channel, reason: None,
        state=ChannelState(db, "webchat"),
        tickets=Tickets(db, lambda: rules.catalogue),
    )
    return WebchatChannel(AccountSpec("webchat", "portal", settings), lambda: settings, ports)


def framing(chat: WebchatChannel, socket: Socket) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Send a client frame on `socket`; the last frame it got back."""

    async def frame(**fields: object) -> dict[str, Any]:
        await chat._on_frame(cast(_Connection, socket), json.dumps(fields))
        return socket.frames[-1]

    return frame


async def test_a_refused_message_is_not_in_the_history_and_its_resend_is_once(
    db: Database, tmp_path: Path
) -> None:
    chat = chat_over(db, tmp_path, DiskFullOnce)
    socket = Socket()
    frame = framing(chat, socket)

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
    other_frame = framing(chat, other)

    await other_frame(type="hello", session=None, identity=None, lang="ru")
    theirs = await other_frame(type="message", client_id="c1", text="Другой вопрос")
    assert theirs["kind"] == "citizen" and theirs["text"] == "Другой вопрос"
    assert other.session is not None
    [own] = await chat.sessions.notices_after(other.session.address, 0)
    assert own.text == "Другой вопрос"
    assert [n.text for n in await chat.sessions.notices_after(session.address, 0)] == [
        "Не приходит код подтверждения"
    ]


async def test_a_resume_replays_a_long_history_a_page_at_a_time(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every notice after the one asked for, in order, none read more than a page at once."""
    monkeypatch.setattr("channels.webchat.adapter.RESUME_PAGE", 2)
    chat = chat_over(db, tmp_path)
    socket = Socket()
    frame = framing(chat, socket)
    await frame(type="hello", session=None, identity=None, lang="ru")
    for n in range(5):
        await frame(type="message", client_id=f"c{n}", text=f"Вопрос {n}")
    read: list[int | None] = []
    entries = chat.sessions.state.entries

    async def counted(stream: str, after: int, limit: int | None = None) -> Any:
        read.append(limit)
        return await entries(stream, after, limit)

    monkeypatch.setattr(chat.sessions.state, "entries", counted)
    socket.frames.clear()
    await frame(type="resume", after_seq=0)
    notices = [f for f in socket.frames if f["type"] == "notice"]
    assert [f["text"] for f in notices if f["kind"] == "citizen"] == [
        f"Вопрос {n}" for n in range(5)
    ]
    seqs = [f["seq"] for f in notices]
    assert seqs == list(range(1, len(seqs) + 1))  # each once, in order, none left out
    assert read and all(limit == 2 for limit in read)
