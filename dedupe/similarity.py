"""Near-identical text: a repeat contact resends the same words with small edits."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Long texts are compared on their opening, which is what a citizen retypes when resending.
FINGERPRINT_CHARS = 2000


def fingerprint(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form of a text, for comparison."""
    return _NON_WORD.sub(" ", text.casefold()).strip()[:FINGERPRINT_CHARS]


def similarity(a: str, b: str) -> float:
    """Ratio 0..1 of how alike two fingerprints are."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    # The cheap upper bounds reject most pairs before the quadratic ratio() runs.
    if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
        return matcher.quick_ratio()
    return matcher.ratio()
