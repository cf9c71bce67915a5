"""FEC ingest as set-based SQL: DuckDB's CSV reader, then GROUP BYs and window functions.

`stage_fec(con, connector)` puts into temp tables of `con` one row per record that
`FecConnector.records()` yields for the same file and settings, with the same values:

    fec_lines      source, external_id, customer_id, kind, booked_on DATE, reference,
                   amount BIGINT, due_lines STRUCT(due_on DATE, amount BIGINT)[] (in the
                   order of the terms; empty for credits), is_doubtful, due_date_assumed,
                   match_ref, matched_on DATE, raw
    fec_sales      source, external_id, customer_id, booked_on DATE, amount BIGINT, raw
    fec_customers  source, external_id, name, payment_terms_days, terms_end_of_month, raw
    fec_balances   source, external_id (the customer), as_of DATE, amount BIGINT, basis
    fec_rejected   source, stream, external_id, reason, raw

Amounts are integer minor units (cents), never DOUBLE. A broken file raises the `DataError`
the Python reader raises (same class, same message), before any of these tables is created.

Example: the file `VT 1 411000 C1 debit 120,00` / `VT 2 411000 C2 debit 240,00` /
`VT 1 706000 credit 120,00` / `VT 2 706000 credit 240,00` (entries interleaved) gives two rows
in `fec_lines`, `('books', 'VT/1/L2', 'C1', 'invoice', 2025-01-10, ..., 12000, ...)` and
`('books', 'VT/2/L3', 'C2', 'invoice', ...)`, two in `fec_sales` and two in `fec_balances`
(12000 and 24000 as of the last entry date).

How it reads: each line of the file is one VARCHAR read by `read_csv` (no quoting, a
delimiter that never occurs), numbered in file order (insertion order is kept), then split on
the separator in SQL, so that a line's raw text, its number of fields and blank lines are
exactly what the Python reader sees. A byte scan first tells the line ends apart: LF, CRLF,
CR CR LF and CR alone are read directly; a file that mixes them or has a stray CR inside a
line is left to the Python reader (see `_scan`). ISO-8859-15 is read as Latin-1 and its eight
differing characters translated; CP1252 is read as Latin-1 when it has no byte 0x80-0x9F,
else transcoded to a temporary UTF-8 copy. Bytes invalid in the file's encoding, and any
encoding other than these, are also left to the Python reader, which names the column.

Entries: a fragment is a run of adjacent lines with the same JournalCode, EcritureNum and
EcritureDate (gaps and islands); a fragment that balances is an entry; the others, per
JournalCode and EcritureNum, form an entry each time their running sum comes back to zero;
what never comes back is quarantined.

Errors: SQL flags the lines and entries that break a rule; the first one in the order the
Python reader meets them is then checked again by the Python reader's own methods, which
raise the exact message.

The SQL keeps to what DuckDB and PostgreSQL share where it can; `-- DuckDB:` marks the rest.
"""

# The SQL is built from constants and the header's column positions; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

import codecs
import itertools
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb

from encours.connectors.fec import (
    LEDGER_BASIS,
    MAX_CENTS,
    SNIFF_BYTES,
    FecConnector,
    FecRecord,
    _EntryReader,
    _Header,
    _line_ranges,
    _line_too_long,
    _open,
    _split_lines,
)
from encours.model import Customer, LedgerLine, LedgerSale, Rejected, SourceBalance, to_decimal

