"""The backend HTTP API over real sockets: feed, status changes, replies, lookups, health."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from starlette.routing import Route, WebSocketRoute

from channels.contract import Ports
from channels.webchat import PLUGIN
from channels.webchat.config import WebchatSettings
from normaliser.damm import check_digit
from router.http.api import Api, build_app

from .daemon import (
    ChatClient,
    DaemonProcess,
    final_notification,
    open_chat,
    read_feed,
    running_daemon,
    settle,
    wait_notice,
)

pytestmark = pytest.mark.integration

# A well-formed number (valid check digit) that the daemon has not issued.
UNKNOWN_TICKET = "269999998" + check_digit("269999998")


async def _open_ticket(client: ChatClient, text: str) -> str:
    """File a first chat message, wait for its confirmation; the new ticket's number."""
    accepted = await client.write(text, client_id="c-" + secrets.token_hex(8))
    assert accepted["type"] == "accepted", accepted
    assert accepted["ticket"]["is_new"] is True
    await wait_notice(client, "confirmation")
    number: str = accepted["ticket"]["number"]
    return number


def _metric(text: str, name: str, labels: str) -> float:
    """The value of one Prometheus sample, 0 if it is not exposed yet."""
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


# -- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/envelopes",
        f"/api/v1/tickets/{UNKNOWN_TICKET}",
        "/api/v1/admin/status",
        "/metrics",
        "/api/v1/openapi.json",
    ],
)
async def test_request_without_token_is_401(module_daemon: DaemonProcess, path: str) -> None:
    """A backend, admin or metrics endpoint without a token answers 401 with WWW-Authenticate."""
    async with httpx.AsyncClient(base_url=module_daemon.base) as anonymous:
        response = await anonymous.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/api/v1/envelopes", "/api/v1/admin/status", "/metrics"])
async def test_unknown_token_is_401(module_daemon: DaemonProcess, path: str) -> None:
    """A token that is in no tokens file is refused with 401."""
    headers = {"Authorization": "Bearer " + secrets.token_urlsafe(24)}
    async with httpx.AsyncClient(base_url=module_daemon.base, headers=headers) as stranger:
        response = await stranger.get(path)
    assert response.status_code == 401


async def test_admin_token_on_backend_endpoint_is_403(module_daemon: DaemonProcess) -> None:
    """The admin token does not open the backend feed or status changes."""
    async with module_daemon.admin() as admin:
        feed = await admin.get("/api/v1/envelopes")
        status = await admin.post(
            f"/api/v1/tickets/{UNKNOWN_TICKET}/status", json={"status": "in_progress"}
        )
    assert feed.status_code == 403
    assert status.status_code == 403


async def test_backend_token_on_admin_endpoint_is_403(module_daemon: DaemonProcess) -> None:
    """The backend token does not open admin endpoints nor /metrics."""
    async with module_daemon.backend() as backend:
        status = await backend.get("/api/v1/admin/status")
        dlq = await backend.get("/api/v1/admin/dlq")
        metrics = await backend.get("/metrics")
    assert status.status_code == 403
    assert dlq.status_code == 403
    assert metrics.status_code == 403


async def test_metrics_token_opens_metrics_and_nothing_else(module_daemon: DaemonProcess) -> None:
    """Prometheus' token scrapes /metrics; the feed, admin views and the API document stay shut."""
    async with module_daemon.client("metrics") as scraper:
        metrics = await scraper.get("/metrics")
        refused = [
            (await scraper.get(path)).status_code
            for path in ("/api/v1/envelopes", "/api/v1/admin/status", "/api/v1/openapi.json")
        ]
    assert metrics.status_code == 200
    assert "omnirouter_" in metrics.text
    assert refused == [403, 403, 403]


# -- the feed ------------------------------------------------------------------------------------


