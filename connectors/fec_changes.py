"""A FEC read again: only the entries whose lines changed are worked out anew.

The first read of a FEC leaves an index of it beside the records (`fec_index_*`, kept by
the store as `ledger_lines`, `ledger_entries` and `ledger_customer_lines`): a digest of
every line, the span and date of every entry, and every customer line's customer and
amount. The next read of the same file (same columns, encoding, line ends, terms and
bounds: the same `fingerprint`) compares each line's digest with the index, by line number,
and takes to the engine's usual steps (`fec_engine`) only

    S = the changed lines + every entry of the last read that holds one of them or is next to
        one (a changed line may join it) + the entry of each touched customer's first line,

where a touched customer is one with a changed line, before or after. The records of S
replace those the last read made from the same line numbers (`fec_index_scope`); the
customers' rows are those of the touched customers; the balances are summed again from the
index, over every customer line, with S's new values.

Example: 5 000 000 lines, 20 000 of them with a new lettrage code; S is their entries and
the customers' first entries, about 70 000 lines: they are parsed, grouped and turned into
records; the other 4 930 000 lines are only read and hashed, as the file streams past the
last read's digests. Only the changed lines' text is kept from the file: the other lines
of S are the ones the store kept of the last read (`ledger_text`, shown as
`fec_previous_text`), the same text since their digest is the same.

This holds when entries are simple, as an export from accounting software makes them:
each one run of adjacent lines (same JournalCode, EcritureNum and EcritureDate) that
balances, and one customer key per customer id. Otherwise, and when too many lines changed
(`MAX_CHANGED_SHARE`), the whole file is worked out as on a first read; so is a file in
which S holds an error, which that read then reports as it would. A FEC the index was not
made for (other settings, or no index: a file the engine left to the Python reader) is
read whole, and a read that is not simple leaves no index.

DuckDB-only: `hash`, ASOF JOIN, `range`, `unnest`; the FEC engine runs on DuckDB.
"""

# ruff: noqa: S608 - table and column names come from this module; values are parameters

from __future__ import annotations

import hashlib
from collections.abc import Callable

import duckdb

#: Beyond this share of changed lines, the whole file is worked out again.
MAX_CHANGED_SHARE = 0.10
#: The tables a read leaves for the store's index (`sync/store/ledger.py`), by what they hold.
INDEX_TABLES = (
    # fingerprint (NULL: keep no index), narrowed (only S was worked out), lines (read),
    # changed (lines changed since the last read, when narrowed)
    "index_meta",
    "index_lines",  # number, digest: every line read, or the changed ones when narrowed
    "index_entries",  # first_line, last_line, booked_on: every entry, or S's
    "index_customer_lines",  # number, customer_key, customer_id, amount: all, or S's
    "index_changed",  # number, removed: lines changed since the last read (narrowed only)
    "index_scope",  # number: line numbers whose records, entries and lines are replaced
    "index_customers",  # customer_id: the touched customers (narrowed only)
)
#: The last read's index, as the store shows it to a new read of the same source.
PREVIOUS = (
    "fec_previous_lines",
    "fec_previous_entries",
    "fec_previous_customer_lines",
    "fec_previous_text",
)
_WORK = (
    "fec_changed_text",
    "fec_read",
    "fec_touched",
    "fec_subset",
    "fec_missing",
    "fec_keys",
    "fec_all_customer_lines",
)


def digest(line: str) -> str:
    """SQL for a line's digest. DuckDB: hash, a UBIGINT, halved to be a BIGINT anywhere."""
    return f"CAST(hash({line}) >> 1 AS BIGINT)"


def fingerprint(*parts: object) -> str:
    """What the index depends on besides the lines: a digest of the settings and format."""
    return hashlib.sha256(repr((duckdb.__version__, *parts)).encode()).hexdigest()


def read_changes(lines: str, *, by_position: bool = True) -> str:
    """SQL: `fec_changed_text`, the lines of `lines` that differ from the last read's.

    `lines` is a query of the file's lines (number, line, digest) in file order,
    `fec_previous_lines` the last read's digests. A line differs when its digest does, or
    when it is new (`added`: the file is longer) or gone (`removed`: shorter; no text). The
    digests are the side kept in memory; the file streams past them, and only the text of
    the lines that differ is kept (of 5 000 000 lines and 700 MB, 20 000 lines and 3 MB).

    `by_position` pairs the n-th line of the file with the n-th digest in line order, as
    both are numbered 2, 3, ... without a gap: no hash table of 5 000 000 numbers to build
    and probe (a third of the statement's time). A pair whose numbers differ (a gap in the
    stored digests, or rows not in line order) is kept and marked `misaligned`; `aligned`
    then says to compare again by number, which pairs any lines exactly.
    """
    if by_position:  # DuckDB-only: POSITIONAL JOIN
        pairs = f"({lines}) n POSITIONAL JOIN (SELECT * FROM fec_previous_lines ORDER BY number) o"
    else:
        pairs = f"({lines}) n FULL JOIN fec_previous_lines o ON o.number = n.number"
    return f"""
        CREATE OR REPLACE TEMP TABLE fec_changed_text AS
        SELECT coalesce(n.number, o.number) AS number, n.number IS NULL AS removed,
               o.number IS NULL AS added, n.line, n.digest, n.number <> o.number AS misaligned
        FROM {pairs}
        WHERE n.digest IS DISTINCT FROM o.digest OR n.number <> o.number
        """


