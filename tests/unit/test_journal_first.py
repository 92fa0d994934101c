"""Journal first, parse later: what a peer delivered is committed before its channel's parser
reads it; what cannot be read is filed flagged and kept as a dead letter; a key that comes
again with other content is a revision or a conflict by the channel's rule; adapter state is
committed with the inbound it belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from channels.contract import (
    ChangedContent,
    Channel,
    Parser,
    RawInbound,
    Received,
    Sender,
    Unparseable,
)
from normaliser.envelope import Envelope, envelope_decoder
from router.intake import journal
from router.intake.filing import Filed
from router.intake.journal import RAW_INLINE_BYTES, Intake
from router.platform.ports import ChannelState
from router.store.blobs import FileBlobStore
from router.store.database import Database

from .test_filing import filer


class LineParser:
    """A channel whose payload is `FROM\\nTEXT`; it counts its calls and can be broken."""

    def __init__(self) -> None:
        self.calls = 0
        self.broken = False

    def parse(self, received: Received) -> RawInbound:
        self.calls += 1
        if self.broken:
            raise Unparseable("no blank line after the headers")
        sender, _, text = received.payload.decode().partition("\n")
        return RawInbound(
            channel="sms",
            account="wrong-account-the-journal-overrides",
            idempotency_key="ignored",
            channel_message_id=received.idempotency_key,
            sender=Sender("phone", sender, verified=True),
            text=text,
            received_at=received.received_at,
        )


def delivery(
    key: str,
    payload: bytes,
    *,
    sender: str = "+79161234567",
    received_at: str = "2026-12-02T09:00:00.000Z",
) -> Received:
    """An SMS-like delivery on account `short`."""
    return Received(
        channel="sms",
        account="short",
        idempotency_key=key,
        received_at=received_at,
        content_type="text/plain",
        payload=payload,
        metadata={"source_addr": sender},
        sender=Sender("phone", sender),
    )


def intake_for(
    db: Database, tmp_path: Path, parser: LineParser, rule: ChangedContent = "conflict"
) -> Intake:
    parsers: Mapping[Channel, Parser] = {"sms": Parser(parser.parse, rule)}
    return Intake(
        db, FileBlobStore(tmp_path / "blobs"), filer, lambda: 20000, lambda _: None, lambda: parsers
    )


async def envelopes(db: Database) -> list[Envelope]:
    rows = await db.read(
        lambda tx: tx.conn.execute("SELECT body FROM envelopes ORDER BY seq").fetchall()
    )
    return [envelope_decoder.decode(body) for (body,) in rows]


async def notifications(db: Database) -> int:
    return int(
        await db.read(
            lambda tx: tx.conn.execute("SELECT count(*) FROM notifications").fetchone()[0]
        )
    )


async def test_received_bytes_are_committed_before_they_are_parsed(
    db: Database, tmp_path: Path
) -> None:
    parser = LineParser()
    intake = intake_for(db, tmp_path, parser)
    payload = "+79161234567\nНужна справка".encode()
    receipt = await intake.receive(delivery("m1", payload))
    assert receipt.redelivery is False and receipt.changed is None
    assert parser.calls == 0 and await envelopes(db) == []  # answered before any parsing

    assert await intake.file_pending() == 1
    [envelope] = await envelopes(db)
    assert envelope.text == "Нужна справка" and envelope.ticket is not None
    # The journal's channel, account and key stand, whatever the parser said.
    assert envelope.channel_account == "short"
    assert not isinstance(envelope.raw, msgspec.UnsetType)
    assert envelope.raw.content_type == "text/plain" and envelope.raw.size == len(payload)
    kept = await intake.received(int(envelope.raw.id))
    assert kept is not None and kept.payload == payload
    assert await notifications(db) == 1  # the confirmation


async def test_a_large_delivery_is_kept_in_the_blob_store_and_read_back(
    db: Database, tmp_path: Path
) -> None:
    intake = intake_for(db, tmp_path, LineParser())
    text = "Прошу выдать справку. " * (RAW_INLINE_BYTES // 20)
    await intake.receive(delivery("big", f"+79161234567\n{text}".encode()))
    assert await intake.file_pending() == 1
    [envelope] = await envelopes(db)
    assert envelope.text.startswith("Прошу выдать справку.")
    [(inline,)] = await db.read(lambda tx: tx.conn.execute("SELECT raw FROM journal").fetchall())
    assert inline == b""


async def test_what_the_parser_cannot_read_is_filed_flagged_and_replayed_later(
    db: Database, tmp_path: Path
) -> None:
    parser = LineParser()
    parser.broken = True
    intake = intake_for(db, tmp_path, parser)
    await intake.receive(delivery("m1", b"\xff\xfe not a message"))
    assert await intake.file_pending() == 1
    [envelope] = await envelopes(db)
    assert envelope.flags == ["unparseable"] and envelope.text == ""
    assert envelope.sender == Sender("phone", "+79161234567")  # the transport's, unverified
    assert envelope.ticket is not None and envelope.ticket.is_new  # joined nobody's ticket
    assert await notifications(db) == 0  # nothing can say whether answering is safe
    [letter] = await db.read(lambda tx: tx.dead_letters())
    assert letter["last_error"] == "unparseable: no blank line after the headers"

    # Replayed while still unreadable: no second envelope, still a dead letter.
    key = letter["id"].removeprefix("intake:")
    assert await db.write(lambda tx: tx.revive_dead("intake", key, 0))
    await intake.file_pending()
    assert len(await envelopes(db)) == 1
    assert len(await db.read(lambda tx: tx.dead_letters())) == 1

    # The parser fixed, the replay files the message as written and the letter is gone.
    parser.broken = False
    await db.write(
        lambda tx: tx.conn.execute(
            "UPDATE journal SET raw = ? WHERE id = ?",
            (msgspec.msgpack.encode(delivery("m1", "+79161234567\nСправка".encode())), key),
        )
    )
    assert await db.write(lambda tx: tx.revive_dead("intake", key, 0))
    assert await intake.file_pending() == 1
    flagged, read = await envelopes(db)
    assert (read.text, read.flags, read.channel_message_id) == ("Справка", ["revision"], "m1")
    # What could not be read sat in a conversation of its own; read, it is the sender's.
    assert flagged.thread.conversation_id == f"unparseable:sms:{key}"
    assert read.thread.conversation_id == "sms:short:+79161234567"
    assert await db.read(lambda tx: tx.dead_letters()) == []


async def test_a_redelivery_is_answered_again_and_filed_once(db: Database, tmp_path: Path) -> None:
    intake = intake_for(db, tmp_path, LineParser())
    payload = "+79161234567\nСправка".encode()
    await intake.receive(delivery("m1", payload))
    again = await intake.receive(delivery("m1", payload))
    assert again.redelivery is True
    assert await intake.file_pending() == 1
    assert len(await envelopes(db)) == 1


async def test_other_content_under_a_known_key_is_a_conflict_kept_for_an_operator(
    db: Database, tmp_path: Path
) -> None:
    intake = intake_for(db, tmp_path, LineParser())
    await intake.receive(delivery("m1", "+79161234567\nПервое".encode()))
    second = await intake.receive(delivery("m1", "+79161234567\nВторое".encode()))
    assert second.changed == "conflict" and not second.redelivery
    assert (await intake.receive(delivery("m1", "+79161234567\nВторое".encode()))).redelivery
    await intake.file_pending()
    assert [e.text for e in await envelopes(db)] == ["Первое"]
    [letter] = await db.read(lambda tx: tx.dead_letters())
    assert letter["last_error"].startswith("conflict")
    # An operator who finds both real files the second as a message of its own.
    assert await db.write(
        lambda tx: tx.revive_dead("intake", letter["id"].removeprefix("intake:"), 0)
    )
    await intake.file_pending()
    filed = await envelopes(db)
    assert [e.text for e in filed] == ["Первое", "Второе"] and filed[1].flags == []


async def test_a_revision_is_filed_flagged_without_a_second_answer(
    db: Database, tmp_path: Path
) -> None:
    intake = intake_for(db, tmp_path, LineParser(), rule="revision")
    await intake.receive(delivery("m1", "+79161234567\nНужна справка о доходах".encode()))
    await intake.file_pending()
    edit = await intake.receive(
        delivery("m1", "+79161234567\nНужна справка о доходах за 2025".encode())
    )
    assert edit.changed == "revision"
    await intake.file_pending()
    first, revised = await envelopes(db)
    assert revised.flags == ["revision"] and revised.text.endswith("за 2025")
    assert revised.ticket is not None and first.ticket is not None
    assert revised.ticket.number == first.ticket.number
    assert await notifications(db) == 1  # the first message's confirmation alone
    assert await db.read(lambda tx: tx.dead_letters()) == []


@pytest.mark.parametrize("status", ["resolved", "rejected"])
async def test_an_edit_after_its_ticket_closed_stays_in_that_ticket(
    db: Database, tmp_path: Path, status: str
) -> None:
    """An edit is its message still: filed in the closed ticket, which it does not reopen,
    unanswered; no new ticket the citizen would never hear of. The conversation stays on the
    ticket it is about now."""
    intake = intake_for(db, tmp_path, LineParser(), rule="revision")
    await intake.receive(delivery("m1", "+79161234567\nНужна справка о доходах".encode()))
    await intake.file_pending()
    [first] = await envelopes(db)
    assert first.ticket is not None
    number = first.ticket.number
    await db.write(
        lambda tx: tx.set_ticket_status(number, status, "2026-12-02T10:00:00Z", reason="x")
    )
    await intake.receive(delivery("m1", "+79161234567\nНужна справка о доходах за 2025".encode()))
    await intake.file_pending()
    _, revised = await envelopes(db)
    assert revised.ticket is not None and revised.ticket.number == number
    assert not revised.ticket.is_new and revised.flags == ["revision"]
    tickets = await db.read(
        lambda tx: tx.conn.execute("SELECT number, status FROM tickets").fetchall()
    )
    assert tickets == [(number, status)]
    assert await notifications(db) == 1  # the first message's confirmation alone


async def test_an_edit_of_an_older_message_leaves_the_conversation_on_its_ticket(
    db: Database, tmp_path: Path
) -> None:
    """The edit goes to its own closed ticket; the next message joins the open one after it."""
    intake = intake_for(db, tmp_path, LineParser(), rule="revision")
    await intake.receive(delivery("m1", "+79161234567\nНужна справка о доходах".encode()))
    await intake.file_pending()
    [first] = await envelopes(db)
    assert first.ticket is not None
    closed = first.ticket.number
    await db.write(lambda tx: tx.set_ticket_status(closed, "resolved", "2026-12-02T10:00:00Z"))
    later = "2026-12-02T11:00:00.000Z"
    await intake.receive(delivery("m2", "+79161234567\nЗагранпаспорт".encode(), received_at=later))
    await intake.file_pending()
    edited = "2026-12-02T12:00:00.000Z"
    await intake.receive(
        delivery("m1", "+79161234567\nСправка 2-НДФЛ".encode(), received_at=edited)
    )
    await intake.receive(
        delivery("m3", "+79161234567\nКогда будет готово?".encode(), received_at=edited)
    )
    await intake.file_pending()
    _, opened, revised, follow_up = await envelopes(db)
    assert opened.ticket is not None and opened.ticket.is_new
    assert revised.ticket is not None and revised.ticket.number == closed
    assert follow_up.ticket is not None and follow_up.ticket.number == opened.ticket.number


async def test_an_edit_of_a_command_opens_no_request(db: Database, tmp_path: Path) -> None:
    """«статус» answered when it came; edited (a messenger lets one), it files no ticket."""
    intake = intake_for(db, tmp_path, LineParser(), rule="revision")
    await intake.receive(delivery("m1", "+79161234567\nстатус".encode()))
    await intake.file_pending()
    await intake.receive(delivery("m1", "+79161234567\nстатус, пожалуйста, по паспорту".encode()))
    await intake.file_pending()
    command, revised = await envelopes(db)
    assert command.ticket is None and "status_query" in command.flags
    assert revised.ticket is None and revised.flags == ["revision"]
    assert (
        await db.read(lambda tx: tx.conn.execute("SELECT count(*) FROM tickets").fetchone()[0]) == 0
    )


async def test_adapter_state_is_committed_with_its_inbound_even_a_redelivery(
    db: Database, tmp_path: Path
) -> None:
    intake = intake_for(db, tmp_path, LineParser())
    state = ChannelState(db, "sms")
    payload = "+79161234567\nСправка".encode()
    await intake.receive(delivery("m1", payload), {"short:offset": b"1"})
    assert await state.get("short:offset") == b"1"
    await intake.receive(delivery("m1", payload), {"short:offset": b"2", "short:part": None})
    assert await state.get("short:offset") == b"2"


async def test_the_state_port_keeps_values_and_streams(db: Database) -> None:
    state = ChannelState(db, "sms")
    other = ChannelState(db, "email")
    await state.put({"parts:a%1": b"x", "parts:a%2": b"y", "partsb": b"z", "offset": b"7"})
    assert await state.items("parts:") == [("parts:a%1", b"x"), ("parts:a%2", b"y")]
    await state.put({"parts:a%1": None})
    assert await state.items("parts:") == [("parts:a%2", b"y")]
    assert await other.get("offset") is None  # each channel has its own

    first = await state.append("log", "n1", b"one")
    assert (first.seq, await state.append("log", "n1", b"again")) == (1, first)
    assert (await state.append("log", "n2", b"two")).seq == 2
    assert [e.value for e in await state.entries("log", 1)] == [b"two"]
    assert await state.last("log") == 2 and await state.last("empty") == 0


async def test_a_row_the_journal_cannot_give_back_holds_up_nothing_behind_it(
    db: Database, tmp_path: Path
) -> None:
    intake = intake_for(db, tmp_path, LineParser())
    await intake.receive(delivery("m1", "+79161234567\nПервое".encode()))
    await intake.receive(delivery("m2", "+79161234567\nВторое".encode()))
    await db.write(
        lambda tx: tx.conn.execute("UPDATE journal SET raw = x'c1' WHERE idem_key = 'm1'")
    )
    assert await intake.file_pending() == 1
    assert [e.text for e in await envelopes(db)] == ["Второе"]
    [letter] = await db.read(lambda tx: tx.dead_letters())
    assert letter["last_error"] == "the journal row cannot be read: DecodeError"


async def test_a_replayed_message_is_answered_and_lifts_no_later_stop(
    db: Database, tmp_path: Path
) -> None:
    """Read again, a message the parser failed on gets the answer it never had; being older
    than the citizen's «СТОП» since, it does not undo it."""
    parser = LineParser()
    parser.broken = True
    intake = intake_for(db, tmp_path, parser)
    await intake.receive(delivery("m1", "+79161234567\nНужна справка".encode()))
    await intake.file_pending()
    parser.broken = False
    await intake.receive(delivery("m2", "+79161234567\nСТОП".encode()))
    await intake.file_pending()
    stopped = await db.read(lambda tx: tx.suppressed("sms", "+79161234567", "2100-01-01"))
    assert stopped == "stop_requested"
    before = await notifications(db)
    [letter] = await db.read(lambda tx: tx.dead_letters())
    key = letter["id"].removeprefix("intake:")
    assert await db.write(lambda tx: tx.revive_dead("intake", key, 0))
    assert await intake.file_pending() == 1
    assert await notifications(db) == before + 1  # its answer, at last
    stopped = await db.read(lambda tx: tx.suppressed("sms", "+79161234567", "2100-01-01"))
    assert stopped == "stop_requested"