async def test_feed_pages_with_after_next_and_limit(module_daemon: DaemonProcess) -> None:
    """Walking the feed one envelope at a time yields the same envelopes as one big page."""
    async with module_daemon.backend() as backend:
        _, start = await read_feed(backend)
        async with open_chat(module_daemon) as client:
            ids = [
                (await client.write(text))["envelope_id"]
                for text in (
                    "Как получить справку о несудимости?",
                    "И сколько она делается?",
                    "И можно ли через портал?",
                )
            ]
        big = (await backend.get("/api/v1/envelopes", params={"after": start})).json()
        assert [e["id"] for e in big["envelopes"]] == ids
        walked: list[str] = []
        cursor = start
        while True:
            page = (
                await backend.get("/api/v1/envelopes", params={"after": cursor, "limit": 1})
            ).json()
            assert len(page["envelopes"]) <= 1
            if not page["envelopes"]:
                assert page["next"] == cursor
                break
            walked.append(page["envelopes"][0]["id"])
            assert page["next"] != cursor
            cursor = page["next"]
        two = (await backend.get("/api/v1/envelopes", params={"after": start, "limit": 2})).json()
        rest = (
            await backend.get("/api/v1/envelopes", params={"after": two["next"], "limit": 2})
        ).json()
    assert walked == ids
    assert cursor == big["next"]
    assert [e["id"] for e in two["envelopes"]] == ids[:2]
    assert [e["id"] for e in rest["envelopes"]] == ids[2:]


@pytest.mark.parametrize(
    "query",
    [
        "after=x",
        "limit=0",
        "limit=-3",
        "wait=-1",
        "wait=soon",
        "after=-1",
        "wait=nan",
        "wait=inf",
        f"after={2**63}",
        pytest.param("after=" + "9" * 5000, id="after=5000-digits"),
        f"limit={2**63}",
        "after=1_0",
        "after=%2B5",
        "limit=%D9%A3",  # an Arabic-Indic 3: a digit to int(), not to the document
    ],
)
async def test_feed_rejects_bad_query(module_daemon: DaemonProcess, query: str) -> None:
    """Malformed after/limit/wait parameters are a 400, not a crash or an empty page, and
    /metrics counts them."""
    async with module_daemon.admin() as admin:
        before = _counter((await admin.get("/metrics")).text, "400", "bad_query")
        async with module_daemon.backend() as backend:
            response = await backend.get("/api/v1/envelopes?" + query)
        after = _counter((await admin.get("/metrics")).text, "400", "bad_query")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_query"
    assert after == before + 1


