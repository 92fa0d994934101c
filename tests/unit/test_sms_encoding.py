"""SMS text: GSM 03.38 and UCS2, concatenated parts out, long messages reassembled in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.contract import DoesNotFit, Unparseable
from channels.sms import PLUGIN
from channels.sms.config import SmsFile
from channels.sms.encoding import (
    ESC,
    GAP,
    UDHI,
    Encoding,
    MalformedShortMessage,
    Part,
    Parts,
    ReferenceBits,
    Segment,
    TooLong,
    capacity,
    decode_short_message,
    encoding_of,
    fits,
    gsm7_decode,
    gsm7_encode,
    reassemble,
    segment,
    septets,
    split,
    split_udh,
    udh_concat,
)
from channels.sms.pdus import Concat

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "€[]{}~\\^|\f"
CYRILLIC = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя№«»—"
ASTRAL = "😀👍🎉🇷🇺𝄞"


def user_data(parts: Parts, part: Part) -> bytes:
    """A part's short_message without its UDH."""
    return split_udh(part.short_message)[1] if parts.esm_class & UDHI else part.short_message


def decoded(parts: Parts) -> str:
    """The text a handset shows: every part decoded and joined."""
    return "".join(
        decode_short_message(parts.data_coding, part.short_message, esm_class=parts.esm_class)
        for part in parts.parts
    )


def units(parts: Parts, part: Part) -> int:
    """Septets or UTF-16 code units in a part's user data."""
    data = user_data(parts, part)
    return len(data) if parts.encoding is Encoding.GSM7 else len(data) // 2


# --- the alphabet ----------------------------------------------------------------------------


def test_the_default_alphabet_and_its_extension_table_as_23038_prints_them() -> None:
    assert gsm7_decode(bytes(code for code in range(128) if code != ESC)) == BASIC
    assert gsm7_encode("@£$") == b"\x00\x01\x02"
    assert gsm7_encode("¤¡¿§_Δ") == bytes([0x24, 0x40, 0x60, 0x5F, 0x11, 0x10])
    assert gsm7_encode("Hello") == b"Hello"
    assert gsm7_encode("€") == bytes([ESC, 0x65])
    assert gsm7_encode("[~]") == bytes([ESC, 0x3C, ESC, 0x3D, ESC, 0x3E])
    assert gsm7_encode("{}\\^|\f") == bytes(
        [ESC, 0x28, ESC, 0x29, ESC, 0x2F, ESC, 0x14, ESC, 0x40, ESC, 0x0A]
    )


def test_a_character_outside_the_alphabet_does_not_encode() -> None:
    assert gsm7_encode("Привет") is None
    assert gsm7_encode("ç") is None  # 0x09 is the capital Ç
    assert gsm7_encode("`") is None
    assert septets("a😀") is None


def test_septets_count_an_extension_character_as_two() -> None:
    assert septets("") == 0
    assert septets("abc") == 3
    assert septets("€10 [x]") == 10


def test_decoding_what_handsets_send_beyond_the_table() -> None:
    # 23.038 6.2.1.1: an unassigned escape shows the default table's character, ESC ESC a space.
    assert gsm7_decode(bytes([ESC, 0x41])) == "A"
    assert gsm7_decode(bytes([ESC, ESC, 0x41])) == " A"
    assert gsm7_decode(b"ab" + bytes([ESC])) == "ab "
    assert gsm7_decode(b"a\x80b") == "a\ufffdb"


@given(st.text(alphabet=BASIC + EXTENSION))
def test_gsm7_round_trips(text: str) -> None:
    encoded = gsm7_encode(text)
    assert encoded is not None
    assert gsm7_decode(encoded) == text
    assert septets(text) == len(encoded) == len(text) + sum(ch in EXTENSION for ch in text)


@given(st.text())
def test_encoding_is_gsm_exactly_when_every_character_fits(text: str) -> None:
    expected = Encoding.GSM7 if gsm7_encode(text) is not None else Encoding.UCS2
    assert encoding_of(text) is expected


