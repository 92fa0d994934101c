"""The portal's chat over the real daemon: a signed identity makes the citizen known on every
device and channel, the welcome lists their tickets, GET /chat/config offers the topics, and
after a silence the chat goes offline and takes an email or phone for the answer."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from trio_websocket import open_websocket_url

from channels.webchat.identity import signature
from tests.smsc import Smsc, smsc, smsc_server

from .daemon import (
    ChatClient,
    DaemonProcess,
    envelope,
    eventually,
    feed_all,
    open_chat,
    settle,
    wait_notice,
    write_secret,
)
from .test_sms_channel import SHORT_NUMBER, citizen_writes, with_sms

__all__ = ["smsc", "smsc_server"]  # the fixtures, for pytest to find

pytestmark = pytest.mark.integration

KEY = "portal-key-shared-with-omnirouter"
KEY_FILE = "secrets/portal-identity.key"
CITIZEN = "79161234567"
# The number the citizen had before they changed it in the portal.
OLD_PHONE = "79031234567"
PORTAL = "https://portal.example"


def portal_daemon(root: Path, *, inactivity: str = "15m", key: str | None = KEY) -> DaemonProcess:
    """A daemon whose chat trusts the portal's key (none written with key=None)."""
    daemon = DaemonProcess(root)
    if key is not None:
        write_secret(daemon.config / KEY_FILE, key + "\n")
    webchat = daemon.config / "channels" / "webchat.toml"
    text = webchat.read_text()
    assert 'inactivity_timeout = "15m"' in text and "allowed_origins = []" in text
    text = text.replace("allowed_origins = []", f'allowed_origins = ["{PORTAL}"]')
    webchat.write_text(
        text.replace(
            'inactivity_timeout = "15m"',
            f'inactivity_timeout = "{inactivity}"\nidentity_secret_file = "{KEY_FILE}"',
        )
    )
    return daemon


def identity(
    user_id: str,
    phone: str | None = None,
    email: str | None = None,
    *,
    age: int = 0,
    key: str = KEY,
) -> dict[str, Any]:
    """What the portal's server hands the widget for its logged-in user."""
    iat = int(time.time()) - age
    sig = signature(key.encode(), user_id, phone, email, iat)
    return {"user_id": user_id, "phone": phone, "email": email, "iat": iat, "sig": sig}


async def hello_as(
    client: ChatClient, who: dict[str, Any] | None, session: str | None = None
) -> dict[str, Any]:
    """Say hello with a portal identity; the welcome or the error frame."""
    await client.send({"type": "hello", "session": session, "identity": who, "lang": "ru"})
    frame = await client.receive()
    if frame["type"] == "welcome":
        client.welcome, client.session = frame, frame["session"]
    return frame


