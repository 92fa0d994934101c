"""SMS text for SMPP 3.4: GSM 03.38 or UCS2, cut into concatenated parts, and reassembled."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from channels.contract import DoesNotFit, Unparseable

from .pdus import Concat

# What data_coding 0, the SMSC's default alphabet, means on an SMSC (sms.toml default_alphabet).
DefaultAlphabet = Literal["gsm7", "latin1"]

# --- the GSM 7 bit default alphabet (3GPP TS 23.038 6.2.1) ----------------------------------

# 23.038 6.2.1: the default alphabet by septet value. 0x09 is capital Ç there (the Unicode
# Consortium's GSM0338.TXT reads it as small ç): only Ç encodes to it, so a ç is never sent as
# another letter but goes as UCS2. 0x1B is the escape to the extension table (23.038 6.2.1.1).
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
ESC = 0x1B
# 23.038 6.2.1.1, the default alphabet extension table: each is ESC then this septet, so it
# counts as two septets against every limit.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_SEPTETS: dict[str, bytes] = {ch: bytes([code]) for code, ch in enumerate(_BASIC) if code != ESC}
_SEPTETS |= {ch: bytes([ESC, code]) for code, ch in _EXTENSION.items()}


def gsm7_encode(text: str) -> bytes | None:
    """`text` as unpacked septets (one octet each, as data_coding 0 carries them), else None."""
    try:
        return b"".join(_SEPTETS[ch] for ch in text)
    except KeyError:
        return None


def gsm7_decode(septets: bytes) -> str:
    """The text of unpacked GSM 03.38 septets; an octet over 0x7F reads as U+FFFD."""
    out: list[str] = []
    codes = iter(septets)
    for code in codes:
        if code != ESC:
            out.append(_basic(code))
            continue
        following = next(codes, None)
        if following is None or following == ESC:
            # 23.038 6.2.1.1: ESC ESC is reserved for a further table and shows as a space, as
            # does an escape a receiver cannot read (here, one the message ends on).
            out.append(" ")
        else:
            # 23.038 6.2.1.1: an escape to an unassigned code shows the default table's character.
            out.append(_EXTENSION.get(following) or _basic(following))
    return "".join(out)


def _basic(code: int) -> str:
    """The default alphabet's character for one septet; U+FFFD for an octet no septet fits."""
    return _BASIC[code] if code < len(_BASIC) else "\ufffd"


def septets(text: str) -> int | None:
    """Septets `text` takes in GSM 03.38, an extension character two; None if it does not fit."""
    encoded = gsm7_encode(text)
    return None if encoded is None else len(encoded)


# --- outbound: the encoding and the parts ----------------------------------------------------


class Encoding(enum.IntEnum):
    """The alphabet a text goes out in, valued as its SMPP data_coding (SMPP 3.4 5.2.19)."""

    # The SMSC's default alphabet, which operators' SMSCs take as GSM 03.38.
    GSM7 = 0x00
    # UCS2 as handsets read it today: UTF-16-BE, a character outside the BMP as a surrogate
    # pair of two 16-bit units, each counted against the limit.
    UCS2 = 0x08


def encoding_of(text: str, default_alphabet: DefaultAlphabet = "gsm7") -> Encoding:
    """GSM 03.38 when every character of `text` is in it and the SMSC's default alphabet
    (data_coding 0) is GSM 03.38, else UCS2.

    An SMSC whose default is Latin-1 (sms.toml default_alphabet) gets UCS2 for every text: it
    would read GSM septets as Latin-1 ("@" is septet 0, a NUL), and how it maps Latin-1 onto the
    air's GSM alphabet, and counts the parts, is its own (Kannel's alt-charset)."""
    if default_alphabet == "gsm7" and all(ch in _SEPTETS for ch in text):
        return Encoding.GSM7
    return Encoding.UCS2


