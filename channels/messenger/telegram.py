"""A Telegram bot account: python-telegram-bot's Bot in the daemon's asyncio loop (trio-asyncio).

Updates come by long polling (getUpdates, our own loop: PTB's Updater would confirm an update by
the next offset before it is committed) or by webhook. Each update is committed through the
intake with the next offset in the same transaction, its files stored and scanned before that,
so the commit is the last step; the next getUpdates confirms it to Telegram only after.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import msgspec
import trio
import trio_asyncio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from channels.contract import (
    AccountSpec,
    AttachmentRefused,
    Channel,
    Deliver,
    DeliveryFailed,
    Lane,
    Outbound,
    OutboundFile,
    Ports,
    Received,
    Sent,
    rfc3339,
)
from channels.pacing import Pacing
from channels.settings import read_first_line, read_secret

from . import inbound, prompts
from .config import MessengerAccount, MessengerFile

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

# What the support bot reads; anything else Telegram keeps to itself (chat member changes).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# Bot API 6.1 (setWebhook): the header Telegram sends the secret_token in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The reason a blocked chat stays on the suppression list under (CONTRACTS.md).
BOT_BLOCKED = "bot_blocked"
# The reason a deleted Telegram account stays there: nothing reaches it again.
USER_DEACTIVATED = "user_deactivated"
# The Bot API's 403 descriptions that say the citizen is out of the bot's reach for good, and
# the suppression each one asks for. Any other 403 is about this bot ("bot can't initiate
# conversation with a user": the citizen talks to another of our bots, or never started it),
# not the citizen's choice: the notice falls back and the chat stays open to the bots it has.
_UNREACHABLE = {
    "bot was blocked by the user": BOT_BLOCKED,
    "user is deactivated": USER_DEACTIVATED,
}
# A button's data that picks a topic (InlineKeyboardButton data is at most 64 bytes).
TOPIC_DATA = "topic:"
# The files a notice carries that Telegram shows as photos (sendPhoto takes JPEG and PNG, at
# most 10 MB); a larger one goes as a document, which takes up to 50 MB.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
PHOTO_MAX_BYTES = 10_000_000
# sendPhoto's 400s about the image itself, which sendDocument takes as it is: a side over 20
# times the other or width and height over 10000 together (a long screenshot), an image
# Telegram cannot decode. Compared in capitals: PTB capitalises a description's first letter
# only. Reading the sides before sending would need an image library at run time.
PHOTO_REFUSALS = ("PHOTO_INVALID_DIMENSIONS", "IMAGE_PROCESS_FAILED", "PHOTO_SAVE_FILE_INVALID")
# The kinds of file a message may carry besides a photo (Bot API Message), each taken as a
# document is; the name suffix and type of one sent without them (a voice note and a round video
# never have a name; Telegram records voice as OGG/Opus and video as MP4).
MEDIA = (
    ("document", "", "application/octet-stream"),
    ("animation", ".mp4", "video/mp4"),
    ("video", ".mp4", "video/mp4"),
    ("video_note", ".mp4", "video/mp4"),
    ("audio", ".mp3", "audio/mpeg"),
    ("voice", ".ogg", "audio/ogg"),
)
# One send, its upload included, within the lane's attempt; getUpdates adds its long poll.
SEND_TIMEOUT = 20.0
# The references of the steps of a notice sent so far (state `ACCOUNT/sent/ID`).
_progress = msgspec.json.Decoder(list[str])


class TelegramAccount:
    """One bot of channels/messenger.toml with `kind = "telegram"`."""

    channel: Channel = "messenger"
    websocket_max_message = 0

    def __init__(
        self, spec: AccountSpec, settings: Callable[[], MessengerFile], ports: Ports
    ) -> None:
        self.account = spec.account
        self.settings: MessengerAccount = settings().accounts[spec.account]
        self.ports = ports
        self._bot: Bot | None = None
        # The webhook's secret_token, read when the account starts (empty: no webhook set).
        self._secret = ""
        self._stopping = False
        self._offset_key = f"{self.account}/offset"
        # The lane's pacing for each message: the outbox paces notices, and a notice may go out
        # as several messages (a long text, its files, the phone button).
        self._pacing = Pacing()
        self._updates = trio.Lock()
        self._taken = 0

    @property
    def lane(self) -> Lane:
        """Notices claimed at per_chat_rate, as many at once as the bot sends in a second;
        each message then waits for its turn within both limits (_paced)."""
        return Lane(
            concurrency=max(1, math.ceil(self.settings.global_rate)),
            attempt_timeout=SEND_TIMEOUT * 4,
            address_rate=self.settings.per_chat_rate,
            threads=True,
        )

    @property
    def _paced(self) -> Lane:
        """Telegram's published limits, as configured: per chat and for the whole bot."""
        return self.lane._replace(account_rate=self.settings.global_rate)

    def routes(self) -> Sequence[BaseRoute]:
        """The webhook's route, in webhook mode: the path of webhook_url on our listener."""
        url = self.settings.webhook_url
        if self.settings.mode != "webhook" or url is None:
            return []
        return [Route(urlsplit(url).path or "/", self._webhook, methods=["POST"])]

    def detail(self) -> dict[str, object]:
        """Updates committed since the account started."""
        return {"updates": self._taken}

    def stop_intake(self) -> None:
        """Take no new update: what Telegram holds it sends again after the restart."""
        self._stopping = True

    @property
    def deliver(self) -> Deliver:
        """Notices go out as sendMessage, their files as sendDocument or sendPhoto."""
        return self._deliver

    def _call(self, method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """A PTB coroutine method as trio calls it, in the daemon's asyncio loop."""
        return trio_asyncio.aio_as_trio(method)  # type: ignore[no-any-return]

    def _make_bot(self) -> Bot:
        token = read_first_line(self.ports.config_dir / self.settings.token_file)
        if not token:
            raise ValueError(f"{self.settings.token_file}: no token on its first line")
        api = self.settings.api_url.rstrip("/")
        return Bot(
            token,
            base_url=f"{api}/bot",
            base_file_url=f"{api}/file/bot",
            local_mode=self.settings.local_server,
            # As many connections as the lane has attempts; the long poll has its own.
            request=HTTPXRequest(connection_pool_size=self.lane.concurrency + 4),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Log in (getMe), then poll or set the webhook; the bot is shut down with the account."""
        bot = self._make_bot()
        try:
            try:
                await self._call(bot.initialize)()
            except InvalidToken:
                # PTB's message quotes the token: the reason is said without it (it would go
                # to the logs and `omnirouter status`).
                raise ConnectionRefusedError(
                    "the Bot API refused the token (401), or api_url is no Bot API (404)"
                ) from None
            self._bot = bot
            if self.settings.mode == "webhook":
                self._secret = self._read_webhook_secret()
                await self._set_webhook(bot)
                task_status.started()
                await trio.sleep_forever()
            else:
                # getUpdates is refused while a webhook is set (409 Conflict).
                await self._call(bot.delete_webhook)(drop_pending_updates=False)
                task_status.started()
                await self._poll(bot)
        finally:
            self._bot = None
            with trio.CancelScope(shield=True):
                await self._call(bot.shutdown)()

    async def _set_webhook(self, bot: Bot) -> None:
        assert self.settings.webhook_url is not None
        await self._call(bot.set_webhook)(
            self.settings.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            secret_token=self._secret,
            # One at a time, in order: an update's offset is committed before the next comes.
            max_connections=1,
        )

    def _read_webhook_secret(self) -> str:
        assert self.settings.webhook_secret_file is not None
        secret = read_secret(self.ports.config_dir / self.settings.webhook_secret_file).decode()
        # Bot API setWebhook: 1-256 characters A-Z, a-z, 0-9, _ and -; said here, not as a 400.
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret.strip()):
            raise ValueError("webhook_secret_file: 1 to 256 of A-Z a-z 0-9 _ - (Bot API)")
        return secret.strip()

    async def _poll(self, bot: Bot) -> None:
        """getUpdates from the committed offset, each update committed before the next poll
        confirms it (Bot API getUpdates: an update is confirmed by a higher offset)."""
        while not self._stopping:
            offset = await self.ports.state.get(self._offset_key)
            updates = await self._call(bot.get_updates)(
                offset=None if offset is None else int(offset),
                timeout=timedelta(seconds=self.settings.poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
            )
            for update in updates:
                await self._take(bot, update)

    async def _webhook(self, request: Request) -> Response:
        """An update Telegram POSTs: 200 once committed, so that Telegram stops sending it."""
        bot = self._bot
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            self.ports.bad_input("messenger", "webhook without our secret_token")
            return Response(status_code=403)
        if bot is None or self._stopping:
            return Response(status_code=503)  # Telegram sends it again
        try:
            update = Update.de_json(await request.json(), bot)
        except (ValueError, TypeError, KeyError):
            self.ports.bad_input("messenger", "webhook body is not an Update")
            return Response(status_code=400)
        # No offset to compare with: after a week without updates Telegram numbers them from
        # a random point, lower ones included; a retry is a redelivery of its journal key.
        await self._take(bot, update)
        return Response(status_code=200)

    async def _take(self, bot: Bot, update: Update) -> None:
        """Commit one update with the offset after it; then answer what waits for an answer."""
        async with self._updates:
            changes: dict[str, bytes | None] = {self._offset_key: b"%d" % (update.update_id + 1)}
            key = None if ignored(update) else inbound.key(update)
            query = update.callback_query
            if query is not None:
                await self._press(bot, update, query, changes)
            elif key is None:
                await self.ports.state.put(changes)  # nothing to file; only the offset moves
            else:
                await self._message(bot, update, key, changes)
            self._taken += 1

    async def _message(
        self, bot: Bot, update: Update, key: str, changes: dict[str, bytes | None]
    ) -> None:
        message = update.message or update.edited_message
        assert message is not None
        metadata: dict[str, str] = {}
        chat = message.chat.id
        if update.message is not None:
            # The topic picked with a button goes with the next message, and only with it.
            topic_key = f"{self.account}/topic/{chat}"
            topic = await self.ports.state.get(topic_key)
            if topic is not None:
                metadata[inbound.TOPIC] = topic.decode()
                changes[topic_key] = None
        files, flags = await self._files(bot, message)
        if files:
            metadata[inbound.ATTACHMENTS] = ",".join(files)
        if flags:
            metadata[inbound.FLAGS] = ",".join(sorted(flags))
        receipt = await self._receive(update, key, metadata, changes)
        user = message.from_user
        if inbound.is_start(message.text) and not receipt:
            await self._offer_topics(bot, chat, None if user is None else user.language_code)

    async def _receive(
        self,
        update: Update,
        key: str,
        metadata: Mapping[str, str],
        changes: Mapping[str, bytes | None],
    ) -> bool:
        """Commit the update with the state that goes with it; whether it was a redelivery."""
        user = update.effective_user
        received = Received(
            channel="messenger",
            account=self.account,
            idempotency_key=key,
            received_at=rfc3339(datetime.now(UTC)),
            content_type=inbound.CONTENT_TYPE,
            payload=inbound.kept(update),
            metadata=dict(metadata),
            sender=None if user is None else inbound.sender_of(user),
        )
        receipt = await self.ports.intake.receive(received, changes)
        return receipt.redelivery

    async def _files(self, bot: Bot, message: Message) -> tuple[list[str], set[str]]:
        """The message's files (a photo's largest size, a document, a video, an audio, a voice
        note, an animation, a round video), stored and scanned: their attachment ids, and the
        flags for those that could not be taken. A file Telegram will not hand over is flagged,
        never retried: it would hold every update after it."""
        found: list[tuple[str, str, str, int | None]] = []
        if message.photo:
            largest = message.photo[-1]
            name = f"photo-{message.message_id}.jpg"
            found.append((largest.file_id, name, "image/jpeg", largest.file_size))
        taken: set[str] = set()
        for kind, suffix, default_type in MEDIA:
            media = getattr(message, kind)
            # An animation comes as a document too, the same file (Bot API Message.animation).
            if media is None or media.file_unique_id in taken:
                continue
            taken.add(media.file_unique_id)
            name = getattr(media, "file_name", None) or f"{kind}-{message.message_id}{suffix}"
            mime = getattr(media, "mime_type", None) or default_type
            found.append((media.file_id, name, mime, media.file_size))
        ids: list[str] = []
        flags: set[str] = set()
        limit = self._file_limit()
        for file_id, name, mime, size in found:
            if size is not None and size > limit:
                flags.add("oversize")
                self.ports.bad_input("messenger", "file over the download limit")
                continue
            try:
                file = await self._call(bot.get_file)(file_id)
                content = await self._call(file.download_as_bytearray)()
            except BadRequest as refused:  # "file is too big", an expired file id
                flags.add("oversize" if "too big" in refused.message else "incomplete")
                self.ports.bad_input("messenger", "file refused by the Bot API")
                continue
            except OSError:  # a local Bot API server's file we may not read: never will
                flags.add("incomplete")
                self.ports.bad_input("messenger", "file unreadable")
                continue
            try:
                receipt = await self.ports.attachments.receive(
                    _chunks(bytes(content)), channel="messenger", filename=name, declared_type=mime
                )
            except AttachmentRefused as refused:
                flags.add("oversize" if refused.code == "file_too_large" else "rejected_attachment")
                self.ports.bad_input("messenger", refused.code)
                continue
            ids.append(receipt.id)
        return ids, flags

    def _file_limit(self) -> int:
        """The largest file taken: the channel's limit, and the cloud Bot API's 20 MB."""
        channel = self.ports.attachments.limits("messenger").file
        download = self.settings.download_limit
        return channel if download is None else min(channel, download)

    async def _press(
        self, bot: Bot, update: Update, query: CallbackQuery, changes: dict[str, bytes | None]
    ) -> None:
        """A button: a topic is kept for the chat's next message; any other button's data is
        the citizen's message ("/status N"). Either way the query is answered, so that the
        citizen's app stops its spinner (Bot API answerCallbackQuery)."""
        data = query.data or ""
        language = query.from_user.language_code
        answer = None
        try:
            if data.startswith(TOPIC_DATA):
                code = data.removeprefix(TOPIC_DATA)
                changes[f"{self.account}/topic/{query.from_user.id}"] = code.encode()
                await self.ports.state.put(changes)
                topics = await self.ports.tickets.topics(_language(language))
                name = {t.code: t.name for t in topics}.get(code, code)
                answer = prompts.text("topic_chosen", language).format(topic=name)
            elif data:
                key = inbound.key(update)
                assert key is not None
                await self._receive(update, key, {}, changes)
            else:
                await self.ports.state.put(changes)
        finally:
            # Whatever came of it, the citizen's app stops its spinner.
            with trio.CancelScope(shield=True):
                try:
                    await self._call(bot.answer_callback_query)(query.id, text=answer)
                except TelegramError as late:  # older than Telegram keeps it, a flood wait
                    log.info("callback query of %s not answered: %s", self.account, late)

    async def _offer_topics(self, bot: Bot, chat: int, language: str | None) -> None:
        """/start: the topics of categories.toml as buttons; the one pressed sets the category
        of the next message."""
        topics = await self.ports.tickets.topics(_language(language))
        if not topics:
            return
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t.name, callback_data=f"{TOPIC_DATA}{t.code}")] for t in topics]
        )
        try:
            await self._send(bot, chat, prompts.text("choose_topic", language), keyboard)
        except (TelegramError, DeliveryFailed) as failed:
            # The citizen may write without a topic all the same; under a 429's pause the
            # keyboard would hold every update behind it until the pause ends.
            log.info("topics not offered by %s: %s", self.account, failed)

    async def _send(
        self, bot: Bot, chat: int, text: str, markup: Any = None, reply: int | None = None
    ) -> Message:
        await self._chat_turn(chat)
        return await self._call(bot.send_message)(
            chat,
            text,
            reply_markup=markup,
            reply_parameters=None
            if reply is None
            else ReplyParameters(reply, allow_sending_without_reply=True),
        )

    async def _chat_turn(self, chat: int) -> None:
        """Wait for the message's turn within per_chat_rate and global_rate, and take it;
        DeliveryFailed with the rest of a 429's pause if one is on, or began meanwhile."""
        self._not_paused()
        await trio.sleep(self._pacing.take(self._paced, "messenger", self.account, str(chat)))
        self._not_paused()

    def _not_paused(self) -> None:
        """Not a message into a 429's pause: the notice goes back to the queue until it is
        over (not a failed attempt), where waiting it out could outlast the attempt, and a
        send during it can make Telegram's wait longer."""
        paused = self._pacing.paused_for("messenger", self.account)
        if paused > 0:
            raise DeliveryFailed(
                "429: Telegram asked the bot to wait", retry_after=paused, account_wide=True
            )

    async def _deliver(self, notice: Outbound) -> Sent:
        """The notice's parts, then its files, then (after a first confirmation) the button
        to share the phone; each step once, across retries, so a 429 on the second part does
        not send the first again."""
        bot = self._bot
        if bot is None:
            raise DeliveryFailed("the bot is not running")
        chat = int(notice.address)
        progress_key = f"{self.account}/sent/{notice.id}"
        done = _progress.decode(await self.ports.state.get(progress_key) or b"[]")
        steps = self._steps(bot, notice, chat)
        try:
            for step in steps[len(done) :]:
                reference = await step()
                done.append(reference)
                await self.ports.state.put({progress_key: msgspec.json.encode(done)})
        except TelegramError as error:
            failure = _failure(error)
            if failure.retry_after is not None:
                # A flood wait is the bot's, not this chat's: every send of it waits it out.
                self._pacing.pause("messenger", self.account, failure.retry_after)
            if failure.permanent:  # never tried again: nothing to resume
                await self.ports.state.put({progress_key: None})
            raise failure from None
        await self.ports.state.put({progress_key: None})
        return Sent(references=tuple(r for r in done if r))

    def _steps(self, bot: Bot, notice: Outbound, chat: int) -> list[Callable[[], Awaitable[str]]]:
        """What the notice goes out as, in order; each step's reference ("" for none)."""
        parts = notice.parts or [notice.text]
        reply = notice.threading.in_reply_to
        reply_to = _own_message(reply, chat)
        keyboard = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.text, callback_data=b.data)] for b in notice.buttons]
            )
            if notice.buttons
            else None
        )

        async def send_part(index: int) -> str:
            last = index == len(parts) - 1
            sent = await self._send(
                bot,
                chat,
                parts[index],
                keyboard if last else None,
                reply_to if index == 0 else None,
            )
            return inbound.message_id(chat, sent.message_id)

        async def send_file(file: OutboundFile) -> str:
            found = await self.ports.attachments.content(file.id)
            if found is None:
                raise DeliveryFailed(f"file {file.id} is no longer available", permanent=True)
            described, chunks = found
            data = b"".join([chunk async for chunk in chunks])
            await self._chat_turn(chat)
            if described.content_type in PHOTO_TYPES and described.size <= PHOTO_MAX_BYTES:
                try:
                    upload = InputFile(data, filename=described.filename)
                    sent = await self._call(bot.send_photo)(chat, upload)
                    return inbound.message_id(chat, sent.message_id)
                except BadRequest as refused:
                    if not any(r in refused.message.upper() for r in PHOTO_REFUSALS):
                        raise
                    log.info("%s goes as a document: %s", file.id, refused.message)
                    await self._chat_turn(chat)
            upload = InputFile(data, filename=described.filename)
            sent = await self._call(bot.send_document)(chat, upload)
            return inbound.message_id(chat, sent.message_id)

        async def ask_phone() -> str:
            asked = f"{self.account}/phone-asked/{chat}"
            if await self.ports.state.get(asked) is not None:
                return ""
            button = KeyboardButton(
                prompts.text("share_phone_button", notice.language), request_contact=True
            )
            markup = ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
            await self._send(bot, chat, prompts.text("share_phone", notice.language), markup)
            await self.ports.state.put({asked: b"1"})
            return ""

        steps: list[Callable[[], Awaitable[str]]] = [
            _bind(send_part, index) for index in range(len(parts))
        ]
        steps += [_bind(send_file, file) for file in notice.attachments]
        if notice.kind == "confirmation":
            steps.append(ask_phone)
        return steps


