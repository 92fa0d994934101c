"""The messenger channel's pure parts: a Bot API update read into a RawInbound, its journal key,
and a long text cut into Telegram messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from telegram import Update

from channels.contract import Received, Sender, Unparseable
from channels.messenger import PLUGIN, fit, inbound
from channels.messenger.telegram import ignored

CHAT = 5550001


def update(update_id: int = 10, *, edited: bool = False, **content: Any) -> dict[str, Any]:
    """An update of a private chat's message from user CHAT, with `content`."""
    user = {"id": CHAT, "is_bot": False, "first_name": "Анна", "language_code": "en"}
    message = {
        "message_id": 3,
        "date": 1764720000,
        "chat": {"id": CHAT, "type": "private", "first_name": "Анна"},
        "from": user,
        **content,
    }
    if edited:
        message["edit_date"] = 1764720100
    return {"update_id": update_id, "edited_message" if edited else "message": message}


def received(data: dict[str, Any], **metadata: str) -> Received:
    """The update as the adapter commits it."""
    parsed = Update.de_json(data, None)
    key = inbound.key(parsed)
    assert key is not None
    return Received(
        channel="messenger",
        account="support",
        idempotency_key=key,
        received_at="2026-12-03T08:00:00.000Z",
        content_type=inbound.CONTENT_TYPE,
        payload=inbound.kept(parsed),
        metadata=metadata,
    )


def parse(data: dict[str, Any], **metadata: str) -> Any:
    return PLUGIN.parsers["messenger"].parse(received(data, **metadata))


def test_a_text_is_read_from_the_verified_user_with_their_language() -> None:
    raw = parse(update(text="Не приходит код подтверждения"))
    assert raw.text == "Не приходит код подтверждения"
    assert raw.sender == Sender("telegram", str(CHAT), "Анна", verified=True)
    assert raw.language_hint == "en"
    assert (raw.channel_message_id, raw.idempotency_key) == (f"{CHAT}:3", f"{CHAT}:3")
    assert raw.referable and raw.in_reply_to is None


def test_an_edit_has_the_key_of_the_message_it_edits_and_the_parser_calls_it_a_revision() -> None:
    first = received(update(10, text="Справка"))
    edit = received(update(11, edited=True, text="Справка 2-НДФЛ"))
    assert first.idempotency_key == edit.idempotency_key
    assert PLUGIN.parsers["messenger"].changed_content == "revision"
    assert PLUGIN.parsers["messenger"].parse(edit).text == "Справка 2-НДФЛ"


def test_a_caption_is_the_text_and_the_stored_files_are_its_attachments() -> None:
    photo = [{"file_id": "a", "file_unique_id": "ua", "width": 90, "height": 90}]
    raw = parse(update(photo=photo, caption="Паспорт"), attachments="att1,att2")
    assert raw.text == "Паспорт" and raw.attachment_ids == ["att1", "att2"]


def test_a_reply_names_the_message_it_answers_qualified_by_its_chat() -> None:
    bot = {"id": 1, "is_bot": True, "first_name": "support"}
    answered = {"message_id": 2, "date": 0, "chat": {"id": CHAT, "type": "private"}, "from": bot}
    raw = parse(update(text="Спасибо, а когда?", reply_to_message=answered))
    assert raw.in_reply_to == f"{CHAT}:2"


@pytest.mark.parametrize("phone", ["79161234567", "+79161234567"])
def test_an_own_contact_is_a_verified_phone_linked_to_the_user_asking_the_status(
    phone: str,
) -> None:
    contact = {"phone_number": phone, "first_name": "Анна", "user_id": CHAT}
    raw = parse(update(contact=contact))
    assert raw.verified_links == [Sender("phone", "+79161234567", verified=True)]
    assert raw.declared == [] and raw.text == inbound.SHARED_PHONE


def test_someone_elses_contact_is_only_declared() -> None:
    contact = {"phone_number": "79161234567", "first_name": "Пётр", "user_id": CHAT + 1}
    raw = parse(update(contact=contact))
    assert raw.verified_links == [] and raw.declared == [Sender("phone", "+79161234567")]
    assert raw.text == ""  # a number forwarded to us: part of a request


@pytest.mark.parametrize(
    "content",
    [
        {"sticker": {"file_id": "s", "file_unique_id": "us", "width": 512, "height": 512,
                     "is_animated": False, "is_video": False, "type": "regular"}},
        {"location": {"latitude": 55.75, "longitude": 37.61}},
    ],
)  # fmt: skip
def test_a_kind_the_bot_does_not_take_reads_as_the_unsupported_command(
    content: dict[str, Any],
) -> None:
    assert parse(update(**content)).text == inbound.UNSUPPORTED


