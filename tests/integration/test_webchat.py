"""The web chat over a real WebSocket: what a citizen in the portal's chat sees."""

from __future__ import annotations

import json
import secrets
import signal
import tomllib
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from normaliser.damm import is_valid

from .daemon import (
    ChatClient,
    DaemonProcess,
    envelope,
    open_chat,
    read_feed,
    running_daemon,
    settle,
    wait_notice,
)

pytestmark = pytest.mark.integration


def _client_id() -> str:
    return "c-" + secrets.token_hex(8)


async def _new_request(client: ChatClient, text: str, topic: str | None = None) -> dict[str, Any]:
    """Write the first message of a session; return the accepted frame (a new ticket)."""
    accepted = await client.write(text, client_id=_client_id(), topic=topic)
    assert accepted["type"] == "accepted", accepted
    assert accepted["ticket"]["is_new"] is True, accepted
    return accepted


async def _history(daemon: DaemonProcess, session: str) -> list[dict[str, Any]]:
    """Every notice of a session, once the outbox is drained, via a fresh resume{after_seq:0}."""
    await settle(daemon)
    async with open_chat(daemon, session) as client:
        count = client.welcome["last_seq"]
        await client.send({"type": "resume", "after_seq": 0})
        return [await client.expect("notice") for _ in range(count)]


async def test_hello_gets_welcome_with_session_token(module_daemon: DaemonProcess) -> None:
    """A new session is welcomed with a token, no ticket and no notices yet."""
    async with open_chat(module_daemon, hello=False) as client:
        welcome = await client.hello()
    assert welcome["type"] == "welcome"
    assert isinstance(welcome["session"], str) and len(welcome["session"]) >= 16
    assert welcome["ticket"] is None
    assert welcome["last_seq"] == 0


async def test_message_is_accepted_with_a_valid_ticket_and_confirmed(
    module_daemon: DaemonProcess,
) -> None:
    """A first message gets an accepted frame with a 10-digit Damm ticket, then a confirmation."""
    async with open_chat(module_daemon) as client:
        client_id = _client_id()
        accepted = await client.write("Нужна справка о несудимости для работы", client_id)
        assert accepted["type"] == "accepted"
        assert accepted["client_id"] == client_id
        assert accepted["envelope_id"]
        ticket = accepted["ticket"]
        number = ticket["number"]
        assert len(number) == 10 and number.isdigit() and is_valid(number), number
        assert ticket["is_new"] is True
        assert ticket["category"]["code"] == "01"
        assert ticket["category"]["name"]
        written = await wait_notice(client, "citizen")
        confirmation = await wait_notice(client, "confirmation")
    assert confirmation["ticket"] == number
    assert number in confirmation["text"]
    # The history holds what was written before its answer, for every tab and device.
    assert (written["seq"], written["client_id"], confirmation["seq"]) == (1, client_id, 2)
    assert written["text"] == "Нужна справка о несудимости для работы"


async def test_the_category_is_named_in_the_sessions_language(
    module_daemon: DaemonProcess,
) -> None:
    async with open_chat(module_daemon, hello=False) as client:
        await client.hello(lang="en")
        accepted = await client.write("I cannot sign in", topic="10")
    assert accepted["ticket"]["category"] == {
        "code": "10",
        "name": "Access to the personal account",
    }


async def test_resent_client_id_gets_the_same_answer_and_one_envelope(
    module_daemon: DaemonProcess,
) -> None:
    """The same client_id sent twice is answered identically and filed once."""
    async with open_chat(module_daemon) as client:
        client_id = _client_id()
        text = "Не приходит выписка из ЕГРН, заказывал неделю назад"
        first = await client.write(text, client_id)
        second = await client.write(text, client_id)
    assert first["type"] == "accepted"
    assert second == first
    async with module_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    mine = [e for e in envelopes if e["channel_message_id"] == client_id]
    assert [e["id"] for e in mine] == [first["envelope_id"]]


