"""Opening the store's DuckDB file: permissions, migrations, transactions, and its errors.

DuckDB lets one process write a file, or several read it, never both: a reader that finds
the file held by a sync gets `StoreBusyError` (the CLI then shows the last run's summary,
see `runstate.py`). Every step that must be all-or-nothing runs in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from encours.errors import EncoursError, StateError, StorageError, StoreBusyError
from encours.sync.store.schema import MIGRATIONS

#: The engine's memory ceiling: past it, joins and sorts spill to a temporary folder beside
#: the store instead of growing. At the benchmark's million invoices a first read's working
#: tables pass it (the process peaks at about 800 MB); at 512 MB they spilled more, and the
#: read took 2 s longer.
MEMORY_LIMIT = "640MB"
#: The first bytes of an SQLite file: a store written by encours 0.1.
SQLITE_MAGIC = b"SQLite format 3\x00"


def store_error(path: Path | None, error: duckdb.Error) -> EncoursError:
    """The engine's error turned into ours: what it means for the store, and what to do."""
    where = f"the store {path}" if path else "the store"
    text = str(error)
    if "Could not set lock" in text or "conflicting lock" in text.lower():
        return StoreBusyError(
            f"{where} is in use by another encours process (a sync writing it, or a command "
            "reading it); try again when it ends"
        )
    if isinstance(error, duckdb.IOException | duckdb.OutOfMemoryException) or any(
        sign in text for sign in ("No space left", "Could not write", "Disk quota")
    ):
        return StorageError(
            f"{where} cannot be written ({_first_line(text)}): free some disk space or "
            "memory, or check the disk; nothing of this run was kept, the next run catches up"
        )
    return StateError(
        f"{where} is damaged (DuckDB said: {_first_line(text)}). Restore it from a backup, or "
        "move it aside and run `encours sync --full-refresh` to rebuild it from the sources "
        "(every indicator is then pushed again)."
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def is_sqlite(path: Path) -> bool:
    """Whether `path` is an SQLite file (a 0.1 store)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the store file, created readable by its owner only.

    Raises:
        StoreBusyError: a sync holds the file.
        StateError: the file is not a DuckDB database.
    """
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    spill = path.parent / f".{path.name}.tmp"
    config = {"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)}
    old_umask = os.umask(0o077)  # the file and its write-ahead log: the owner's only
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as exc:
        error = store_error(path, exc)
        if isinstance(error, StateError):
            raise StateError(
                f"{path} is not an encours store (DuckDB said: {_first_line(str(exc))})"
            ) from None
        raise error from None
    finally:
        os.umask(old_umask)


def schema_version(db: duckdb.DuckDBPyConnection) -> int:
    """The number of the last migration applied (0 for an empty file)."""
    exists = db.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
        "AND table_schema = current_schema()"  # PostgreSQL: one company's schema of many
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row else 0


def migrate(
    db: duckdb.DuckDBPyConnection, path: Path, migrations: Sequence[str] = MIGRATIONS
) -> None:
    """Apply the migrations not yet applied, each in its own transaction.

    Raises:
        StateError: the store is newer than this program, or a migration failed (the store
            is then left as it was before that migration).
    """
    current = schema_version(db)
    if current > len(migrations):
        raise StateError(
            f"{path} was written by a newer encours (schema {current}, this one knows "
            f"{len(migrations)}): upgrade encours"
        )
    for number, script in enumerate(migrations[current:], start=current + 1):
        db.execute("BEGIN TRANSACTION")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            db.execute(script)
            db.execute("INSERT INTO schema_version VALUES (?)", (number,))
            db.execute("COMMIT")
        except duckdb.Error as exc:
            db.execute("ROLLBACK")
            raise StateError(
                f"migration {number} of {path} failed ({_first_line(str(exc))}); "
                "the store is unchanged"
            ) from None


class Transactions:
    """All-or-nothing steps on one connection.

    DuckDB has no savepoints, so a step inside another is part of it: only the outermost
    commits or rolls back. The write path stages a whole read before it touches the store,
    so a source that fails midway has nothing to undo. A statement that fails aborts the
    whole transaction in DuckDB: what may fail for a reason of the input (reading a file)
    runs before it, into temporary tables.
    """

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self.db = db
        self.depth = 0
        self.never_commit = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit on success, roll back on any exception (outermost step only)."""
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        self.db.execute("BEGIN TRANSACTION")
        self.depth = 1
        try:
            yield
        except BaseException:
            self.depth = 0
            _rollback(self.db)
            raise
        self.depth = 0
        self.db.execute("ROLLBACK" if self.never_commit else "COMMIT")

    @contextmanager
    def rolled_back(self) -> Iterator[None]:
        """Every transaction inside is rolled back instead of committed: nothing is kept."""
        self.never_commit = True
        try:
            yield
        finally:
            self.never_commit = False


def _rollback(db: duckdb.DuckDBPyConnection) -> None:
    try:
        db.execute("ROLLBACK")
    except duckdb.Error:  # the engine already aborted it (a failed statement does)
        pass


def temporary_kind(db: Any, name: str) -> str | None:
    """'VIEW' or 'TABLE' for this session's temporary view or table `name`; None if none.

    Only this session's: on PostgreSQL, other workers' temporary tables are listed too, in
    their own schemas (DuckDB keeps them in the catalog `temp`, one per connection).
    """
    from encours.sync.store.postgres import is_postgres

    mine = (
        "table_schema = (SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema())"
        if is_postgres(db)
        else "table_catalog = 'temp'"
    )
    sql = f"SELECT table_type FROM information_schema.tables WHERE table_name = ? AND {mine}"  # noqa: S608
    row = db.execute(sql, [name]).fetchone()
    if row is None:
        return None
    return "VIEW" if row[0] == "VIEW" else "TABLE"
