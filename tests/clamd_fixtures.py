"""pytest fixtures for the real clamd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clamd import ClamdServer


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdServer]:
    """One clamd with the test signatures for the whole session."""
    server = ClamdServer(tmp_path_factory.mktemp("clamd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
