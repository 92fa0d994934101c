"""Value types of the channels' config files (CONTRACTS.md: durations are strings)."""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(text: object) -> float:
    """ "30s", "250ms", "5m", "1h" or "2d" as seconds; a number is taken as seconds already."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _DURATION.fullmatch(str(text).strip())
        if match is None:
            raise ValueError('a duration such as "30s", "250ms", "5m", "1h" or "2d"')
        value = float(match[1]) * _SECONDS[match[2]]
    if not 0 < value < math.inf:  # TOML has nan and inf: neither is a duration
        raise ValueError("a duration must be greater than zero and finite")
    return value


# A duration in seconds, written in the file as "30s".
Duration = Annotated[float, BeforeValidator(seconds)]


def read_secret(path: Path) -> bytes:
    """A secret file's bytes, refused when every user on the machine may read it (as ssh does)."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_mode & stat.S_IROTH:
            raise ValueError("every user on the machine can read it; chmod o-r (600 or 640)")
        return file.read()


def read_first_line(path: Path) -> str:
    """A password or token file's secret: its first line, stripped ("" for an empty file)."""
    lines = read_secret(path).decode().splitlines()
    return lines[0].strip() if lines else ""
