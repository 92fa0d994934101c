"""Freed memory given back to the system after a wave of connections has come and gone.

CPython returns freed objects to glibc's malloc, which keeps the pages in its arenas for reuse:
1,500 idle chat connections left ~190 MB resident after they closed while Python's own heap was
back to ~40 MB. `malloc_trim(0)` hands the free pages of every arena back (glibc >= 2.8 also
releases whole free pages inside the heap), so a daemon that served a peak does not keep it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# Trim once the open connections fell by at least this many since their peak: a burst of
# chat sessions that has ended, not the ordinary coming and going of a few clients.
WAVE = 100


def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    """glibc's malloc_trim, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


class Trimmer:
    """Watches the connection count and trims the allocator after a wave has closed."""

    def __init__(self) -> None:
        self._trim = _malloc_trim()
        self._peak = 0

    def observe(self, connections: int) -> bool:
        """Note the current count; True if the allocator was trimmed now."""
        self._peak = max(self._peak, connections)
        if self._trim is None or self._peak - connections < WAVE:
            return False
        self._peak = connections
        released = bool(self._trim(0))
        log.debug("allocator trimmed after a wave of connections closed: %s", released)
        return True
