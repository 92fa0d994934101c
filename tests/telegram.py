"""The Telegram Bot API double (tests/peers/telegram) and a handle on one bot in it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests import peer_process
from tests.integration.daemon import eventually
from tests.peers.telegram.limits import SENDS

REPO = Path(__file__).resolve().parents[1]
# The double listens within half a second; a loaded CI box gets slack.
START_DEADLINE = 30.0
# A control request is answered at once.
CONTROL_DEADLINE = 10.0

Json = dict[str, Any]


class ControlError(Exception):
    """The double refused a control request (no such user, message or button)."""


def start_double() -> tuple[subprocess.Popen[bytes], int]:
    """Start the double in its own process; the process and its port."""
    # stdin stays open for the double's lifetime: it exits when it closes, so a killed pytest
    # leaves nothing behind. Its log goes to our stderr, where pytest shows it on a failure.
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.telegram"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        port = int(json.loads(process.stdout.readline())["port"])
    except (ValueError, KeyError):
        process.kill()
        process.wait(START_DEADLINE)
        raise RuntimeError("the Telegram Bot API double did not start (see stderr)") from None
    return process, port


@dataclass(frozen=True)
class Citizen:
    """A Telegram user; in a private chat, the chat id is the user's id."""

    id: int
    first_name: str
    username: str | None = None


