"""The one write path: a source's read is staged whole, then merged into the store by content.

1. Every record becomes rows (`rows.py`), spooled to files and loaded into `stage_*` tables
   (temporary: a read that fails midway leaves the store untouched).
2. For each table, the staged rows that differ from the stored ones (`EXCEPT`, all columns)
   are the changes; with a full read (`replace_all`), stored keys not staged are deletions.
   A full read that would delete too much stops here (`DestructiveReadError`).
3. The customers of every changed or deleted row, before and after, are marked dirty; the
   changed rows replace the stored ones.

So a second read of the same data changes nothing and marks no customer; a re-export with
1 % of its lines changed rewrites and re-reconciles about 1 % of the store.

Example: stored invoice F1 of customer C1 for 100.00; a full read gives F1 for 120.00 and
no F2, which was stored for C2: F1 is rewritten, F2 deleted, and C1 and C2 are dirty.

Dialect: `DISTINCT ON`, `EXCEPT`, `DELETE ... USING` and `ON CONFLICT DO NOTHING` are
PostgreSQL's too; DuckDB-only are `CREATE OR REPLACE TEMP TABLE` (PostgreSQL: `DROP TABLE IF
EXISTS` then `CREATE TEMP TABLE`) and the `$name` parameters (a PostgreSQL driver's
`%(name)s`).
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from encours.errors import DestructiveReadError, StateError
from encours.model import LedgerLine, LedgerSale, Rejected, SourceRecord
from encours.sync.store.bulk import Spool, sql_type
from encours.sync.store.connection import temporary_kind
from encours.sync.store.rows import TABLES, NoRate, RowMaker

#: Each record table's key within a source, and for a table of parts, its parent.
KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("external_id",),
    "invoices": ("external_id",),
    "due_lines": ("invoice_id", "seq"),
    "credits": ("external_id",),
    "credit_links": ("credit_id", "position"),
    "sales": ("external_id",),
    "drafts": ("external_id",),
    "source_balances": ("customer_id",),
}
PARENTS = {"due_lines": ("invoices", "invoice_id"), "credit_links": ("credits", "credit_id")}
#: The tables of whole records: their row count is what a full read may not cut too much.
RECORD_TABLES = ("invoices", "drafts", "credits", "sales", "source_balances", "customers")
#: Tables whose rows name the customer reconciliation works on.
RECONCILED = ("invoices", "due_lines", "credits")
COLUMNS: dict[str, tuple[str, ...]] = {table: row._fields for row, table in TABLES.items()}


#: Out of `closed_groups`: every lettrage group a changed or deleted record held, before
#: and after, with its parts (an invoice's due lines, a credit's links). Whole invoices: a
#: due line changed takes its invoice's other lines' groups out too. Either code of a due
#: line (its own, its invoice's) is taken, whichever the line's group is.
_OPENED_GROUPS = """
    DELETE FROM closed_groups USING (
        WITH invoice AS (
            SELECT external_id AS id FROM changed_invoices
            UNION SELECT external_id FROM gone_invoices
            UNION SELECT invoice_id FROM changed_due_lines
            UNION SELECT invoice_id FROM gone_due_lines
        ), credit AS (
            SELECT external_id AS id FROM changed_credits
            UNION SELECT external_id FROM gone_credits
            UNION SELECT credit_id FROM changed_credit_links
            UNION SELECT credit_id FROM gone_credit_links
        )
        SELECT customer_id, match_ref FROM invoices
        WHERE source = $source AND external_id IN (SELECT id FROM invoice)
        UNION SELECT customer_id, match_ref FROM due_lines
        WHERE source = $source AND invoice_id IN (SELECT id FROM invoice)
        UNION SELECT customer_id, match_ref FROM new_invoices
        WHERE external_id IN (SELECT id FROM invoice)
        UNION SELECT customer_id, match_ref FROM new_due_lines
        WHERE invoice_id IN (SELECT id FROM invoice)
        UNION SELECT customer_id, match_ref FROM credits
        WHERE source = $source AND external_id IN (SELECT id FROM credit)
        UNION SELECT customer_id, match_ref FROM new_credits
        WHERE external_id IN (SELECT id FROM credit)
    ) AS opened
    WHERE closed_groups.source = $source AND closed_groups.customer_id = opened.customer_id
      AND closed_groups.match_ref = opened.match_ref
