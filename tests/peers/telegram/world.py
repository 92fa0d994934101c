"""One bot's world as the Bot API shows it: its chats, files, updates and what it sent; no I/O.

Every Bot API method is a function of the world and the call's parameters that returns the
`result` or raises ApiError with the code and description the real service answers with
(https://core.telegram.org/bots/api). Waiting (long polls) and webhook pushes live in app.py.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import mimetypes
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import markup, photos
from .limits import Limits

Json = dict[str, Any]

# https://core.telegram.org/bots/api#sendmessage: "1-4096 characters after entities parsing".
MAX_TEXT = 4096
# https://core.telegram.org/bots/api#sendphoto: "0-1024 characters after entities parsing".
MAX_CAPTION = 1024
# https://core.telegram.org/bots/api#getfile: "bots can download files of up to 20MB in size";
# a local Bot API server (https://github.com/tdlib/telegram-bot-api) has no such limit.
MAX_DOWNLOAD = 20 * 1024 * 1024
# https://core.telegram.org/bots/api#inlinekeyboardbutton: callback_data is 1-64 bytes.
MAX_CALLBACK_DATA = 64
# https://core.telegram.org/bots/api#getupdates: limit is 1-100, default 100.
MAX_UPDATES = 100
# https://core.telegram.org/bots/api#getupdates, allowed_updates: by default every kind
# "except chat_member, message_reaction, and message_reaction_count"; of the kinds the double
# makes, all.
DEFAULT_ALLOWED = frozenset({"message", "edited_message", "callback_query", "my_chat_member"})
# Where each kind of file is kept, as the real file_path shows it, and its file name suffix.
FOLDERS = {
    "photo": "photos",
    "document": "documents",
    "voice": "voice",
    "sticker": "stickers",
    "video": "videos",
    "audio": "music",
    "animation": "animations",
    "video_note": "video_notes",
}
SUFFIXES = {
    "photo": ".jpg",
    "voice": ".oga",
    "sticker": ".webp",
    "video": ".mp4",
    "audio": ".mp3",
    "animation": ".mp4",
    "video_note": ".mp4",
}
# The fields of each kind of media besides the file's own, as a phone's app sends them (the
# double does not decode the file): https://core.telegram.org/bots/api#voice, #video, #audio,
# #animation, #videonote, #sticker.
MEDIA_FIELDS: dict[str, Json] = {
    "voice": {"duration": 1, "mime_type": "audio/ogg"},
    "video": {"width": 1280, "height": 720, "duration": 5, "mime_type": "video/mp4"},
    "audio": {"duration": 30, "mime_type": "audio/mpeg"},
    # A GIF the app converted: Telegram keeps animations as silent MP4.
    "animation": {
        "width": 480,
        "height": 270,
        "duration": 2,
        "file_name": "animation.gif.mp4",
        "mime_type": "video/mp4",
    },
    # A round video: square, `length` its side; no name, no type.
    "video_note": {"length": 240, "duration": 3},
    "sticker": {
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    },
}
# The kinds whose name and type the sender's app gives (a voice note's type only).
NAMED_MEDIA = frozenset({"video", "audio", "animation"})
# What a citizen's message may carry (https://core.telegram.org/bots/api#message).
CONTENT = frozenset(
    {"text", "entities", "caption", "caption_entities", "photo", "document", "voice", "sticker"}
    | {"video", "audio", "animation", "video_note", "location", "contact"}
)


class ApiError(Exception):
    """A Bot API error: HTTP status `code`, `description`, and retry_after for 429."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> Json:
        """The response body the real service sends with this error."""
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 as the real service words it."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


