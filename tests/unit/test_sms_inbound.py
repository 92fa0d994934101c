"""An SMS as the journal keeps it and as the parser reads it back: one PDU, a long message's
parts in any order, a long message filed without some parts, and what cannot be read."""

from __future__ import annotations

import msgspec
import pytest

from channels.contract import Received, Sender, Unparseable
from channels.sms import inbound, pdus
from channels.sms.encoding import GAP, UDHI, split
from channels.sms.pdus import Address, SubmitSm

CITIZEN = "79161234567"


def received(payload: bytes) -> Received:
    """What the adapter commits for `payload`."""
    return Received(
        channel="sms",
        account="short",
        idempotency_key=inbound.key(payload),
        received_at="2026-12-03T10:00:00.000Z",
        content_type=inbound.CONTENT_TYPE,
        payload=payload,
    )


def pdus_of(
    text: str, *, sar: bool = False, source: str = CITIZEN, ton: int = 1, npi: int = 1
) -> list[inbound.Pdu]:
    """The PDUs a handset sending `text` delivers."""
    parts = split(text, max_parts=255, reference=5, use_sar=sar)
    return [
        inbound.Pdu(
            source=source,
            source_ton=ton,
            source_npi=npi,
            destination="0911",
            esm_class=parts.esm_class,
            data_coding=parts.data_coding,
            short_message=part.short_message.hex(),
            sar=parts.sar(part),
        )
        for part in parts.parts
    ]


def parse(pdus: list[inbound.Pdu]) -> tuple[str, list[str]]:
    """The text and flags the parser reads from these kept PDUs."""
    message = inbound.parse(received(inbound.kept(pdus, "gsm7")))
    return message.text, message.flags


def test_one_pdu_is_the_message_from_a_verified_number() -> None:
    message = inbound.parse(received(inbound.kept(pdus_of("Нужна справка"), "gsm7")))
    assert message.text == "Нужна справка" and message.flags == []
    assert (message.sender.kind, message.sender.address) == ("phone", "+" + CITIZEN)
    assert message.sender.verified


def test_a_text_carried_in_message_payload_is_the_message() -> None:
    """SMPP 3.4 5.3.2.32: an SMSC may deliver the whole text in message_payload, with an empty
    short_message (over 140 octets here: one PDU, no parts)."""
    text = "Прошу разъяснить порядок получения справки о доходах за 2025 год. " * 2
    # A deliver_sm's body is laid out as a submit_sm's (SMPP 3.4 4.4.1 and 4.6.1).
    body = pdus.submit_sm_body(
        SubmitSm(
            Address(CITIZEN, 1, 1),
            Address("0911"),
            data_coding=8,
            message_payload=text.encode("utf-16-be"),
        )
    )
    pdu = inbound.pdu_of(pdus.decode_deliver_sm(body))
    message = inbound.parse(received(inbound.kept([pdu], "gsm7")))
    assert message.text == text and message.flags == []


def test_a_national_number_is_read_in_the_home_region() -> None:
    message = inbound.parse(
        received(inbound.kept(pdus_of("hi", source="89161234567", ton=2), "gsm7"))
    )
    assert message.sender.address == "+79161234567"


@pytest.mark.parametrize(
    ("source", "ton", "npi", "phone"),
    [
        ("79161234567", 1, 1, "+79161234567"),
        ("9161234567", 4, 1, "+79161234567"),  # a subscriber number, the home network's
        ("89161234567", 0, 0, "+79161234567"),  # unknown type: the home network's first
        ("380501234567", 0, 1, "+380501234567"),  # else international, its country code first
        ("380501234567", 2, 1, None),  # national: only the home network's
        ("79161234567", 5, 0, None),  # alphanumeric: a sender named in digits is no phone
        ("0911", 6, 1, None),  # abbreviated: a short number
        ("79161234567", 3, 1, None),  # network specific
        ("79161234567", 1, 9, None),  # a private numbering plan
    ],
)
def test_the_sender_is_a_phone_only_as_its_ton_and_npi_say(
    source: str, ton: int, npi: int, phone: str | None
) -> None:
    assert inbound.msisdn(source, ton, npi) == phone
    sms = received(inbound.kept(pdus_of("Нужна справка", source=source, ton=ton, npi=npi), "gsm7"))
    if phone is None:
        with pytest.raises(Unparseable, match=f"TON {ton}, NPI {npi}"):
            inbound.parse(sms)
    else:
        assert inbound.parse(sms).sender == Sender("phone", phone, verified=True)


@pytest.mark.parametrize("sar", [False, True])
def test_parts_are_kept_in_order_whatever_order_they_came(sar: bool) -> None:
    text = "Прошу пересчитать плату за отопление за ноябрь и декабрь. " * 3
    pdus = pdus_of(text, sar=sar)
    assert parse(pdus[::-1]) == (text, [])
    assert inbound.kept(pdus[::-1], "gsm7") == inbound.kept(pdus, "gsm7")


def test_a_long_message_without_some_parts_is_incomplete() -> None:
    first, _, third = pdus_of("a" * 153 + "b" * 153 + "c" * 10)
    assert parse([third, first]) == ("a" * 153 + GAP + "c" * 10, ["incomplete"])


def test_parts_of_two_messages_are_no_message() -> None:
    mine, theirs = pdus_of("a" * 200)[0], pdus_of("b" * 200, source="79260000000")[1]
    with pytest.raises(Unparseable, match="one long message"):
        parse([mine, theirs])


def test_a_udh_that_overruns_its_message_is_unparseable_not_lost() -> None:
    [pdu] = pdus_of("hi")
    broken = msgspec.structs.replace(pdu, esm_class=UDHI, short_message="0f0003")
    payload = inbound.kept([broken], "gsm7")  # kept as it came
    with pytest.raises(Unparseable):
        inbound.parse(received(payload))


def test_what_is_not_json_of_pdus_is_unparseable() -> None:
    with pytest.raises(Unparseable, match="not JSON"):
        inbound.parse(received(b"\x00garbage"))


def test_a_held_part_given_again_is_known() -> None:
    first, second = pdus_of("x" * 200)
    held = inbound.Held(since=0.0, pdus=[first])
    assert held.redelivered(first) and not held.redelivered(second)
    filed = inbound.Held(since=0.0, pdus=[first, second], filed=1.0)
    assert filed.redelivered(second)
    # A different part in the same place is a new message reusing the reference.
    other = pdus_of("y" * 200)[0]
    assert not filed.redelivered(other) and not filed.clashes(other, 1)
    assert held.clashes(other, 1) and not held.clashes(first, 1) and not held.clashes(second, 2)
    assert inbound.held(inbound.encode_held(filed)) == filed
