"""Reading a store's tables straight from its DuckDB file, as the tests compare them."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import duckdb

from encours.sync.store.ledger import with_raw


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """The store's file opened for reading (no sync may hold it meanwhile)."""
    return duckdb.connect(str(path), read_only=True)


def table_names(db: duckdb.DuckDBPyConnection) -> list[str]:
    """The store's own tables, by name."""
    return [
        name
        for (name,) in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema = 'main' ORDER BY 1"
        ).fetchall()
    ]


def column_names(db: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """A table's columns, in order."""
    return [
        name
        for (name,) in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    ]


def dump(
    path: Path, *, skip: Collection[str] = ("runs",), without: Collection[str] = ()
) -> dict[str, list[tuple[object, ...]]]:
    """Every table but `skip`, every row (columns `without` left out), in a fixed order.

    A ledger record's raw text is shown as the store keeps it, in `ledger_text`.
    """
    db = read_only(path)
    try:
        tables = {}
        for table in table_names(db):
            if table in skip:
                continue
            kept = ", ".join(c for c in column_names(db, table) if c not in without)
            rows = db.execute(f"SELECT {kept} FROM {_with_raw(table)}").fetchall()  # noqa: S608
            tables[table] = sorted(rows, key=repr)
        return tables
    finally:
        db.close()


def _with_raw(table: str) -> str:
    """`table`, or for a table of records that may keep their raw text in `ledger_text`, a
    query of its rows with that text filled in."""
    if table in ("invoices", "credits", "sales"):
        return f"({with_raw(table)}) AS {table}"
    return table
