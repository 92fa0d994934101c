"""Only router/store/ knows SQLite: every other module reaches the store through a protocol.

ARCHITECTURE.md section 5: consumers depend on small protocols they define, so a PostgreSQL
store can implement the same ones. Checked on the sources' syntax trees, so it costs nothing to
run and fails the moment someone imports sqlite3, constructs a Tx or takes a Database outside
the store (the daemon, which wires the database into the services, is the one exception).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("router", "channels", "dedupe", "normaliser")
STORE = ROOT / "router" / "store"
# The wiring: it opens the Database and hands it to each service as a Store of its protocol.
WIRING = {"router/daemon.py"}


def violations(source: str, *, wiring: bool = False) -> list[str]:
    """What in `source` reaches past the store's protocols, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _sqlite(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {a.name for a in node.names}
            if _sqlite(module):
                found.append(f"{node.lineno}: from {module} import ...")
            elif module == "router.store.transaction" and "Tx" in names:
                found.append(f"{node.lineno}: imports Tx (take the consumer's protocol)")
            elif module == "router.store.database" and "Database" in names and not wiring:
                found.append(f"{node.lineno}: imports Database (take a Store of a protocol)")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "sqlite3"
        ):
            found.append(f"{node.lineno}: sqlite3.{node.attr}")
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Tx"
        ):
            found.append(f"{node.lineno}: Tx(...)")
    return found


def _sqlite(module: str) -> bool:
    return module == "sqlite3" or module.startswith("sqlite3.")


def test_nothing_outside_the_store_knows_sqlite() -> None:
    checked, found = 0, []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.is_relative_to(STORE):
                continue
            name = path.relative_to(ROOT).as_posix()
            checked += 1
            source = path.read_text(encoding="utf-8")
            found += [f"{name}:{v}" for v in violations(source, wiring=name in WIRING)]
    assert checked > 50, checked  # the walk found the sources
    assert found == []


def test_the_check_sees_each_way_past_the_protocols() -> None:
    assert violations("import sqlite3\n")
    assert violations("import sqlite3 as db\n")
    assert violations("from sqlite3 import Connection\n")
    assert violations("def f(conn: 'x') -> None:\n    sqlite3.connect(':memory:')\n")
    assert violations("from router.store.transaction import TicketRecord, Tx\n")
    assert violations("from router.store.database import Database\n")
    assert not violations("from router.store.database import Database\n", wiring=True)
    assert violations("tx = Tx(conn)\n")
    assert not violations("from router.store.transaction import TicketRecord\n")
    assert not violations("from router.store.access import Store\n")
