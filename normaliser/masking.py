"""Personal data masked out of text bound for logs (152-FZ: no personal data in logs)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

from channels.phones import phone_number
from normaliser.identifiers import TICKET_LENGTH, IdentifierKind, scan_identifiers

# The patterns below are wider than those of identifiers.py on purpose: those decide what an
# envelope reports and must be precise, a mask must rather hide too much than too little.

# An email is found by its domain, as identifiers.py reads it, and its local part by walking back
# from the "@": that is several times faster than a pattern that starts at the local part, which
# re must try at every word. The local part is wider than identifiers.py's, which reads only what
# people usually type and so left "ivan!p" of "ivan!petrov@mail.ru" shown: all of RFC 5322 3.2.3
# atext, any dots (sloppy forms accept "ivan.@" and "ivan..petrov@"), or a quoted-string.
_EMAIL_DOMAIN = re.compile(r"@(?:[\w-]+\.)+[^\W\d_]{2,}(?!\w)")
_ATEXT_NOT_ALNUM = frozenset("!#$%&'*+-/=?^_`{|}~.")  # and dots; letters, digits are isalnum()
_QUOTED_LOCAL = re.compile(r'"(?:[^"\\\n]|\\.){1,64}"\Z')  # "ivan petrov"@mail.ru
_QUOTED_LOCAL_CHARS = 2 + 2 * 64  # quotes, and 64 characters each escaped at most

_DIGIT = re.compile(r"\d")  # any script's digit: identifiers.py reads fullwidth digits too

# A zone 7 national number (Russia, Kazakhstan) without +7 or 8 in front, which identifiers.py
# does not read as a phone: "916 123-45-67", "(3412) 12-34-56". Its first three digits stand
# together, which leaves dates and times alone ("31.05.2026 10:30" starts with "31."). National
# numbers never start with 0, 1 or 2, and the pattern itself refuses those, so that a match
# refused afterwards cannot swallow the start of a phone number ("2026 916 123-45-67" is not
# "2026 916 123" and "-45-67"); only another script's digit is left to _mask_national_phone.
# It opens with a character class so that re skips to the next digit or "(" in C: 2.5x faster
# than opening with the lookbehind.
_GAP = r"[\s.()\-\u2010-\u2015\u2212]{0,3}"  # whitespace, hyphens, dashes, minus, dots, brackets
_NATIONAL_PHONE = re.compile(
    rf"""
    [(\d] (?<![\d+][(\d]) (?<![0-2])  # "(" or the first digit, not the tail of a number
    (?: (?<=\() \d (?<![0-2]) | (?<!\() )  # after "(", the first digit
    \d\d                              # the rest of the area code's first three: 916, (3412)
    (?:{_GAP}\d){{7}}                  # the rest in any grouping: 123-45-67, 777 7777, 12-34-56
    (?!\d)
    """,
    re.VERBOSE,
)

# Ticket numbers start with the two last digits of their year (CONTRACTS.md "Ticket numbers").
# A Damm-valid number is read as one only if that year lies between 2026, when this service
# issued its first, and next year (a number from just after New Year further east, a fast clock).
# These years start with 2, and no zone 7 phone number does (see _NATIONAL_PHONE): 916 123-45-64
# would be "year 2091" and is masked. The lower bound keeps other Damm-valid 10-digit numbers (a
# passport's series and number, say) masked. From 2030 the years reach area codes 301 and 302:
# one in ten of those numbers, written as 10 bare digits, would pass as a ticket. Revisit then.
_FIRST_TICKET_YEAR = 2026


def _is_ticket_number(digits: str) -> bool:
    return _FIRST_TICKET_YEAR <= 2000 + int(digits[:2]) <= datetime.now(UTC).year + 1


def _mask_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@***.{domain.rpartition('.')[2].lower()}"


def _mask_phone(e164: str) -> str:
    # A fixed run of stars, so the mask does not tell how long the number was; digits after a
    # "+" that start no country code libphonenumber knows are all starred.
    number = phone_number(e164, None)
    country = "" if number is None else number.country_code
    return f"+{country}*******{e164[-2:]}"


def _mask_inn(inn: str) -> str:
    return "*" * len(inn)


_MASKS: dict[IdentifierKind, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": _mask_phone,
    "snils": lambda _: "***-***-*** **",
    "inn": _mask_inn,
}


def _local_part_start(text: str, at: int, floor: int) -> int:
    if text[at - 1 : at] == '"':
        quoted = _QUOTED_LOCAL.search(text, max(floor, at - _QUOTED_LOCAL_CHARS), at)
        if quoted is not None:
            return quoted.start()
    start = at
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in _ATEXT_NOT_ALNUM):
        start -= 1
    return start


def _mask_emails(text: str) -> str:
    pieces: list[str] = []
    position = 0
    for domain in _EMAIL_DOMAIN.finditer(text):
        start = _local_part_start(text, domain.start(), position)
        if start < domain.start():  # "@mail.ru" with nothing before it is no address
            pieces += (text[position:start], _mask_email(text[start : domain.end()]))
            position = domain.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _mask_identifiers(text: str, ticket_length: int) -> str:
    # Checksums are not verified: a mistyped SNILS is still somebody's SNILS.
    pieces: list[str] = []
    position = 0
    for item in scan_identifiers(text, ticket_length=ticket_length, verify_checksums=False):
        if item.kind != "ticket":
            mask = _MASKS[item.kind](item.value)
        elif _is_ticket_number(item.value):
            continue  # ours, not the citizen's personal data: operators need them in logs
        else:
            # A Damm-valid number of no plausible year: masked as any other bare 10 digits are
            # (an INN, a phone), its marker kept: "№**********".
            mask = text[item.start : item.end - len(item.value)] + _mask_inn(item.value)
        pieces += (text[position : item.start], mask)
        position = item.end
    pieces.append(text[position:])
    return "".join(pieces)


def _mask_national_phone(match: re.Match[str]) -> str:
    written = match.group()
    digits = "".join(str(unicodedata.decimal(ch)) for ch in written if ch.isdecimal())
    # 10 bare digits were _mask_identifiers' to judge: what is left of them is a ticket number.
    if digits[0] in "012" or written.removeprefix("(").isdecimal():
        return written
    return _mask_phone(f"+7{digits}")


def mask_personal_data(text: str, ticket_length: int = TICKET_LENGTH) -> str:
    """Return `text` with emails, phone numbers, SNILS and INN replaced by masks; ticket numbers
    (of `ticket_length` digits, as [tickets] configures them) stay readable."""
    # Most log messages hold neither, and then the passes below are not worth starting.
    if "@" not in text and _DIGIT.search(text) is None:
        return text
    # Emails first, as in identifiers.py: digits in a local part are not a phone number.
    if "@" in text:
        text = _mask_emails(text)
    # No mask holds more than three digits in a row: the passes below find nothing in them.
    return _NATIONAL_PHONE.sub(_mask_national_phone, _mask_identifiers(text, ticket_length))


_NAME_WORD = re.compile(r"[^\W\d_]{3,}")


def mask_names(text: str, names: list[str]) -> str:
    """Return `text` with the words of `names` (the citizen's own, as the sender gave them)
    masked wherever they occur, in any case ending: an operator's «Уважаемый Иван Петрович»
    names the citizen as surely as the form's name field."""
    # Russian names decline, some dropping a vowel («Павел», «Павлу»): a word of five letters
    # or more is matched by its stem less its last two letters, a shorter one whole, each
    # followed by any ending; ё and е are one letter here, as people type them.
    stems = {
        word[:-2] if len(word) >= 5 else word
        for name in names
        for word in _NAME_WORD.findall(name.lower().replace("ё", "е"))
    }
    if not stems:
        return text
    pattern = "|".join(
        re.escape(stem).replace("е", "[её]") for stem in sorted(stems, key=len, reverse=True)
    )
    found = re.compile(rf"\b(?:{pattern})\w*", re.IGNORECASE)
    return found.sub(lambda m: m.group(0)[0] + "***", text)