# 23.040 9.2.3.24: one SMS carries at most 140 octets of TP-User-Data, header included.
TP_UD_OCTETS = 140
ReferenceBits = Literal[8, 16]
# 23.040 9.2.3.24.1 (IE 0x00) and 9.2.3.24.8 (IE 0x08): the UDH length octet, the IE's
# identifier and length octets, the reference of 1 or 2 octets, the total and the sequence.
_UDH_OCTETS: dict[ReferenceBits, int] = {8: 6, 16: 7}
_CONCAT_IE: dict[ReferenceBits, int] = {8: 0x00, 16: 0x08}
# 23.040 9.2.3.24.1: the total and the sequence number are one octet each.
MOST_PARTS = 255


def capacity(encoding: Encoding, header_octets: int = 0) -> int:
    """Septets or UCS2 units of one SMS beside a UDH of `header_octets`: 160/153/152, 70/67/66."""
    if encoding is Encoding.GSM7:
        # 23.040 9.2.3.24: after a header, fill bits start the septets on a septet boundary.
        return (TP_UD_OCTETS - header_octets) * 8 // 7
    # 23.040 9.2.3.24.1: a UCS2 character is never split, so an odd header wastes an octet.
    return (TP_UD_OCTETS - header_octets) // 2


# Where a part is best cut, so that a handset that shows the parts apart (or one at a time, as
# they arrive) breaks the text between words.
_BREAKS = frozenset(" \n")


class TooLong(DoesNotFit):
    """A text needs more SMS parts than `max_parts`; `reason` says how many of what size."""

    def __init__(
        self, *, needed: int, max_parts: int, per_part: int, length: int, encoding: Encoding
    ) -> None:
        unit = "GSM 03.38 septets" if encoding is Encoding.GSM7 else "UCS2 characters"
        super().__init__(
            f"needs {needed} SMS parts of {per_part} {unit}, over max_parts {max_parts}"
            f" (the text is {length} {unit}; one SMS takes {capacity(encoding)})"
        )
        self.needed = needed
        self.max_parts = max_parts
        self.per_part = per_part
        self.length = length
        self.encoding = encoding


class Part(NamedTuple):
    """One submit_sm's short_message (UDH and user data), the text in it, and its place."""

    short_message: bytes
    text: str
    concat: Concat | None


# SMPP 3.4 5.2.12 esm_class bit 6 (23.040's TP-UDHI): the short_message starts with a UDH.
UDHI = 0x40


@dataclass(frozen=True)
class Parts:
    """A text as the submit_sm PDUs that carry it, in order."""

    encoding: Encoding
    parts: tuple[Part, ...]
    # The parts say their place with SMPP's sar_* TLVs, not with a UDH.
    use_sar: bool = False

    @property
    def data_coding(self) -> int:
        """Every part's data_coding."""
        return int(self.encoding)

    @property
    def esm_class(self) -> int:
        """Every part's esm_class: UDHI when its short_message starts with a UDH."""
        return UDHI if len(self.parts) > 1 and not self.use_sar else 0

    def sar(self, part: Part) -> Concat | None:
        """The sar_* TLVs of `part` (SMPP 3.4 5.3.2.22-24); none for UDH parts."""
        return part.concat if self.use_sar else None


class _Plan(NamedTuple):
    """Where a text is cut: its encoding, each part's octets, and where each part ends."""

    encoding: Encoding
    user_data: list[bytes]
    ends: list[int]


def split(
    text: str,
    *,
    max_parts: int,
    reference: int,
    reference_bits: ReferenceBits = 8,
    use_sar: bool = False,
    default_alphabet: DefaultAlphabet = "gsm7",
) -> Parts:
    """`text` as at most `max_parts` short_messages concatenated under `reference`, or TooLong."""
    if not 0 <= reference < 1 << reference_bits:
        raise ValueError(f"reference {reference} does not fit {reference_bits} bits")
    plan = _plan(text, max_parts, reference_bits, default_alphabet)
    user_data = plan.user_data
    texts = [text[start:end] for start, end in itertools.pairwise([0, *plan.ends])]
    if len(user_data) == 1:
        return Parts(plan.encoding, (Part(user_data[0], texts[0], None),), use_sar=False)
    total = len(user_data)
    parts: list[Part] = []
    for seq, (data, part_text) in enumerate(zip(user_data, texts, strict=True), start=1):
        concat = Concat(reference, total, seq)
        header = b"" if use_sar else _udh(concat, reference_bits)
        parts.append(Part(header + data, part_text, concat))
    return Parts(plan.encoding, tuple(parts), use_sar=use_sar)


