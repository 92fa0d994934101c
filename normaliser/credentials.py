"""Passwords and one-time codes citizens send although they are told never to (DOMAIN.md)."""

from __future__ import annotations

import re

_CYRILLIC = "А-Яа-яЁё"

# A password written after "пароль:" or "password=": any token of 4+ characters without
# Cyrillic letters. The portal only accepts Latin letters, digits and symbols in passwords, so
# «пароль: не подходит» is a complaint, not a password.
_LOOSE_SECRET = rf"(?![^\s]*[{_CYRILLIC}])(?=[^\s]*[^\W_])\S{{4,}}"
# A password with no colon before it ("мой пароль Qwerty123", "password is hunter2") must also
# look like one, a digit or a lower-case letter followed by a capital, so that "password is
# incorrect" and "Password Reset" stay harmless.
_STRICT_SECRET = rf"(?![^\s]*[{_CYRILLIC}])(?=[^\s]*\d|[^\s]*[a-z][^\s]*[A-Z])\S{{4,}}"

_PASSWORD = re.compile(
    rf"""
    (?<!\w)(?i:пароль|пароля|паролю|паролем|password|passwd)
    (?:
        (?:\s+[^\W\d_]+){{0,4}} \s*[:=]\s* {_LOOSE_SECRET}              # «пароль от ЛК: qwerty»
      | (?:\s+[^\W\d_]+){{0,4}} \s+(?i:is|was|это|[-–—])\s+ {_STRICT_SECRET}
                                                              # "password for my account is hunter2"
      | \s+ {_STRICT_SECRET}                                           # «мой пароль Qwerty123»
    )
    """,
    re.VERBOSE,
)

# One-time codes are 4 to 8 digits: subject codes («Код 01») have 2 and ticket numbers 10, so the
# digit count alone keeps those out.
_OTP_DIGITS = r"\s*[:=–—-]?\s* \d{4,8}(?!\d)"

# «код из смс 123456», «смс-код: 5531», «кодом подтверждения 4821». Only these words may stand
# between «код» and the digits: «код подразделения 772053» and «код ошибки 5003» are not secrets.
_CODE_RU = re.compile(
    rf"""
    (?<![\w-])(?i:(?:смс|sms)[-\x20]?)?(?i:код|кода|кодом)
    (?i:\s+(?:
        (?:из|в|по)\s+(?:смс|sms|сообщения|push)
      | подтверждения|проверки|доступа|активации|верификации|для\s+входа
    )){{0,2}}
    {_OTP_DIGITS}
    """,
    re.VERBOSE,
)

# "code: 123456", "OTP 9911", "verification code is 4821"; "error code 5003" and "zip code
# 12345" name other codes.
_NOT_SECRET_CODES = ("error", "status", "zip", "postal", "area", "region", "country", "promo")
_NOT_AFTER_OTHER_CODE_NOUNS = "".join(rf"(?<!(?i:{noun})\x20)" for noun in _NOT_SECRET_CODES)
_CODE_EN = re.compile(
    rf"""
    (?<![\w-])
    {_NOT_AFTER_OTHER_CODE_NOUNS}
    (?i:(?:verification|confirmation|security|one[-\x20]?time|sms|login|access|2fa)[-\x20])?
    (?i:code|passcode|otp|pin)
    (?i:\s+(?:is|was))?
    {_OTP_DIGITS}
    """,
    re.VERBOSE,
)

_CREDENTIAL_PATTERNS = (_PASSWORD, _CODE_RU, _CODE_EN)


def mentions_credential(text: str) -> bool:
    """True if `text` seems to contain a password or a one-time code, not merely the word."""
    return any(pattern.search(text) for pattern in _CREDENTIAL_PATTERNS)
