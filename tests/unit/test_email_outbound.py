"""A notice as a MIME message: the same Message-ID on every attempt, threaded to the citizen's
mail, marked automatic as RFC 3834 asks, text and HTML in UTF-8, and a DKIM signature a
receiver verifies against the key the domain publishes."""

from __future__ import annotations

import base64

import dkim
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.contract import Outbound, OutboundFile, Threading
from channels.email.config import EmailAccount
from channels.email.outbound import compose, signed

ACCOUNT = EmailAccount.model_validate(
    {
        "address": "support@gov.example",
        "display_name": "Служба поддержки",
        "dkim": {"domain": "gov.example", "selector": "s1", "key_file": "dkim.key"},
    }
)
NOTICE = Outbound(
    id="01M8XDD3MDXMCT2R06CR0W0CJ8",
    channel="email",
    account="support",
    address="ivan@mail.example",
    kind="confirmation",
    ticket="2600000014",
    text="Ваше обращение №2600000014 зарегистрировано.",
    created_at="2026-12-03T10:00:00.000Z",
    subject="[№2600000014] Обращение зарегистрировано",
    html="<p>Ваше обращение №2600000014 зарегистрировано.</p>",
    threading=Threading("<m1@mail.example>", ["<m0@mail.example>", "<m1@mail.example>"]),
    answers=True,
)


def test_a_notice_is_the_same_message_on_every_attempt() -> None:
    first, again = compose(NOTICE, ACCOUNT), compose(NOTICE, ACCOUNT)
    assert (
        first["Message-ID"]
        == again["Message-ID"]
        == ("<01M8XDD3MDXMCT2R06CR0W0CJ8.notice@gov.example>")
    )
    assert first["In-Reply-To"] == "<m1@mail.example>"
    assert first["References"] == "<m0@mail.example> <m1@mail.example>"
    assert first["Auto-Submitted"] == "auto-replied"
    assert first["X-Omnirouter-Notice"] == NOTICE.id
    assert first.get_body(("plain",)).get_content().strip() == NOTICE.text
    assert "зарегистрировано" in first.get_body(("html",)).get_content()


def test_a_status_change_is_auto_generated_and_a_reply_not_automatic() -> None:
    status = msgspec.structs.replace(NOTICE, kind="status", answers=False)
    reply = msgspec.structs.replace(NOTICE, kind="reply", automatic=False, answers=False)
    assert compose(status, ACCOUNT)["Auto-Submitted"] == "auto-generated"
    assert compose(reply, ACCOUNT)["Auto-Submitted"] is None


def test_an_operators_file_goes_with_the_reply() -> None:
    described = OutboundFile("a1", "справка.pdf", "application/pdf", 8)
    mail = compose(NOTICE, ACCOUNT, [(described, b"%PDF-1.4")])
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "справка.pdf"
    assert attached.get_content() == b"%PDF-1.4"


def test_the_dkim_signature_verifies_against_the_published_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"s1._domainkey.gov.example." else b""

    raw = signed(compose(NOTICE, ACCOUNT), ACCOUNT, private)
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=dns)
    tampered = raw.replace("зарегистрировано".encode(), "отклонено".encode())
    assert not dkim.verify(tampered, dnsfunc=dns)