def _counter(exposition: str, status: str, reason: str) -> float:
    """omnirouter_api_errors_total{status, reason} in a /metrics page (0 when not there yet)."""
    series = f'omnirouter_api_errors_total{{reason="{reason}",status="{status}"}} '
    found = [line for line in exposition.splitlines() if line.startswith(series)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


async def test_long_poll_returns_the_envelope_that_arrives(module_daemon: DaemonProcess) -> None:
    """A feed GET with wait=10 started before a chat message returns with that message."""
    async with module_daemon.backend() as backend:
        _, cursor = await read_feed(backend)
        sent = trio.Event()
        result: dict[str, Any] = {}

        async def poll() -> None:
            request = backend.build_request(
                "GET", "/api/v1/envelopes", params={"after": cursor, "wait": 10}
            )
            sent.set()
            response = await backend.send(request)
            result["status"] = response.status_code
            result["body"] = response.json()

        async with open_chat(module_daemon) as client, trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            await sent.wait()
            accepted = await client.write("Не работает вход через Госключ")
    assert result["status"] == 200
    ids = [e["id"] for e in result["body"]["envelopes"]]
    assert accepted["envelope_id"] in ids


# -- status changes and replies ------------------------------------------------------------------


async def test_status_change_notifies_the_chat(module_daemon: DaemonProcess) -> None:
    """POST status in_progress → 202 and the citizen gets «В обработке»; delivery completes."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Не пришла выплата пособия за март")
        seen = len(client.notices)
        async with module_daemon.backend() as backend:
            response = await backend.post(
                f"/api/v1/tickets/{number}/status",
                json={"status": "in_progress", "comment": "Запросили данные в СФР"},
            )
            assert response.status_code == 202, response.text
            notification_id = response.json()["notification_id"]
            assert notification_id
            notice = await wait_notice(client, "status", since=seen)
            record = await final_notification(backend, notification_id)
            ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
    assert notice["ticket"] == number
    assert number in notice["text"]
    assert "«В обработке»" in notice["text"]
    assert "Запросили данные в СФР" in notice["text"]
    # No expected_at from the backend: the ticket's resolution due time is the expected one.
    assert "Ожидаемый срок: " in notice["text"] and "(МСК)" in notice["text"]
    assert record["state"] in ("delivered", "sent"), record
    assert record["attempts"] >= 1
    assert ticket["status"] == "in_progress"


async def test_status_notices_are_not_held_by_the_automatic_message_limit(
    tmp_path: Path,
) -> None:
    """With one automatic message per hour (the confirmation used it), the operator's status
    changes still reach the citizen at once: the limit is for automatic answers."""
    with running_daemon(tmp_path, router_edits={"auto_limit = 10": "auto_limit = 1"}) as daemon:
        async with open_chat(daemon) as client:
            number = await _open_ticket(client, "Не пришла выплата пособия за март")
            await wait_notice(client, "confirmation")
            async with daemon.backend() as backend:
                for status in ("in_progress", "under_review"):
                    seen = len(client.notices)
                    response = await backend.post(
                        f"/api/v1/tickets/{number}/status", json={"status": status}
                    )
                    assert response.status_code == 202, response.text
                    notice = await wait_notice(client, "status", since=seen)
                    record = await final_notification(backend, response.json()["notification_id"])
                    assert record["state"] in ("delivered", "sent"), record
                    assert notice["ticket"] == number


async def test_rejection_without_reason_is_422(module_daemon: DaemonProcess) -> None:
    """Rejecting without a reason is refused and the ticket keeps its status."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Прошу выдать разрешение на строительство гаража")
    async with module_daemon.backend() as backend:
        missing = await backend.post(
            f"/api/v1/tickets/{number}/status", json={"status": "rejected"}
        )
        blank = await backend.post(
            f"/api/v1/tickets/{number}/status", json={"status": "rejected", "reason": "  "}
        )
        ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
    assert missing.status_code == 422
    assert blank.status_code == 422
    assert ticket["status"] == "accepted"


async def test_rejection_with_reason_tells_the_reason(module_daemon: DaemonProcess) -> None:
    """A rejection with a reason reaches the citizen with «Отклонено» and the reason, and a
    later «статус N» states the reason again."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Прошу выдать лицензию на такси")
        seen = len(client.notices)
        async with module_daemon.backend() as backend:
            response = await backend.post(
                f"/api/v1/tickets/{number}/status",
                json={"status": "rejected", "reason": "Не приложена копия паспорта"},
            )
        notice = await wait_notice(client, "status", since=seen)
        seen = len(client.notices)
        await client.write(f"статус {number}")
        answer = await wait_notice(client, "status", since=seen)
    assert response.status_code == 202
    assert "«Отклонено»" in notice["text"]
    assert "Не приложена копия паспорта" in notice["text"]
    assert "«Отклонено»" in answer["text"] and "Не приложена копия паспорта" in answer["text"]
    assert "Ожидаемый срок" not in answer["text"]  # the work is over: no due time


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "closed"}, id="unknown-status"),
        pytest.param({}, id="no-status"),
        pytest.param({"status": "in_progress", "colour": "red"}, id="unknown-field"),
        pytest.param({"status": "in_progress", "expected_at": "tomorrow"}, id="bad-expected-at"),
        pytest.param(
            {"status": "in_progress", "expected_at": "9999-12-31T23:59:59Z"}, id="year-9999"
        ),
        pytest.param(
            {"status": "in_progress", "expected_at": "0001-01-01T00:00:00+05:00"}, id="year-0"
        ),
        # strftime writes a year before 1000 with fewer than four digits: this was a 500.
        pytest.param(
            {"status": "in_progress", "expected_at": "0999-12-31T23:59:59Z"}, id="year-999"
        ),
        pytest.param(
            {"status": "in_progress", "expected_at": "2026-06-31T18:00:00+03:00"}, id="june-31"
        ),
        pytest.param(
            {"status": "in_progress", "expected_at": "2026-06-30 18:00:00+03:00"},
            id="not-rfc3339",
        ),
        pytest.param({"status": "rejected", "reason": "\u3000"}, id="reason-ideographic-space"),
    ],
)
async def test_invalid_status_body_is_422(
    module_daemon: DaemonProcess, body: dict[str, Any]
) -> None:
    """An unknown status, a missing status, an unknown field or a bad date is a 422."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Вопрос о замене водительского удостоверения")
    async with module_daemon.backend() as backend:
        response = await backend.post(f"/api/v1/tickets/{number}/status", json=body)
        ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
    assert response.status_code == 422, response.text
    assert response.json()["error"]
    assert ticket["status"] == "accepted"


