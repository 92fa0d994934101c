"""The Bot API double's pure core (tests/peers/telegram): flood limits, entity parsing and the
world's rules, without sockets, so that the integration tests stand on checked ground."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.peers.telegram.limits import FloodControl, Limits, Refusals, Storm
from tests.peers.telegram.markup import EntityError, parse
from tests.peers.telegram.world import ApiError, Params, Upload, World


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def world_with_chat() -> tuple[World, Clock, int]:
    clock = Clock()
    world = World.create("support_bot")
    world.clock = clock
    user = world.new_user("Анна")
    world.user_sends(user["id"], {"text": "Привет"}, None)
    return world, clock, user["id"]


def send(world: World, chat_id: int, text: str = "Ответ", **more: Any) -> Any:
    result, _ = world.call(
        "sendMessage", Params({"chat_id": str(chat_id), "text": text, **more}, {})
    )
    return result


def refused(world: World, chat_id: int, **more: Any) -> ApiError:
    with pytest.raises(ApiError) as error:
        send(world, chat_id, **more)
    return error.value


def test_flood_control_lets_one_message_a_second_through_to_a_chat() -> None:
    flood = FloodControl(per_chat=1, overall=30, tolerance=0.0)
    assert flood.admit(1, 0.0) is None
    assert flood.admit(1, 0.5) == 1
    # The refused one did not count: a second after the first, the chat has room again.
    assert flood.admit(1, 1.0) is None
    assert flood.admit(2, 1.0) is None


def test_flood_control_tolerates_arrival_jitter_but_not_a_burst() -> None:
    flood = FloodControl(per_chat=1, overall=30, tolerance=0.02)
    assert flood.admit(1, 0.0) is None
    assert flood.admit(1, 0.99) is None
    assert flood.admit(1, 1.5) == 1


def test_flood_control_counts_every_chat_against_the_global_limit() -> None:
    flood = FloodControl(per_chat=1, overall=3, tolerance=0.0)
    for chat in range(3):
        assert flood.admit(chat, 0.1 * chat) is None
    assert flood.admit(99, 0.5) == 1
    assert flood.admit(99, 1.0) is None


def test_scripted_refusals_are_used_up_and_a_storm_passes() -> None:
    limits = Limits(refusals=Refusals(2, 5, frozenset({"sendmessage"})))
    assert [limits.scripted("sendmessage", 0.0) for _ in range(3)] == [5, 5, None]
    assert limits.scripted("getme", 0.0) is None
    limits.storm = Storm(until=10.0, retry_after=3, methods=frozenset({"sendmessage"}))
    assert limits.scripted("sendmessage", 9.9) == 3
    assert limits.scripted("sendmessage", 10.0) is None


def test_html_entities_count_utf16_code_units_and_bad_markup_is_refused() -> None:
    text, entities = parse('👍 <b>Принято</b> <a href="https://gosuslugi.ru">тут</a>', "HTML")
    assert text == "👍 Принято тут"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 7},
        {"type": "text_link", "offset": 11, "length": 3, "url": "https://gosuslugi.ru"},
    ]
    for bad in ("<b>не закрыт", "<blink>x</blink>", "<b><i>x</b></i>"):
        with pytest.raises(EntityError):
            parse(bad, "HTML")


def test_markdown_v2_wants_reserved_characters_escaped() -> None:
    text, entities = parse(
        r"*Обращение* №2600000128 принято\. [Портал](https://x.ru/a\)b)", "MarkdownV2"
    )
    assert text == "Обращение №2600000128 принято. Портал"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "text_link", "offset": 31, "length": 6, "url": "https://x.ru/a)b"},
    ]
    assert parse(">цитата\n>ещё\nтекст", "MarkdownV2")[1] == [
        {"type": "blockquote", "offset": 0, "length": 10}
    ]
    with pytest.raises(EntityError, match=re.escape("Character '.' is reserved")):
        parse("Обращение принято.", "MarkdownV2")
    with pytest.raises(EntityError, match="end of bold"):
        parse("*жирный", "MarkdownV2")


def test_message_ids_count_per_chat_and_update_ids_globally() -> None:
    world, _, anna = world_with_chat()
    boris = world.new_user("Борис")["id"]
    first = world.user_sends(boris, {"text": "Привет"}, None)
    assert first["message"]["message_id"] == 1
    assert send(world, anna)["message_id"] == 2
    second = world.user_sends(anna, {"text": "Ещё"}, None)
    assert second["message"]["message_id"] == 3
    assert second["update_id"] == first["update_id"] + 1


def test_an_offset_forgets_the_updates_below_it_and_a_negative_one_keeps_the_last() -> None:
    world, _, anna = world_with_chat()
    for text in ("2", "3", "4"):
        world.user_sends(anna, {"text": text}, None)
    ids = [u["update_id"] for u in world.pending()]
    world.poll(Params({"offset": str(ids[1])}, {}))
    assert [u["update_id"] for u in world.pending()] == ids[1:]
    world.poll(Params({"offset": -1}, {}))
    assert [u["update_id"] for u in world.pending()] == ids[-1:]


def test_allowed_updates_drops_the_kinds_left_out() -> None:
    world, _, anna = world_with_chat()
    world.poll(Params({"allowed_updates": '["callback_query"]'}, {}))
    assert world.user_sends(anna, {"text": "не нужно"}, None)["update_id"] is None
    world.poll(Params({"allowed_updates": "[]"}, {}))
    assert world.user_sends(anna, {"text": "нужно"}, None)["update_id"] is not None


def test_sends_are_refused_as_telegram_refuses_them() -> None:
    world, _, anna = world_with_chat()
    assert refused(world, anna + 1).description == "Bad Request: chat not found"
    assert refused(world, anna, text="  ").description == "Bad Request: message text is empty"
    assert refused(world, anna, text="ж" * 4097).description == "Bad Request: message is too long"
    too_long_data = '{"inline_keyboard": [[{"text": "x", "callback_data": "' + "x" * 65 + '"}]]}'
    assert refused(world, anna, reply_markup=too_long_data).description == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    missing = refused(world, anna, reply_parameters='{"message_id": 99}')
    assert missing.description == "Bad Request: message to be replied not found"
    tolerant = '{"message_id": 99, "allow_sending_without_reply": true}'
    assert "reply_to_message" not in send(world, anna, reply_parameters=tolerant)
    world.user_blocks(anna, True)
    blocked = refused(world, anna)
    assert (blocked.code, blocked.description) == (403, "Forbidden: bot was blocked by the user")


def test_a_photo_that_is_no_image_is_refused_and_nothing_is_sent() -> None:
    world, _, anna = world_with_chat()
    upload = Upload("scan.jpg", "image/jpeg", b"%PDF-1.4 not a picture")
    with pytest.raises(ApiError, match="IMAGE_PROCESS_FAILED"):
        world.call("sendPhoto", Params({"chat_id": anna}, {"photo": upload}))
    assert list(world.chats[anna].messages) == [1]


def test_flood_control_refuses_over_the_limit_with_the_wait_in_whole_seconds() -> None:
    world, clock, anna = world_with_chat()
    world.limits.flood = FloodControl(per_chat=1, overall=30)
    send(world, anna)
    clock.now += 0.5
    error = refused(world, anna)
    assert (error.code, error.retry_after) == (429, 1)
    assert error.body()["parameters"] == {"retry_after": 1}
    clock.now += 0.5
    send(world, anna)
    assert [entry.get("error_code") for entry in world.log] == [None, 429, None]


def test_a_webhook_excludes_polling_until_deleted() -> None:
    world, _, _ = world_with_chat()
    world.call("setWebhook", Params({"url": "http://127.0.0.1:9/hook", "secret_token": "ok_1"}, {}))
    with pytest.raises(ApiError) as conflict:
        world.poll(Params({}, {}))
    assert conflict.value.code == 409
    world.call("deleteWebhook", Params({"drop_pending_updates": "true"}, {}))
    world.poll(Params({}, {}))
    assert world.pending() == []
    with pytest.raises(ApiError, match="secret token contains unallowed characters"):
        world.call("setWebhook", Params({"url": "https://x", "secret_token": "не ascii"}, {}))
