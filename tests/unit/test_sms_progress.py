"""How far long notices got: the most recently attempted kept, for a while; one cut another way
not resumed."""

from __future__ import annotations

from channels.sms.encoding import split
from channels.sms.progress import Cut, Partway, Progress

TEXT = "Справка готова. " * 10


def progress(cut: Cut) -> Progress:
    """A notice's parts under reference 7, the first taken."""
    parts = split(cut.text, max_parts=cut.max_parts, reference=7, reference_bits=cut.reference_bits)
    return Progress(cut, parts, 100.0, ["A1"])


def test_the_least_recently_attempted_is_forgotten_past_the_bound() -> None:
    partway = Partway(2, 600.0)
    cut = Cut(TEXT, 6, 8, False)
    for notice in ("n1", "n2"):
        partway.keep(notice, progress(cut))
    assert partway.resume("n1", cut, 100.0) is not None  # attempted again: the most recent now
    partway.keep("n3", progress(cut))
    assert partway.resume("n2", cut, 100.0) is None
    assert partway.resume("n1", cut, 100.0) is not None
    assert partway.resume("n3", cut, 100.0) is not None


def test_a_notice_cut_another_way_starts_over() -> None:
    partway = Partway(2, 600.0)
    kept = progress(Cut(TEXT, 6, 8, False))
    partway.keep("n1", kept)
    assert partway.resume("n1", Cut(TEXT, 6, 16, False), 100.0) is None
    assert partway.resume("n1", kept.cut, 100.0) is None  # forgotten, not kept for the old cut
    partway.keep("n1", kept)
    assert partway.resume("n1", kept.cut, 100.0) is kept
    partway.forget("n1")
    assert partway.resume("n1", kept.cut, 100.0) is None


def test_a_notice_first_attempted_too_long_ago_goes_whole() -> None:
    """A handset has let the first parts go, or the outbox gave the notice up and it is
    replayed: its parts all go again under a new reference."""
    partway = Partway(2, 600.0)
    kept = progress(Cut(TEXT, 6, 8, False))
    partway.keep("n1", kept)
    assert partway.resume("n1", kept.cut, 700.0) is kept
    assert partway.resume("n1", kept.cut, 700.1) is None
    assert partway.resume("n1", kept.cut, 100.0) is None  # forgotten