async def test_a_reused_client_id_with_other_text_keeps_the_first_and_is_counted(
    module_daemon: DaemonProcess,
) -> None:
    """A client_id reused for other text gets the first answer (the key's promise); the first
    text stays, and the second is counted, logged and kept as a dead letter rather than
    passing unseen."""

    async def conflicts() -> float:
        async with module_daemon.admin() as admin:
            text = (await admin.get("/metrics")).text
        series = 'omnirouter_inbound_changed_content_total{channel="webchat",kind="conflict"} '
        found = [line for line in text.splitlines() if line.startswith(series)]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    before = await conflicts()
    async with open_chat(module_daemon) as client:
        client_id = _client_id()
        first = await client.write("Не пришла справка о доходах", client_id)
        second = await client.write("Совсем другой вопрос о пособии", client_id)
    assert second == first
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, first["envelope_id"])
    assert filed["text"] == "Не пришла справка о доходах"
    assert await conflicts() == before + 1
    assert any(
        r["msg"].startswith("webchat key received again with other content")
        for r in module_daemon.log_lines()
    )
    async with module_daemon.admin() as admin:
        letters = (await admin.get("/api/v1/admin/dlq")).json()["dead_letters"]
    assert any(letter["last_error"].startswith("conflict") for letter in letters)


async def test_follow_up_joins_the_ticket_without_a_new_confirmation(
    module_daemon: DaemonProcess,
) -> None:
    """A second, different message in the session joins the ticket and is not re-confirmed."""
    async with open_chat(module_daemon) as client:
        first = await _new_request(client, "Хочу подать заявление на загранпаспорт")
        number = first["ticket"]["number"]
        await wait_notice(client, "confirmation")
        follow_up = await client.write("И ещё: срок действия старого истекает в марте")
        session = client.session
    assert follow_up["type"] == "accepted"
    assert follow_up["ticket"]["number"] == number
    assert follow_up["ticket"]["is_new"] is False
    assert follow_up["envelope_id"] != first["envelope_id"]
    assert session is not None
    history = await _history(module_daemon, session)
    # Both messages in the history, and one confirmation: the follow-up gets none.
    assert [n["kind"] for n in history] == ["citizen", "confirmation", "citizen"], history


async def test_near_identical_repeat_is_marked_duplicate_and_acknowledged(
    module_daemon: DaemonProcess,
) -> None:
    """Resending near-identical text sets duplicate_of and the citizen is told it was added."""
    text = "Не могу оформить пособие на ребёнка, портал не принимает документы"
    async with open_chat(module_daemon) as client:
        first = await _new_request(client, text)
        number = first["ticket"]["number"]
        await wait_notice(client, "confirmation")
        seen = len(client.notices)
        repeat = await client.write(text + "!!")
        added = await wait_notice(client, "system", since=seen)
    assert repeat["ticket"]["number"] == number
    assert repeat["ticket"]["is_new"] is False
    assert added["ticket"] == number
    assert "добавлено" in added["text"] and number in added["text"]
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, repeat["envelope_id"])
    assert filed["duplicate_of"] == first["envelope_id"]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param("{not json", "bad_json", id="bad-json"),
        pytest.param(json.dumps({"type": "nonsense"}), "bad_frame", id="unknown-type"),
        pytest.param(b"\x00\x01binary", "binary_frame", id="binary-frame"),
        pytest.param(
            json.dumps({"type": "resume", "after_seq": 2**63}), "bad_frame", id="huge-after-seq"
        ),
        pytest.param(
            '{"type":"hello","identity":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
            "bad_json",
            id="deeply-nested",
        ),
    ],
)
async def test_bad_frame_gets_an_error_and_the_connection_survives(
    module_daemon: DaemonProcess, frame: str | bytes, code: str
) -> None:
    """A malformed frame is answered with an error frame; a valid message still works after."""
    async with open_chat(module_daemon) as client:
        await client.ws.send_message(frame)
        error = await client.expect("error")
        assert error["code"] == code
        assert error["message"]
        accepted = await client.write("Не открывается страница оплаты госпошлины")
    assert accepted["type"] == "accepted"
    assert accepted["ticket"] is not None