async def test_expected_at_in_lower_case_is_taken(module_daemon: DaemonProcess) -> None:
    """RFC 3339 lets T and Z be lower case: such an expected time is taken and kept in UTC."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Когда починят лифт в доме 5?")
    async with module_daemon.backend() as backend:
        response = await backend.post(
            f"/api/v1/tickets/{number}/status",
            json={"status": "in_progress", "expected_at": "2026-06-30t18:00:00+03:00"},
        )
        ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
    assert response.status_code == 202, response.text
    assert ticket["expected_at"] == "2026-06-30T15:00:00.000Z"


async def test_status_body_that_is_not_json_is_400(module_daemon: DaemonProcess) -> None:
    """A status body that is not JSON is a 400 naming the problem."""
    async with module_daemon.backend() as backend:
        response = await backend.post(
            f"/api/v1/tickets/{UNKNOWN_TICKET}/status",
            content=b"status=in_progress",
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_json"


async def test_unknown_ticket_is_404(module_daemon: DaemonProcess) -> None:
    """Status, reply and lookup of a ticket that does not exist are 404."""
    async with module_daemon.backend() as backend:
        status = await backend.post(
            f"/api/v1/tickets/{UNKNOWN_TICKET}/status", json={"status": "in_progress"}
        )
        reply = await backend.post(
            f"/api/v1/tickets/{UNKNOWN_TICKET}/replies", json={"text": "Здравствуйте"}
        )
        lookup = await backend.get(f"/api/v1/tickets/{UNKNOWN_TICKET}")
        notification = await backend.get("/api/v1/notifications/01NOSUCHNOTIFICATION000000")
    assert status.status_code == 404
    assert reply.status_code == 404
    assert lookup.status_code == 404
    assert notification.status_code == 404


@pytest.mark.parametrize("keyed", [True, False], ids=["same-key", "no-key"])
async def test_a_repeated_status_change_gives_one_notification(
    module_daemon: DaemonProcess, keyed: bool
) -> None:
    """A status change posted three times, with one Idempotency-Key or with none, is one
    change, one notification and one notice."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Когда будет готов загранпаспорт?")
        session = client.session
        headers = {"Idempotency-Key": secrets.token_hex(8)} if keyed else {}
        async with module_daemon.backend() as backend:
            first, second, third = [
                await backend.post(
                    f"/api/v1/tickets/{number}/status",
                    json={"status": "under_review", "comment": "Запросили сведения в МВД"},
                    headers=headers,
                )
                for _ in range(3)
            ]
            await final_notification(backend, first.json()["notification_id"])
    assert first.status_code == second.status_code == third.status_code == 202
    assert first.json() == second.json() == third.json()
    await settle(module_daemon)
    assert session is not None
    async with open_chat(module_daemon, session) as again:
        await again.send({"type": "resume", "after_seq": 0})
        history = [await again.expect("notice") for _ in range(again.welcome["last_seq"])]
    assert [n["kind"] for n in history if n["kind"] != "citizen"] == [
        "confirmation",
        "status",
    ], history
    async with module_daemon.backend() as backend:
        ticket = (await backend.get(f"/api/v1/tickets/{number}")).json()
    assert [e["status"] for e in ticket["events"] if e["kind"] == "status"] == [
        "accepted",
        "under_review",
    ]


