"""A ledger read by the engine itself, turned into the write path's staged rows in SQL.

A set-based source (the FEC: `connectors/fec_engine.py`) fills `fec_lines`, `fec_sales`,
`fec_customers`, `fec_balances` and `fec_rejected`, one row per record its Python reader
would yield, and `fec_texts` and `fec_line_entries`, the lines it read. These statements
give the records the shape `rows.RowMaker` gives them, as `stage_*` views, and the merge
(`writing.Merge`) does the rest as for any source; the lines are kept once, as the raw
text of the records (`keep_texts`, `with_raw`), beside the index of the read (`keep_index`).

Example: a `fec_lines` debit ('VT/1/L2', customer C1, 120.00, due lines [(2025-02-09,
12000)]) becomes the invoice row VT/1/L2 of 12000 ("120.00" EUR) and its due line 0.
"""

# ruff: noqa: S608 - the SQL is built from this module's constants; values are bound

from __future__ import annotations

import duckdb

from encours.connectors.fec_changes import INDEX_TABLES, PREVIOUS
from encours.model import CURRENCY_EXPONENTS, CreditKind
from encours.sync.store.bulk import sql_type
from encours.sync.store.connection import temporary_kind
from encours.sync.store.postgres import PostgresConnection
from encours.sync.store.writing import COLUMNS, ledger_line_number

_ADVANCE = f"'{CreditKind.ADVANCE.value}'"


def amount_text(units: str, exponent: int) -> str:
    """SQL for minor units (not negative) as the currency's Decimal text: 12345 -> '123.45'."""
    if exponent == 0:
        return f"CAST({units} AS TEXT)"
    scale = 10**exponent
    return (
        f"CAST({units} // {scale} AS TEXT) || '.' || "  # DuckDB: // is integer division
        f"lpad(CAST({units} % {scale} AS TEXT), {exponent}, '0')"
    )


#: The tables a set-based source's read fills, by what they hold.
LEDGER_TABLES = (
    "lines",
    "sales",
    "customers",
    "balances",
    "rejected",
    "texts",
    "line_entries",
    "line_end",
)

#: A ledger file's lines are kept once, `ledger_text` (source, number, line, line_end: every
#: line read) and `ledger_line_entries` (source, number, entry: each line of an entry, and
#: the entry's first line); they hold the raw text of its records whose `raw` is NULL. A
#: line's record (id ending `/L<number>`) has its line; a sale (id ending `/L<entry>`) has
#: the lines of that entry, in order, each with its end but the last (`rtrim`: no line holds
#: a CR or LF of its own). DuckDB: `* REPLACE`.
_NUMBER = ledger_line_number("r.external_id")
_LINE_RAW = (
    "SELECT r.* REPLACE (coalesce(r.raw, t.line) AS raw) FROM {table} r "
    "LEFT JOIN {texts} t ON r.raw IS NULL AND t.source = r.source AND t.number = {number}"
)
_ENTRY_RAW = (
    "SELECT r.* REPLACE (coalesce(r.raw, e.raw) AS raw) FROM {table} r LEFT JOIN ("
    "SELECT e.source, e.entry, rtrim(string_agg(t.line || t.line_end, '' ORDER BY t.number), "
    "chr(13) || chr(10)) AS raw FROM {entries} e "
    "JOIN {texts} t ON t.source = e.source AND t.number = e.number GROUP BY e.source, e.entry"
    ") e ON r.raw IS NULL AND e.source = r.source AND e.entry = {number}"
)


def with_raw(table: str, texts: str = "ledger_text", entries: str = "ledger_line_entries") -> str:
    """SQL: the rows of `table` with the raw texts the lines keep filled in (see above).

    `table` holds sales (`sales`, `fec_sales`) or lines' records (`invoices`, `credits`,
    `fec_lines`); `texts` and `entries` are tables or queries with the columns of
    `ledger_text` and `ledger_line_entries`. Example: the invoice `VT/12/L40` with raw NULL
    gets line 40's text.
    """
    form = _ENTRY_RAW if table.endswith("sales") else _LINE_RAW
    return form.format(table=table, texts=texts, entries=entries, number=_NUMBER)


