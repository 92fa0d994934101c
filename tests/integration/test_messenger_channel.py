"""The messenger channel over the real daemon and the Bot API double (tests/peers/telegram): a
whole conversation, an update committed before Telegram is told, edits, blocks that fall back to
SMS, a phone shared after an SMS, and a virus refused in words the citizen reads."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from channels.messenger.telegram import SECRET_HEADER as SECRET
from tests.clamd import EICAR, ClamdServer
from tests.clamd_fixtures import clamd
from tests.peers.telegram.limits import SENDS
from tests.samples import PDF
from tests.smsc import Smsc, smsc, smsc_server
from tests.telegram import BotDouble, Citizen, TelegramDouble, telegram, telegram_server

from .daemon import (
    DaemonProcess,
    eventually,
    feed_all,
    final_notification,
    notification_in,
    write_secret,
)
from .test_sms_channel import CITIZEN, sms_daemon

__all__ = ["clamd", "smsc", "smsc_server", "telegram", "telegram_server"]  # the fixtures

pytestmark = pytest.mark.integration

# How long the double holds a file download in the kill test: longer than the test takes to
# see the download begin and kill the daemon; never waited out.
DOWNLOADING = 60.0
# A Telegram flood wait longer than a notice's attempt may last (the adapter's lane).
FLOOD_WAIT = 120


def bot_daemon(
    root: Path,
    telegram: BotDouble,
    clamd: ClamdServer,
    daemon: DaemonProcess | None = None,
    settings: str = "",
) -> DaemonProcess:
    """A daemon (or `daemon`, not started) with one bot account pointed at the double, with
    more `settings` of the account."""
    daemon = daemon or DaemonProcess(root)
    daemon.edit_router('clamd = "unix:/run/clamav/clamd.ctl"', f'clamd = "{clamd.address_unix}"')
    write_secret(daemon.config / "secrets" / "telegram.token", telegram.token + "\n")
    (daemon.config / "channels" / "messenger.toml").write_text(
        f"""enabled = true