async def test_message_before_hello_is_refused_and_the_connection_survives(
    module_daemon: DaemonProcess,
) -> None:
    """A message before hello gets an error; after hello the same connection files messages."""
    async with open_chat(module_daemon, hello=False) as client:
        await client.send(
            {"type": "message", "client_id": _client_id(), "text": "Вопрос по льготам"}
        )
        refused = await client.expect("error")
        assert refused["code"] == "hello_required"
        assert refused["message"]
        await client.hello()
        accepted = await client.write("Здравствуйте, вопрос по льготам")
    assert accepted["type"] == "accepted"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n ", id="blank"),
        pytest.param("\x00\u200b\x07", id="invisible"),
    ],
)
async def test_empty_text_is_refused_and_the_connection_survives(
    module_daemon: DaemonProcess, text: str
) -> None:
    """An empty message gets an error naming its client_id; the next message is accepted."""
    async with open_chat(module_daemon) as client:
        client_id = _client_id()
        refused = await client.write(text, client_id)
        assert refused == {
            "type": "error",
            "code": refused["code"],
            "message": refused["message"],
            "client_id": client_id,
        }
        assert refused["code"]
        accepted = await client.write("Теперь с текстом: нужна выписка")
    assert accepted["type"] == "accepted"


async def test_over_long_text_is_refused_and_the_connection_survives(
    module_daemon: DaemonProcess,
) -> None:
    """A message over max_text_chars gets an error and files nothing; the next one is accepted."""
    webchat = tomllib.loads((module_daemon.config / "channels" / "webchat.toml").read_text())
    limit = int(webchat["max_text_chars"])
    async with open_chat(module_daemon) as client:
        client_id = _client_id()
        refused = await client.write("ж" * (limit + 1), client_id)
        assert refused["type"] == "error"
        assert refused["code"]
        accepted = await client.write("Короткое сообщение про справку")
    assert accepted["type"] == "accepted"
    async with module_daemon.backend() as backend:
        envelopes, _ = await read_feed(backend)
    assert not [e for e in envelopes if e["channel_message_id"] == client_id]


async def test_text_at_the_length_limit_is_accepted(module_daemon: DaemonProcess) -> None:
    """A message of exactly max_text_chars is filed."""
    webchat = tomllib.loads((module_daemon.config / "channels" / "webchat.toml").read_text())
    limit = int(webchat["max_text_chars"])
    async with open_chat(module_daemon) as client:
        accepted = await client.write(("Справка о доходах. " * limit)[:limit])
    assert accepted["type"] == "accepted"


async def test_topic_10_files_an_urgent_access_ticket(module_daemon: DaemonProcess) -> None:
    """The topic the citizen picks decides the category: 10 is access, priority urgent."""
    async with open_chat(module_daemon) as client:
        accepted = await _new_request(client, "Помогите, пожалуйста", topic="10")
    assert accepted["ticket"]["category"]["code"] == "10"
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
    assert filed["ticket"]["category"]["code"] == "10"
    assert filed["ticket"]["priority"] == "urgent"


async def test_subject_code_in_text_sets_the_category(module_daemon: DaemonProcess) -> None:
    """«Код 11 ...» at the start of a chat text files under category 11 (technical)."""
    async with open_chat(module_daemon) as client:
        accepted = await _new_request(client, "Код 11 Хочу подать заявление на справку")
    assert accepted["ticket"]["category"]["code"] == "11"
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
    assert filed["ticket"]["category"]["code"] == "11"
    assert filed["ticket"]["priority"] == "technical"


async def test_reconnect_with_token_resumes_the_history_in_order(
    module_daemon: DaemonProcess,
) -> None:
    """Reconnecting with the token welcomes at last_seq; resume replays every notice in order."""
    text = "Не могу получить выписку из ЕГРН, сайт пишет что услуга недоступна"
    async with open_chat(module_daemon) as client:
        first = await _new_request(client, text)
        await wait_notice(client, "confirmation")
        seen = len(client.notices)
        await client.write(text + " Повторяю.")
        await wait_notice(client, "system", since=seen)
        token = client.session
        seen_notices = list(client.notices)
    assert token is not None
    # Each message, then its answer: the confirmation, and the «added» notice of the repeat.
    kinds = [n["kind"] for n in seen_notices]
    assert kinds == ["citizen", "confirmation", "citizen", "system"], kinds
    assert [n["seq"] for n in seen_notices] == [1, 2, 3, 4]
    async with open_chat(module_daemon, token) as again:
        assert again.welcome["session"] == token
        assert again.welcome["ticket"] == first["ticket"]["number"]
        assert again.welcome["last_seq"] == len(seen_notices)
        await again.send({"type": "resume", "after_seq": 0})
        replayed = [await again.expect("notice") for _ in seen_notices]
        await again.send({"type": "resume", "after_seq": 3})
        tail = await again.expect("notice")
    assert replayed == seen_notices
    assert tail == seen_notices[3]


