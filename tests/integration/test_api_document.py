"""Every documented operation of the real daemon, answered as its served OpenAPI document says:
each real answer (happy paths and the main errors) is checked against the schema declared for
its path, method and status."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
import trio

from tests.api_document import ApiDocument
from tests.clamd import EICAR, ClamdServer
from tests.samples import PDF

from .channel_double import install
from .daemon import REPO, DaemonProcess, final_notification, open_chat, read_feed, wait_notice

pytestmark = pytest.mark.integration

PORTAL = "https://portal.example"


class Exchange(NamedTuple):
    """One request by its documented path, and the daemon's answer."""

    method: str
    path: str
    response: httpx.Response


class Caller:
    """Sends requests by documented path and role, and keeps every exchange."""

    def __init__(self, daemon: DaemonProcess, client: httpx.AsyncClient) -> None:
        self.daemon, self.client = daemon, client
        self.exchanges: list[Exchange] = []

    async def __call__(
        self,
        role: str | None,
        method: str,
        path: str,
        ids: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **request: Any,
    ) -> httpx.Response:
        """METHOD `path` (its {names} filled from `ids`) with `role`'s token, if any."""
        token = {"Authorization": f"Bearer {self.daemon.token(role)}"} if role else {}
        response = await self.client.request(
            method, path.format(**(ids or {})), headers={**token, **(headers or {})}, **request
        )
        self.exchanges.append(Exchange(method, path, response))
        return response


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, clamd: ClamdServer) -> Iterator[DaemonProcess]:
    """A daemon scanning with the real clamd, its web chat embeddable on one portal."""
    running = DaemonProcess(tmp_path_factory.mktemp("api_document"))
    running.edit_router('clamd = "unix:/run/clamav/clamd.ctl"', f'clamd = "{clamd.address_unix}"')
    webchat = running.config / "channels" / "webchat.toml"
    webchat.write_text(
        webchat.read_text().replace("allowed_origins = []", f'allowed_origins = ["{PORTAL}"]')
    )
    # A channel that hands over bytes of its own, so that an envelope has a `raw` to fetch.
    running.env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(install(tmp_path_factory.mktemp("site")))]
    )
    (running.config / "channels" / "messenger.toml").write_text(
        'enabled = true\n[accounts.bot]\ninbound = ["42\\nНе приходит код подтверждения"]\n'
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def exchanges(daemon: DaemonProcess) -> list[Exchange]:
    """Every documented operation called once for the module's tests (in a trio run of its own:
    pytest-trio's fixtures live for one test)."""
    return trio.run(_exchange_all, daemon)


async def _exchange_all(daemon: DaemonProcess) -> list[Exchange]:
    """Every documented operation called, on its happy path and its main refusals."""
    async with httpx.AsyncClient(base_url=daemon.base, timeout=60) as client:
        call = Caller(daemon, client)
        await _public(call)
        async with open_chat(daemon) as chat:
            accepted = await chat.write("Не открывается личный кабинет")
            await wait_notice(chat, "confirmation")
            number = accepted["ticket"]["number"]
            async with daemon.backend() as backend:
                envelopes, _ = await read_feed(backend)
            envelope = next(e for e in envelopes if e["id"] == accepted["envelope_id"])
            assert chat.session
            await _chat_files(call, chat.session)
            await _backend(call, number)
            reply = await wait_notice(chat, "reply")
            await _chat_download(call, chat.session, reply["attachments"][0]["id"])
            await _admin(call, number, envelope)
        await _raw(call, daemon)
    return call.exchanges


async def _raw(call: Caller, daemon: DaemonProcess) -> None:
    """The bytes a channel received, by the envelope's `raw.id`."""
    async with daemon.backend() as backend:
        for _ in range(200):  # the filing worker parses it after the commit
            envelopes, _ = await read_feed(backend)
            received = [e for e in envelopes if "raw" in e]
            if received:
                break
            await trio.sleep(0.05)
    assert received, "the double's delivery was never filed"
    kept = await call("backend", "GET", "/api/v1/raw/{id}", {"id": received[0]["raw"]["id"]})
    assert kept.content == "42\nНе приходит код подтверждения".encode()
    await call("backend", "GET", "/api/v1/raw/{id}", {"id": "999999"})
    await call("backend", "GET", "/api/v1/raw/{id}", {"id": "²"})  # a digit, but not to int()


async def _public(call: Caller) -> None:
    await call(None, "GET", "/healthz")
    await call(None, "GET", "/readyz")
    await call(None, "GET", "/chat", follow_redirects=False)
    await call(None, "GET", "/chat/")
    await call(None, "GET", "/chat/{name}", {"name": "widget.js"})
    await call(None, "GET", "/chat/{name}", {"name": "no-such-file.js"})
    await call(None, "GET", "/chat/config", params={"lang": "en"}, headers={"Origin": PORTAL})
    await call("admin", "GET", "/metrics")
    await call(None, "GET", "/metrics")
    await call("backend", "GET", "/metrics")
    await call("backend", "GET", "/api/v1/openapi.json")
    form = "/api/v1/forms/feedback"
    await call(None, "POST", form, json={"text": "Не приходит СМС", "email": "ivan@example.ru"})
    await call(None, "POST", form, json={"text": "Не приходит СМС"})
    await call(None, "POST", form, content=b"text", headers={"Content-Type": "text/plain"})


async def _chat_files(call: Caller, session: str) -> None:
    """Uploads and downloads of the citizen's chat session."""
    await call(None, "POST", "/chat/upload", files={"file": ("a.pdf", PDF)})
    session_header = {"X-Chat-Session": session}
    await call(None, "POST", "/chat/upload", headers=session_header, files={"file": ("a.pdf", PDF)})
    await call(None, "POST", "/chat/upload", headers=session_header, data={"note": "no file"})
    infected = await call(
        None, "POST", "/chat/upload", headers=session_header, files={"file": ("x.com", EICAR)}
    )
    quarantined = {"id": infected.json()["upload_id"]}
    await call("backend", "GET", "/api/v1/attachments/{id}", quarantined)
    await call("admin", "GET", "/api/v1/admin/attachments/{id}", quarantined)
    await call("backend", "GET", "/api/v1/attachments/{id}", {"id": "no-such-file"})
    await call(None, "GET", "/chat/files/{id}", quarantined)
    await call(None, "GET", "/chat/files/{id}", quarantined, headers=session_header)
    preflight = {"Origin": PORTAL, "Access-Control-Request-Method": "GET"}
    await call(None, "OPTIONS", "/chat/files/{id}", quarantined, headers=preflight)
    stranger = {**preflight, "Origin": "https://elsewhere.example"}
    await call(None, "OPTIONS", "/chat/files/{id}", quarantined, headers=stranger)
    upload_preflight = {**preflight, "Access-Control-Request-Method": "POST"}
    await call(None, "OPTIONS", "/chat/upload", headers=upload_preflight)
    await call(
        None, "OPTIONS", "/chat/upload", headers={**upload_preflight, "Origin": stranger["Origin"]}
    )


async def _chat_download(call: Caller, session: str, file_id: str) -> None:
    await call(None, "GET", "/chat/files/{id}", {"id": file_id}, {"X-Chat-Session": session})


async def _backend(call: Caller, number: str) -> None:
    """The feed, a ticket's status change, a reply with a file, and lookups."""
    ticket = {"number": number}
    unknown = {"number": "2699999998"}
    await call("backend", "GET", "/api/v1/envelopes", params={"limit": 2})
    await call("backend", "GET", "/api/v1/envelopes", params={"after": "x"})
    await call(None, "GET", "/api/v1/envelopes")
    await call("admin", "GET", "/api/v1/envelopes")
    await call("backend", "GET", "/api/v1/tickets/{number}", ticket)
    await call("backend", "GET", "/api/v1/tickets/{number}", unknown)
    status = "/api/v1/tickets/{number}/status"
    queued = await call(
        "backend", "POST", status, ticket, json={"status": "in_progress", "comment": "Смотрим"}
    )
    await call("backend", "POST", status, ticket, json={"status": "closed"})
    await call("backend", "POST", status, ticket, content=b"{", headers=_JSON)
    await call("backend", "POST", status, unknown, json={"status": "in_progress"})
    await call("backend", "POST", status, ticket, content=b" " * (2**20 + 1), headers=_JSON)
    files = "/api/v1/tickets/{number}/attachments"
    file = await call("backend", "POST", files, ticket, files={"file": ("form.pdf", PDF)})
    await call("backend", "POST", files, ticket, data={"note": "no file"})
    await call("backend", "POST", files, unknown, files={"file": ("form.pdf", PDF)})
    replies = "/api/v1/tickets/{number}/replies"
    attachment = file.json()["attachment_id"]
    await call(
        "backend", "POST", replies, ticket, json={"text": "Образец", "attachments": [attachment]}
    )
    await call("backend", "POST", replies, ticket, json={"text": " "})
    await call("backend", "GET", "/api/v1/attachments/{id}", {"id": attachment})
    notification = {"id": queued.json()["notification_id"]}
    await call("backend", "GET", "/api/v1/notifications/{id}", notification)
    await call("backend", "GET", "/api/v1/notifications/{id}", {"id": "no-such-notice"})
    await call("backend", "GET", "/api/v1/tickets/{number}", ticket)


async def _admin(call: Caller, number: str, envelope: dict[str, Any]) -> None:
    """Status, the masked ticket, a contact, the suppression list and a dead letter."""
    await call("admin", "GET", "/api/v1/admin/status")
    await call("backend", "GET", "/api/v1/admin/status")
    await call("admin", "GET", "/api/v1/admin/tickets/{number}", {"number": number})
    await call("admin", "GET", "/api/v1/admin/tickets/{number}", {"number": "2699999998"})
    await call("admin", "GET", "/api/v1/admin/contacts/{id}", {"id": envelope["contact_id"]})
    await call("admin", "GET", "/api/v1/admin/contacts/{id}", {"id": "no-such-contact"})
    await call("admin", "POST", "/api/v1/admin/merges/{id}/undo", {"id": "seven"})
    await call("admin", "POST", "/api/v1/admin/merges/{id}/undo", {"id": "7"})
    suppressions = "/api/v1/admin/suppressions"
    session = {"address": envelope["sender"]["address"], "channel": "webchat"}
    await call("admin", "POST", suppressions, json={**session, "reason": "operator"})
    await call("admin", "POST", suppressions, json={"address": "someone", "reason": "bounced"})
    await call("admin", "GET", suppressions)
    # A status change for a suppressed address goes nowhere: it waits as a dead letter.
    notice = await call(
        "backend", "POST", "/api/v1/tickets/{number}/status", {"number": number},
        json={"status": "under_review"},
    )  # fmt: skip
    letter = {"id": "notification:" + notice.json()["notification_id"]}
    await _dead(call, letter["id"])
    await call("admin", "GET", "/api/v1/admin/dlq")
    await call("admin", "GET", "/api/v1/admin/dlq/{id}", letter)
    await call("admin", "GET", "/api/v1/admin/dlq/{id}", {"id": "notification:none"})
    await call("admin", "POST", "/api/v1/admin/dlq/{id}/replay", letter)
    await call("admin", "POST", "/api/v1/admin/dlq/{id}/replay", {"id": "outbox:1"})
    await _dead(call, letter["id"])
    await call("admin", "POST", "/api/v1/admin/dlq/replay")
    await _dead(call, letter["id"])
    await call("admin", "DELETE", "/api/v1/admin/dlq/{id}", letter)
    await call("admin", "DELETE", "/api/v1/admin/dlq/{id}", letter)
    await call("admin", "DELETE", suppressions, params=session)
    await call("admin", "DELETE", suppressions, params=session)
    await call("admin", "DELETE", suppressions, params={"address": ""})


async def _dead(call: Caller, letter_id: str) -> None:
    """Wait (bounded) until the notification is a dead letter again."""
    async with call.daemon.backend() as backend:
        record = await final_notification(backend, letter_id.partition(":")[2])
    assert record["state"] == "dead", record


_JSON = {"Content-Type": "application/json"}


async def _document(daemon: DaemonProcess) -> ApiDocument:
    async with daemon.backend() as backend:
        return ApiDocument(json.loads((await backend.get("/api/v1/openapi.json")).content))


async def test_every_answer_is_as_the_document_declares(
    daemon: DaemonProcess, exchanges: list[Exchange]
) -> None:
    """Each answer's status is documented for its operation, its media type too, and a JSON
    body is valid for the schema the document declares for that status."""
    document = await _document(daemon)
    mismatches = [
        mismatch
        for method, path, response in exchanges
        for mismatch in document.mismatches(
            method,
            path,
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )
    ]
    assert mismatches == []


async def test_every_documented_operation_is_exercised(
    daemon: DaemonProcess, exchanges: list[Exchange]
) -> None:
    """No operation of the document is left out of the check above."""
    document = await _document(daemon)
    assert document.operations() == {(method, path) for method, path, _ in exchanges}


async def test_the_main_refusals_are_exercised(exchanges: list[Exchange]) -> None:
    """The check above covers 401, 403, 404, 400 and 422 error answers, not only happy paths."""
    statuses = {response.status_code for _, _, response in exchanges}
    assert {200, 201, 202, 204, 308, 400, 401, 403, 404, 413, 422} <= statuses