[accounts.support]
kind = "telegram"
token_file = "secrets/telegram.token"
api_url = "{telegram.api_url}"
poll_timeout = "5s"
"""
        + settings
    )
    return daemon


async def bot_envelopes(daemon: DaemonProcess) -> list[dict[str, Any]]:
    """The messenger envelopes in the feed."""
    return [e for e in await feed_all(daemon) if e["channel"] == "messenger"]


async def filed(daemon: DaemonProcess, count: int) -> list[dict[str, Any]]:
    """The first `count` messenger envelopes, once there are as many."""

    async def enough() -> list[dict[str, Any]] | None:
        found = await bot_envelopes(daemon)
        return found if len(found) >= count else None

    return (await eventually(enough, f"{count} messenger envelopes"))[:count]


async def polled_past(telegram: BotDouble, update: dict[str, Any]) -> None:
    """Wait until a getUpdates confirms `update` (its offset is past it)."""

    async def confirmed() -> bool | None:
        polls = [c for c in await telegram.calls() if c["method"] == "getUpdates"]
        return True if any(p["offset"] > update["update_id"] for p in polls) else None

    await eventually(confirmed, "the update confirmed by the next offset")


def jpeg() -> bytes:
    """A photo of a document, as a phone takes it."""
    out = io.BytesIO()
    Image.effect_noise((320, 240), 64).convert("RGB").save(out, "JPEG")
    return out.getvalue()


async def test_a_whole_conversation(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """/start, a topic button, a photo with a caption, its confirmation with the status button
    and the phone button, a status change, and an operator's reply with a file."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "/start")
        # The help text (the router's answer) and the topics (the bot's keyboard), in any order.
        sent = await telegram.wait_for_sent(2, anna)
        [topics] = [s for s in sent if "inline_keyboard" in s.get("reply_markup", {})]
        rows = topics["reply_markup"]["inline_keyboard"]
        codes = [row[0]["callback_data"] for row in rows]  # one topic a row
        assert {"topic:01", "topic:02", "topic:04", "topic:12"} <= set(codes)  # categories.toml
        query = await telegram.press(anna, topics["message_id"], "topic:04")

        async def answered() -> list[dict[str, Any]] | None:
            found = [q for q in await telegram.callback_queries() if q["id"] == query]
            return found if found and found[0]["answered"] else None

        await eventually(answered, "the button press answered")
        await telegram.send_photo(anna, jpeg(), caption="Не начислили субсидию, вот справка")
        [envelope] = await filed(daemon, 1)  # a command is answered, not filed for the backend
        assert envelope["text"] == "Не начислили субсидию, вот справка"
        assert envelope["ticket"]["category"]["code"] == "04"  # the topic picked before
        assert envelope["sender"] == {
            "kind": "telegram", "address": str(anna.id), "display_name": "Анна", "verified": True
        }  # fmt: skip
        [photo] = envelope["attachments"]
        assert photo["scan"]["status"] == "clean" and photo["content_type"] == "image/jpeg"
        number = envelope["ticket"]["number"]

        # The confirmation with its status button, then the button to share the phone.
        sent = await telegram.wait_for_sent(4, anna)
        confirmation, ask_phone = sent[2], sent[3]
        assert number in confirmation["text"]
        [[status_button]] = confirmation["reply_markup"]["inline_keyboard"]
        assert status_button["callback_data"] == f"/status {number}"
        assert ask_phone["reply_markup"]["keyboard"][0][0]["request_contact"] is True

        async with daemon.backend() as backend:
            changed = await backend.post(
                f"/api/v1/tickets/{number}/status", json={"status": "in_progress"}
            )
            assert changed.status_code == 202
            upload = await backend.post(
                f"/api/v1/tickets/{number}/attachments", files={"file": ("решение.pdf", PDF)}
            )
            reply = {"text": "Субсидия начислена.", "attachments": [upload.json()["attachment_id"]]}
            assert (
                await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
            ).status_code == 202
        sent = await telegram.wait_for_sent(7, anna)
        assert "В обработке" in sent[4]["text"]
        assert "Субсидия начислена." in sent[5]["text"]
        [document] = sent[6]["files"]
        assert (document["filename"], document["size"]) == ("решение.pdf", len(PDF))

        # The status button asks after the ticket as a message of the citizen's.
        await telegram.press(anna, confirmation["message_id"], f"/status {number}")
        [answer] = (await telegram.wait_for_sent(8, anna))[7:]
        assert number in answer["text"] and "В обработке" in answer["text"]
        assert all(q["answered"] for q in await telegram.callback_queries())
    finally:
        daemon.stop()