def aligned(con: duckdb.DuckDBPyConnection) -> bool:
    """True when `read_changes` paired every line with the last read's of the same number."""
    row = con.execute("SELECT count(*) FROM fec_changed_text WHERE misaligned").fetchone()
    return not (row and row[0])


def narrow(
    con: duckdb.DuckDBPyConnection,
    parse: Callable[[str], None],
    customer_key: str,
    *,
    previous_text: str,
    read_lines: Callable[[str], bool],
) -> bool:
    """Make `fec_text` S's lines and parse them; False when the whole file should be read.

    `fec_changed_text` holds the lines that changed (`read_changes`), `fec_previous_*` the
    last read's index and `previous_text` (a query: number, line as read) its lines. On
    True, `fec_text` holds S's lines (number, line, digest), those that did not change
    taken from `previous_text`, or, when it lacks some (a store from before it kept them),
    by `read_lines(table)`, which adds to `fec_text` the file's lines whose numbers `table`
    holds (False when the file can no longer be read: the whole read then says why);
    `fec_parsed` holds their fields. `parse(lines)` makes `fec_parsed` from the lines
    (number, line) of the table or query `lines`; `customer_key` is the SQL of a parsed
    line's customer key.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_index_changed AS "
        "SELECT number, removed FROM fec_changed_text"
    )
    # Every line has a number: a file longer or shorter than the last differs at its end.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_read AS
        SELECT p.lines + c.added - c.removed AS lines, p.last + c.added - c.removed AS last,
               c.changed
        FROM (SELECT count(*) AS lines, coalesce(max(number), 0) AS last
              FROM fec_previous_lines) p,
             (SELECT count(*) FILTER (WHERE added) AS added,
                     count(*) FILTER (WHERE removed) AS removed, count(*) AS changed
              FROM fec_changed_text) c
        """
    )
    (changed, lines) = con.execute("SELECT changed, lines FROM fec_read").fetchone() or (0, 0)
    if changed > MAX_CHANGED_SHARE * max(lines, 1):
        return False
    # The entries of the last read that hold a changed line or the line before or after it.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_touched AS
        SELECT DISTINCT e.first_line, e.last_line
        FROM (SELECT number + d AS n FROM fec_index_changed, (VALUES (-1), (0), (1)) v(d)) c
        ASOF JOIN fec_previous_entries e ON c.n >= e.first_line
        WHERE c.n <= e.last_line
        """
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_subset AS "
        "SELECT number FROM fec_index_changed WHERE NOT removed"
    )
    parse("(SELECT number, line FROM fec_changed_text WHERE NOT removed)")  # their customers
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_keys AS
        SELECT {customer_key} AS customer_key FROM fec_parsed WHERE is_customer
        UNION SELECT customer_key FROM fec_previous_customer_lines
        WHERE number IN (SELECT number FROM fec_index_changed)
        """
    )
    # Each touched customer's first line, now: its entry must be in S for the customer's row.
    con.execute(
        f"""
        INSERT INTO fec_touched
        SELECT DISTINCT e.first_line, e.last_line
        FROM (
            SELECT min(number) AS n FROM (
                SELECT number, customer_key FROM fec_previous_customer_lines
                WHERE number NOT IN (SELECT number FROM fec_index_changed)
                UNION ALL SELECT number, {customer_key} FROM fec_parsed WHERE is_customer
            ) WHERE customer_key IN (SELECT customer_key FROM fec_keys)
            GROUP BY customer_key
        ) f
        ASOF JOIN fec_previous_entries e ON f.n >= e.first_line
        WHERE f.n <= e.last_line
        """
    )
    con.execute(
        """
        INSERT INTO fec_subset
        SELECT n FROM (SELECT DISTINCT unnest(range(first_line, last_line + 1)) AS n
                       FROM fec_touched)
        WHERE n <= (SELECT last FROM fec_read) AND n NOT IN (SELECT number FROM fec_subset)
        """
    )
    if not _subset_text(con, previous_text, read_lines):
        return False
    parse("fec_text")
    return True


def _subset_text(
    con: duckdb.DuckDBPyConnection, previous_text: str, read_lines: Callable[[str], bool]
) -> bool:
    """`fec_text`: S's lines, the changed ones as read, the others as the last read kept them."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_text AS
        SELECT number, line, digest FROM fec_changed_text WHERE NOT removed
        UNION ALL
        SELECT number, line, {digest("line")} FROM {previous_text} t
        WHERE number IN (SELECT number FROM fec_subset)
          AND number NOT IN (SELECT number FROM fec_index_changed)
        """
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_missing AS "
        "SELECT number FROM fec_subset EXCEPT SELECT number FROM fec_text"
    )
    (missing,) = con.execute("SELECT count(*) FROM fec_missing").fetchone() or (0,)
    return not missing or read_lines("fec_missing")


