"""Which of the centre's languages a message is written in, decided by the letters it uses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

# Language -> the lower-case letters of its alphabet. Order matters: ties and messages without
# any evidence go to the first entry, because the centre answers in Russian first (DOMAIN.md).
# A language sharing a script with one above (Tatar) will need its distinctive letters scored;
# adding it is a change here, not in guess_language.
ALPHABETS: Mapping[str, frozenset[str]] = {
    "ru": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
    "en": frozenset("abcdefghijklmnopqrstuvwxyz"),
}
DEFAULT_LANGUAGE = next(iter(ALPHABETS))


def guess_language(text: str, hint: str | None = None) -> str:
    """Return the language whose letters are most common in `text`; the hint or Russian if none."""
    counts = dict.fromkeys(ALPHABETS, 0)
    # Counting characters first (in C) leaves the Python loop a few dozen distinct letters
    # instead of every character of the message.
    for ch, seen in Counter(text.lower()).items():
        for language, letters in ALPHABETS.items():
            if ch in letters:
                counts[language] += seen
                break
    best = max(counts, key=lambda language: counts[language])  # first of equals wins
    if counts[best]:
        return best
    if hint is not None and hint in ALPHABETS:
        return hint
    return DEFAULT_LANGUAGE