"""


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What one source's records did to the store.

    `written` counts the records taken in, `changed` the rows they actually changed (a
    record read again unchanged changes none), `deleted` the records a full read removed.
    Of the records written, `new` were not stored before and `updated` were and differ (in
    their own row or in a part: a due line, a link); the others are unchanged. A ledger read
    again narrowly (`connectors/fec_changes.py`) gives `lines`: (lines changed since its last
    read, lines read); the records outside its changed entries count as unchanged.
    """

    written: int = 0
    quarantined: int = 0
    deleted: int = 0
    changed: int = 0
    new: int = 0
    updated: int = 0
    lines: tuple[int, int] | None = None


def ledger_line_number(external_id: str) -> str:
    """SQL: the line number a ledger record's id ends with (`VT/12/L40` -> 40), else NULL.

    DuckDB: regexp_extract, TRY_CAST (PostgreSQL: substring(... from '/L([0-9]+)$')).
    """
    return f"TRY_CAST(regexp_extract({external_id}, '/L([0-9]+)$', 1) AS BIGINT)"


def create_stage(db: duckdb.DuckDBPyConnection) -> None:
    """Empty `stage_<table>` tables, one per record table and the quarantine."""
    for table, columns in COLUMNS.items():
        definition = ", ".join(f"{column} {sql_type(column)}" for column in ("pos", *columns))
        db.execute(f"CREATE OR REPLACE TEMP TABLE stage_{table} ({definition})")


class RecordWriter:
    """Stages one source's records, then merges them (see the module docstring)."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        store: Path,
        source: str,
        company_currency: str,
        run_id: int,
    ) -> None:
        self.db = db
        self.source = source
        self.run_id = run_id
        self.maker = RowMaker(company_currency)
        self.spools = {table: Spool(store, ("pos", *columns)) for table, columns in COLUMNS.items()}
        self.position = 0
        self.written = 0
        self.quarantined = 0
        self.contents: dict[tuple[str, str], bytes] = {}  # a digest a record: memory stays small
        self.duplicates: dict[tuple[str, str], int] = {}  # how many versions of an id came

    def add_all(self, records: Iterable[SourceRecord | Rejected]) -> None:
        """Stage every record; spools are discarded if reading fails midway."""
        try:
            for record in records:
                self.add(record)
        except BaseException:
            self.discard()
            raise

    def add(self, record: SourceRecord | Rejected) -> None:
        """Stage one record's rows, or its quarantine row."""
        if isinstance(record, Rejected):
            self._quarantine(record)
            return
        if record.source != self.source:
            raise StateError(
                f"record {record.external_id} of {record.source} given as {self.source}"
            )
        if type(record) not in (LedgerLine, LedgerSale) and self._seen_before(record):
            return
        try:
            rows = self.maker.rows_of(record)
        except NoRate as exc:
            self._quarantine(
                Rejected(
                    source=self.source,
                    stream=type(record).__name__.lower(),
                    external_id=record.external_id,
                    reason=str(exc),
                    raw=record.raw or record.model_dump_json(),  # type: ignore[union-attr]
                )
            )
            return
        self.written += 1
        for row in rows:
            self.position += 1
            self.spools[TABLES[type(row)]].add((self.position, *row))

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

    def _quarantine(self, rejected: Rejected) -> None:
        self.quarantined += 1
        self.position += 1
        self.spools["quarantine"].add((self.position, *self.maker.quarantine_row(rejected)))

    def discard(self) -> None:
        """Remove the spooled files."""
        for spool in self.spools.values():
            spool.discard()

    def finish(self, *, replace_all: bool, max_deletion_share: float | None) -> WriteCounts:
        """Load the staged rows and merge them into the store (inside the caller's transaction).

        Raises:
            DestructiveReadError: see `Store.write_records`.
        """
        create_stage(self.db)
        for table, spool in self.spools.items():
            spool.load(self.db, f"stage_{table}")
        merge = Merge(self.db, self.source, self.run_id)
        counts = merge.run(replace_all=replace_all, max_deletion_share=max_deletion_share)
        return WriteCounts(
            written=self.written,
            quarantined=self.quarantined,
            deleted=counts.deleted,
            changed=counts.changed,
            new=counts.new,
            updated=counts.updated,
        )


