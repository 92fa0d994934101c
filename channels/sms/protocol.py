"""The SMPP 3.4 ESME session as a state machine over bytes, with no I/O (the h11 way)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, auto
from typing import Final, Literal

from channels.sms import pdus
from channels.sms.events import (
    Alert,
    BadPdu,
    BindFailed,
    BindKind,
    Bound,
    ConnectionClosed,
    Event,
    GenericNack,
    Inbound,
    LinkAlive,
    OutbindReceived,
    Outstanding,
    RequestRefused,
    ResponseTimeout,
    StreamCorrupt,
    SubmitFailed,
    Submitted,
    Unbound,
    UnexpectedResponse,
)
from channels.sms.pdus import CommandId, DecodeError, Status, status_name

# §3.2: "The allowed sequence_number range is from 0x00000001 to 0x7FFFFFFF."
MAX_SEQUENCE: Final = 0x7FFFFFFF

# Kannel's SMPP_MAX_PENDING_SUBMITS is 10 as well; the contract's `window` key (sms.toml)
# overrides it per account.
DEFAULT_WINDOW: Final = 10


class State(Enum):
    """§2.2's session states, plus the two halves of a bind and an unbind in flight."""

    OPEN = auto()
    BINDING = auto()
    BOUND_TX = auto()
    BOUND_RX = auto()
    BOUND_TRX = auto()
    UNBINDING = auto()
    CLOSED = auto()
    ERROR = auto()

    # Members are singletons: hashed by identity, not by Enum's hash of the name, a Python call
    # for each lookup in the transition tables (two for every submit_sm).
    __hash__ = object.__hash__


class LocalProtocolError(Exception):
    """We were asked to send something SMPP does not allow in this state; a bug in the caller."""


class WindowFull(Exception):
    """`window` submits await their response; the driver waits for one before sending more."""


class NeedData(Enum):
    """next_event() has nothing until more bytes arrive."""

    NEED_DATA = auto()


NEED_DATA: Final = NeedData.NEED_DATA


class Policy(Enum):
    """What the outbox does with a refused submit_sm (issue 10, point 3)."""

    BACK_OFF = auto()  # the SMSC is busy: wait and requeue, not a failed attempt
    RETRY = auto()  # a transient fault at the SMSC: a failed attempt, retried with backoff
    PERMANENT = auto()  # this message will never be taken: fail the notification with the code


_POLICY: Final[Mapping[int, Policy]] = {
    Status.ESME_RTHROTTLED: Policy.BACK_OFF,
    Status.ESME_RMSGQFUL: Policy.BACK_OFF,
    Status.ESME_RSYSERR: Policy.RETRY,
}


def classify(status: int) -> Policy:
    """The outbox's policy for a submit_sm (or its generic_nack) answered with `status`."""
    if status == Status.ESME_ROK:
        raise ValueError("ESME_ROK is not a failure")
    return _POLICY.get(status, Policy.PERMANENT)


class _Outcome(Enum):
    """What moves the session besides a PDU's command_id: the answer to a bind or an unbind."""

    BOUND_AS_TX = auto()
    BOUND_AS_RX = auto()
    BOUND_AS_TRX = auto()
    BIND_REFUSED = auto()
    UNBIND_ANSWERED = auto()
    TIMED_OUT = auto()
    EOF = auto()
    CORRUPT = auto()


_BOUND: Final[Mapping[BindKind, _Outcome]] = {
    BindKind.TRANSMITTER: _Outcome.BOUND_AS_TX,
    BindKind.RECEIVER: _Outcome.BOUND_AS_RX,
    BindKind.TRANSCEIVER: _Outcome.BOUND_AS_TRX,
}

_S = State
_C = CommandId

# The members every submit_sm and its answer are checked against, bound once: looking an enum
# member up on its class costs more than the check itself (Python 3.11).
_SUBMIT_SM: Final = CommandId.SUBMIT_SM
_GENERIC_NACK: Final = CommandId.GENERIC_NACK
_ESME_ROK: Final = Status.ESME_ROK
# §3.2's header read in place, as four ints: a Header is made only for a PDU that is refused.
_READ_HEADER: Final = pdus.HEADER.unpack_from
_HEADER_LENGTH: Final = pdus.HEADER_LENGTH