def user_id() -> str:
    return "portal-" + secrets.token_hex(6)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon that trusts the portal's key, for the tests that need no other peer."""
    running = portal_daemon(tmp_path_factory.mktemp("portal"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


# -- signed identity -----------------------------------------------------------------------------


async def test_a_verified_citizen_sees_their_tickets_on_another_device(
    daemon: DaemonProcess,
) -> None:
    """The portal's user writes on one device; a new session on another device with the same
    identity is verified, continues the conversation and sees the ticket, its status and the
    notices."""
    who = user_id()
    async with open_websocket_url(daemon.ws_url) as ws:
        laptop = ChatClient(ws)
        welcome = await hello_as(laptop, identity(who, "8 916 123-45-67", "Citizen@Example.RU"))
        assert welcome["type"] == "welcome", welcome
        assert welcome["verified"] is True and welcome["tickets"] == []
        accepted = await laptop.write("Не могу войти в личный кабинет", topic="10")
        number = accepted["ticket"]["number"]
        await wait_notice(laptop, "confirmation", ticket=number)
        laptop_token = laptop.session
    async with daemon.backend() as backend:
        filed = await envelope(backend, accepted["envelope_id"])
        response = await backend.post(
            f"/api/v1/tickets/{number}/status", json={"status": "in_progress"}
        )
        assert response.status_code == 202
    assert filed["sender"] == {
        "kind": "webchat",
        "address": who,
        "display_name": None,
        "verified": True,
    }
    await settle(daemon)

    async with open_websocket_url(daemon.ws_url) as ws:
        phone = ChatClient(ws)
        welcome = await hello_as(phone, identity(who, "8 916 123-45-67", "citizen@example.ru"))
        assert welcome["session"] != laptop_token  # a device of its own
        assert welcome["verified"] is True
        assert welcome["ticket"] == number
        assert welcome["tickets"] == [
            {
                "number": number,
                "status": "in_progress",
                "category": {"code": "10", "name": accepted["ticket"]["category"]["name"]},
            }
        ]
        await phone.send({"type": "resume", "after_seq": 0})
        history = [await phone.expect("notice") for _ in range(welcome["last_seq"])]
        # What was written on the laptop, its confirmation and the status change, which names
        # the new status for the widget's list of tickets.
        assert [n["kind"] for n in history] == ["citizen", "confirmation", "status"]
        assert history[2]["status"] == "in_progress" and "status" not in history[1]
        # Written on this device, it joins the same ticket.
        again = await phone.write("Пароль не подходит")
        assert again["ticket"]["number"] == number and again["ticket"]["is_new"] is False

    # The laptop reloads: its token and a fresh identity of the same user resume its session.
    async with open_chat(daemon, hello=False) as reloaded:
        welcome = await hello_as(reloaded, identity(who), session=laptop_token)
    # ... and its history has what the phone wrote too.
    assert welcome["session"] == laptop_token and welcome["last_seq"] == 4


async def test_a_token_of_another_user_does_not_open_their_session(daemon: DaemonProcess) -> None:
    """On a shared computer the next portal user gets a session of their own, not the last
    user's history."""
    async with open_chat(daemon, hello=False) as first:
        await hello_as(first, identity(user_id()))
        await first.write("Справка о доходах")
        token = first.session
    async with open_chat(daemon, hello=False) as second:
        welcome = await hello_as(second, identity(user_id()), session=token)
    assert welcome["session"] != token
    assert welcome["ticket"] is None and welcome["tickets"] == [] and welcome["last_seq"] == 0


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        pytest.param({"key": "not-the-portal's-key"}, "bad signature", id="forged"),
        pytest.param({"age": 301}, "expired", id="expired"),
        pytest.param({"age": -120}, "future", id="from-the-future"),
        pytest.param(None, "malformed", id="unsigned"),
    ],
)
async def test_an_invalid_identity_gets_identity_invalid_and_no_session(
    daemon: DaemonProcess, forged: dict[str, Any] | None, reason: str
) -> None:
    """Refused with a reason the portal's developers can act on; the socket stays open and an
    anonymous hello still works."""
    async with open_chat(daemon, hello=False) as client:
        # Signed now, as the test runs: its age is what the case says.
        presented = {"user_id": "7"} if forged is None else identity("7", **forged)
        error = await hello_as(client, presented)
        assert error["type"] == "error" and error["code"] == "identity_invalid"
        assert reason in error["message"]
        accepted = await client.write("Без сессии")
        assert accepted["code"] == "hello_required"
        welcome = await client.hello()
        assert welcome["verified"] is False


async def test_anonymous_history_comes_back_after_a_reload(daemon: DaemonProcess) -> None:
    """An anonymous session's tickets, resolved ones too, are listed again with its token."""
    async with open_chat(daemon) as client:
        first = await client.write("Не приходит код подтверждения")
        token = client.session
        assert client.welcome["verified"] is False
    number = first["ticket"]["number"]
    async with daemon.backend() as backend:
        response = await backend.post(
            f"/api/v1/tickets/{number}/status", json={"status": "resolved"}
        )
        assert response.status_code == 202
    async with open_chat(daemon, token) as again:
        assert again.welcome["tickets"] == [
            {
                "number": number,
                "status": "resolved",
                "category": first["ticket"]["category"],
            }
        ]
    async with open_chat(daemon) as stranger:
        assert stranger.welcome["tickets"] == []