async def test_reply_reaches_the_chat(module_daemon: DaemonProcess) -> None:
    """An operator reply arrives in the chat as a "reply" notice with the operator's text."""
    text = "Справку можно заказать в разделе «Услуги», срок изготовления 5 дней."
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Где заказать справку об отсутствии судимости?")
        async with module_daemon.backend() as backend:
            response = await backend.post(f"/api/v1/tickets/{number}/replies", json={"text": text})
            assert response.status_code == 202, response.text
            notice = await wait_notice(client, "reply")
            record = await final_notification(backend, response.json()["notification_id"])
    assert notice["ticket"] == number
    assert text in notice["text"]
    assert record["state"] in ("delivered", "sent")


async def test_empty_reply_is_422(module_daemon: DaemonProcess) -> None:
    """A reply without text is refused."""
    async with open_chat(module_daemon) as client:
        number = await _open_ticket(client, "Вопрос о субсидии на оплату ЖКУ")
    async with module_daemon.backend() as backend:
        blank = await backend.post(f"/api/v1/tickets/{number}/replies", json={"text": "  "})
        missing = await backend.post(f"/api/v1/tickets/{number}/replies", json={})
    assert blank.status_code == 422
    assert missing.status_code == 422


async def test_ticket_lookup_shows_status_category_and_thread(module_daemon: DaemonProcess) -> None:
    """GET ticket has its status, category, channel and a thread holding the chat message."""
    text = "Код 04 Не начислили компенсацию за детский сад"
    async with open_chat(module_daemon) as client:
        accepted = await client.write(text)
        number = accepted["ticket"]["number"]
    async with module_daemon.backend() as backend:
        response = await backend.get(f"/api/v1/tickets/{number}")
    assert response.status_code == 200
    ticket = response.json()
    assert ticket["number"] == number
    assert ticket["status"] == "accepted"
    assert ticket["category"]["code"] == "04"
    assert ticket["category"]["name"]
    assert ticket["channel"] == "webchat"
    assert [item["envelope_id"] for item in ticket["thread"]] == [accepted["envelope_id"]]
    assert ticket["thread"][0]["text"] == text


# -- admin ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merge_id", "status"),
    [
        (str(2**63), 404),  # SQLite's integers end below it: this was a 500
        (str(2**64), 404),
        pytest.param("9" * 5000, 404, id="5000-digits-404"),
        ("0", 404),
        ("-1", 400),
        ("1e3", 400),
        ("%D9%A3", 400),  # an Arabic-Indic 3
    ],
)
async def test_merge_id_out_of_range_is_refused(
    module_daemon: DaemonProcess, merge_id: str, status: int
) -> None:
    """Undoing a merge whose id no merge can have is a 404; one that is not digits a 400."""
    async with module_daemon.admin() as admin:
        response = await admin.post(f"/api/v1/admin/merges/{merge_id}/undo")
    assert response.status_code == status, response.text
    assert response.json()["error"] == ("not_found" if status == 404 else "bad_id")


@pytest.mark.parametrize(
    ("letter_id", "status"),
    [
        (f"handoff:{2**63}", 404),
        (f"handoff:{2**64}", 404),
        ("handoff:seven", 400),
        ("notification:01NOSUCHNOTIFICATION000000", 404),
        ("intake:99999999999999999999", 404),
        ("outbox:1", 400),
    ],
)
async def test_dead_letter_id_out_of_range_is_refused(
    module_daemon: DaemonProcess, letter_id: str, status: int
) -> None:
    """Replaying, dropping or reading a dead letter that cannot exist is a 4xx, never a 500."""
    async with module_daemon.admin() as admin:
        replay = await admin.post(f"/api/v1/admin/dlq/{letter_id}/replay")
        drop = await admin.delete(f"/api/v1/admin/dlq/{letter_id}")
        show = await admin.get(f"/api/v1/admin/dlq/{letter_id}")
    assert (replay.status_code, drop.status_code, show.status_code) == (status, status, 404)


async def test_a_method_a_dead_letter_does_not_take_lists_those_it_does(
    module_daemon: DaemonProcess,
) -> None:
    """A 405 on a dead letter says in Allow that it can be read and dropped."""
    async with module_daemon.admin() as admin:
        response = await admin.put("/api/v1/admin/dlq/handoff:1")
    assert response.status_code == 405
    assert {"GET", "DELETE"} <= {m.strip() for m in response.headers["allow"].split(",")}


