"""Fixtures that start the real daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .daemon import DaemonProcess, running_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A running daemon on the shipped configuration (feed handoff)."""
    with running_daemon(tmp_path) as running:
        yield running
