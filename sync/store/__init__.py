"""The state of encours in one SQLite file; all SQL lives here.

Records, raw payloads, quarantine, cursors, runs, allocations, indicator snapshots and last
pushed values.

Writes are upserts by `(source, external_id)` that change a row only when its content does,
so reading a page twice is harmless and a second run on the same data writes nothing.
The file runs in WAL mode; every step that must be all-or-nothing runs in `transaction()`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from encours.errors import (
    AlreadyRunningError,
    DestructiveReadError,
    EncoursError,
    StateError,
    StorageError,
)
from encours.model import (
    CURRENCY_EXPONENTS,
    Allocation,
    Credit,
    CreditKind,
    Customer,
    Invoice,
    InvoiceKind,
    LedgerLine,
    LedgerSale,
    Money,
    Party,
    Rejected,
    Sale,
    SourceBalance,
    SourceRecord,
    convert,
    to_decimal,
)
from encours.sync.migrations import MIGRATIONS

BATCH_ROWS = 5_000
#: The tables that hold one source's records, each keyed by (source, its id in the source).
_RECORD_TABLES = ("invoices", "drafts", "credits", "sales", "source_balances", "customers")
CACHE_KIB = 128 * 1024  # page cache: bulk writes into large B-trees thrash a small one


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What one source's records did to the store.

    `written` counts the records taken in, `changed` the rows they actually changed (a
    record read again unchanged changes none).
    """

    written: int = 0
    quarantined: int = 0
    deleted: int = 0
    changed: int = 0


#: SQLite's primary result codes that say what went wrong with the file.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL = 5, 6, 10, 11, 13