CHUNK = 1 << 24
#: ASCII whitespace, what `bytes.strip()` removes.
BYTES_SPACE = " \t\n\r\x0b\x0c"
#: What `str.strip()` removes too.
TEXT_SPACE = (
    BYTES_SPACE
    + "\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
#: ISO-8859-15 read as Latin-1: the eight characters that differ.
ISO_8859_15 = ("\xa4\xa6\xa8\xb4\xb8\xbc\xbd\xbe", "€ŠšŽžŒœŸ")
CUSTOMER_PREFIXES = ("411", "413", "416", "4181", "4191")
TABLES = ("fec_lines", "fec_sales", "fec_customers", "fec_balances", "fec_rejected")
INFINITY = 1 << 62


@dataclass(frozen=True)
class _Plan:
    """How DuckDB reads this file."""

    path: Path
    encoding: str  # as the Python reader decodes ("utf-8", "iso8859-15", ...)
    read_encoding: str  # "utf-8" or "latin-1", what read_csv is told
    translate: bool  # ISO-8859-15 read as Latin-1
    header: _Header
    new_line: str  # read_csv's new_line
    rows_per_line: int  # 3 for CR CR LF read with new_line '\n': content, '', ''
    terminator: str  # what the Python reader keeps at the end of a line ('' for CR)
    extra_bytes: int  # bytes of a line end counted in its length (the CRs before LF)
    single_byte: bool


def stage_fec(con: duckdb.DuckDBPyConnection, connector: FecConnector) -> None:
    """Stage the FEC file of `connector` into temp tables of `con` (see the module docstring).

    `fec_lines`, `fec_sales`, `fec_customers`, `fec_balances` and `fec_rejected` hold the
    records of `connector.records()`, one row each, with the same values.

    Raises:
        DataError: as `connector.records()` does, and nothing is created.
        ConfigError: the file cannot be opened.
    """
    plan = _plan(connector)
    copy: Path | None = None
    try:
        if plan is not None and plan.single_byte and _has_c1(plan.path):
            # DuckDB's Latin-1 refuses bytes 0x80-0x9F (the C1 controls; CP1252's €, œ...).
            copy = _transcode(plan.path, plan.encoding)
            if copy is None:
                plan = None
            else:
                plan = replace(plan, path=copy, read_encoding="utf-8", translate=False)
        if plan is None or not _read(con, plan, connector):
            _stage_records(con, connector.records())
            return
    finally:
        if copy is not None:
            copy.unlink()
    _parse(con, plan, connector)
    _raise_first_error(con, plan, connector)
    _build(con, plan, connector)


# -- reading -------------------------------------------------------------------------------


def _plan(connector: FecConnector) -> _Plan | None:
    """Encoding, header and line ends, or None when the Python reader must read the file."""
    encoding = connector._encoding()
    with _open(connector.path) as handle:
        lines = _split_lines(handle, connector.path, connector.bounds.line_bytes)
        header = _Header.read(next(lines, b""), connector.path, encoding)
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        read_encoding, translate, single = "utf-8", False, False
    elif name in ("iso8859-1", "iso8859-15", "cp1252"):
        read_encoding, translate, single = "latin-1", name == "iso8859-15", True
    else:
        return None
    ends = _scan(connector.path)
    if ends is None:
        return None
    new_line, rows, terminator = ends
    return _Plan(
        path=connector.path,
        encoding="utf-8" if name == "utf-8-sig" else name,
        read_encoding=read_encoding,
        translate=translate,
        header=header,
        new_line=new_line,
        rows_per_line=rows,
        terminator=terminator,
        extra_bytes=len(terminator) - 1 if terminator else 0,
        single_byte=single,
    )


def _scan(path: Path) -> tuple[str, int, str] | None:
    """The line ends, from a count of CR, LF, CR LF and CR CR LF over the whole file.

    (new_line for read_csv, rows read per line, terminator), or None when they are mixed or
    a CR stands inside a line: DuckDB ends a line at every CR or LF, the Python reader only
    at its own (LF, or CR in a file with no LF in its first megabyte).
    """
    lf = cr = crlf = crcrlf = 0
    tail = b""
    with _open(path) as handle:
        head = handle.read(SNIFF_BYTES)
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            lf += chunk.count(b"\n")
            n_cr = chunk.count(b"\r")
            cr += n_cr
            if n_cr:
                data = tail + chunk
                crlf += data.count(b"\r\n") - tail.count(b"\r\n")
                crcrlf += data.count(b"\r\r\n") - tail.count(b"\r\r\n")
            elif tail.endswith(b"\r") and chunk.startswith(b"\n"):
                crlf += 1
                crcrlf += tail == b"\r\r"
            tail = chunk[-2:]
    if b"\n" in head or b"\r" not in head:
        if cr == 0:
            return "\\n", 1, "\n"
        if crlf == lf == cr and crcrlf == 0:
            return "\\r\\n", 1, "\r\n"
        if crcrlf == lf == crlf and cr == 2 * lf:
            return "\\n", 3, "\r\r\n"
        return None
    return ("\\r", 1, "") if lf == 0 else None


def _has_c1(path: Path) -> bool:
    """Whether the file has a byte 0x80-0x9F (which DuckDB's Latin-1 refuses)."""
    c1 = bytes(range(0x80, 0xA0))
    with _open(path) as handle:
        while chunk := handle.read(CHUNK):
            if len(chunk.translate(None, c1)) != len(chunk):
                return True
    return False


def _transcode(path: Path, encoding: str) -> Path | None:
    """A temporary UTF-8 copy, a chunk at a time; None when a byte is not in the encoding.

    Single-byte encodings only, so no character is cut between chunks. The Python reader
    names a byte outside the encoding.
    """
    handle, name = tempfile.mkstemp(suffix=".fec")
    try:
        with os.fdopen(handle, "wb") as out, _open(path) as source:
            while chunk := source.read(CHUNK):
                out.write(chunk.decode(encoding).encode("utf-8"))
    except UnicodeDecodeError:
        Path(name).unlink()
        return None
    return Path(name)


def _read(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> bool:
    """Every line as `fec_src(number, line)`; False when DuckDB cannot read the file."""
    max_line = max(1 << 21, 4 * connector.bounds.line_bytes + 64)
    con.execute("SET preserve_insertion_order = true")
    try:
        # DuckDB: read_csv. One VARCHAR per line: a delimiter that never occurs, no quotes.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fec_read AS
            SELECT line FROM read_csv(
                ?, columns = {{'line': 'VARCHAR'}}, header = false, auto_detect = false,
                delim = E'\\x01', quote = '', escape = '', new_line = '{plan.new_line}',
                strict_mode = false, encoding = '{plan.read_encoding}',
                max_line_size = {max_line}, null_padding = false
            )
            """,
            [str(plan.path)],
        )
    except duckdb.Error:
        con.execute("DROP TABLE IF EXISTS fec_read")
        return False
    k = plan.rows_per_line
    # DuckDB: rowid follows insertion order, which is file order.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_src AS
        SELECT rowid // {k} + 1 AS number, coalesce(line, '') AS line
        FROM fec_read WHERE rowid % {k} = 0 AND rowid >= {k}
        """
    )
    con.execute("DROP TABLE fec_read")
    return True


# -- SQL pieces ----------------------------------------------------------------------------


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _bstrip(expr: str) -> str:
    """`bytes.strip()`. DuckDB: trim with characters (PostgreSQL: btrim)."""
    return f"trim({expr}, {_lit(BYTES_SPACE)})"


def _text(expr: str, plan: _Plan) -> str:
    """`_EntryReader._text`: decoded (ISO-8859-15 translated), then `str.strip()`."""
    if plan.translate:
        expr = f"translate({expr}, {_lit(ISO_8859_15[0])}, {_lit(ISO_8859_15[1])})"
    return f"trim({expr}, {_lit(TEXT_SPACE)})"


def _decoded(expr: str, plan: _Plan) -> str:
    if plan.translate:
        return f"translate({expr}, {_lit(ISO_8859_15[0])}, {_lit(ISO_8859_15[1])})"
    return expr


def _length(expr: str, plan: _Plan) -> str:
    """Length in bytes of the file's encoding."""
    return f"length({expr})" if plan.single_byte else f"strlen({expr})"


def _day(expr: str) -> str:
    """`_optional_day`: YYYYMMDD or YYYY-MM-DD, 1900-2199; NULL when empty or not a date."""
    s = _bstrip(expr)
    digits = f"CASE WHEN strlen({s}) = 10 THEN replace({s}, '-', '') ELSE {s} END"
    # DuckDB: regexp_full_match, try_strptime (PostgreSQL: ~ and a guarded to_date).
    return (
        f"CASE WHEN regexp_full_match({digits}, '[0-9]{{8}}') THEN "
        f"CAST(try_strptime({digits}, '%Y%m%d') AS DATE) END"
    )


def _day_ok(expr: str) -> str:
    """Whether `_optional_day` accepts the field (an empty one included)."""
    day = _day(expr)
    return (
        f"({_bstrip(expr)} = '' OR coalesce({day} BETWEEN DATE '1900-01-01' "
        f"AND DATE '2199-12-31', false))"
    )


def _cents(expr: str, plan: _Plan) -> str:
    """`fec._cents` in SQL, as HUGEINT; NULL where it raises (or beyond HUGEINT)."""
    compact = f"replace({expr}, ' ', '')"
    if plan.single_byte:  # b"\xa0" is a whole character only in a single-byte encoding
        compact = f"replace({compact}, chr(160), '')"
    unsigned = (
        f"CASE WHEN left({compact}, 1) IN ('+', '-') THEN substr({compact}, 2) ELSE {compact} END"
    )
    dotted = f"replace({unsigned}, ',', '.')"
    units = f"split_part({dotted}, '.', 1)"
    raw_fraction = (
        f"CASE WHEN strpos({dotted}, '.') > 0 THEN substr({dotted}, strpos({dotted}, '.') + 1) "
        "ELSE '' END"
    )
    fraction = (
        f"CASE WHEN strlen({raw_fraction}) > 2 THEN rtrim({raw_fraction}, '0') "
        f"ELSE {raw_fraction} END"
    )
    sign = f"CASE WHEN left({compact}, 1) = '-' THEN -1 ELSE 1 END"
    general = (
        f"CASE WHEN {compact} = '' THEN CAST(0 AS HUGEINT) "
        f"WHEN regexp_full_match({units}, '[0-9]+') AND regexp_full_match({fraction}, "
        f"'[0-9]{{0,2}}') AND strlen(ltrim({units}, '0')) < 30 THEN "
        f"{sign} * (CAST({units} AS HUGEINT) * 100 + CAST(rpad({fraction}, 2, '0') AS INTEGER))"
        " END"
    )
    # The usual form first, as the Python reader does.
    return (
        f"CASE WHEN regexp_full_match({expr}, '[0-9]{{1,18}},[0-9][0-9]') THEN "
        f"CAST(replace({expr}, ',', '') AS HUGEINT) ELSE {general} END"
    )


# -- parsing -------------------------------------------------------------------------------


def _parse(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> None:
    """`fec_parsed`: every non-blank line, its fields, amounts, dates and error flags."""
    header = plan.header
    at = header.index
    sep = _lit(header.separator.decode("ascii"))
    bounds = connector.bounds

    def field(name: str) -> str:
        return f"parts[{at[name] + 1}]"

    if header.signed:
        amount = _cents(field("Montant"), plan)
        sens = f"upper({_bstrip(field('Sens'))})"
        debit_raw = f"CASE WHEN {sens} IN ('D', '+1', '1') THEN {amount} ELSE 0 END"
        credit_raw = f"CASE WHEN {sens} IN ('C', '-1') THEN {amount} ELSE 0 END"
        amounts_ok = f"({amount} IS NOT NULL AND {sens} IN ('D', '+1', '1', 'C', '-1'))"
    else:
        debit_raw = _cents(field("Debit"), plan)
        credit_raw = _cents(field("Credit"), plan)
        amounts_ok = "(d0 IS NOT NULL AND c0 IS NOT NULL)"
    line_len = _length("line", plan)
    # DuckDB: list_max/list_transform with a lambda (PostgreSQL: unnest).
    longest = f"list_max(list_transform(parts, lambda p: {_length('p', plan)}))"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_parsed AS
        SELECT *,
            greatest(d0, 0) - least(c0, 0) AS debit_h,
            greatest(c0, 0) - least(d0, 0) AS credit_h
        FROM (
            SELECT number, line, n_fields, line_bytes,
                {field("JournalCode")} AS j, {field("EcritureNum")} AS e,
                {field("EcritureDate")} AS d_raw, {_day(field("EcritureDate"))} AS booked_on,
                {_bstrip(field("CompteNum"))} AS account,
                {field("CompAuxNum")} AS aux, {field("CompAuxLib")} AS aux_label,
                {field("CompteLib")} AS account_label, {field("PieceRef")} AS piece,
                {field("PieceDate")} AS piece_raw, {field("EcritureLet")} AS let_raw,
                {field("DateLet")} AS date_let_raw,
                n_fields >= {header.width} AS cols_ok,
                line_bytes <= {bounds.line_bytes} AS length_ok,
                line_bytes <= {bounds.field_bytes} OR {longest} <= {bounds.field_bytes}
                    AS fields_ok,
                {_day_ok(field("EcritureDate"))} AND {_bstrip(field("EcritureDate"))} <> ''
                    AS date_ok,
                {debit_raw} AS d0, {credit_raw} AS c0, {amounts_ok} AS amounts_ok
            FROM (
                SELECT number, line, parts, len(parts) AS n_fields,
                    {line_len} + {plan.extra_bytes} AS line_bytes
                FROM (SELECT number, line, string_split(line, {sep}) AS parts FROM fec_src)
            )
            WHERE NOT (n_fields < {header.width} AND {_bstrip("line")} = '')
        )
        """
    )


def _raise_first_error(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector
) -> None:
    """The first error the Python reader would meet, raised with its own methods."""
    bound = connector.bounds.entry_lines
    first = con.execute(
        f"""
        SELECT min(number) FROM fec_parsed
        WHERE NOT length_ok OR NOT cols_ok OR NOT fields_ok OR NOT date_ok OR NOT amounts_ok
           OR debit_h >= {MAX_CENTS} OR credit_h >= {MAX_CENTS}
        """
    ).fetchone()
    line_error = first[0] if first and first[0] is not None else INFINITY
    _entries(con, bound)
    # Errors met when an entry is processed: when the line after its last fragment is read.
    deferred = con.execute(
        f"""
        SELECT pos, kind, number, first_line FROM (
            SELECT number AS pos, 0 AS kind, number - 1 AS number, frag_first AS first_line
            FROM fec_frag_lines WHERE frag_rank = {bound + 1}
            UNION ALL
            SELECT next_start, 1, last_line, group_first FROM fec_unbalanced
            WHERE NOT closes AND (group_lines > {bound} OR waiting_lines > {4 * bound})
            UNION ALL
            SELECT done_at, 2, number, NULL FROM fec_entry_lines l
            WHERE is_customer AND debit_h <> credit_h AND NOT rejected AND (
                ({_bstrip("let_raw")} <> '' AND NOT {_day_ok("date_let_raw")})
                OR (debit_h > credit_h AND NOT account LIKE '4181%'
                    AND NOT account LIKE '4191%' AND NOT {_day_ok("piece_raw")}))
        ) WHERE pos <= ? ORDER BY pos, number LIMIT 1
        """,
        [line_error],
    ).fetchone()
    if deferred is not None and deferred[0] < line_error:
        _raise_deferred(con, plan, connector, deferred)
    if line_error != INFINITY:
        _raise_line(con, plan, connector, line_error)


def _reader(plan: _Plan, connector: FecConnector) -> _EntryReader:
    return _EntryReader(connector, plan.encoding, plan.header)


def _line_bytes(con: duckdb.DuckDBPyConnection, plan: _Plan, number: int) -> bytes:
    (text,) = con.execute("SELECT line FROM fec_src WHERE number = ?", [number]).fetchone() or ("",)
    encoding = "latin-1" if plan.read_encoding == "latin-1" else "utf-8"
    if plan.read_encoding == "utf-8" and plan.single_byte:
        encoding = plan.encoding  # a transcoded copy
    return text.encode(encoding)


def _raise_line(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, number: int
) -> None:
    """Run the Python reader's checks of one line (its loop body), which raise."""
    text = _line_bytes(con, plan, number)
    if len(text) + plan.extra_bytes > connector.bounds.line_bytes:
        raise _line_too_long(connector.path, number, connector.bounds.line_bytes)
    data = text + plan.terminator.encode("ascii")
    # The reader's own loop over this line alone, numbered as in the file: it numbers lines
    # from 2 and skips blank ones, so blank lines stand in for those before.
    padding = itertools.repeat(b"\n", number - 2)
    for _ in _reader(plan, connector).read(itertools.chain(padding, [data])):
        pass
    raise AssertionError(f"line {number} was flagged but passes the reader's checks")


def _raise_deferred(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    connector: FecConnector,
    found: tuple[int, int, int, int | None],
) -> None:
    _, kind, number, first_line = found
    reader = _reader(plan, connector)
    if kind in (0, 1):
        stub = (0, b"", [], 0, 0)
        reader._too_large([(first_line, *stub[1:]), (number, *stub[1:])])  # type: ignore[list-item]
    at = plan.header.index
    fields = _line_bytes(con, plan, number).split(plan.header.separator)
    if fields[at["EcritureLet"]].strip():
        reader._optional_day(fields[at["DateLet"]], "DateLet", number)
    reader._optional_day(fields[at["PieceDate"]], "PieceDate", number)
    raise AssertionError(f"line {number} was flagged but passes the reader's checks")


# -- entries -------------------------------------------------------------------------------


def _entries(con: duckdb.DuckDBPyConnection, bound: int) -> None:
    """Fragments, the entries they form, and every line with its entry."""
    customer = " OR ".join(f"account LIKE '{prefix}%'" for prefix in CUSTOMER_PREFIXES)
    # The windows run over the few columns they need, then join back (wide rows are costly).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_keys AS
        SELECT number, frag, row_number() OVER (PARTITION BY frag ORDER BY number) AS frag_rank,
            min(number) OVER (PARTITION BY frag) AS frag_first
        FROM (
            SELECT number, sum(CASE WHEN new_frag THEN 1 ELSE 0 END) OVER (ORDER BY number)
                AS frag
            FROM (
                SELECT number, coalesce(j IS DISTINCT FROM lag(j) OVER w
                    OR e IS DISTINCT FROM lag(e) OVER w
                    OR d_raw IS DISTINCT FROM lag(d_raw) OVER w, true) AS new_frag
                FROM fec_parsed WINDOW w AS (ORDER BY number)
            )
        )
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_frag_lines AS
        SELECT p.*, k.frag, k.frag_rank, k.frag_first, ({customer}) AS is_customer
        FROM fec_parsed p JOIN fec_keys k USING (number)
        """
    )
    con.execute("DROP TABLE fec_keys")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_frags AS
        SELECT frag, first(j ORDER BY number) AS j, first(e ORDER BY number) AS e,
            min(number) AS first_line, max(number) AS last_line, count(*) AS n_lines,
            sum(coalesce(debit_h, 0) - coalesce(credit_h, 0)) AS balance
        FROM fec_frag_lines GROUP BY frag
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_frags2 AS
        SELECT *, coalesce(lead(first_line) OVER (ORDER BY frag), {INFINITY - 1}) AS next_start
        FROM fec_frags
        """
    )
    # Unbalanced fragments wait per (JournalCode, EcritureNum): an entry each time their
    # running sum comes back to zero.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_unb1 AS
        SELECT *, coalesce(sum(CASE WHEN cum = 0 THEN 1 ELSE 0 END) OVER (
                PARTITION BY j, e ORDER BY frag
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp,
            cum = 0 AS closes
        FROM (
            SELECT *, sum(balance) OVER (PARTITION BY j, e ORDER BY frag
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
            FROM fec_frags2 WHERE balance <> 0
        )
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_unbalanced AS
        SELECT *, sum(CASE WHEN closes THEN n_lines - group_lines ELSE n_lines END)
                OVER (ORDER BY frag ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                AS waiting_lines
        FROM (
            SELECT *,
                sum(n_lines) OVER (PARTITION BY j, e, grp ORDER BY frag
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS group_lines,
                min(frag) OVER (PARTITION BY j, e, grp) AS entry,
                min(first_line) OVER (PARTITION BY j, e, grp) AS group_first,
                NOT bool_or(closes) OVER (PARTITION BY j, e, grp) AS rejected,
                max(CASE WHEN closes THEN next_start END) OVER (PARTITION BY j, e, grp)
                    AS group_done_at
            FROM fec_unb1
        )
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_entry_lines AS
        SELECT l.*, coalesce(u.entry, l.frag) AS entry, coalesce(u.rejected, false) AS rejected,
            coalesce(u.group_done_at, f.next_start) AS done_at
        FROM fec_frag_lines l
        JOIN fec_frags2 f ON f.frag = l.frag
        LEFT JOIN fec_unbalanced u ON u.frag = l.frag
        """
    )
    for table in ("fec_frags", "fec_unb1"):
        con.execute(f"DROP TABLE {table}")


# -- records -------------------------------------------------------------------------------


def _build(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> None:
    """The five record tables, from `fec_entry_lines`."""
    source = connector.source
    _terms_table(con, connector)
    key = f"coalesce(nullif({_bstrip('aux')}, ''), account)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_cl AS
        SELECT *, {_text(key, plan)} AS customer_id FROM fec_entry_lines WHERE is_customer
        """
    )
    name = (
        f"CASE WHEN {_bstrip('aux')} <> '' THEN {_text('aux_label', plan)} "
        f"ELSE {_text('account_label', plan)} END"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_customers AS
        SELECT {_lit(source)} AS source, c.customer_id AS external_id,
            coalesce(nullif({name}, ''), c.customer_id) AS name,
            t.last_days AS payment_terms_days, coalesce(t.last_eom, false) AS terms_end_of_month,
            {_decoded("line", plan)} AS raw
        FROM (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY number) AS seen
              FROM fec_cl) c
        LEFT JOIN (SELECT DISTINCT customer_id, last_days, last_eom FROM fec_terms
                   WHERE customer_id IS NOT NULL) t ON t.customer_id = c.customer_id
        WHERE c.seen = 1
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_balances AS
        SELECT {_lit(source)} AS source, customer_id AS external_id,
            (SELECT max(booked_on) FROM fec_parsed) AS as_of,
            CAST(sum(debit_h - credit_h) AS BIGINT) AS amount, {_lit(LEDGER_BASIS)} AS basis
        FROM fec_cl GROUP BY customer_id
        """
    )
    entry_id = f"{_text('j', plan)} || '/' || {_text('e', plan)}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_entries AS
        SELECT entry, min(number) AS first_line,
            first({entry_id} ORDER BY number) AS entry_id,
            first(booked_on ORDER BY number) AS booked_on,
            coalesce(bool_or(account LIKE '70%' AND credit_h > debit_h), false) AS sells,
            coalesce(bool_or(account LIKE '70%' AND debit_h > credit_h), false) AS reverses,
            sum(CASE WHEN account LIKE '70%' OR account LIKE '4457%' OR account LIKE '44587%'
                THEN credit_h - debit_h ELSE 0 END) AS sales,
            sum(debit_h) AS debit, sum(credit_h) AS credit,
            -- DuckDB: string_agg ... ORDER BY is PostgreSQL's too.
            bool_or(rejected) AS rejected
        FROM fec_entry_lines GROUP BY entry
        """
    )
    # The raw text only of the entries that keep it: sales and quarantine.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_entry_raw AS
        SELECT entry,
            string_agg(line || {_lit(plan.terminator)}, '' ORDER BY number) AS raw_sale,
            string_agg(line, chr(10) ORDER BY number) AS raw_rejected,
            list(number ORDER BY number) AS numbers
        FROM fec_entry_lines
        WHERE entry IN (SELECT entry FROM fec_entries WHERE rejected OR sells OR reverses)
        GROUP BY entry
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_entry_customers AS
        SELECT entry, CASE WHEN count(DISTINCT customer_id) = 1 THEN min(customer_id) END
            AS customer_id
        FROM fec_cl GROUP BY entry
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_sales AS
        SELECT {_lit(source)} AS source, x.entry_id || '/L' || x.first_line AS external_id,
            c.customer_id, x.booked_on, CAST(x.sales AS BIGINT) AS amount,
            rtrim({_decoded("r.raw_sale", plan)}, chr(13) || chr(10)) AS raw
        FROM fec_entries x JOIN fec_entry_raw r USING (entry)
        LEFT JOIN fec_entry_customers c USING (entry)
        WHERE NOT x.rejected AND (x.sells OR x.reverses)
        """
    )
    _ledger_lines(con, plan, source)
    _rejected(con, plan, connector)
    for table in (
        "fec_cl",
        "fec_entries",
        "fec_entry_raw",
        "fec_entry_customers",
        "fec_terms",
        "fec_src",
        "fec_parsed",
        "fec_frag_lines",
        "fec_frags2",
        "fec_unbalanced",
        "fec_entry_lines",
    ):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _terms_table(con: duckdb.DuckDBPyConnection, connector: FecConnector) -> None:
    """`fec_terms`: one row per term line; customer_id NULL for the default terms."""
    rows = []
    for customer_id, terms in [(None, connector.default_terms), *connector.terms.items()]:
        last = terms.lines[-1]
        for seq, term in enumerate(terms.lines):
            factor = None if term.share is None else int(term.share * 100)
            rows.append(
                (customer_id, seq, factor, term.days, term.end_of_month, len(terms.lines))
                + (last.days, last.end_of_month)
            )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_terms (customer_id VARCHAR, seq INTEGER,
            factor BIGINT, days INTEGER, end_of_month BOOLEAN, n_terms INTEGER,
            last_days INTEGER, last_eom BOOLEAN)
        """
    )
    con.executemany("INSERT INTO fec_terms VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _ascii_replace(expr: str, plan: _Plan) -> str:
    """`bytes.decode('ascii', 'replace')`: one U+FFFD per non-ASCII byte."""
    if plan.single_byte:
        return f"regexp_replace({expr}, '[^\\x00-\\x7F]', '\ufffd', 'g')"
    out = expr
    for pattern, count in (
        ("[\\x{80}-\\x{7FF}]", 2),
        ("[\\x{800}-\\x{FFFF}]", 3),
        ("[\\x{10000}-\\x{10FFFF}]", 4),
    ):
        out = f"regexp_replace({out}, '{pattern}', '{chr(0xFFFD) * count}', 'g')"
    return out


def _ledger_lines(con: duckdb.DuckDBPyConnection, plan: _Plan, source: str) -> None:
    code = _bstrip("l.let_raw")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_ll AS
        SELECT l.number, x.entry_id || '/L' || l.number AS external_id, l.customer_id,
            CASE WHEN l.debit_h > l.credit_h THEN
                CASE WHEN l.account LIKE '4181%' THEN 'unbilled'
                     WHEN l.account LIKE '4191%' THEN 'advance_use'
                     WHEN x.sells OR l.account LIKE '416%' THEN 'invoice'
                     ELSE 'debit' END
            ELSE
                CASE WHEN l.account LIKE '4191%' THEN 'advance'
                     WHEN x.reverses THEN 'credit_note'
                     ELSE 'payment' END
            END AS kind,
            l.booked_on,
            nullif({_text("l.piece", plan)}, '') AS reference,
            CAST(abs(l.debit_h - l.credit_h) AS BIGINT) AS amount,
            l.account LIKE '416%' AS is_doubtful,
            CASE WHEN {code} <> '' THEN {_ascii_replace("l.account", plan)} || ':'
                || {_text(code, plan)} END AS match_ref,
            CASE WHEN {code} <> '' THEN {_day("l.date_let_raw")} END AS matched_on,
            coalesce({_day("l.piece_raw")}, l.booked_on) AS issued_on,
            {_decoded("l.line", plan)} AS raw
        FROM fec_cl l JOIN fec_entries x USING (entry)
        WHERE NOT x.rejected AND l.debit_h <> l.credit_h
        """
    )
    # Due lines of invoices and other debits, by the customer's terms or the default ones.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_due AS
        SELECT number, n_terms, has_terms,
            -- DuckDB: list of struct (PostgreSQL: an array of a composite type, or a table).
            list({'due_on': due_on, 'amount': part} ORDER BY seq)
                FILTER (WHERE n_terms = 1 OR part <> 0) AS due_lines
        FROM (
            SELECT l.number, t.seq, t.n_terms, t.customer_id IS NOT NULL AS has_terms,
                CASE WHEN t.end_of_month THEN last_day(l.issued_on + t.days)  -- DuckDB: last_day
                     ELSE l.issued_on + t.days END AS due_on,
                CASE WHEN t.factor IS NOT NULL THEN (l.amount * t.factor) // 10000
                     ELSE l.amount - coalesce(sum((l.amount * t.factor) // 10000) OVER (
                        PARTITION BY l.number ORDER BY t.seq
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                END AS part
            FROM fec_ll l
            JOIN fec_terms t ON t.customer_id IS NOT DISTINCT FROM (
                CASE WHEN l.customer_id IN (SELECT customer_id FROM fec_terms
                    WHERE customer_id IS NOT NULL) THEN l.customer_id END)
            WHERE l.kind IN ('invoice', 'debit')
        ) GROUP BY number, n_terms, has_terms
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_lines AS
        SELECT {_lit(source)} AS source, l.external_id, l.customer_id, l.kind, l.booked_on,
            l.reference, l.amount,
            CASE WHEN l.kind IN ('unbilled', 'advance_use')
                    THEN [{{'due_on': l.booked_on, 'amount': l.amount}}]
                 WHEN d.number IS NOT NULL THEN d.due_lines
                 ELSE CAST([] AS STRUCT(due_on DATE, amount BIGINT)[]) END AS due_lines,
            l.is_doubtful, coalesce(NOT d.has_terms, false) AS due_date_assumed,
            l.match_ref, l.matched_on, l.raw
        FROM fec_ll l LEFT JOIN fec_due d USING (number)
        """
    )
    con.execute("DROP TABLE fec_ll")
    con.execute("DROP TABLE fec_due")


def _rejected(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> None:
    """Quarantine records; the reason is worded by the Python reader's helpers (few rows)."""
    rows = con.execute(
        f"""
        SELECT entry_id, numbers, CAST(debit AS BIGINT), CAST(credit AS BIGINT),
            {_decoded("raw_rejected", plan)}
        FROM fec_entries JOIN fec_entry_raw USING (entry) WHERE rejected
        """
    ).fetchall()
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_rejected (source VARCHAR, stream VARCHAR,
            external_id VARCHAR, reason VARCHAR, raw VARCHAR)
        """
    )
    currency = connector.currency
    if not rows:
        return
    con.executemany(
        "INSERT INTO fec_rejected VALUES (?, 'entries', ?, ?, ?)",
        [
            (
                connector.source,
                entry_id,
                f"entry {entry_id} ({_line_ranges(numbers)}) does not balance: debit "
                f"{to_decimal(debit, currency)}, credit {to_decimal(credit, currency)}; its "
                "lines on customer accounts are left out of the figures. Fix it in the "
                "accounting software and export again",
                raw,
            )
            for entry_id, numbers, debit, credit, raw in rows
        ],
    )


# -- the Python reader's records, staged ---------------------------------------------------


def _stage_records(con: duckdb.DuckDBPyConnection, records: Iterable[FecRecord]) -> None:
    """The same tables from records already read (files the engine leaves to Python)."""
    lines, sales, customers, balances, rejected = [], [], [], [], []
    for record in records:  # all of them first: an error leaves nothing behind
        if isinstance(record, LedgerLine):
            lines.append(
                (*record[:4], _date(record.booked_on), *record[5:7])
                + ([{"due_on": _date(d), "amount": a} for d, a in record.due_lines],)
                + (*record[8:11], _date(record.matched_on), record.raw)
            )
        elif isinstance(record, LedgerSale):
            sales.append((*record[:3], _date(record.booked_on), *record[4:]))
        elif isinstance(record, Customer):
            customers.append(
                (
                    record.source,
                    record.external_id,
                    record.name,
                    record.payment_terms_days,
                    record.terms_end_of_month,
                    record.raw,
                )
            )
        elif isinstance(record, SourceBalance):
            balances.append(
                (
                    record.source,
                    record.external_id,
                    record.as_of,
                    record.amount.minor_units,
                    record.basis,
                )
            )
        elif isinstance(record, Rejected):
            rejected.append(
                (record.source, record.stream, record.external_id, record.reason, record.raw)
            )
    schemas = {
        "fec_lines": "source VARCHAR, external_id VARCHAR, customer_id VARCHAR, kind VARCHAR, "
        "booked_on DATE, reference VARCHAR, amount BIGINT, "
        "due_lines STRUCT(due_on DATE, amount BIGINT)[], is_doubtful BOOLEAN, "
        "due_date_assumed BOOLEAN, match_ref VARCHAR, matched_on DATE, raw VARCHAR",
        "fec_sales": "source VARCHAR, external_id VARCHAR, customer_id VARCHAR, "
        "booked_on DATE, amount BIGINT, raw VARCHAR",
        "fec_customers": "source VARCHAR, external_id VARCHAR, name VARCHAR, "
        "payment_terms_days INTEGER, terms_end_of_month BOOLEAN, raw VARCHAR",
        "fec_balances": "source VARCHAR, external_id VARCHAR, as_of DATE, amount BIGINT, "
        "basis VARCHAR",
        "fec_rejected": "source VARCHAR, stream VARCHAR, external_id VARCHAR, reason VARCHAR, "
        "raw VARCHAR",
    }
    data = dict(zip(TABLES, (lines, sales, customers, balances, rejected), strict=True))
    for table in TABLES:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({schemas[table]})")
        if data[table]:
            marks = ", ".join("?" * len(data[table][0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", data[table])


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)