# §2.3 Table 2-1, the ESME column: what we may send in each state, and the state it leads to.
# Our automatic answers (enquire_link_resp, unbind_resp, generic_nack) follow from the PDU they
# answer and are not listed. One bind at a time: §4.1 has the SMSC refuse a second with
# ESME_RALYBND, so BINDING allows nothing.
_WE_SEND: Final[Mapping[State, Mapping[CommandId, State]]] = {
    _S.OPEN: {
        _C.BIND_TRANSMITTER: _S.BINDING,
        _C.BIND_RECEIVER: _S.BINDING,
        _C.BIND_TRANSCEIVER: _S.BINDING,
    },
    _S.BINDING: {},
    _S.BOUND_TX: {
        _C.SUBMIT_SM: _S.BOUND_TX,
        _C.ENQUIRE_LINK: _S.BOUND_TX,
        _C.DATA_SM_RESP: _S.BOUND_TX,
        _C.UNBIND: _S.UNBINDING,
    },
    _S.BOUND_RX: {
        _C.ENQUIRE_LINK: _S.BOUND_RX,
        _C.DELIVER_SM_RESP: _S.BOUND_RX,
        _C.DATA_SM_RESP: _S.BOUND_RX,
        _C.UNBIND: _S.UNBINDING,
    },
    _S.BOUND_TRX: {
        _C.SUBMIT_SM: _S.BOUND_TRX,
        _C.ENQUIRE_LINK: _S.BOUND_TRX,
        _C.DELIVER_SM_RESP: _S.BOUND_TRX,
        _C.DATA_SM_RESP: _S.BOUND_TRX,
        _C.UNBIND: _S.UNBINDING,
    },
    # A message the SMSC delivered before our unbind crossed it is still answered once committed.
    _S.UNBINDING: {_C.DELIVER_SM_RESP: _S.UNBINDING, _C.DATA_SM_RESP: _S.UNBINDING},
    _S.CLOSED: {},
    _S.ERROR: {},
}

# §2.3 Table 2-1, the SMSC column: the requests it may send us in each state. enquire_link is
# answered before the bind too: it costs nothing, and a generic_nack would tell the SMSC the
# link is dead (ulibsmpp's SMPP table makes the same exception).
_THEY_SEND: Final[Mapping[State, Mapping[CommandId, State]]] = {
    _S.OPEN: {_C.OUTBIND: _S.OPEN, _C.ENQUIRE_LINK: _S.OPEN},
    _S.BINDING: {_C.ENQUIRE_LINK: _S.BINDING},
    _S.BOUND_TX: {
        _C.ENQUIRE_LINK: _S.BOUND_TX,
        _C.DATA_SM: _S.BOUND_TX,  # Table 2-1 allows data_sm to a transmitter
        _C.UNBIND: _S.CLOSED,
    },
    _S.BOUND_RX: {
        _C.ENQUIRE_LINK: _S.BOUND_RX,
        _C.DELIVER_SM: _S.BOUND_RX,
        _C.DATA_SM: _S.BOUND_RX,
        _C.ALERT_NOTIFICATION: _S.BOUND_RX,
        _C.UNBIND: _S.CLOSED,
    },
    _S.BOUND_TRX: {
        _C.ENQUIRE_LINK: _S.BOUND_TRX,
        _C.DELIVER_SM: _S.BOUND_TRX,
        _C.DATA_SM: _S.BOUND_TRX,
        _C.ALERT_NOTIFICATION: _S.BOUND_TRX,
        _C.UNBIND: _S.CLOSED,
    },
    # What crossed our unbind on the wire is still the SMSC's message: take it.
    _S.UNBINDING: {
        _C.ENQUIRE_LINK: _S.UNBINDING,
        _C.DELIVER_SM: _S.UNBINDING,
        _C.DATA_SM: _S.UNBINDING,
        _C.UNBIND: _S.CLOSED,
    },
    _S.CLOSED: {},
    _S.ERROR: {},
}