async def test_unknown_session_token_starts_a_new_session(module_daemon: DaemonProcess) -> None:
    """A hello with a token the server never issued gets a fresh session, not someone else's."""
    async with open_chat(module_daemon, "not-a-token-" + secrets.token_hex(8)) as client:
        assert client.welcome["session"] != "not-a-token-"
        assert client.welcome["ticket"] is None
        assert client.welcome["last_seq"] == 0


async def test_status_query_from_the_same_session_answers_the_status(
    module_daemon: DaemonProcess,
) -> None:
    """«статус N» from the session that opened N gets a notice with the current status."""
    async with open_chat(module_daemon) as client:
        first = await _new_request(client, "Как изменить фамилию в личных данных?")
        number = first["ticket"]["number"]
        await wait_notice(client, "confirmation")
        seen = len(client.notices)
        query = await client.write(f"статус {number}")
        answers = [await wait_notice(client, "status", since=seen)]
    assert query["type"] == "accepted"
    assert query["ticket"]["number"] == number
    assert query["ticket"]["is_new"] is False
    (answer,) = answers
    assert answer["ticket"] == number
    assert number in answer["text"]
    assert "«Принято»" in answer["text"]


async def test_status_query_from_another_session_is_not_found(
    module_daemon: DaemonProcess,
) -> None:
    """«статус N» from a stranger gets "not found among your requests" and opens no ticket."""
    async with open_chat(module_daemon) as owner:
        first = await _new_request(owner, "Пособие по уходу за ребёнком не пришло")
        number = first["ticket"]["number"]
    async with module_daemon.backend() as backend:
        _, cursor = await read_feed(backend)
    async with open_chat(module_daemon) as stranger:
        query = await stranger.write(f"статус {number}")
        answer = await wait_notice(stranger, "system")
    assert query["type"] == "accepted"
    assert query["ticket"] is None
    assert "не найдено среди ваших обращений" in answer["text"]
    assert number in answer["text"]
    assert not [n for n in stranger.notices if n["kind"] == "confirmation"]
    async with module_daemon.backend() as backend:
        later, _ = await read_feed(backend, cursor)
    assert [e for e in later if e["ticket"] and e["ticket"]["is_new"]] == []
    assert stranger.session is not None
    async with open_chat(module_daemon, stranger.session) as again:
        assert again.welcome["ticket"] is None


async def test_password_in_text_is_flagged(module_daemon: DaemonProcess) -> None:
    """A message containing a password is flagged contains_credential in the envelope."""
    async with open_chat(module_daemon) as client:
        accepted = await client.write("Не могу войти, мой пароль Qwerty123 не подходит")
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
    assert "contains_credential" in filed["flags"]


async def test_snils_and_phone_in_text_are_extracted(module_daemon: DaemonProcess) -> None:
    """SNILS and a phone written in the text appear, normalised, in the envelope identifiers."""
    async with open_chat(module_daemon) as client:
        accepted = await client.write(
            "Прошу исправить СНИЛС 112-233-445 95 в профиле, телефон для связи 8 916 123-45-67"
        )
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
    identifiers = filed["identifiers"]
    assert [s.replace("-", "").replace(" ", "") for s in identifiers["snils"]] == ["11223344595"]
    assert identifiers["phones"] == ["+79161234567"]


