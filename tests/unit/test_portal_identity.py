"""The portal's signed identity: what the chat accepts, what it refuses and why, and that the
examples docs/api.md gives the portal's developers sign what the chat accepts."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.webchat.identity import IdentityInvalid, PortalUser, signature, verify

KEY = b"portal-and-omnirouter-share-this"
NOW = 1_764_745_200.0
MAX_AGE = 300.0
API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def signed(
    user_id: str = "42",
    phone: str | None = "+79161234567",
    email: str | None = "Citizen@Example.RU",
    iat: int = int(NOW),
    key: bytes = KEY,
) -> dict[str, Any]:
    """An identity as the portal signs it."""
    sig = signature(key, user_id, phone, email, iat)
    return {"user_id": user_id, "phone": phone, "email": email, "iat": iat, "sig": sig}


def test_a_signed_identity_proves_the_user_with_canonical_phone_and_email() -> None:
    identity = signed(phone="8 (916) 123-45-67", email="Citizen@Example.RU")
    assert verify(identity, KEY, NOW, MAX_AGE) == PortalUser(
        "42", "+79161234567", "citizen@example.ru"
    )


def test_phone_and_email_may_be_absent() -> None:
    assert verify(signed(phone=None, email=None), KEY, NOW, MAX_AGE) == PortalUser("42", None, None)


def test_the_signature_is_over_user_phone_email_and_iat_joined_by_bars() -> None:
    """CONTRACTS.md's text, byte for byte: an absent field is empty."""
    text = b"42|+79161234567||1764745200"
    expected = hmac.new(KEY, text, hashlib.sha256).hexdigest()
    assert signature(KEY, "42", "+79161234567", None, 1764745200) == expected


def test_an_upper_case_hex_signature_is_the_same_signature() -> None:
    identity = signed()
    identity["sig"] = identity["sig"].upper()
    assert verify(identity, KEY, NOW, MAX_AGE).user_id == "42"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"user_id": "43"}, "bad signature", id="another-user"),
        pytest.param({"phone": "+79161234568"}, "bad signature", id="another-phone"),
        pytest.param({"email": None}, "bad signature", id="email-dropped"),
        pytest.param({"iat": int(NOW) + 1}, "bad signature", id="another-iat"),
        pytest.param({"sig": "00" * 32}, "bad signature", id="zero-signature"),
        pytest.param({"sig": "ж" * 64}, "bad signature", id="non-ascii-signature"),
        pytest.param({"iat": "1764745200"}, "malformed", id="iat-as-text"),
        pytest.param({"extra": 1}, "malformed", id="unknown-field"),
    ],
)
def test_a_tampered_identity_is_refused(change: dict[str, Any], reason: str) -> None:
    identity = {**signed(), **change}
    with pytest.raises(IdentityInvalid) as refused:
        verify(identity, KEY, NOW, MAX_AGE)
    assert refused.value.reason.startswith(reason)


def test_a_lone_surrogate_is_refused_not_a_crash() -> None:
    """JSON may escape one ("\\ud800"); no UTF-8 text holds it, so nothing can sign it."""
    with pytest.raises(IdentityInvalid, match="malformed"):
        verify({**signed(), "user_id": "\ud800"}, KEY, NOW, MAX_AGE)


def test_a_missing_field_is_refused() -> None:
    identity = signed()
    del identity["sig"]
    with pytest.raises(IdentityInvalid, match="malformed"):
        verify(identity, KEY, NOW, MAX_AGE)


def test_another_key_proves_nothing() -> None:
    with pytest.raises(IdentityInvalid, match="bad signature"):
        verify(signed(key=b"someone-else's-key"), KEY, NOW, MAX_AGE)


def test_age_is_checked_to_the_second() -> None:
    """Older than identity_max_age is expired; more than a minute ahead is refused."""
    assert verify(signed(iat=int(NOW - MAX_AGE)), KEY, NOW, MAX_AGE).user_id == "42"
    with pytest.raises(IdentityInvalid, match="expired"):
        verify(signed(iat=int(NOW - MAX_AGE) - 1), KEY, NOW, MAX_AGE)
    assert verify(signed(iat=int(NOW) + 60), KEY, NOW, MAX_AGE).user_id == "42"
    with pytest.raises(IdentityInvalid, match="future"):
        verify(signed(iat=int(NOW) + 61), KEY, NOW, MAX_AGE)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"user_id": ""}, "user_id is empty", id="empty-user"),
        # "4|2" with no phone and "4" with phone "2|" would sign the same text.
        pytest.param({"user_id": "4|2", "phone": None}, "user_id is empty", id="bar-in-user"),
        pytest.param({"phone": "12345"}, "phone is not", id="not-a-number"),
        pytest.param({"email": "not-an-address"}, "email is not", id="not-an-address"),
    ],
)
def test_a_signed_but_unusable_identity_is_refused(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(IdentityInvalid) as refused:
        verify(signed(**fields), KEY, NOW, MAX_AGE)
    assert reason in refused.value.reason


@given(
    user_id=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="|"),
        min_size=1,
        max_size=40,
    ),
    flipped=st.integers(0, 63),
)
def test_any_changed_hex_digit_is_refused(user_id: str, flipped: int) -> None:
    identity = signed(user_id=user_id, phone=None, email=None)
    sig = identity["sig"]
    digit = "0" if sig[flipped] != "0" else "1"
    identity["sig"] = sig[:flipped] + digit + sig[flipped + 1 :]
    with pytest.raises(IdentityInvalid, match="bad signature"):
        verify(identity, KEY, NOW, MAX_AGE)


# -- the examples in docs/api.md ----------------------------------------------------------------


def doc_block(language: str, marker: str) -> str:
    """The code block of `language` in docs/api.md that contains `marker`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", API_DOC.read_text(), re.DOTALL)
    [block] = [b for b in blocks if marker in b]
    return block


def test_the_python_example_signs_what_the_chat_accepts() -> None:
    namespace: dict[str, Any] = {}
    exec(doc_block("python", "def sign_identity"), namespace)
    identity = namespace["sign_identity"](KEY, "42", "+79161234567", "citizen@example.ru")
    user = verify(identity, KEY, time.time(), MAX_AGE)
    assert user == PortalUser("42", "+79161234567", "citizen@example.ru")


@pytest.mark.parametrize(
    ("marker", "call"),
    [
        pytest.param(
            "function signIdentity(",
            "console.log(JSON.stringify(signIdentity(KEY, '42', '+79161234567', null)));",
            id="node-crypto",
        ),
        pytest.param(
            "async function signIdentitySubtle(",
            "signIdentitySubtle(KEY, '42', '+79161234567', null)"
            ".then((identity) => console.log(JSON.stringify(identity)));",
            id="web-crypto",
        ),
    ],
)
def test_the_javascript_examples_sign_what_the_chat_accepts(marker: str, call: str) -> None:
    node = shutil.which("node")
    assert node is not None, "node not found: the JavaScript examples need Node.js (make peers)"
    # The key as the portal reads it: the file's text, stripped; not ASCII, to prove UTF-8.
    key_text = "ключ-портала"
    script = f"const KEY = {json.dumps(key_text)};\n{doc_block('js', marker)}\n{call}\n"
    run = subprocess.run(
        [node, "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    identity = json.loads(run.stdout)
    user = verify(identity, key_text.encode(), time.time(), MAX_AGE)
    assert user == PortalUser("42", "+79161234567", None)
