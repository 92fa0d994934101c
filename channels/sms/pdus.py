"""SMPP 3.4 PDUs as bytes: the header, the bodies an ESME sends and the bodies an SMSC sends."""

# Our own codec, not smpplib's, although smpplib is the codec the issue names. Fed hostile bytes,
# smpplib 2.2.4 decodes a C-Octet String that lacks its NUL by rewinding to the start of the body
# (a truncated deliver_sm comes back with a wrong source_addr and a 4-byte short_message under
# sm_length 49, no error), reads an integer TLV by the size in its own table instead of the length
# on the wire (every TLV after it is then misread), cuts an over-long source_addr to 20 characters
# without a word, and has no outbind in its factory. Its PDUs are mutable, untyped objects that
# number themselves through a shared dummy client. The handful of PDUs an ESME needs is smaller
# than the guards around that would be; smpplib stays as the independent codec the tests check
# this one against (tests/unit/test_smpp_pdus.py).

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, NamedTuple

HEADER: Final = struct.Struct(">IIII")
HEADER_LENGTH: Final = HEADER.size  # §3.2: command_length, command_id, command_status, sequence

# The biggest PDU SMPP 3.4 allows: a submit_sm or deliver_sm with every mandatory field at its
# maximum (348 octets, §4.4.1 / §4.6.1) plus a message_payload TLV of 64K octets (§5.3.2.32:
# its 2-octet length caps it at 65,535), plus room for the other TLVs. A command_length above
# this is corrupt, not a big message: without a cap a 4-byte length field could make us buffer
# 4 GiB. Precedent: Kannel's smpp_pdu.c first capped at 1,024 octets, then 7,424 ("message_payload
# can be up to 64K"), which refuses payloads SMPP allows. 68 KiB admits every PDU the
# specification allows and nothing a broken peer would need beyond it.
MAX_PDU_LENGTH: Final = 68 * 1024


# §5.1.2.1: bit 31 of a command_id marks a response.
RESPONSE_BIT: Final = 0x80000000