def store_error(path: Path | None, error: sqlite3.DatabaseError) -> EncoursError:
    """SQLite's error turned into ours: what it means for the store, and what to do."""
    where = f"the store {path}" if path else "the store"
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (_SQLITE_FULL, _SQLITE_IOERR):
        return StorageError(
            f"{where} cannot be written ({error}): free some disk space, or check the disk; "
            "nothing of this run was kept, the next run catches up"
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return AlreadyRunningError(f"{where} is in use by another process ({error})")
    return StateError(
        f"{where} is damaged (SQLite said: {error}). Restore it from a backup, or move it "
        "aside and run `encours sync --full-refresh` to rebuild it from the sources (every "
        "indicator is then pushed again)."
    )


class Store:
    """The SQLite store. Open it with `Store.open(path)`; close it with `close()`.

    Queries that look allocations up name their index (`INDEXED BY`): without statistics the
    planner may prefer a scan of the clustered key, which turns a lookup into a scan per row.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path
        self._depth = 0

    # -- opening and schema -----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating it readable by its owner only) and migrate the store at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = OFF")
            connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} is not an encours store (SQLite said: {exc})") from None
        store = cls(connection, path)
        store.migrate()
        return store

    def verify(self) -> None:
        """Read every page of the file; StateError if any is damaged (`PRAGMA quick_check`)."""
        try:
            problems = [row[0] for row in self.db.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None
        if problems != ["ok"]:
            raise StateError(
                f"the store {self.path} is damaged (SQLite's check: {'; '.join(problems)}). "
                "Restore it from a backup, or move it aside and run `encours sync "
                "--full-refresh` to rebuild it from the sources."
            )

    def close(self) -> None:
        """Close the connection; the WAL is folded back into the file."""
        self.db.close()

    @property
    def schema_version(self) -> int:
        """The number of the last migration applied."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> None:
        """Apply the migrations not yet applied, each in its own transaction.

        Raises:
            StateError: the store is newer than this program, or a migration failed (the
                store is then left as it was before that migration).
        """
        current = self.schema_version
        if current > len(migrations):
            raise StateError(
                f"{self.path} was written by a newer encours (schema {current}, this one knows "
                f"{len(migrations)}): upgrade encours"
            )
        for number, script in enumerate(migrations[current:], start=current + 1):
            try:
                self.db.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.DatabaseError as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise StateError(
                    f"migration {number} of {self.path} failed ({exc}); the store is unchanged"
                ) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: commit on success, roll back on any exception.

        Transactions nest (savepoints): inside `dry_run()` nothing is ever committed.
        """
        self._depth += 1
        name = f"step{self._depth}"
        self.db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self.db.execute(f"RELEASE {name}")

    @classmethod
    @contextmanager
    def reading(cls, path: Path) -> Iterator[Store]:
        """The store open for reading, in one read transaction: every query sees one state.

        In WAL mode a reader's transaction sees the last commit made before its first read,
        whatever a sync commits meanwhile: `status` shows the previous run's figures or the
        new ones, never a mix of both.
        """
        store = cls.open(path)
        try:
            store.db.execute("BEGIN")
            try:
                yield store
            finally:
                store.db.execute("ROLLBACK")
        finally:
            store.close()

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Everything done inside is rolled back at the end: the store is left as it was."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            self.db.execute("ROLLBACK")

    # -- runs and cursors -------------------------------------------------------------------

    def start_run(self, as_of: date, started_at: datetime) -> int:
        """Record the start of a run and return its id."""
        cursor = self.db.execute(
            "INSERT INTO runs (started_at, as_of) VALUES (?, ?)",
            (started_at.isoformat(), as_of.isoformat()),
        )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self, run_id: int, *, status: str, exit_code: int, summary: dict[str, Any]
    ) -> None:
        """Record how a run ended."""
        self.db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(), status, exit_code, json.dumps(summary), run_id),
        )

    def cursor(self, source: str, stream: str) -> str | None:
        """The stored position of a stream, or None before its first complete read."""
        row = self.db.execute(
            "SELECT value FROM cursors WHERE source = ? AND stream = ?", (source, stream)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, source: str, stream: str, value: str, run_id: int) -> None:
        """Move a stream's position; call it inside the transaction that stored its records."""
        self.db.execute(
            "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "value = excluded.value, run_id = excluded.run_id WHERE value IS NOT excluded.value",
            (source, stream, value, run_id),
        )

    # -- records ----------------------------------------------------------------------------

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
        """Upsert records of one source (inside the caller's transaction).

        A `Rejected` record, or one in another currency with no exchange rate, goes to the
        quarantine with its reason. With `replace_all` (a full read of the source), records
        of this source that were not in `records` are deleted, and so are quarantine rows.

        Raises:
            DestructiveReadError: a full read would leave the source with fewer records, by
                more than `max_deletion_share` of them (the caller's transaction then keeps
                none of it). Records that only changed their id (a program renumbering its
                entries) leave the count as it was and pass.
        """
        writer = _BatchWriter(self.db, source, company_currency, run_id)
        track_seen = replace_all and self._has_rows(source)
        before = self._count_rows(source) if track_seen else 0
        if track_seen:
            self.db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS seen (tbl TEXT, external_id TEXT, "
                "PRIMARY KEY (tbl, external_id)) WITHOUT ROWID"
            )
            self.db.execute("DELETE FROM temp.seen")
        writer.track_seen = track_seen
        for record in records:
            writer.add(record)
        writer.flush()
        deleted = self._delete_unseen(source) if track_seen else 0
        lost = before - self._count_rows(source) if track_seen else 0
        if max_deletion_share is not None and lost > max_deletion_share * before:
            raise DestructiveReadError(
                f"a full read of {source} would delete {deleted:,} records and leave "
                f"{before - lost:,} of its {before:,} ({lost / before:.0%} fewer, more than the "
                f"{max_deletion_share:.0%} allowed): the export may be cut, empty or of another "
                "company. Nothing of this source was changed and nothing derived from it is "
                "pushed. If these deletions are right, run `encours sync --accept-deletions` "
                "once."
            )
        return WriteCounts(
            written=writer.written,
            quarantined=writer.quarantined,
            deleted=deleted,
            changed=writer.changed,
        )

    def _has_rows(self, source: str) -> bool:
        return any(
            self.db.execute(f"SELECT 1 FROM {table} WHERE source = ? LIMIT 1", (source,)).fetchone()  # noqa: S608
            for table in _RECORD_TABLES + ("quarantine",)
        )

    def _count_rows(self, source: str) -> int:
        counts = (
            self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE source = ?", (source,))  # noqa: S608
            for table in _RECORD_TABLES
        )
        return sum(int(cursor.fetchone()[0]) for cursor in counts)

    def _delete_unseen(self, source: str) -> int:
        deleted = 0
        for table in _RECORD_TABLES:
            key = "customer_id" if table == "source_balances" else "external_id"
            deleted += self.db.execute(
                f"DELETE FROM {table} WHERE source = ? AND {key} NOT IN "  # noqa: S608
                "(SELECT external_id FROM temp.seen WHERE tbl = ?)",
                (source, table),
            ).rowcount
        self.db.execute(
            "DELETE FROM quarantine WHERE source = ? AND stream || '/' || external_id NOT IN "
            "(SELECT external_id FROM temp.seen WHERE tbl = 'quarantine')",
            (source,),
        )
        self.db.execute("DELETE FROM temp.seen")
        return deleted

    # -- reconciliation ---------------------------------------------------------------------

    def dirty_customers(self) -> list[tuple[str, str]]:
        """Customers whose records changed since their allocations were last computed."""
        return [
            tuple(row)
            for row in self.db.execute(
                "SELECT source, customer_id FROM dirty_customers ORDER BY 1, 2"
            )
        ]

    def mark_all_dirty(self) -> int:
        """Have every customer reconciled again (after a change of reconciliation settings).

        Returns how many customers are to be reconciled (none in an empty store).
        """
        self.db.execute(
            "INSERT OR IGNORE INTO dirty_customers SELECT source, customer_id FROM due_lines "
            "UNION SELECT source, customer_id FROM credits WHERE customer_id IS NOT NULL"
        )
        return int(self.db.execute("SELECT COUNT(*) FROM dirty_customers").fetchone()[0])

    def reconcile_inputs(
        self,
    ) -> Iterator[tuple[str, str, list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """For each dirty customer, in order: (source, customer_id, due lines, credits).

        Rows come from two ordered scans merged by customer, so memory holds one customer.
        """
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS settled (source TEXT, invoice_id TEXT, "
            "seq INTEGER, day TEXT, PRIMARY KEY (source, invoice_id, seq)) WITHOUT ROWID"
        )
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS used (source TEXT, credit_id TEXT, day TEXT, "
            "PRIMARY KEY (source, credit_id)) WITHOUT ROWID"
        )
        due = self.db.execute(
            "SELECT d.source, d.customer_id, d.invoice_id, d.seq, d.issued_on, d.due_on, "
            "d.amount, d.kind, i.number, COALESCE(d.match_ref, i.match_ref), i.matched_on, "
            "i.order_ref, d.settled_on "
            "FROM dirty_customers c "
            "JOIN due_lines d ON d.source = c.source AND d.customer_id = c.customer_id "
            "JOIN invoices i ON i.source = d.source AND i.external_id = d.invoice_id "
            "ORDER BY d.source, d.customer_id"
        )
        credits = self.db.execute(
            "SELECT r.source, r.customer_id, r.external_id, r.kind, r.on_date, r.amount, "
            "r.reference, r.match_ref, r.matched_on, r.applies_to, r.is_on_order, r.order_ref, "
            "r.links, r.used_on FROM dirty_customers c "
            "JOIN credits r ON r.source = c.source AND r.customer_id = c.customer_id "
            "ORDER BY r.source, r.customer_id"
        )
        due_rows = _grouped(due)
        credit_rows = _grouped(credits)
        for source, customer_id in self.dirty_customers():
            yield (
                source,
                customer_id,
                due_rows.take((source, customer_id)),
                credit_rows.take((source, customer_id)),
            )

    def replace_reconciliation(
        self,
        source: str,
        customer_id: str,
        allocations: Sequence[Allocation],
        settled: Sequence[tuple[str | None, str, int]],
        used: Sequence[tuple[str | None, str]],
    ) -> None:
        """Set a customer's allocations if they changed, and the settlement dates given.

        `settled` holds (settled_on, invoice_id, due_seq) and `used` (used_on, credit_id),
        only for the dates that changed. Call it inside the caller's transaction.
        """
        rows = [
            (
                a.credit_id,
                a.invoice_id,
                a.due_seq,
                a.amount,
                a.allocated_on.isoformat(),
                a.rule.value,
            )
            for a in allocations
        ]
        existing = self.db.execute(
            "SELECT credit_id, invoice_id, due_seq, amount, allocated_on, rule "
            "FROM allocations WHERE source = ? AND customer_id = ? ORDER BY position",
            (source, customer_id),
        ).fetchall()
        if existing != rows:
            if existing:
                self.db.execute(
                    "DELETE FROM allocations WHERE source = ? AND customer_id = ?",
                    (source, customer_id),
                )
            self.db.executemany(
                "INSERT INTO allocations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(source, customer_id, n, *row) for n, row in enumerate(rows)],
            )
        # Not written in place: the scans of `reconcile_inputs` are still reading those tables.
        self.db.executemany(
            "INSERT INTO temp.settled VALUES (?, ?, ?, ?)",
            [(source, invoice_id, seq, day) for day, invoice_id, seq in settled],
        )
        self.db.executemany(
            "INSERT INTO temp.used VALUES (?, ?, ?)",
            [(source, credit_id, day) for day, credit_id in used],
        )

    def finish_reconciliation(self) -> None:
        """Write the settlement dates gathered, then clear the dirty list."""
        self.db.execute(
            "UPDATE due_lines SET settled_on = s.day FROM temp.settled s "
            "WHERE due_lines.source = s.source AND due_lines.invoice_id = s.invoice_id "
            "AND due_lines.seq = s.seq"
        )
        self.db.execute(
            "UPDATE credits SET used_on = u.day FROM temp.used u "
            "WHERE credits.source = u.source AND credits.external_id = u.credit_id"
        )
        self.db.execute("DELETE FROM temp.settled")
        self.db.execute("DELETE FROM temp.used")
        self.db.execute("DELETE FROM dirty_customers")

    # -- figures as of a date ---------------------------------------------------------------

    def customers(self) -> Iterator[sqlite3.Row]:
        """Every customer: source, external_id, name, credit_limit."""
        self.db.row_factory = sqlite3.Row
        try:
            yield from self.db.execute(
                "SELECT source, external_id, name, credit_limit FROM customers ORDER BY 1, 2"
            )
        finally:
            self.db.row_factory = None

    def open_due_lines(self, as_of: date) -> Iterator[tuple[str, str, str, str, int, int]]:
        """Due lines open as of a date, ordered by customer.

        Rows are (source, customer_id, kind, due_on, residual, is_doubtful).

        Open means issued on or before `as_of` and not settled by allocations dated on or
        before it; the residual is the amount less those allocations.
        """
        day = as_of.isoformat()
        yield from self.db.execute(
            "SELECT d.source, d.customer_id, d.kind, d.due_on, d.amount - COALESCE(("
            "  SELECT SUM(a.amount) FROM allocations a INDEXED BY allocations_by_due_line"
            "  WHERE a.source = d.source"
            "  AND a.invoice_id = d.invoice_id AND a.due_seq = d.seq AND a.allocated_on <= :day"
            "), 0) AS residual, d.is_doubtful "
            "FROM due_lines d WHERE d.issued_on <= :day "
            "AND (d.settled_on IS NULL OR d.settled_on > :day) AND residual <> 0 "
            "ORDER BY d.source, d.customer_id",
            {"day": day},
        )

    def unapplied(self, as_of: date) -> dict[tuple[str, str | None], int]:
        """Credits received on or before `as_of` and not allocated by then, per customer.

        Customer None: receipts not tied to any customer.
        """
        # Credits received by then, less what was allocated by then: an allocation is never
        # dated before its credit, so both sums cover the same credits. Two narrow scans.
        day = as_of.isoformat()
        totals: dict[tuple[str, str | None], int] = {}
        for source, customer, amount in self.db.execute(
            "SELECT source, customer_id, SUM(amount) FROM credits INDEXED BY credits_by_customer "
            "WHERE on_date <= ? GROUP BY 1, 2",
            (day,),
        ):
            totals[(source, customer)] = int(amount)
        for source, customer, amount in self.db.execute(
            "SELECT source, customer_id, SUM(amount) FROM allocations WHERE allocated_on <= ? "
            "GROUP BY 1, 2",
            (day,),
        ):
            totals[(source, customer)] = totals.get((source, customer), 0) - int(amount)
        return {key: amount for key, amount in totals.items() if amount}

    def drafts(self, as_of: date) -> dict[tuple[str, str], int]:
        """Per customer, the total of the draft invoices dated on or before `as_of`."""
        return {
            (source, customer): int(total)
            for source, customer, total in self.db.execute(
                "SELECT source, customer_id, SUM(total) FROM drafts WHERE issued_on <= ? "
                "GROUP BY 1, 2",
                (as_of.isoformat(),),
            )
        }

    def dated_between(self, after: date, until: date) -> bool:
        """Whether an invoice was issued or a credit received after `after`, up to `until`."""
        return any(
            self.db.execute(
                f"SELECT 1 FROM {table} WHERE {column} > ? AND {column} <= ? LIMIT 1",  # noqa: S608
                (after.isoformat(), until.isoformat()),
            ).fetchone()
            for table, column in (("due_lines", "issued_on"), ("credits", "on_date"))
        )

    def source_balances(self) -> list[tuple[str, str, date, int, str]]:
        """What each source says its customers owe: (source, customer, as_of, amount, basis)."""
        return [
            (source, customer, date.fromisoformat(day), int(units), basis)
            for source, customer, day, units, basis in self.db.execute(
                "SELECT source, customer_id, as_of, amount, basis FROM source_balances "
                "ORDER BY 1, 2"
            )
        ]

    def monthly_sales(
        self, since: date, as_of: date
    ) -> dict[tuple[str, str | None], dict[str, int]]:
        """Sales per customer and month ("YYYY-MM") booked from `since` to `as_of` included."""
        sales: dict[tuple[str, str | None], dict[str, int]] = {}
        for source, customer, month, amount in self.db.execute(
            "SELECT source, customer_id, substr(booked_on, 1, 7), SUM(amount) FROM sales "
            "INDEXED BY sales_by_day WHERE booked_on BETWEEN ? AND ? GROUP BY 1, 2, 3",
            (since.isoformat(), as_of.isoformat()),
        ):
            sales.setdefault((source, customer), {})[month] = int(amount)
        return sales

    def payment_delays(self, as_of: date) -> dict[tuple[str, str | None], tuple[int, int]]:
        """Per customer, over invoice due lines settled by `as_of`: the payment delay sums.

        (sum of amount × days late, sum of amount), integers, so the weighted mean is exact.
        """
        rows = self.db.execute(
            "SELECT source, customer_id, "
            "SUM(amount * CAST(julianday(settled_on) - julianday(due_on) AS INTEGER)), SUM(amount) "
            "FROM due_lines WHERE kind = 'invoice' AND settled_on <= ? GROUP BY 1, 2",
            (as_of.isoformat(),),
        )
        return {(s, c): (int(weighted), int(total)) for s, c, weighted, total in rows}

    def unmatched_credits(self, as_of: date) -> Iterator[tuple[str, str, str, str, str, int]]:
        """Credits still unallocated as of a date, for a person to check.

        Rows are (source, customer_id, kind, external_id, reference, unallocated amount).
        """
        day = as_of.isoformat()
        yield from self.db.execute(
            "SELECT c.source, c.customer_id, c.kind, c.external_id, COALESCE(c.reference, ''), "
            "c.amount - COALESCE((SELECT SUM(a.amount) FROM allocations a "
            "INDEXED BY allocations_by_credit WHERE "
            "a.source = c.source AND a.credit_id = c.external_id AND a.allocated_on <= :day), 0) "
            "AS left_over FROM credits c WHERE c.on_date <= :day "
            "AND (c.used_on IS NULL OR c.used_on > :day) AND left_over > 0 ORDER BY 1, 2, 5",
            {"day": day},
        )

    def period_flows(
        self, start: date, end: date
    ) -> dict[tuple[str, str | None], tuple[int, int, int]]:
        """Per customer: what moved in the period from `start` to `end` included.

        (outstanding on the day before `start`, sales, cash received). The opening
        outstanding is the balance of the account, debits less credits, which no allocation
        changes.
        """
        before = date.fromordinal(start.toordinal() - 1).isoformat()
        first, last = start.isoformat(), end.isoformat()
        flows: dict[tuple[str, str | None], list[int]] = {}
        queries = (
            (
                0,
                "SELECT source, customer_id, SUM(amount) FROM due_lines WHERE issued_on <= ? "
                "GROUP BY 1, 2",
                (before,),
            ),
            (
                0,
                "SELECT source, customer_id, -SUM(amount) FROM credits "
                "INDEXED BY credits_by_customer WHERE on_date <= ? GROUP BY 1, 2",
                (before,),
            ),
            (
                1,
                "SELECT source, customer_id, SUM(amount) FROM sales INDEXED BY sales_by_day "
                "WHERE booked_on BETWEEN ? AND ? GROUP BY 1, 2",
                (first, last),
            ),
            (
                2,
                "SELECT source, customer_id, SUM(amount) FROM credits "
                "INDEXED BY credits_by_customer WHERE kind IN ('payment', 'advance') "
                "AND on_date BETWEEN ? AND ? GROUP BY 1, 2",
                (first, last),
            ),
            (
                # An advance applied to an invoice moves money from 4191 to 411: the 411
                # credit it gives is no new cash (the advance was counted when received).
                2,
                "SELECT source, customer_id, -SUM(amount) FROM due_lines "
                "WHERE kind = 'advance_use' AND issued_on BETWEEN ? AND ? GROUP BY 1, 2",
                (first, last),
            ),
        )
        for position, sql, parameters in queries:
            for source, customer, amount in self.db.execute(sql, parameters):
                flows.setdefault((source, customer), [0, 0, 0])[position] += int(amount)
        return {key: (values[0], values[1], values[2]) for key, values in flows.items()}

    def due_dates_assumed(self) -> set[tuple[str, str]]:
        """Customers with at least one invoice whose due date came from default terms."""
        return {
            (s, c)
            for s, c in self.db.execute(
                "SELECT DISTINCT source, customer_id FROM invoices WHERE due_date_assumed = 1"
            )
        }

    def customer_parties(self) -> list[Party]:
        """Every customer as matching sees it, keyed `source:external_id`."""
        return [
            Party(f"{source}:{external_id}", name, siren, siret, vat, domain)
            for source, external_id, name, siren, siret, vat, domain in self.db.execute(
                "SELECT source, external_id, name, siren, siret, vat_number, email_domain "
                "FROM customers ORDER BY 1, 2"
            )
        ]

    def save_matches(self, target: str, rows: Sequence[tuple[str, str | None, str, str]]) -> None:
        """Replace a target's matching: (customer key, record key, status, detail) rows."""
        self.db.execute("DELETE FROM matches WHERE target = ?", (target,))
        self.db.executemany(
            "INSERT INTO matches VALUES (?, ?, ?, ?, ?)", [(target, *row) for row in rows]
        )

    def matches(self, target: str | None = None) -> list[tuple[str, str, str | None, str, str]]:
        """(target, customer key, record key, status, detail), by target and customer."""
        return list(
            self.db.execute(
                "SELECT target, customer_key, record_key, status, detail FROM matches "
                "WHERE ? IS NULL OR target = ? ORDER BY 1, 2",
                (target, target),
            )
        )

    def quarantine_count(self) -> int:
        """How many records wait in quarantine."""
        return int(self.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])

    def quarantine(self) -> list[tuple[str, str, str, str]]:
        """Quarantined records: (source, stream, external_id, reason)."""
        return list(
            self.db.execute(
                "SELECT source, stream, external_id, reason FROM quarantine ORDER BY 1, 2, 3"
            )
        )

    # -- snapshots and pushes ---------------------------------------------------------------

    def save_snapshot(self, as_of: date, indicators: dict[str, dict[str, Any]], run_id: int) -> int:
        """Keep the indicators computed for a date (history for trends).

        Returns how many customers' rows changed; rows whose indicators are unchanged are not
        rewritten.
        """
        changed = 0
        for customer_key, values in indicators.items():
            changed += self.db.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "indicators = excluded.indicators, run_id = excluded.run_id "
                "WHERE indicators IS NOT excluded.indicators",
                (as_of.isoformat(), customer_key, json.dumps(values, sort_keys=True), run_id),
            ).rowcount
        return changed

    def last_pushed(self, target: str) -> dict[str, dict[str, str]]:
        """What was last written to a target: customer key -> field -> value."""
        pushed: dict[str, dict[str, str]] = {}
        for customer_key, field, value in self.db.execute(
            "SELECT customer_key, field, value FROM pushed WHERE target = ?", (target,)
        ):
            pushed.setdefault(customer_key, {})[field] = value
        return pushed

    def record_pushed(self, target: str, values: dict[str, dict[str, str]], run_id: int) -> None:
        """Remember values written to a target (call right after the write succeeded)."""
        self.db.executemany(
            "INSERT INTO pushed VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "value = excluded.value, run_id = excluded.run_id WHERE value IS NOT excluded.value",
            [
                (target, customer_key, field, value, run_id)
                for customer_key, fields in values.items()
                for field, value in fields.items()
            ],
        )


class _Grouped:
    """Rows of an ordered query, handed out customer by customer."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._next = next(self._rows, None)

    def take(self, key: tuple[str, str]) -> list[tuple[Any, ...]]:
        while self._next is not None and (self._next[0], self._next[1]) < key:
            self._next = next(self._rows, None)
        taken = []
        while self._next is not None and (self._next[0], self._next[1]) == key:
            taken.append(self._next)
            self._next = next(self._rows, None)
        return taken


def _grouped(cursor: sqlite3.Cursor) -> _Grouped:
    return _Grouped(iter(cursor))


class _BatchWriter:
    """Turns records into rows and writes them with executemany, a batch at a time.

    Every customer whose invoices or credits are written is marked dirty (to be reconciled);
    a row rewritten with the same content only costs that customer a reconciliation that
    changes nothing.
    """

    def __init__(
        self, db: sqlite3.Connection, source: str, company_currency: str, run_id: int
    ) -> None:
        self.db = db
        self.source = source
        self.currency = company_currency
        self.exponent = CURRENCY_EXPONENTS[company_currency]
        self.run_id = run_id
        self.track_seen = False
        self.written = 0
        self.changed = 0
        self.quarantined = 0
        self.dirty: set[str] = set()
        self.contents: dict[tuple[str, str], bytes] = {}  # a digest a record: memory stays small
        self.duplicates: dict[tuple[str, str], int] = {}  # how many versions of an id came
        self.batches: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _UPSERTS}

    def add(self, record: SourceRecord | Rejected) -> None:
        """Queue one record's rows (flushed every BATCH_ROWS rows)."""
        if type(record) is LedgerLine:  # the bulk path first: millions of these
            self._ledger_line(record)
            self.written += 1
        elif isinstance(record, Rejected):
            self._quarantine(record)
        elif record.source != self.source:
            raise StateError(
                f"record {record.external_id} of {record.source} given as {self.source}"
            )
        elif type(record) is not LedgerSale and self._seen_before(record):
            return
        else:
            try:
                self._record(record)  # type: ignore[arg-type]  # LedgerLine went above
                self.written += 1
            except _NoRate as exc:
                self._quarantine(
                    Rejected(
                        source=self.source,
                        stream=type(record).__name__.lower(),
                        external_id=record.external_id,
                        reason=str(exc),
                        raw=record.raw or record.model_dump_json(),  # type: ignore[union-attr]
                    )
                )

    def _seen_before(self, record: SourceRecord) -> bool:
        """True for a record this read already gave, which is then not written again.

        The same content is skipped; different content is quarantined (which one is right,
        a person must say; the first is kept). API pages overlap and may repeat a record; two
        different records under one id are a source bug that would otherwise lose one of them
        silently. (Ledger lines are not tracked: their ids come from their place in the file,
        and there are millions.)
        """
        key = (type(record).__name__, record.external_id)
        content = record.model_dump_json(exclude={"raw", "updated_at"})  # type: ignore[union-attr]
        digest = hashlib.blake2b(content.encode(), digest_size=16).digest()
        first = self.contents.setdefault(key, digest)
        if first == digest:
            return first is not digest
        # Each other version is its own quarantine record: none overwrites another.
        self.duplicates[key] = copies = self.duplicates.get(key, 1) + 1
        self._quarantine(
            Rejected(
                source=self.source,
                stream=f"{key[0].lower()}:duplicate",
                external_id=record.external_id + (f" (version {copies})" if copies > 2 else ""),
                reason=(
                    f"{key[0].lower()} {record.external_id} came "
                    f"{'twice' if copies == 2 else f'{copies} times'} in one read with "
                    "different content; the first was kept. Check it in the source."
                ),
                raw=record.raw or content,  # type: ignore[union-attr]
            )
        )
        return True

    def flush(self) -> None:
        """Write every queued row, then mark the customers written as dirty."""
        for table in self.batches:
            self._flush(table)
        self.db.executemany(
            "INSERT INTO dirty_customers VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(self.source, customer) for customer in sorted(self.dirty)],
        )
        self.dirty.clear()

    def _ledger_line(self, line: LedgerLine) -> None:
        """A ledger line straight to its rows: already checked, in company currency."""
        if line.due_lines:
            self._invoice(
                line.external_id,
                line.customer_id,
                line.reference,
                line.kind,
                line.booked_on,
                self.currency,
                self._amount_text(line.amount),
                None,
                line.amount,
                line.due_lines,
                line.is_doubtful,
                line.due_date_assumed,
                line.match_ref,
                line.matched_on,
                None,
                None,
                line.raw,
            )
        else:
            is_advance = line.kind == CreditKind.ADVANCE.value
            self._credit(
                (
                    line.source,
                    line.external_id,
                    line.kind,
                    line.customer_id,
                    line.booked_on,
                    self.currency,
                    self._amount_text(line.amount),
                    None,
                    line.amount,
                    line.reference,
                    line.match_ref,
                    line.matched_on,
                    None,
                    int(is_advance),
                    line.reference if is_advance else None,
                    "[]",
                    None,
                    line.raw,
                )
            )

    def _record(
        self, record: Customer | Invoice | Credit | Sale | SourceBalance | LedgerSale
    ) -> None:
        if isinstance(record, LedgerSale):
            self._append(
                "sales",
                (
                    record.source,
                    record.external_id,
                    record.customer_id,
                    record.booked_on,
                    record.amount,
                    record.raw,
                ),
                record.external_id,
            )
            return
        raw = record.raw or record.model_dump_json(exclude_defaults=True)
        updated_at = record.updated_at.isoformat() if record.updated_at else None
        if isinstance(record, Customer):
            limit = (
                self._company(record.credit_limit, None, "credit limit")
                if record.credit_limit
                else None
            )
            self._append(
                "customers",
                (
                    record.source,
                    record.external_id,
                    record.name,
                    record.siren,
                    record.siret,
                    record.vat_number,
                    record.email_domain,
                    record.payment_terms_days,
                    int(record.terms_end_of_month),
                    limit,
                    updated_at,
                    raw,
                ),
                record.external_id,
            )
        elif isinstance(record, Invoice) and record.kind == InvoiceKind.DRAFT:
            rate = record.exchange_rate
            what = f"draft invoice {record.number or record.external_id}"
            self._append(
                "drafts",
                (
                    record.source,
                    record.external_id,
                    record.customer_id,
                    record.number,
                    record.issued_on.isoformat(),
                    record.total.currency,
                    str(record.total.amount),
                    _text(rate),
                    self._company(record.total, rate, what),
                    updated_at,
                    raw,
                ),
                record.external_id,
            )
            self._append("unposted", (record.source, record.external_id))
        elif isinstance(record, Invoice):
            rate = record.exchange_rate
            what = f"invoice {record.number or record.external_id}"
            total = self._company(record.total, rate, what)
            due_lines: list[tuple[str, int] | tuple[str, int, str]] = [
                (line.due_on.isoformat(), self._company(line.amount, rate, what))
                for line in record.due_lines
            ]
            # After conversion, the last due line absorbs the rounding: lines add up to the total.
            due_lines[-1] = (
                due_lines[-1][0],
                due_lines[-1][1] + total - sum(line[1] for line in due_lines),
            )
            # A due line matched apart carries its own key, third.
            due_lines = [
                (*line, source_line.match_ref) if source_line.match_ref else line
                for line, source_line in zip(due_lines, record.due_lines, strict=True)
            ]
            self._invoice(
                record.external_id,
                record.customer_id,
                record.number,
                record.kind.value,
                record.issued_on.isoformat(),
                record.total.currency,
                str(record.total.amount),
                _text(rate),
                total,
                due_lines,
                record.is_doubtful,
                record.due_date_assumed,
                record.match_ref,
                _iso(record.matched_on),
                record.order_ref,
                updated_at,
                raw,
            )
            self._append("posted", (record.source, record.external_id))
        elif isinstance(record, Credit):
            rate = record.exchange_rate
            what = f"{record.kind.value.replace('_', ' ')} {record.reference or record.external_id}"
            links = json.dumps(
                [
                    [a.invoice_id, self._company(a.amount, rate, what), _iso(a.allocated_on)]
                    for a in record.allocations
                ]
            )
            self._credit(
                (
                    record.source,
                    record.external_id,
                    record.kind.value,
                    record.customer_id,
                    record.on.isoformat(),
                    record.amount.currency,
                    str(record.amount.amount),
                    _text(rate),
                    self._company(record.amount, rate, what),
                    record.reference,
                    record.match_ref,
                    _iso(record.matched_on),
                    getattr(record, "applies_to", None),
                    int(getattr(record, "is_on_order", False)),
                    getattr(record, "order_ref", None),
                    links,
                    updated_at,
                    raw,
                )
            )
        elif isinstance(record, SourceBalance):
            what = f"balance of customer {record.external_id}"
            self._append(
                "source_balances",
                (
                    record.source,
                    record.external_id,
                    record.as_of.isoformat(),
                    record.amount.currency,
                    str(record.amount.amount),
                    self._company(record.amount, None, what),
                    record.basis,
                    raw,
                ),
                record.external_id,
            )
        elif isinstance(record, Sale):
            self._append(
                "sales",
                (
                    record.source,
                    record.external_id,
                    record.customer_id,
                    record.booked_on.isoformat(),
                    self._company(record.amount, None, f"sale {record.external_id}"),
                    raw,
                ),
                record.external_id,
            )
        else:
            raise TypeError(f"not a record: {type(record).__name__}")

    def _invoice(
        self,
        external_id: str,
        customer_id: str,
        number: str | None,
        kind: str,
        issued_on: str,
        currency: str,
        total_in_currency: str,
        rate: str | None,
        total: int,
        due_lines: Sequence[tuple[str, int] | tuple[str, int, str]],
        is_doubtful: bool,
        assumed: bool,
        match_ref: str | None,
        matched_on: str | None,
        order_ref: str | None,
        updated_at: str | None,
        raw: str,
    ) -> None:
        """Queue an invoice row and its due line rows."""
        if len(due_lines) == 1 and len(due_lines[0]) == 2:
            due_json = f'[["{due_lines[0][0]}",{due_lines[0][1]}]]'
        else:
            due_json = json.dumps([list(line) for line in due_lines])
        self._append(
            "invoices",
            (
                self.source,
                external_id,
                customer_id,
                number,
                kind,
                issued_on,
                currency,
                total_in_currency,
                rate,
                total,
                due_json,
                int(is_doubtful),
                int(assumed),
                match_ref,
                matched_on,
                order_ref,
                updated_at,
                raw,
            ),
            external_id,
        )
        for seq, (due_on, amount, *own_match) in enumerate(due_lines):
            self._append(
                "due_lines",
                (
                    self.source,
                    external_id,
                    seq,
                    customer_id,
                    kind,
                    int(is_doubtful),
                    issued_on,
                    due_on,
                    amount,
                    own_match[0] if own_match else None,
                ),
            )
        self.dirty.add(customer_id)

    def _credit(self, row: tuple[Any, ...]) -> None:
        """Queue a credit row (in the column order of the credits upsert)."""
        self._append("credits", row, row[1])
        if row[3] is not None:
            self.dirty.add(row[3])

    def _quarantine(self, rejected: Rejected) -> None:
        self.quarantined += 1
        self._append(
            "quarantine",
            (
                rejected.source,
                rejected.stream,
                rejected.external_id,
                rejected.reason,
                rejected.raw,
                self.run_id,
                self.run_id,
            ),
            f"{rejected.stream}/{rejected.external_id}",
        )

    def _append(self, table: str, row: tuple[Any, ...], seen_key: str | None = None) -> None:
        """Queue a row; remember its key when a full read must delete what it did not see."""
        batch = self.batches[table]
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            self._flush(table)
        if seen_key is not None and self.track_seen:
            self._append("seen", (table, seen_key))

    def _flush(self, table: str) -> None:
        rows = self.batches[table]
        if rows:
            before = self.db.total_changes
            self.db.executemany(_UPSERTS[table], rows)
            if table != "quarantine":  # a quarantine row notes the run it was seen in
                self.changed += self.db.total_changes - before
            rows.clear()

    def _amount_text(self, units: int) -> str:
        """Minor units as the Decimal text of the company currency ("1234.50")."""
        if self.exponent == 2:
            return f"{'-' if units < 0 else ''}{abs(units) // 100}.{abs(units) % 100:02d}"
        return str(to_decimal(units, self.currency))

    def _company(self, money: Money, rate: Decimal | None, what: str) -> int:
        if money.currency == self.currency:
            return money.minor_units
        if rate is None:
            raise _NoRate(
                f"{what} is in {money.currency} with no exchange rate to {self.currency}; "
                "encours never guesses a rate: fix the document in the source"
            )
        return convert(money, rate, self.currency).minor_units


class _NoRate(Exception):
    """A foreign-currency document without an exchange rate."""


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT ... ON CONFLICT DO UPDATE that rewrites a row only when something changed."""
    values = ", ".join("?" for _ in columns)
    updated = [c for c in columns if c not in key]
    assignments = ", ".join(f"{c} = excluded.{c}" for c in updated)
    changed = " OR ".join(f"{c} IS NOT excluded.{c}" for c in updated)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments} WHERE {changed}"
    )


_UPSERTS = {
    "customers": _upsert(
        "customers",
        (
            "source",
            "external_id",
            "name",
            "siren",
            "siret",
            "vat_number",
            "email_domain",
            "payment_terms_days",
            "terms_end_of_month",
            "credit_limit",
            "updated_at",
            "raw",
        ),
        ("source", "external_id"),
    ),
    "invoices": _upsert(
        "invoices",
        (
            "source",
            "external_id",
            "customer_id",
            "number",
            "kind",
            "issued_on",
            "currency",
            "total_in_currency",
            "exchange_rate",
            "total",
            "due_lines",
            "is_doubtful",
            "due_date_assumed",
            "match_ref",
            "matched_on",
            "order_ref",
            "updated_at",
            "raw",
        ),
        ("source", "external_id"),
    ),
    "credits": _upsert(
        "credits",
        (
            "source",
            "external_id",
            "kind",
            "customer_id",
            "on_date",
            "currency",
            "amount_in_currency",
            "exchange_rate",
            "amount",
            "reference",
            "match_ref",
            "matched_on",
            "applies_to",
            "is_on_order",
            "order_ref",
            "links",
            "updated_at",
            "raw",
        ),
        ("source", "external_id"),
    ),
    "due_lines": _upsert(
        "due_lines",
        (
            "source",
            "invoice_id",
            "seq",
            "customer_id",
            "kind",
            "is_doubtful",
            "issued_on",
            "due_on",
            "amount",
            "match_ref",
        ),
        ("source", "invoice_id", "seq"),
    ),
    "drafts": _upsert(
        "drafts",
        (
            "source",
            "external_id",
            "customer_id",
            "number",
            "issued_on",
            "currency",
            "total_in_currency",
            "exchange_rate",
            "total",
            "updated_at",
            "raw",
        ),
        ("source", "external_id"),
    ),
    "source_balances": _upsert(
        "source_balances",
        (
            "source",
            "customer_id",
            "as_of",
            "currency",
            "amount_in_currency",
            "amount",
            "basis",
            "raw",
        ),
        ("source", "customer_id"),
    ),
    "sales": _upsert(
        "sales",
        ("source", "external_id", "customer_id", "booked_on", "amount", "raw"),
        ("source", "external_id"),
    ),
    "quarantine": (
        "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "reason = excluded.reason, raw = excluded.raw, last_run = excluded.last_run "
        "WHERE reason IS NOT excluded.reason OR raw IS NOT excluded.raw"
    ),
    "seen": "INSERT OR IGNORE INTO temp.seen VALUES (?, ?)",
    # A draft posted keeps its id in some sources (Pennylane, Tryton): it leaves `drafts`
    # for `invoices`, and the other way round when a posting is undone.
    "posted": "DELETE FROM drafts WHERE source = ? AND external_id = ?",
    "unposted": "DELETE FROM invoices WHERE source = ? AND external_id = ?",
}
