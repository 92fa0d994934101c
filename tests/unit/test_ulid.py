"""Sortable unique ids."""

from __future__ import annotations

import re
import threading

from router.ulid import new_ulid


def test_ids_made_in_the_same_millisecond_still_sort_in_order() -> None:
    """Ids made back to back (many per millisecond) sort exactly as they were made."""
    made = [new_ulid() for _ in range(20_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in made)


def test_ids_made_in_several_threads_are_unique() -> None:
    """The writer thread and the event loop make ids at once without a collision."""
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(new_ulid() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in made for i in into]
    assert len(set(every)) == len(every)
    assert all(into == sorted(into) for into in made)