async def test_a_deep_links_start_is_answered_as_start_and_opens_no_ticket(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """t.me/bot?start=portal: the app sends "/start portal", which is the citizen pressing Start."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "/start portal")
        sent = await telegram.wait_for_sent(2, anna)
        assert any("inline_keyboard" in s.get("reply_markup", {}) for s in sent)  # the topics
        assert any("Напишите свой вопрос" in s["text"] for s in sent)  # the help text
        await telegram.write(anna, "Паспорт")
        [envelope] = await filed(daemon, 1)  # the /start opened no ticket
        assert envelope["text"] == "Паспорт"
    finally:
        daemon.stop()


async def choose_topic(telegram: BotDouble, anna: Citizen, code: str, sent_before: int) -> None:
    """/start and the topic `code` pressed, once the bot offered its topics (and answered the
    /start with the help text) after `sent_before` messages to the chat."""
    await telegram.write(anna, "/start")
    sent = (await telegram.wait_for_sent(sent_before + 2, anna))[sent_before:]
    [topics] = [s for s in sent if "inline_keyboard" in s.get("reply_markup", {})]
    query = await telegram.press(anna, topics["message_id"], f"topic:{code}")

    async def answered() -> bool | None:
        return any(q["id"] == query and q["answered"] for q in await telegram.callback_queries())

    await eventually(answered, "the topic pressed and answered")


async def test_a_topic_chosen_with_a_ticket_open_starts_a_new_ticket(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """Code 03 open; /start, topic 12, a message: a new urgent ticket of 12, the 03 one
    untouched; what the chat writes next goes on in the new one."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "Код 03 Когда будет готов загранпаспорт?")
        [passport] = await filed(daemon, 1)
        assert passport["ticket"]["category"]["code"] == "03"
        await telegram.wait_for_sent(2, anna)  # the confirmation and the phone button
        await choose_topic(telegram, anna, "12", 2)
        await telegram.write(anna, "Мне звонили и просили код из СМС")
        await telegram.write(anna, "Звонили с номера +7 900 000-00-00")
        _, fraud, after = await filed(daemon, 3)
        assert fraud["ticket"]["is_new"]
        assert fraud["ticket"]["number"] != passport["ticket"]["number"]
        assert fraud["ticket"]["category"]["code"] == "12"
        assert fraud["ticket"]["priority"] == "urgent"
        assert after["ticket"]["number"] == fraud["ticket"]["number"]
        async with daemon.backend() as backend:
            old = (await backend.get(f"/api/v1/tickets/{passport['ticket']['number']}")).json()
        assert old["status"] == "accepted" and old["category"]["code"] == "03"
        assert [e["envelope_id"] for e in old["thread"]] == [passport["id"]]
    finally:
        daemon.stop()


async def test_a_reply_to_a_tickets_notice_joins_that_ticket_not_the_chats_current_one(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """Two open tickets in one chat, the second its current one: a Telegram reply to the first
    ticket's confirmation is filed in the first."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "Код 03 Когда будет готов загранпаспорт?")
        [passport] = await filed(daemon, 1)
        [confirmation, _] = await telegram.wait_for_sent(2, anna)
        assert passport["ticket"]["number"] in confirmation["text"]
        await choose_topic(telegram, anna, "12", 2)
        await telegram.write(anna, "Мне звонили и просили код из СМС")
        [_, fraud] = await filed(daemon, 2)
        assert fraud["ticket"]["number"] != passport["ticket"]["number"]
        await telegram.wait_for_sent(5, anna)  # the second ticket's confirmation
        await telegram.write(anna, "Вот скан паспорта", reply_to=confirmation["message_id"])
        [*_, reply] = await filed(daemon, 3)
        assert reply["thread"]["in_reply_to"] == f"{anna.id}:{confirmation['message_id']}"
        assert reply["ticket"]["number"] == passport["ticket"]["number"]
    finally:
        daemon.stop()


async def test_an_edit_is_a_revision_of_its_message_not_a_new_ticket(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        first = await telegram.write(anna, "Нужна справка о доходах")
        [envelope] = await filed(daemon, 1)
        await telegram.wait_for_sent(2, anna)  # the confirmation and the phone button
        await telegram.edit(
            anna, first["message"]["message_id"], "Нужна справка 2-НДФЛ за 2025 год"
        )
        [_, revision] = await filed(daemon, 2)
        assert revision["text"] == "Нужна справка 2-НДФЛ за 2025 год"
        assert "revision" in revision["flags"]
        assert revision["ticket"]["number"] == envelope["ticket"]["number"]
        assert revision["channel_message_id"] == envelope["channel_message_id"]
        # Filed, not answered again: the next thing the citizen gets answers the next message.
        await telegram.write(anna, "/help")
        sent = await telegram.wait_for_sent(3, anna)
        assert "СТАТУС" in sent[2]["text"]
    finally:
        daemon.stop()


async def test_an_edit_after_the_ticket_was_resolved_is_filed_in_that_ticket(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """Not a new ticket the citizen is never told of: the edit stays where its message is."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        first = await telegram.write(anna, "Нужна справка о доходах")
        [envelope] = await filed(daemon, 1)
        number = envelope["ticket"]["number"]
        await telegram.wait_for_sent(2, anna)
        async with daemon.backend() as backend:
            resolved = await backend.post(
                f"/api/v1/tickets/{number}/status", json={"status": "resolved"}
            )
            assert resolved.status_code == 202
        await telegram.wait_for_sent(3, anna)  # the status notice
        await telegram.edit(anna, first["message"]["message_id"], "Нужна справка 2-НДФЛ")
        [_, revision] = await filed(daemon, 2)
        assert "revision" in revision["flags"]
        assert revision["ticket"]["number"] == number and not revision["ticket"]["is_new"]
        async with daemon.backend() as backend:
            ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
        assert ticket["status"] == "resolved"
    finally:
        daemon.stop()


async def test_killed_during_a_long_poll_the_update_comes_again_and_joins_its_ticket(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        before = await telegram.write(anna, "Первое сообщение")
        await filed(daemon, 1)
        await polled_past(telegram, before)
        # Stopped while its long poll waits: the double answers the poll with the update into
        # the socket, and the daemon dies before it can commit it.
        daemon.signal(signal.SIGSTOP)
        lost = await telegram.write(anna, "Второе сообщение")
        daemon.kill()
        assert lost["update_id"] in [u["update_id"] for u in await telegram.pending_updates()]
        daemon.start()
        found = await filed(daemon, 2)
        await polled_past(telegram, lost)
        assert [e["text"] for e in await bot_envelopes(daemon)] == [
            "Первое сообщение",
            "Второе сообщение",
        ]
        assert found[0]["ticket"]["number"] == found[1]["ticket"]["number"]
        assert await telegram.pending_updates() == []
    finally:
        daemon.stop()


async def test_killed_while_an_updates_file_downloads_the_update_comes_again_once(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """Received and not committed yet (its photo still downloading) when the daemon dies: the
    offset was not confirmed, so Telegram hands the update over again, and it is filed once."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.slow_downloads(DOWNLOADING)
        update = await telegram.send_photo(anna, jpeg(), caption="Скан заявления")

        async def downloading() -> bool:
            return any(c["method"] == "getFile" for c in await telegram.calls())

        await eventually(downloading, "the daemon fetching the photo of the update")
        assert await bot_envelopes(daemon) == []  # received, and held before its commit
        daemon.kill()
        await telegram.slow_downloads(0)
        daemon.start()
        [envelope] = await filed(daemon, 1)
        await polled_past(telegram, update)
        assert envelope["text"] == "Скан заявления"
        assert [a["content_type"] for a in envelope["attachments"]] == ["image/jpeg"]
        assert len(await bot_envelopes(daemon)) == 1
        assert await telegram.pending_updates() == []
    finally:
        daemon.stop()


async def test_unsupported_kinds_are_answered_with_what_the_bot_takes(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.send_sticker(anna)
        await telegram.send_location(anna, 55.75, 37.61)
        sent = await telegram.wait_for_sent(2, anna)
        assert all("Такие сообщения мы не принимаем" in s["text"] for s in sent)
        await telegram.write(anna, "Паспорт")
        [envelope] = await filed(daemon, 1)  # the sticker and the location opened no ticket
        assert envelope["text"] == "Паспорт"
    finally:
        daemon.stop()


# The first bytes of what Telegram's apps record: MP4 (ISO BMFF), MP3 with its ID3 tag, OGG/Opus.
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8
OGG = b"OggS\x00\x02" + bytes(range(256)) * 4


async def test_video_audio_voice_and_animation_are_filed_with_their_files(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """Each with its caption as the text and its file as an attachment, as a document is; a
    voice note or a round video without a caption too; one over the 20 MB a bot may download
    is flagged oversize, its message filed."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.send_media(anna, "video", MP4, "Ошибка при оплате", "экран.mp4")
        await telegram.send_media(anna, "audio", MP3, "Запись звонка", "звонок.mp3")
        await telegram.send_voice(anna, OGG, caption="Объясню голосом")
        await telegram.send_media(anna, "animation", MP4, "Кнопка мигает")
        await telegram.send_voice(anna, OGG)
        await telegram.send_media(anna, "video_note", MP4)
        big = MP4 + bytes(20 * 1024 * 1024)
        await telegram.send_media(anna, "video", big, "Длинное видео", "длинное.mp4")
        # In the order sent: the feed has each once its files are scanned, in any order.
        found = sorted(await filed(daemon, 7), key=_message_number)
        read = [(e["text"], [(a["filename"], a["size"]) for a in e["attachments"]]) for e in found]
        voice, note = (f"{kind}-{n}" for kind, n in (("voice", 5), ("video_note", 6)))
        assert read == [
            ("Ошибка при оплате", [("экран.mp4", len(MP4))]),
            ("Запись звонка", [("звонок.mp3", len(MP3))]),
            ("Объясню голосом", [("voice-3.ogg", len(OGG))]),
            ("Кнопка мигает", [("animation.gif.mp4", len(MP4))]),  # once, not as its document too
            ("", [(f"{voice}.ogg", len(OGG))]),
            ("", [(f"{note}.mp4", len(MP4))]),
            ("Длинное видео", []),
        ]
        assert all("oversize" not in e["flags"] for e in found[:6])
        assert "oversize" in found[6]["flags"]
        # Scanned, and taken as what they are: the operator can play them.
        taken = [a for e in found[:6] for a in e["attachments"]]
        assert [(a["content_type"], a["scan"]["status"]) for a in taken] == [
            ("video/mp4", "clean"),
            ("audio/mpeg", "clean"),
            ("audio/ogg", "clean"),
            ("video/mp4", "clean"),
            ("audio/ogg", "clean"),
            ("video/mp4", "clean"),
        ]
        assert not [e["flags"] for e in found if "rejected_attachment" in e["flags"]]
        # None of them was answered as a kind the bot does not take.
        sent = await telegram.sent(anna)
        assert not [s for s in sent if "Такие сообщения мы не принимаем" in s.get("text", "")]
    finally:
        daemon.stop()


def _message_number(envelope: dict[str, Any]) -> int:
    """The Telegram message id of an envelope's message (channel_message_id CHAT:ID)."""
    return int(envelope["channel_message_id"].rpartition(":")[2])


async def test_eicar_sent_as_a_document_is_refused_with_a_reason_the_citizen_reads(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.send_document(anna, EICAR, "справка.pdf", "application/pdf", "Справка")
        [envelope] = await filed(daemon, 1)
        [attachment] = envelope["attachments"]
        assert attachment["scan"]["status"] == "infected"
        assert "infected_attachment" in envelope["flags"]
        [confirmation, _] = await telegram.wait_for_sent(2, anna)
        assert "«справка.pdf» — в файле обнаружен вирус" in confirmation["text"]
    finally:
        daemon.stop()


async def test_a_blocked_user_gets_the_notice_by_sms(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer, smsc: Smsc
) -> None:
    """The chat is suppressed (bot_blocked) and the status goes to the verified phone."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd, sms_daemon(tmp_path / "daemon", smsc))
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "Не могу войти в личный кабинет")
        await telegram.share_contact(anna, CITIZEN)  # without "+", as Telegram often sends it
        [envelope, _] = await filed(daemon, 2)
        await telegram.wait_for_sent(3, anna)
        await telegram.block(anna)
        number = envelope["ticket"]["number"]
        async with daemon.backend() as backend:
            changed = await backend.post(
                f"/api/v1/tickets/{number}/status", json={"status": "in_progress"}
            )
        notice = changed.json()["notification_id"]
        [submit] = await smsc.wait_for("submit_sm", where=lambda e: number in e["text"])
        assert submit["destination_addr"] == CITIZEN
        async with daemon.backend() as backend:
            history = (await backend.get(f"/api/v1/notifications/{notice}")).json()
        assert "403" in history["last_error"] or any(
            "403" in (h.get("reason") or "") for h in history["history"]
        )
        async with daemon.admin() as admin:
            listed = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
        assert [(s["channel"], s["address"], s["reason"]) for s in listed] == [
            ("messenger", str(anna.id), "bot_blocked")
        ]
    finally:
        daemon.stop()


async def test_a_phone_shared_after_an_sms_joins_one_contact_with_one_ticket_list(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer, smsc: Smsc
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd, sms_daemon(tmp_path / "daemon", smsc))
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.deliver(
            source=CITIZEN, destination="0911", text="Нужна справка о доходах", data_coding=8
        )

        async def by_sms() -> dict[str, Any] | None:
            found = [e for e in await feed_all(daemon) if e["channel"] == "sms"]
            return found[0] if found else None

        number = (await eventually(by_sms, "the SMS filed"))["ticket"]["number"]
        anna: Citizen = await telegram.citizen("Анна")
        await telegram.share_contact(anna, "+" + CITIZEN)
        # Sharing the phone answers with the newest request of the person: the SMS's.

        async def status_answer() -> dict[str, Any] | None:
            found = [s for s in await telegram.sent(anna) if number in s.get("text", "")]
            return found[0] if found else None

        answer = await eventually(status_answer, "the SMS ticket's status told in Telegram")
        assert "Принято" in answer["text"]
        [sms, shared] = await feed_all(daemon)
        assert shared["contact_id"] == sms["contact_id"]  # one contact
        assert shared["ticket"]["number"] == number  # one ticket list: no ticket of its own
        assert shared["sender"]["kind"] == "telegram"
    finally:
        daemon.stop()


async def test_a_notice_falls_back_through_the_bot_the_citizen_talks_to(
    tmp_path: Path,
    telegram: BotDouble,
    telegram_server: TelegramDouble,
    clamd: ClamdServer,
    smsc: Smsc,
) -> None:
    """An SMS the SMSC refuses for good falls back to Telegram through the second bot, the one
    the citizen wrote to: the first may not write to them first (403), and its refusal would
    say nothing of the citizen."""
    second = await telegram_server.new_bot(telegram.client, username="priem_bot")
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd, sms_daemon(tmp_path / "daemon", smsc))
    write_secret(daemon.config / "secrets" / "priem.token", second.token + "\n")
    with (daemon.config / "channels" / "messenger.toml").open("a") as messenger:
        messenger.write(
            f'[accounts.priem]\nkind = "telegram"\ntoken_file = "secrets/priem.token"\n'
            f'api_url = "{second.api_url}"\npoll_timeout = "5s"\n'
        )
    daemon.edit_router('fallback = ["sms", "email"]', 'fallback = ["sms", "messenger"]')
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.deliver(
            source=CITIZEN, destination="0911", text="Нужна справка о доходах", data_coding=8
        )
        [by_sms] = await eventually(lambda: _filed_on(daemon, "sms"), "the SMS filed")
        number = by_sms["ticket"]["number"]
        anna = await second.citizen("Анна")
        await second.share_contact(anna, "+" + CITIZEN)
        await eventually(lambda: _filed_on(daemon, "messenger"), "the shared phone filed")
        await smsc.refuse("ESME_RINVDSTADR")
        async with daemon.backend() as backend:
            changed = await backend.post(
                f"/api/v1/tickets/{number}/status", json={"status": "in_progress"}
            )
        assert changed.status_code == 202, changed.text

        async def told() -> list[dict[str, Any]] | None:
            found = [s for s in await second.sent(anna) if "В обработке" in s.get("text", "")]
            return found or None

        [notice] = await eventually(told, "the status through the second bot")
        assert number in notice["text"]
        assert await telegram.sent(anna) == []
        async with daemon.admin() as admin:
            listed = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
        assert listed == []
    finally:
        daemon.stop()


async def _filed_on(daemon: DaemonProcess, channel: str) -> list[dict[str, Any]] | None:
    found = [e for e in await feed_all(daemon) if e["channel"] == channel]
    return found or None


async def test_a_429_storm_under_flood_control_stays_within_the_limits_and_loses_nothing(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """The double refuses every message over Telegram's limits (here 1 a second to a chat, 4
    to all): none is refused for pace, a storm's 429s are waited out, each notice goes once."""
    settings = "per_chat_rate = 1\nglobal_rate = 4\n"
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd, settings=settings)
    await telegram.flood_control(per_chat=1, overall=4)
    daemon.start()
    try:
        citizens = [await telegram.citizen(f"Гражданин {i}") for i in range(6)]
        for citizen in citizens:
            await telegram.write(citizen, f"Вопрос гражданина {citizen.first_name}")
        envelopes = await filed(daemon, len(citizens))
        storm_from = time.monotonic()
        await telegram.storm(2.0, retry_after=1)
        storm_until = time.monotonic() + 2.0
        async with daemon.backend() as backend:
            for envelope in envelopes:
                number = envelope["ticket"]["number"]
                changed = await backend.post(
                    f"/api/v1/tickets/{number}/status", json={"status": "in_progress"}
                )
                assert changed.status_code == 202
        for citizen in citizens:
            # The confirmation, the phone button, the status: each once.
            sent = await telegram.wait_for_sent(3, citizen)
            assert len({s["text"] for s in sent}) == 3
            assert sum("В обработке" in s["text"] for s in sent) == 1
        calls = [c for c in await telegram.calls() if c["method"].lower() in SENDS]
        refused = [c for c in calls if not c["ok"]]
        assert refused and all(storm_from <= c["at"] <= storm_until for c in refused), [
            (c["at"] - storm_from, c["description"]) for c in refused
        ]
        assert len(await telegram.sent()) == 3 * len(citizens)
    finally:
        daemon.stop()


async def test_a_long_flood_wait_holds_the_bots_notices_in_the_queue_not_in_attempts(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """A 429 asking the bot to wait two minutes: the notice goes back to the queue, the next
    one is not claimed before the wait is over (where it would wait it out inside its attempt
    and fail at the attempt's timeout), and a /start meanwhile holds up no update."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna, boris = await telegram.citizen("Анна"), await telegram.citizen("Борис")
        for citizen in (anna, boris):
            await telegram.write(citizen, f"Вопрос гражданина {citizen.first_name}")
            await telegram.wait_for_sent(2, citizen)  # the confirmation and the phone button
        [first, second] = await filed(daemon, 2)
        await telegram.refuse(1, retry_after=FLOOD_WAIT)

        async def status_notice(envelope: dict[str, Any]) -> str:
            number = envelope["ticket"]["number"]
            async with daemon.backend() as backend:
                changed = await backend.post(
                    f"/api/v1/tickets/{number}/status", json={"status": "in_progress"}
                )
            notice: str = changed.json()["notification_id"]
            return notice

        def queued_after(notice: str, event: str) -> Callable[[], Awaitable[Any]]:
            async def probe() -> dict[str, Any] | None:
                found = await notification_in(daemon, notice, "queued")
                events = [h.get("event") for h in (found or {}).get("history", [])]
                return found if event in events else None

            return probe

        throttled = await status_notice(first)
        await eventually(queued_after(throttled, "throttled"), "the refused notice queued")
        held = await status_notice(second)
        found = await eventually(queued_after(held, "paced"), "the next notice held back")
        assert found["attempts"] == 0
        carla = await telegram.citizen("Карла")
        await telegram.write(carla, "/start")
        await telegram.write(carla, "Вопрос без темы")
        assert (await filed(daemon, 3))[2]["text"] == "Вопрос без темы"
        assert len(await telegram.sent(boris)) == 2  # the held notice not sent
    finally:
        daemon.stop()


async def test_webhook_mode_takes_updates_with_our_secret_only(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = DaemonProcess(tmp_path / "daemon")
    write_secret(daemon.config / "secrets" / "telegram.webhook", "s3cr3t-token_1\n")
    url = f"{daemon.base}/telegram/updates"
    settings = f'mode = "webhook"\nwebhook_url = "{url}"\n'
    settings += 'webhook_secret_file = "secrets/telegram.webhook"\n'
    bot_daemon(tmp_path / "daemon", telegram, clamd, daemon, settings)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "Нужна справка о доходах")
        [envelope] = await filed(daemon, 1)
        assert envelope["text"] == "Нужна справка о доходах"
        [attempt] = await telegram.wait_for_webhook(1)
        assert attempt["status"] == 200
        assert await telegram.pending_updates() == []
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, json={"update_id": 1}, headers={SECRET: "guess"})
        assert forged.status_code == 403
        await telegram.wait_for_sent(2, anna)  # answered as in polling mode
    finally:
        daemon.stop()


async def test_a_long_reply_goes_in_parts_cut_at_paragraphs_answering_the_citizens_message(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        asked = await telegram.write(anna, "Как получить выписку?")
        [envelope] = await filed(daemon, 1)
        await telegram.wait_for_sent(2, anna)
        paragraphs = ["Первый шаг. " * 300, "Второй шаг. " * 100]  # 3600 and 1200 characters
        reply = {"text": "\n\n".join(p.strip() for p in paragraphs)}
        async with daemon.backend() as backend:
            number = envelope["ticket"]["number"]
            posted = await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
            assert posted.status_code == 202
        first, second = (await telegram.wait_for_sent(4, anna))[2:]
        assert "Первый шаг." in first["text"] and "Второй шаг." not in first["text"]
        assert second["text"].startswith("Второй шаг.")
        assert all(len(part["text"]) <= 4096 for part in (first, second))
        # Threaded: the answer quotes the citizen's message.
        assert first["reply_to"] == asked["message"]["message_id"]
    finally:
        daemon.stop()


async def test_a_screenshot_telegram_will_not_show_as_a_photo_goes_as_a_document(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """sendPhoto refuses a 1080x24000 PNG (PHOTO_INVALID_DIMENSIONS): the same file goes with
    sendDocument, and the notice is sent, not failed after its text went out."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        await telegram.write(anna, "Не вижу кнопку «Подать»")
        [envelope] = await filed(daemon, 1)
        await telegram.wait_for_sent(2, anna)  # the confirmation and the phone button
        out = io.BytesIO()
        Image.new("L", (1080, 24000), 255).save(out, "PNG")  # a long screenshot
        screenshot = out.getvalue()
        async with daemon.backend() as backend:
            number = envelope["ticket"]["number"]
            upload = await backend.post(
                f"/api/v1/tickets/{number}/attachments",
                files={"file": ("инструкция.png", screenshot, "image/png")},
            )
            reply = {"text": "Смотрите снимок.", "attachments": [upload.json()["attachment_id"]]}
            posted = await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
            assert posted.status_code == 202
            notice = await final_notification(backend, posted.json()["notification_id"])
        assert notice["state"] == "sent", notice
        text, document = (await telegram.wait_for_sent(4, anna))[2:]
        assert "Смотрите снимок." in text["text"]
        assert document["method"] == "sendDocument"
        [file] = document["files"]
        assert (file["filename"], file["size"]) == ("инструкция.png", len(screenshot))
        refused = [c for c in await telegram.calls() if not c["ok"]]
        assert [c["description"] for c in refused] == ["Bad Request: PHOTO_INVALID_DIMENSIONS"]
    finally:
        daemon.stop()


async def test_a_document_over_the_bot_apis_limit_is_flagged_and_its_message_filed(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    daemon.start()
    try:
        anna = await telegram.citizen("Анна")
        big = PDF + b"\0" * (20 * 1024 * 1024)  # over the 20 MB a bot may download
        await telegram.send_document(anna, big, "скан.pdf", "application/pdf", "Мой паспорт")
        await telegram.write(anna, "Следующее сообщение")
        first, second = await filed(daemon, 2)
        assert (first["text"], first["attachments"]) == ("Мой паспорт", [])
        assert "oversize" in first["flags"]
        assert second["text"] == "Следующее сообщение"  # the update after it is not held
        assert not [c for c in await telegram.calls() if c["method"] == "getFile"]
    finally:
        daemon.stop()


async def test_a_refused_token_is_said_without_the_token(
    tmp_path: Path, telegram: BotDouble, clamd: ClamdServer
) -> None:
    """PTB quotes a refused token in its error: it must reach neither the status nor the log."""
    daemon = bot_daemon(tmp_path / "daemon", telegram, clamd)
    wrong = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    write_secret(daemon.config / "secrets" / "telegram.token", wrong + "\n")
    daemon.start()
    try:

        async def refused() -> dict[str, Any] | None:
            async with daemon.admin() as admin:
                status = (await admin.get("/api/v1/admin/status")).json()
            account: dict[str, Any] = status["channels"]["messenger"]["accounts"]["support"]
            return account if account["last_error"] else None

        account = await eventually(refused, "the refused token shown")
        assert "refused the token" in account["last_error"]
        assert "AAHdqTcv" not in account["last_error"]
        assert "AAHdqTcv" not in daemon.log.read_text()
    finally:
        daemon.stop()
