"""Fixtures for unit tests that need a migrated database or the shipped configuration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.store.database import connect, migrate
from router.store.transaction import Tx

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A migrated SQLite database on disk, in autocommit mode."""
    connection = connect(tmp_path / "test.db")
    migrate(connection)
    yield connection
    connection.close()


@pytest.fixture
def tx(conn: sqlite3.Connection) -> Tx:
    """The domain's SQL over that database."""
    return Tx(conn)
