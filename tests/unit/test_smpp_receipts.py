"""Delivery receipts from TLVs and from Appendix B text, and message ids made comparable."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms import pdus
from channels.sms.encoding import DefaultAlphabet
from channels.sms.pdus import Address, CommandId, ShortMessage, Tlvs
from channels.sms.receipts import (
    RADICES,
    MessageIdRadix,
    MessageState,
    normalise_message_id,
    parse_receipt,
    text_fields,
)


def receipt_sm(
    text: bytes, *, esm_class: int = 0x04, data_coding: int = 0, tlvs: bytes = b""
) -> ShortMessage:
    body = (
        b"\0\x01\x0179161234567\0\x00\x001234\0"
        + bytes((esm_class, 0, 0))
        + bytes((0, 0, 0, 0, data_coding, 0))
        + bytes((len(text),))
        + text
        + tlvs
    )
    return pdus.decode_deliver_sm(body)


def test_the_appendix_b_text() -> None:
    sm = receipt_sm(
        b"id:0123456789 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
        b"stat:DELIVRD err:000 text:id:99 hello"
    )
    receipt = parse_receipt(sm, "gsm7")
    assert receipt is not None
    assert receipt.message_id == "0123456789"
    assert receipt.state is MessageState.DELIVERED
    assert (receipt.stat, receipt.error, receipt.id_in_tlv) == ("DELIVRD", "000", False)
    assert text_fields(sm.payload.decode())["text"] == "id:99 hello"


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("UNDELIV", MessageState.UNDELIVERABLE),
        ("expired", MessageState.EXPIRED),
        ("REJECTD", MessageState.REJECTED),
        ("ACCEPTD", MessageState.ACCEPTED),
        ("ENROUTE", MessageState.ENROUTE),
        ("WHATEVER", None),
    ],
)
def test_stat_words(stat: str, state: MessageState | None) -> None:
    receipt = parse_receipt(receipt_sm(f"id:7 Stat:{stat} Err:075 Text:".encode()), "gsm7")
    assert receipt is not None
    assert (receipt.state, receipt.error) == (state, "075")


def test_the_tlvs_come_first() -> None:
    tlvs = (
        struct.pack(">HH", pdus.Tag.RECEIPTED_MESSAGE_ID, 4)
        + b"a1f\0"
        + struct.pack(">HHB", pdus.Tag.MESSAGE_STATE, 1, 2)
        + struct.pack(">HH", pdus.Tag.NETWORK_ERROR_CODE, 3)
        + b"\x03\x00\x00"
    )
    receipt = parse_receipt(receipt_sm(b"id:zzz stat:UNDELIV", tlvs=tlvs), "gsm7")
    assert receipt is not None
    assert (receipt.message_id, receipt.state, receipt.id_in_tlv) == (
        "a1f",
        MessageState.DELIVERED,
        True,
    )


def test_a_receipt_id_tlv_without_its_nul_and_without_a_state() -> None:
    tlvs = struct.pack(">HH", pdus.Tag.RECEIPTED_MESSAGE_ID, 3) + b"a1f"
    tlvs += struct.pack(">HH", pdus.Tag.NETWORK_ERROR_CODE, 3) + b"\x03\x00\x01"
    receipt = parse_receipt(receipt_sm(b"", tlvs=tlvs), "gsm7")
    assert receipt is not None
    assert (receipt.message_id, receipt.state, receipt.error) == ("a1f", None, "030001")


def test_data_sm_receipt_in_message_payload() -> None:
    sm = ShortMessage(
        command=CommandId.DATA_SM,
        service_type="",
        source=Address("7916"),
        destination=Address("1234"),
        esm_class=0x04,
        registered_delivery=0,
        data_coding=0,
        tlvs=Tlvs(message_payload=b"id:55 stat:DELIVRD err:000"),
    )
    receipt = parse_receipt(sm, "gsm7")
    assert receipt is not None
    assert (receipt.message_id, receipt.state) == ("55", MessageState.DELIVERED)


def test_not_a_receipt_or_no_id() -> None:
    assert parse_receipt(receipt_sm(b"id:1 stat:DELIVRD", esm_class=0), "gsm7") is None
    assert parse_receipt(receipt_sm(b"stat:DELIVRD"), "gsm7") is None
    # A vendor's own words, no Appendix B key in them.
    assert parse_receipt(receipt_sm(b"Message 0A1B2C delivered"), "gsm7") is None


@pytest.mark.parametrize("alphabet", ["gsm7", "latin1"])
def test_a_receipt_text_is_read_in_its_data_coding(alphabet: DefaultAlphabet) -> None:
    text = "id:0A1B2C sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:UNDELIV"
    receipt = parse_receipt(receipt_sm(text.encode("utf-16-be"), data_coding=8), alphabet)
    assert receipt is not None
    assert (receipt.message_id, receipt.state) == ("0A1B2C", MessageState.UNDELIVERABLE)


def test_a_receipt_in_octets_is_read_as_latin_1() -> None:
    receipt = parse_receipt(receipt_sm(b"id:7f stat:DELIVRD err:000", data_coding=4), "gsm7")
    assert receipt is not None
    assert (receipt.message_id, receipt.state) == ("7f", MessageState.DELIVERED)


@pytest.mark.parametrize(
    ("submitted", "receipted", "pairing"),
    [
        ("0A1B2C", "a1b2c", "same"),
        ("000123", "123", "same"),
        ("AbC-Def", "abc-def", "same"),
        ("0000", "0", "same"),
        ("00000010", "16", "hex-answer-decimal-receipt"),
        ("0A", "0010", "hex-answer-decimal-receipt"),
        ("4660", "00001234", "decimal-answer-hex-receipt"),
        ("26", "1a", "decimal-answer-hex-receipt"),
    ],
)
def test_ids_of_one_message_compare_equal(
    submitted: str, receipted: str, pairing: MessageIdRadix
) -> None:
    answer, receipt = RADICES[pairing]
    assert normalise_message_id(submitted, answer) == normalise_message_id(receipted, receipt)


@pytest.mark.parametrize(
    ("first", "second", "pairing"),
    [
        # An SMSC that writes hex everywhere: 0x1A and 0x26 are two messages, whichever base
        # either would read in (a guess took "00000026" for decimal 26, as "0000001A" is).
        ("0000001A", "00000026", "same"),
        ("0012", "12a", "same"),
        ("abc-1", "abc-01", "same"),
        ("10", "16", "same"),
        ("", "0", "same"),
        ("10", "10", "hex-answer-decimal-receipt"),  # hex 10 is receipt 16, not receipt 10
        ("1A", "1a", "decimal-answer-hex-receipt"),  # no decimal number: it meets none
    ],
)
def test_ids_of_different_messages_stay_different(
    first: str, second: str, pairing: MessageIdRadix
) -> None:
    answer, receipt = RADICES[pairing]
    assert normalise_message_id(first, answer) != normalise_message_id(second, receipt)
    if answer == receipt:
        assert normalise_message_id(second, answer) != normalise_message_id(first, receipt)


@given(st.integers(min_value=0, max_value=2**64), st.integers(0, 5))
def test_a_number_is_the_same_id_in_any_base_case_or_padding(number: int, zeros: int) -> None:
    decimal = "0" * zeros + str(number)
    upper, lower = "0" * zeros + f"{number:X}", f"{number:x}"
    assert normalise_message_id(decimal, "decimal") == str(number)
    assert normalise_message_id(upper, "hex") == normalise_message_id(lower, "hex") == str(number)
    assert normalise_message_id(upper, "text") == normalise_message_id(lower, "text")
    assert normalise_message_id(decimal, "text") == str(number)


def test_an_empty_receipted_message_id_leaves_the_texts_id() -> None:
    """An SMSC that sends the TLV empty names the message in the text, in the receipt's radix."""
    tlvs = struct.pack(">HH", pdus.Tag.RECEIPTED_MESSAGE_ID, 1) + b"\0"
    receipt = parse_receipt(receipt_sm(b"id:16 stat:DELIVRD err:000", tlvs=tlvs), "gsm7")
    assert receipt is not None
    assert (receipt.message_id, receipt.id_in_tlv) == ("16", False)