# §2.6: the requests an SMSC ever sends an ESME. Any other request (a bind, a submit_sm, a
# query_sm) is an invalid command for us, not a wrong state: ESME_RINVCMDID.
_SMSC_REQUESTS: Final = frozenset(command for table in _THEY_SEND.values() for command in table)

_BINDS: Final = frozenset(CommandId(kind.value) for kind in BindKind)
_SESSION_REQUESTS: Final = _BINDS | {CommandId.UNBIND}

# The address_range of a bind that asks for every message of the account (§5.2.7: NULL).
_ANY_ADDRESS: Final = pdus.Address("")

_LIVE: Final = frozenset(
    (_S.OPEN, _S.BINDING, _S.BOUND_TX, _S.BOUND_RX, _S.BOUND_TRX, _S.UNBINDING)
)

# The answers to our binds and unbinds, and the two ends every live state can meet.
_OUTCOMES: Final[Mapping[State, Mapping[_Outcome, State]]] = {
    state: {
        _Outcome.EOF: _S.CLOSED,
        _Outcome.CORRUPT: _S.ERROR,
        **{
            _S.BINDING: {
                _Outcome.BOUND_AS_TX: _S.BOUND_TX,
                _Outcome.BOUND_AS_RX: _S.BOUND_RX,
                _Outcome.BOUND_AS_TRX: _S.BOUND_TRX,
                # §4.1.2: a refused bind leaves the connection open; the driver may bind again.
                _Outcome.BIND_REFUSED: _S.OPEN,
                _Outcome.TIMED_OUT: _S.CLOSED,
            },
            _S.UNBINDING: {_Outcome.UNBIND_ANSWERED: _S.CLOSED, _Outcome.TIMED_OUT: _S.CLOSED},
        }.get(state, {}),
    }
    for state in _LIVE
}

# §4.6.2 / §4.7.2 carry a message_id (unused, NULL) even in an error answer; the other responses
# we send have no body (§4.4.2: "not returned if the command_status field contains a non-zero
# value").
_RESPONSE_BODY: Final[Mapping[CommandId, bytes]] = {
    _C.DELIVER_SM_RESP: pdus.EMPTY_MESSAGE_ID,
    _C.DATA_SM_RESP: pdus.EMPTY_MESSAGE_ID,
}


