"""A From address is verified only by an aligned DKIM or SPF pass that our own MTA reported."""

from __future__ import annotations

import pytest

from channels.email.identity import Verification, organisational_domain, verified_sender
from tests.email_corpus import CORPUS, MALFORMED_HEADERS, parse, with_header

OURS = "mx.gov.example"


def check(*results: str, sender: str = "Иван Петров <Ivan.Petrov@Example.RU>") -> Verification:
    headers = "".join(f"Authentication-Results: {value}\n" for value in results)
    message = parse(
        f"{headers}Received: from mail.example.ru by mx.gov.example; Wed, 25 Nov 2026 10:00 +0300\n"
        f"From: {sender}\nTo: support@gov.example\nSubject: Справка\n"
        "Content-Type: text/plain; charset=utf-8\n\nПрошу выдать справку.\n"
    )
    return verified_sender(message, authserv_id=OURS)


def test_an_aligned_dkim_pass() -> None:
    result = check(f"{OURS}; dkim=pass header.d=example.ru header.s=mail; spf=fail")
    assert (result.verified, result.method) == (True, "dkim")
    assert result.address == "Ivan.Petrov@example.ru"


@pytest.mark.parametrize(
    ("signer", "sender"),
    [
        ("mail.example.ru", "ivan@example.ru"),  # signed by a subdomain
        ("example.ru", "ivan@lk.example.ru"),  # sent from a subdomain
        ("mail.example.ru", "ivan@lk.example.ru"),
        ("EXAMPLE.RU", "ivan@example.ru"),
        ("xn--80a1acny.xn--p1ai", "ivan@почта.рф"),  # the same domain, once in punycode
    ],
)
def test_relaxed_alignment(signer: str, sender: str) -> None:
    result = check(f"{OURS}; dkim=pass header.d={signer}", sender=sender)
    assert result.verified


def test_dkim_alignment_by_the_identity_where_no_domain_is_given() -> None:
    assert check(f"{OURS}; dkim=pass header.i=@mail.example.ru").verified


def test_an_aligned_spf_pass() -> None:
    result = check(f"{OURS}; dkim=none; spf=pass smtp.mailfrom=bounces@mail.example.ru")
    assert (result.verified, result.method) == (True, "spf")
    assert check(f"{OURS}; spf=pass smtp.mailfrom=example.ru").verified


@pytest.mark.parametrize(
    "results",
    [
        f"{OURS}; dkim=pass header.d=mailer.example.com",  # a mailing service's own domain
        f"{OURS}; spf=pass smtp.mailfrom=bounce@sendgrid.example.net",
        f"{OURS}; spf=pass smtp.helo=mail.example.ru",  # HELO aligns nothing
        f"{OURS}; dkim=pass header.d=evil-example.ru",
        f"{OURS}; dkim=pass header.d=ru",
    ],
)
def test_a_pass_for_another_domain(results: str) -> None:
    result = check(results)
    assert not result.verified and result.method is None


def test_the_public_suffix_list_separates_neighbours() -> None:
    # msk.ru is a public suffix: petrov.msk.ru and sidorov.msk.ru are two registrants.
    assert organisational_domain("mail.petrov.msk.ru") == "petrov.msk.ru"
    result = check(f"{OURS}; dkim=pass header.d=sidorov.msk.ru", sender="i@petrov.msk.ru")
    assert not result.verified
    assert organisational_domain("msk.ru") is None
    assert organisational_domain("localhost") is None


@pytest.mark.parametrize("verdict", ["fail", "none", "temperror", "permerror", "neutral", "policy"])
def test_anything_but_pass(verdict: str) -> None:
    result = check(
        f"{OURS}; dkim={verdict} header.d=example.ru; spf={verdict} smtp.mailfrom=example.ru"
    )
    assert not result.verified
    assert result.reason == f"no dkim or spf pass from {OURS}"


def test_a_pass_from_another_authserv_id() -> None:
    result = check(
        "mx.google.com; dkim=pass header.d=example.ru; spf=pass smtp.mailfrom=example.ru"
    )
    assert not result.verified
    assert OURS in result.reason


def test_the_authserv_id_in_any_case_and_with_a_version() -> None:
    assert check("MX.Gov.Example 1; dkim=pass header.d=example.ru").verified


def test_several_headers_of_ours() -> None:
    # OpenDKIM and an SPF policy daemon each add their own header, both with our id.
    assert check(
        f"{OURS}; spf=none smtp.mailfrom=example.ru", f"{OURS}; dkim=pass header.d=example.ru"
    ).verified


def test_a_forged_header_below_ours() -> None:
    # The sender wrote the last one; the hop between (a relay's header) shows it came from
    # outside even where our MTA would leave it in place.
    result = check(
        f"{OURS}; dkim=fail header.d=example.ru; spf=softfail smtp.mailfrom=example.ru",
        "relay.example.net; dkim=pass header.d=example.ru",
        f"{OURS}; dkim=pass header.d=example.ru; spf=pass smtp.mailfrom=example.ru",
    )
    assert not result.verified


def test_a_forged_header_alone_below_another_host_s() -> None:
    result = check("relay.example.net; none", f"{OURS}; dkim=pass header.d=example.ru")
    assert not result.verified


@pytest.mark.parametrize(
    "header",
    [
        f"{OURS}; dkim",
        f"{OURS}",
        "; dkim=pass header.d=example.ru",
        f"{OURS}; spf=pass smtp.mailfrom=<ivan@example.ru>",
    ],
)
def test_an_unreadable_header(header: str) -> None:
    result = check(header)
    assert not result.verified
    assert result.reason == "unreadable Authentication-Results header"


def test_no_header_at_all() -> None:
    result = check()
    assert not result.verified and result.address == "Ivan.Petrov@example.ru"


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("ivan@example.ru, anna@example.ru", "not exactly one From address"),
        ("undisclosed-recipients:;", "not exactly one From address"),
        ("", "not exactly one From address"),
        ("ivan@", "not exactly one From address"),  # what the stdlib's header class raises on
        ("ivan", "the From address has no domain"),
        ("ivan@localhost", "the From domain is no registered domain"),
    ],
)
def test_a_from_that_cannot_be_aligned(sender: str, reason: str) -> None:
    result = check(f"{OURS}; dkim=pass header.d=example.ru", sender=sender)
    assert (result.verified, result.reason) == (False, reason)


def test_two_from_headers() -> None:
    text = (CORPUS / "autoreplies" / "ordinary-citizen.eml").read_text()
    signed = f"Authentication-Results: {OURS}; dkim=pass header.d=example.org\n{text}"
    assert verified_sender(parse(signed), authserv_id=OURS).verified
    twice = signed.replace("To: support", "From: i.petrov@example.org\nTo: support")
    result = verified_sender(parse(twice), authserv_id=OURS)
    assert (result.verified, result.reason) == (False, "not exactly one From address")


def test_the_reason_names_no_address() -> None:
    result = check(f"{OURS}; dkim=pass header.d=mailer.example.com")
    assert "example.ru" not in result.reason.lower() and "ivan" not in result.reason.lower()


@pytest.mark.parametrize("line", MALFORMED_HEADERS)
def test_malformed_headers_are_read_as_text(line: str) -> None:
    assert not verified_sender(with_header(line), authserv_id=OURS).verified
