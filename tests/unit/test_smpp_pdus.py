"""The SMPP codec against smpplib, an independent implementation, and against broken bodies."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
import smpplib.command  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from channels.sms import pdus
from channels.sms.pdus import Address, CommandId, Concat, DecodeError, Status, SubmitSm

ADDR = st.text(alphabet="0123456789+ABCDEFabcdef", max_size=20)
OCTET = st.integers(min_value=0, max_value=255)


def smpplib_parse(name: str, data: bytes) -> smpplib.command.Command:
    pdu = smpplib.command.factory(name, sequence=1, allow_unknown_opt_params=True)
    pdu.parse(data)
    return pdu


def test_our_bind_is_byte_for_byte_smpplib_s() -> None:
    ours = pdus.encode(
        CommandId.BIND_TRANSCEIVER,
        1,
        pdus.bind_body("omni", "secret", "VMA", Address("^7916", 1, 1)),
    )
    theirs = smpplib.command.factory(
        "bind_transceiver",
        sequence=1,
        system_id="omni",
        password="secret",
        system_type="VMA",
        interface_version=0x34,
        addr_ton=1,
        addr_npi=1,
        address_range="^7916",
    )
    theirs.sequence = 1  # smpplib's keyword only spares its client's counter; this sets it
    assert ours == theirs.generate()


@given(
    source=ADDR,
    destination=ADDR,
    ton=OCTET,
    npi=OCTET,
    text=st.binary(max_size=254),
    data_coding=OCTET,
    esm_class=OCTET,
    registered=OCTET,
    sar=st.none() | st.builds(Concat, st.integers(0, 0xFFFF), OCTET, OCTET),
)
def test_smpplib_reads_our_submit_sm(
    source: str,
    destination: str,
    ton: int,
    npi: int,
    text: bytes,
    data_coding: int,
    esm_class: int,
    registered: int,
    sar: Concat | None,
) -> None:
    sm = SubmitSm(
        Address(source, ton, npi),
        Address(destination, 1, 1),
        text,
        data_coding=data_coding,
        esm_class=esm_class,
        registered_delivery=registered,
        sar=sar,
    )
    parsed = smpplib_parse(
        "submit_sm", pdus.encode(CommandId.SUBMIT_SM, 1, pdus.submit_sm_body(sm))
    )
    assert (parsed.source_addr_ton, parsed.source_addr_npi) == (ton, npi)
    assert parsed.source_addr == source.encode()
    assert parsed.destination_addr == destination.encode()
    assert (parsed.short_message or b"") == text  # smpplib leaves an empty one None
    assert (parsed.data_coding, parsed.esm_class, parsed.registered_delivery) == (
        data_coding,
        esm_class,
        registered,
    )
    if sar is not None:
        assert (parsed.sar_msg_ref_num, parsed.sar_total_segments, parsed.sar_segment_seqnum) == (
            sar.reference,
            sar.total,
            sar.seq,
        )


def test_smpplib_reads_our_message_payload() -> None:
    sm = SubmitSm(Address("1234"), Address("79161234567", 1, 1), message_payload=b"x" * 1000)
    parsed = smpplib_parse(
        "submit_sm", pdus.encode(CommandId.SUBMIT_SM, 1, pdus.submit_sm_body(sm))
    )
    assert parsed.message_payload == b"x" * 1000
    assert parsed.sm_length == 0


@given(
    source=ADDR,
    text=st.binary(max_size=254),
    esm_class=OCTET,
    data_coding=OCTET,
    receipted=st.none() | st.text(alphabet="0123456789abcdef", min_size=1, max_size=64),
    state=st.none() | st.integers(1, 8),
)
def test_we_read_smpplib_s_deliver_sm(
    source: str,
    text: bytes,
    esm_class: int,
    data_coding: int,
    receipted: str | None,
    state: int | None,
) -> None:
    fields: dict[str, object] = {
        "source_addr_ton": 1,
        "source_addr_npi": 1,
        "source_addr": source,
        "destination_addr": "1234",
        "short_message": text,
        "esm_class": esm_class,
        "data_coding": data_coding,
    }
    if receipted is not None:
        fields["receipted_message_id"] = receipted
    if state is not None:
        fields["message_state"] = state
    pdu = smpplib.command.factory("deliver_sm", sequence=9, **fields)
    pdu.sequence = 9
    data = pdu.generate()
    header = pdus.parse_header(data)
    assert (header.length, header.command_id, header.sequence) == (len(data), 5, 9)
    sm = pdus.decode_deliver_sm(data[16:])
    assert sm.source == Address(source, 1, 1)
    assert sm.destination.addr == "1234"
    assert sm.short_message == text
    assert (sm.esm_class, sm.data_coding) == (esm_class, data_coding)
    assert sm.tlvs.receipted_message_id == receipted
    assert sm.tlvs.message_state == state


def test_a_deliver_sm_cut_anywhere_is_a_decode_error_never_garbage() -> None:
    tlvs = struct.pack(">HH", pdus.Tag.MESSAGE_PAYLOAD, 3) + b"abc"
    body = b"\0\x01\x0179161234567\0\x00\x001234\0\x00\x00\x00\0\0\x01\x00\x00\x00\x02hi" + tlvs
    assert pdus.decode_deliver_sm(body).payload == b"abc"
    for end in range(len(body)):
        if end == len(body) - len(tlvs):
            continue  # the mandatory part alone is a whole deliver_sm
        with pytest.raises(DecodeError):
            pdus.decode_deliver_sm(body[:end])


@pytest.mark.parametrize(
    "body",
    [b"0A1B2C\0", b"\0", b"", b"no-nul", b"id\0\0", b"id\0" + struct.pack(">HH", 0x1400, 1) + b"x"],
)
def test_a_message_id_is_read_as_the_general_reader_reads_it(body: bytes) -> None:
    try:
        expected: str | DecodeError = pdus.decode_id_and_tlvs(body, "message_id")[0]
    except DecodeError as error:
        expected = error
    if isinstance(expected, str):
        assert pdus.decode_message_id(body) == expected
    else:
        with pytest.raises(DecodeError) as refused:
            pdus.decode_message_id(body)
        assert (refused.value.status, refused.value.reason) == (expected.status, expected.reason)


@pytest.mark.parametrize(
    ("sm", "message"),
    [
        (SubmitSm(Address("1" * 21), Address("2")), "source_addr is 21 characters"),
        (SubmitSm(Address("1"), Address("Привет")), "ASCII"),
        (SubmitSm(Address("1"), Address("2"), b"x", message_payload=b"y"), "both"),
        (SubmitSm(Address("1", 256), Address("2")), "source_ton"),
        (SubmitSm(Address("1"), Address("2", 1, -1)), "dest_npi is one octet, 0-255: -1"),
        (SubmitSm(Address("1"), Address("2"), data_coding=0x108), "data_coding is one octet"),
        (SubmitSm(Address("1"), Address("2"), priority_flag=300), "priority_flag is one octet"),
        (SubmitSm(Address("1"), Address("2"), validity_period="000001"), "16 characters"),
        (SubmitSm(Address("1"), Address("2"), message_payload=b"y" * 65536), "65535"),
    ],
)
def test_fields_smpp_cannot_carry_are_refused(sm: SubmitSm, message: str) -> None:
    with pytest.raises(pdus.PduError, match=message):
        pdus.submit_sm_body(sm)


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (lambda: pdus.bind_body("omni", "TopSecret-42", "", Address("")), "TopSecret-42"),
        (lambda: pdus.bind_body("omni", "пароль", "", Address("")), "пароль"),
        (lambda: pdus.submit_sm_body(SubmitSm(Address("0911"), Address("7" * 30))), "7" * 30),
    ],
    ids=["password-too-long", "password-not-ascii", "phone-too-long"],
)
def test_a_refused_field_is_named_and_its_value_never_shown(
    body: Callable[[], bytes], secret: str
) -> None:
    # The error reaches the log and `omnirouter status` (the account's last_error).
    with pytest.raises(pdus.PduError) as refused:
        body()
    assert secret not in str(refused.value)
    assert str(refused.value).split()[0] in ("password", "dest_addr")


def test_status_names() -> None:
    assert pdus.status_name(Status.ESME_RTHROTTLED) == "ESME_RTHROTTLED"
    assert pdus.status_name(0x58) == "ESME_RTHROTTLED"
    assert pdus.status_name(0x400) == "0x00000400"


def test_every_request_but_outbind_and_alert_has_a_response() -> None:
    assert CommandId.OUTBIND not in pdus.RESPONSE_TO
    assert pdus.RESPONSE_TO[CommandId.DELIVER_SM] is CommandId.DELIVER_SM_RESP
    assert pdus.RESPONSE_TO[CommandId.DATA_SM] is CommandId.DATA_SM_RESP
    assert all(response.is_response for response in pdus.RESPONSE_TO.values())
