"""The Bot API double against python-telegram-bot's own Bot, run as the adapter will run it:
asyncio inside trio through trio-asyncio, over real sockets."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import trio
import trio_asyncio
from hypercorn.config import Config
from hypercorn.trio import serve
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter

from tests.telegram import BotDouble, ControlError, TelegramDouble, telegram, telegram_server

from .daemon import eventually

__all__ = ["telegram", "telegram_server"]  # the fixtures, for pytest to find

pytestmark = pytest.mark.integration

# A long poll that returns as soon as there is an update; the bound is never reached when the
# double works.
LONG_POLL = 10


class Ptb:
    """A Bot whose coroutine methods are called from trio, through trio-asyncio."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        return trio_asyncio.aio_as_trio(getattr(self.bot, name))  # type: ignore[no-any-return]


@asynccontextmanager
async def ptb(double: BotDouble, *, local_mode: bool = False) -> AsyncIterator[Ptb]:
    """An initialised telegram.Bot pointed at the double, in an asyncio loop on top of trio."""
    async with trio_asyncio.open_loop(), initialised(double, local_mode=local_mode) as bot:
        yield bot


@asynccontextmanager
async def initialised(double: BotDouble, *, local_mode: bool = False) -> AsyncIterator[Ptb]:
    """A telegram.Bot pointed at the double, in the asyncio loop already open."""
    bot = Bot(
        double.token,
        base_url=double.base_url,
        base_file_url=double.base_file_url,
        local_mode=local_mode,
    )
    await trio_asyncio.aio_as_trio(bot.initialize)()
    try:
        yield Ptb(bot)
    finally:
        await trio_asyncio.aio_as_trio(bot.shutdown)()


