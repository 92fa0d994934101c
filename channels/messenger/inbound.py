"""A Bot API update as the journal keeps it (its JSON, CONTRACTS.md `raw`), its journal key, and
the parser that reads it into a RawInbound after the commit."""

from __future__ import annotations

import json
import re

from telegram import Message, Update, User

from channels.contract import RawInbound, Received, Sender, Unparseable
from channels.phones import canonical_phone

CONTENT_TYPE = "application/vnd.telegram.update+json"
# Metadata the adapter writes beside the update: the attachment ids of its files (stored and
# scanned before the commit), the topic the citizen chose with a button before writing.
ATTACHMENTS, TOPIC = "attachments", "topic"
# The flags the adapter found taking the message's files: `oversize` (a file over the download
# or channel limit), `incomplete` (a file Telegram would not hand over), comma-separated.
FLAGS = "flags"
# What a message that is none of the kinds the support bot takes (a sticker, a location, a
# poll) reads as: the channel's command row answering it with an explanation.
UNSUPPORTED = "/unsupported"
# What a deep link's /start reads as. t.me/BOT?start=PAYLOAD opens the chat and the app sends
# "/start PAYLOAD", the payload 1-64 of A-Z a-z 0-9 _ - (core.telegram.org/api/links#bot-links):
# the citizen pressed Start, as with a bare "/start", and wrote nothing of their own.
START = "/start"
_START = re.compile(r"\s*/start(?:@\w+)?(?: [A-Za-z0-9_-]{1,64})?\s*")
# What the citizen's own contact, shared with the bot's button, reads as: a status query, whose
# answer shows that their requests from SMS and the portal are theirs here too (the contact
# links their phone first); it opens no ticket of its own.
SHARED_PHONE = "/status"


def message_id(chat_id: int, message: int) -> str:
    """A message's id on the channel: Telegram numbers messages per chat (docs/channels.md 3)."""
    return f"{chat_id}:{message}"


def key(update: Update) -> str | None:
    """The journal key of an update the router files, or None for one it does not (a chat
    member change). A message and its edits share one key: an edit is a revision of it; a
    redelivered update is the same key with the same content."""
    message = update.message or update.edited_message
    if message is not None:
        return message_id(message.chat.id, message.message_id)
    if update.callback_query is not None and update.callback_query.data is not None:
        return f"callback:{update.callback_query.id}"
    return None


def kept(update: Update) -> bytes:
    """An update as the journal keeps it: its JSON, as PTB read it (unknown fields included)."""
    return update.to_json().encode()


def is_start(text: str | None) -> bool:
    """Whether a message's text is /start: typed, or sent by the app for a deep link."""
    return text is not None and _START.fullmatch(text) is not None


def sender_of(user: User) -> Sender:
    """A Telegram user as the envelope's sender: the Bot API vouches for the user id."""
    return Sender("telegram", str(user.id), display_name=user.full_name, verified=True)


def parse(received: Received) -> RawInbound:
    """The journal's update as the message the citizen wrote (or the button they pressed)."""
    try:
        update = Update.de_json(json.loads(received.payload), None)
    except (ValueError, TypeError, KeyError) as exc:
        raise Unparseable("the kept update is not the JSON of a Bot API Update") from exc
    query = update.callback_query
    if query is not None and query.data is not None:
        # A button under a notice sends its data back as the citizen's message ("/status N").
        return _inbound(received, query.from_user, query.data, f"callback:{query.id}")
    message = update.message or update.edited_message
    if message is None or message.from_user is None:
        raise Unparseable("the update is neither a message from a user nor a button press")
    return _message(received, message, message.from_user)


def _message(received: Received, message: Message, user: User) -> RawInbound:
    chat = message.chat.id
    text = message.text or message.caption or ""
    if is_start(message.text):
        text = START  # a deep link's payload says where the link was, not what the citizen asks
    links: list[Sender] = []
    declared: list[Sender] = []
    if message.contact is not None:
        # The Bot API gives the number in international form, often without its "+".
        phone = canonical_phone(message.contact.phone_number, None)
        if phone is not None:
            # A user's own contact (request_contact) is their phone as Telegram verified it;
            # anyone else's is only what they say.
            own = message.contact.user_id == user.id
            (links if own else declared).append(Sender("phone", phone, verified=own))
            text = text or (SHARED_PHONE if own else "")
    attachments = _listed(received, ATTACHMENTS)
    flags = _listed(received, FLAGS)
    if not text and message.contact is None and not attachments and not flags:
        text = UNSUPPORTED
    reply = message.reply_to_message
    return _inbound(
        received,
        user,
        text,
        message_id(chat, message.message_id),
        in_reply_to=None if reply is None else message_id(chat, reply.message_id),
        referable=True,
        verified_links=links,
        declared=declared,
        attachment_ids=attachments,
        flags=flags,
    )


def _listed(received: Received, key: str) -> list[str]:
    """A comma-separated list of the adapter's metadata."""
    return [item for item in received.metadata.get(key, "").split(",") if item]


def _inbound(
    received: Received,
    user: User,
    text: str,
    channel_message_id: str,
    *,
    in_reply_to: str | None = None,
    referable: bool = False,
    verified_links: list[Sender] | None = None,
    declared: list[Sender] | None = None,
    attachment_ids: list[str] | None = None,
    flags: list[str] | None = None,
) -> RawInbound:
    return RawInbound(
        channel="messenger",
        account=received.account,
        idempotency_key=received.idempotency_key,
        channel_message_id=channel_message_id,
        sender=sender_of(user),
        text=text,
        received_at=received.received_at,
        topic=received.metadata.get(TOPIC),
        # A topic picked with the button is the start of a new question, whatever the chat's
        # current ticket.
        new_request=TOPIC in received.metadata,
        in_reply_to=in_reply_to,
        referable=referable,
        language_hint=user.language_code,
        verified_links=verified_links or [],
        declared=declared or [],
        attachment_ids=attachment_ids or [],
        flags=flags or [],
    )
