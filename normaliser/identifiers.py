"""Identifiers citizens write (DOMAIN.md): SNILS, INN, phones, emails and ticket numbers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal, NamedTuple

import msgspec
import phonenumbers
from phonenumbers import PhoneNumberFormat

from channels.contract import Sender
from channels.phones import HOME_REGION, canonical_phone, phone_number
from normaliser import damm
from normaliser.envelope import Identifiers

IdentifierKind = Literal["email", "snils", "phone", "ticket", "inn"]

TICKET_LENGTH = 10  # CONTRACTS.md "Ticket numbers": 2-digit year + 7-digit counter + Damm digit

# What citizens put between digit groups: space, no-break space U+00A0, thin space U+2009,
# narrow no-break space U+202F (phones' keyboards and Word insert these), hyphen-minus,
# hyphen U+2010, non-breaking hyphen U+2011, figure dash U+2012, en dash U+2013, and dots.
_SEPARATOR_CHARS = r"\x20\u00A0\u2009\u202F\-\u2010-\u2013."
_SEP = f"[{_SEPARATOR_CHARS}]"
# Between two digits of a phone number: up to three separators or parentheses, as in "8 (495) 7".
_PHONE_GAP = f"[{_SEPARATOR_CHARS}()]{{0,3}}"
_NON_DIGIT = re.compile(r"\D")
# Python's \d is Unicode category Nd, so this finds fullwidth, Arabic-Indic, etc. digits.
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")

_EMAIL = re.compile(
    r"""
    (?<![\w.%+-])                          # start of a token, not the middle of one
    (?P<local>[\w%+-]+(?:\.[\w%+-]+)*)     # RFC 5322 3.2.3 dot-atom, the subset people type
    @
    (?P<domain>(?:[\w-]+\.)+[^\W\d_]{2,})  # RFC 1035 2.3.1 labels; alphabetic TLD, .рф included
    (?!\w)
    """,
    re.VERBOSE,
)

# SNILS as printed on the card, "123-456-789 01": it claims its digits before the phone rule,
# which would otherwise read 812-345-678 90 as +7 123 456-78-90.
_SNILS_GROUPED = re.compile(
    rf"""
    (?<!\d)
    \d{{3}} {_SEP} \d{{3}} {_SEP} \d{{3}} {_SEP}? \d{{2}}   # 9 digits of number, 2 check digits
    (?!\d)
    """,
    re.VERBOSE,
)
# SNILS typed as 11 bare digits; tried after phones, so 8XXXXXXXXXX stays a phone number.
_SNILS_PLAIN = re.compile(r"(?<!\d) \d{11} (?!\d)", re.VERBOSE)

# Phone numbers in free text: these patterns find the candidates, and libphonenumber says which
# are valid numbers (_phone_is_valid) and reads the international ones (_international_value).
# Not its own PhoneNumberMatcher: that reads "СНИЛС 891-612-345 20" and the digits of
# "89161234567@mail.ru" as phone numbers, which the precedence of _rules() settles here, and
# misses "8\u202f800\u202f555-35-35" (DOMAIN.md), since its separators lack U+202F and U+2009.
_PHONE_RU = re.compile(
    rf"""
    (?<![\d+])                 # not the tail of a longer number
    (?:\+7|7|8)                # country code 7, or 8, the domestic trunk prefix
    (?:{_PHONE_GAP}\d){{10}}   # 10-digit national number in any grouping: (495) 777-77-77,
                               # (3412) 12-34-56, 800 555 35 35
    (?!\d)
    """,
    re.VERBOSE,
)
_PHONE_INTERNATIONAL = re.compile(
    rf"""
    (?<![\d+])
    \+(?!7)\d                  # ITU-T E.164 country code; +7 is read by the rule above
    (?:{_PHONE_GAP}\d){{7,14}} # E.164 allows 15 digits at most; under 8 is not a phone number
    (?!\d)
    """,
    re.VERBOSE,
)

# INN: 10 digits for an organisation, 12 for a person; bare digits only.
_INN = re.compile(r"(?<!\d) (?:\d{12}|\d{10}) (?!\d)", re.VERBOSE)


@lru_cache(maxsize=4)
def _ticket_pattern(length: int) -> re.Pattern[str]:
    return re.compile(
        rf"""
        (?P<marker>(?:[№\#]|(?<![^\W\d_])N)\x20?)?  # №2600000128, #2600000128, N 2600000128
                                                  # ("N" not the end of a word: "INN 7707083893")
        (?<!\d) (?P<number>\d{{{length}}}) (?!\d)  # exactly `length` digits bounded by non-digits
        """,
        re.VERBOSE,
    )


# What may stand right before a number to say it is a request number: «обращение», «заявка»,
# «запрос» in any case form, "ticket", "request", «статус»/"/status@bot" (a status query),
# optionally with «номер»/«за номером» ("заявка номер 2600000128"), and earlier numbers of a list
# ("по заявкам 2600000128, 2600000131 и 2600000144"). Searched case-insensitively up to the
# number's start.
_TICKET_WORDS = r"(?:обращени|заявк|запрос|тикет|ticket|request|статус|status)\w*(?:@\w+)?"
_CONTEXT_CHARS = 160  # how far before a number its context is looked for


@lru_cache(maxsize=4)
def _ticket_context(length: int) -> re.Pattern[str]:
    return re.compile(
        rf"""
        (?<!\w) {_TICKET_WORDS}
        (?:\s+(?:за\s+)?(?:номер|number|no\.?)\w*)?
        (?: [\s:()\-\u2013\u2014]* (?:[№\#N]\x20?)? \d{{{length}}}
            (?:\s*[,;/]\s*|\s+(?:и|and)\s+) )*
        [\s:()\-\u2013\u2014]* \Z
        """,
        re.VERBOSE | re.IGNORECASE,
    )


# "ИНН 7707084174", "INN: №7707084174": the writer says it is an INN.
_INN_LABEL = re.compile(r"(?<!\w)(?:инн|inn)[\s:\-\u2013\u2014]*\Z", re.IGNORECASE)

# Ticket numbers start with the last two digits of the year they were issued in (CONTRACTS.md);
# this service issued its first in 2026, and a number from next year may come from a clock a
# little ahead. The same bounds as normaliser/masking.py's, which keeps such numbers readable.
_FIRST_TICKET_YEAR = 2026


def _of_a_ticket_year(digits: str) -> bool:
    return _FIRST_TICKET_YEAR <= 2000 + int(digits[:2]) <= datetime.now(UTC).year + 1


def _ascii_digits(text: str) -> str:
    # One character for one character, so spans found here are spans in the original text.
    if text.isascii():
        return text
    return _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)


def snils_is_valid(digits11: str) -> bool:
    """True if 11 digits form a SNILS whose two check digits match its first nine."""
    if len(digits11) != 11 or not (digits11.isascii() and digits11.isdigit()):
        return False
    number, check = digits11[:9], int(digits11[9:])
    # The Pension Fund rule checks only numbers above 001-001-998; earlier ones were issued
    # before the check digits existed.
    if int(number) <= 1_001_998:
        return True
    total = sum(int(digit) * weight for digit, weight in zip(number, range(9, 0, -1), strict=True))
    # Under 100 the sum is the check number; 100 and 101 give 00; above, the sum mod 101,
    # where 100 again gives 00. "mod 101 then mod 100" is all four cases at once.
    return check == total % 101 % 100


# INN check digits (Federal Tax Service order): each is the weighted sum of the digits before
# it, mod 11, mod 10. A 10-digit INN has one check digit, a 12-digit INN two.
_INN_WEIGHTS: dict[int, tuple[tuple[int, ...], ...]] = {
    10: ((2, 4, 10, 3, 5, 9, 4, 6, 8),),
    12: ((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)),
}


def inn_is_valid(digits: str) -> bool:
    """True if `digits` is a 10- or 12-digit INN whose check digits are right."""
    weight_sets = _INN_WEIGHTS.get(len(digits))
    if weight_sets is None or not (digits.isascii() and digits.isdigit()):
        return False
    for weights in weight_sets:
        checked, check_digit = digits[: len(weights)], int(digits[len(weights)])
        if sum(int(d) * w for d, w in zip(checked, weights, strict=True)) % 11 % 10 != check_digit:
            return False
    return True


def _email_value(match: str) -> str:
    local, _, domain = match.rpartition("@")
    return f"{local}@{domain.lower()}"  # domains are case-insensitive (RFC 1035 2.3.3)


def canonical_sender(sender: Sender) -> Sender:
    """The sender with a phone in E.164 and an email's domain in lower case, as found in text.

    A form's typed-in phone and an SMS from the same number must be one identity. A phone that
    is no valid number is kept as written: it matches no one's E.164 identity.
    """
    if sender.kind == "phone":
        address = canonical_phone(sender.address, HOME_REGION) or sender.address.strip()
    elif sender.kind == "email" and "@" in sender.address:
        address = _email_value(sender.address.strip())
    else:
        return sender
    return msgspec.structs.replace(sender, address=address)


def _digits(match: str) -> str:
    return _NON_DIGIT.sub("", match)


def _zone7_value(match: re.Match[str]) -> str:
    # _PHONE_RU has read +7, 7 or the trunk prefix 8 before the 10 national digits: "8 10 …",
    # which libphonenumber would dial abroad (8~10 is Russia's old international prefix), is
    # masked as what the writer meant, a mistyped Russian number.
    return "+7" + _digits(match.group())[-10:]


def _international_value(match: re.Match[str]) -> str:
    # libphonenumber's reading drops a national prefix written in brackets: "+44 (0)20 7946 0958".
    written = match.group()
    number = phone_number(written, None)
    if number is None:  # a country code no plan has, "+999 …": its digits are all there is
        return "+" + _digits(written)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _phone_is_valid(value: str) -> bool:
    return canonical_phone(value, None) is not None


def _snils_value(match: str) -> str:
    d = _digits(match)
    return f"{d[:3]}-{d[3:6]}-{d[6:9]} {d[9:]}"


def _snils_checksum(value: str) -> bool:
    return snils_is_valid(_digits(value))


# A ticket number and a 10-digit INN (or a 12-digit one, with [tickets] counter_digits = 9)
# look alike, and about one valid INN in ten passes the Damm check too. Which one such a number
# is, the words around it tell:
# - not a valid INN: a ticket number (the Damm check is all a ticket number has);
# - labelled as an INN («ИНН 7707084174», even «ИНН №…»): an INN only;
# - marked as a ticket number (№/#/N, as in the email subject hook «[№2600000128]») or right
#   after «обращение», «заявка», «номер обращения», «статус» and the like: a ticket number only.
#   Reporting each marked ticket number that happens to pass the INN check (one in ten of ours)
#   as an INN would fill envelopes with INNs nobody wrote;
# - written bare: an INN, since nothing says it is a ticket number; and a ticket number as well
#   if it starts with a year tickets were issued in (bare "2600000038" may be a citizen quoting
#   their ticket in an SMS: losing that reference would file the message as a new ticket, while
#   an extra reference to a number no ticket has is ignored by routing). So «Мой ИНН 3170669073»
#   and bare "3170669073" are an INN only, bare "2600000038" is both.
# Masking (normaliser/masking.py) sees one kind a span: marked and bare numbers of a ticket year
# stay readable as tickets, as before; everything else that passes the INN check is masked.
class _Reading(NamedTuple):
    ticket: bool
    inn: bool


def _ticket_reading(match: re.Match[str]) -> _Reading:
    digits = _digits(match["number"])
    if not damm.is_valid(digits):
        return _Reading(ticket=False, inn=False)  # the INN rule reads it, if anything
    if not inn_is_valid(digits):
        return _Reading(ticket=True, inn=False)
    text, start, number_start = match.string, match.start(), match.start("number")
    if _INN_LABEL.search(text, max(0, start - _CONTEXT_CHARS), start):
        return _Reading(ticket=False, inn=True)
    context = _ticket_context(len(digits))
    if match["marker"] or context.search(text, max(0, number_start - _CONTEXT_CHARS), start):
        return _Reading(ticket=True, inn=False)
    return _Reading(ticket=_of_a_ticket_year(digits), inn=True)


def _ticket_value(match: re.Match[str]) -> str | None:
    return _digits(match["number"]) if _ticket_reading(match).ticket else None


def _inn_as_well(match: re.Match[str]) -> IdentifierKind | None:
    return "inn" if _ticket_reading(match).inn else None


def _whole(value: Callable[[str], str | None]) -> Callable[[re.Match[str]], str | None]:
    return lambda match: value(match.group())


def _no_checksum(value: str) -> bool:
    return True


def _nothing_else(match: re.Match[str]) -> IdentifierKind | None:
    return None


class _Rule(NamedTuple):
    kind: IdentifierKind
    pattern: re.Pattern[str]
    # The canonical value of a match, or None if the match is not this kind after all
    # (a Damm-invalid ticket, an impossible phone number); a non-None value claims the span.
    value: Callable[[re.Match[str]], str | None]
    # Whether a claimed value is reported; skipped when masking, since a mistyped SNILS is still
    # personal data.
    checksum: Callable[[str], bool]
    # Another kind the claimed value is reported as too (a bare ticket number that is a valid INN).
    also: Callable[[re.Match[str]], IdentifierKind | None] = _nothing_else


@lru_cache(maxsize=4)
def _rules(ticket_length: int) -> tuple[_Rule, ...]:
    # Order is precedence: an earlier rule's match claims its characters from later rules.
    return (
        _Rule("email", _EMAIL, _whole(_email_value), _no_checksum),
        _Rule("snils", _SNILS_GROUPED, _whole(_snils_value), _snils_checksum),
        # Every phone candidate claims its digits, valid or not (_phone_is_valid says what is
        # reported): they are no SNILS, INN or ticket number, and a mistyped number is still
        # someone's to mask.
        _Rule("phone", _PHONE_RU, _zone7_value, _phone_is_valid),
        _Rule("phone", _PHONE_INTERNATIONAL, _international_value, _phone_is_valid),
        _Rule("ticket", _ticket_pattern(ticket_length), _ticket_value, _no_checksum, _inn_as_well),
        _Rule("snils", _SNILS_PLAIN, _whole(_snils_value), _snils_checksum),
        _Rule("inn", _INN, _whole(_digits), inn_is_valid),
    )


class Found(msgspec.Struct, frozen=True):
    """One identifier in a text: its kind, canonical value and [start, end) span.

    `also` is another kind the same value is (a bare ticket number that is a valid INN): one
    span, one kind for masking; find_identifiers reports it under both.
    """

    kind: IdentifierKind
    value: str
    start: int
    end: int
    also: IdentifierKind | None = None


def scan_identifiers(
    text: str, *, ticket_length: int = TICKET_LENGTH, verify_checksums: bool = True
) -> list[Found]:
    """Return every identifier in `text` in order of position, each span claimed by one kind."""
    searchable = _ascii_digits(text)
    claimed: list[tuple[int, int]] = []
    found: list[Found] = []
    for rule in _rules(ticket_length):
        for match in rule.pattern.finditer(searchable):
            start, end = match.span()
            if any(start < c_end and c_start < end for c_start, c_end in claimed):
                continue
            value = rule.value(match)
            if value is None:
                continue
            claimed.append((start, end))
            if not verify_checksums or rule.checksum(value):
                found.append(Found(rule.kind, value, start, end, rule.also(match)))
    found.sort(key=lambda f: f.start)
    return found


def find_identifiers(text: str, *, ticket_length: int = TICKET_LENGTH) -> Identifiers:
    """Return the verified identifiers in `text`, deduplicated, in order of first appearance."""
    values: dict[IdentifierKind, list[str]] = {
        "email": [],
        "snils": [],
        "phone": [],
        "ticket": [],
        "inn": [],
    }
    for item in scan_identifiers(text, ticket_length=ticket_length):
        for kind in (item.kind, item.also):
            if kind is not None and item.value not in values[kind]:
                values[kind].append(item.value)
    return Identifiers(
        snils=values["snils"],
        inn=values["inn"],
        phones=values["phone"],
        emails=values["email"],
        ticket_refs=values["ticket"],
    )