# --- limits ----------------------------------------------------------------------------------


def test_the_limits_of_23040() -> None:
    assert [capacity(Encoding.GSM7, header) for header in (0, 6, 7)] == [160, 153, 152]
    assert [capacity(Encoding.UCS2, header) for header in (0, 6, 7)] == [70, 67, 66]


@pytest.mark.parametrize(
    ("text", "count"),
    [("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("€" * 81, 2), ("Ж" * 70, 1), ("Ж" * 71, 2)],
)
def test_a_text_in_one_sms_up_to_160_septets_or_70_ucs2_characters(text: str, count: int) -> None:
    parts = split(text, max_parts=5, reference=1)
    assert len(parts.parts) == count
    if count == 1:
        assert parts.parts[0].concat is None
        assert parts.esm_class == 0
        assert parts.sar(parts.parts[0]) is None


# --- worked examples -------------------------------------------------------------------------


def test_pure_gsm_in_two_parts_with_an_8_bit_reference() -> None:
    parts = split("a" * 153 + "b" * 10, max_parts=3, reference=0x2A)
    assert parts.encoding is Encoding.GSM7
    assert parts.data_coding == 0
    assert parts.esm_class == UDHI
    first, second = parts.parts
    assert first.short_message == bytes([5, 0x00, 3, 0x2A, 2, 1]) + b"a" * 153
    assert second.short_message == bytes([5, 0x00, 3, 0x2A, 2, 2]) + b"b" * 10
    assert (first.concat, second.concat) == (Concat(0x2A, 2, 1), Concat(0x2A, 2, 2))


def test_a_16_bit_reference_takes_one_septet_more() -> None:
    parts = split("a" * 152 + "b" * 10, max_parts=3, reference=0x1234, reference_bits=16)
    first, second = parts.parts
    assert first.short_message == bytes([6, 0x08, 4, 0x12, 0x34, 2, 1]) + b"a" * 152
    assert second.short_message == bytes([6, 0x08, 4, 0x12, 0x34, 2, 2]) + b"b" * 10
    assert udh_concat(first.short_message) == Concat(0x1234, 2, 1)


@pytest.mark.parametrize("escaped", ["€", "[", "|"])
def test_an_escape_never_parts_from_its_character_at_a_boundary(escaped: str) -> None:
    parts = split("a" * 152 + escaped + "b" * 10, max_parts=3, reference=3)
    first, second = parts.parts
    assert first.text == "a" * 152
    assert user_data(parts, first) == b"a" * 152
    assert user_data(parts, second)[:2] == gsm7_encode(escaped)
    assert decoded(parts) == "a" * 152 + escaped + "b" * 10


def test_an_escape_that_just_fits_stays() -> None:
    parts = split("a" * 151 + "€" + "b" * 10, max_parts=3, reference=3)
    assert user_data(parts, parts.parts[0]) == b"a" * 151 + bytes([ESC, 0x65])


def test_russian_goes_as_ucs2_in_parts_of_67() -> None:
    text = "Ваше обращение 2600000128 принято. " * 5
    parts = split(text, max_parts=4, reference=9)
    assert parts.encoding is Encoding.UCS2
    assert parts.data_coding == 8
    assert all(units(parts, part) <= 67 for part in parts.parts)
    assert decoded(parts) == text
    assert user_data(parts, parts.parts[0])[:4] == "Ва".encode("utf-16-be")


def test_one_cyrillic_letter_makes_the_whole_text_ucs2() -> None:
    assert split("Status: Ж", max_parts=1, reference=0).encoding is Encoding.UCS2


def test_a_surrogate_pair_never_splits_at_a_boundary() -> None:
    text = "Ж" * 66 + "😀" + "ж" * 10
    parts = split(text, max_parts=3, reference=5)
    first, second = parts.parts
    assert first.text == "Ж" * 66
    assert user_data(parts, second)[:4] == "😀".encode("utf-16-be")
    assert decoded(parts) == text


def test_an_emoji_counts_two_ucs2_characters() -> None:
    assert len(split("😀" * 35, max_parts=1, reference=0).parts) == 1
    with pytest.raises(TooLong):
        split("😀" * 35 + "a", max_parts=1, reference=0)


def test_sar_parts_carry_no_udh_and_the_same_room() -> None:
    parts = split(
        "a" * 152 + "b" * 9, max_parts=2, reference=0x0102, use_sar=True, reference_bits=16
    )
    assert parts.esm_class == 0
    # The SMSC adds a 16-bit reference's UDH on the air: 152 septets a part.
    assert [len(part.short_message) for part in parts.parts] == [152, 9]
    assert parts.sar(parts.parts[1]) == Concat(0x0102, 2, 2)
    eight = split("a" * 153 + "b" * 8, max_parts=2, reference=7, use_sar=True)
    assert [len(part.short_message) for part in eight.parts] == [153, 8]


def test_parts_are_cut_after_a_space_in_their_last_tenth() -> None:
    words = "слово " * 40
    parts = split(words, max_parts=5, reference=1)
    assert all(part.text.endswith(" ") for part in parts.parts[:-1])
    assert decoded(parts) == words


def test_no_space_in_the_last_tenth_cuts_at_the_limit() -> None:
    text = "a b" + "c" * 200
    parts = split(text, max_parts=2, reference=1)
    assert len(parts.parts[0].text) == 153


def test_cutting_between_words_never_costs_a_part_over_max_parts() -> None:
    # Cut after the space at 140 the rest would take two more parts; at 153 it takes one.
    text = "a" * 139 + " " + "b" * 166
    assert len(split(text, max_parts=3, reference=1).parts) == 3
    parts = split(text, max_parts=2, reference=1)
    assert [len(part.text) for part in parts.parts] == [153, 153]


def test_over_max_parts_is_too_long_with_the_numbers() -> None:
    with pytest.raises(TooLong) as raised:
        split("Ж" * 202, max_parts=3, reference=1)
    assert raised.value.reason.startswith(
        "needs 4 SMS parts of 67 UCS2 characters, over max_parts 3"
    )
    assert (raised.value.needed, raised.value.per_part, raised.value.length) == (4, 67, 202)
    with pytest.raises(TooLong, match=r"needs 2 SMS parts of 153 GSM 03\.38 septets"):
        split("a" * 161, max_parts=1, reference=1)


def test_fits_is_the_platforms_fit() -> None:
    assert fits("Ваше обращение принято", 1) == ["Ваше обращение принято"]
    assert fits("a" * 304, 2) == ["a" * 304]
    with pytest.raises(DoesNotFit):
        fits("a" * 305, 2, reference_bits=16)
    assert issubclass(TooLong, DoesNotFit)


def test_an_smsc_whose_default_alphabet_is_latin1_gets_ucs2() -> None:
    """Septets under data_coding 0 read as Latin-1 there: "@" is septet 0, a NUL."""
    text = "Write to help@gov.example, fee $5_"
    assert encoding_of(text) is Encoding.GSM7
    assert encoding_of(text, "latin1") is Encoding.UCS2
    parts = split(text, max_parts=1, reference=1, default_alphabet="latin1")
    assert parts.data_coding == 0x08
    assert [p.short_message.decode("utf-16-be") for p in parts.parts] == [text]
    assert fits("a" * 134, 2, default_alphabet="latin1") == ["a" * 134]
    with pytest.raises(TooLong, match="UCS2"):
        fits("a" * 160, 2, default_alphabet="latin1")  # one GSM part, three of UCS2


def test_the_channels_fit_holds_a_text_to_every_account() -> None:
    """check-config's fit: the narrowest parts of any account, a Latin-1 SMSC's among them."""
    account = {"host": "h", "system_id": "s", "password_file": "p", "source_addr": "0911"}
    settings = SmsFile.model_validate(
        {
            "enabled": True,
            "accounts": {
                "wide": {**account, "max_parts": 6},
                "latin": {**account, "max_parts": 2, "default_alphabet": "latin1"},
            },
        }
    )
    fit = PLUGIN.fit("sms", settings)
    assert fit is not None
    assert fit("a" * 134) == ["a" * 134]
    with pytest.raises(DoesNotFit, match=r"needs 3 SMS parts.* on account latin .*Latin-1"):
        fit("a" * 160)


def test_a_lone_surrogate_does_not_fit() -> None:
    with pytest.raises(DoesNotFit, match="lone UTF-16 surrogate"):
        fits("ab\ud800", 3)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="reference 256"):
        split("a", max_parts=1, reference=256)
    with pytest.raises(ValueError, match="max_parts 0"):
        split("a", max_parts=0, reference=1)
    with pytest.raises(ValueError, match="max_parts 256"):
        fits("a", 256)


# --- properties of splitting -----------------------------------------------------------------

TEXTS = st.one_of(
    st.text(alphabet=BASIC + EXTENSION, max_size=700),
    st.text(alphabet=BASIC + EXTENSION + CYRILLIC + ASTRAL, max_size=400),
    st.text(alphabet=st.sampled_from([*EXTENSION, "😀", " ", "a"]), max_size=400),
)
BITS: tuple[ReferenceBits, ...] = (8, 16)
SHAPES = st.tuples(st.sampled_from(BITS), st.booleans())


@settings(max_examples=300)
@given(TEXTS, SHAPES, st.integers(0, 255))
def test_split_then_join_gives_the_text_back(
    text: str, shape: tuple[ReferenceBits, bool], reference: int
) -> None:
    bits, sar = shape
    parts = split(text, max_parts=255, reference=reference, reference_bits=bits, use_sar=sar)
    assert decoded(parts) == text
    assert "".join(part.text for part in parts.parts) == text


@settings(max_examples=300)
@given(TEXTS, SHAPES)
def test_no_part_over_its_limit_nor_cut_inside_a_character(
    text: str, shape: tuple[ReferenceBits, bool]
) -> None:
    bits, sar = shape
    parts = split(text, max_parts=255, reference=200, reference_bits=bits, use_sar=sar)
    header = 6 if bits == 8 else 7
    if len(parts.parts) == 1:
        assert units(parts, parts.parts[0]) <= capacity(parts.encoding)
        return
    for seq, part in enumerate(parts.parts, start=1):
        assert units(parts, part) <= capacity(parts.encoding, header)
        assert part.text
        data = user_data(parts, part)
        if parts.encoding is Encoding.GSM7:
            assert data[-1:] != bytes([ESC])
            assert gsm7_decode(data) == part.text
        else:
            assert not 0xD800 <= int.from_bytes(data[-2:], "big") <= 0xDBFF
            assert data.decode("utf-16-be") == part.text
        if sar:
            assert part.short_message == data
            assert parts.sar(part) == Concat(200, len(parts.parts), seq)
        else:
            assert len(part.short_message) == header + len(data)
            assert udh_concat(part.short_message) == Concat(200, len(parts.parts), seq)


@settings(max_examples=300)
@given(TEXTS, st.integers(1, 6), st.sampled_from(BITS))
def test_too_long_only_when_the_text_cannot_fit(
    text: str, max_parts: int, bits: ReferenceBits
) -> None:
    encoding = encoding_of(text)
    length = (
        len(gsm7_encode(text) or b"")
        if encoding is Encoding.GSM7
        else len(text.encode("utf-16-be")) // 2
    )
    room = capacity(encoding, 6 if bits == 8 else 7)
    try:
        parts = split(text, max_parts=max_parts, reference=1, reference_bits=bits)
    except TooLong:
        # A tight cut wastes at most one unit a part (a two-unit character that did not fit).
        assert length > capacity(encoding)
        assert length > max_parts * (room - 1)
    else:
        assert len(parts.parts) <= max_parts
        assert length <= capacity(encoding) or length <= max_parts * room


# --- inbound decoding ------------------------------------------------------------------------


def test_data_coding_0_is_the_smscs_default_alphabet() -> None:
    assert decode_short_message(0, b"\x00 \x1be") == "@ €"
    assert decode_short_message(0, "Grüße".encode("latin-1"), default_alphabet="latin1") == "Grüße"


@pytest.mark.parametrize(
    ("data_coding", "payload", "text"),
    [
        (1, b"STATUS", "STATUS"),
        (3, "café £".encode("latin-1"), "café £"),
        (6, "СТАТУС 2600000128".encode("iso8859-5"), "СТАТУС 2600000128"),
        (8, "Статус 😀".encode("utf-16-be"), "Статус 😀"),
        (0x08, b"\x04\x21\x00", "С\ufffd"),
        (0xF0, b"Hi", "Hi"),  # a flash SMS: message class 0, GSM 7 bit
        (0x18, "Ж".encode("utf-16-be"), "Ж"),  # 23.038 general group, class 0, UCS2
        (0xE0, "Ж".encode("utf-16-be"), "Ж"),
    ],
)
def test_the_codings_of_text(data_coding: int, payload: bytes, text: str) -> None:
    assert decode_short_message(data_coding, payload) == text


@pytest.mark.parametrize("data_coding", [0x02, 0x04, 0xF4, 0x14, 0x05])
def test_a_coding_that_is_no_text_is_refused(data_coding: int) -> None:
    with pytest.raises(MalformedShortMessage, match="data_coding"):
        decode_short_message(data_coding, b"\x01\x02")


def test_the_udh_is_skipped_when_esm_class_says_so() -> None:
    payload = bytes([5, 0x00, 3, 1, 2, 1]) + "Привет".encode("utf-16-be")
    assert decode_short_message(8, payload, esm_class=UDHI) == "Привет"
    assert decode_short_message(0, bytes([0]) + b"hi", esm_class=UDHI | 0x03) == "hi"


# --- UDH -------------------------------------------------------------------------------------


def test_the_concatenation_elements() -> None:
    assert udh_concat(bytes([5, 0x00, 3, 0xAB, 3, 2]) + b"x") == Concat(0xAB, 3, 2)
    assert udh_concat(bytes([6, 0x08, 4, 0xAB, 0xCD, 3, 3])) == Concat(0xABCD, 3, 3)
    # After an application port IE (0x05), and of two the last counts (23.040 9.2.3.24).
    ports = bytes([0x05, 4, 0x0B, 0x84, 0x23, 0xF0])
    both = bytes([0x00, 3, 1, 2, 1, 0x08, 4, 0, 9, 4, 4])
    assert udh_concat(bytes([len(ports + both)]) + ports + both + b"x") == Concat(9, 4, 4)
    assert udh_concat(bytes([len(ports)]) + ports) is None
    assert udh_concat(bytes([0]) + b"text") is None


@pytest.mark.parametrize("values", [(1, 0, 0), (1, 2, 0), (1, 2, 3)])
def test_a_concatenation_ie_with_an_impossible_place_is_ignored(
    values: tuple[int, int, int],
) -> None:
    assert udh_concat(bytes([5, 0x00, 3, *values])) is None


@pytest.mark.parametrize(
    ("payload", "defect"),
    [
        (b"", "empty"),
        (bytes([9, 0x00, 3, 1, 2, 1]), "overruns a short_message"),
        (bytes([5, 0x00, 4, 1, 2, 1]), "overruns the UDH"),
        (bytes([1, 0x00]), "inside an information element"),
        (bytes([4, 0x00, 2, 1, 2]), "of 2 octets, not 3"),
        (bytes([5, 0x08, 4, 1, 2, 1, 1]), "overruns the UDH"),
    ],
)
def test_a_malformed_udh_is_a_clear_error(payload: bytes, defect: str) -> None:
    with pytest.raises(MalformedShortMessage, match=defect) as raised:
        udh_concat(payload)
    assert isinstance(raised.value, Unparseable)
    assert isinstance(raised.value, ValueError)


@given(st.binary(max_size=20))
def test_any_udh_reads_or_fails_clearly(payload: bytes) -> None:
    try:
        concat = udh_concat(payload)
    except MalformedShortMessage:
        return
    assert concat is None or 1 <= concat.seq <= concat.total


# --- reassembly ------------------------------------------------------------------------------


def segments_of(text: str, source: str = "79161234567", *, sar: bool = False) -> list[Segment]:
    """What a handset sending `text` in parts delivers, as segments."""
    parts = split(text, max_parts=255, reference=77, use_sar=sar)
    found: list[Segment] = []
    for part in parts.parts:
        made = segment(
            source,
            parts.data_coding,
            part.short_message,
            esm_class=parts.esm_class,
            sar=parts.sar(part),
        )
        assert made is not None
        found.append(made)
    return found


def test_a_message_in_one_piece_is_no_segment() -> None:
    assert segment("7916", 0, b"hi", esm_class=0) is None
    assert segment("7916", 0, bytes([0]) + b"hi", esm_class=UDHI) is None
    assert segment("7916", 0, b"hi", esm_class=0, sar=Concat(1, 2, 3)) is None


def test_parts_out_of_order_make_the_text() -> None:
    text = "Прошу проверить начисления за отопление. " * 6
    parts = segments_of(text)
    done = reassemble(parts[::-1])
    assert done.complete and done.text == text


def test_sar_parts_reassemble_too() -> None:
    assert reassemble(segments_of("a" * 400, sar=True)).text == "a" * 400


def test_a_part_given_twice_counts_once_and_the_first_copy_stands() -> None:
    first, second = segments_of("x" * 200)
    other = first._replace(data=b"y" * len(first.data))
    assert reassemble([first, other, second]).text == "x" * 200


def test_only_the_parts_of_one_message_reassemble() -> None:
    mine, theirs = segments_of("a" * 200, "7916"), segments_of("b" * 200, "7926")
    with pytest.raises(ValueError, match="exactly one"):
        reassemble([mine[0], theirs[1]])
    with pytest.raises(ValueError, match="exactly one"):
        reassemble([])


def test_what_a_handset_cut_inside_a_character_is_joined_back() -> None:
    emoji = "😀".encode("utf-16-be")
    halves = [b"\x04\x16" + emoji[:2], emoji[2:] + b"\x04\x36"]
    escape = [b"a" + bytes([ESC]), b"\x65b"]
    for data_coding, pieces, text in ((8, halves, "Ж😀ж"), (0, escape, "a€b")):
        parts = [Segment("7916", 1, 2, seq, data_coding, pieces[seq - 1]) for seq in (2, 1)]
        assert reassemble(parts).text == text


def test_parts_in_different_codings() -> None:
    parts = [
        Segment("7916", 1, 2, 2, 8, "ЖЖ".encode("utf-16-be")),
        Segment("7916", 1, 2, 1, 0, b"ab"),
    ]
    assert reassemble(parts).text == "abЖЖ"


def test_latin1_as_the_default_alphabet() -> None:
    parts = [Segment("7916", 1, 2, 1, 0, b"\xe9"), Segment("7916", 1, 2, 2, 0, b"!")]
    assert reassemble(parts, default_alphabet="latin1").text == "é!"


def test_a_part_that_carries_no_text_is_unreadable() -> None:
    with pytest.raises(MalformedShortMessage):
        reassemble([Segment("7916", 1, 2, 1, 4, b"\x00")])


def test_missing_parts_stand_as_gaps() -> None:
    _, two, three = segments_of("a" * 153 + "b" * 153 + "c" * 10)
    done = reassemble([three, two])
    assert done.missing == (1,) and not done.complete
    assert done.text == GAP + "b" * 153 + "c" * 10
    first, _ = segments_of("z" * 200, "7926")
    assert reassemble([first]).text == "z" * 153 + GAP


@settings(max_examples=200)
@given(st.data(), TEXTS, st.booleans())
def test_reassembly_in_any_order_gives_the_text(data: st.DataObject, text: str, sar: bool) -> None:
    parts = segments_of(text + "x" * 161, sar=sar)
    assert reassemble(data.draw(st.permutations(parts))).text == text + "x" * 161
