"""The double's HTTP face: the Bot API, file downloads, webhook pushes and the control API."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import trio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .limits import SENDS, FloodControl, Refusals, Storm
from .world import ApiError, ControlError, Json, Params, Upload, Webhook, World, bad_request

# https://core.telegram.org/bots/api#sending-files: "50 MB max size" for multipart uploads.
MAX_UPLOAD = 50 * 1024 * 1024
# A refused webhook delivery is tried again after this, doubling up to the cap; the real
# service waits longer, a test should not.
WEBHOOK_RETRY = 0.05
WEBHOOK_RETRY_CAP = 1.0
# How long the double waits for a webhook receiver to answer.
WEBHOOK_TIMEOUT = 10.0

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
OVERLAPPING_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class Live:
    """A world while the double serves it: the waiters on its updates and its getUpdates calls."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.polls = 0
        self.revoked = False
        self._changed = trio.Event()

    def changed(self) -> None:
        """Wake every long poll and the webhook pusher: there is something to look at."""
        self._changed.set()
        self._changed = trio.Event()

    async def wait(self, deadline: float) -> None:
        """Until the next change, or `deadline` (trio time)."""
        with trio.move_on_at(deadline):
            await self._changed.wait()

    async def get_updates(self, params: Params) -> list[Json]:
        """getUpdates: what is pending, or wait up to `timeout` seconds for it."""
        limit, timeout = self.world.poll(params)
        # Telegram serves one getUpdates per bot: a new one ends the one waiting with 409
        # "terminated by other getUpdates request", what a second instance of a bot sees.
        self.polls += 1
        mine = self.polls
        self.changed()
        deadline = trio.current_time() + timeout
        while True:
            if self.revoked:
                raise ApiError(401, "Unauthorized")
            if self.polls != mine:
                raise ApiError(409, OVERLAPPING_POLL)
            self.world.refuse_polls_under_webhook()
            updates = self.world.pending(limit)
            if updates or trio.current_time() >= deadline:
                return updates
            await self.wait(deadline)

    async def push_webhook(self, client: httpx.AsyncClient) -> None:
        """While a webhook is set, POST each pending update to it until it answers 2xx."""
        # Up to max_connections at a time, as Telegram does: not necessarily in order.
        in_flight: set[int] = set()
        async with trio.open_nursery() as deliveries:
            while not self.revoked:
                hook = self.world.webhook
                if hook is not None:
                    waiting = [u for u in self.world.pending() if u["update_id"] not in in_flight]
                    for update in waiting[: hook.max_connections - len(in_flight)]:
                        in_flight.add(update["update_id"])
                        deliveries.start_soon(self._deliver, client, hook, update, in_flight)
                await self.wait(math.inf)
            deliveries.cancel_scope.cancel()

    async def _deliver(
        self, client: httpx.AsyncClient, hook: Webhook, update: Json, in_flight: set[int]
    ) -> None:
        """POST one update until the webhook takes it, or is deleted or replaced."""
        update_id, delay = update["update_id"], WEBHOOK_RETRY
        headers = {} if hook.secret_token is None else {SECRET_HEADER: hook.secret_token}
        try:
            while self.world.webhook is hook and self.world.is_pending(update_id):
                try:
                    response = await client.post(
                        hook.url, json=update, headers=headers, timeout=WEBHOOK_TIMEOUT
                    )
                    status: int | None = response.status_code
                    error = f"Wrong response from the webhook: {status} {response.reason_phrase}"
                except httpx.HTTPError as failure:
                    status, error = None, f"Connection failed: {failure!r}"
                attempt = {"update_id": update_id, "url": hook.url, "status": status}
                attempt.update(secret_token=hook.secret_token, at=self.world.clock())
                self.world.webhook_attempts.append(attempt)
                if status is not None and 200 <= status < 300:
                    self.world.confirm(update_id)
                    return
                hook.last_error_date = int(self.world.wall_clock())
                hook.last_error_message = error
                await trio.sleep(delay)
                delay = min(delay * 2, WEBHOOK_RETRY_CAP)
        finally:
            in_flight.discard(update_id)
            self.changed()