class Connection:
    """One SMPP session of an ESME: feed it bytes, take events, call commands, send its bytes."""

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        max_pdu_length: int = pdus.MAX_PDU_LENGTH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1: {window}")
        self._window = window
        self._max_pdu_length = max_pdu_length
        self._clock = clock
        self._state = State.OPEN
        self._next_seq = 1
        # Our requests by sequence number: the command and when it went out (an Outstanding is
        # made only when the driver asks, a plain tuple costing a third of one per submit).
        self._pending: dict[int, tuple[CommandId, float]] = {}
        self._submits = 0
        self._awaiting: dict[int, CommandId] = {}  # deliver_sm / data_sm seq → its command
        # The bytes read and not framed yet, from offset _at: a PDU is one slice of them, where
        # a bytearray consumed from the front costs a slice, a copy and a delete per PDU.
        self._in = b""
        self._at = 0
        self._eof = False
        self._out = bytearray()

    # --- what the driver reads ----------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where the session is (§2.2)."""
        return self._state

    @property
    def window_free(self) -> int:
        """How many more submit_sm may go out before a response comes back."""
        return self._window - self._submits

    @property
    def submits_awaiting(self) -> int:
        """How many submit_sm await their response (or their expiry)."""
        return self._submits

    def pending(self) -> tuple[Outstanding, ...]:
        """Our requests without an answer, oldest first, for the driver's response_timeout."""
        requests = (Outstanding(seq, *request) for seq, request in self._pending.items())
        return tuple(sorted(requests, key=lambda item: item.sent_at))

    def data_to_send(self) -> bytes:
        """The bytes our commands and automatic answers produced since the last call."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def may_send(self, command: CommandId) -> bool:
        """Whether SMPP allows us to send `command` now (§2.3 table 2-1)."""
        return command in _WE_SEND[self._state]

    def may_answer(self, seq: int) -> bool:
        """Whether the SMSC's deliver_sm or data_sm `seq` can be answered now: not once the
        session has ended."""
        request = self._awaiting.get(seq)
        return request is not None and self.may_send(pdus.RESPONSE_TO[request])

    @property
    def has_data_to_send(self) -> bool:
        """Whether data_to_send() would return bytes (cheaper than taking them)."""
        return bool(self._out)

    # --- commands -----------------------------------------------------------------------------

    def bind(
        self,
        kind: BindKind,
        system_id: str,
        password: str,
        *,
        system_type: str = "",
        address_range: pdus.Address = _ANY_ADDRESS,
    ) -> int:
        """§4.1: ask to bind as `kind`; Bound or BindFailed follows. Returns the sequence number."""
        command = CommandId(kind.value)
        self._allowed(command)
        body = pdus.bind_body(system_id, password, system_type, address_range)
        return self._request(command, body)

    def submit(self, sm: pdus.SubmitSm) -> int:
        """§4.4: send a message; Submitted, SubmitFailed or GenericNack answers the number."""
        return self.submit_body(pdus.submit_sm_body(sm))

    def submit_body(self, body: bytes) -> int:
        """submit() of a body pdus.submit_sm_body() encoded beforehand."""
        [seq] = self.submit_bodies((body,))
        return seq

    def submit_bodies(self, bodies: Sequence[bytes]) -> list[int]:
        """submit_body() of each of `bodies`, in order, as one burst, or of none (WindowFull,
        LocalProtocolError): a driver that queues its submits encodes each as it comes, and
        numbers here as many as the window has room for, the state checked and the clock read
        once for them all. Their sequence numbers, in order."""
        if self._submits + len(bodies) > self._window:
            raise WindowFull(
                f"{len(bodies)} submit_sm more than the window has room for "
                f"({self._submits} of {self._window} await their response)"
            )
        self._state = self._allowed(_SUBMIT_SM)  # LocalProtocolError unless bound to transmit
        sent_at = self._clock()
        pending = self._pending
        seqs = []
        encoded = []
        for body in bodies:
            seq = self._sequence()
            pending[seq] = (_SUBMIT_SM, sent_at)
            encoded.append(pdus.encode(_SUBMIT_SM, seq, body))
            seqs.append(seq)
        self._out += b"".join(encoded)
        self._submits += len(bodies)
        return seqs

    def enquire_link(self) -> int:
        """§4.11: test the link; LinkAlive answers, or the driver expire()s it."""
        self._allowed(CommandId.ENQUIRE_LINK)
        return self._request(CommandId.ENQUIRE_LINK, b"")

    def unbind(self) -> int:
        """§4.2: end the session; Unbound follows the SMSC's unbind_resp."""
        self._allowed(CommandId.UNBIND)
        return self._request(CommandId.UNBIND, b"")

    def deliver_resp(self, seq: int, status: int = Status.ESME_ROK) -> None:
        """Answer the SMSC's deliver_sm or data_sm `seq`, once its message is committed."""
        request = self._awaiting.get(seq)
        if request is None:
            raise LocalProtocolError(f"no deliver_sm or data_sm with sequence {seq} awaits us")
        response = pdus.RESPONSE_TO[request]
        self._state = self._allowed(response)
        del self._awaiting[seq]
        self._out += pdus.encode(response, seq, _RESPONSE_BODY[response], status)

    def expire(self, seq: int) -> ResponseTimeout:
        """Stop waiting for the answer to `seq`: its outcome stays unknown, nothing is guessed."""
        request = self._pending.pop(seq, None)
        if request is None:
            raise LocalProtocolError(f"no request with sequence {seq} awaits an answer")
        command, sent_at = request
        if command is CommandId.SUBMIT_SM:
            self._submits -= 1
        if command in _SESSION_REQUESTS:
            self._move(_Outcome.TIMED_OUT)  # a bind or unbind never answered ends the session
        return ResponseTimeout(Outstanding(seq, command, sent_at))

    # --- bytes in, events out -----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the SMSC (kept, not copied: bytes, not a buffer the caller reuses);
        b"" when it closed the connection."""
        if data:
            # What the last read left unframed is copied once a read: part of one PDU, never
            # more than max_pdu_length, for a driver that takes every event before it reads on.
            rest = self._in[self._at :]
            self._in = rest + data if rest else data
            self._at = 0
        else:
            self._eof = True

    def next_event(self) -> Event | Literal[NeedData.NEED_DATA]:
        """The next thing that happened, or NEED_DATA until more bytes arrive."""
        while (event := self._read_one()) is None:  # a PDU answered here, nothing to tell
            pass
        return event

    # --- internals ----------------------------------------------------------------------------

    def _allowed(self, command: CommandId) -> State:
        next_state = _WE_SEND[self._state].get(command)
        if next_state is None:
            raise LocalProtocolError(
                f"cannot send {command.name.lower()} in state {self._state.name} "
                "(SMPP 3.4 §2.3 table 2-1)"
            )
        return next_state

    def _move(self, outcome: _Outcome) -> None:
        self._state = _OUTCOMES.get(self._state, {}).get(outcome, self._state)

    def _request(self, command: CommandId, body: bytes) -> int:
        self._state = self._allowed(command)
        seq = self._sequence()
        self._pending[seq] = (command, self._clock())
        self._out += pdus.encode(command, seq, body)
        return seq

    def _sequence(self) -> int:
        """The next sequence number for a request of ours."""
        seq = self._next_seq
        while seq in self._pending:  # after a wrap, skip a number still awaiting its answer
            seq = seq % MAX_SEQUENCE + 1
        self._next_seq = seq % MAX_SEQUENCE + 1
        return seq

    def _answer(self, command: CommandId, seq: int, status: int) -> None:
        """Answer a request of the SMSC's with its own response, or generic_nack if it has none."""
        response = pdus.RESPONSE_TO.get(command, CommandId.GENERIC_NACK)
        self._out += pdus.encode(response, seq, _RESPONSE_BODY.get(response, b""), status)

    def _nack(self, seq: int, status: Status) -> None:
        # §4.3: generic_nack echoes the sequence number of the PDU it refuses.
        self._out += pdus.encode(CommandId.GENERIC_NACK, seq, b"", status)

    def _read_one(self) -> Event | NeedData | None:
        """Frame and handle one PDU from the buffer: its event, None if it has none for the
        driver, NEED_DATA when there is no whole PDU yet or the session is over."""
        if self._state not in _LIVE:
            self._drop_input()  # after unbind or a corrupt stream the driver closes; nothing counts
            return NEED_DATA
        buffer, at = self._in, self._at
        if len(buffer) - at < _HEADER_LENGTH:
            return self._end_of_stream()
        length, command_id, status, seq = _READ_HEADER(buffer, at)
        if not _HEADER_LENGTH <= length <= self._max_pdu_length:
            # §4.3: an invalid command_length means the data is corrupt; answer generic_nack.
            # Where the next PDU starts is unknown now, so the session cannot go on.
            self._nack(seq, Status.ESME_RINVCMDLEN)
            self._drop_input()
            self._move(_Outcome.CORRUPT)
            return StreamCorrupt(
                length, f"command_length {length} outside {_HEADER_LENGTH}..{self._max_pdu_length}"
            )
        end = at + length
        if len(buffer) < end:
            return self._end_of_stream()
        self._at = end
        raw = buffer[at:end]
        if command_id & pdus.RESPONSE_BIT:
            return self._on_response(command_id, status, seq, raw)
        return self._on_request(command_id, seq, raw)

    def _drop_input(self) -> None:
        self._in = b""
        self._at = 0

    def _end_of_stream(self) -> ConnectionClosed | NeedData:
        if not self._eof:
            return NEED_DATA
        self._drop_input()
        self._move(_Outcome.EOF)
        return ConnectionClosed(self.pending())

    def _bad(self, raw: bytes, status: int, reason: str, *, awaits: bool) -> BadPdu:
        header = pdus.parse_header(raw)
        return BadPdu(
            seq=header.sequence,
            command_id=header.command_id,
            status=status,
            status_name=status_name(status),
            reason=reason,
            raw=raw,
            awaits_answer=awaits,
        )

    def _unknown(self, seq: int, raw: bytes) -> BadPdu:
        # §4.3: an unknown command_id is answered generic_nack; the PDU's length was sound, so
        # the stream is still framed and the bind is kept.
        self._nack(seq, Status.ESME_RINVCMDID)
        return self._bad(raw, Status.ESME_RINVCMDID, "unknown command_id", awaits=False)

    def _on_request(self, command_id: int, seq: int, raw: bytes) -> Event | None:
        command = pdus.COMMANDS.get(command_id)
        if command is None:
            return self._unknown(seq, raw)
        body = raw[_HEADER_LENGTH:]
        next_state = _THEY_SEND[self._state].get(command)
        if next_state is None:
            # §2.3: a request the SMSC may send, but not in this state, is ESME_RINVBNDSTS;
            # one an SMSC never sends an ESME is an invalid command for us.
            status = Status.ESME_RINVBNDSTS if command in _SMSC_REQUESTS else Status.ESME_RINVCMDID
            self._answer(command, seq, status)
            return RequestRefused(seq, command, status, status.name)
        if command in (CommandId.ENQUIRE_LINK, CommandId.UNBIND) and body:
            # §4.11.1 / §4.2.1: header only. The length framed it, so only this PDU is refused.
            self._nack(seq, Status.ESME_RINVCMDLEN)
            return self._bad(raw, Status.ESME_RINVCMDLEN, "a body where none belongs", awaits=False)
        try:
            event = _REQUEST_HANDLERS[command](self, seq, body)
        except DecodeError as error:
            # An unreadable deliver_sm or data_sm is the driver's to file and answer; other
            # requests are refused here with the status that names the fault (§2.8).
            awaits = command in (CommandId.DELIVER_SM, CommandId.DATA_SM)
            if awaits:
                self._awaiting[seq] = command
            else:
                self._answer(command, seq, error.status)
            return self._bad(raw, error.status, error.reason, awaits=awaits)
        self._state = next_state
        return event

    def _on_enquire_link(self, seq: int, body: bytes) -> None:
        # §4.11: answered at once, whatever the driver is busy with.
        self._out += pdus.encode(CommandId.ENQUIRE_LINK_RESP, seq)

    def _on_unbind(self, seq: int, body: bytes) -> Unbound:
        # §4.2: the SMSC ends the session; we answer, and the driver closes and binds again.
        self._out += pdus.encode(CommandId.UNBIND_RESP, seq)
        return Unbound(by_peer=True)

    def _on_short_message(self, seq: int, body: bytes, command: CommandId) -> Inbound:
        decode = pdus.decode_deliver_sm if command is CommandId.DELIVER_SM else pdus.decode_data_sm
        message = decode(body)
        # Not answered here: deliver_sm_resp only after the message is committed (issue 10.5).
        self._awaiting[seq] = command
        return Inbound(seq, message)

    def _on_deliver_sm(self, seq: int, body: bytes) -> Inbound:
        return self._on_short_message(seq, body, CommandId.DELIVER_SM)

    def _on_data_sm(self, seq: int, body: bytes) -> Inbound:
        return self._on_short_message(seq, body, CommandId.DATA_SM)

    def _on_outbind(self, seq: int, body: bytes) -> OutbindReceived:
        outbind = pdus.decode_outbind(body)
        return OutbindReceived(outbind.system_id, outbind.password)

    def _on_alert(self, seq: int, body: bytes) -> Alert:
        return Alert(seq, pdus.decode_alert_notification(body))

    def _on_response(self, command_id: int, status: int, seq: int, raw: bytes) -> Event:
        command = pdus.COMMANDS.get(command_id)
        if command is None:  # §4.3: an unknown command_id is nacked, response bit or not
            return self._unknown(seq, raw)
        # A known response is never answered, not even a bad one: a generic_nack for a
        # generic_nack could loop between two peers forever.
        request = self._pending.get(seq)
        if request is None or command not in _ANSWERS[request[0]]:
            return UnexpectedResponse(seq, command, status)
        requested = request[0]
        try:
            event = _RESPONSE_READERS[requested](
                self, seq, requested, command, status, raw[_HEADER_LENGTH:]
            )
        except DecodeError as error:
            # The request stays pending: its outcome is unread, and expire() will say so.
            return self._bad(raw, error.status, error.reason, awaits=False)
        del self._pending[seq]
        return event

    def _on_submit_sm_resp(
        self, seq: int, requested: CommandId, command: CommandId, status: int, body: bytes
    ) -> Event:
        if command is _GENERIC_NACK:
            event: Event = GenericNack(seq, status, status_name(status), requested)
        elif status != _ESME_ROK:
            event = SubmitFailed(seq, status, status_name(status))
        else:  # §4.4.2: the body (message_id) only with ESME_ROK
            event = Submitted(seq, pdus.decode_message_id(body))
        self._submits -= 1
        return event

    def _on_bind_resp(
        self, seq: int, requested: CommandId, command: CommandId, status: int, body: bytes
    ) -> Event:
        if status != Status.ESME_ROK or command is CommandId.GENERIC_NACK:
            self._move(_Outcome.BIND_REFUSED)
            return BindFailed(status, status_name(status))
        system_id, tlvs = pdus.decode_id_and_tlvs(body, "system_id")
        kind = BindKind(requested)
        self._move(_BOUND[kind])
        return Bound(kind, system_id, tlvs.sc_interface_version)

    def _on_unbind_resp(
        self, seq: int, requested: CommandId, command: CommandId, status: int, body: bytes
    ) -> Event:
        self._move(_Outcome.UNBIND_ANSWERED)
        return Unbound(by_peer=False)

    def _on_enquire_link_resp(
        self, seq: int, requested: CommandId, command: CommandId, status: int, body: bytes
    ) -> Event:
        if command is CommandId.GENERIC_NACK:
            return GenericNack(seq, status, status_name(status), requested)
        return LinkAlive(seq)


