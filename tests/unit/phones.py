"""Russian phone numbers as citizens write them, for hypothesis properties."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

HYPHENS = ["-", "\u2010", "\u2011", "\u2012", "\u2013"]
SPACES = [" ", "\u00a0", "\u202f", "\u2009"]
SEPARATORS = [*HYPHENS, *SPACES, "."]

# Starts of national numbers that Russia's numbering plan assigns whatever digits follow:
# mobile 90x-92x and 95x-99x, Moscow 495 and 499, Saint Petersburg 812, Yekaterinburg 343,
# Izhevsk 3412, freephone 800.
IN_USE = ("90", "91", "92", "95", "96", "97", "98", "99", "495", "499", "812", "343", "3412", "800")
# Any 10 digits, assigned or not: what masking must hide all the same.
ANY = tuple("0123456789")


@st.composite
def russian_phones(
    draw: st.DrawFn, prefixes: Sequence[str] = ("+7", "8", "7"), starts: Sequence[str] = IN_USE
) -> tuple[str, str]:
    """(written, E.164) of a Russian number with one of `prefixes` and one of `starts`, in any
    grouping.

    Without a prefix only a real area or mobile code, 3xx, 4xx, 8xx or 9xx, makes it a phone.
    """
    prefix = draw(st.sampled_from(prefixes))
    start = draw(st.sampled_from([s for s in starts if prefix or s[0] in "3489"]))
    national = start + f"{draw(st.integers(0, 10 ** (10 - len(start)) - 1)):0{10 - len(start)}d}"
    gap = st.sampled_from(["", *SEPARATORS])
    area = national[:3]
    if draw(st.booleans()):
        area = f"({area})"
    written = (
        prefix
        + draw(gap)
        + area
        + draw(gap)
        + national[3:6]
        + draw(gap)
        + national[6:8]
        + draw(gap)
        + national[8:]
    )
    return written, f"+7{national}"