class BotDouble:
    """One bot in the double: where to point the adapter, and what citizens do to it."""

    # An adapter under test gets `api_url` in messenger.toml and `token` in its token_file;
    # a test acts as citizens with the methods below and asserts on sent() and calls().

    def __init__(self, client: httpx.AsyncClient, api_url: str, token: str, bot: Json) -> None:
        self.client = client
        # `api_url` in messenger.toml; PTB's Bot(base_url=..., base_file_url=...) are below.
        self.api_url = api_url
        self.token = token
        self.bot = bot
        self.base_url = f"{api_url}/bot"
        self.base_file_url = f"{api_url}/file/bot"
        self._control = f"{api_url}/_control/bot{token}"

    async def _call(self, method: str, action: str, **kwargs: Any) -> Any:
        """One control request; its answer, or ControlError."""
        with trio.fail_after(CONTROL_DEADLINE):
            response = await self.client.request(method, f"{self._control}/{action}", **kwargs)
        if response.status_code != 200:
            raise ControlError(f"{action}: {response.text}")
        return response.json()

    async def citizen(
        self, first_name: str = "Анна", username: str | None = None, language_code: str = "ru"
    ) -> Citizen:
        """A new Telegram user who may write to the bot (language_code: their app's language)."""
        body = {"first_name": first_name, "username": username, "language_code": language_code}
        user = await self._call("POST", "users", json=body)
        return Citizen(user["id"], user["first_name"], user.get("username"))

    async def starts(self, user: Citizen) -> Citizen:
        """A user of another bot of the double starts this one (until then, 403 to write to)."""
        await self._call("POST", "users", json={"user_id": user.id})
        return user

    async def _says(self, user: Citizen, content: Json, reply_to: int | None = None) -> Json:
        """The user's message with `content`; its update (update_id None if not allowed)."""
        body = {"user_id": user.id, "content": content, "reply_to": reply_to}
        updates: list[Json] = await self._call("POST", "messages", json=body)
        return updates[0]

    async def _upload(self, kind: str, data: bytes, **query: str) -> Any:
        """A file the user attaches; what their message shows of it."""
        return await self._call("POST", "uploads", params={"kind": kind, **query}, content=data)

    async def write(self, user: Citizen, text: str, *, reply_to: int | None = None) -> Json:
        """The user writes `text` (in reply to the bot's message `reply_to`); the update."""
        return await self._says(user, {"text": text}, reply_to)

    async def write_many(self, messages: Iterable[tuple[Citizen, str]]) -> list[Json]:
        """Many users' texts in one control request (a backlog for a benchmark); the updates."""
        body = [{"user_id": user.id, "content": {"text": text}} for user, text in messages]
        updates: list[Json] = await self._call("POST", "messages", json=body)
        return updates

    async def send_photo(self, user: Citizen, data: bytes, caption: str | None = None) -> Json:
        """The user sends an image; the double makes its sizes, as Telegram does."""
        photo = await self._upload("photo", data)
        return await self._says(user, _with_caption({"photo": photo}, caption))

    async def send_document(
        self,
        user: Citizen,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> Json:
        """The user sends a file as a document."""
        query = {"file_name": file_name} | ({"mime_type": mime_type} if mime_type else {})
        document = await self._upload("document", data, **query)
        return await self._says(user, _with_caption({"document": document}, caption))

    async def share_contact(self, user: Citizen, phone: str, *, own: bool = True) -> Json:
        """The user shares their own contact (user_id set) or, with own=False, someone else's."""
        # The request_contact button shares the user's own; Telegram often sends that number
        # without its "+", so tests should try both forms.
        contact: Json = {"phone_number": phone, "first_name": user.first_name}
        if own:
            contact["user_id"] = user.id
        return await self._says(user, {"contact": contact})

    async def send_sticker(self, user: Citizen) -> Json:
        """A sticker: a kind of message the support bot does not take."""
        return await self._says(user, {"sticker": await self._upload("sticker", b"RIFF0000WEBP")})

    async def send_voice(
        self, user: Citizen, data: bytes = b"OggS\0voice", caption: str | None = None
    ) -> Json:
        """A voice message (OGG/Opus, no name), with a caption if given."""
        return await self.send_media(user, "voice", data, caption)

    async def send_media(
        self,
        user: Citizen,
        kind: str,
        data: bytes,
        caption: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> Json:
        """A voice, video, audio, animation or video_note message, shaped as the Bot API's
        objects of that kind; an animation comes with its document too, as Telegram sends it.
        `file_name` and `mime_type` override the app's (a voice note and a round video have
        no name)."""
        query = {"file_name": file_name} if file_name else {}
        query |= {"mime_type": mime_type} if mime_type else {}
        media = await self._upload(kind, data, **query)
        return await self._says(user, _with_caption({kind: media}, caption))

    async def send_location(self, user: Citizen, latitude: float, longitude: float) -> Json:
        """A location: a kind the support bot does not take."""
        return await self._says(user, {"location": {"latitude": latitude, "longitude": longitude}})

    async def edit(self, user: Citizen, message_id: int, text: str) -> Json:
        """The user edits their message's text (or caption); the edited_message update."""
        body = {"user_id": user.id, "message_id": message_id, "text": text}
        update: Json = await self._call("POST", "edits", json=body)
        return update

    async def press(self, user: Citizen, message_id: int, data: str) -> str:
        """The user presses the inline button with `data` under the bot's message; the query id."""
        body = {"user_id": user.id, "message_id": message_id, "data": data}
        update = await self._call("POST", "presses", json=body)
        query_id: str = update["callback_query"]["id"]
        return query_id

    async def block(self, user: Citizen) -> None:
        """The user blocks the bot: every send to them is 403 from now on."""
        await self._call("POST", "blocks", json={"user_id": user.id, "blocked": True})

    async def unblock(self, user: Citizen) -> None:
        """The user unblocks (restarts) the bot."""
        await self._call("POST", "blocks", json={"user_id": user.id, "blocked": False})

    async def refuse(
        self, count: int, retry_after: int, methods: Iterable[str] | None = None
    ) -> None:
        """Answer the next `count` calls to `methods` (default: the sends) 429 `retry_after`."""
        body = {"count": count, "retry_after": retry_after, "methods": _list(methods)}
        await self._call("POST", "refusals", json=body)

    async def storm(
        self, duration: float, retry_after: int, methods: Iterable[str] | None = None
    ) -> None:
        """Answer every call to `methods` (default: the sends) 429 for `duration` seconds."""
        body = {"duration": duration, "retry_after": retry_after, "methods": _list(methods)}
        await self._call("POST", "storms", json=body)

    async def flood_control(
        self, per_chat: int | None = 1, overall: int = 30, tolerance: float | None = None
    ) -> None:
        """Enforce Telegram's limits (messages a second to a chat, to all); None turns it off."""
        # `tolerance`: the slack for arrival jitter (tests/peers/telegram/limits.py).
        body = {"per_chat": per_chat, "overall": overall}
        await self._call(
            "POST", "flood", json=body | ({} if tolerance is None else {"tolerance": tolerance})
        )

    async def slow_downloads(self, seconds: float) -> None:
        """Make every file download wait `seconds` before its bytes come (0: at once)."""
        await self._call("POST", "downloads", json={"delay": seconds})

    async def calls(self) -> list[Json]:
        """Every Bot API call the bot made, in order, with its outcome (ok, error_code, at)."""
        # `at` is the double's time.monotonic(), the same clock as this process's on Linux.
        log: list[Json] = (await self._call("GET", "log"))["log"]
        return log

    async def sent(self, chat: Citizen | int | None = None) -> list[Json]:
        """The messages the bot sent and Telegram took (to `chat`), in order."""
        chat_id = chat.id if isinstance(chat, Citizen) else chat
        return [
            c
            for c in await self.calls()
            if c["ok"]
            and "message_id" in c
            and chat_id in (None, c.get("chat_id"))
            and c["method"].lower() in SENDS
        ]

    async def wait_for_sent(self, count: int, chat: Citizen | int | None = None) -> list[Json]:
        """The first `count` messages sent (to `chat`), once there are as many."""
        return await _at_least(count, lambda: self.sent(chat), "messages sent")

    async def callback_queries(self) -> list[Json]:
        """Every button press and whether (and how) the bot answered it."""
        queries: list[Json] = (await self._call("GET", "callbacks"))["callbacks"]
        return queries

    async def pending_updates(self) -> list[Json]:
        """The updates Telegram still holds: not confirmed by an offset or a webhook's 2xx."""
        pending: list[Json] = (await self._call("GET", "updates"))["pending"]
        return pending

    async def webhook_attempts(self) -> list[Json]:
        """Every POST of an update to the webhook, with the status it got (None: no answer)."""
        attempts: list[Json] = (await self._call("GET", "webhook"))["attempts"]
        return attempts

    async def wait_for_webhook(self, count: int) -> list[Json]:
        """The first `count` webhook attempts, once there are as many."""
        return await _at_least(count, self.webhook_attempts, "webhook attempts")


async def _at_least(count: int, read: Callable[[], Awaitable[list[Json]]], what: str) -> list[Json]:
    """The first `count` of what `read` returns, once there are as many."""

    async def enough() -> list[Json] | None:
        found = await read()
        return found[:count] if len(found) >= count else None

    return await eventually(enough, f"{count} {what}")


def _with_caption(content: Json, caption: str | None) -> Json:
    return content if caption is None else {**content, "caption": caption}


def _list(methods: Iterable[str] | None) -> list[str] | None:
    return None if methods is None else list(methods)


class TelegramDouble:
    """The running double: makes bots, each with its own token, users, chats and log."""

    def __init__(self, port: int) -> None:
        self.api_url = f"http://127.0.0.1:{port}"

    async def reset(self, client: httpx.AsyncClient) -> None:
        """Revoke every bot's token: their polls end with 401, their webhooks stop."""
        with trio.fail_after(CONTROL_DEADLINE):
            (await client.post(f"{self.api_url}/_control/reset")).raise_for_status()

    async def new_bot(
        self, client: httpx.AsyncClient, *, username: str = "support_bot", local_mode: bool = False
    ) -> BotDouble:
        """A new bot; `local_mode` makes the double a local Bot API server for it."""
        # A local server has no 20 MB download limit; its getFile paths are on this disk.
        body = {"username": username, "local_mode": local_mode}
        with trio.fail_after(CONTROL_DEADLINE):
            response = await client.post(f"{self.api_url}/_control/bots", json=body)
        response.raise_for_status()
        made = response.json()
        return BotDouble(client, self.api_url, made["token"], made["bot"])


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[TelegramDouble]:
    """One double for the whole test session."""
    try:
        process, port = start_double()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield TelegramDouble(port)
    finally:
        peer_process.stop(process)


@pytest.fixture
async def telegram(telegram_server: TelegramDouble) -> AsyncIterator[BotDouble]:
    """A fresh bot in the double, every earlier one revoked."""
    async with httpx.AsyncClient() as client:
        await telegram_server.reset(client)
        yield await telegram_server.new_bot(client)
