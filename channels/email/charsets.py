"""Text of a MIME part in whatever charset it really is: the label is a hint, not the truth.

Citizens' clients send Russian text in UTF-8, windows-1251, KOI8-R, ISO-8859-5, CP866 and
MacCyrillic, often with a wrong label (a KOI8-R label on windows-1251 bytes) or none. Valid
UTF-8 is taken as such: 8-bit Cyrillic text is almost never valid UTF-8. Otherwise each
candidate (the label, charset-normalizer's guesses, the Cyrillic code pages) is decoded and
scored by how plausible the result is as text, and the label wins unless another candidate
is clearly better. charset-normalizer alone is not enough: on a short Russian text it guesses
CJK code pages (big5 for «Привет» in windows-1251), so its guesses only join the candidates.
"""

from __future__ import annotations

import codecs
import math
from typing import NamedTuple

import charset_normalizer

# The code pages Russian mail is written in (besides UTF-8), most common first: a tie between
# them goes to the earlier one.
CYRILLIC = ("windows-1251", "koi8-r", "iso-8859-5", "cp866", "mac-cyrillic")

# Letter frequencies of Russian text in percent (Lyashevskaya & Sharov's frequency dictionary,
# as commonly tabulated): a wrong code page maps Cyrillic bytes onto other Cyrillic letters,
# and the rarer letters it produces give it away.
_RUSSIAN_PERCENT = {
    "о": 10.97, "е": 8.45, "а": 8.01, "и": 7.35, "н": 6.70, "т": 6.26, "с": 5.47, "р": 4.73,
    "в": 4.54, "л": 4.40, "к": 3.49, "м": 3.21, "д": 2.98, "п": 2.81, "у": 2.62, "я": 2.01,
    "ы": 1.90, "ь": 1.74, "г": 1.70, "з": 1.65, "б": 1.59, "ч": 1.44, "й": 1.21, "х": 0.97,
    "ж": 0.94, "ш": 0.73, "ю": 0.64, "ц": 0.48, "щ": 0.36, "э": 0.32, "ф": 0.26, "ъ": 0.04,
    "ё": 0.04,
}  # fmt: skip
# A letter is worth one point (a wrong reading of MacCyrillic or windows-1251 turns capitals into
# symbols), plus its log-likelihood against a uniform alphabet, floored so that a rare letter
# (ё, ъ, ф) still beats the symbol a wrong code page would make of it.
_LETTER_SCORE = {
    c: 1 + max(-1.5, math.log(len(_RUSSIAN_PERCENT) * p / 100)) for c, p in _RUSSIAN_PERCENT.items()
}
# The 150 most frequent Russian letter pairs (80% of all pairs), counted in the Russian message
# catalogues Debian ships (/usr/share/locale/ru, 264 000 words): a word in the wrong code page
# is made of common-enough letters, but its pairs are not Russian. A common pair adds, any
# other costs.
_PAIRS = (
    "ен ст не ни ра но по ер ов ан ре ка ол ть ат ро на пр ет ме то ва ль та да ко ны ли ло "
    "ис од за ит де ос те ал тр ие ти им во ле ел ве ор ия ес аз ля об от ри нн ем ом ок ки "
    "со ай ин ск вы ар до ог ла тс ед мо че па ый го ав си ек ма ся пе сп оп дл ци он сл нт "
    "ир фа ам же йл ой уд из зо ий ож ая ьз ак ии тв ру ви ас ус ди ик ае ши жи ил оз се чи "
    "ое кл ьн ще ев ап ив сь вл ых пи ач ад зм бл тн ые пу нд аб зн бо ча уе ей лю бр иб ми "
    "кс ег жн ры ош"
)
_BIGRAMS = frozenset(_PAIRS.split())
_PAIR = 1.0
# Non-ASCII punctuation that Russian text really uses; other symbols among letters (box
# drawing from CP866 read as windows-1251, "±" and "°" from ISO-8859-5, "€" for «я» from
# windows-1251 read as MacCyrillic) are mojibake.
_TYPOGRAPHY = frozenset("«»—–…№“”‘’\u00a0\u2009\u202f•·₽")
_REPLACEMENT = "\ufffd"
# Penalties, in units of one common letter: a misshapen word (lower, then capitals) is what
# KOI8-R read as windows-1251 looks like; a replacement character or C1 control means the
# bytes do not even decode.
_MISSHAPEN_WORD = 3.0
# A text, or a sentence in it, that begins with a lower-case letter after a symbol is
# MacCyrillic read as windows-1251 or back: their capitals are each other's punctuation
# («Здравствуйте» comes out as "«дравствуйте").
_LOWER_START = 2.0
_MIXED_SCRIPT_WORD = 3.0
_FOREIGN_LETTER = 1.0
# Cyrillic letters Russian does not have (ѕ, ђ, ў, ї...) are what MacCyrillic and windows-1251
# read in each other's place make of capitals: stronger evidence than a foreign Latin letter.
_FOREIGN_CYRILLIC = 3.0
_SYMBOL = 2.0
_UNDECODABLE = 5.0
# The label stands unless another reading is better by more than a common letter: when a text
# is too short to tell («он» in KOI8-R is «ПО» in windows-1251), the sender's word decides.
_LABEL_MARGIN = 1.0
# Scoring and detection read this much of a long text; the winner decodes all of it.
_SAMPLE = 64 * 1024
# charset-normalizer's first few guesses join the candidates (it ranks by its own measure).
_GUESSES = 3