class ControlError(ValueError):
    """A control request that could not happen in Telegram (a test's mistake)."""


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart call."""

    filename: str | None
    content_type: str | None
    data: bytes


class Params:
    """A call's parameters: JSON values, or strings as form and multipart bodies carry them."""

    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload]) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads)

    def has(self, name: str) -> bool:
        """Whether the call gave `name` at all."""
        return self.values.get(name) not in (None, "")

    def integer(self, name: str, default: int | None = None) -> int:
        """An Integer parameter; a missing one without default is "<name> is empty"."""
        value = self.values.get(name)
        if value in (None, ""):
            if default is None:
                raise bad_request(f"{name} is empty")
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def string(self, name: str) -> str | None:
        """A String parameter, or None."""
        value = self.values.get(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool:
        """A Boolean parameter (form bodies send "true"), False when absent."""
        value = self.values.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))

    def json(self, name: str) -> Any:
        """An object or array parameter, which form bodies send JSON-serialised."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None


@dataclass
class StoredFile:
    """A file the service holds: uploaded by the bot or sent by a citizen."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    # What a message shows of it: a Document with its name and type, a photo's PhotoSize array.
    shown: Any = None

    def reference(self) -> Json:
        """The fields every PhotoSize, Document, Voice and File has."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }


@dataclass
class Chat:
    """A private chat between the bot and one user; its id is the user's."""

    user: Json
    messages: dict[int, Json] = field(default_factory=dict)
    last_message_id: int = 0
    blocked: bool = False

    def chat(self) -> Json:
        """The Chat object of a private chat."""
        shown = {k: v for k, v in self.user.items() if k in ("first_name", "last_name", "username")}
        return {"id": self.user["id"], "type": "private", **shown}


@dataclass
class CallbackQuery:
    """A button press, and the answer the bot gave to it, if any."""

    id: str
    user_id: int
    message_id: int
    data: str
    answered: bool = False
    answer: Json = field(default_factory=dict)


@dataclass
class Webhook:
    """setWebhook's parameters."""

    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


def _token(prefix: str) -> str:
    """An opaque identifier shaped like Telegram's."""
    return prefix + secrets.token_urlsafe(24)


def _new_bot_token(bot_id: int) -> str:
    """`<bot id>:<35 characters>`, the shape of a real token."""
    return f"{bot_id}:AA{secrets.token_urlsafe(33)[:33]}"


