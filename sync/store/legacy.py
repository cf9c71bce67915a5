"""A store written by encours 0.1 (one SQLite file) becomes a DuckDB store on first open.

Everything is copied: records, allocations, quarantine, runs, positions, snapshots, pushed
values and matches, so the next run neither reads its sources whole again nor pushes
values already sent. The SQLite file is kept beside the new one as `<name>.0.1-sqlite`
(delete it once the new store has run well). If the copy fails, the old file is put back
and nothing changed.

Example: `encours.sqlite` (SQLite, 0.1) at the first `encours sync` of this version becomes
`encours.sqlite` (DuckDB), and `encours.sqlite.0.1-sqlite` holds the old file.
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from encours.errors import StateError
from encours.sync.store.bulk import load_rows
from encours.sync.store.connection import connect, migrate

#: Tables copied as they are, column for column (the columns both versions have).
_SAME = (
    "cursors",
    "customers",
    "invoices",
    "due_lines",
    "sales",
    "drafts",
    "source_balances",
    "dirty_customers",
    "quarantine",
    "snapshots",
    "pushed",
    "matches",
    "runs",
)
_BOOLEANS = frozenset({"terms_end_of_month", "is_doubtful", "due_date_assumed", "is_on_order"})


def upgrade(path: Path) -> None:
    """Copy the 0.1 store at `path` into a new DuckDB store at the same path.

    Raises:
        StateError: the copy failed; the 0.1 store is back in place, unchanged.
    """
    kept = path.with_name(path.name + ".0.1-sqlite")
    if kept.exists():
        raise StateError(
            f"{path} is a store of encours 0.1 and {kept} exists already: move one of them "
            "aside, then run again"
        )
    path.rename(kept)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    try:
        _copy(kept, path)
    except BaseException as exc:
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        kept.rename(path)
        for suffix in ("-wal", "-shm"):
            side = kept.with_name(kept.name + suffix)
            if side.exists():
                side.rename(path.with_name(path.name + suffix))
        if isinstance(exc, StateError | KeyboardInterrupt):
            raise
        raise StateError(
            f"{path} is a store of encours 0.1 and could not be upgraded ({exc}); it is unchanged"
        ) from None


def _copy(old: Path, new: Path) -> None:
    source = sqlite3.connect(old)
    target = connect(new)
    try:
        migrate(target, new)
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        new_columns = _columns(target)
        target.execute("BEGIN TRANSACTION")
        for table in _SAME:
            if table not in tables or (table == "cursors" and version < 3):
                continue  # 0.1 before its third migration read every source whole again
            old_columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            columns = [c for c in old_columns if c in new_columns[table]]
            load_rows(target, new, table, columns, _rows(source, table, columns))
        if "credits" in tables:
            _copy_credits(source, target, new, new_columns["credits"])
        if "allocations" in tables:
            columns = new_columns["allocations"]
            load_rows(target, new, "allocations", columns, _rows(source, "allocations", columns))
        last_run = source.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
        target.execute("SELECT COUNT(nextval('run_ids')) FROM range(?)", (int(last_run),))
        target.execute("COMMIT")
    finally:
        source.close()
        target.close()


def _columns(target: Any) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for table, column in target.execute(
        "SELECT table_name, column_name FROM information_schema.columns ORDER BY ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    return columns


def _rows(source: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[list[Any]]:
    booleans = [index for index, column in enumerate(columns) if column in _BOOLEANS]
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    while rows := cursor.fetchmany(10_000):
        for row in rows:
            values = list(row)
            for index in booleans:
                values[index] = bool(values[index])
            yield values


def _copy_credits(source: sqlite3.Connection, target: Any, new: Path, columns: list[str]) -> None:
    """Credits, with the links 0.1 kept as JSON becoming rows of `credit_links`."""
    old_columns = [row[1] for row in source.execute("PRAGMA table_info(credits)")]
    kept = [c for c in old_columns if c in columns]
    links: list[tuple[str, str, int, str, int, str | None]] = []
    rows = []
    for row in _rows(source, "credits", [*kept, "links"]):
        *values, text = row
        rows.append(values)
        record = dict(zip(kept, values, strict=True))
        for position, (invoice_id, amount, linked_on) in enumerate(json.loads(text or "[]")):
            links.append(
                (record["source"], record["external_id"], position, invoice_id, amount, linked_on)
            )
    load_rows(target, new, "credits", kept, rows)
    load_rows(
        target,
        new,
        "credit_links",
        ("source", "credit_id", "position", "invoice_id", "amount", "linked_on"),
        links,
    )
