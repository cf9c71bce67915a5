"""The state of encours in one embedded DuckDB file; all SQL lives in this package.

- `schema.py`: the tables, as numbered migrations.
- `connection.py`: opening the file, migrating it, transactions, the engine's errors.
- `legacy.py`: a store written by 0.1 (SQLite) copied into a new one on first open.
- `rows.py`, `bulk.py`, `writing.py`: the one write path of records (staged, then merged).
- `reconciling.py`: dirty customers, their inputs and their allocations.
- `queries.py`: what the figures read, as of a date.
- `review.py`: what a person reviews: runs, one customer's items, money to check.
- `runstate.py`: runs, positions, snapshots, pushed values, matches.
- `postgres.py`: the same store on a PostgreSQL server (`[store] url`), its dialect rewritten.

Inspect a store with DuckDB's own CLI: `duckdb -readonly encours.duckdb`, then for
example `SELECT * FROM runs ORDER BY id DESC LIMIT 5;`.
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from encours.errors import StoreBusyError
from encours.model import Rejected, SourceRecord
from encours.sync.store.connection import (
    Transactions,
    connect,
    is_sqlite,
    migrate,
    schema_version,
    store_error,
)
from encours.sync.store.ledger import (
    LEDGER_INDEX,
    copy_texts,
    drop_ledger,
    hide_previous,
    keep_index,
    keep_ledger,
    keep_texts,
    narrowed,
    show_previous,
    stage_ledger,
)
from encours.sync.store.postgres import (
    PostgresConnection,
    is_postgres,
    scratch_engine,
    store_password,
)
from encours.sync.store.postgres import connect as connect_postgres
from encours.sync.store.queries import FigureQueries
from encours.sync.store.reconciling import Reconciling
from encours.sync.store.review import ReviewQueries
from encours.sync.store.runstate import RunState
from encours.sync.store.schema import MIGRATIONS
from encours.sync.store.writing import COLUMNS, Merge, RecordWriter, WriteCounts, create_stage

__all__ = ["Store", "WriteCounts", "store_error"]


class Store(FigureQueries, Reconciling, ReviewQueries, RunState):
    """The store. Open it with `Store.open(path)` (or `Store.reading(path)`); `close()` it.

    With `url` (`postgresql://...`), the store is that PostgreSQL database instead of the file
    at `path`; the folder of `path` then only holds the spooled rows of a write.
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection | PostgresConnection, path: Path
    ) -> None:
        self.db = connection
        self.path = path
        self._transactions = Transactions(connection)
        self._ledgers = 0
        #: PostgreSQL: the in-memory DuckDB holding each ledger read, until it is written.
        self._scratches: dict[str, duckdb.DuckDBPyConnection] = {}
        # The engine creates its write-ahead log and spill files as it goes: owner only too.
        self._umask = os.umask(0o077)

    @classmethod
    def open(cls, path: Path, *, wait_seconds: float = 0.0, url: str | None = None) -> Store:
        """Open (creating it readable by its owner only) and migrate the store at `path`.

        A store written by encours 0.1 (SQLite) is first copied into a new DuckDB store at
        the same path; the old file is kept beside it (`legacy.py`). While another process
        reads the file, try again for up to `wait_seconds`. With `url`, the PostgreSQL
        database there is opened and migrated instead (`postgres.py`).

        Raises:
            StoreBusyError: another process still holds the file after `wait_seconds`.
        """
        if url is not None:
            return cls._migrated(connect_postgres(url, store_password()), path)
        if is_sqlite(path):
            from encours.sync.store.legacy import upgrade

            upgrade(path)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                connection = connect(path)
                break
            except StoreBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        return cls._migrated(connection, path)

    @classmethod
    def _migrated(
        cls, connection: duckdb.DuckDBPyConnection | PostgresConnection, path: Path
    ) -> Store:
        store = cls(connection, path)
        try:
            migrate(store.db, path)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    @contextmanager
    def reading(cls, path: Path, *, url: str | None = None) -> Iterator[Store]:
        """The store open for reading only, in one transaction: every query sees one state.

        On PostgreSQL (`url`) the transaction is read-only and repeatable-read: a sync
        committing meanwhile changes nothing of what it sees.

        Raises:
            StoreBusyError: a sync holds the file (DuckDB lets no one read it meanwhile).
        """
        if url is not None:
            store = cls.open(path, url=url)
            try:
                store.db.execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield store
            finally:
                store.close()
            return
        if not path.exists() or is_sqlite(path):
            cls.open(path).close()  # created or upgraded once, then read
        store = cls(connect(path, read_only=True), path)
        try:
            if schema_version(store.db) < len(MIGRATIONS):
                store.close()
                cls.open(path).close()
                store = cls(connect(path, read_only=True), path)
            store.verify()
            store.db.execute("BEGIN TRANSACTION")
            yield store
        finally:
            store.close()

    def verify(self) -> None:
        """Read every block of every table; StateError if one is damaged.

        DuckDB checks a block's checksum when it reads it: hashing every column of every
        row reads them all (a pass over the file, without fetching anything).
        """
        if is_postgres(self.db):
            return  # PostgreSQL checks its pages itself (data checksums), as it reads them
        try:
            columns: dict[str, list[str]] = {}
            for table, column in self.db.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'main'"
            ).fetchall():
                columns.setdefault(table, []).append(column)
            for table, names in columns.items():
                # DuckDB-only: hash() of several values.
                self.db.execute(f"SELECT MAX(hash({', '.join(names)})) FROM {table}").fetchall()
        except duckdb.Error as exc:
            raise store_error(self.path, exc) from None

    def close(self) -> None:
        """Close the connection; the write-ahead log is folded back into the file."""
        for scratch in self._scratches.values():
            scratch.close()
        self._scratches.clear()
        self.db.close()
        os.umask(self._umask)

    @property
    def schema_version(self) -> int:
        """The number of the last migration applied."""
        return schema_version(self.db)

    def migrate(self, migrations: tuple[str, ...]) -> None:
        """Apply the migrations not yet applied (see `connection.migrate`)."""
        migrate(self.db, self.path, migrations)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: commit on success, roll back on any exception.

        A transaction inside another is part of it; inside `dry_run()` nothing is committed.
        """
        with self._transactions.transaction():
            yield

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Every transaction inside is rolled back instead of committed: nothing is kept.

        (Statements outside any transaction commit at once: inside, write in transactions.)
        """
        with self._transactions.rolled_back():
            yield

    def write_records(
        self,
        source: str,
        records: Iterable[SourceRecord | Rejected],
        *,
        company_currency: str,
        run_id: int,
        replace_all: bool,
        max_deletion_share: float | None = None,
    ) -> WriteCounts:
        """Stage a source's records, then merge them (inside the caller's transaction).

        A `Rejected` record, or one in another currency with no exchange rate, goes to the
        quarantine with its reason. With `replace_all` (a full read of the source), records
        of this source that were not in `records` are deleted, and so are quarantine rows.

        Raises:
            DestructiveReadError: a full read would leave the source with fewer records, by
                more than `max_deletion_share` of them (nothing of the read is kept).
                Records that only changed their id (a program renumbering its entries)
                leave the count as it was and pass.
        """
        writer = RecordWriter(self.db, self.path, source, company_currency, run_id)
        writer.add_all(records)
        try:
            return writer.finish(replace_all=replace_all, max_deletion_share=max_deletion_share)
        finally:
            writer.discard()

    def read_ledger(
        self,
        source: str,
        stage: Callable[[duckdb.DuckDBPyConnection, str | None], None],
        *,
        whole: bool = False,
    ) -> str:
        """Let a source's engine read (`Pull.stage`) fill its ledger tables; name them.

        The read is shown the index of the source's last read (`ledger.show_previous`), so
        that it works out only what changed; with `whole` (`sync --full-refresh`), and on
        PostgreSQL, it works out every entry again. Call it outside any transaction: what the
        read raises (a bad file) then aborts nothing. The tables are temporary, kept under the
        name returned until `write_ledger`.
        """
        self._ledgers += 1
        name = f"ledger{self._ledgers}"
        if is_postgres(self.db):  # the engine's reader is DuckDB's: read into memory first
            scratch = scratch_engine(self.path.parent)
            self._scratches[name] = scratch
            stage(scratch, None)  # the index stays in PostgreSQL: the whole file is read
            return keep_ledger(scratch, name)
        show_previous(self.db, source)
        try:
            stage(self.db, None if whole else self.cursor(source, LEDGER_INDEX))
        finally:
            hide_previous(self.db)
        return keep_ledger(self.db, name)

    def write_ledger(
        self,
        source: str,
        ledger: str,
        *,
        company_currency: str,
        run_id: int,
        replace_all: bool,
        max_deletion_share: float | None = None,
    ) -> WriteCounts:
        """`write_records` for a source the engine read itself (`read_ledger`).

        Its ledger tables become staged rows in SQL; the merge is the same as for records.
        The file's lines are kept once, in `ledger_text`: its records' raw texts (`with_raw`).
        On PostgreSQL, the rows are staged in the in-memory DuckDB that read the ledger, then
        copied into PostgreSQL's staged tables (COPY).
        """
        if isinstance(self.db, PostgresConnection):
            scratch = self._scratches.pop(ledger)
            try:
                create_stage(scratch)
                written = stage_ledger(scratch, ledger, company_currency)
                create_stage(self.db)
                for table in COLUMNS:
                    self.db.copy_from_duckdb(scratch, f"stage_{table}")
                copy_texts(self.db, scratch, source, ledger)
            finally:
                scratch.close()
        else:
            create_stage(self.db)
            written = stage_ledger(self.db, ledger, company_currency)
        row = self.db.execute("SELECT COUNT(*) FROM stage_quarantine").fetchone()
        lines = narrowed(self.db, ledger)
        if lines is not None:  # the changed entries only: `fec_changes`
            merge = Merge(self.db, source, run_id, unique=True, scope=ledger)
            counts = merge.run(replace_all=False, max_deletion_share=max_deletion_share)
            # The file's records are those stored now: the others were unchanged.
            written = merge.stored_records()
        else:
            counts = Merge(self.db, source, run_id, unique=True).run(
                replace_all=replace_all, max_deletion_share=max_deletion_share
            )
        if not isinstance(self.db, PostgresConnection):
            keep_texts(self.db, source, ledger)
        keep_index(self.db, source, ledger, run_id)
        if not isinstance(self.db, PostgresConnection):
            drop_ledger(self.db, ledger)
        return WriteCounts(
            written=written,
            quarantined=int(row[0]) if row else 0,
            deleted=counts.deleted,
            changed=counts.changed,
            new=counts.new,
            updated=counts.updated,
            lines=lines,
        )
