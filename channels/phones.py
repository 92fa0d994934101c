"""Phone numbers as one identity on every channel: E.164 by Google's libphonenumber."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

# Where a number citizens write without a country code is dialled (ISO 3166-1 alpha-2). Not a
# setting: the patterns that find phone numbers in free text and in logs read zone 7's national
# forms (a trunk prefix 8, 10-digit national numbers), so another home would need those too.
HOME_REGION = "RU"

# What people put between digit groups: any width of space (the narrow no-break U+202F and thin
# U+2009 that phones' keyboards and Word insert, which libphonenumber does not accept), dashes
# of any kind (Unicode category Pd: U+2011 non-breaking hyphen, en dash), dots and brackets.
_BRACKETS_AND_DOTS = frozenset("().")
# Only digits, after a "+" if any: letters would be read as a keypad's ("8 800 FLOWERS"), an
# extension ("доб. 12") reaches no phone; neither identifies the person who wrote it.
_DIALLED = re.compile(r"\+?\d+")
# Numbers canonicalised lately. An SMS's MSISDN is read three times (by the adapter for the
# journal, by the parser when filing, and as the sender by the normaliser), some 30 us each in
# libphonenumber; a citizen writes again from the same number.
CANONICAL_CACHE = 4096
# Longer than any number written by hand, spaces, brackets and dashes included ("+7 (916)
# 123-45-67" is 18): not a phone number. It also bounds what the cache keeps of what a form's
# sender typed to 4096 short strings.
LONGEST_WRITTEN = 64


def phone_number(raw: str, region: str | None) -> PhoneNumber | None:
    """The number written in `raw` as libphonenumber reads it, valid or not; None if unreadable.

    `region` is where a number written without its country code is dialled: HOME_REGION for
    what citizens type; None where the peer always gives the international number, "+" or not
    (an SMSC's MSISDN "79161234567" of type of number international, a Telegram contact's
    phone_number).
    """
    compact = "".join(
        ch
        for ch in raw
        if not (ch.isspace() or ch in _BRACKETS_AND_DOTS or unicodedata.category(ch) == "Pd")
    )
    if not _DIALLED.fullmatch(compact):
        return None
    if region is None and not compact.startswith("+"):
        compact = "+" + compact
    try:
        return phonenumbers.parse(compact, region)
    except NumberParseException:
        return None


def canonical_phone(raw: str, region: str | None) -> str | None:
    """The E.164 form ("+79161234567") of the valid phone number in `raw`, else None.

    Valid means in a range the country's numbering plan assigns, with its length: "+7 123 …"
    or "+7 916 123-45-6" is nobody's number, so it is no identity either. `region` as in
    phone_number(): "8 (916) 123-45-67", "9161234567" and "79161234567" from a form (HOME_REGION),
    and "79161234567" from an SMSC or Telegram (None), are all "+79161234567".
    """
    if len(raw) > LONGEST_WRITTEN:
        return None
    # A number with its "+" reads the same from every region, and so does a peer's number
    # without it (region None): one cache entry for an MSISDN however the caller spells it.
    if region is None and raw.isascii() and raw.isdigit():
        raw = "+" + raw
    key = (raw, None if raw.startswith("+") else region)
    with _CANONICAL_LOCK:
        if key in _CANONICAL:
            _CANONICAL.move_to_end(key)
            return _CANONICAL[key]
    canonical = _canonical_phone(*key)
    with _CANONICAL_LOCK:
        _CANONICAL[key] = canonical
        if canonical is not None:
            # The E.164 form is what the next reader of this number passes (the normaliser,
            # after the SMS adapter read the MSISDN as the SMSC wrote it).
            _CANONICAL[(canonical, None)] = canonical
        while len(_CANONICAL) > CANONICAL_CACHE:
            _CANONICAL.popitem(last=False)
    return canonical


# Least recently used first; the SQLite writer's thread files messages, the event loop's
# thread reads MSISDNs.
_CANONICAL: OrderedDict[tuple[str, str | None], str | None] = OrderedDict()
_CANONICAL_LOCK = threading.Lock()


def _canonical_phone(raw: str, region: str | None) -> str | None:
    number = phone_number(raw, region)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
