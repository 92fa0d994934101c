"""How far a long notice got: the parts the SMSC took before it refused one, for the retry."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from .encoding import DefaultAlphabet, Parts, ReferenceBits

log = logging.getLogger(__name__)


class Cut(NamedTuple):
    """What a notice's parts are made from: the same on a retry, the same parts."""

    text: str
    max_parts: int
    reference_bits: ReferenceBits
    use_sar: bool
    default_alphabet: DefaultAlphabet = "gsm7"


@dataclass
class Progress:
    """A notice's parts under its reference, when its first attempt began (trio's clock), and
    the SMSC's message ids of those it took."""

    cut: Cut
    parts: Parts
    began: float
    taken: list[str] = field(default_factory=list)


class Partway:
    """The progress of notices the SMSC took in part, by notice id, the `most` recently
    attempted kept for `seconds` from their first attempt; one forgotten is sent whole again,
    as after a restart."""

    def __init__(self, most: int, seconds: float) -> None:
        self.most = most
        self.seconds = seconds
        self._kept: OrderedDict[str, Progress] = OrderedDict()

    def resume(self, notice: str, cut: Cut, now: float) -> Progress | None:
        """The notice's progress if its parts are cut the same way now and its first attempt
        is recent enough, else None."""
        progress = self._kept.get(notice)
        if progress is not None and (progress.cut != cut or now - progress.began > self.seconds):
            # Too late: a handset keeps the first parts of a message only for a while, and a
            # notice the outbox gave up on and an operator replays must go whole. A notice's
            # text does not change, and a reload that changes the account builds a new
            # adapter; should either happen, the parts are not the same: all go again.
            del self._kept[notice]
            return None
        if progress is not None:
            self._kept.move_to_end(notice)
        return progress

    def keep(self, notice: str, progress: Progress) -> None:
        """Keep (or keep longer) the progress of a notice with parts still to go."""
        self._kept[notice] = progress
        self._kept.move_to_end(notice)
        if len(self._kept) > self.most:
            forgotten, _ = self._kept.popitem(last=False)
            log.warning(
                "SMS notice %s: over %d notices sent in part, its parts taken are forgotten "
                "and go again with the rest",
                forgotten,
                self.most,
            )

    def forget(self, notice: str) -> None:
        """The notice went out whole, or never will."""
        self._kept.pop(notice, None)
