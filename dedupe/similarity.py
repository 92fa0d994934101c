"""Near-identical text: a repeat contact resends the same words with small edits."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from itertools import repeat
from operator import sub

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Long texts are compared on their opening, which is what a citizen retypes when resending.
FINGERPRINT_CHARS = 2000
# The characters that make up most of a Russian fingerprint. Comparing how often each occurs in
# two texts is a handful of C scans, and rejects most unrelated texts of similar length.
_FREQUENT_CHARS = " оеаинтсрвлкмдпу"


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
    """Whether `similarity(a, b) >= threshold`, exactly, without paying for it on most pairs.

    Every message is compared with the sender's recent ones inside the write transaction, and
    ratio() costs about half a millisecond on a few hundred characters. ratio() is 2·M/(len a +
    len b), M the number of characters in difflib's matching blocks, so each filter bounds M from
    above and rejects the pair when even that bound falls short of the threshold:

    1. M <= min(len a, len b): every matched character is a character of both texts.
    2. M <= the characters the two texts have in common counted as multisets (what quick_ratio()
       counts), relaxed to a few frequent characters so that it is a few C scans: see
       `_shared_chars_bound`.
    3. M <= the length of the longest common subsequence: the matching blocks are equal slices
       that do not overlap and run forward in both texts, so joined together they are a common
       subsequence. Computed bit-parallel in `_lcs_length`, about a tenth of ratio()'s cost.

    A bound on M goes through the same float arithmetic as difflib's (2.0 * M / total, a
    monotone function of M), so a rejected pair has ratio() below the threshold too: no filter
    changes a verdict, whatever the edits (typos, missing spaces, swapped letters).
    """
    if a == b or not a or not b:
        return similarity(a, b) >= threshold
    total = len(a) + len(b)
    if 2.0 * min(len(a), len(b)) / total < threshold:
        return False
    if 2.0 * _shared_chars_bound(a, b) / total < threshold:
        return False
    if 2.0 * _lcs_length(a, b) / total < threshold:
        return False
    return similarity(a, b) >= threshold


def _shared_chars_bound(a: str, b: str) -> int:
    """An upper bound of the characters difflib can match between a and b.

    Matched characters are pairs of equal characters at distinct positions, so for each
    character c at most min(a_c, b_c) of them are c (a_c: its count in a), and
        M <= sum_c min(a_c, b_c) = (len a + len b - sum_c |a_c - b_c|) / 2
    because min(x, y) = (x + y - |x - y|) / 2. Counting only the characters of
    `_FREQUENT_CHARS` (set F) lowers sum_c |a_c - b_c| to at least
        sum_{c in F} |a_c - b_c| + |(len a - sum_F a_c) - (len b - sum_F b_c)|
    (the triangle inequality for the characters outside F), so the bound only grows: it stays
    an upper bound for any text, in any language. M is whole, hence the floor.
    """
    in_a = list(map(a.count, _FREQUENT_CHARS))
    in_b = list(map(b.count, _FREQUENT_CHARS))
    apart: int = sum(map(abs, map(sub, in_a, in_b)))
    apart += abs((len(a) - sum(in_a)) - (len(b) - sum(in_b)))
    return (len(a) + len(b) - apart) // 2


def _lcs_length(a: str, b: str) -> int:
    """The length of the longest common subsequence of a and b.

    The bit-vector algorithm of Crochemore, Iliopoulos, Pinzon and Reid ("A fast and practical
    bit-vector algorithm for the longest common subsequence problem", IPL 80, 2001): bit j of
    `row` is 0 where the dynamic-programming row of LCS(a[:i], b[:j + 1]) steps up, so the
    number of 0 bits among the low len(b) is the LCS of a and b. A Python integer is the bit
    vector, so each character of a is a few integer operations in C instead of a row in Python.
    Carries out of the low len(b) bits never come back down (and `row - matches` never borrows,
    matches being a subset of row), so the high bits are left to grow and masked off at the end.
    """
    positions: dict[str, int] = {}
    get = positions.get
    bit = 1
    for char in b:
        positions[char] = get(char, 0) | bit
        bit <<= 1
    row = bit - 1
    for where in map(get, a, repeat(0)):
        matches = row & where
        row = (row + matches) | (row - matches)
    return len(b) - (row & (bit - 1)).bit_count()
