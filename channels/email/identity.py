"""Whether a mail's From address is proven: an aligned DKIM or SPF pass in the
Authentication-Results our own MTA added (RFC 8601, DMARC's alignment of RFC 7489 3.1).

Trust rests on one assumption, which RFC 8601 5 makes a duty of the MTA: the border MTA named
by `authserv_id` deletes every Authentication-Results header claiming its id that it did not
add itself, so a sender cannot forge ours. Besides, headers are added at the top as mail
travels (RFC 8601 5, like Received), so ours are the topmost: only the run of them above any
other host's header counts, and a header of our id below another host's is a forgery however
the MTA is set up.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from functools import cache
from typing import Literal, NamedTuple

import authres
from publicsuffixlist import PublicSuffixList

from channels.email.headers import addresses, raw_values

Method = Literal["dkim", "spf"]


class Verification(NamedTuple):
    """The From address (domain in lower case; None if there is not exactly one), whether it
    is proven, by which method, and why, for operators: the reason names no address."""

    address: str | None
    verified: bool
    method: Method | None
    reason: str


class _Pass(NamedTuple):
    method: Method
    domain: str


@cache
def _public_suffixes() -> PublicSuffixList:
    # The Public Suffix List as publicsuffixlist bundles it, refreshed with each release:
    # no lookup at run time (the daemon has no internet), as DMARC's own RFC 7489 3.2 allows.
    return PublicSuffixList()


def organisational_domain(domain: str) -> str | None:
    """The registered domain `domain` belongs to (RFC 7489 3.2): mail.example.ru and
    example.ru give example.ru, but a.msk.ru and b.msk.ru are two (msk.ru is a public suffix).
    None if `domain` is no valid domain name or a public suffix itself."""
    try:
        ascii_domain = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if not ascii_domain or "." not in ascii_domain:
        return None
    found: str | None = _public_suffixes().privatesuffix(ascii_domain)
    return found


def verified_sender(message: EmailMessage, *, authserv_id: str) -> Verification:
    """Whether `message`'s From is proven by the Authentication-Results `authserv_id` added."""
    authors = [address for address in addresses(message, "From") if address]
    if len(raw_values(message, "From")) != 1 or len(authors) != 1:
        # RFC 7489 6.6.1: with several authors there is no one domain to align with.
        return Verification(None, False, None, "not exactly one From address")
    local, at, domain = authors[0].rpartition("@")
    if not (local and at and domain):
        return Verification(None, False, None, "the From address has no domain")
    address = f"{local}@{domain.lower()}"
    author = organisational_domain(domain)
    if author is None:
        return Verification(address, False, None, "the From domain is no registered domain")
    passes: list[_Pass] = []
    try:
        for found in _our_passes(message, authserv_id):
            passes.append(found)
            if organisational_domain(found.domain) == author:
                return Verification(address, True, found.method, f"aligned {found.method}=pass")
    except authres.AuthResError:
        return Verification(address, False, None, "unreadable Authentication-Results header")
    if passes:
        return Verification(address, False, None, "dkim or spf passed for another domain")
    return Verification(address, False, None, f"no dkim or spf pass from {authserv_id}")


def _our_passes(message: EmailMessage, authserv_id: str) -> Iterator[_Pass]:
    """Each dkim or spf pass, with its domain, in the topmost run of Authentication-Results
    headers that `authserv_id` added; AuthResError for one that cannot be read."""
    for value in raw_values(message, "Authentication-Results"):
        header = authres.AuthenticationResultsHeader.parse_value(value)
        if str(header.authserv_id).lower() != authserv_id.lower():
            return  # another host's: it and everything below it came from outside
        for result in header.results:
            if result.result.lower() != "pass":
                continue
            method = str(result.method).lower()
            properties = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
            # DKIM aligns by its d= (RFC 7489 3.1.1; the i= identity's domain where a verifier
            # reports only that), SPF by the MAIL FROM's domain (3.1.2), never by HELO.
            if method == "dkim":
                signer = properties.get("header.d") or properties.get("header.i", "")
                if signer:
                    yield _Pass("dkim", signer.rpartition("@")[2])
            elif method == "spf" and (mail_from := properties.get("smtp.mailfrom")):
                yield _Pass("spf", mail_from.rpartition("@")[2])