@pytest.mark.parametrize("flags", ["oversize", "incomplete", "incomplete,oversize"])
def test_a_file_not_taken_is_flagged_not_unsupported(flags: str) -> None:
    document = {"file_id": "d", "file_unique_id": "ud", "file_name": "scan.pdf"}
    raw = parse(update(document=document), flags=flags)
    assert raw.flags == flags.split(",") and raw.text == ""


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("/start", inbound.START),
        ("/start portal", inbound.START),  # t.me/bot?start=portal
        ("/start@support_bot Zm9ybS0x_2-a", inbound.START),
        ("/start Не могу войти", "/start Не могу войти"),  # no deep link payload: their words
        ("/start portal и ещё вопрос", "/start portal и ещё вопрос"),
    ],
)
def test_a_deep_links_start_reads_as_start(text: str, read: str) -> None:
    assert parse(update(text=text)).text == read


def test_the_topic_chosen_before_goes_with_the_message() -> None:
    """A topic picked after /start starts a new request; a message without one does not."""
    chosen = parse(update(text="Вопрос"), topic="04")
    assert chosen.topic == "04" and chosen.new_request
    assert not parse(update(text="Вопрос")).new_request


def test_a_button_press_is_the_citizens_message_with_the_buttons_data() -> None:
    user = {"id": CHAT, "is_bot": False, "first_name": "Анна"}
    press = {"update_id": 12, "callback_query": {"id": "q1", "from": user, "chat_instance": "c",
                                                 "data": "/status 2600000128"}}  # fmt: skip
    raw = parse(press)
    assert raw.text == "/status 2600000128" and raw.idempotency_key == "callback:q1"


def test_what_is_not_an_update_is_unparseable() -> None:
    bad = Received("messenger", "support", "k", "2026-12-03T08:00:00.000Z", "x", b"{not json")
    with pytest.raises(Unparseable):
        inbound.parse(bad)
    user = {"id": CHAT, "is_bot": False, "first_name": "Анна"}
    chosen = {"result_id": "r", "from": user, "query": "q"}
    poll = {"update_id": 1, "chosen_inline_result": chosen}  # nothing the bot files
    assert inbound.key(Update.de_json(poll, None)) is None
    with pytest.raises(Unparseable):
        inbound.parse(Received("messenger", "s", "k", "t", "x", json.dumps(poll).encode()))


def test_a_long_text_is_cut_between_paragraphs() -> None:
    paragraphs = ["а" * 3000, "б" * 3000, "в" * 500]
    assert fit.split("\n\n".join(paragraphs)) == ["а" * 3000, "б" * 3000 + "\n\n" + "в" * 500]


def test_a_paragraph_longer_than_a_message_is_cut_between_words() -> None:
    words = " ".join(["слово"] * 1000)  # 5999 characters
    parts = fit.split(words)
    # As many whole words as fit: 682 of 5 characters and 681 spaces.
    assert [len(p) for p in parts] == [682 * 6 - 1, 318 * 6 - 1]
    assert " ".join(parts) == words


@given(st.text(alphabet=st.sampled_from("аб \n"), max_size=12000))
def test_no_part_is_over_the_limit_and_no_word_is_lost(text: str) -> None:
    assume(text.strip())  # a notice always says something
    parts = fit.split(text)
    assert all(0 < len(p) <= fit.MESSAGE_LIMIT for p in parts)
    assert "".join(text.split()) == "".join("".join(parts).split())


def _update(kind: str, chat_type: str = "private", **content: object) -> Update:
    chat = {"id": 42, "type": chat_type}
    message = {"message_id": 7, "date": 0, "chat": chat, "from": {"id": 42, "is_bot": False,
               "first_name": "Анна"}, **content}  # fmt: skip
    return Update.de_json({"update_id": 1, kind: message}, None)


def test_what_the_bot_files_nothing_of() -> None:
    """A group's messages, and edits with nothing to read (a live location every few
    seconds), move only the offset; a private message or an edited text is filed."""
    assert ignored(_update("message", "group", text="всем привет"))
    assert ignored(_update("edited_message", location={"latitude": 55.7, "longitude": 37.6}))
    assert not ignored(_update("message", text="Паспорт"))
    assert not ignored(_update("edited_message", text="Паспорт готов?"))
    assert not ignored(_update("message", location={"latitude": 55.7, "longitude": 37.6}))
