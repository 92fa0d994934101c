"""Sortable unique ids (ULID layout: 48-bit millisecond time, 80 random bits, Crockford base32)."""

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = 0


def new_ulid() -> str:
    """Return a 26-character id that sorts after every id this process made before it."""
    global _last
    with _lock:
        value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
        # The ULID spec's monotonic mode: within one millisecond (or when the clock steps back)
        # the next id is the last plus one, so "older id" keeps meaning "made first".
        value = max(value, _last + 1)
        _last = value
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
