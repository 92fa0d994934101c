"""The SMPP session as a state machine over bytes: binds, window, liveness, bad input, fragments."""

from __future__ import annotations

import itertools
import struct
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms import pdus
from channels.sms.events import (
    Alert,
    BadPdu,
    BindFailed,
    BindKind,
    Bound,
    ConnectionClosed,
    GenericNack,
    Inbound,
    LinkAlive,
    OutbindReceived,
    RequestRefused,
    ResponseTimeout,
    StreamCorrupt,
    SubmitFailed,
    Submitted,
    Unbound,
    UnexpectedResponse,
)
from channels.sms.pdus import Address, CommandId, Status, SubmitSm
from channels.sms.protocol import (
    MAX_SEQUENCE,
    NEED_DATA,
    Connection,
    LocalProtocolError,
    Policy,
    State,
    WindowFull,
    classify,
)
from channels.sms.receipts import MessageState, parse_receipt

C = CommandId
SM = SubmitSm(Address("1234", 5, 0), Address("79161234567", 1, 1), b"hello")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def events(conn: Connection) -> list[object]:
    """Every event the connection has for the bytes fed so far."""
    out: list[object] = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def pdu_list(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(command_id, status, sequence, body) of every PDU in `data`."""
    out = []
    while data:
        length, command, status, seq = pdus.HEADER.unpack_from(data)
        out.append((command, status, seq, data[16:length]))
        data = data[length:]
    return out


def resp(command: CommandId, seq: int, status: int = 0, body: bytes = b"") -> bytes:
    return pdus.encode(command, seq, body, status)


def deliver_sm(
    seq: int,
    text: bytes = b"hi",
    *,
    esm_class: int = 0,
    data_coding: int = 0,
    tlvs: bytes = b"",
    source: bytes = b"79161234567",
) -> bytes:
    """A deliver_sm as an SMSC sends it (§4.6.1)."""
    body = (
        b"\0"
        + b"\x01\x01"
        + source
        + b"\0"
        + b"\x00\x00"
        + b"1234\0"
        + bytes((esm_class, 0, 0))
        + b"\0\0"
        + b"\0\0"
        + bytes((data_coding, 0, len(text)))
        + text
        + tlvs
    )
    return pdus.encode(C.DELIVER_SM, seq, body)


def bound(kind: BindKind = BindKind.TRANSCEIVER, **kwargs: object) -> Connection:
    """A connection the SMSC has bound as `kind`."""
    conn = Connection(**kwargs)  # type: ignore[arg-type]
    seq = conn.bind(kind, "omni", "secret")
    conn.data_to_send()
    conn.receive_data(resp(pdus.RESPONSE_TO[C(kind.value)], seq, body=b"SMSC\0"))
    assert events(conn) == [Bound(kind, "SMSC", None)]
    return conn


# --- binds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        (BindKind.TRANSMITTER, State.BOUND_TX),
        (BindKind.RECEIVER, State.BOUND_RX),
        (BindKind.TRANSCEIVER, State.BOUND_TRX),
    ],
)
def test_bind_sends_the_fields_and_binds(kind: BindKind, state: State) -> None:
    conn = Connection()
    seq = conn.bind(kind, "omni", "secret", system_type="VMA", address_range=Address("^7916", 1, 1))
    assert conn.state is State.BINDING
    [(command, status, sent_seq, body)] = pdu_list(conn.data_to_send())
    assert (command, status, sent_seq) == (kind.value, 0, seq)
    assert body == b"omni\0secret\0VMA\0\x34\x01\x01^7916\0"
    tlv = struct.pack(">HHB", pdus.Tag.SC_INTERFACE_VERSION, 1, 0x34)
    conn.receive_data(resp(pdus.RESPONSE_TO[C(kind.value)], seq, body=b"SMSC\0" + tlv))
    assert events(conn) == [Bound(kind, "SMSC", 0x34)]
    assert conn.state is state


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (Status.ESME_RBINDFAIL, "ESME_RBINDFAIL"),
        (Status.ESME_RINVPASWD, "ESME_RINVPASWD"),
        (Status.ESME_RINVSYSID, "ESME_RINVSYSID"),
        (0x401, "0x00000401"),
    ],
)
def test_a_refused_bind_is_bind_failed_and_may_be_retried(status: int, name: str) -> None:
    conn = Connection()
    seq = conn.bind(BindKind.TRANSCEIVER, "omni", "wrong")
    # §4.1.2: an error bind_resp may come without a body at all.
    conn.receive_data(resp(C.BIND_TRANSCEIVER_RESP, seq, status))
    assert events(conn) == [BindFailed(status, name)]
    assert conn.state is State.OPEN
    assert conn.bind(BindKind.TRANSCEIVER, "omni", "right") != seq


def test_a_generic_nack_to_a_bind_is_a_failed_bind() -> None:
    conn = Connection()
    seq = conn.bind(BindKind.TRANSMITTER, "omni", "secret")
    conn.receive_data(resp(C.GENERIC_NACK, seq, Status.ESME_RINVCMDID))
    assert events(conn) == [BindFailed(Status.ESME_RINVCMDID, "ESME_RINVCMDID")]
    assert conn.state is State.OPEN


def test_bind_fields_too_long_are_refused_not_truncated() -> None:
    conn = Connection()
    with pytest.raises(pdus.PduError, match="system_id"):
        conn.bind(BindKind.TRANSCEIVER, "a-system-id-too-long", "secret")
    assert conn.state is State.OPEN
    assert conn.data_to_send() == b""


def test_a_bind_that_times_out_ends_the_session() -> None:
    clock = Clock()
    conn = Connection(clock=clock)
    seq = conn.bind(BindKind.TRANSCEIVER, "omni", "secret")
    [outstanding] = conn.pending()
    assert (outstanding.seq, outstanding.command, outstanding.sent_at) == (
        seq,
        C.BIND_TRANSCEIVER,
        100.0,
    )
    assert conn.expire(seq) == ResponseTimeout(outstanding)
    assert conn.state is State.CLOSED


# --- commands not allowed in the state ------------------------------------------------------


@pytest.mark.parametrize(
    ("state_kind", "command"),
    [
        (None, "submit"),
        (None, "enquire_link"),
        (None, "unbind"),
        (BindKind.RECEIVER, "submit"),
        (BindKind.TRANSMITTER, "bind"),
    ],
)
def test_a_command_not_allowed_in_the_state_raises(
    state_kind: BindKind | None, command: str
) -> None:
    conn = Connection() if state_kind is None else bound(state_kind)
    calls = {
        "submit": lambda: conn.submit(SM),
        "enquire_link": conn.enquire_link,
        "unbind": conn.unbind,
        "bind": lambda: conn.bind(BindKind.TRANSCEIVER, "omni", "secret"),
    }
    before = conn.state
    with pytest.raises(LocalProtocolError, match=f"in state {before.name}"):
        calls[command]()
    assert conn.state is before
    assert conn.data_to_send() == b""


def test_no_second_bind_while_binding() -> None:
    conn = Connection()
    conn.bind(BindKind.TRANSCEIVER, "omni", "secret")
    with pytest.raises(LocalProtocolError, match="BINDING"):
        conn.bind(BindKind.TRANSCEIVER, "omni", "secret")


def test_deliver_resp_for_an_unknown_sequence_raises() -> None:
    conn = bound()
    with pytest.raises(LocalProtocolError, match="sequence 7"):
        conn.deliver_resp(7)


# --- submit, window, sequence numbers -------------------------------------------------------


def test_submit_sends_every_field_and_the_response_gives_the_message_id() -> None:
    conn = bound()
    sm = SubmitSm(
        Address("Omni", 5, 0),
        Address("79161234567", 1, 1),
        b"\x05\x00\x03\x2a\x02\x01part",
        data_coding=8,
        esm_class=pdus.ESM_UDHI,
        registered_delivery=pdus.REGISTERED_DELIVERY_RECEIPT,
        sar=pdus.Concat(0x1234, 2, 1),
    )
    seq = conn.submit(sm)
    [(command, _, sent_seq, body)] = pdu_list(conn.data_to_send())
    assert (command, sent_seq) == (C.SUBMIT_SM, seq)
    assert body.startswith(b"\0\x05\x00Omni\0\x01\x0179161234567\0\x40\x00\x00\0\0\x01\x00\x08\x00")
    assert struct.pack(">HHH", 0x020C, 2, 0x1234) in body
    conn.receive_data(resp(C.SUBMIT_SM_RESP, seq, body=b"0A1B2C\0"))
    assert events(conn) == [Submitted(seq, "0A1B2C")]
    assert conn.pending() == ()


@pytest.mark.parametrize(
    ("status", "policy"),
    [
        (Status.ESME_RTHROTTLED, Policy.BACK_OFF),
        (Status.ESME_RMSGQFUL, Policy.BACK_OFF),
        (Status.ESME_RSYSERR, Policy.RETRY),
        (Status.ESME_RINVDSTADR, Policy.PERMANENT),
        (Status.ESME_RSUBMITFAIL, Policy.PERMANENT),
        (0x450, Policy.PERMANENT),
    ],
)
def test_a_refused_submit_is_classified(status: int, policy: Policy) -> None:
    conn = bound()
    seq = conn.submit(SM)
    # §4.4.2: no body with an error status.
    conn.receive_data(resp(C.SUBMIT_SM_RESP, seq, status))
    [event] = events(conn)
    assert isinstance(event, SubmitFailed)
    assert (event.seq, event.status) == (seq, status)
    assert classify(event.status) is policy


def test_classify_refuses_success() -> None:
    with pytest.raises(ValueError, match="ESME_ROK"):
        classify(Status.ESME_ROK)


def test_the_window_bounds_outstanding_submits_and_a_response_frees_a_slot() -> None:
    conn = bound(window=3)
    seqs = [conn.submit(SM) for _ in range(3)]
    assert conn.window_free == 0
    with pytest.raises(WindowFull):
        conn.submit(SM)
    conn.enquire_link()  # not a submit: the window does not hold it back
    conn.receive_data(resp(C.SUBMIT_SM_RESP, seqs[1], Status.ESME_RTHROTTLED))
    events(conn)
    assert conn.window_free == 1
    conn.submit(SM)
    with pytest.raises(WindowFull):
        conn.submit(SM)


def test_a_body_encoded_beforehand_is_the_submit_of_its_message() -> None:
    conn = bound(window=1)
    seq = conn.submit_body(pdus.submit_sm_body(SM))
    sent = conn.data_to_send()
    assert conn.window_free == 0
    conn.receive_data(resp(C.SUBMIT_SM_RESP, seq, body=b"id\0"))
    assert events(conn) == [Submitted(seq, "id")]
    assert sent == pdus.encode(C.SUBMIT_SM, seq, pdus.submit_sm_body(SM))
    with pytest.raises(LocalProtocolError):
        Connection().submit_body(pdus.submit_sm_body(SM))


def test_a_burst_of_bodies_goes_in_order_and_the_window_takes_all_or_none() -> None:
    clock = Clock()
    conn = bound(window=5, clock=clock)
    conn._next_seq = 1  # the bind's number, answered
    held = conn.submit(SM)  # number 1, still awaited when the numbers wrap
    conn.data_to_send()
    conn._next_seq = MAX_SEQUENCE - 1  # a burst across the wrap is numbered on past 1
    texts = [f"n{n}".encode() for n in range(3)]
    bodies = [pdus.submit_sm_body(replace(SM, short_message=text)) for text in texts]
    seqs = conn.submit_bodies(bodies)
    assert seqs == [MAX_SEQUENCE - 1, MAX_SEQUENCE, 2]
    assert conn.data_to_send() == b"".join(
        pdus.encode(C.SUBMIT_SM, seq, body) for seq, body in zip(seqs, bodies, strict=True)
    )
    assert [(p.seq, p.sent_at) for p in conn.pending()] == [(held, 100.0)] + [
        (seq, 100.0) for seq in seqs
    ]
    with pytest.raises(WindowFull):  # two more than the one free slot: neither is numbered
        conn.submit_bodies(bodies[:2])
    assert conn.window_free == 1
    assert not conn.has_data_to_send
    assert conn.submit_bodies(bodies[:1]) == [3]


def test_pending_lists_requests_with_their_send_time_and_expire_frees_them() -> None:
    clock = Clock()
    conn = bound(window=2, clock=clock)
    first = conn.submit(SM)
    clock.now = 101.5
    second = conn.submit(SM)
    link = conn.enquire_link()
    assert [(p.seq, p.command, p.sent_at) for p in conn.pending()] == [
        (first, C.SUBMIT_SM, 100.0),
        (second, C.SUBMIT_SM, 101.5),
        (link, C.ENQUIRE_LINK, 101.5),
    ]
    timeout = conn.expire(first)
    assert timeout.request.seq == first
    assert conn.window_free == 1
    assert conn.state is State.BOUND_TRX
    # A late answer is reported, not taken for the expired request's outcome.
    conn.receive_data(resp(C.SUBMIT_SM_RESP, first, body=b"abc\0"))
    assert events(conn) == [UnexpectedResponse(first, C.SUBMIT_SM_RESP, 0)]
    with pytest.raises(LocalProtocolError):
        conn.expire(first)


def test_sequence_numbers_wrap_and_skip_numbers_still_outstanding() -> None:
    conn = bound(window=5)
    conn._next_seq = MAX_SEQUENCE - 1
    held = conn.submit(SM)
    assert held == MAX_SEQUENCE - 1
    assert conn.submit(SM) == MAX_SEQUENCE
    assert conn.submit(SM) == 1
    conn._next_seq = MAX_SEQUENCE - 1  # as if 2**31 requests later
    assert conn.submit(SM) == 2  # MAX-1, MAX and 1 are still awaited
    assert {p.seq for p in conn.pending()} == {MAX_SEQUENCE - 1, MAX_SEQUENCE, 1, 2}


def test_a_response_with_the_wrong_command_is_unexpected_and_the_request_stays() -> None:
    conn = bound()
    seq = conn.submit(SM)
    conn.receive_data(resp(C.ENQUIRE_LINK_RESP, seq))
    assert events(conn) == [UnexpectedResponse(seq, C.ENQUIRE_LINK_RESP, 0)]
    assert [p.seq for p in conn.pending()] == [seq]


def test_a_submit_too_long_is_refused_before_it_takes_a_number() -> None:
    conn = bound()
    with pytest.raises(pdus.PduError, match="254"):
        conn.submit(SubmitSm(SM.source, SM.destination, b"x" * 255))
    assert conn.pending() == ()
    assert conn.data_to_send() == b""


# --- liveness -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [None, *BindKind])
def test_the_smsc_enquire_link_is_answered_at_once(kind: BindKind | None) -> None:
    conn = Connection() if kind is None else bound(kind)
    conn.receive_data(pdus.encode(C.ENQUIRE_LINK, 77))
    assert events(conn) == []
    assert pdu_list(conn.data_to_send()) == [(C.ENQUIRE_LINK_RESP, 0, 77, b"")]


def test_our_enquire_link_and_its_answer() -> None:
    conn = bound(BindKind.RECEIVER)
    seq = conn.enquire_link()
    assert pdu_list(conn.data_to_send()) == [(C.ENQUIRE_LINK, 0, seq, b"")]
    conn.receive_data(resp(C.ENQUIRE_LINK_RESP, seq))
    assert events(conn) == [LinkAlive(seq)]
    assert conn.pending() == ()


def test_the_smsc_unbind_is_answered_and_ends_the_session() -> None:
    conn = bound()
    outstanding = conn.submit(SM)
    conn.data_to_send()
    conn.receive_data(pdus.encode(C.UNBIND, 9))
    assert events(conn) == [Unbound(by_peer=True)]
    assert pdu_list(conn.data_to_send()) == [(C.UNBIND_RESP, 0, 9, b"")]
    assert conn.state is State.CLOSED
    assert [p.seq for p in conn.pending()] == [outstanding]  # outcome unknown: the driver decides
    with pytest.raises(LocalProtocolError):
        conn.submit(SM)


def test_our_unbind_and_its_answer() -> None:
    conn = bound()
    seq = conn.unbind()
    assert conn.state is State.UNBINDING
    with pytest.raises(LocalProtocolError):
        conn.submit(SM)
    # A message that crossed our unbind is still taken and answered.
    conn.receive_data(deliver_sm(40) + resp(C.UNBIND_RESP, seq))
    first, second = events(conn)
    assert isinstance(first, Inbound)
    assert second == Unbound(by_peer=False)
    assert conn.state is State.CLOSED


def test_a_generic_nack_is_matched_to_its_request() -> None:
    conn = bound()
    seq = conn.submit(SM)
    conn.data_to_send()
    conn.receive_data(resp(C.GENERIC_NACK, seq, Status.ESME_RTHROTTLED))
    assert events(conn) == [GenericNack(seq, 0x58, "ESME_RTHROTTLED", C.SUBMIT_SM)]
    assert conn.window_free == 10
    conn.receive_data(resp(C.GENERIC_NACK, 0, Status.ESME_RINVCMDLEN))
    assert events(conn) == [UnexpectedResponse(0, C.GENERIC_NACK, Status.ESME_RINVCMDLEN)]
    assert conn.data_to_send() == b""  # a response is never answered


def test_outbind_is_an_event_and_leads_to_a_receiver_bind() -> None:
    conn = Connection()
    conn.receive_data(pdus.encode(C.OUTBIND, 3, b"SMSC\0pw\0"))
    assert events(conn) == [OutbindReceived("SMSC", "pw")]
    assert conn.data_to_send() == b""  # §4.1.7: outbind has no response
    conn.bind(BindKind.RECEIVER, "omni", "secret")
    assert conn.state is State.BINDING


def test_alert_notification_is_an_event_without_an_answer() -> None:
    conn = bound(BindKind.RECEIVER)
    conn.receive_data(pdus.encode(C.ALERT_NOTIFICATION, 5, b"\x01\x0179161234567\0\x00\x00x\0"))
    [event] = events(conn)
    assert isinstance(event, Alert)
    assert event.alert.source == Address("79161234567", 1, 1)
    assert conn.data_to_send() == b""


# --- the SMSC sending what its state does not allow -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "pdu", "answer", "status"),
    [
        (None, deliver_sm(5), C.DELIVER_SM_RESP, Status.ESME_RINVBNDSTS),
        (BindKind.TRANSMITTER, deliver_sm(5), C.DELIVER_SM_RESP, Status.ESME_RINVBNDSTS),
        (BindKind.TRANSCEIVER, pdus.encode(C.OUTBIND, 5, b"a\0b\0"), C.GENERIC_NACK, 4),
        (None, pdus.encode(C.UNBIND, 5), C.UNBIND_RESP, Status.ESME_RINVBNDSTS),
        (BindKind.TRANSCEIVER, pdus.encode(C.SUBMIT_SM, 5, b"x"), C.SUBMIT_SM_RESP, 3),
        (BindKind.TRANSCEIVER, pdus.encode(C.BIND_TRANSMITTER, 5), C.BIND_TRANSMITTER_RESP, 3),
    ],
)
def test_a_request_not_allowed_is_refused_per_smpp(
    kind: BindKind | None, pdu: bytes, answer: CommandId, status: int
) -> None:
    conn = Connection() if kind is None else bound(kind)
    before = conn.state
    conn.receive_data(pdu)
    [event] = events(conn)
    assert isinstance(event, RequestRefused)
    assert (event.seq, event.status) == (5, status)
    [(command, sent_status, seq, _)] = pdu_list(conn.data_to_send())
    assert (command, sent_status, seq) == (answer, status, 5)
    assert conn.state is before


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 15, pdus.MAX_PDU_LENGTH + 1, 0xFFFFFFFF])
def test_a_command_length_that_cannot_frame_is_nacked_and_ends_the_stream(length: int) -> None:
    conn = bound()
    conn.receive_data(struct.pack(">IIII", length, C.DELIVER_SM, 0, 42) + b"rest")
    [event] = events(conn)
    assert isinstance(event, StreamCorrupt)
    assert event.command_length == length
    assert pdu_list(conn.data_to_send()) == [(C.GENERIC_NACK, Status.ESME_RINVCMDLEN, 42, b"")]
    assert conn.state is State.ERROR
    conn.receive_data(pdus.encode(C.ENQUIRE_LINK, 1))
    assert events(conn) == []


def test_an_unknown_command_id_is_nacked_and_the_bind_kept() -> None:
    conn = bound()
    odd = struct.pack(">IIII", 20, 0x00000099, 0, 8) + b"abcd"
    conn.receive_data(odd + pdus.encode(C.ENQUIRE_LINK, 9))
    [event] = events(conn)
    assert event == BadPdu(8, 0x99, 3, "ESME_RINVCMDID", "unknown command_id", odd, False)
    assert pdu_list(conn.data_to_send()) == [
        (C.GENERIC_NACK, Status.ESME_RINVCMDID, 8, b""),
        (C.ENQUIRE_LINK_RESP, 0, 9, b""),
    ]
    assert conn.state is State.BOUND_TRX


def test_a_body_on_a_bodiless_request_is_nacked_and_the_bind_kept() -> None:
    conn = bound()
    conn.receive_data(pdus.encode(C.ENQUIRE_LINK, 4, b"junk"))
    [event] = events(conn)
    assert isinstance(event, BadPdu)
    assert pdu_list(conn.data_to_send()) == [(C.GENERIC_NACK, Status.ESME_RINVCMDLEN, 4, b"")]
    assert conn.state is State.BOUND_TRX


@pytest.mark.parametrize(
    ("cut", "status"),
    [
        # short_message shorter than its sm_length
        (pdus.encode(C.DELIVER_SM, 6, deliver_sm(6)[16:-1]), Status.ESME_RINVMSGLEN),
        (pdus.encode(C.DELIVER_SM, 6, b"\0\x01\x0179161"), Status.ESME_RINVMSGLEN),  # no NUL
        (deliver_sm(6, tlvs=b"\x04\x27\x00"), Status.ESME_RINVOPTPARSTREAM),
        (deliver_sm(6, tlvs=b"\x04\x27\x00\x02\x00\x02"), Status.ESME_RINVPARLEN),
    ],
)
def test_an_unreadable_deliver_sm_is_left_to_the_driver_to_file_and_answer(
    cut: bytes, status: int
) -> None:
    conn = bound()
    conn.receive_data(cut + pdus.encode(C.ENQUIRE_LINK, 7))
    [event] = events(conn)
    assert isinstance(event, BadPdu)
    assert (event.seq, event.status, event.raw, event.awaits_answer) == (6, status, cut, True)
    assert pdu_list(conn.data_to_send()) == [(C.ENQUIRE_LINK_RESP, 0, 7, b"")]
    conn.deliver_resp(6, event.status)
    assert pdu_list(conn.data_to_send()) == [(C.DELIVER_SM_RESP, status, 6, b"\0")]
    assert conn.state is State.BOUND_TRX


def test_an_unreadable_outbind_is_nacked() -> None:
    conn = Connection()
    conn.receive_data(pdus.encode(C.OUTBIND, 2, b"SMSC"))
    [event] = events(conn)
    assert isinstance(event, BadPdu)
    assert not event.awaits_answer
    assert pdu_list(conn.data_to_send()) == [(C.GENERIC_NACK, Status.ESME_RINVMSGLEN, 2, b"")]


def test_an_unreadable_submit_sm_resp_leaves_the_request_pending() -> None:
    conn = bound()
    seq = conn.submit(SM)
    conn.data_to_send()
    conn.receive_data(resp(C.SUBMIT_SM_RESP, seq, body=b"no-nul"))
    [event] = events(conn)
    assert isinstance(event, BadPdu)
    assert [p.seq for p in conn.pending()] == [seq]
    assert conn.data_to_send() == b""  # a response is never answered


def test_the_end_of_the_stream_reports_what_was_never_answered() -> None:
    conn = bound()
    seq = conn.submit(SM)
    conn.receive_data(deliver_sm(3)[:10])
    conn.receive_data(b"")
    [event] = events(conn)
    assert isinstance(event, ConnectionClosed)
    assert [p.seq for p in event.unanswered] == [seq]
    assert conn.state is State.CLOSED


# --- inbound --------------------------------------------------------------------------------


def test_deliver_sm_is_an_event_answered_only_by_the_driver() -> None:
    conn = bound(BindKind.RECEIVER)
    tlvs = (
        struct.pack(">HHH", 0x020C, 2, 0x0102)
        + struct.pack(">HHB", 0x020E, 1, 3)
        + struct.pack(">HHB", 0x020F, 1, 2)
        + struct.pack(">HH", 0x1401, 2)
        + b"zz"  # a vendor's TLV, kept raw
    )
    conn.receive_data(deliver_sm(11, "Привет".encode("utf-16-be"), data_coding=8, tlvs=tlvs))
    [event] = events(conn)
    assert isinstance(event, Inbound)
    message = event.message
    assert event.seq == 11
    assert not message.is_receipt
    assert message.source == Address("79161234567", 1, 1)
    assert message.destination == Address("1234", 0, 0)
    assert message.payload.decode("utf-16-be") == "Привет"
    assert message.tlvs.sar == pdus.Concat(0x0102, 3, 2)
    assert message.tlvs.raw[-1] == pdus.Tlv(0x1401, b"zz")
    assert conn.data_to_send() == b""  # not before the commit
    conn.deliver_resp(11)
    assert pdu_list(conn.data_to_send()) == [(C.DELIVER_SM_RESP, 0, 11, b"\0")]
    with pytest.raises(LocalProtocolError):
        conn.deliver_resp(11)


def test_data_sm_is_inbound_too_and_answered_with_data_sm_resp() -> None:
    conn = bound()
    payload = struct.pack(">HH", pdus.Tag.MESSAGE_PAYLOAD, 5) + b"hello"
    body = b"\0\x01\x0179161234567\0\x00\x001234\0\x00\x00\x00" + payload
    conn.receive_data(pdus.encode(C.DATA_SM, 12, body))
    [event] = events(conn)
    assert isinstance(event, Inbound)
    assert event.message.command is C.DATA_SM
    assert event.message.payload == b"hello"
    conn.deliver_resp(12, Status.ESME_RX_T_APPN)
    assert pdu_list(conn.data_to_send()) == [(C.DATA_SM_RESP, 0x64, 12, b"\0")]


def test_a_receipt_is_recognised_from_its_tlvs() -> None:
    conn = bound()
    tlvs = struct.pack(">HH", 0x001E, 7) + b"0A1B2C\0" + struct.pack(">HHB", 0x0427, 1, 5)
    text = b"id:0A1B2C sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 stat:DELIVRD"
    conn.receive_data(deliver_sm(13, text, esm_class=pdus.ESM_DELIVERY_RECEIPT, tlvs=tlvs))
    [event] = events(conn)
    assert isinstance(event, Inbound)
    receipt = parse_receipt(event.message, "gsm7")
    assert receipt is not None
    assert receipt.message_id == "0A1B2C"
    assert receipt.state is MessageState.UNDELIVERABLE  # the TLV wins over the text
    assert receipt.id_in_tlv


# --- fragments and coalesced PDUs -----------------------------------------------------------


def _stream() -> tuple[bytes, list[object]]:
    """A bound transceiver's inbound byte stream and the events it gives whole."""
    receipt = (
        b"id:123 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD "
        b"err:000 text:hi"
    )
    data = b"".join(
        [
            resp(C.SUBMIT_SM_RESP, 2, body=b"123\0"),
            pdus.encode(C.ENQUIRE_LINK, 50),
            deliver_sm(51, b"one"),
            resp(C.SUBMIT_SM_RESP, 3, Status.ESME_RTHROTTLED),
            struct.pack(">IIII", 17, 0x77, 0, 52) + b"x",
            deliver_sm(53, receipt, esm_class=4),
            resp(C.GENERIC_NACK, 4, Status.ESME_RSYSERR),
            pdus.encode(C.UNBIND, 54),
        ]
    )
    conn = _submitted()
    conn.receive_data(data)
    return data, events(conn)


def _submitted() -> Connection:
    conn = bound()
    for _ in range(3):
        conn.submit(SM)
    conn.data_to_send()
    return conn


STREAM, STREAM_EVENTS = _stream()


def test_the_stream_gives_what_it_should() -> None:
    kinds = [type(event).__name__ for event in STREAM_EVENTS]
    assert kinds == [
        "Submitted",
        "Inbound",
        "SubmitFailed",
        "BadPdu",
        "Inbound",
        "GenericNack",
        "Unbound",
    ]


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    conn = _submitted()
    got: list[object] = []
    for index in range(len(STREAM)):
        conn.receive_data(STREAM[index : index + 1])
        got += events(conn)
    assert got == STREAM_EVENTS


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_split_of_the_stream_gives_the_same_events_and_bytes(cuts: list[int]) -> None:
    conn = _submitted()
    bounds = [0, *sorted(cuts), len(STREAM)]
    got: list[object] = []
    sent = b""
    for start, end in itertools.pairwise(bounds):
        if start == end:
            continue  # b"" is the end of the stream, as in h11
        conn.receive_data(STREAM[start:end])
        got += events(conn)
        sent += conn.data_to_send()
    assert got == STREAM_EVENTS
    assert [(c, s, q) for c, s, q, _ in pdu_list(sent)] == [
        (C.ENQUIRE_LINK_RESP, 0, 50),
        (C.GENERIC_NACK, Status.ESME_RINVCMDID, 52),
        (C.UNBIND_RESP, 0, 54),
    ]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_and_every_request_is_answered_or_handed_over(
    junk: bytes,
) -> None:
    conn = bound()
    conn.receive_data(junk)
    conn.receive_data(b"")
    events(conn)
    assert conn.state in (State.CLOSED, State.ERROR)
    assert conn.next_event() is NEED_DATA


def test_it_says_whether_it_has_bytes_to_send_without_taking_them() -> None:
    """The driver skips its send lock on it: a submit_sm_resp leaves nothing to send, an
    enquire_link of the SMSC's leaves its answer."""
    conn = bound()
    seq = conn.submit(SM)
    assert conn.has_data_to_send
    assert conn.has_data_to_send  # asking takes nothing
    assert pdu_list(conn.data_to_send())[0][:3] == (C.SUBMIT_SM, 0, seq)
    assert not conn.has_data_to_send
    conn.receive_data(resp(C.SUBMIT_SM_RESP, seq, body=b"abc1\0"))
    assert events(conn) == [Submitted(seq, "abc1")]
    assert not conn.has_data_to_send
    conn.receive_data(pdus.encode(C.ENQUIRE_LINK, 77))
    assert events(conn) == []
    assert conn.has_data_to_send