async def test_a_message_written_after_a_stop_lifts_it_though_filed_in_the_same_backlog(
    db: Database, tmp_path: Path
) -> None:
    """A «СТОП» counts from when it was written: the citizen's next message lifts it even when
    both wait in the journal and are filed together (after a restart, say)."""
    intake = intake_for(db, tmp_path, LineParser())
    await intake.receive(delivery("m1", "+79161234567\nСТОП".encode()))
    later = "2026-12-02T09:05:00.000Z"
    await intake.receive(delivery("m2", "+79161234567\nЕсть новости?".encode(), received_at=later))
    await intake.file_pending()
    assert await db.read(lambda tx: tx.suppressed("sms", "+79161234567", "2100-01-01")) is None


async def test_a_replayed_dead_letter_that_fails_again_is_a_dead_letter_again(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = LineParser()
    parser.broken = True
    intake = intake_for(db, tmp_path, parser)
    await intake.receive(delivery("m1", "+79161234567\nНужна справка".encode()))
    await intake.file_pending()
    [letter] = await db.read(lambda tx: tx.dead_letters())
    parser.broken = False

    def exploding(*args: object) -> None:
        raise RuntimeError("filing broke")

    monkeypatch.setattr(journal, "file_inbound", exploding)
    assert await db.write(lambda tx: tx.revive_dead("intake", letter["id"][7:], 0))
    await intake.file_pending()
    [again] = await db.read(lambda tx: tx.dead_letters())
    assert again["id"] == letter["id"] and again["last_error"].startswith("unparseable")


async def test_a_backlog_is_filed_in_order_and_a_failure_in_it_stops_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Filing jobs queued ahead of their commits run in journal order, each seeing those before
    it: a citizen's messages waiting together make one request; the one whose filing fails is
    a dead letter, and the others, before and after it, are filed."""
    intake = intake_for(db, tmp_path, LineParser())
    texts = [f"Сообщение {n}" for n in range(journal.FILING_AHEAD + 8)]
    broken = texts[journal.FILING_AHEAD // 2]
    for n, text in enumerate(texts):
        await intake.receive(delivery(f"m{n}", f"+79161234567\n{text}".encode()))
    real = journal.file_inbound

    def breaking(*args: Any) -> Any:
        if args[3].text == broken:
            raise RuntimeError("filing broke")
        return real(*args)

    monkeypatch.setattr(journal, "file_inbound", breaking)
    assert await intake.file_pending() == len(texts) - 1
    filed = await envelopes(db)
    assert [e.text for e in filed] == [t for t in texts if t != broken]
    tickets = [e.ticket for e in filed]
    assert len({t.number for t in tickets if t is not None}) == 1
    assert [t.is_new for t in tickets if t is not None] == [True] + [False] * (len(filed) - 1)
    [letter] = await db.read(lambda tx: tx.dead_letters())
    assert letter["last_error"] == "RuntimeError: filing broke"


async def test_filings_queued_when_the_worker_is_cancelled_are_all_told(
    db: Database, tmp_path: Path
) -> None:
    """The filings a stopping worker had queued commit, and each is observed (the feed's and
    the outbox's wake-ups), not only the ones it had waited for."""
    stopping = trio.CancelScope()
    parser = LineParser()

    def parse(received: Received) -> RawInbound:
        if parser.calls == 3:
            stopping.cancel()  # the worker stops with the fourth row queued
        return parser.parse(received)

    parsers: Mapping[Channel, Parser] = {"sms": Parser(parse, "conflict")}
    told: list[Filed] = []
    intake = Intake(
        db, FileBlobStore(tmp_path / "blobs"), filer, lambda: 20000, told.append, lambda: parsers
    )
    for n in range(10):
        await intake.receive(delivery(f"m{n}", f"+7916123456{n}\nСообщение {n}".encode()))
    with stopping:
        await intake.file_pending()
    filed = await envelopes(db)
    assert 0 < len(filed) < 10
    assert len(told) == len(filed)
