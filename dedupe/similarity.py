"""Near-identical text: a repeat contact resends the same words with small edits."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Long texts are compared on their opening, which is what a citizen retypes when resending.
FINGERPRINT_CHARS = 2000
# Word-level similarity is a cheap filter: a pair below (threshold - slack) cannot be
# near-identical character by character either, short of edits inside most words.
WORD_SLACK = 0.25


def fingerprint(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form of a text, for comparison."""
    return _NON_WORD.sub(" ", text.casefold()).strip()[:FINGERPRINT_CHARS]


def similarity(a: str, b: str) -> float:
    """Ratio 0..1 of how alike two fingerprints are, character by character."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def near_identical(a: str, b: str, threshold: float) -> bool:
    """True if two fingerprints are at least `threshold` alike.

    Every message is compared with the sender's recent ones inside the write transaction, so
    most pairs must be rejected cheaply: by length (ratio() can never exceed
    2·min/(len a + len b)), then by the words they share, then by word sequence (a dozen tokens
    instead of a hundred characters). Only pairs that survive pay for the character ratio.
    Every early rejection uses an upper bound of the next test, so none changes the answer.
    """
    if a == b:
        return True
    if not a or not b or 2 * min(len(a), len(b)) / (len(a) + len(b)) < threshold:
        return False
    a_words, b_words = a.split(), b.split()
    floor = threshold - WORD_SLACK
    # Words of b found anywhere in a bound the matching words from above, so this bound is
    # >= ratio() on words; counted in C, it rejects most unrelated pairs for a few µs.
    shared = sum(map(frozenset(a_words).__contains__, b_words))
    if 2 * shared / (len(a_words) + len(b_words)) < floor:
        return False
    if SequenceMatcher(None, a_words, b_words, autojunk=False).ratio() < floor:
        return False
    return similarity(a, b) >= threshold
