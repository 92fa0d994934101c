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


@pytest.fixture(scope="module")
def module_daemon(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    """One daemon shared by a module whose tests keep to their own sessions and tickets."""
    with running_daemon(
        tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    ) as running:
        yield running