class CommandId(IntEnum):
    """§5.1.2.1: every command_id SMPP 3.4 defines; any other value is ESME_RINVCMDID."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103

    @property
    def is_response(self) -> bool:
        """§5.1.2.1: bit 31 of a command_id marks a response."""
        return bool(self & RESPONSE_BIT)


# §5.1.2.1: outbind, alert_notification and generic_nack have no response of their own.
RESPONSE_TO: Final[dict[CommandId, CommandId]] = {
    CommandId(request): CommandId(request | 0x80000000)
    for request in CommandId
    if not request.is_response and request not in (CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION)
}


class Status(IntEnum):
    """§5.1.3: the command_status values of SMPP 3.4 (0x400-0x4FF are the SMSC vendor's own)."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF


def status_name(status: int) -> str:
    """The §5.1.3 name of a command_status, or its hex value for a vendor's or unknown code."""
    try:
        return Status(status).name
    except ValueError:
        return f"0x{status:08X}"


class Tag(IntEnum):
    """§5.3.1: the TLV tags this client reads or writes."""

    DEST_ADDR_SUBUNIT = 0x0005
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    USER_MESSAGE_REFERENCE = 0x0204
    RECEIPTED_MESSAGE_ID = 0x001E
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


# §5.3.2: the tags whose value has one fixed size; another length on the wire is ESME_RINVPARLEN.
_FIXED_SIZE: Final[dict[int, int]] = {
    Tag.DEST_ADDR_SUBUNIT: 1,
    Tag.SOURCE_PORT: 2,
    Tag.DESTINATION_PORT: 2,
    Tag.SAR_MSG_REF_NUM: 2,
    Tag.SAR_TOTAL_SEGMENTS: 1,
    Tag.SAR_SEGMENT_SEQNUM: 1,
    Tag.SC_INTERFACE_VERSION: 1,
    Tag.USER_MESSAGE_REFERENCE: 2,
    Tag.NETWORK_ERROR_CODE: 3,
    Tag.MESSAGE_STATE: 1,
}

INTERFACE_VERSION: Final = 0x34  # §5.2.4: SMPP 3.4

# §5.2.12 esm_class: bits 5-2 give the message type, bit 6 the UDHI.
ESM_TYPE_MASK: Final = 0x3C
ESM_DELIVERY_RECEIPT: Final = 0x04
ESM_INTERMEDIATE_NOTIFICATION: Final = 0x20
ESM_UDHI: Final = 0x40

# §5.2.17 registered_delivery, bits 1-0: a receipt on final outcome, success or failure.
REGISTERED_DELIVERY_RECEIPT: Final = 0x01


class PduError(ValueError):
    """Fields SMPP cannot carry as given (a string too long, both short_message and payload)."""


class DecodeError(Exception):
    """A body that does not parse, with the command_status that names what is wrong."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Header(NamedTuple):
    """§3.2: the 16 octets in front of every PDU (a tuple: one is read for every PDU)."""

    length: int
    command_id: int
    status: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Address:
    """A type of number (§5.2.5), numbering plan (§5.2.6) and the address itself."""

    addr: str
    ton: int = 0
    npi: int = 0


@dataclass(frozen=True, slots=True)
class Tlv:
    """§3.3: one optional parameter as it was on the wire."""

    tag: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Concat:
    """A part's place in a long message: §5.3.2.22-24's sar_* TLVs, or a UDH's concatenation
    IE (3GPP TS 23.040 9.2.3.24.1/.8)."""

    reference: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class Tlvs:
    """The TLVs of a PDU: the ones this client understands read out, and all of them raw."""

    raw: tuple[Tlv, ...] = ()
    message_payload: bytes | None = None
    sar: Concat | None = None
    receipted_message_id: str | None = None
    message_state: int | None = None
    network_error_code: bytes | None = None
    user_message_reference: int | None = None
    source_port: int | None = None
    destination_port: int | None = None
    sc_interface_version: int | None = None


# What a PDU without TLVs carries (most of them): one value for all, as it is immutable.
NO_TLVS: Final = Tlvs()


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """A deliver_sm (§4.6.1) or data_sm (§4.7.1) from the SMSC, every field it carried."""

    command: CommandId
    service_type: str
    source: Address
    destination: Address
    esm_class: int
    registered_delivery: int
    data_coding: int
    tlvs: Tlvs
    protocol_id: int = 0  # data_sm has none
    priority_flag: int = 0  # data_sm has none
    short_message: bytes = b""  # data_sm carries its text in message_payload only

    @property
    def is_receipt(self) -> bool:
        """§5.2.12: an SMSC delivery receipt or an intermediate delivery notification."""
        kind = self.esm_class & ESM_TYPE_MASK
        return kind in (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE_NOTIFICATION)

    @property
    def udhi(self) -> bool:
        """§5.2.12: the message begins with a user data header (GSM 03.40)."""
        return bool(self.esm_class & ESM_UDHI)

    @property
    def payload(self) -> bytes:
        """The user data: message_payload when present (§5.3.2.32), else short_message."""
        if self.tlvs.message_payload is not None:
            return self.tlvs.message_payload
        return self.short_message


@dataclass(frozen=True, slots=True)
class SubmitSm:
    """§4.4.1: a message to send; the fields an SMSC reads, defaults as most SMSCs expect."""

    source: Address
    destination: Address
    short_message: bytes = b""
    data_coding: int = 0
    esm_class: int = 0
    registered_delivery: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    service_type: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    message_payload: bytes | None = None
    sar: Concat | None = None
    extra_tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True, slots=True)
class Outbind:
    """§4.1.7: the SMSC asks us to bind as a receiver."""

    system_id: str
    password: str


@dataclass(frozen=True, slots=True)
class AlertNotification:
    """§4.12: a handset the SMSC was asked to watch is reachable again."""

    source: Address
    esme: Address


# --- encoding -------------------------------------------------------------------------------


def encode(command_id: CommandId, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    """A whole PDU: the §3.2 header in front of `body`."""
    return HEADER.pack(HEADER_LENGTH + len(body), command_id, status, sequence) + body


def c_string(value: str, size: int, field: str) -> bytes:
    """§3.1 C-Octet String: ASCII ending in NUL, `size` octets at most counting the NUL."""
    if not value:
        return b"\0"  # the NULL most optional fields are
    # Checked on the text, an octet each once it is ASCII: a NUL looked for in bytes costs
    # several times more. An error names the field, never its value: a password, a citizen's
    # phone number, and it ends up in logs and in `omnirouter status`.
    if not value.isascii():
        raise PduError(f"{field} must be ASCII (SMPP 3.4 §3.1)")
    if "\0" in value:
        raise PduError(f"{field} must not contain NUL")
    if len(value) + 1 > size:
        raise PduError(f"{field} is {len(value)} characters, SMPP 3.4 allows {size - 1}")
    return value.encode("ascii") + b"\0"


def _time(value: str, field: str) -> bytes:
    """§7.1: an absolute or relative time is 16 characters, or empty for the SMSC's default."""
    if value and len(value) != 16:
        raise PduError(f"{field} must be empty or 16 characters (SMPP 3.4 §7.1.1)")
    return c_string(value, 17, field)


def _octets(values: tuple[int, ...], fields: tuple[str, ...]) -> bytes:
    """Integer fields of one octet each, named in `fields`; the first out of range named."""
    try:
        return bytes(values)
    except ValueError:  # bytes() says only "must be in range(0, 256)": find which field
        for field, value in zip(fields, values, strict=True):
            if not 0 <= value <= 0xFF:
                raise PduError(f"{field} is one octet, 0-255: {value}") from None
        raise


def _address(address: Address, size: int, fields: tuple[str, str, str]) -> bytes:
    """TON, NPI and the address; `fields` name the three for an error."""
    ton, npi, addr = fields
    return _octets((address.ton, address.npi), (ton, npi)) + c_string(address.addr, size, addr)


# The fields of each address, named once rather than formatted for every PDU only to name
# an error.
_SOURCE: Final = ("source_ton", "source_npi", "source_addr")
_DEST: Final = ("dest_ton", "dest_npi", "dest_addr")
_ADDRESS_RANGE: Final = ("address_range_ton", "address_range_npi", "address_range_addr")


def tlv(tag: int, value: bytes) -> bytes:
    """§3.3: tag, length and value."""
    if len(value) > 0xFFFF:
        raise PduError(f"TLV 0x{tag:04X} carries {len(value)} octets, its length field 65535")
    return struct.pack(">HH", tag, len(value)) + value


def bind_body(
    system_id: str,
    password: str,
    system_type: str,
    address_range: Address,
) -> bytes:
    """§4.1.1 / §4.1.3 / §4.1.5: the body all three binds share."""
    return (
        c_string(system_id, 16, "system_id")
        + c_string(password, 9, "password")
        + c_string(system_type, 13, "system_type")
        + bytes((INTERFACE_VERSION,))
        + _address(address_range, 41, _ADDRESS_RANGE)
    )


# §4.4.1's one-octet fields, in the order of the body, named for an error.
_CLASS_FIELDS: Final = ("esm_class", "protocol_id", "priority_flag")
_CODING_FIELDS: Final = (
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
    "sm_length",
)


def submit_sm_body(sm: SubmitSm) -> bytes:
    """§4.4.1: the submit_sm body, refused rather than truncated when a field does not fit."""
    if len(sm.short_message) > 254:
        raise PduError(
            f"short_message is {len(sm.short_message)} octets, SMPP 3.4 §4.4.1 allows 254; "
            "send the rest in message_payload or in parts"
        )
    if sm.short_message and sm.message_payload is not None:
        # §5.3.2.32: with message_payload, sm_length is 0 and short_message empty.
        raise PduError("short_message and message_payload cannot both be set (SMPP 3.4 §5.3.2.32)")
    body = [
        c_string(sm.service_type, 6, "service_type"),
        _address(sm.source, 21, _SOURCE),
        _address(sm.destination, 21, _DEST),
        _octets((sm.esm_class, sm.protocol_id, sm.priority_flag), _CLASS_FIELDS),
        _time(sm.schedule_delivery_time, "schedule_delivery_time"),
        _time(sm.validity_period, "validity_period"),
        # replace_if_present_flag 0: each notice is a new message; sm_default_msg_id 0: no
        # canned messages.
        _octets(
            (sm.registered_delivery, 0, sm.data_coding, 0, len(sm.short_message)), _CODING_FIELDS
        ),
        sm.short_message,
    ]
    if sm.sar is not None:
        body += [
            tlv(Tag.SAR_MSG_REF_NUM, struct.pack(">H", sm.sar.reference)),
            tlv(Tag.SAR_TOTAL_SEGMENTS, _octets((sm.sar.total,), ("sar_total_segments",))),
            tlv(Tag.SAR_SEGMENT_SEQNUM, _octets((sm.sar.seq,), ("sar_segment_seqnum",))),
        ]
    if sm.message_payload is not None:
        body.append(tlv(Tag.MESSAGE_PAYLOAD, sm.message_payload))
    if sm.extra_tlvs:  # seldom: the comprehension costs more than the check
        body += [tlv(extra.tag, extra.value) for extra in sm.extra_tlvs]
    return b"".join(body)


# §4.6.2 / §4.7.2: the message_id of a deliver_sm_resp or data_sm_resp is unused, set to NULL.
EMPTY_MESSAGE_ID: Final = b"\0"


# --- decoding -------------------------------------------------------------------------------


class _Reader:
    """A cursor over a body that raises DecodeError instead of reading past its end."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def octet(self, field: str) -> int:
        if self._pos >= len(self._data):
            raise DecodeError(Status.ESME_RINVMSGLEN, f"body ends before {field}")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def octets(self, count: int, field: str) -> bytes:
        if self._pos + count > len(self._data):
            raise DecodeError(Status.ESME_RINVMSGLEN, f"body ends inside {field}")
        value = self._data[self._pos : self._pos + count]
        self._pos += count
        return value

    def c_string(self, field: str) -> str:
        # Read up to the NUL however long: the sizes of §4 bind what we send; what an SMSC sends
        # a little longer is still its message, and the PDU as a whole is already capped.
        # Latin-1 keeps every octet as it came.
        end = self._data.find(b"\0", self._pos)
        if end < 0:
            raise DecodeError(Status.ESME_RINVMSGLEN, f"{field} has no terminating NUL")
        value = self._data[self._pos : end].decode("latin-1")
        self._pos = end + 1
        return value

    def address(self, prefix: str) -> Address:
        ton = self.octet(f"{prefix}_ton")
        npi = self.octet(f"{prefix}_npi")
        return Address(self.c_string(f"{prefix}_addr"), ton, npi)

    def tlvs(self) -> Tlvs:
        """§3.3: the TLVs that fill the rest of the body, in any order."""
        if self._pos == len(self._data):
            return NO_TLVS  # most PDUs carry none (every submit_sm_resp): nothing to read out
        raw: list[Tlv] = []
        while self._pos < len(self._data):
            if self._pos + 4 > len(self._data):
                raise DecodeError(Status.ESME_RINVOPTPARSTREAM, "a TLV header is cut short")
            tag, length = struct.unpack_from(">HH", self._data, self._pos)
            self._pos += 4
            if self._pos + length > len(self._data):
                raise DecodeError(
                    Status.ESME_RINVOPTPARSTREAM, f"TLV 0x{tag:04X} runs past the body"
                )
            expected = _FIXED_SIZE.get(tag)
            if expected is not None and length != expected:
                raise DecodeError(
                    Status.ESME_RINVPARLEN,
                    f"TLV 0x{tag:04X} is {length} octets, SMPP 3.4 §5.3.2 says {expected}",
                )
            raw.append(Tlv(tag, self._data[self._pos : self._pos + length]))
            self._pos += length
        return _read_tlvs(tuple(raw))


def _read_tlvs(raw: tuple[Tlv, ...]) -> Tlvs:
    values = {item.tag: item.value for item in raw}  # a repeated tag: the last one counts

    def number(tag: Tag) -> int | None:
        value = values.get(tag)
        return None if value is None else int.from_bytes(value, "big")

    ref, total, seqnum = (
        number(Tag.SAR_MSG_REF_NUM),
        number(Tag.SAR_TOTAL_SEGMENTS),
        number(Tag.SAR_SEGMENT_SEQNUM),
    )
    receipted = values.get(Tag.RECEIPTED_MESSAGE_ID)
    # §5.3.2.12 makes it a C-Octet String; some SMSCs leave out the NUL.
    receipted_id = None if receipted is None else receipted.rstrip(b"\0").decode("latin-1")
    return Tlvs(
        raw=raw,
        message_payload=values.get(Tag.MESSAGE_PAYLOAD),
        # §5.3.2.22-24: the three SAR TLVs mean something only together.
        sar=None if ref is None or total is None or seqnum is None else Concat(ref, total, seqnum),
        receipted_message_id=receipted_id,
        message_state=number(Tag.MESSAGE_STATE),
        network_error_code=values.get(Tag.NETWORK_ERROR_CODE),
        user_message_reference=number(Tag.USER_MESSAGE_REFERENCE),
        source_port=number(Tag.SOURCE_PORT),
        destination_port=number(Tag.DESTINATION_PORT),
        sc_interface_version=number(Tag.SC_INTERFACE_VERSION),
    )


# command_id to CommandId without IntEnum's call (one per PDU read); None: not SMPP 3.4's.
COMMANDS: Final[dict[int, CommandId]] = {command.value: command for command in CommandId}


def parse_header(data: bytes | bytearray | memoryview) -> Header:
    """§3.2: the header at the start of `data` (at least 16 octets)."""
    return Header._make(HEADER.unpack_from(data))


def decode_deliver_sm(body: bytes) -> ShortMessage:
    """§4.6.1."""
    reader = _Reader(body)
    service_type = reader.c_string("service_type")
    source = reader.address("source")
    destination = reader.address("dest")
    esm_class = reader.octet("esm_class")
    protocol_id = reader.octet("protocol_id")
    priority_flag = reader.octet("priority_flag")
    reader.c_string("schedule_delivery_time")  # §4.6.1: NULL in a deliver_sm
    reader.c_string("validity_period")  # §4.6.1: NULL in a deliver_sm
    registered_delivery = reader.octet("registered_delivery")
    reader.octet("replace_if_present_flag")  # §4.6.1: NULL in a deliver_sm
    data_coding = reader.octet("data_coding")
    reader.octet("sm_default_msg_id")  # §4.6.1: NULL in a deliver_sm
    short_message = reader.octets(reader.octet("sm_length"), "short_message")
    return ShortMessage(
        command=CommandId.DELIVER_SM,
        service_type=service_type,
        source=source,
        destination=destination,
        esm_class=esm_class,
        registered_delivery=registered_delivery,
        data_coding=data_coding,
        tlvs=reader.tlvs(),
        protocol_id=protocol_id,
        priority_flag=priority_flag,
        short_message=short_message,
    )


def decode_data_sm(body: bytes) -> ShortMessage:
    """§4.7.1."""
    reader = _Reader(body)
    service_type = reader.c_string("service_type")
    source = reader.address("source")
    destination = reader.address("dest")
    esm_class = reader.octet("esm_class")
    registered_delivery = reader.octet("registered_delivery")
    data_coding = reader.octet("data_coding")
    return ShortMessage(
        command=CommandId.DATA_SM,
        service_type=service_type,
        source=source,
        destination=destination,
        esm_class=esm_class,
        registered_delivery=registered_delivery,
        data_coding=data_coding,
        tlvs=reader.tlvs(),
    )


def decode_outbind(body: bytes) -> Outbind:
    """§4.1.7."""
    reader = _Reader(body)
    system_id = reader.c_string("system_id")
    password = reader.c_string("password")
    reader.tlvs()  # §4.1.7 defines none; whatever follows must still be well formed
    return Outbind(system_id, password)


def decode_alert_notification(body: bytes) -> AlertNotification:
    """§4.12.1."""
    reader = _Reader(body)
    source = reader.address("source")
    esme = reader.address("esme")
    reader.tlvs()  # ms_availability_status, not needed to deliver the queued messages
    return AlertNotification(source, esme)


def decode_message_id(body: bytes) -> str:
    """§4.4.2: the message_id of a submit_sm_resp."""
    last = len(body) - 1
    if last >= 0 and body.find(b"\0") == last:  # all it ever holds: no TLVs to read after it
        return body[:last].decode("latin-1")
    message_id, _ = decode_id_and_tlvs(body, "message_id")
    return message_id


def decode_id_and_tlvs(body: bytes, field: str) -> tuple[str, Tlvs]:
    """§4.1.2 system_id then sc_interface_version; §4.4.2 message_id (no TLVs)."""
    reader = _Reader(body)
    value = reader.c_string(field)
    return value, reader.tlvs()