# -- health, metrics, OpenAPI --------------------------------------------------------------------


async def test_health_and_readiness(module_daemon: DaemonProcess) -> None:
    """/healthz and /readyz answer 200 without a token."""
    async with httpx.AsyncClient(base_url=module_daemon.base) as anonymous:
        health = await anonymous.get("/healthz")
        ready = await anonymous.get("/readyz")
    assert health.status_code == 200
    assert ready.status_code == 200


async def test_metrics_count_inbound_messages(module_daemon: DaemonProcess) -> None:
    """/metrics (admin token) exposes counters that move when a chat message is filed."""
    async with module_daemon.admin() as admin:
        before = (await admin.get("/metrics")).text
        async with open_chat(module_daemon) as client:
            await client.write("Код 06 Как продлить лицензию на фармацевтическую деятельность")
        response = await admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    received = "omnirouter_inbound_received_total"
    assert _metric(after, received, 'channel="webchat"') == (
        _metric(before, received, 'channel="webchat"') + 1
    )
    opened = "omnirouter_tickets_opened_total"
    assert _metric(after, opened, 'category="06"') == _metric(before, opened, 'category="06"') + 1
    for name in ("omnirouter_queue_depth", "omnirouter_notifications"):
        assert re.search(rf"^{name}\{{", after, re.MULTILINE), name


def _route_table() -> set[tuple[str, str]]:
    """(path, method) of every HTTP route the daemon's app serves, as OpenAPI writes them.

    Built with the daemon's own build_app from the same route lists; the handlers are never
    called, so no daemon, database or channel is needed. HEAD (Starlette adds it to every GET)
    and the WebSocket /chat/ws (no OpenAPI operation; docs/api.md describes it) are left out.
    """
    nothing: Any = None
    ports = Ports(nothing, nothing, nothing, nothing, nothing)
    app = build_app(
        Api(nothing, nothing),
        [
            route
            for spec in PLUGIN.accounts(WebchatSettings())
            for route in PLUGIN.build(spec, WebchatSettings, ports).routes()
        ],
        nothing,
        nothing,
        nothing,
    )
    table = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            continue
        assert isinstance(route, Route), route
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # "{name:str}" -> "{name}"
        table.update((path, method.lower()) for method in route.methods or () if method != "HEAD")
    return table


async def test_openapi_document_matches_the_route_table(module_daemon: DaemonProcess) -> None:
    """/api/v1/openapi.json documents exactly the routes the daemon serves, contract ones too."""
    async with module_daemon.backend() as backend:
        response = await backend.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.text)
    assert str(document["openapi"]).startswith("3.")
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }
    served = _route_table()
    assert served - documented == set(), "routes without documentation"
    assert documented - served == set(), "documented routes the daemon does not serve"
    contract = {
        ("/api/v1/envelopes", "get"),
        ("/api/v1/tickets/{number}", "get"),
        ("/api/v1/tickets/{number}/status", "post"),
        ("/api/v1/tickets/{number}/replies", "post"),
        ("/api/v1/notifications/{id}", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/forms/feedback", "post"),
        ("/chat/upload", "post"),
        ("/chat/", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    assert contract <= documented
    # Every operation says who may call it; the guard's role decides which scheme.
    for path, method in documented:
        operation = document["paths"][path][method]
        if path == "/metrics":
            expected: list[dict[str, list[str]]] = [{"metrics": []}, {"admin": []}]
        elif path == "/api/v1/openapi.json":
            expected = [{"backend": []}, {"admin": []}]
        elif path.startswith("/api/v1/admin/"):
            expected = [{"admin": []}]
        elif path.startswith("/api/v1/") and path != "/api/v1/forms/feedback":
            expected = [{"backend": []}]
        else:
            expected = []
        assert operation.get("security") == expected, (path, method)
        if expected:
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
    assert set(document["components"]["securitySchemes"]) == {"admin", "backend", "metrics"}
