"""Rows from Python into the engine in bulk: spooled to a file as JSON lines, read at once.

Row-by-row inserts cost about a millisecond each in DuckDB; the engine's own file reader
takes hundreds of thousands of rows a second. JSON keeps every value exact (NULL apart from
the empty string, text with tabs and line breaks, integers of any size), and memory stays
flat: rows go to the file as they come.

On PostgreSQL the file is streamed with COPY instead (`postgres.py`).

Example: `Spool(store_path, DueLineRow._fields)` then `add(row)` for each row, then
`load(db, "stage_due_lines")` inserts them all with one statement, each column cast to its
type (dates from ISO text, booleans from JSON true/false).
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from encours.sync.store.postgres import is_postgres

#: Columns holding a date, in every table of the store.
DATE_COLUMNS = frozenset(
    {
        "issued_on",
        "due_on",
        "on_date",
        "matched_on",
        "booked_on",
        "as_of",
        "linked_on",
        "settled_on",
        "used_on",
        "allocated_on",
    }
)
#: Columns holding an integer (minor units, counts, positions, run ids).
INTEGER_COLUMNS = frozenset(
    {
        "pos",
        "seq",
        "position",
        "due_seq",
        "amount",
        "total",
        "credit_limit",
        "payment_terms_days",
        "first_run",
        "last_run",
        "run_id",
    }
)
BOOLEAN_COLUMNS = frozenset(
    {"terms_end_of_month", "is_doubtful", "due_date_assumed", "is_on_order"}
)


def sql_type(column: str) -> str:
    """The SQL type of a column of the store, by its name."""
    if column in DATE_COLUMNS:
        return "DATE"
    if column in INTEGER_COLUMNS:
        return "BIGINT"
    if column in BOOLEAN_COLUMNS:
        return "BOOLEAN"
    return "TEXT"


#: How the spooled files are named, beside the store.
SPOOL_SUFFIX = ".jsonl"


def spool_prefix(store: Path) -> str:
    """The name a spooled file of `store` starts with: `.encours.duckdb-spool-` for it.

    Named after the store, so that stores sharing a folder never touch each other's files.
    """
    return f".{store.name}-spool-"


def remove_leftovers(store: Path) -> int:
    """Delete the spooled files a killed run of `store` left beside it; return how many.

    Call it only while holding the store's run lock: no other run spools for it then.
    """
    count = 0
    for leftover in store.parent.glob(f"{spool_prefix(store)}*{SPOOL_SUFFIX}"):
        leftover.unlink(missing_ok=True)
        count += 1
    return count


class Spool:
    """Rows of one shape written to a temporary JSON-lines file, to be loaded in one go."""

    def __init__(self, store: Path, columns: Sequence[str]) -> None:
        """A new file beside `store` (see `spool_prefix`)."""
        self.columns = tuple(columns)
        fd, name = tempfile.mkstemp(
            prefix=spool_prefix(store), suffix=SPOOL_SUFFIX, dir=store.parent
        )
        self.path = Path(name)
        self._handle = os.fdopen(fd, "w", encoding="utf-8")
        self._dumps = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), default=_iso
        ).encode
        self.count = 0

    def add(self, row: Sequence[Any]) -> None:
        """Queue one row, its values in the order of `columns`."""
        self._handle.write(self._dumps(row))
        self._handle.write("\n")
        self.count += 1

    def extend(self, rows: Iterable[Sequence[Any]]) -> None:
        """Queue many rows."""
        for row in rows:
            self.add(row)

    def load(self, db: duckdb.DuckDBPyConnection, table: str) -> int:
        """Insert every queued row into `table` (its columns named as ours); return how many."""
        self._handle.close()
        if self.count and is_postgres(db):
            db.copy_json_lines(table, self.columns, self.path)  # type: ignore[union-attr]
        elif self.count:
            paths = ", ".join(f"'$[{index}]'" for index in range(len(self.columns)))
            casts = ", ".join(
                f"CAST(v[{index + 1}] AS {sql_type(column)})"
                for index, column in enumerate(self.columns)
            )
            # DuckDB-only: read_csv and lists. Each line is one JSON array read as one text
            # column (JSON escapes every control character, so \x01 never occurs in it).
            db.execute(
                f"INSERT INTO {table} ({', '.join(self.columns)}) SELECT {casts} FROM ("
                f"SELECT json_extract_string(line, [{paths}]) AS v FROM read_csv(?, "
                "header = false, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', "
                "escape = '', auto_detect = false, new_line = '\\n'))",
                (str(self.path),),
            )
        self.discard()
        return self.count

    def discard(self) -> None:
        """Remove the file (also when the load was never made)."""
        if not self._handle.closed:
            self._handle.close()
        self.path.unlink(missing_ok=True)


def _iso(value: object) -> str:
    """Dates (the only values JSON lacks) as ISO text."""
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def load_rows(
    db: duckdb.DuckDBPyConnection,
    store: Path,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """Insert rows into a table of the store at `store` in bulk; return how many."""
    spool = Spool(store, columns)
    try:
        spool.extend(rows)
        return spool.load(db, table)
    finally:
        spool.discard()
