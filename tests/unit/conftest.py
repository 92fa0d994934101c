"""Fixtures for unit tests that need a migrated database or the shipped configuration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from router.store.database import Database, connect, migrate
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


@contextmanager
def opened_database(tmp_path: Path) -> Iterator[Database]:
    """An opened store (its writer thread and all) in a temporary directory."""
    database = Database(tmp_path / "db.sqlite")
    database.open()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """opened_database, for a test that needs one store."""
    with opened_database(tmp_path) as database:
        yield database
