"""Personal data masked out of text bound for logs (152-FZ: no personal data in logs)."""

from __future__ import annotations

from collections.abc import Callable

from normaliser.identifiers import IdentifierKind, phone_country_code, scan_identifiers


def _mask_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@***.{domain.rpartition('.')[2]}"


def _mask_phone(e164: str) -> str:
    # A fixed run of stars, so the mask does not tell how long the number was.
    return f"+{phone_country_code(e164)}*******{e164[-2:]}"


def _mask_inn(inn: str) -> str:
    return "*" * len(inn)


# Ticket numbers are ours, not the citizen's personal data: operators need them in logs.
_MASKS: dict[IdentifierKind, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": _mask_phone,
    "snils": lambda _: "***-***-*** **",
    "inn": _mask_inn,
}


def mask_personal_data(text: str) -> str:
    """Return `text` with emails, phone numbers, SNILS and INN replaced by masks."""
    # Checksums are not verified: a mistyped SNILS is still somebody's SNILS.
    pieces: list[str] = []
    position = 0
    for item in scan_identifiers(text, verify_checksums=False):
        mask = _MASKS.get(item.kind)
        if mask is not None:
            pieces += (text[position : item.start], mask(item.value))
            position = item.end
    pieces.append(text[position:])
    return "".join(pieces)