async def test_plain_message_has_no_credential_flag(module_daemon: DaemonProcess) -> None:
    """Mentioning the word «пароль» without one is not flagged."""
    async with open_chat(module_daemon) as client:
        accepted = await client.write("Забыл пароль от личного кабинета, как восстановить?")
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
    assert "contains_credential" not in filed["flags"]


async def test_envelope_matches_the_accepted_frame(module_daemon: DaemonProcess) -> None:
    """The feed's envelope carries the web chat channel, session sender and the same ticket."""
    async with open_chat(module_daemon) as client:
        client_id = _client_id()
        text = "Вопрос о выплате компенсации за проезд"
        accepted = await client.write(text, client_id)
    async with module_daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
    assert filed["schema"] == "omnirouter.envelope/v1"
    assert filed["channel"] == "webchat"
    assert filed["channel_message_id"] == client_id
    assert filed["text"] == text
    assert filed["ticket"]["number"] == accepted["ticket"]["number"]
    assert filed["ticket"]["is_new"] is True
    assert filed["ticket"]["category"] == accepted["ticket"]["category"]


async def test_chat_page_and_widget_are_served(module_daemon: DaemonProcess) -> None:
    """GET /chat/ is an HTML page and /chat/widget.js a script."""
    async with module_daemon.backend() as http:
        page = await http.get("/chat/")
        widget = await http.get("/chat/widget.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert widget.status_code == 200
    assert "javascript" in widget.headers["content-type"]
    assert "widget.js" in page.text


async def test_a_longer_number_format_is_issued_and_recognised(tmp_path: Path) -> None:
    """With 8 counter digits, numbers have 11 digits, and «статус N» and references find them."""
    with running_daemon(tmp_path, router_edits={"counter_digits = 7": "counter_digits = 8"}) as d:
        async with open_chat(d) as client:
            first = await _new_request(client, "Не приходит выписка из реестра")
            number = first["ticket"]["number"]
            await wait_notice(client, "confirmation")
            seen = len(client.notices)
            await client.write(f"статус {number}")
            answer = await wait_notice(client, "status", since=seen)
            follow_up = await client.write(f"По обращению {number}: прикладываю номер заявления")
        async with d.backend() as backend:
            filed = await envelope(backend, follow_up["envelope_id"])
        async with d.admin() as admin:  # masked: personal data hidden, the number readable
            view = (await admin.get(f"/api/v1/admin/tickets/{number}")).json()
    assert f"По обращению {number}:" in view["thread"][-1]["text"]
    assert len(number) == 11 and is_valid(number)
    assert number in answer["text"]
    assert filed["identifiers"]["ticket_refs"] == [number]
    assert filed["ticket"]["number"] == number


async def _handshake(url: str, origin: str | None) -> int | None:
    """The HTTP status a handshake was refused with, or None when the socket opened."""
    headers = [] if origin is None else [("Origin", origin)]
    try:
        async with open_websocket_url(url, extra_headers=headers):
            return None
    except ConnectionRejected as exc:
        status: int = exc.status_code
        return status


async def test_only_the_chat_page_own_origin_opens_a_socket_by_default(
    module_daemon: DaemonProcess,
) -> None:
    """With no allowed_origins, the daemon's own page may chat; another site's page may not."""
    url = module_daemon.ws_url
    assert await _handshake(url, module_daemon.base) is None
    assert await _handshake(url, None) is None  # a program, not a browser
    assert await _handshake(url, "https://evil.example") == 403


async def test_configured_origins_are_the_only_ones_allowed(tmp_path: Path) -> None:
    """With allowed_origins set, the portal's pages chat and every other origin is refused."""
    with running_daemon(tmp_path) as daemon:
        webchat = daemon.config / "channels" / "webchat.toml"
        webchat.write_text(
            webchat.read_text().replace(
                "allowed_origins = []", 'allowed_origins = ["https://www.gosuslugi.ru"]'
            )
        )
        daemon.signal(signal.SIGHUP)
        url = daemon.ws_url
        for _ in range(100):  # the reload is applied between two handshakes
            if await _handshake(url, daemon.base) == 403:
                break
            await trio.sleep(0.05)
        assert await _handshake(url, daemon.base) == 403
        assert await _handshake(url, "https://www.gosuslugi.ru") is None