@pytest.fixture(autouse=True)
def timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's durations as timedelta, the type its next major release makes the only one."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def noisy_png(width: int, height: int) -> bytes:
    """A PNG that does not compress away, so that smaller sizes are smaller files."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 64).save(out, "PNG")
    return out.getvalue()


async def polling(double: BotDouble) -> list[dict[str, Any]]:
    """The getUpdates calls the double has seen."""
    return [c for c in await double.calls() if c["method"] == "getUpdates"]


async def test_get_me_names_the_bot(telegram: BotDouble) -> None:
    async with ptb(telegram) as bot:
        me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (telegram.bot["id"], "support_bot", True)


async def test_a_long_poll_returns_a_written_message_and_the_offset_confirms_it(
    telegram: BotDouble,
) -> None:
    anna = await telegram.citizen("Анна")
    async with ptb(telegram) as bot, trio.open_nursery() as nursery:
        received: list[Update] = []

        async def poll() -> None:
            received.extend(await bot.get_updates(timeout=LONG_POLL))

        nursery.start_soon(poll)
        await eventually(lambda: polling(telegram), "a long poll waiting")
        await telegram.write(anna, "Здравствуйте, не работает портал")
    [update] = received
    assert update.message is not None and update.message.text == "Здравствуйте, не работает портал"
    assert (update.message.chat.id, update.message.from_user.id) == (anna.id, anna.id)
    assert update.message.from_user.language_code == "ru"
    assert update.message.message_id == 1

    async with ptb(telegram) as bot:
        # Not confirmed: a poll without the next offset gets it again.
        [again] = await bot.get_updates(timeout=0)
        assert again.update_id == update.update_id
        second = await telegram.write(anna, "Ещё вопрос")
        confirmed = await bot.get_updates(offset=update.update_id + 1, timeout=0)
        assert [u.update_id for u in confirmed] == [second["update_id"]]
        assert confirmed[0].message.message_id == 2
        assert second["update_id"] == update.update_id + 1
        assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == ()
    assert await telegram.pending_updates() == []


async def test_a_backlog_comes_in_batches_of_limit(telegram: BotDouble) -> None:
    citizens = [await telegram.citizen(f"Гражданин {n}") for n in range(3)]
    written = await telegram.write_many((citizens[n % 3], f"Обращение {n}") for n in range(150))
    async with ptb(telegram) as bot:
        first = await bot.get_updates(limit=100, timeout=0)
        rest = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    received = [u.update_id for u in (*first, *rest)]
    assert (len(first), received) == (100, [u["update_id"] for u in written])
    assert [u.message.text for u in rest][-1] == "Обращение 149"


async def test_an_inline_keyboard_is_sent_pressed_and_the_press_answered(
    telegram: BotDouble,
) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "/start")
    keyboard = telegram_keyboard(("Документы", "topic:docs"), ("Оплата", "topic:pay"))
    async with ptb(telegram) as bot:
        [start] = await bot.get_updates(timeout=0)
        sent = await bot.send_message(anna.id, "Выберите тему", reply_markup=keyboard)
        assert sent.message_id == 2 and sent.reply_markup == keyboard

        query_id = await telegram.press(anna, sent.message_id, "topic:pay")
        [press] = await bot.get_updates(offset=start.update_id + 1, timeout=0)
        assert press.callback_query is not None
        assert (press.callback_query.id, press.callback_query.data) == (query_id, "topic:pay")
        assert press.callback_query.message.message_id == sent.message_id

        assert await bot.answer_callback_query(query_id, text="Тема: оплата")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query_id)

        # The keyboard taken away: its buttons cannot be pressed any more.
        edited = await bot.edit_message_reply_markup(anna.id, sent.message_id, reply_markup=None)
        assert edited.reply_markup is None
    [logged] = await telegram.sent(anna)
    assert logged["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "topic:pay"
    [query] = await telegram.callback_queries()
    assert query["answered"] and query["answer"]["text"] == "Тема: оплата"
    with pytest.raises(ControlError, match="no button"):
        await telegram.press(anna, sent.message_id, "topic:docs")


def telegram_keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    row = [InlineKeyboardButton(text, callback_data=data) for text, data in buttons]
    return InlineKeyboardMarkup([row])


async def test_uploaded_files_come_back_byte_for_byte_through_get_file(
    telegram: BotDouble,
) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Пришлите справку")
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    png = noisy_png(1000, 750)
    async with ptb(telegram) as bot:
        document = await bot.send_document(
            anna.id, io.BytesIO(pdf), filename="справка.pdf", caption="Ваша справка"
        )
        assert document.document is not None and document.document.file_name == "справка.pdf"
        assert document.document.mime_type == "application/pdf"
        assert document.caption == "Ваша справка"
        photo = await bot.send_photo(anna.id, png, reply_to_message_id=1)
        assert photo.reply_to_message is not None and photo.reply_to_message.message_id == 1

        file = await bot.get_file(document.document.file_id)
        assert bytes(await trio_asyncio.aio_as_trio(file.download_as_bytearray)()) == pdf
        largest = photo.photo[-1]
        assert (largest.width, largest.height) == (1000, 750)
        file = await bot.get_file(largest.file_id)
        assert bytes(await trio_asyncio.aio_as_trio(file.download_as_bytearray)()) == png

        # A file_id sent again is the same file; a photo's is no document.
        again = await bot.send_document(anna.id, document.document.file_id)
        assert again.document.file_unique_id == document.document.file_unique_id
        with pytest.raises(BadRequest, match="Type of file mismatch"):
            await bot.send_document(anna.id, largest.file_id)

    sent = await telegram.sent(anna)
    assert [s["method"] for s in sent] == ["sendDocument", "sendPhoto", "sendDocument"]
    assert sent[0]["files"][0]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert sent[1]["files"][0]["sha256"] == hashlib.sha256(png).hexdigest()
    assert sent[1]["reply_to"] == 1


async def test_a_citizens_photo_has_sizes_and_its_largest_is_what_they_sent(
    telegram: BotDouble,
) -> None:
    anna = await telegram.citizen()
    png = noisy_png(1000, 750)
    await telegram.send_photo(anna, png, caption="Паспорт")
    async with ptb(telegram) as bot:
        [update] = await bot.get_updates(timeout=0)
        message = update.message
        assert message.caption == "Паспорт"
        widths = [size.width for size in message.photo]
        assert widths == [90, 320, 800, 1000]
        assert [s.file_size for s in message.photo] == sorted(s.file_size for s in message.photo)
        file = await bot.get_file(message.photo[-1].file_id)
        assert bytes(await trio_asyncio.aio_as_trio(file.download_as_bytearray)()) == png


def flat_png(width: int, height: int) -> bytes:
    """A one-colour PNG: a few kilobytes whatever its size (a long screenshot's shape)."""
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(("width", "height"), [(1080, 24000), (100, 2001), (9000, 1001)])
async def test_send_photo_refuses_what_telegram_cannot_show_as_a_photo(
    telegram: BotDouble, width: int, height: int
) -> None:
    """Over 10000 for width and height together, or a side over 20 times the other."""
    anna = await telegram.citizen()
    await telegram.write(anna, "Пришлите скриншот")
    async with ptb(telegram) as bot:
        with pytest.raises(BadRequest, match="Photo_invalid_dimensions"):
            await bot.send_photo(anna.id, flat_png(width, height))
        # The same image goes as a document; and at the limits, as a photo.
        document = await bot.send_document(anna.id, flat_png(width, height), filename="s.png")
        assert document.document is not None
        await bot.send_photo(anna.id, flat_png(100, 2000))
        await bot.send_photo(anna.id, flat_png(9000, 1000))
    [refused] = [c for c in await telegram.calls() if c["method"] == "sendPhoto" and not c["ok"]]
    assert refused["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"


async def test_files_over_20_mb_are_too_big_unless_the_server_is_local(
    telegram: BotDouble, telegram_server: Any
) -> None:
    big = b"\x00" * (20 * 1024 * 1024 + 1)
    anna = await telegram.citizen()
    await telegram.send_document(anna, big, "scan.tiff")
    async with ptb(telegram) as bot:
        [update] = await bot.get_updates(timeout=0)
        with pytest.raises(BadRequest, match="File is too big"):
            await bot.get_file(update.message.document.file_id)

    local = await telegram_server.new_bot(telegram.client, username="local_bot", local_mode=True)
    boris = await local.citizen("Борис")
    await local.send_document(boris, big, "scan.tiff")
    async with ptb(local, local_mode=True) as bot:
        [update] = await bot.get_updates(timeout=0)
        file = await bot.get_file(update.message.document.file_id)
        assert file.file_size == len(big)
        assert bytes(await trio_asyncio.aio_as_trio(file.download_as_bytearray)()) == big


async def test_a_429_is_retry_after_with_its_seconds(telegram: BotDouble) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Привет")
    await telegram.refuse(count=1, retry_after=7)
    async with ptb(telegram) as bot:
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(anna.id, "Ваше обращение принято")
        assert refused.value.retry_after == timedelta(seconds=7)
        # Only the next one was refused.
        assert (await bot.send_message(anna.id, "Ваше обращение принято")).message_id == 2


async def test_a_storm_refuses_every_send_until_it_passes(telegram: BotDouble) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Привет")
    await telegram.storm(duration=LONG_POLL * 6, retry_after=3)
    async with ptb(telegram) as bot:
        for _ in range(3):
            with pytest.raises(RetryAfter):
                await bot.send_message(anna.id, "Ответ")
        # A storm on the sends leaves polling alone.
        assert len(await bot.get_updates(timeout=0)) == 1
    assert [
        c.get("error_code") for c in await telegram.calls() if c["method"] == "sendMessage"
    ] == [429] * 3


async def test_flood_control_refuses_a_second_message_to_a_chat_within_a_second(
    telegram: BotDouble,
) -> None:
    anna, boris = await telegram.citizen("Анна"), await telegram.citizen("Борис")
    for citizen in (anna, boris):
        await telegram.write(citizen, "Привет")
    await telegram.flood_control(per_chat=1, overall=30)
    async with ptb(telegram) as bot:
        await bot.send_message(anna.id, "Первое")
        # Another chat is within its own limit and the global one.
        await bot.send_message(boris.id, "Первое")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(anna.id, "Второе")
    assert refused.value.retry_after == timedelta(seconds=1)
    assert [s["text"] for s in await telegram.sent(anna)] == ["Первое"]


async def test_a_blocked_bot_is_forbidden_and_told_by_my_chat_member(telegram: BotDouble) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Привет")
    await telegram.block(anna)
    async with ptb(telegram) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(anna.id, "Статус обращения изменён")
        updates = await bot.get_updates(timeout=0)
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    assert member.from_user.id == anna.id


async def test_a_bot_cannot_write_first_to_another_bots_user(
    telegram: BotDouble, telegram_server: TelegramDouble
) -> None:
    """Users are Telegram's, chats each bot's: another bot's user is 403 until they start this
    one; an id nobody has is "chat not found"."""
    anna = await telegram.citizen()
    second = await telegram_server.new_bot(telegram.client, username="second_bot")
    async with ptb(second) as bot:
        with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
            await bot.send_message(anna.id, "Статус обращения изменён")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(anna.id + 10**9, "Статус обращения изменён")
        await second.starts(anna)
        await bot.send_message(anna.id, "Статус обращения изменён")
    assert [s["text"] for s in await second.sent(anna)] == ["Статус обращения изменён"]
    assert await telegram.sent(anna) == []


async def test_text_over_4096_characters_is_too_long_after_entity_parsing(
    telegram: BotDouble,
) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Привет")
    async with ptb(telegram) as bot:
        assert (await bot.send_message(anna.id, "ж" * 4096)).text == "ж" * 4096
        # The tags do not count: 4096 characters once parsed.
        bold = await bot.send_message(anna.id, "<b>" + "ж" * 4096 + "</b>", parse_mode="HTML")
        assert bold.text == "ж" * 4096 and bold.entities[0].type == "bold"
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(anna.id, "ж" * 4097)
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(anna.id, "<b>не закрыт", parse_mode="HTML")
        with pytest.raises(BadRequest, match="is reserved and must be escaped"):
            await bot.send_message(anna.id, "Обращение принято.", parse_mode="MarkdownV2")


async def test_edits_replies_contacts_and_unsupported_kinds_arrive_as_telegram_sends_them(
    telegram: BotDouble,
) -> None:
    anna = await telegram.citizen()
    first = await telegram.write(anna, "Номер 123")
    async with ptb(telegram) as bot:
        answer = await bot.send_message(anna.id, "Уточните номер")
        await telegram.edit(anna, first["message"]["message_id"], "Номер 124")
        await telegram.write(anna, "Вот он: 124", reply_to=answer.message_id)
        await telegram.share_contact(anna, "79161234567")
        await telegram.share_contact(anna, "+79035550000", own=False)
        await telegram.send_sticker(anna)
        await telegram.send_voice(anna)
        await telegram.send_location(anna, 55.75, 37.62)
        updates = await bot.get_updates(timeout=0)
    assert updates[0].message.text == "Номер 123"
    edited = updates[1].edited_message
    assert edited is not None and (edited.message_id, edited.text) == (1, "Номер 124")
    assert edited.edit_date is not None
    assert updates[2].message.reply_to_message.message_id == answer.message_id
    own, other = updates[3].message.contact, updates[4].message.contact
    assert (own.phone_number, own.user_id) == ("79161234567", anna.id)
    assert other.user_id is None
    assert updates[5].message.sticker is not None
    assert updates[6].message.voice is not None
    assert updates[7].message.location.latitude == 55.75


async def test_media_with_captions_arrive_as_the_bot_apis_objects_and_download(
    telegram: BotDouble,
) -> None:
    """Video, Audio, Voice, Animation (with its Document) and VideoNote as PTB reads them."""
    anna = await telegram.citizen()
    clips = {kind: f"{kind}-bytes".encode() * 100 for kind in ("video", "audio", "voice")}
    clips |= {"animation": b"gif-mp4" * 50, "video_note": b"round" * 70}
    await telegram.send_media(anna, "video", clips["video"], "Ошибка на видео", "экран.mp4")
    await telegram.send_media(anna, "audio", clips["audio"], "Запись звонка", "звонок.mp3")
    await telegram.send_voice(anna, clips["voice"], caption="Голосом")
    await telegram.send_media(anna, "animation", clips["animation"], "Вот так")
    await telegram.send_media(anna, "video_note", clips["video_note"])
    async with ptb(telegram) as bot:
        video, audio, voice, animation, note = [u.message for u in await bot.get_updates(timeout=0)]
        assert video.caption == "Ошибка на видео" and video.video is not None
        assert (video.video.file_name, video.video.mime_type) == ("экран.mp4", "video/mp4")
        assert (video.video.width, video.video.height) == (1280, 720)
        assert video.video.duration == timedelta(seconds=5)  # PTB 22 reads seconds as timedelta
        assert audio.audio is not None and audio.audio.file_name == "звонок.mp3"
        assert audio.audio.mime_type == "audio/mpeg"
        assert voice.caption == "Голосом" and voice.voice is not None
        assert voice.voice.mime_type == "audio/ogg"
        assert animation.animation is not None and animation.document is not None
        assert animation.document.file_id == animation.animation.file_id
        assert note.video_note is not None and note.video_note.length == 240
        files = {
            "video": video.video,
            "audio": audio.audio,
            "voice": voice.voice,
            "animation": animation.animation,
            "video_note": note.video_note,
        }
        for kind, media in files.items():
            assert media.file_size == len(clips[kind])
            file = await bot.get_file(media.file_id)
            content = await trio_asyncio.aio_as_trio(file.download_as_bytearray)()
            assert bytes(content) == clips[kind]


async def test_allowed_updates_leaves_out_the_other_kinds(telegram: BotDouble) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Привет")
    async with ptb(telegram) as bot:
        [hello] = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
        await bot.get_updates(offset=hello.update_id + 1, timeout=0)
        await telegram.write(anna, "Это сообщение бот не просил")
        assert await bot.get_updates(timeout=0) == ()


async def test_a_second_poll_ends_the_first_with_409(telegram: BotDouble) -> None:
    async with (
        trio_asyncio.open_loop(),
        initialised(telegram) as first,
        initialised(telegram) as second,
        trio.open_nursery() as nursery,
    ):
        ended: list[Exception] = []

        async def poll() -> None:
            try:
                await first.get_updates(timeout=LONG_POLL)
            except Conflict as error:
                ended.append(error)

        nursery.start_soon(poll)
        await eventually(lambda: polling(telegram), "a long poll waiting")
        assert await second.get_updates(timeout=0) == ()
    [conflict] = ended
    assert "terminated by other getUpdates request" in str(conflict)


async def test_a_webhook_gets_updates_with_the_secret_until_it_answers_2xx(
    telegram: BotDouble,
) -> None:
    received: list[tuple[int, str | None, dict[str, Any]]] = []

    async def hook(request: Request) -> Response:
        # The first delivery fails: the double must try again.
        status = 500 if not received else 200
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        received.append((status, secret, await request.json()))
        return Response(status_code=status)

    anna = await telegram.citizen()
    async with webhook_receiver(hook) as url, ptb(telegram) as bot:
        assert await bot.set_webhook(url, secret_token="s3cret-Token_1")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        update = await telegram.write(anna, "Через вебхук")
        attempts = await telegram.wait_for_webhook(2)
        assert await bot.delete_webhook()
    assert [a["status"] for a in attempts] == [500, 200]
    assert [(status, secret) for status, secret, _ in received] == [
        (500, "s3cret-Token_1"),
        (200, "s3cret-Token_1"),
    ]
    assert received[1][2]["update_id"] == update["update_id"]
    assert received[1][2]["message"]["text"] == "Через вебхук"
    assert await telegram.pending_updates() == []


async def test_a_webhook_gets_up_to_max_connections_updates_at_once(telegram: BotDouble) -> None:
    arrived: list[int] = []
    open_requests, most = 0, 0
    three_in = trio.Event()

    async def hook(request: Request) -> Response:
        # Each request is held until three are open at once: a double that sent one at a time
        # would never get there.
        nonlocal open_requests, most
        open_requests += 1
        most = max(most, open_requests)
        arrived.append((await request.json())["update_id"])
        if len(arrived) == 3:
            three_in.set()
        await three_in.wait()
        open_requests -= 1
        return Response(status_code=200)

    anna = await telegram.citizen()
    async with webhook_receiver(hook) as url, ptb(telegram) as bot:
        assert await bot.set_webhook(url, max_connections=3)
        written = await telegram.write_many((anna, f"Сообщение {n}") for n in range(5))
        await telegram.wait_for_webhook(5)
    assert sorted(arrived) == [u["update_id"] for u in written]
    assert most == 3


@asynccontextmanager
async def webhook_receiver(
    handler: Callable[[Request], Awaitable[Response]],
) -> AsyncIterator[str]:
    """A webhook receiver on a free loopback port; its URL."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    app: Any = Starlette(routes=[Route("/telegram", handler, methods=["POST"])])
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: serve(app, config, task_status=task_status))
        yield f"{binds[0]}/telegram"
        nursery.cancel_scope.cancel()


async def test_errors_have_the_real_shapes_and_status_codes(telegram: BotDouble) -> None:
    anna = await telegram.citizen()
    await telegram.write(anna, "Привет")
    await telegram.refuse(count=1, retry_after=5)
    bot_id = telegram.bot["id"]
    async with httpx.AsyncClient() as client:
        send = f"{telegram.base_url}{telegram.token}/sendMessage"
        refused = await client.post(send, json={"chat_id": anna.id, "text": "x"})
        wrong = await client.post(f"{telegram.base_url}{bot_id}:{'A' * 35}/getMe", data={"x": "1"})
        unknown = await client.get(f"{telegram.base_url}{telegram.token}/sendSticker")
        missing = await client.post(send, data={"chat_id": str(anna.id + 1), "text": "x"})
        # GET with the parameters in the query string works as well as a body.
        polled = await client.get(f"{telegram.base_url}{telegram.token}/getUpdates?limit=1")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
    assert refused.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5},
    }
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert (unknown.status_code, json.loads(unknown.text)["description"]) == (404, "Not Found")
    assert missing.json()["description"] == "Bad Request: chat not found"
    assert polled.json()["result"][0]["message"]["text"] == "Привет"