def fits(
    text: str,
    max_parts: int,
    *,
    reference_bits: ReferenceBits = 8,
    default_alphabet: DefaultAlphabet = "gsm7",
) -> list[str]:
    """The platform's Fit: `text` as one message if its SMS parts fit `max_parts`, else TooLong."""
    _plan(text, max_parts, reference_bits, default_alphabet)
    return [text]


def _udh(concat: Concat, reference_bits: ReferenceBits) -> bytes:
    """The UDH of one part: UDHL, then IE 0x00 (23.040 9.2.3.24.1) or 0x08 (9.2.3.24.8)."""
    reference = concat.reference.to_bytes(reference_bits // 8, "big")
    element = bytes([_CONCAT_IE[reference_bits], len(reference) + 2])
    element += reference + bytes([concat.total, concat.seq])
    return bytes([len(element)]) + element


def _plan(
    text: str, max_parts: int, reference_bits: ReferenceBits, default_alphabet: DefaultAlphabet
) -> _Plan:
    """Where `text` is cut into SMS parts, or TooLong."""
    if not 1 <= max_parts <= MOST_PARTS:
        raise ValueError(f"max_parts {max_parts} is not within 1..{MOST_PARTS}")
    encoding = encoding_of(text, default_alphabet)
    whole = _one_part(text, encoding)
    if whole is not None:
        return _Plan(encoding, [whole], [len(text)])
    octets = _octets(text, encoding)
    # Septets or 16-bit units per character: an escape and its character, or a surrogate pair,
    # go in one part together (23.040 9.2.3.24.1: neither is split in the middle).
    costs = [len(each) if encoding is Encoding.GSM7 else len(each) // 2 for each in octets]
    length = sum(costs)
    # SMPP 3.4 5.3.2.22-24 carry a SAR part's reference, total and sequence number but no room:
    # the SMSC builds the air interface's concatenation UDH from them (23.040 9.2.3.24.1/.8)
    # within the same 140 octets, so a SAR part gets the room a UDH of its reference's size
    # leaves (153/67 for 8 bits, 152/66 for 16), as SMSCs expect; a fuller one they would split
    # again or refuse.
    per_part = capacity(encoding, _UDH_OCTETS[reference_bits])
    ends = _cuts(text, costs, per_part, between_words=True)
    if len(ends) > max_parts:
        # Cutting between words may cost a part now and then, but never one over max_parts.
        ends = _cuts(text, costs, per_part, between_words=False)
    if len(ends) > max_parts:
        raise TooLong(
            needed=len(ends),
            max_parts=max_parts,
            per_part=per_part,
            length=length,
            encoding=encoding,
        )
    user_data = [b"".join(octets[start:end]) for start, end in itertools.pairwise([0, *ends])]
    return _Plan(encoding, user_data, ends)


def _one_part(text: str, encoding: Encoding) -> bytes | None:
    """`text`'s octets if they fit one SMS, else None (a lone surrogate too: _octets says where)."""
    # Nearly every notice fits, and encoding it whole costs a tenth of one character at a time
    # (a confirmation's UCS2 took 4% of the daemon's CPU under an SMS burst).
    if encoding is Encoding.GSM7:
        whole = b"".join([_SEPTETS[ch] for ch in text])
        units = len(whole)
    else:
        try:
            whole = text.encode("utf-16-be")
        except UnicodeEncodeError:
            return None
        units = len(whole) // 2
    return whole if units <= capacity(encoding) else None


def _octets(text: str, encoding: Encoding) -> list[bytes]:
    """Each character's octets in `encoding`; DoesNotFit for a lone surrogate."""
    if encoding is Encoding.GSM7:
        return [_SEPTETS[ch] for ch in text]
    octets: list[bytes] = []
    for index, ch in enumerate(text):
        try:
            octets.append(ch.encode("utf-16-be"))
        except UnicodeEncodeError:
            raise DoesNotFit(
                f"character {index} is a lone UTF-16 surrogate, which no SMS can carry"
            ) from None
    return octets


def _cuts(text: str, costs: Sequence[int], room: int, *, between_words: bool) -> list[int]:
    """Where each part ends, filled up to `room`, or `between_words` where its last tenth allows."""
    ends: list[int] = []
    start = 0
    while start < len(text):
        used, end = 0, start
        while end < len(text) and used + costs[end] <= room:
            used += costs[end]
            end += 1
        if between_words and end < len(text) and text[end] not in _BREAKS:
            for cut in range(end, start, -1):
                if used < room - room // 10:
                    break
                if text[cut - 1] in _BREAKS:
                    end = cut
                    break
                used -= costs[cut - 1]
        ends.append(end)
        start = end
    return ends


# --- inbound: decoding, UDH and reassembly ---------------------------------------------------


class MalformedShortMessage(Unparseable):
    """A short_message that cannot be read: its UDH overruns it, or it carries no text."""


# SMPP 3.4 5.2.19: the data_coding values of text beside 0 (the SMSC's default alphabet).
_SMPP_CODECS = {0x01: "ascii", 0x03: "latin-1", 0x06: "iso8859-5", 0x08: "utf-16-be"}


def decode_short_message(
    data_coding: int,
    payload: bytes,
    *,
    esm_class: int = 0,
    default_alphabet: DefaultAlphabet = "gsm7",
) -> str:
    """The text of a short_message or message_payload, skipping its UDH if esm_class has UDHI."""
    data = split_udh(payload)[1] if esm_class & UDHI else payload
    return decode_text(data_coding, data, default_alphabet=default_alphabet)


def decode_text(
    data_coding: int, data: bytes, *, default_alphabet: DefaultAlphabet = "gsm7"
) -> str:
    """The text of user data (no UDH) in `data_coding`; an unreadable character is U+FFFD."""
    # A citizen's message is filed even when a handset garbled a character of it.
    codec = _codec(data_coding, default_alphabet)
    return gsm7_decode(data) if codec == "gsm7" else data.decode(codec, errors="replace")


def _codec(data_coding: int, default_alphabet: DefaultAlphabet) -> str:
    """The codec of a data_coding that carries text; MalformedShortMessage for any other."""
    if data_coding == 0x00:
        return "gsm7" if default_alphabet == "gsm7" else "latin-1"
    if data_coding in _SMPP_CODECS:
        return _SMPP_CODECS[data_coding]
    # Values SMPP 3.4 leaves reserved or refers to GSM 03.38 arrive as the handset's TP-DCS
    # (23.038 4): the alphabet is bits 3..2 of the general group 0001xxxx (a message class
    # given, uncompressed), the message waiting groups 1100 and 1101 are GSM 7 bit and 1110 is
    # UCS2, and bit 2 of the message class group 1111 is 0 for GSM 7 bit, 1 for 8-bit data.
    group = data_coding >> 4
    alphabet = {0x1: (data_coding >> 2) & 0b11, 0xC: 0, 0xD: 0, 0xE: 2, 0xF: (data_coding >> 2) & 1}
    tp_dcs = {0: "gsm7", 2: "utf-16-be"}
    if group in alphabet and alphabet[group] in tp_dcs:
        return tp_dcs[alphabet[group]]
    raise MalformedShortMessage(f"data_coding {data_coding:#04x} carries no text we read")


def split_udh(payload: bytes) -> tuple[bytes, bytes]:
    """A short_message with UDHI as its UDH's information elements and the user data after."""
    if not payload:
        raise MalformedShortMessage("esm_class has UDHI but the short_message is empty")
    length = payload[0]
    if 1 + length > len(payload):
        raise MalformedShortMessage(
            f"a UDH of {length} octets overruns a short_message of {len(payload)}"
        )
    return payload[1 : 1 + length], payload[1 + length :]


def udh_concat(payload: bytes) -> Concat | None:
    """The concatenation IE 0x00 or 0x08 of a short_message with UDHI, None if it has none."""
    found: Concat | None = None
    for identifier, value in _elements(split_udh(payload)[0]):
        size = {0x00: 3, 0x08: 4}.get(identifier)
        if size is None:
            continue
        if len(value) != size:
            raise MalformedShortMessage(
                f"UDH concatenation IE {identifier:#04x} of {len(value)} octets, not {size}"
            )
        reference = int.from_bytes(value[:-2], "big")
        total, seq = value[-2], value[-1]
        # 23.040 9.2.3.24: of repeated or mutually exclusive IEs (0x00 and 0x08) the last one
        # counts; 9.2.3.24.1: one with a total of 0, or a sequence of 0 or over the total, is
        # ignored, and the message reads as a single one.
        found = Concat(reference, total, seq) if 1 <= seq <= total else None
    return found


def _elements(header: bytes) -> Iterator[tuple[int, bytes]]:
    """A UDH's information elements (23.040 9.2.3.24) as identifier and value."""
    at = 0
    while at < len(header):
        if at + 2 > len(header):
            raise MalformedShortMessage("the UDH ends inside an information element's header")
        identifier, length = header[at], header[at + 1]
        if at + 2 + length > len(header):
            raise MalformedShortMessage(
                f"UDH information element {identifier:#04x} of {length} octets overruns the UDH"
            )
        yield identifier, header[at + 2 : at + 2 + length]
        at += 2 + length


class GroupKey(NamedTuple):
    """A long message: the sender's address, its reference, and its number of parts."""

    source: str
    reference: int
    total: int


class Segment(NamedTuple):
    """One part of a long message as received, its UDH removed."""

    source: str
    reference: int
    total: int
    seq: int
    data_coding: int
    data: bytes

    @property
    def key(self) -> GroupKey:
        """The long message it is part of."""
        return GroupKey(self.source, self.reference, self.total)


def segment(
    source: str, data_coding: int, payload: bytes, *, esm_class: int, sar: Concat | None = None
) -> Segment | None:
    """A deliver_sm as part of a long message (by its UDH, else its sar_* TLVs), else None;
    MalformedShortMessage for a UDH that overruns it."""
    concat, data = sar, payload
    if esm_class & UDHI:
        data = split_udh(payload)[1]
        # A handset's UDH says what it sent; an SMSC's SAR TLVs beside it only repeat it.
        concat = udh_concat(payload) or sar
    # SMPP 3.4 5.3.2.23-24: SAR totals and sequence numbers run from 1, as 23.040's do.
    if concat is None or not 1 <= concat.seq <= concat.total:
        return None
    return Segment(source, concat.reference, concat.total, concat.seq, data_coding, data)


# Stands where parts are missing in the text of a long message filed incomplete.
GAP = "[…]"


class Reassembled(NamedTuple):
    """A long message, complete or as far as it came: its text and the parts it lacks."""

    text: str
    missing: tuple[int, ...]

    @property
    def complete(self) -> bool:
        """Every part came."""
        return not self.missing


def reassemble(
    segments: Sequence[Segment], *, default_alphabet: DefaultAlphabet = "gsm7"
) -> Reassembled:
    """The text of one long message's parts in order, GAP where parts are missing; a part
    given twice counts once."""
    if not segments or len({part.key for part in segments}) > 1:
        raise ValueError("the parts of exactly one long message are reassembled")
    total = segments[0].total
    by_seq = {part.seq: part for part in reversed(segments)}  # the first copy stands
    pieces: list[str] = []
    # Runs of consecutive parts are decoded together: a handset may cut a surrogate pair or an
    # escape between two parts, which only joined read as one character.
    for present, run in itertools.groupby(range(1, total + 1), key=by_seq.__contains__):
        if not present:
            pieces.append(GAP)
            continue
        for data_coding, same in itertools.groupby(
            (by_seq[seq] for seq in run), key=lambda part: part.data_coding
        ):
            data = b"".join(part.data for part in same)
            pieces.append(decode_text(data_coding, data, default_alphabet=default_alphabet))
    missing = tuple(seq for seq in range(1, total + 1) if seq not in by_seq)
    return Reassembled("".join(pieces), missing)