def _failure(error: TelegramError) -> DeliveryFailed:
    """A Bot API error as the outbox's outcome (core.telegram.org/bots/api#making-requests)."""
    match error:
        case RetryAfter():
            return DeliveryFailed(
                "429 Too Many Requests", retry_after=_seconds(error.retry_after), account_wide=True
            )
        case Forbidden():
            # The message is "Forbidden: <description>", capitalised by PTB.
            description = error.message.lower().removeprefix("forbidden: ")
            return DeliveryFailed(
                f"403 {error.message}", permanent=True, suppress=_UNREACHABLE.get(description)
            )
        case BadRequest():
            return DeliveryFailed(f"400 {error.message}", permanent=True)
    return DeliveryFailed(f"{type(error).__name__}: {error.message}")


def _bind(step: Callable[[Any], Awaitable[str]], argument: Any) -> Callable[[], Awaitable[str]]:
    return lambda: step(argument)


def _own_message(reference: str | None, chat: int) -> int | None:
    """A chat-qualified message id of this chat as the Bot API's message_id, else None."""
    if reference is None:
        return None
    owner, _, number = reference.partition(":")
    return int(number) if owner == str(chat) and number.isdigit() else None


def _seconds(retry_after: int | timedelta) -> float:
    """RetryAfter.retry_after in seconds (an int now, a timedelta in PTB's next release)."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def _language(code: str | None) -> str:
    """The language a topic list is named in: Russian first (DOMAIN.md), English for "en*"."""
    return "en" if code is not None and code.startswith("en") else "ru"


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def ignored(update: Update) -> bool:
    """An update the router files nothing of: a group's message (the bot answers people, one
    by one), or an edit with nothing to read (a live location moving every few seconds)."""
    message = update.message or update.edited_message
    if message is None:
        return False
    if message.chat.type != "private":
        return True
    edit = update.edited_message
    return edit is not None and not (edit.text or edit.caption)