class Service:
    """Every bot the double serves, by token."""

    def __init__(self, nursery: trio.Nursery, client: httpx.AsyncClient, files: Path) -> None:
        self.nursery = nursery
        self.client = client
        self.files = files
        self.bots: dict[str, Live] = {}
        self.people: dict[int, Json] = {}  # every bot's users (World.people)

    def create(self, username: str, local_mode: bool) -> Live:
        """A new bot; a local Bot API server's keeps its files on disk for getFile's paths."""
        files_dir = Path(tempfile.mkdtemp(dir=self.files)) if local_mode else None
        live = Live(World.create(username, files_dir, self.people))
        self.bots[live.world.token] = live
        self.nursery.start_soon(live.push_webhook, self.client)
        return live

    def reset(self) -> None:
        """Revoke every token: their polls end with 401 and their webhooks stop."""
        for live in self.bots.values():
            live.revoked = True
            live.changed()
        self.bots.clear()
        self.people.clear()

    def live(self, token: str) -> Live:
        """The bot with `token`; 404 for a token not shaped like one, 401 for an unknown one."""
        live = self.bots.get(token)
        if live is not None:
            return live
        # PTB's _baserequest.py: "TG returns 404 Not found for malformed tokens" and
        # "401 Unauthorized for correctly formatted tokens that are not valid".
        bot_id, _, secret = token.partition(":")
        if not (bot_id.isdigit() and len(secret) == 35):
            raise ApiError(404, "Not Found")
        raise ApiError(401, "Unauthorized")


def api_error(error: ApiError) -> JSONResponse:
    """The error as the real service sends it, with Retry-After on 429."""
    headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
    return JSONResponse(error.body(), status_code=error.code, headers=headers)


async def read_params(request: Request) -> Params:
    """A call's parameters from the query, a JSON body, a form or a multipart body."""
    values: dict[str, Any] = dict(request.query_params)
    uploads: dict[str, Upload] = {}
    content_type = request.headers.get("content-type", "")
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
        raise ApiError(413, "Request Entity Too Large")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        values.update(body)
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            async with request.form(max_part_size=MAX_UPLOAD) as form:
                for name, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        part = Upload(value.filename, value.content_type, await value.read())
                        uploads[name] = part
                    else:
                        values[name] = value
        except HTTPException as error:  # Starlette's answer to a malformed multipart body
            raise bad_request(str(error.detail)) from None
    return Params(values, uploads)


def build_app(service: Service) -> Starlette:
    """The Starlette app of the double."""

    async def bot_api(request: Request) -> Response:
        try:
            live = service.live(request.path_params["token"])
            params = await read_params(request)
            method = request.path_params["method"]
            if method.lower() == "getupdates":
                result: Any = await live.get_updates(params)
                description = None
            else:
                result, description = live.world.call(method, params)
                live.changed()  # a webhook set or deleted, updates dropped
        except ApiError as error:
            return api_error(error)
        body: Json = {"ok": True, "result": result}
        if description is not None:
            body["description"] = description
        return JSONResponse(body)

    async def download(request: Request) -> Response:
        try:
            world = service.live(request.path_params["token"]).world
        except ApiError as error:
            return api_error(error)
        stored = world.by_path(request.path_params["file_path"])
        if stored is None:
            return api_error(ApiError(404, "Not Found"))
        await trio.sleep(world.download_delay)
        return Response(stored.data, media_type="application/octet-stream")

    async def reset(request: Request) -> Response:
        service.reset()
        return JSONResponse({})

    async def new_bot(request: Request) -> Response:
        body = await request.json()
        live = service.create(body.get("username", "support_bot"), bool(body.get("local_mode")))
        return JSONResponse({"token": live.world.token, "bot": live.world.bot})

    routes = [
        Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
        Route("/file/bot{token}/{file_path:path}", download, methods=["GET"]),
        Route("/_control/reset", reset, methods=["POST"]),
        Route("/_control/bots", new_bot, methods=["POST"]),
        *control_routes(service),
    ]
    return Starlette(routes=routes)


