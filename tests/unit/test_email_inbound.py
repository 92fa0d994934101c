"""What is committed of a mail before anything parses it (inbound.received): any header at all
gives a Received holding the bytes as they came, never an error, which would lose the mail."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.email import inbound

# Pieces of address syntax (RFC 5322 3.4) and of encoded-words (RFC 2047), which the stdlib's
# header classes stumble on in ways a run of random bytes seldom reaches.
PIECES = [b"@", b"[", b"]", b"<", b">", b"(", b")", b'"', b":", b";", b",", b".", b"\\", b" ",
          b"\t", b"=?", b"?=", b"=?utf-8?b?", b"=?x?q?", b"a", b"b", b"\xff", b"\x00", b"\r\n ",
          b"\xd0\x98"]  # fmt: skip
FIELDS = [b"From", b"Message-ID", b"Sender", b"Reply-To", b"To", b"Subject", b"X-Any"]
value = st.one_of(st.lists(st.sampled_from(PIECES), max_size=30).map(b"".join), st.binary())
field = st.tuples(st.sampled_from(FIELDS), value).map(lambda f: f[0] + b": " + f[1] + b"\r\n")


@settings(max_examples=500)
@given(st.lists(field, max_size=6), st.binary(max_size=200))
@example([b"From: a@[b\r\n"], b"")
def test_any_header_is_received_as_it_came(fields: list[bytes], body: bytes) -> None:
    raw = b"".join(fields) + b"\r\n" + body
    received = inbound.received(raw, "support", {"transport": "lmtp"})
    assert received.payload == raw and received.idempotency_key
    assert received.sender is None or received.sender.kind == "email"


@pytest.mark.parametrize(
    "line",
    # The stdlib raises HeaderParseError, UnboundLocalError, AttributeError on these (3.11).
    [b"From: a@[b", b"FROM: .<=B;(] <Q\xff/?", b"From: \x00\xff@[\t=\t?\t\x00=,/c@(",
     b"From: ivan@", b"From: <"],
)  # fmt: skip
def test_a_from_no_one_can_read_leaves_the_sender_unknown(line: bytes) -> None:
    raw = line + b"\r\nMessage-ID: <q1@mail.example>\r\nSubject: x\r\n\r\nHello\r\n"
    received = inbound.received(raw, "support", {})
    assert received.idempotency_key == "<q1@mail.example>"
    assert received.sender is None


def test_a_readable_from_is_the_unverified_sender() -> None:
    raw = b"From: Ivan <Ivan@Mail.Example>\r\nSubject: x\r\n\r\nHello\r\n"
    received = inbound.received(raw, "support", {})
    assert received.sender is not None and not received.sender.verified
    assert (received.sender.address, received.sender.display_name) == ("ivan@mail.example", "Ivan")
    assert received.idempotency_key.startswith("sha256:")
