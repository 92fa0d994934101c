"""Russian phone numbers as citizens write them, for hypothesis properties."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

HYPHENS = ["-", "\u2010", "\u2011", "\u2012", "\u2013"]
SPACES = [" ", "\u00a0", "\u202f", "\u2009"]
SEPARATORS = [*HYPHENS, *SPACES, "."]


@st.composite
def russian_phones(draw: st.DrawFn, prefixes: Sequence[str] = ("+7", "8", "7")) -> tuple[str, str]:
    """(written, E.164) of a Russian number with one of `prefixes`, in any grouping.

    Without a prefix only a real area or mobile code, 3xx, 4xx, 8xx or 9xx, makes it a phone.
    """
    prefix = draw(st.sampled_from(prefixes))
    first = draw(st.sampled_from("0123456789" if prefix else "3489"))
    national = first + f"{draw(st.integers(0, 10**9 - 1)):09d}"
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