class Merge:
    """Merges the `stage_*` tables of one source into the store (see the module docstring)."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        source: str,
        run_id: int,
        *,
        unique: bool = False,
        scope: str | None = None,
    ) -> None:
        """`unique`: the staged keys are unique by construction (a ledger's line numbers).

        `scope`: the staged rows are a ledger's changed entries only (`connectors/
        fec_changes.py`); the tables `<scope>_index_scope` (line numbers) and
        `<scope>_index_customers` (customer ids) say which stored records they replace.
        Records of other lines and other customers are left as they are; the balances are
        all staged.
        """
        self.db = db
        self.source = source
        self.run_id = run_id
        self.unique = unique
        self.scope = scope
        self.stored: set[str] = set()  # the tables that held rows of the source (`_changes`)

    def _drop(self, name: str) -> None:
        """Drop the temporary table or view `name`, if there is one."""
        kind = temporary_kind(self.db, name)
        if kind is not None:
            self.db.execute(f"DROP {kind} {name}")

    def _holds(self, table: str) -> bool:
        """Whether `table` holds any row of this source (one row looked for, not counted)."""
        return bool(
            self._count(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE source = ? LIMIT 1) AS one",
                (self.source,),
            )
        )

    def _count(self, sql: str, parameters: tuple[object, ...] = ()) -> int:
        row = self.db.execute(sql, parameters).fetchone()
        return int(row[0] or 0) if row else 0

    def run(self, *, replace_all: bool, max_deletion_share: float | None) -> WriteCounts:
        """Merge; return the rows changed and the records deleted."""
        for table, key in KEYS.items():
            columns = ", ".join(COLUMNS[table])
            order = ", ".join(key)
            self._drop(f"new_{table}")
            if self.unique:
                self.db.execute(
                    f"CREATE TEMP VIEW new_{table} AS SELECT {columns} FROM stage_{table}"
                )
                continue
            # The last version staged of a key wins, as a later page would overwrite it.
            self.db.execute(
                f"CREATE TEMP TABLE new_{table} AS SELECT DISTINCT ON ({order}) "
                f"{columns} FROM stage_{table} ORDER BY {order}, pos DESC"
            )
        if replace_all and self.scope is None:
            before = self.stored_records()
            after = sum(self._count(f"SELECT COUNT(*) FROM new_{table}") for table in RECORD_TABLES)
            if max_deletion_share is not None and before - after > max_deletion_share * before:
                deleted = sum(self._removed_count(table) for table in RECORD_TABLES)
                self._refuse(deleted, before, after, max_deletion_share)
        changed = deleted = 0
        for table, key in KEYS.items():
            self._changes(table, key, replace_all)
        for table in KEYS:
            if table in RECORD_TABLES:
                deleted += self._count(f"SELECT COUNT(*) FROM gone_{table}")
            changed += self._count(f"SELECT COUNT(*) FROM changed_{table}")
        new, updated = self._changed_records()
        if self.scope is not None and max_deletion_share is not None and deleted > new:
            # A ledger's changed entries: what it loses is what is deleted less what is new.
            before = self.stored_records()
            if deleted - new > max_deletion_share * before:
                self._refuse(deleted, before, before - deleted + new, max_deletion_share)
        self._mark_dirty()
        for table, key in KEYS.items():
            self._apply(table, key)
        self._quarantine(replace_all)
        return WriteCounts(deleted=deleted, changed=changed, new=new, updated=updated)

    def _changed_records(self) -> tuple[int, int]:
        """Of the records whose row or parts changed: how many are new, how many updated.

        Call it after `_changes`, before `_apply`: a key already stored is an update.
        """
        new = updated = 0
        for table in RECORD_TABLES:
            (key,) = KEYS[table]
            parts = [
                f" UNION SELECT {column} FROM changed_{child}"
                for child, (parent, column) in PARENTS.items()
                if parent == table
            ]
            touched = f"SELECT {key} AS k FROM changed_{table}{''.join(parts)}"
            total = self._count(f"SELECT COUNT(*) FROM ({touched}) AS touched")
            stored = 0  # none, if the table held no record of the source (a first read)
            if table in self.stored:
                stored = self._count(
                    f"SELECT COUNT(*) FROM ({touched}) AS touched WHERE EXISTS "
                    f"(SELECT 1 FROM {table} t WHERE t.source = ? AND t.{key} = touched.k)",
                    (self.source,),
                )
            new += total - stored
            updated += stored
        return new, updated

    def stored_records(self) -> int:
        """How many records of this source the store holds."""
        return sum(
            self._count(f"SELECT COUNT(*) FROM {table} WHERE source = ?", (self.source,))
            for table in RECORD_TABLES
        )

    def _refuse(self, deleted: int, before: int, after: int, share: float) -> None:
        """Raise `DestructiveReadError`: the read would leave `after` of `before` records."""
        raise DestructiveReadError(
            f"a full read of {self.source} would delete {deleted:,} records and leave "
            f"{after:,} of its {before:,} ({(before - after) / before:.0%} fewer, more than the "
            f"{share:.0%} allowed): the export may be cut, empty or of "
            "another company. Nothing of this source was changed and nothing derived "
            "from it is pushed. If these deletions are right, run `encours sync "
            "--accept-deletions` once."
        )

    def _removed_count(self, table: str) -> int:
        key = ", ".join(KEYS[table])
        return self._count(
            f"SELECT COUNT(*) FROM (SELECT {key} FROM {table} WHERE source = ? "
            f"EXCEPT SELECT {key} FROM new_{table}) AS removed",
            (self.source,),
        )

    def _changes(self, table: str, key: tuple[str, ...], replace_all: bool) -> None:
        """`changed_<t>`: staged rows new or different; `gone_<t>`: stored keys to delete."""
        columns = ", ".join(COLUMNS[table])
        keys = ", ".join(key)
        stored = self._holds(table)
        if stored:
            self.stored.add(table)
        self._drop(f"changed_{table}")
        if stored and self.scope is not None:
            # A few staged rows: compare them with their stored rows only.
            self.db.execute(
                f"CREATE TEMP TABLE changed_{table} AS SELECT {columns} FROM new_{table} "
                f"EXCEPT SELECT {columns} FROM {table} WHERE source = $source "
                f"AND {key[0]} IN (SELECT {key[0]} FROM new_{table})",
                {"source": self.source},
            )
        elif stored or not self.unique:
            self.db.execute(
                f"CREATE TEMP TABLE changed_{table} AS SELECT {columns} "
                f"FROM new_{table} EXCEPT SELECT {columns} FROM {table} WHERE source = $source",
                {"source": self.source},
            )
        else:  # nothing stored yet: every staged row is new
            self.db.execute(
                f"CREATE TEMP VIEW changed_{table} AS SELECT {columns} FROM new_{table}"
            )
        if self.scope is not None and table not in PARENTS:
            gone = self._gone_in_scope(table)
        elif replace_all:
            gone = (
                f"SELECT {keys} FROM {table} WHERE source = $source "
                f"EXCEPT SELECT {keys} FROM new_{table}"
            )
        elif table in PARENTS:
            # Parts of a record read again that it no longer has, and parts of records gone.
            parent, column = PARENTS[table]
            gone = (
                f"SELECT {keys} FROM {table} t WHERE source = $source AND ("
                f"t.{column} IN (SELECT external_id FROM new_{parent}) "
                f"OR t.{column} IN (SELECT external_id FROM gone_{parent})) "
                f"EXCEPT SELECT {keys} FROM new_{table}"
            )
        elif table in ("invoices", "drafts"):
            # A draft posted keeps its id in some sources (Pennylane, Tryton): it leaves
            # `drafts` for `invoices`, and the other way round when a posting is undone.
            other = "drafts" if table == "invoices" else "invoices"
            gone = (
                f"SELECT external_id FROM {table} WHERE source = $source "
                f"AND external_id IN (SELECT external_id FROM stage_{other})"
            )
        else:
            gone = f"SELECT {keys} FROM {table} WHERE false"
        self.db.execute(
            f"CREATE OR REPLACE TEMP TABLE gone_{table} AS {gone}",
            {"source": self.source} if "$source" in gone else {},
        )

    def _gone_in_scope(self, table: str) -> str:
        """Stored keys of a scoped read's records that it no longer gives.

        A ledger record's id ends with its line number (`VT/12/L40`); the balances are all
        staged.
        """
        scope = self.scope
        if table in ("invoices", "credits", "sales"):
            number = ledger_line_number("external_id")
            inside = f"{number} IN (SELECT number FROM {scope}_index_scope)"
        elif table == "customers":
            inside = f"external_id IN (SELECT customer_id FROM {scope}_index_customers)"
        elif table == "source_balances":
            inside = "true"
        else:
            inside = "false"
        (key,) = KEYS[table]
        return (
            f"SELECT {key} FROM {table} WHERE source = $source AND {inside} "
            f"EXCEPT SELECT {key} FROM new_{table}"
        )

    def _mark_dirty(self) -> None:
        """Customers of rows changed or deleted, as stored before and as staged now."""
        parts = []
        for table in RECONCILED:
            on = " AND ".join(f"s.{column} = k.{column}" for column in KEYS[table])
            parts.append(f"SELECT customer_id FROM changed_{table}")
            for keys in (f"changed_{table}", f"gone_{table}"):
                parts.append(
                    f"SELECT s.customer_id FROM {table} s JOIN {keys} k ON {on} "
                    "WHERE s.source = $source"
                )
        # A credit whose links changed: its customer, as stored and as staged.
        relinked = (
            "(SELECT credit_id FROM changed_credit_links "
            "UNION SELECT credit_id FROM gone_credit_links)"
        )
        parts.append(
            "SELECT c.customer_id FROM credits c WHERE c.source = $source "
            f"AND c.external_id IN {relinked}"
        )
        parts.append(f"SELECT c.customer_id FROM new_credits c WHERE c.external_id IN {relinked}")
        self.db.execute(
            "INSERT INTO dirty_customers SELECT DISTINCT $source, customer_id FROM ("
            + " UNION ALL ".join(parts)
            + ") AS touched WHERE customer_id IS NOT NULL ON CONFLICT DO NOTHING",
            {"source": self.source},
        )
        if self._holds("closed_groups"):  # none kept (a first read): none to take out
            self.db.execute(_OPENED_GROUPS, {"source": self.source})

    def _apply(self, table: str, key: tuple[str, ...]) -> None:
        on = " AND ".join(f"{table}.{column} = k.{column}" for column in key)
        keys = ", ".join(key)
        columns = ", ".join(COLUMNS[table])
        if self._count(f"SELECT COUNT(*) FROM changed_{table}") + self._count(
            f"SELECT COUNT(*) FROM gone_{table}"
        ):
            self.db.execute(
                f"DELETE FROM {table} USING (SELECT {keys} FROM changed_{table} "
                f"UNION SELECT {keys} FROM gone_{table}) AS k "
                f"WHERE {table}.source = $source AND {on}",
                {"source": self.source},
            )
            self.db.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM changed_{table}"
            )

    def _quarantine(self, replace_all: bool) -> None:
        """Quarantine rows: new ones kept with this run, changed ones updated, gone ones dropped."""
        parameters = {"source": self.source, "run": self.run_id}
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE new_quarantine AS SELECT DISTINCT ON (stream, "
            "external_id) source, stream, external_id, reason, raw FROM stage_quarantine "
            "ORDER BY stream, external_id, pos DESC"
        )
        self.db.execute(
            "UPDATE quarantine SET reason = n.reason, raw = n.raw, last_run = $run "
            "FROM new_quarantine n WHERE quarantine.source = $source "
            "AND quarantine.stream = n.stream AND quarantine.external_id = n.external_id "
            "AND (quarantine.reason <> n.reason OR quarantine.raw <> n.raw)",
            parameters,
        )
        self.db.execute(
            "INSERT INTO quarantine SELECT n.source, n.stream, n.external_id, n.reason, n.raw, "
            "$run, $run FROM new_quarantine n WHERE NOT EXISTS (SELECT 1 FROM quarantine q "
            "WHERE q.source = $source AND q.stream = n.stream AND q.external_id = n.external_id)",
            parameters,
        )
        if replace_all:
            self.db.execute(
                "DELETE FROM quarantine WHERE source = $source AND NOT EXISTS (SELECT 1 FROM "
                "new_quarantine n WHERE n.stream = quarantine.stream "
                "AND n.external_id = quarantine.external_id)",
                {"source": self.source},
            )
