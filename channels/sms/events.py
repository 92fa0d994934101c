"""What the SMPP connection tells its driver: small immutable events, one per happening."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from channels.sms.pdus import AlertNotification, CommandId, ShortMessage


class BindKind(Enum):
    """§2.2: the three ways an ESME binds, by the PDU that asks for it."""

    TRANSMITTER = CommandId.BIND_TRANSMITTER
    RECEIVER = CommandId.BIND_RECEIVER
    TRANSCEIVER = CommandId.BIND_TRANSCEIVER


class Outstanding(NamedTuple):
    """A request of ours the SMSC has not answered yet, and when it went out (a tuple: one is
    made for every submit)."""

    seq: int
    command: CommandId
    sent_at: float


@dataclass(frozen=True, slots=True)
class Bound:
    """The SMSC accepted our bind (§4.1.2); `system_id` is the SMSC's own."""

    kind: BindKind
    system_id: str
    interface_version: int | None


@dataclass(frozen=True, slots=True)
class BindFailed:
    """The SMSC refused our bind (ESME_RBINDFAIL, ESME_RINVPASWD, ...); the session is OPEN."""

    status: int
    status_name: str


class Submitted(NamedTuple):
    """The SMSC took a submit_sm (§4.4.2); `message_id` is what its receipts will name (a
    tuple: one is made for every submit, a frozen dataclass's __init__ costs twice as much)."""

    seq: int
    message_id: str


@dataclass(frozen=True, slots=True)
class SubmitFailed:
    """The SMSC refused a submit_sm; protocol.classify() says what to do about it."""

    seq: int
    status: int
    status_name: str


@dataclass(frozen=True, slots=True)
class GenericNack:
    """§4.3: the SMSC could not read a PDU of ours; `request` is what it answers, if known."""

    seq: int
    status: int
    status_name: str
    request: CommandId | None


@dataclass(frozen=True, slots=True)
class LinkAlive:
    """The SMSC answered our enquire_link (§4.11.2)."""

    seq: int


@dataclass(frozen=True, slots=True)
class Unbound:
    """The session ended by unbind (§4.2): ours answered, or the SMSC's, which we answered."""

    by_peer: bool


@dataclass(frozen=True, slots=True)
class OutbindReceived:
    """§4.1.7: the SMSC has messages for us and asks us to bind as a receiver."""

    system_id: str
    password: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """A deliver_sm or data_sm; answered by deliver_resp(seq) once the message is committed."""

    seq: int
    message: ShortMessage


@dataclass(frozen=True, slots=True)
class Alert:
    """§4.12: alert_notification (it has no response)."""

    seq: int
    alert: AlertNotification


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """The SMSC sent a request SMPP does not allow it now; we answered it with `status`."""

    seq: int
    command: CommandId
    status: int
    status_name: str


@dataclass(frozen=True, slots=True)
class BadPdu:
    """A PDU whose header or body does not parse; `raw` is the PDU as it came.

    The connection has answered it (generic_nack, or the command's response with `status`)
    unless `awaits_answer`: an unreadable deliver_sm or data_sm is left to the driver, which
    files `raw` and then calls deliver_resp(seq, status), so nothing the SMSC sent is lost.
    """

    seq: int
    command_id: int
    status: int
    status_name: str
    reason: str
    raw: bytes
    awaits_answer: bool


@dataclass(frozen=True, slots=True)
class UnexpectedResponse:
    """A response that answers no request of ours (wrong sequence number or command)."""

    seq: int
    command: CommandId
    status: int


@dataclass(frozen=True, slots=True)
class ResponseTimeout:
    """expire(seq): no answer in time. The outcome is unknown: a submit may have been taken."""

    request: Outstanding


@dataclass(frozen=True, slots=True)
class StreamCorrupt:
    """A command_length SMPP cannot frame (§4.3): nothing after it can be trusted; close."""

    command_length: int
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The byte stream ended; `unanswered` are the requests whose outcome is now unknown."""

    unanswered: tuple[Outstanding, ...]


Event = (
    Bound
    | BindFailed
    | Submitted
    | SubmitFailed
    | GenericNack
    | LinkAlive
    | Unbound
    | OutbindReceived
    | Inbound
    | Alert
    | RequestRefused
    | BadPdu
    | UnexpectedResponse
    | ResponseTimeout
    | StreamCorrupt
    | ConnectionClosed
)