def simple(con: duckdb.DuckDBPyConnection, link: str) -> bool:
    """Whether the entries just grouped are simple: one balanced run of lines each."""
    if "frag_no" in link:  # a key on several runs: `fec_engine._fragments`
        return False
    (balanced,) = con.execute(
        "SELECT coalesce(bool_and(debit = credit), true) FROM fec_frags"
    ).fetchone() or (False,)
    return bool(balanced)


def finish_narrowed(
    con: duckdb.DuckDBPyConnection, link: str, fingerprint_: str, source: str, basis: str
) -> bool:
    """After S's records are built: the touched customers, all balances, the index's rows.

    False when the whole file must be worked out after all (entries not simple, or a
    customer id under two keys).
    """
    if not simple(con, link):
        return False
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_index_scope AS
        SELECT number FROM fec_subset UNION SELECT number FROM fec_index_changed
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_all_customer_lines AS
        SELECT number, customer_key, customer_id, amount FROM fec_previous_customer_lines
        WHERE number NOT IN (SELECT number FROM fec_index_scope)
        UNION ALL
        SELECT number, customer_key, customer_id, CAST(debit_h - credit_h AS BIGINT) FROM fec_cl
        """
    )
    if not _one_key_per_customer(con, "fec_all_customer_lines"):
        return False
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_index_customers AS
        SELECT DISTINCT customer_id FROM fec_all_customer_lines
        WHERE customer_key IN (SELECT customer_key FROM fec_keys)
        UNION SELECT customer_id FROM fec_previous_customer_lines
        WHERE customer_key IN (SELECT customer_key FROM fec_keys)
        """
    )
    # S holds the first line of each touched customer only: the others' rows are partial.
    con.execute(
        "DELETE FROM fec_customers WHERE external_id NOT IN "
        "(SELECT customer_id FROM fec_index_customers)"
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_balances AS
        SELECT ? AS source, customer_id AS external_id,
            (SELECT max(booked_on) FROM (
                SELECT booked_on FROM fec_previous_entries
                WHERE first_line NOT IN (SELECT number FROM fec_index_scope)
                UNION ALL SELECT booked_on FROM fec_frags)) AS as_of,
            CAST(sum(amount) AS BIGINT) AS amount, ? AS basis
        FROM fec_all_customer_lines GROUP BY customer_id
        """,
        [source, basis],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_index_lines AS "
        "SELECT number, digest FROM fec_changed_text WHERE NOT removed"
    )
    _index_rows(con, fingerprint_, narrowed=True, lines="(SELECT lines FROM fec_read)")
    return True


def finish_whole(con: duckdb.DuckDBPyConnection, link: str, fingerprint_: str) -> None:
    """After a whole read: the index of every line, or none if the entries are not simple."""
    keep = simple(con, link) and _one_key_per_customer(con, "fec_cl")
    if keep:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE fec_index_lines AS SELECT number, digest FROM fec_text"
        )
        _index_rows(con, fingerprint_, narrowed=False, lines="(SELECT count(*) FROM fec_text)")
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE fec_index_meta AS "
            "SELECT CAST(NULL AS VARCHAR) AS fingerprint, false AS narrowed, "
            "(SELECT count(*) FROM fec_text) AS lines, CAST(NULL AS BIGINT) AS changed"
        )


def widen(con: duckdb.DuckDBPyConnection) -> None:
    """Undo `narrow`: no line read and no index table is left, for a whole read."""
    con.execute("DROP TABLE IF EXISTS fec_text")
    drop(con, index_too=True)


def drop(con: duckdb.DuckDBPyConnection, *, index_too: bool = False) -> None:
    """Drop the work tables (and the index tables with `index_too`)."""
    names = list(_WORK)
    if index_too:
        names += [f"fec_{name}" for name in INDEX_TABLES]
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _index_rows(
    con: duckdb.DuckDBPyConnection, fingerprint_: str, *, narrowed: bool, lines: str
) -> None:
    """The index tables and `fec_index_meta`; `lines` is the SQL of the count of lines read."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_index_entries AS "
        "SELECT frag AS first_line, last_line, booked_on FROM fec_frags"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_index_customer_lines AS SELECT number, customer_key, "
        "customer_id, CAST(debit_h - credit_h AS BIGINT) AS amount FROM fec_cl"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fec_index_meta AS SELECT ? AS fingerprint, "
        f"? AS narrowed, {lines} AS lines, "
        f"{'(SELECT count(*) FROM fec_index_changed)' if narrowed else 'NULL'} AS changed",
        [fingerprint_, narrowed],
    )


def _one_key_per_customer(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether no customer id comes from two keys (`fec_customers` has a row per key)."""
    row = con.execute(
        f"SELECT 1 FROM {table} GROUP BY customer_id "
        "HAVING count(DISTINCT customer_key) > 1 LIMIT 1"
    ).fetchone()
    return row is None