# Readers picked by command, not by an if-ladder (h11's READERS table). None: no event.
_REQUEST_HANDLERS: Final[Mapping[CommandId, Callable[[Connection, int, bytes], Event | None]]] = {
    CommandId.ENQUIRE_LINK: Connection._on_enquire_link,
    CommandId.UNBIND: Connection._on_unbind,
    CommandId.DELIVER_SM: Connection._on_deliver_sm,
    CommandId.DATA_SM: Connection._on_data_sm,
    CommandId.OUTBIND: Connection._on_outbind,
    CommandId.ALERT_NOTIFICATION: Connection._on_alert,
}

# The answers to our requests, read by the request they answer: its own response (§2.6), or a
# generic_nack. A bind refused either way leaves the session OPEN; an unbind answered either
# way ends it.
_RESPONSE_READERS: Final[
    Mapping[CommandId, Callable[[Connection, int, CommandId, CommandId, int, bytes], Event]]
] = {
    CommandId.SUBMIT_SM: Connection._on_submit_sm_resp,
    **dict.fromkeys(_BINDS, Connection._on_bind_resp),
    CommandId.UNBIND: Connection._on_unbind_resp,
    CommandId.ENQUIRE_LINK: Connection._on_enquire_link_resp,
}
_ANSWERS: Final[Mapping[CommandId, frozenset[CommandId]]] = {
    request: frozenset((pdus.RESPONSE_TO[request], CommandId.GENERIC_NACK))
    for request in _RESPONSE_READERS
}