#: The cursor (source, LEDGER_INDEX) holds the fingerprint of a ledger's stored index.
LEDGER_INDEX = "ledger-index"


def show_previous(db: duckdb.DuckDBPyConnection, source: str) -> None:
    """The stored index of `source`'s last read, as the `fec_previous_*` views a read uses."""
    where = f"WHERE source = '{source.replace(chr(39), chr(39) * 2)}'"
    columns = {
        "lines": ("ledger_lines", "number, digest"),
        "entries": ("ledger_entries", "first_line, last_line, booked_on"),
        "customer_lines": ("ledger_customer_lines", "number, customer_key, customer_id, amount"),
        "text": ("ledger_text", "number, line"),
    }
    for part, (table, names) in columns.items():
        db.execute(
            f"CREATE OR REPLACE TEMP VIEW fec_previous_{part} AS "  # DuckDB: OR REPLACE
            f"SELECT {names} FROM {table} {where}"
        )


def hide_previous(db: duckdb.DuckDBPyConnection) -> None:
    """Drop the views `show_previous` made."""
    for view in PREVIOUS:
        db.execute(f"DROP VIEW IF EXISTS {view}")


def keep_ledger(db: duckdb.DuckDBPyConnection, name: str) -> str:
    """Rename the `fec_*` tables just read to `<name>_*` (another read may follow)."""
    parts = list(LEDGER_TABLES)
    # A read by the Python reader leaves no index.
    parts += [part for part in INDEX_TABLES if _exists(db, f"fec_{part}")]
    for part in parts:
        db.execute(f"DROP TABLE IF EXISTS {name}_{part}")
        db.execute(f"ALTER TABLE fec_{part} RENAME TO {name}_{part}")
    return name


def narrowed(db: duckdb.DuckDBPyConnection, ledger: str) -> tuple[int, int] | None:
    """(lines changed, lines read) if the read `ledger` holds only the changed entries."""
    if not _exists(db, f"{ledger}_index_meta"):
        return None
    row = db.execute(f"SELECT narrowed, changed, lines FROM {ledger}_index_meta").fetchone()
    return (int(row[1]), int(row[2])) if row and row[0] else None


def keep_index(db: duckdb.DuckDBPyConnection, source: str, ledger: str, run_id: int) -> None:
    """Store the index the read `ledger` made (or drop the source's, if it made none).

    Call it in the transaction that merged the read's records: the index describes them.
    """
    row = None
    if _exists(db, f"{ledger}_index_meta"):
        row = db.execute(f"SELECT fingerprint, narrowed FROM {ledger}_index_meta").fetchone()
    fingerprint, is_narrowed = row if row else (None, False)
    source_only = {"source": source}
    if fingerprint is None or not is_narrowed:
        for part in ("lines", "entries", "customer_lines"):
            db.execute(f"DELETE FROM ledger_{part} WHERE source = $source", source_only)
    else:
        scope = f"(SELECT number FROM {ledger}_index_scope)"
        db.execute(
            "DELETE FROM ledger_lines WHERE source = $source AND number IN "
            f"(SELECT number FROM {ledger}_index_changed)",
            source_only,
        )
        db.execute(
            f"DELETE FROM ledger_entries WHERE source = $source AND first_line IN {scope}",
            source_only,
        )
        db.execute(
            f"DELETE FROM ledger_customer_lines WHERE source = $source AND number IN {scope}",
            source_only,
        )
    if fingerprint is None:
        db.execute(
            "DELETE FROM cursors WHERE source = $source AND stream = $stream",
            {"source": source, "stream": LEDGER_INDEX},
        )
    else:
        db.execute(
            f"INSERT INTO ledger_lines SELECT $source, number, digest FROM {ledger}_index_lines",
            source_only,
        )
        db.execute(
            "INSERT INTO ledger_entries SELECT $source, first_line, last_line, booked_on "
            f"FROM {ledger}_index_entries",
            source_only,
        )
        db.execute(
            "INSERT INTO ledger_customer_lines SELECT $source, number, customer_key, "
            f"customer_id, amount FROM {ledger}_index_customer_lines",
            source_only,
        )
        db.execute(
            "INSERT INTO cursors VALUES ($source, $stream, $value, $run) "
            "ON CONFLICT (source, stream) DO UPDATE SET value = excluded.value, "
            "run_id = excluded.run_id WHERE cursors.value <> excluded.value",
            {"source": source, "stream": LEDGER_INDEX, "value": fingerprint, "run": run_id},
        )
    for part in INDEX_TABLES:
        db.execute(f"DROP TABLE IF EXISTS {ledger}_{part}")


