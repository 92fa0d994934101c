"""The intake: a message whose filing fails is kept, answered, and filed on replay."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest
from pydantic import BaseModel

from channels.contract import AccountSpec, Channel, CommandRow, RawInbound, Sender
from normaliser.envelope import envelope_decoder
from router.intake import journal as intake_module
from router.intake.filing import Filed
from router.intake.journal import Intake
from router.platform.registry import command_tables
from router.store.blobs import FileBlobStore
from router.store.database import Database

from .test_filing import filer


class BrokenCatalogue:
    """A catalogue whose classification fails, standing in for any bug in filing."""

    def classify(self, *args: object) -> None:
        raise RuntimeError("classification exploded")


def message(key: str) -> RawInbound:
    """A web chat message."""
    return RawInbound(
        channel="webchat",
        account="portal",
        idempotency_key=key,
        channel_message_id=key,
        sender=Sender("webchat", "session-1"),
        text="Нужна справка о доходах",
        received_at="2026-11-23T09:00:00.000Z",
        conversation_hint="chat:session-1",
    )


async def test_failed_filing_keeps_the_message_and_replay_files_it(tmp_path: Path) -> None:
    """Filing that raises leaves the raw journalled as failed; after the fix it is filed once."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    rules = filer()
    broken = replace(rules, catalogue=BrokenCatalogue())  # type: ignore[arg-type]
    current = [broken]
    filed: list[Filed] = []
    intake = Intake(
        db, FileBlobStore(tmp_path / "blobs"), lambda: current[0], lambda: 20000, filed.append
    )
    try:
        acceptance = await intake.accept(message("m1"))
        assert acceptance.envelope_id is None and acceptance.ticket_number is None
        [letter] = await db.read(lambda tx: tx.dead_letters())
        assert letter["id"].startswith("intake:")
        assert letter["subject"] == "webchat/portal"
        assert letter["last_error"] == "RuntimeError: classification exploded"

        current[0] = rules
        journal_id = letter["id"].removeprefix("intake:")
        assert await db.write(lambda tx: tx.revive_dead("intake", journal_id, 0))
        assert await intake.file_pending() == 1
        again = await intake.accept(message("m1"))
        assert again.redelivery and again.ticket_number is not None
        envelopes = await db.read(
            lambda tx: tx.conn.execute("SELECT count(*) FROM envelopes").fetchone()[0]
        )
        assert envelopes == 1
        assert await db.read(lambda tx: tx.dead_letters()) == []
    finally:
        db.close()


async def test_a_message_the_normaliser_fails_on_is_filed_unparseable_with_its_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never lost, never refused: an envelope flagged unparseable, the raw journalled."""

    def exploding(*args: object, **kwargs: object) -> None:
        raise UnicodeError("a byte the cleaner did not expect")

    monkeypatch.setattr(intake_module, "normalise", exploding)
    db = Database(tmp_path / "db.sqlite")
    db.open()
    intake = Intake(db, FileBlobStore(tmp_path / "blobs"), filer, lambda: 20000, lambda _: None)
    try:
        acceptance = await intake.accept(message("m1"))
        assert acceptance.envelope_id is not None and acceptance.ticket_number is not None
        body = await db.read(lambda tx: tx.envelope_body(acceptance.envelope_id or ""))
        assert body is not None
        envelope = envelope_decoder.decode(body)
        assert envelope.flags == ["unparseable"] and envelope.text == ""
        [(kept,)] = await db.read(
            lambda tx: tx.conn.execute("SELECT raw FROM journal WHERE idem_key = 'm1'").fetchall()
        )
        assert msgspec.msgpack.decode(kept, type=RawInbound) == message("m1")
    finally:
        db.close()


class TelegramLike:
    """A plug-in that adds one command row, as the Telegram channel will: the app sends
    "/start" when a citizen first opens the bot, which deserves the help text."""

    name = "messenger"
    settings_model = BaseModel
    commands: Mapping[Channel, Sequence[CommandRow]] = {
        "messenger": (CommandRow("help", None, ("/start",)),)
    }

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        return []

    def build(self, spec: AccountSpec, settings: object, ports: object) -> None:
        raise NotImplementedError


async def test_a_command_row_a_channel_adds_reads_its_messages_alone(tmp_path: Path) -> None:
    """The plug-in's "/start" is help on its channel; the chat still reads it as start."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    tables = command_tables([TelegramLike()])  # type: ignore[list-item]
    intake = Intake(
        db,
        FileBlobStore(tmp_path / "blobs"),
        filer,
        lambda: 20000,
        lambda _: None,
        commands=tables,
    )
    bot = msgspec.structs.replace(
        message("t1"),
        channel="messenger",
        account="bot",
        sender=Sender("telegram", "123456789", verified=True),
        text="/start",
        conversation_hint=None,
    )
    chat = msgspec.structs.replace(message("c1"), text="/start")
    try:
        for raw in (bot, chat):
            acceptance = await intake.accept(raw)
            assert acceptance.envelope_id is not None and acceptance.ticket_number is None
        answered = await db.read(
            lambda tx: tx.conn.execute(
                "SELECT channel, source_key FROM notifications ORDER BY rowid"
            ).fetchall()
        )
        assert [(channel, key.split(":")[0]) for channel, key in answered] == [
            ("messenger", "help"),
            ("webchat", "start_confirmation"),
        ]
    finally:
        db.close()
