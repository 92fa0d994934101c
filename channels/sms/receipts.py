"""Delivery receipts read from a deliver_sm or data_sm, and message ids made comparable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal, NamedTuple

from channels.sms.encoding import DefaultAlphabet, MalformedShortMessage, decode_text
from channels.sms.pdus import ShortMessage


class MessageState(IntEnum):
    """§5.2.28: the message_state values."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


# Appendix B: the 7-letter stat words of the text receipt, as §5.2.28 names them.
_STAT: Final[dict[str, MessageState]] = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
}

# Appendix B: "id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
# stat:DDDDDDD err:E text: ...". The format is "SMSC vendor specific"; SMSCs differ in case
# ("Text:"), in padding, and in leaving fields out, so each key is found on its own.
_KEY = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err|text):")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt says about one submitted message; the raw stat word kept for the log."""

    message_id: str
    state: MessageState | None
    stat: str | None = None
    error: str | None = None
    # The id came in receipted_message_id, which §5.3.2.12 writes as the submit_sm_resp wrote
    # it; one read from the text is in the receipt's own radix (message_id_radix).
    id_in_tlv: bool = False


def text_fields(text: str) -> dict[str, str]:
    """The key:value pairs of an Appendix B receipt text; "text" takes the rest of the line."""
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = match.group(1).lower()
        if key in fields:
            continue  # "id:" inside the quoted text is the message's, not the receipt's
        if key == "text":
            fields[key] = text[match.end() :]
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields[key] = text[match.end() : end].strip()
    return fields


def receipt_text(sm: ShortMessage, default_alphabet: DefaultAlphabet) -> str:
    """The text of a receipt, read in its data_coding (an SMSC may write it in UCS2)."""
    try:
        return decode_text(sm.data_coding, sm.payload, default_alphabet=default_alphabet)
    except MalformedShortMessage:
        # A data_coding of octets: the Appendix B keys and ids are ASCII, which Latin-1 reads
        # and it never fails on the rest.
        return sm.payload.decode("latin-1")


def parse_receipt(sm: ShortMessage, default_alphabet: DefaultAlphabet) -> Receipt | None:
    """The receipt `sm` carries: the TLVs first (§5.3.2.12, §5.3.2.35), else the Appendix B text.

    None when `sm` is not a receipt (§5.2.12 esm_class) or names no message id.
    """
    if not sm.is_receipt:
        return None
    fields = text_fields(receipt_text(sm, default_alphabet))
    tlv_id, tlv_state = sm.tlvs.receipted_message_id, sm.tlvs.message_state
    message_id = tlv_id or fields.get("id")
    if not message_id:
        return None
    stat = fields.get("stat")
    state = _state(tlv_state) or (_STAT.get(stat.upper()) if stat else None)
    error = fields.get("err")
    if error is None and sm.tlvs.network_error_code is not None:
        error = sm.tlvs.network_error_code.hex()  # §5.3.2.31: network type, then its code
    return Receipt(
        message_id=message_id,
        state=state,
        stat=stat,
        error=error,
        id_in_tlv=bool(tlv_id),  # an empty TLV names nothing: the text's id counts
    )


def _state(value: int | None) -> MessageState | None:
    try:
        return None if value is None else MessageState(value)
    except ValueError:
        return None  # a value §5.2.28 does not define: the text may still say


# How an SMSC writes its message ids in the submit_sm_resp and in the receipt: the same way
# (compared as written, case and leading zeros aside), or one in hex and the other in decimal,
# as Kannel's msg-id-type names them. Ids are opaque strings to SMPP 3.4 (5.2.23), so no radix
# is ever guessed: "0000001A" and "00000026" are two messages, not hex and decimal of one.
MessageIdRadix = Literal["same", "hex-answer-decimal-receipt", "decimal-answer-hex-receipt"]
IdRadix = Literal["text", "decimal", "hex"]


class Radices(NamedTuple):
    """The radix of the submit_sm_resp's message id and of the receipt's."""

    answer: IdRadix
    receipt: IdRadix


RADICES: Final[dict[MessageIdRadix, Radices]] = {
    "same": Radices("text", "text"),
    "hex-answer-decimal-receipt": Radices("hex", "decimal"),
    "decimal-answer-hex-receipt": Radices("decimal", "hex"),
}
# A radix's numerals (int() would take a sign, "_" and "0x" too) and its base.
_NUMERALS: Final[dict[IdRadix, tuple[re.Pattern[str], int]]] = {
    "decimal": (re.compile(r"[0-9]+"), 10),
    "hex": (re.compile(r"[0-9a-fA-F]+"), 16),
}


def normalise_message_id(raw: str, radix: IdRadix) -> str:
    """One spelling of a message id, so a submit_sm_resp's and a receipt's compare equal.

    "text" is the id as written, case-blind and without leading zeros; "decimal" and "hex" are
    its number's decimal value, so the two spellings of one id meet. An id that is no number in
    its radix is compared as text, which is never all digits then: it meets no number.
    """
    value = raw.strip().strip("\0")
    if radix != "text":
        numerals, base = _NUMERALS[radix]
        if numerals.fullmatch(value):
            return str(int(value, base))
    return (value.lstrip("0") or value[:1]).casefold()
