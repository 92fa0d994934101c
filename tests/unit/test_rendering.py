"""Outbound rendering per channel: a notice goes out with its subject, language, buttons, HTML
part and threading where its channel takes them; a text is split where the channel allows, or
fails with a clear reason and falls back (check-config's refusal of a template that cannot fit
is in test_channel_platform)."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from pathlib import Path

import trio

from channels.contract import Button, Fit, Lane, Outbound, RawInbound, Sender, Sent
from router.clock import utc_now
from router.delivery.fallback import Fallback
from router.delivery.outbox import Outbox, RateLimit
from router.delivery.templates import html_of
from router.intake.journal import Intake
from router.retry import RetryPolicy
from router.store.blobs import FileBlobStore
from router.store.database import Database
from router.store.transaction import Tx
from tests.integration.channel_double import split_at_paragraphs
from tests.integration.channel_double import within as fits_within

from .test_filing import filer


class Recorder:
    """A channel that takes everything and keeps what it was handed."""

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.took = trio.Event()

    async def __call__(self, message: Outbound) -> Sent:
        self.sent.append(message)
        self.took.set()
        return Sent(references=(f"ours-{len(self.sent)}",))


async def wait_for(count: int, recorder: Recorder) -> None:
    with trio.fail_after(10):
        while len(recorder.sent) < count:
            await recorder.took.wait()
            recorder.took = trio.Event()


NO_FALLBACK = Fallback(())


def outbox_for(
    db: Database,
    channels: Mapping[str, Recorder],
    *,
    fallback: Fallback = NO_FALLBACK,
    lanes: Mapping[str, Lane] | None = None,
    fits: Mapping[str, Fit] | None = None,
) -> Outbox:
    """An outbox delivering to these recorders, retrying fast, with no per-contact limit."""
    return Outbox(
        db,
        lambda: channels,
        lambda: RetryPolicy(0.05, 0.2, 3600),
        lambda: RateLimit(1000, 3600),
        lambda: fallback,
        lambda: lanes or {},
        lambda: fits or {},
    )


def chat_message(key: str, text: str) -> RawInbound:
    return RawInbound(
        channel="webchat",
        account="portal",
        idempotency_key=key,
        channel_message_id=f"citizen-{key}",
        sender=Sender("webchat", "session-1", verified=True),
        text=text,
        received_at="2026-12-02T09:00:00.000Z",
        conversation_hint="chat:session-1",
    )


async def test_a_notice_goes_out_rendered_for_a_channel_that_threads(tmp_path: Path) -> None:
    """Subject, language, the status button, an HTML part and the conversation's messages."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    rules = filer()
    intake = Intake(db, FileBlobStore(tmp_path / "blobs"), lambda: rules, lambda: 20000, print)
    recorder = Recorder()
    outbox = outbox_for(db, {"webchat": recorder}, lanes={"webchat": Lane(threads=True, html=True)})
    try:
        accepted = await intake.accept(chat_message("m1", "Нужна справка о доходах"))
        number = accepted.ticket_number
        assert number is not None
        async with trio.open_nursery() as nursery:
            await nursery.start(outbox.run)
            await wait_for(1, recorder)
            ticket = await db.read(lambda tx: tx.ticket_record(number))
            assert ticket is not None
            await db.write(
                lambda tx: rules.notifier.queue(
                    tx,
                    "status.in_progress",
                    ticket,
                    source_key="test:status",
                    kind="status",
                    now=utc_now(),
                    fields=rules.notifier.status_fields(ticket, "ru"),
                )
            )
            outbox.wake()
            await wait_for(2, recorder)
            nursery.cancel_scope.cancel()
    finally:
        db.close()
    confirmation, status = recorder.sent
    # The router tags the Subject with the ticket: a reply that keeps the tag joins it.
    assert confirmation.subject == f"[№{number}] Обращение зарегистрировано"
    assert status.subject == f"[№{number}] Служба поддержки портала госуслуг"  # the file's
    assert confirmation.language == "ru" and confirmation.automatic
    # RFC 3834: the confirmation answers the citizen's message, a status change answers none.
    assert confirmation.answers and status.automatic and not status.answers
    assert confirmation.buttons == [Button("Статус обращения", f"/status {number}")]
    assert confirmation.parts == [confirmation.text]
    assert confirmation.html is not None and f"№{number}" in confirmation.html
    assert '<a href="https://www.gosuslugi.ru/help">' in confirmation.html
    assert "<script" not in confirmation.html
    assert confirmation.threading.in_reply_to == "citizen-m1"
    assert confirmation.threading.references == ["citizen-m1"]
    # The later notice answers the same message and names ours before it, oldest first.
    assert status.threading.in_reply_to == "citizen-m1"
    assert status.threading.references == ["citizen-m1", "ours-1"]