Control = Callable[[Live, Request], Awaitable[Any]]


def control_routes(service: Service) -> list[Route]:
    """/_control/bot<TOKEN>/<action>: tests act as citizens and script the service."""

    def route(path: str, action: Control, method: str = "POST") -> Route:
        async def endpoint(request: Request) -> Response:
            live = service.bots.get(request.path_params["token"])
            if live is None:
                return JSONResponse({"error": "no bot with this token"}, status_code=404)
            try:
                answer = await action(live, request)
            except (ControlError, KeyError, TypeError, ValueError) as error:
                return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=400)
            live.changed()
            return JSONResponse(answer)

        return Route(f"/_control/bot{{token}}/{path}", endpoint, methods=[method])

    async def users(live: Live, request: Request) -> Any:
        body = await request.json()
        # {"user_id": N}: a user of another bot starts this one.
        if "user_id" in body:
            return live.world.start(body["user_id"])
        return live.world.new_user(**body)

    async def uploads(live: Live, request: Request) -> Any:
        query = request.query_params
        data = await request.body()
        return live.world.upload(
            query["kind"], data, query.get("file_name"), query.get("mime_type")
        )

    async def messages(live: Live, request: Request) -> Any:
        body = await request.json()
        # A list writes many in one request, for benchmarks that need a backlog quickly.
        return [
            live.world.user_sends(one["user_id"], one["content"], one.get("reply_to"))
            for one in (body if isinstance(body, list) else [body])
        ]

    async def edits(live: Live, request: Request) -> Any:
        body = await request.json()
        return live.world.user_edits(body["user_id"], body["message_id"], body["text"])

    async def presses(live: Live, request: Request) -> Any:
        body = await request.json()
        return live.world.user_presses(body["user_id"], body["message_id"], body["data"])

    async def blocks(live: Live, request: Request) -> Any:
        body = await request.json()
        return live.world.user_blocks(body["user_id"], body["blocked"])

    async def refusals(live: Live, request: Request) -> Any:
        body = await request.json()
        methods = frozenset(m.lower() for m in body.get("methods") or SENDS)
        live.world.limits.refusals = Refusals(body["count"], body["retry_after"], methods)
        return {}

    async def storms(live: Live, request: Request) -> Any:
        body = await request.json()
        methods = frozenset(m.lower() for m in body.get("methods") or SENDS)
        until = live.world.clock() + body["duration"]
        live.world.limits.storm = Storm(until, body["retry_after"], methods)
        return {}

    async def flood(live: Live, request: Request) -> Any:
        body = await request.json()
        live.world.limits.flood = None if body.get("per_chat") is None else FloodControl(**body)
        return {}

    async def downloads(live: Live, request: Request) -> Any:
        live.world.download_delay = float((await request.json())["delay"])
        return {}

    async def log(live: Live, request: Request) -> Any:
        return {"log": live.world.log}

    async def callbacks(live: Live, request: Request) -> Any:
        return {"callbacks": [vars(query) for query in live.world.callbacks.values()]}

    async def updates(live: Live, request: Request) -> Any:
        return {"pending": live.world.updates}

    async def webhook(live: Live, request: Request) -> Any:
        return {"attempts": live.world.webhook_attempts}

    return [
        route("users", users),
        route("uploads", uploads),
        route("messages", messages),
        route("edits", edits),
        route("presses", presses),
        route("blocks", blocks),
        route("refusals", refusals),
        route("storms", storms),
        route("flood", flood),
        route("downloads", downloads),
        route("log", log, "GET"),
        route("callbacks", callbacks, "GET"),
        route("updates", updates, "GET"),
        route("webhook", webhook, "GET"),
    ]
