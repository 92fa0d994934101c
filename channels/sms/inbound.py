"""An SMS as the journal keeps it (its PDU's fields as JSON, CONTRACTS.md `raw`), and the parser
that reads it into a RawInbound after the commit."""

from __future__ import annotations

import hashlib

import msgspec

from channels.contract import RawInbound, Received, Sender, Unparseable
from channels.phones import HOME_REGION, canonical_phone

from . import encoding
from .pdus import ShortMessage

CONTENT_TYPE = "application/x-smpp-pdus+json"
# SMPP 3.4 5.2.5: TON 1 is an international number; national (2) and unknown (0) numbers are
# read as the home network's (an SMSC of a Russian operator writes 8916... or 916...).
_INTERNATIONAL = 1


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


class Pdus(msgspec.Struct, frozen=True):
    """What the journal keeps of one SMS: its PDUs (several for a long message, in order) and
    the SMSC's alphabet for data_coding 0."""

    pdus: list[Pdu]
    default_alphabet: encoding.DefaultAlphabet = "gsm7"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Pdus)


def kept(message: ShortMessage, default_alphabet: encoding.DefaultAlphabet) -> bytes:
    """A one-part SMS as the journal keeps it."""
    payload = message.tlvs.message_payload
    pdu = Pdu(
        source=message.source.addr,
        source_ton=message.source.ton,
        source_npi=message.source.npi,
        destination=message.destination.addr,
        esm_class=message.esm_class,
        data_coding=message.data_coding,
        short_message=message.short_message.hex(),
        message_payload=None if payload is None else payload.hex(),
    )
    return _encoder.encode(Pdus([pdu], default_alphabet))


def key(payload: bytes) -> str:
    """The journal key of an SMS: its content's digest. An SMSC gives a deliver_sm no id of its
    own, and redelivers the same PDU when our deliver_sm_resp did not reach it."""
    return hashlib.sha256(payload).hexdigest()


def msisdn(source: str, ton: int) -> str | None:
    """An SMSC's source address in E.164, or None if it is no phone number."""
    return canonical_phone(source, None if ton == _INTERNATIONAL else HOME_REGION)


def parse(received: Received) -> RawInbound:
    """The journal's SMS as the message the citizen wrote, from their verified number."""
    try:
        kept_pdus = _decoder.decode(received.payload)
    except msgspec.DecodeError as exc:
        raise Unparseable("the kept PDUs are not JSON of their fields") from exc
    first = kept_pdus.pdus[0]
    text = "".join(
        encoding.decode_short_message(
            pdu.data_coding,
            bytes.fromhex(pdu.message_payload or pdu.short_message),
            esm_class=pdu.esm_class,
            default_alphabet=kept_pdus.default_alphabet,
        )
        for pdu in kept_pdus.pdus
    )
    phone = msisdn(first.source, first.source_ton)
    if phone is None:
        raise Unparseable(f"the source address is no phone number (TON {first.source_ton})")
    return RawInbound(
        channel="sms",
        account=received.account,
        idempotency_key=received.idempotency_key,
        channel_message_id=received.idempotency_key,
        # The operator's network vouches for the MSISDN it delivers from (ARCHITECTURE.md 3a).
        sender=Sender("phone", phone, verified=True),
        text=text,
        received_at=received.received_at,
    )