async def test_a_channel_without_threading_or_html_is_spared_them(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    db.open()
    rules = filer()
    intake = Intake(db, FileBlobStore(tmp_path / "blobs"), lambda: rules, lambda: 20000, print)
    recorder = Recorder()
    outbox = outbox_for(db, {"webchat": recorder})
    try:
        await intake.accept(chat_message("m1", "Нужна справка о доходах"))
        async with trio.open_nursery() as nursery:
            await nursery.start(outbox.run)
            await wait_for(1, recorder)
            nursery.cancel_scope.cancel()
    finally:
        db.close()
    [sent] = recorder.sent
    assert sent.html is None and sent.threading.references == []
    assert sent.subject is not None and sent.subject.endswith("] Обращение зарегистрировано")


async def deliver_with_fits(
    tmp_path: Path, text: str, fits: Mapping[str, Fit]
) -> tuple[Recorder, Recorder, list[dict[str, object]]]:
    """Queue `text` to a messenger address of a contact with a verified phone; deliver it with
    these fits; what each channel was handed, and the notice's history."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    messenger, sms = Recorder(), Recorder()
    outbox = outbox_for(
        db, {"messenger": messenger, "sms": sms}, fallback=Fallback(("sms",)), fits=fits
    )

    def queue(tx: Tx) -> str:
        contact = tx.create_contact(Sender("telegram", "123456789", verified=True))
        tx.add_identity(contact, Sender("phone", "+79161234567", verified=True))
        notification_id, _ = tx.queue_notification(
            "test:long",
            "2026-12-02T09:00:00.000Z",
            time.time(),
            ticket=None,
            contact_id=contact,
            channel="messenger",
            account="bot",
            address="123456789",
            kind="reply",
            automatic=False,
            text=text,
        )
        return notification_id

    try:
        notification_id = await db.write(queue)
        async with trio.open_nursery() as nursery:
            await nursery.start(outbox.run)
            with trio.fail_after(10):
                while not messenger.sent and not sms.sent:
                    async with trio.open_nursery() as either:
                        for recorder in (messenger, sms):
                            either.start_soon(_took_then_cancel, recorder, either)
            nursery.cancel_scope.cancel()
        history = await db.read(lambda tx: tx.notification_history(notification_id))
    finally:
        db.close()
    return messenger, sms, history


async def _took_then_cancel(recorder: Recorder, nursery: trio.Nursery) -> None:
    await recorder.took.wait()
    nursery.cancel_scope.cancel()


async def test_a_long_text_is_split_where_the_channel_allows(tmp_path: Path) -> None:
    text = "\n\n".join(f"Абзац {n}: " + "слово " * 20 for n in range(5))
    fits = {"messenger": functools.partial(split_at_paragraphs, limit=300)}
    messenger, sms, _ = await deliver_with_fits(tmp_path, text, fits)
    [sent] = messenger.sent
    assert len(sent.parts) == 3 and "\n\n".join(sent.parts) == text
    assert all(len(part) <= 300 for part in sent.parts)
    assert sms.sent == []


async def test_a_text_that_cannot_fit_fails_with_the_reason_and_falls_back(
    tmp_path: Path,
) -> None:
    text = "Ответ оператора. " * 30
    fits = {
        "messenger": functools.partial(fits_within, limit=100),
        "sms": functools.partial(fits_within, limit=1000),
    }
    messenger, sms, history = await deliver_with_fits(tmp_path, text, fits)
    assert messenger.sent == []  # never cut silently, never attempted
    [copy] = sms.sent
    assert copy.text == text and copy.address == "+79161234567"
    failed = next(step for step in history if step["state"] == "failed")
    assert (
        failed["reason"] == f"does not fit the messenger channel: {len(text)} characters, over 100"
    )


def test_the_html_part_escapes_everything_and_links_only_addresses() -> None:
    html = html_of(
        'Ответ: <b>"жирный"</b>\n\nСм. https://x.ru/a?b=1&c=2, а также "https://y.ru".', "ru"
    )
    assert "<b>" not in html and "&lt;b&gt;&quot;жирный&quot;&lt;/b&gt;" in html
    assert '<a href="https://x.ru/a?b=1&amp;c=2">https://x.ru/a?b=1&amp;c=2</a>,' in html
    assert '&quot;<a href="https://y.ru">https://y.ru</a>&quot;.' in html
    assert html.count("<p>") == 2


async def test_a_fallback_copy_is_rendered_anew_for_its_channel(tmp_path: Path) -> None:
    """The messenger's confirmation that cannot go falls back to SMS as the SMS text."""
    db = Database(tmp_path / "db.sqlite")
    db.open()
    rules = filer()
    intake = Intake(db, FileBlobStore(tmp_path / "blobs"), lambda: rules, lambda: 20000, print)
    messenger, sms = Recorder(), Recorder()
    outbox = outbox_for(
        db,
        {"messenger": messenger, "sms": sms},
        fallback=Fallback(("sms",), rules.notifier.rerender),
        fits={"messenger": functools.partial(fits_within, limit=10)},
    )
    message = RawInbound(
        channel="messenger",
        account="bot",
        idempotency_key="u1",
        channel_message_id="m1",
        sender=Sender("telegram", "123456789", verified=True),
        verified_links=[Sender("phone", "+79161234567", verified=True)],
        text="Нужна справка о доходах",
        received_at="2026-12-02T09:00:00.000Z",
    )
    try:
        number = (await intake.accept(message)).ticket_number
        async with trio.open_nursery() as nursery:
            await nursery.start(outbox.run)
            await wait_for(1, sms)
            nursery.cancel_scope.cancel()
    finally:
        db.close()
    [copy] = sms.sent
    assert messenger.sent == []
    assert copy.text.startswith(f"Обращение №{number} принято.")  # the SMS template's
    assert copy.subject == f"[№{number}] Обращение зарегистрировано" and copy.language == "ru"