class Decoded(NamedTuple):
    """A part's text, the charset it was read in, and why that is not the label (or None)."""

    text: str
    charset: str
    defect: str | None


def codec_name(label: str | None) -> str | None:
    """The Python codec a charset label names, or None for an unknown or non-text label."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip('"').lower())
    except (LookupError, ValueError):
        return None
    # base64, rot13, zlib... are codecs too, but not charsets.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode(data: bytes, label: str | None) -> Decoded:
    """`data` as text: in its label's charset unless the bytes say otherwise."""
    declared = codec_name(label)
    # The label's text is the sender's: the defect says only that it named nothing known.
    unknown = "unknown charset label" if label and declared is None else None
    if data.isascii():
        return Decoded(data.decode("ascii"), declared or "ascii", unknown)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return Decoded(text, "utf-8", _relabelled(declared, "utf-8") or unknown)
    sample = data[:_SAMPLE]
    candidates = dict.fromkeys(
        c for c in (declared, "utf-8", *CYRILLIC, *_guesses(sample)) if c is not None
    )
    scores = {c: plausibility(sample.decode(c, errors="replace")) for c in candidates}
    best = max(scores, key=lambda c: scores[c])
    if declared is not None and scores[declared] >= scores[best] - _LABEL_MARGIN:
        best = declared
    text = data.decode(best, errors="replace")
    return Decoded(text, best, _relabelled(declared, best) or unknown)


def plausibility(text: str) -> float:
    """How much `text` looks like real writing (Russian or Latin script) rather than mojibake."""
    score = 0.0
    word: list[str] = []
    sentence_start, previous = True, " "
    for char in (*text, " "):
        if char.isalpha():
            if sentence_start and not word and _capital_lost(previous, char):
                score -= _LOWER_START
            word.append(char)
            sentence_start = False
            previous = char
            continue
        if word:
            score += _word_score("".join(word))
            word.clear()
        sentence_start = sentence_start or (char.isspace() and previous in ".!?\n")
        previous = char
        if char == _REPLACEMENT or "\x80" <= char <= "\x9f":
            score -= _UNDECODABLE
        elif not char.isascii() and char not in _TYPOGRAPHY and not char.isspace():
            score -= _SYMBOL
    return score


def _capital_lost(previous: str, letter: str) -> bool:
    """Whether a sentence's first letter is lower case right after a non-ASCII symbol."""
    return not previous.isascii() and not previous.isspace() and letter.islower()


def _word_score(word: str) -> float:
    cyrillic = sum(1 for c in word if "\u0400" <= c <= "\u04ff")
    if not cyrillic:
        # Latin words are neutral; accented letters are few in real Latin-script text and
        # every letter of windows-1251 read as Latin-1 ("Ïðèâåò").
        return -_FOREIGN_LETTER * sum(1 for c in word if not c.isascii())
    if cyrillic < len(word):
        return -_MIXED_SCRIPT_WORD
    lower = word.lower()
    score = sum(_LETTER_SCORE.get(c, -_FOREIGN_CYRILLIC) for c in lower)
    score += sum(_PAIR if lower[i : i + 2] in _BIGRAMS else -_PAIR for i in range(len(lower) - 1))
    shaped = word.islower() or word.isupper() or (word[0].isupper() and word[1:].islower())
    return score if shaped else score - _MISSHAPEN_WORD


def _guesses(sample: bytes) -> list[str]:
    """charset-normalizer's best few readings of the bytes, as codec names."""
    matches = charset_normalizer.from_bytes(sample)
    return [name for m in list(matches)[:_GUESSES] if (name := codec_name(m.encoding))]


def _relabelled(declared: str | None, used: str) -> str | None:
    """The defect to report when the text was not read in the charset its label named."""
    if declared is None or declared == used:
        return None
    return f"declared {declared}, read as {used}"