async def test_without_a_key_an_identity_is_refused_and_logged(tmp_path: Path) -> None:
    """identity_secret_file names a file that is not there: identity_invalid and a log line
    naming the setting, and the daemon goes on."""
    daemon = portal_daemon(tmp_path, key=None)
    daemon.start()
    try:
        async with open_chat(daemon, hello=False) as client:
            error = await hello_as(client, identity("7"))
            assert error["code"] == "identity_invalid"
            assert (await client.hello())["verified"] is False
    finally:
        daemon.stop()
    logged = [r for r in daemon.log_lines() if "identity_secret_file" in r["msg"]]
    assert logged and logged[0]["level"] == "error", daemon.log.read_text()[-2000:]


# -- topics --------------------------------------------------------------------------------------


async def test_chat_config_offers_topics_limits_and_the_timeout(daemon: DaemonProcess) -> None:
    """Topics named in the language asked for; the chosen one files the ticket in it."""
    async with httpx.AsyncClient(base_url=daemon.base) as http:
        answer = await http.get("/chat/config", params={"lang": "en"}, headers={"Origin": PORTAL})
        english = answer.json()
        russian = (await http.get("/chat/config")).json()
        # The portal's pages may read it; another site's may not.
        assert answer.headers["Access-Control-Allow-Origin"] == PORTAL
        elsewhere = await http.get("/chat/config", headers={"Origin": "https://elsewhere.example"})
        assert "Access-Control-Allow-Origin" not in elsewhere.headers
    codes = [topic["code"] for topic in english["topics"]]
    assert codes == sorted(codes) and {"01", "02", "10", "12"} <= set(codes)
    names = {topic["code"]: topic["name"] for topic in english["topics"]}
    assert names != {topic["code"]: topic["name"] for topic in russian["topics"]}
    assert english["limits"] == {
        "file": 5 * 1024 * 1024,
        "message": 20 * 1024 * 1024,
        "count": 5,
        "types": [
            *("pdf", "jpeg", "png", "tiff", "heic", "text", "docx", "odt", "xlsx", "zip"),
            *("ogg", "mp3", "mp4", "webm"),
        ],
    }
    assert english["inactivity_timeout"] == 15 * 60
    async with open_chat(daemon) as client:
        accepted = await client.write("Хочу оформить пособие", topic="04")
    assert accepted["ticket"]["category"]["code"] == "04"
    russian_names = {topic["code"]: topic["name"] for topic in russian["topics"]}
    assert accepted["ticket"]["category"]["name"] == russian_names["04"]


# -- with the SMSC: the same person on SMS, and the offline contact ---------------------------