def keep_texts(db: duckdb.DuckDBPyConnection, source: str, ledger: str) -> None:
    """Store the lines the read `ledger` kept as `source`'s `ledger_text` and entries.

    A read of the changed entries only replaces the changed lines' texts and its scope's
    entries; any other read replaces them all. Call it in the transaction that merged the
    read's records.
    """
    source_only = {"source": source}
    if narrowed(db, ledger) is None:
        for table in ("ledger_text", "ledger_line_entries"):
            db.execute(f"DELETE FROM {table} WHERE source = $source", source_only)
        texts = f"{ledger}_texts"
    else:
        # A line whose digest did not change keeps the text and end stored (a narrowed
        # read has the last read's line ends): only changed lines and lines not stored
        # (a store from before `ledger_text`) are written.
        scope = f"(SELECT number FROM {ledger}_index_scope)"
        db.execute(
            "DELETE FROM ledger_text WHERE source = $source AND number IN "
            f"(SELECT number FROM {ledger}_index_changed)",
            source_only,
        )
        db.execute(
            f"DELETE FROM ledger_line_entries WHERE source = $source AND number IN {scope}",
            source_only,
        )
        texts = (
            f"(SELECT * FROM {ledger}_texts WHERE number NOT IN (SELECT number FROM "
            f"ledger_text WHERE source = $source AND number IN {scope}))"
        )
    db.execute(
        "INSERT INTO ledger_text SELECT $source, number, line, "
        f"(SELECT line_end FROM {ledger}_line_end) FROM {texts} AS t",
        source_only,
    )
    db.execute(
        f"INSERT INTO ledger_line_entries SELECT $source, number, entry FROM {ledger}_line_entries",
        source_only,
    )


def copy_texts(
    db: PostgresConnection, scratch: duckdb.DuckDBPyConnection, source: str, ledger: str
) -> None:
    """`keep_texts` for PostgreSQL: the lines the in-memory `scratch` read, copied in.

    The whole file was read there (COPY): its lines replace all of `source`'s.
    """
    literal = "'" + source.replace("'", "''") + "'"
    for table, rows in (
        (
            "ledger_text",
            f"number, line, (SELECT line_end FROM {ledger}_line_end) AS line_end "
            f"FROM {ledger}_texts",
        ),
        ("ledger_line_entries", f"number, entry FROM {ledger}_line_entries"),
    ):
        db.execute(f"DELETE FROM {table} WHERE source = $source", {"source": source})
        scratch.execute(f"CREATE TEMP VIEW {table} AS SELECT {literal} AS source, {rows}")
        db.copy_from_duckdb(scratch, table)


def _exists(db: duckdb.DuckDBPyConnection, table: str) -> bool:
    return temporary_kind(db, table) is not None