@dataclass
class World:
    """One bot and everything about it that the Bot API reveals."""

    bot: Json
    token: str
    # A local Bot API server: getFile gives absolute paths in `files_dir`, with no size limit.
    files_dir: Path | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    chats: dict[int, Chat] = field(default_factory=dict)
    # Telegram's users, shared by every bot of the double: a user of another bot exists, and
    # this bot may not write first to them (403), where an id nobody has is "chat not found".
    people: dict[int, Json] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    updates: list[Json] = field(default_factory=list)
    # Update ids "start from a certain positive number and increase sequentially".
    next_update_id: int = field(default_factory=lambda: 100_000_000 + secrets.randbelow(10**8))
    next_user_id: int = field(default_factory=lambda: 1_000_000_000 + secrets.randbelow(10**8))
    allowed_updates: frozenset[str] = DEFAULT_ALLOWED
    webhook: Webhook | None = None
    callbacks: dict[str, CallbackQuery] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    log: list[Json] = field(default_factory=list)
    webhook_attempts: list[Json] = field(default_factory=list)
    # Seconds a file download waits before its bytes come: a test's window between the bot
    # receiving an update and committing it.
    download_delay: float = 0.0

    @classmethod
    def create(
        cls, username: str, files_dir: Path | None = None, people: dict[int, Json] | None = None
    ) -> World:
        """A new bot with a fresh id and token, among `people` (Telegram's users) if given."""
        bot_id = 7_000_000_000 + secrets.randbelow(10**9)
        bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Support",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        world = cls(bot=bot, token=_new_bot_token(bot_id), files_dir=files_dir)
        if people is not None:
            world.people = people
        return world

    def bot_user(self) -> Json:
        """The bot as a message's sender: a User without getMe's capabilities."""
        return {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")}

    # -- the Bot API ------------------------------------------------------------------------

    def call(self, method: str, params: Params) -> tuple[Any, str | None]:
        """Run a Bot API method (not getUpdates) and log it; its result and description."""
        name = method.lower()
        handler = _METHODS.get(name)
        if handler is None:
            raise ApiError(404, "Not Found")
        entry: Json = {"method": method, "at": self.clock(), **_logged(params)}
        self.log.append(entry)
        try:
            retry_after = self.limits.scripted(name, entry["at"])
            if retry_after is not None:
                raise too_many_requests(retry_after)
            result, description = handler(self, params)
        except ApiError as error:
            entry.update(ok=False, error_code=error.code, description=error.description)
            raise
        entry["ok"] = True
        if isinstance(result, dict) and "message_id" in result:
            entry["message_id"] = result["message_id"]
        return result, description

    def poll(self, params: Params) -> tuple[int, int]:
        """getUpdates' confirmation step: forget what `offset` confirms; the (limit, timeout)."""
        self.refuse_polls_under_webhook()
        if params.has("allowed_updates"):
            self._allow(params.json("allowed_updates"))
        offset = params.integer("offset", 0)
        # "A negative offset can be specified to retrieve updates starting from -offset update
        # from the end of the updates queue. All previous updates will be forgotten."
        if offset < 0:
            del self.updates[: max(0, len(self.updates) + offset)]
        elif offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = min(max(params.integer("limit", MAX_UPDATES), 1), MAX_UPDATES)
        self.log.append({"method": "getUpdates", "at": self.clock(), "offset": offset, "ok": True})
        return limit, max(params.integer("timeout", 0), 0)

    def refuse_polls_under_webhook(self) -> None:
        """getUpdates and a webhook exclude each other: 409 while one is set."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )

    def pending(self, limit: int = MAX_UPDATES) -> list[Json]:
        """The oldest `limit` updates not confirmed yet."""
        return self.updates[:limit]

    def _allow(self, kinds: Any) -> None:
        """allowed_updates: an empty list means the default set."""
        if not isinstance(kinds, list):
            raise bad_request("can't parse allowed_updates JSON object")
        self.allowed_updates = frozenset(kinds) or DEFAULT_ALLOWED

    def get_me(self, params: Params) -> tuple[Any, str | None]:
        """getMe."""
        return self.bot, None

    def send_message(self, params: Params) -> tuple[Any, str | None]:
        """sendMessage."""
        chat = self._recipient(params)
        text, entities = _formatted(params, "text", params.string("parse_mode"))
        if not text:
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        content: Json = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(chat, params, "sendmessage", content), None

    def send_photo(self, params: Params) -> tuple[Any, str | None]:
        """sendPhoto: an upload or a photo's file_id."""
        chat = self._recipient(params)
        upload = params.uploads.get("photo")
        if upload is not None:
            try:
                photos.check_sendable(upload.data)
                made = photos.sizes(upload.data)
            except photos.NotAnImage:
                raise bad_request("IMAGE_PROCESS_FAILED") from None
            except photos.InvalidDimensions:
                raise bad_request("PHOTO_INVALID_DIMENSIONS") from None
            content: Json = {"photo": self.store_photo(made)}
        else:
            stored = self._reused(params, "photo")
            content = {"photo": stored.shown}
        return self._send(chat, params, "sendphoto", {**content, **_caption(params)}), None

    def send_document(self, params: Params) -> tuple[Any, str | None]:
        """sendDocument: an upload or a document's file_id."""
        chat = self._recipient(params)
        upload = params.uploads.get("document")
        if upload is not None:
            document = self.store_document(upload.data, upload.filename, upload.content_type)
        else:
            document = self._reused(params, "document").shown
        content = {"document": document, **_caption(params)}
        return self._send(chat, params, "senddocument", content), None

    def get_file(self, params: Params) -> tuple[Any, str | None]:
        """getFile: within 20 MB, unless this is a local Bot API server."""
        stored = self.files.get(params.string("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if self.files_dir is None and len(stored.data) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {**stored.reference(), "file_path": stored.file_path}, None

    def set_webhook(self, params: Params) -> tuple[Any, str | None]:
        """setWebhook: updates are then pushed to `url`, with the secret token if given."""
        url = params.string("url") or ""
        if not url:
            return self.delete_webhook(params)
        # The real service wants HTTPS on port 443, 80, 88 or 8443; a test's receiver is plain
        # HTTP on a free loopback port, which the double takes from loopback only.
        if not url.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        secret = params.string("secret_token")
        # "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if params.has("allowed_updates"):
            self._allow(params.json("allowed_updates"))
        if params.flag("drop_pending_updates"):
            self.updates.clear()
        self.webhook = Webhook(url, secret, params.integer("max_connections", 40))
        return True, "Webhook was set"

    def delete_webhook(self, params: Params) -> tuple[Any, str | None]:
        """deleteWebhook: back to getUpdates, dropping what is pending if asked to."""
        if params.flag("drop_pending_updates"):
            self.updates.clear()
        was_set, self.webhook = self.webhook is not None, None
        return True, "Webhook was deleted" if was_set else "Webhook is already deleted"

    def get_webhook_info(self, params: Params) -> tuple[Any, str | None]:
        """getWebhookInfo."""
        info: Json = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook is not None:
            info.update(url=self.webhook.url, max_connections=self.webhook.max_connections)
            if self.webhook.last_error_date is not None:
                info.update(
                    last_error_date=self.webhook.last_error_date,
                    last_error_message=self.webhook.last_error_message,
                )
        return info, None

    def answer_callback_query(self, params: Params) -> tuple[Any, str | None]:
        """answerCallbackQuery: once per query."""
        query = self.callbacks.get(params.string("callback_query_id") or "")
        if query is None or query.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        query.answered = True
        query.answer = {
            "text": params.string("text"),
            "show_alert": params.flag("show_alert"),
            "url": params.string("url"),
        }
        return True, None

    def edit_message_reply_markup(self, params: Params) -> tuple[Any, str | None]:
        """editMessageReplyMarkup on one of the bot's messages."""
        chat = self._recipient(params)
        message = chat.messages.get(params.integer("message_id"))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot["id"]:
            raise bad_request("message can't be edited")
        markup_ = _inline_keyboard(params)
        if markup_ == message.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        if markup_ is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup_
        message["edit_date"] = int(self.wall_clock())
        return message, None

    # -- sending ----------------------------------------------------------------------------

    def _recipient(self, params: Params) -> Chat:
        """The private chat `chat_id` names, if the bot may write there now."""
        # A username (channels only) or an unknown id is "chat not found".
        try:
            chat_id = params.integer("chat_id")
        except ApiError as error:
            if params.has("chat_id"):
                raise bad_request("chat not found") from error
            raise
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id in self.people:  # a user who never started this bot
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _send(self, chat: Chat, params: Params, method: str, content: Json) -> Json:
        """Put the bot's message in `chat`, within the flood limits."""
        reply_to = self._replied(chat, params)
        markup_ = params.json("reply_markup")
        if markup_ is not None:
            _check_markup(markup_)
        retry_after = self.limits.flooded(method, chat.user["id"], self.clock())
        if retry_after is not None:
            raise too_many_requests(retry_after)
        message = self._message(chat, self.bot_user(), content)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        # Only an inline keyboard belongs to the message; a reply keyboard belongs to the chat.
        if isinstance(markup_, dict) and "inline_keyboard" in markup_:
            message["reply_markup"] = markup_
        return message

    def _replied(self, chat: Chat, params: Params) -> Json | None:
        """The message reply_parameters (or the older reply_to_message_id) points at."""
        reply = params.json("reply_parameters") or {}
        if not isinstance(reply, dict):
            raise bad_request("can't parse reply parameters JSON object")
        # reply_to_message_id and allow_sending_without_reply: the older form of the same.
        given = Params(
            {
                "message_id": reply.get("message_id", params.values.get("reply_to_message_id")),
                "tolerant": reply.get(
                    "allow_sending_without_reply", params.values.get("allow_sending_without_reply")
                ),
            },
            {},
        )
        if not given.has("message_id"):
            return None
        replied = chat.messages.get(given.integer("message_id"))
        if replied is None:
            if given.flag("tolerant"):
                return None
            raise bad_request("message to be replied not found")
        return _quoted(replied)

    def _message(self, chat: Chat, sender: Json, content: Json) -> Json:
        """A new message in `chat`: ids per chat count up from 1, dates are unix seconds."""
        chat.last_message_id += 1
        message = {
            "message_id": chat.last_message_id,
            "from": sender,
            "chat": chat.chat(),
            "date": int(self.wall_clock()),
            **content,
        }
        chat.messages[message["message_id"]] = message
        return message

    # -- files ------------------------------------------------------------------------------

    def store(self, kind: str, data: bytes, suffix: str) -> StoredFile:
        """Keep a file; in local mode also on disk, where getFile's absolute path points."""
        number = len(self.files)
        relative = f"{FOLDERS[kind]}/file_{number}{suffix}"
        path = relative
        if self.files_dir is not None:
            on_disk = self.files_dir / relative
            on_disk.parent.mkdir(parents=True, exist_ok=True)
            on_disk.write_bytes(data)
            path = str(on_disk)
        stored = StoredFile(_token("BQAC"), _token("AgAD")[:16], kind, data, path)
        self.files[stored.file_id] = stored
        return stored

    def by_path(self, file_path: str) -> StoredFile | None:
        """The file a download URL's path names."""
        return next((f for f in self.files.values() if f.file_path == file_path), None)

    def store_photo(self, made: list[tuple[int, int, bytes]]) -> list[Json]:
        """Keep each size of a photo; its PhotoSize array."""
        kept = [(self.store("photo", data, SUFFIXES["photo"]), w, h) for w, h, data in made]
        shown = [{**stored.reference(), "width": w, "height": h} for stored, w, h in kept]
        for stored, _, _ in kept:
            stored.shown = shown
        return shown

    def store_document(self, data: bytes, file_name: str | None, mime_type: str | None) -> Json:
        """Keep a document; its Document object, its type guessed from its name if not given."""
        file_name = file_name or "document"
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        suffix = Path(file_name).suffix or mimetypes.guess_extension(mime_type) or ""
        stored = self.store("document", data, suffix)
        stored.shown = {**stored.reference(), "file_name": file_name, "mime_type": mime_type}
        return dict(stored.shown)

    def _reused(self, params: Params, kind: str) -> StoredFile:
        """A file sent again by its file_id."""
        file_id = params.string(kind)
        if not file_id:
            raise bad_request(f"there is no {kind} in the request")
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request("type of file mismatch")
        return stored

    # -- what citizens do (the control API) ---------------------------------------------------

    def upload(self, kind: str, data: bytes, file_name: str | None, mime_type: str | None) -> Any:
        """A file a citizen attaches: what their message then shows of it."""
        if kind == "photo":
            try:
                return self.store_photo(photos.sizes(data))
            except photos.NotAnImage as error:
                raise ControlError(f"not an image: {error}") from None
        if kind == "document":
            return self.store_document(data, file_name, mime_type)
        if kind not in MEDIA_FIELDS:
            raise ControlError(f"no such kind of file: {kind}")
        stored = self.store(kind, data, SUFFIXES[kind])
        given: Json = (
            {"mime_type": mime_type} if mime_type and "mime_type" in MEDIA_FIELDS[kind] else {}
        )
        if file_name and kind in NAMED_MEDIA:
            given["file_name"] = file_name
        stored.shown = {**stored.reference(), **MEDIA_FIELDS[kind], **given}
        return stored.shown

    def new_user(self, first_name: str, **details: Any) -> Json:
        """A Telegram user who can then write to the bot."""
        self.next_user_id += 1
        while self.next_user_id in self.people:  # another bot's world numbered them too
            self.next_user_id += 1
        user: Json = {"id": self.next_user_id, "is_bot": False, "first_name": first_name}
        user.update({k: v for k, v in details.items() if v is not None})
        self.people[user["id"]] = user
        self.chats[user["id"]] = Chat(user)
        return user

    def start(self, user_id: int) -> Json:
        """A user of another bot starts this one: they can write to each other from now on."""
        user = self.people.get(user_id)
        if user is None:
            raise ControlError(f"no user {user_id}: make one with POST users first")
        self.chats.setdefault(user_id, Chat(user))
        return user

    def citizen_chat(self, user_id: int) -> Chat:
        """The chat of a user made by new_user()."""
        chat = self.chats.get(user_id)
        if chat is None:
            raise ControlError(f"no user {user_id}: make one with POST users first")
        return chat

    def user_sends(self, user_id: int, content: Json, reply_to: int | None) -> Json:
        """A citizen's message to the bot; the update it makes."""
        chat = self.citizen_chat(user_id)
        if chat.blocked:
            raise ControlError("the user has blocked the bot: unblock it first")
        if not content or not content.keys() <= CONTENT:
            raise ControlError(
                f"a message carries some of {sorted(CONTENT)}, not {sorted(content)}"
            )
        if reply_to is not None and reply_to not in chat.messages:
            raise ControlError(f"no message {reply_to} in the chat to reply to")
        animation = content.get("animation")
        if isinstance(animation, dict) and "document" not in content:
            # "For backward compatibility, when this field is set, the document field will also
            # be set" (https://core.telegram.org/bots/api#message): the same file as a Document.
            fields = ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
            content = {**content, "document": {k: animation[k] for k in fields if k in animation}}
        message = self._message(chat, chat.user, content)
        if reply_to is not None:
            message["reply_to_message"] = _quoted(chat.messages[reply_to])
        return self.enqueue("message", message)

    def user_edits(self, user_id: int, message_id: int, text: str) -> Json:
        """A citizen edits their text (or a caption); the edited_message update."""
        chat = self.citizen_chat(user_id)
        message = chat.messages.get(message_id)
        if message is None or message["from"]["id"] != user_id:
            raise ControlError(f"message {message_id} is not the user's")
        message["caption" if "caption" in message else "text"] = text
        message["edit_date"] = int(self.wall_clock())
        return self.enqueue("edited_message", message)

    def user_presses(self, user_id: int, message_id: int, data: str) -> Json:
        """A citizen presses an inline button of the bot's message; the callback_query update."""
        message = self.citizen_chat(user_id).messages.get(message_id)
        buttons = (message or {}).get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in buttons for b in row):
            raise ControlError(f"message {message_id} has no button with callback_data {data!r}")
        query = CallbackQuery(str(secrets.randbits(62)), user_id, message_id, data)
        self.callbacks[query.id] = query
        payload = {
            "id": query.id,
            "from": self.chats[user_id].user,
            "message": message,
            "chat_instance": str(hash((self.bot["id"], user_id)) & (2**62 - 1)),
            "data": data,
        }
        return self.enqueue("callback_query", payload)

    def user_blocks(self, user_id: int, blocked: bool) -> Json:
        """A citizen blocks (or unblocks) the bot; the my_chat_member update it makes."""
        chat = self.citizen_chat(user_id)
        was, chat.blocked = chat.blocked, blocked
        status = {False: "member", True: "kicked"}
        change: Json = {
            "chat": chat.chat(),
            "from": chat.user,
            "date": int(self.wall_clock()),
            "old_chat_member": {"status": status[was], "user": self.bot_user()},
            "new_chat_member": {"status": status[blocked], "user": self.bot_user()},
        }
        if blocked:
            change["new_chat_member"]["until_date"] = 0
        return self.enqueue("my_chat_member", change)

    def enqueue(self, kind: str, payload: Json) -> Json:
        """An update for the bot, unless allowed_updates leaves its kind out (then it is lost)."""
        # A snapshot: a later edit is an update of its own and leaves this one as it was.
        payload = copy.deepcopy(payload)
        if kind not in self.allowed_updates:
            return {"update_id": None, kind: payload}
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        return update

    def is_pending(self, update_id: int) -> bool:
        """Whether the update is still to be delivered (not confirmed, not dropped)."""
        return any(u["update_id"] == update_id for u in self.updates)

    def confirm(self, update_id: int) -> None:
        """A webhook delivery was answered 2xx: the update is done."""
        self.updates = [u for u in self.updates if u["update_id"] != update_id]


def _logged(params: Params) -> Json:
    """What the log keeps of a call: its parameters, and each file's name, size and sha256."""
    entry: Json = {}
    for name in ("chat_id", "message_id", "text", "caption", "parse_mode", "callback_query_id"):
        if params.has(name):
            entry[name] = params.values[name]
    if "chat_id" in entry:
        with contextlib.suppress(ValueError):
            entry["chat_id"] = int(entry["chat_id"])
    for name in ("reply_markup", "reply_parameters"):
        if params.has(name):
            try:
                entry[name] = params.json(name)
            except ApiError:
                entry[name] = params.values[name]
    reply = entry.get("reply_parameters")
    reply_to = reply.get("message_id") if isinstance(reply, dict) else None
    reply_to = reply_to or params.values.get("reply_to_message_id")
    if reply_to is not None:
        entry["reply_to"] = int(reply_to)
    files = [
        {
            "field": field_name,
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": len(upload.data),
            "sha256": hashlib.sha256(upload.data).hexdigest(),
        }
        for field_name, upload in params.uploads.items()
    ]
    for kind in ("photo", "document"):
        if kind not in params.uploads and params.has(kind):
            files.append({"field": kind, "file_id": params.values[kind]})
    if files:
        entry["files"] = files
    return entry


def _quoted(message: Json) -> Json:
    """A message as reply_to_message shows it: one level deep, without its own reply."""
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _formatted(params: Params, name: str, parse_mode: str | None) -> tuple[str, list[Json]]:
    """A text parameter after entity parsing (leading and trailing whitespace dropped)."""
    raw = params.string(name) or ""
    given = params.json("entities" if name == "text" else "caption_entities")
    try:
        text, entities = markup.parse(raw, None if given else parse_mode)
    except markup.UnsupportedMode as error:
        raise bad_request(str(error)) from None
    except markup.EntityError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    return text.strip(), given or entities


def _caption(params: Params) -> Json:
    """A media message's caption, within 1024 characters."""
    caption, entities = _formatted(params, "caption", params.string("parse_mode"))
    if len(caption) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    shown: Json = {"caption": caption} if caption else {}
    if caption and entities:
        shown["caption_entities"] = entities
    return shown


def _check_markup(markup_: Any) -> None:
    """A reply_markup Telegram would take: inline keyboard buttons carry 1-64 bytes of data."""
    kinds = ("inline_keyboard", "keyboard", "remove_keyboard", "force_reply")
    if not isinstance(markup_, dict) or not any(kind in markup_ for kind in kinds):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup_.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")


def _inline_keyboard(params: Params) -> Json | None:
    """editMessageReplyMarkup's markup: an inline keyboard, or none to remove it."""
    markup_ = params.json("reply_markup")
    if markup_ is None or markup_ == {"inline_keyboard": []}:
        return None
    _check_markup(markup_)
    if "inline_keyboard" not in markup_:
        raise bad_request("inline keyboard expected")
    return dict(markup_)


Handler = Callable[[World, Params], tuple[Any, str | None]]
# Method names are case-insensitive (https://core.telegram.org/bots/api#making-requests).
_METHODS: dict[str, Handler] = {
    "getme": World.get_me,
    "sendmessage": World.send_message,
    "sendphoto": World.send_photo,
    "senddocument": World.send_document,
    "getfile": World.get_file,
    "setwebhook": World.set_webhook,
    "deletewebhook": World.delete_webhook,
    "getwebhookinfo": World.get_webhook_info,
    "answercallbackquery": World.answer_callback_query,
    "editmessagereplymarkup": World.edit_message_reply_markup,
}