async def test_an_sms_from_the_portal_users_phone_reaches_the_same_person(
    tmp_path: Path, smsc: Smsc
) -> None:
    """The portal vouches for its user's phone: their SMS is filed to the same contact, and
    the chat lists the ticket the SMS opened."""
    daemon = with_sms(portal_daemon(tmp_path), smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        who = user_id()
        async with open_chat(daemon, hello=False) as client:
            await hello_as(client, identity(who, "+" + CITIZEN))
            chat = await client.write("Справка из налоговой")
        sms = await citizen_writes(daemon, smsc, "Код 05 Сменил фамилию", data_coding=8)
        async with daemon.backend() as backend:
            from_chat = await envelope(backend, chat["envelope_id"])
        assert sms["contact_id"] == from_chat["contact_id"]
        async with open_chat(daemon, hello=False) as later:
            welcome = await hello_as(later, identity(who, "+" + CITIZEN))
        listed = [ticket["number"] for ticket in welcome["tickets"]]
        assert listed == [sms["ticket"]["number"], chat["ticket"]["number"]]  # newest first
    finally:
        daemon.stop()


async def test_a_resumed_session_vouches_for_the_phone_the_portal_signs_now(
    tmp_path: Path, smsc: Smsc
) -> None:
    """The citizen changed their phone in the portal and the browser resumes the old session:
    their message links the new phone, not the one signed when the session began (which may
    be someone else's by now)."""
    daemon = with_sms(portal_daemon(tmp_path), smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        who = user_id()
        async with open_chat(daemon, hello=False) as before:
            await hello_as(before, identity(who, "+" + OLD_PHONE))
            token = before.session
        async with open_chat(daemon, hello=False) as resumed:
            welcome = await hello_as(resumed, identity(who, "+" + CITIZEN), session=token)
            assert welcome["session"] == token
            chat = await resumed.write("Сменил номер телефона в профиле")
        for source in (OLD_PHONE, CITIZEN):
            await smsc.deliver(
                source=source, destination=SHORT_NUMBER, text=f"Код 05 пишу с {source[-4:]}",
                data_coding=8,
            )  # fmt: skip

        async def both_filed() -> dict[str, dict[str, Any]] | None:
            sms = [e for e in await feed_all(daemon) if e["channel"] == "sms"]
            return {e["sender"]["address"]: e for e in sms} if len(sms) == 2 else None

        by_phone = await eventually(both_filed, "both SMS filed")
        async with daemon.backend() as backend:
            from_chat = await envelope(backend, chat["envelope_id"])
        assert by_phone["+" + CITIZEN]["contact_id"] == from_chat["contact_id"]
        assert by_phone["+" + OLD_PHONE]["contact_id"] != from_chat["contact_id"]
    finally:
        daemon.stop()


async def test_the_portal_users_phone_joins_their_tickets_when_the_chat_files_a_message(
    tmp_path: Path, smsc: Smsc
) -> None:
    """The citizen wrote by SMS first, from the phone the portal signs. A signed-in welcome
    alone lists nothing of it (a number that was someone else's once must not show their
    tickets to whoever the portal signs it for now); the first chat message joins the two,
    and the next welcome lists the SMS ticket."""
    daemon = with_sms(portal_daemon(tmp_path), smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        sms = await citizen_writes(daemon, smsc, "Код 05 Сменил фамилию", data_coding=8)
        signed = identity(user_id(), "+" + CITIZEN)
        async with open_chat(daemon, hello=False) as client:
            welcome = await hello_as(client, signed)
            assert welcome["tickets"] == []
            await client.write("Когда будет готово?")
        async with open_chat(daemon, hello=False) as again:
            later = await hello_as(again, signed)
        assert sms["ticket"]["number"] in [t["number"] for t in later["tickets"]]
    finally:
        daemon.stop()


async def test_offline_after_silence_then_notices_also_go_to_the_phone_left(
    tmp_path: Path, smsc: Smsc
) -> None:
    """After inactivity_timeout the chat says it is offline; the citizen leaves a phone; the
    next status notice goes to the chat's history and by SMS; writing again resumes."""
    daemon = with_sms(portal_daemon(tmp_path, inactivity="1s"), smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        async with open_chat(daemon) as client:
            accepted = await client.write("Не работает оплата пошлины")
            number = accepted["ticket"]["number"]
            offline = await client.expect("offline")
            assert "истории этого чата" in offline["text"]
            await client.send({"type": "contact", "email": "nope@", "phone": None})
            assert (await client.expect("error"))["code"] == "email_invalid"
            await client.send({"type": "contact", "email": None, "phone": "8 916 123-45-67"})
            await client.expect("contact_saved")
            seen = len(client.notices)
            async with daemon.backend() as backend:
                response = await backend.post(
                    f"/api/v1/tickets/{number}/status",
                    json={"status": "awaiting_citizen", "comment": "Пришлите квитанцию"},
                )
                assert response.status_code == 202
            in_chat = await wait_notice(client, "status", since=seen, ticket=number)
            assert "Пришлите квитанцию" in in_chat["text"]
            [sms] = await smsc.wait_for(
                "submit_sm", where=lambda e: e["destination_addr"] == CITIZEN
            )
            assert number in sms["text"]
            # Coming back: the message is taken, and a later silence goes offline again.
            again = await client.write("Квитанцию отправлю вечером")
            assert again["type"] == "accepted"
            await client.expect("offline")
    finally:
        daemon.stop()
    # The phone is nobody's identity: the SMS was sent to a declared address only.
    assert not any(CITIZEN in json.dumps(r) for r in daemon.log_lines())