def stage_ledger(db: duckdb.DuckDBPyConnection, ledger: str, company_currency: str) -> int:
    """The `stage_*` of the ledger tables `<ledger>_*`, as views over them; return the records.

    Views, not copies: a million-line ledger's rows (raw texts included) are then read once,
    by the merge that stores them. The others `stage_*` stay the empty tables of
    `create_stage`; `drop_ledger` removes the views and the ledger tables after the merge.
    """
    exponent = CURRENCY_EXPONENTS[company_currency]
    currency = "'" + company_currency.replace("'", "''") + "'"
    text = amount_text("amount", exponent)
    lines = f"{ledger}_lines"
    views = {
        "invoices": (
            {
                "external_id": "external_id",
                "customer_id": "customer_id",
                "number": "reference",
                "kind": "kind",
                "issued_on": "booked_on",
                "currency": currency,
                "total_in_currency": text,
                "total": "amount",
                "is_doubtful": "is_doubtful",
                "due_date_assumed": "due_date_assumed",
                "match_ref": "match_ref",
                "matched_on": "matched_on",
                "raw": "raw",
            },
            f"{lines} WHERE len(due_lines) > 0",  # DuckDB: lists
        ),
        "due_lines": (
            {
                "invoice_id": "external_id",
                "seq": "seq - 1",
                "customer_id": "customer_id",
                "kind": "kind",
                "is_doubtful": "is_doubtful",
                "issued_on": "booked_on",
                "due_on": "due_lines[seq].due_on",
                "amount": "due_lines[seq].amount",
            },
            # DuckDB: lists, generate_subscripts
            f"(SELECT *, generate_subscripts(due_lines, 1) AS seq FROM {lines} "
            "WHERE len(due_lines) > 0) AS lines",
        ),
        "credits": (
            {
                "external_id": "external_id",
                "kind": "kind",
                "customer_id": "customer_id",
                "on_date": "booked_on",
                "currency": currency,
                "amount_in_currency": text,
                "amount": "amount",
                "reference": "reference",
                "match_ref": "match_ref",
                "matched_on": "matched_on",
                "is_on_order": f"kind = {_ADVANCE}",
                "order_ref": f"CASE WHEN kind = {_ADVANCE} THEN reference END",
                "raw": "raw",
            },
            f"{lines} WHERE len(due_lines) = 0",
        ),
        "sales": (
            {name: name for name in ("external_id", "customer_id", "booked_on", "amount", "raw")},
            f"{ledger}_sales",
        ),
        "customers": (
            {
                name: name
                for name in (
                    "external_id",
                    "name",
                    "payment_terms_days",
                    "terms_end_of_month",
                    "raw",
                )
            },
            f"{ledger}_customers",
        ),
        "source_balances": (
            {
                "customer_id": "external_id",
                "as_of": "as_of",
                "currency": currency,
                "amount_in_currency": "CASE WHEN amount < 0 THEN '-' ELSE '' END || "
                + amount_text("ABS(amount)", exponent),
                "amount": "amount",
                "basis": "basis",
                "raw": "''",
            },
            f"{ledger}_balances",
        ),
        "quarantine": (
            {name: name for name in ("stream", "external_id", "reason", "raw")},
            f"{ledger}_rejected",
        ),
    }
    for table, (values, rows) in views.items():
        columns = [
            f"CAST({values.get(column, 'NULL')} AS {sql_type(column)}) AS {column}"
            for column in COLUMNS[table]
            if column != "source"
        ]
        # The rows' order matters only to the quarantine's (`Merge._quarantine`).
        position = "row_number() OVER ()" if table == "quarantine" else "0"
        db.execute(f"DROP TABLE stage_{table}")
        db.execute(
            f"CREATE TEMP VIEW stage_{table} AS SELECT {position} AS pos, source, "
            f"{', '.join(columns)} FROM {rows}"
        )
    row = db.execute(
        f"SELECT (SELECT COUNT(*) FROM {lines}) + (SELECT COUNT(*) FROM {ledger}_sales) + "
        f"(SELECT COUNT(*) FROM {ledger}_customers) + (SELECT COUNT(*) FROM {ledger}_balances)"
    ).fetchone()
    return int(row[0]) if row else 0


def drop_ledger(db: duckdb.DuckDBPyConnection, ledger: str) -> None:
    """Drop the views `stage_ledger` made and the ledger tables under them."""
    for table in COLUMNS:
        if temporary_kind(db, f"stage_{table}") == "VIEW":
            db.execute(f"DROP VIEW stage_{table}")
    for part in LEDGER_TABLES:
        db.execute(f"DROP TABLE IF EXISTS {ledger}_{part}")
