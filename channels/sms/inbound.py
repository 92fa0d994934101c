"""An SMS as the journal keeps it (its PDUs' fields as JSON, CONTRACTS.md `raw`), the parts of a
long one held until it is whole, and the parser that reads it into a RawInbound after the commit."""

from __future__ import annotations

import hashlib

import msgspec

from channels.contract import RawInbound, Received, Sender, Unparseable
from channels.phones import HOME_REGION, canonical_phone

from . import encoding
from .pdus import Concat, ShortMessage

CONTENT_TYPE = "application/x-smpp-pdus+json"
# SMPP 3.4 5.2.5: TON 1 is an international number; a national (2) or subscriber (4) number is
# the home network's (an SMSC of a Russian operator writes 8916... or 916...), and one of
# unknown type (0) is read as either, the home network's first. Network-specific (3),
# alphanumeric (5) and abbreviated (6) addresses are no one's phone number, whatever digits
# they hold: a sender named "1234" is not the subscriber +1234...
_INTERNATIONAL, _UNKNOWN_TON = 1, 0
_PHONE_TONS = frozenset({_UNKNOWN_TON, _INTERNATIONAL, 2, 4})
# 5.2.6: NPI 1 is E.164; unknown (0) is taken as it. Data (X.121), telex, land mobile (E.212),
# national, private, ERMES, Internet and WAP addresses are not phone numbers.
_PHONE_NPIS = frozenset({0, 1})


class Pdu(msgspec.Struct, frozen=True):
    """The fields of a deliver_sm or data_sm a message is read from (bytes as hex)."""

    source: str
    source_ton: int
    source_npi: int
    destination: str
    esm_class: int
    data_coding: int
    short_message: str
    message_payload: str | None = None
    # SMPP 3.4 5.3.2.22-24: the part of a long message it is, by the SMSC's sar_* TLVs.
    sar: Concat | None = None

    @property
    def user_data(self) -> bytes:
        """The message's octets: message_payload when present, else short_message."""
        return bytes.fromhex(self.message_payload or self.short_message)

    def segment(self) -> encoding.Segment | None:
        """The part of a long message this PDU carries, if it is one; MalformedShortMessage
        when its UDH overruns it."""
        part = encoding.segment(
            self.source, self.data_coding, self.user_data, esm_class=self.esm_class, sar=self.sar
        )
        return None if part is None or part.total == 1 else part


class Pdus(msgspec.Struct, frozen=True):
    """What the journal keeps of one SMS: its PDUs (several for a long message, in order) and
    the SMSC's alphabet for data_coding 0."""

    pdus: list[Pdu]
    default_alphabet: encoding.DefaultAlphabet = "gsm7"


class Held(msgspec.Struct, frozen=True):
    """The parts of one long message as the adapter's state keeps them: received so far, since
    the first came (`since`), until the last comes or `reassembly_timeout` is over; then, for
    REDELIVERY_HORIZON after it was filed (`filed`), to know a part the SMSC sends again."""

    since: float
    pdus: list[Pdu]
    filed: float | None = None

    def redelivered(self, pdu: Pdu) -> bool:
        """Whether this part came already (the SMSC missed our answer to it)."""
        return pdu in self.pdus

    def clashes(self, pdu: Pdu, seq: int) -> bool:
        """Whether another message's part takes a place still held: the handset reused the
        reference (they run to 255) before this one was whole."""
        return self.filed is None and any(_seq(h) == seq and h != pdu for h in self.pdus)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Pdus)
_held = msgspec.json.Decoder(Held)


def pdu_of(message: ShortMessage) -> Pdu:
    """The fields of a deliver_sm or data_sm a message is read from."""
    payload = message.tlvs.message_payload
    return Pdu(
        source=message.source.addr,
        source_ton=message.source.ton,
        source_npi=message.source.npi,
        destination=message.destination.addr,
        esm_class=message.esm_class,
        data_coding=message.data_coding,
        short_message=message.short_message.hex(),
        message_payload=None if payload is None else payload.hex(),
        sar=message.tlvs.sar,
    )


def kept(pdus: list[Pdu], default_alphabet: encoding.DefaultAlphabet) -> bytes:
    """An SMS as the journal keeps it: its PDUs in the order of their parts."""
    return _encoder.encode(Pdus(sorted(pdus, key=_seq), default_alphabet))


def held(value: bytes | None) -> Held | None:
    """The parts of a long message the state holds, if any."""
    return None if value is None else _held.decode(value)


def encode_held(parts: Held) -> bytes:
    """Held parts as the state keeps them."""
    return _encoder.encode(parts)


def _seq(pdu: Pdu) -> int:
    """A PDU's place in its long message (a single SMS, or an unreadable UDH, is part 1)."""
    try:
        part = pdu.segment()
    except encoding.MalformedShortMessage:
        return 1
    return 1 if part is None else part.seq


def key(payload: bytes) -> str:
    """The journal key of an SMS: its content's digest. An SMSC gives a deliver_sm no id of its
    own, and redelivers the same PDU when our deliver_sm_resp did not reach it."""
    return hashlib.sha256(payload).hexdigest()


def msisdn(source: str, ton: int, npi: int) -> str | None:
    """An SMSC's source address in E.164, or None if it is no phone number."""
    if ton not in _PHONE_TONS or npi not in _PHONE_NPIS:
        return None
    if ton == _INTERNATIONAL:
        return canonical_phone(source, None)
    home = canonical_phone(source, HOME_REGION)
    if home is None and ton == _UNKNOWN_TON:
        return canonical_phone(source, None)  # a foreign number, its country code in front
    return home


def parse(received: Received) -> RawInbound:
    """The journal's SMS as the message the citizen wrote, from their verified number."""
    try:
        kept_pdus = _decoder.decode(received.payload)
    except msgspec.DecodeError as exc:
        raise Unparseable("the kept PDUs are not JSON of their fields") from exc
    first = kept_pdus.pdus[0]
    text, flags = _text(kept_pdus)
    phone = msisdn(first.source, first.source_ton, first.source_npi)
    if phone is None:
        raise Unparseable(
            f"the source address is no phone number (TON {first.source_ton}, "
            f"NPI {first.source_npi})"
        )
    return RawInbound(
        channel="sms",
        account=received.account,
        idempotency_key=received.idempotency_key,
        channel_message_id=received.idempotency_key,
        # The operator's network vouches for the MSISDN it delivers from (ARCHITECTURE.md 3a).
        sender=Sender("phone", phone, verified=True),
        text=text,
        received_at=received.received_at,
        flags=flags,
    )


def _text(kept_pdus: Pdus) -> tuple[str, list[str]]:
    """The text of the kept PDUs, and `incomplete` when parts of a long message never came."""
    alphabet = kept_pdus.default_alphabet
    if not kept_pdus.pdus:
        raise Unparseable("no PDU was kept")
    parts = [pdu.segment() for pdu in kept_pdus.pdus]
    if parts == [None]:
        pdu = kept_pdus.pdus[0]
        text = encoding.decode_short_message(
            pdu.data_coding, pdu.user_data, esm_class=pdu.esm_class, default_alphabet=alphabet
        )
        return text, []
    segments = [part for part in parts if part is not None]
    if len(segments) != len(parts) or len({part.key for part in segments}) != 1:
        raise Unparseable("the kept PDUs are not the parts of one long message")
    whole = encoding.reassemble(segments, default_alphabet=alphabet)
    return whole.text, [] if whole.complete else ["incomplete"]
