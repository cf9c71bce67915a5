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
    fec_texts         number, line: every line read (blank ones too), decoded
    fec_line_entries  number, entry: each line of an entry, and the entry's first line
    fec_line_end      line_end: the end of every line (one row)

The raw text of a line's record is not copied into `fec_lines.raw` (NULL) but kept once, in
`fec_texts`: its line; a sale's is the lines of its entry (`entry` = the number ending its
id), in order, each with its end but the last (`sync/store/ledger.py`'s `with_raw`).
A file the Python reader reads instead gives its records' raw texts and no lines.

Amounts are integer minor units (cents), never DOUBLE. A broken file raises the `DataError`
the Python reader raises (same class, same message), before any of these tables is created.

Example: the file `VT 1 411000 C1 debit 120,00` / `VT 2 411000 C2 debit 240,00` /
`VT 1 706000 credit 120,00` / `VT 2 706000 credit 240,00` (entries interleaved) gives two rows
in `fec_lines`, `('books', 'VT/1/L2', 'C1', 'invoice', 2025-01-10, ..., 12000, ...)` and
`('books', 'VT/2/L3', 'C2', 'invoice', ...)`, two in `fec_sales` and two in `fec_balances`
(12000 and 24000 as of the last entry date).

How it reads: read_csv reads each line as one VARCHAR, numbered in file order, and the fields
are split on the separator in SQL, so that a line's raw text, its number of
fields and blank lines are exactly what the Python reader sees. A byte scan first tells the
line ends apart: LF, CRLF, CR CR LF and CR alone are read directly; a file that mixes them or
has a stray CR inside a line is left to the Python reader (see `_scan`). ISO-8859-15 is read
as Latin-1 and its eight differing characters translated; CP1252 is read as Latin-1 when it
has no byte 0x80-0x9F, else transcoded to a temporary UTF-8 copy. Bytes invalid in the file's
encoding, and any encoding other than these, are also left to the Python reader, which names
the column.

Entries: a fragment is a run of adjacent lines with the same JournalCode, EcritureNum and
EcritureDate (a GROUP BY on the key when each key stands on one run, else gaps and islands);
a fragment that balances is an entry; the others, per JournalCode and EcritureNum, form an
entry each time their running sum comes back to zero; what never comes back is quarantined.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb

from encours.connectors import fec_changes
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
from encours.errors import DataError
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
#: The intermediate tables, dropped at the end.
WORK_TABLES = (
    "fec_text",
    "fec_parsed",
    "fec_frags",
    "fec_flagged_lines",
    "fec_bad_days",
    "fec_flagged",
    "fec_next",
    "fec_unb1",
    "fec_unbalanced",
    "fec_merged",
    "fec_fe",
    "fec_cl",
    "fec_terms",
    "fec_ll",
    "fec_pieces",
    "fec_due",
)
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


def stage_fec(
    con: duckdb.DuckDBPyConnection, connector: FecConnector, previous: str | None = None
) -> None:
    """Stage the FEC file of `connector` into temp tables of `con` (see the module docstring).

    `fec_lines`, `fec_sales`, `fec_customers`, `fec_balances` and `fec_rejected` hold the
    records of `connector.records()`, one row each, with the same values; `fec_index_*` the
    index of the file for its next read (`fec_changes`).

    `previous` is the fingerprint of the last read's index, shown in the `fec_previous_*`
    tables: when it is this read's, only the entries whose lines changed are worked out, and
    the records hold those only (`fec_index_scope` says which line numbers they replace).

    Raises:
        DataError: as `connector.records()` does, and nothing is created.
        ConfigError: the file cannot be opened.
    """
    plan = _plan(connector)
    (order,) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() or (
        True,
    )
    copy: Path | None = None
    try:
        if plan is not None and plan.single_byte and _has_c1(plan.path):
            # DuckDB's Latin-1 refuses bytes 0x80-0x9F (the C1 controls; CP1252's €, œ...).
            copy = _transcode(plan.path, plan.encoding)
            if copy is None:
                plan = None
            else:
                plan = replace(plan, path=copy, read_encoding="utf-8", translate=False)
        if plan is None:
            _stage_records(con, connector.records())
            return
        read_as = _fingerprint(plan, connector)
        if not (previous == read_as and _stage_changes(con, plan, connector, read_as)):
            if not _read(con, plan, connector):
                _stage_records(con, connector.records())
                return
            _parse(con, plan, connector)
            link = _fragments(con, plan)
            _raise_first_error(con, plan, connector, link)
            _build(con, plan, connector, link)
            fec_changes.finish_whole(con, link, read_as)
        _keep_texts(con, plan)
    finally:
        if copy is not None:
            copy.unlink()
        for table in WORK_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        fec_changes.drop(con)
        con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")


def _fingerprint(plan: _Plan, connector: FecConnector) -> str:
    """What a read depends on besides the lines (`fec_changes.fingerprint`)."""
    header = plan.header
    return fec_changes.fingerprint(
        plan.encoding,
        plan.read_encoding,
        plan.translate,
        plan.new_line,
        plan.rows_per_line,
        plan.terminator,
        header.separator,
        header.width,
        sorted(header.index.items()),
        header.signed,
        connector.source,
        connector.currency,
        connector.default_terms,
        sorted(connector.terms.items()),
        connector.bounds,
    )


def _stage_changes(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, read_as: str
) -> bool:
    """Work out only the entries whose lines changed (`fec_changes`); False if it can't.

    On False nothing of the read is left: the whole read reads the file again.
    """
    if not _read_changes(con, plan, connector):
        return False
    key = f"coalesce(nullif({_bstrip('aux')}, ''), account)"
    if fec_changes.narrow(
        con,
        lambda lines: _parse(con, plan, connector, lines),
        key,
        previous_text=f"(SELECT number, {_encoded('line', plan)} AS line FROM fec_previous_text)",
        read_lines=lambda numbers: _read_lines(con, plan, connector, numbers),
    ):
        try:
            link = _fragments(con, plan)
            if fec_changes.simple(con, link):
                _raise_first_error(con, plan, connector, link)
                _build(con, plan, connector, link)
                if fec_changes.finish_narrowed(con, link, read_as, connector.source, LEDGER_BASIS):
                    return True
        except DataError:
            pass  # the whole read reports the first error of the file
    fec_changes.widen(con)
    return False


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
        if b"\r" not in head:
            # The usual file, LF alone: one count of CR over the file tells it.
            while chunk := handle.read(CHUNK):
                if b"\r" in chunk:
                    break
            else:
                return "\\n", 1, "\n"
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


def _csv_options(plan: _Plan, connector: FecConnector) -> str:
    max_line = max(1 << 21, 4 * connector.bounds.line_bytes + 64)
    return (
        f"header = false, auto_detect = false, quote = '', escape = '', "
        f"new_line = '{plan.new_line}', strict_mode = false, encoding = '{plan.read_encoding}', "
        f"max_line_size = {max_line}"
    )


def _lines(plan: _Plan, connector: FecConnector) -> str:
    """SQL: every line of the file (number, line, digest), in file order; `?` is its path.

    read_csv reads each line as one VARCHAR (a delimiter that never occurs, no quotes), in
    file order and numbered, so that a line's raw text, its number of fields and blank lines
    are exactly what the Python reader sees; `_parse` splits the fields. The header is line
    1; every line after it has a number, blank ones too (so two reads of a file differ in
    length only at the end).
    """
    # DuckDB: read_csv. row_number() OVER () straight on the scan follows file order while
    # insertion order is kept. (Not `rowid`: inside a transaction, the rows of a new table
    # are numbered from a large offset.)
    k = plan.rows_per_line
    return f"""
        SELECT number, line, {fec_changes.digest("line")} AS digest FROM (
        SELECT idx // {k} + 1 AS number, coalesce(line, '') AS line
        FROM (
            SELECT row_number() OVER () - 1 AS idx, line FROM read_csv(
                ?, columns = {{'line': 'VARCHAR'}}, delim = E'\\x01', null_padding = false,
                {_csv_options(plan, connector)}
            )
        ) WHERE idx % {k} = 0 AND idx >= {k})
        """


def _read(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> bool:
    """Every line as `fec_text` (number, line, digest); False when DuckDB cannot read it."""
    return _stream(con, plan, f"CREATE OR REPLACE TEMP TABLE fec_text AS {_lines(plan, connector)}")


def _read_changes(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> bool:
    """`fec_changes.read_changes` over the file's lines; False when DuckDB cannot read it.

    Lines are paired by position, or, if that paired some wrongly, by number.
    """
    lines = _lines(plan, connector)
    if not _stream(con, plan, fec_changes.read_changes(lines)):
        return False
    return fec_changes.aligned(con) or _stream(
        con, plan, fec_changes.read_changes(lines, by_position=False)
    )


def _read_lines(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, numbers: str
) -> bool:
    """Add to `fec_text` the lines of the file whose numbers the table `numbers` holds."""
    return _stream(
        con,
        plan,
        f"INSERT INTO fec_text SELECT * FROM ({_lines(plan, connector)}) "
        f"WHERE number IN (SELECT number FROM {numbers})",
    )


def _stream(con: duckdb.DuckDBPyConnection, plan: _Plan, statement: str) -> bool:
    """Run a statement that reads the file (`?`) as it streams past; False if DuckDB can't.

    DuckDB: what the statement joins the file with is the side kept in memory, whatever the
    optimizer guesses of the file's size (it guesses a few rows, and would keep the file).
    """
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    except duckdb.Error:
        pass  # a DuckDB without this step: the same rows, read with more memory
    try:
        con.execute(statement, [str(plan.path)])
    except duckdb.InterruptException:  # Ctrl-C: not a reason to read another way
        raise
    except duckdb.Error:
        con.execute("DROP TABLE IF EXISTS fec_text")
        return False
    finally:
        con.execute("RESET disabled_optimizers")
    # Every later step says its order (line numbers): DuckDB may work on all cores.
    con.execute("SET preserve_insertion_order = false")
    return True


def _parse(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, lines: str = "fec_text"
) -> None:
    """`fec_parsed` from the lines (number, line) of `lines`, a table or a query.

    The fields are split on the separator in SQL, in parallel.
    """
    sep = _lit(plan.header.separator.decode("ascii"))
    source = f"SELECT number, line, string_split(line, {sep}) AS parts FROM {lines}"

    def field(position: int) -> str:
        return f"parts[{position + 1}]"

    longest = f"list_max(list_transform(parts, lambda p: {_length('p', plan)}))"
    con.execute(_parsed_sql(plan, connector, source, field, "len(parts)", longest))


def _parsed_sql(
    plan: _Plan,
    connector: FecConnector,
    source: str,
    field_at: Callable[[int], str],
    n_fields: str,
    longest: str,
) -> str:
    """`fec_parsed`: every non-blank line, its key, account, amounts and line error flag.

    The fields of customer lines only are kept. `bad` flags a line the Python reader stops
    at (column count, lengths, amounts); EcritureDate is checked once per distinct value
    (`_fragments`).
    """
    header = plan.header
    at = header.index
    bounds = connector.bounds

    def field(name: str) -> str:
        return field_at(at[name])

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
    customer = " OR ".join(f"account LIKE '{prefix}%'" for prefix in CUSTOMER_PREFIXES)
    kept = {
        "aux": "CompAuxNum",
        "aux_label": "CompAuxLib",
        "account_label": "CompteLib",
        "piece": "PieceRef",
        "piece_raw": "PieceDate",
        "let_raw": "EcritureLet",
        "date_let_raw": "DateLet",
    }
    customer_fields = ", ".join(
        f"CASE WHEN is_customer THEN {field(name)} END AS {alias}" for alias, name in kept.items()
    )
    return f"""
        CREATE OR REPLACE TEMP TABLE fec_parsed AS
        SELECT number, j, e, d_raw, account, is_customer,
            {", ".join(kept)},
            CASE WHEN NOT bad THEN CAST(debit_h AS BIGINT) END AS debit_h,
            CASE WHEN NOT bad THEN CAST(credit_h AS BIGINT) END AS credit_h, bad
        FROM (
            SELECT *, NOT coalesce(cols_ok AND length_ok AND fields_ok AND amounts_ok
                AND debit_h < {MAX_CENTS} AND credit_h < {MAX_CENTS}, false) AS bad
            FROM (
                SELECT *, ({customer}) AS is_customer, {customer_fields},
                    greatest(d0, 0) - least(c0, 0) AS debit_h,
                    greatest(c0, 0) - least(d0, 0) AS credit_h
                FROM (
                    SELECT *, {debit_raw} AS d0, {credit_raw} AS c0, {amounts_ok} AS amounts_ok
                    FROM (
                        SELECT *, {field("JournalCode")} AS j, {field("EcritureNum")} AS e,
                            {field("EcritureDate")} AS d_raw,
                            {_bstrip(field("CompteNum"))} AS account,
                            n_fields >= {header.width} AS cols_ok,
                            line_bytes <= {bounds.line_bytes} AS length_ok,
                            CASE WHEN line_bytes <= {bounds.field_bytes} THEN true
                                ELSE {longest} <= {bounds.field_bytes} END AS fields_ok
                        FROM (
                            SELECT *, {n_fields} AS n_fields,
                                {_length("line", plan)} + {plan.extra_bytes} AS line_bytes
                            FROM ({source})
                        )
                        -- Blank lines go; CASE keeps the text test off the other lines.
                        WHERE CASE WHEN n_fields < {header.width}
                            THEN {_bstrip("line")} <> '' ELSE true END
                    )
                )
            )
        )
    """


# -- SQL pieces ----------------------------------------------------------------------------


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _strip(expr: str, chars: str) -> str:
    """trim(expr, chars), only where expr starts or ends with one of them.

    DuckDB's trim with a set of characters is slow (about a microsecond a value with the
    thirty of `TEXT_SPACE`), and fields rarely have spaces around them. DuckDB:
    regexp_matches, trim with characters (PostgreSQL: ~ and btrim).
    """
    chars_class = "".join(f"\\x{{{ord(c):x}}}" for c in chars)
    pattern = _lit(f"^[{chars_class}]|[{chars_class}]$")
    return (
        f"CASE WHEN regexp_matches({expr}, {pattern}) THEN trim({expr}, {_lit(chars)}) "
        f"ELSE {expr} END"
    )


def _bstrip(expr: str) -> str:
    """`bytes.strip()`."""
    return _strip(expr, BYTES_SPACE)


def _text(expr: str, plan: _Plan) -> str:
    """`_EntryReader._text`: decoded (ISO-8859-15 translated), then `str.strip()`."""
    if plan.translate:
        expr = f"translate({expr}, {_lit(ISO_8859_15[0])}, {_lit(ISO_8859_15[1])})"
    return _strip(expr, TEXT_SPACE)


def _decoded(expr: str, plan: _Plan) -> str:
    if plan.translate:
        return f"translate({expr}, {_lit(ISO_8859_15[0])}, {_lit(ISO_8859_15[1])})"
    return expr


def _encoded(expr: str, plan: _Plan) -> str:
    """The line as read from a line `_decoded` (Latin-1 reads no character it translates to)."""
    if plan.translate:
        return f"translate({expr}, {_lit(ISO_8859_15[1])}, {_lit(ISO_8859_15[0])})"
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


# -- fragments and errors ------------------------------------------------------------------


def _fragments(con: duckdb.DuckDBPyConnection, plan: _Plan) -> str:
    """`fec_frags`: one row per fragment (see the module docstring), numbered by its first line.

    Usually every (JournalCode, EcritureNum, EcritureDate) stands on one run of lines, and a
    GROUP BY on it gives the fragments; else (the same key again further on, or a blank line
    inside a run) a running count over the lines numbers them. Returns how a line of
    `fec_parsed` p finds its fragment f.
    """

    def frags(group: str, keys: str) -> None:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fec_frags AS
            SELECT g.*, d.booked_on, coalesce(d.date_ok, false) AS date_ok
            FROM (
                SELECT {keys}, min(number) AS frag, max(number) AS last_line,
                    count(*) AS n_lines, coalesce(sum(debit_h), 0) AS debit,
                    coalesce(sum(credit_h), 0) AS credit,
                    coalesce(bool_or(account LIKE '70%' AND credit_h > debit_h), false) AS sells,
                    coalesce(bool_or(account LIKE '70%' AND debit_h > credit_h), false)
                        AS reverses,
                    coalesce(sum(CASE WHEN account LIKE '70%' OR account LIKE '4457%'
                        OR account LIKE '44587%' THEN credit_h - debit_h ELSE 0 END), 0) AS sales,
                    min(number) FILTER (WHERE bad) AS bad_line
                FROM fec_parsed GROUP BY {group}
            ) g
            LEFT JOIN (
                SELECT d_raw, {_day("d_raw")} AS booked_on,
                    {_day_ok("d_raw")} AND {_bstrip("d_raw")} <> '' AS date_ok
                FROM (SELECT DISTINCT d_raw FROM fec_parsed)
            ) d ON d.d_raw = g.d_raw
            """
        )

    frags("j, e, d_raw", "j, e, d_raw")
    (runs,) = con.execute(
        "SELECT coalesce(bool_and(n_lines = last_line - frag + 1 AND j IS NOT NULL "
        "AND e IS NOT NULL AND d_raw IS NOT NULL), true) FROM fec_frags"
    ).fetchone()
    if runs:
        return "p.j = f.j AND p.e = f.e AND p.d_raw = f.d_raw"
    # Gaps and islands over all the lines: slower, for the files that need it.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_parsed AS
        SELECT *, sum(CASE WHEN new_frag THEN 1 ELSE 0 END) OVER (ORDER BY number) AS frag_no
        FROM (
            SELECT *, coalesce(j IS DISTINCT FROM lag(j) OVER w
                OR e IS DISTINCT FROM lag(e) OVER w
                OR d_raw IS DISTINCT FROM lag(d_raw) OVER w, true) AS new_frag
            FROM fec_parsed WINDOW w AS (ORDER BY number)
        )
        """
    )
    # DuckDB: any_value (PostgreSQL: min), equal over a fragment.
    frags("frag_no", "frag_no, any_value(j) AS j, any_value(e) AS e, any_value(d_raw) AS d_raw")
    return "p.frag_no = f.frag_no"


def _raise_first_error(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, link: str
) -> None:
    """The first error the Python reader would meet, raised with its own methods.

    Also leaves `fec_fe`: each fragment with its entry (see `_entries`).
    """
    bound = connector.bounds.entry_lines
    (first,) = con.execute(
        "SELECT least(min(bad_line), min(frag) FILTER (WHERE NOT date_ok)) FROM fec_frags"
    ).fetchone()
    line_error = INFINITY if first is None else first
    # Customer lines whose PieceDate or DateLet the Python reader would refuse when it
    # processes their entry (if the entry is not quarantined); usually none.
    # Dates are checked once per distinct value, lines looked for only if one is wrong.
    # Two statements: in one, DuckDB checks the dates below the UNION, on every line (0.7 s
    # at 4.8 million lines, against 0.06 s).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_bad_days AS
        SELECT piece_raw AS d FROM fec_parsed WHERE is_customer
        UNION SELECT date_let_raw FROM fec_parsed WHERE is_customer
        """
    )
    con.execute(f"DELETE FROM fec_bad_days WHERE {_day_ok('d')} IS NOT FALSE")
    (bad_days,) = con.execute("SELECT count(*) FROM fec_bad_days").fetchone()
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_flagged_lines AS
        SELECT number, j, e, d_raw{", frag_no" if "frag_no" in link else ""} FROM fec_parsed
        WHERE {"true" if bad_days else "false"} AND is_customer AND debit_h <> credit_h AND (
            ({_bstrip("let_raw")} <> '' AND date_let_raw IN (SELECT d FROM fec_bad_days))
            OR (debit_h > credit_h AND NOT account LIKE '4181%'
                AND NOT account LIKE '4191%' AND piece_raw IN (SELECT d FROM fec_bad_days)))
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_flagged AS
        SELECT p.number, f.frag FROM fec_flagged_lines p JOIN fec_frags f ON {link}
        """
    )
    _entries(con, link)
    deferred = con.execute(
        f"""
        SELECT pos, kind, number, first_line FROM (
            SELECT next_start AS pos, 1 AS kind, last_line AS number, group_first AS first_line
            FROM fec_unbalanced
            WHERE NOT closes AND (group_lines > {bound} OR waiting_lines > {4 * bound})
            UNION ALL
            SELECT coalesce(e.done_at, n.next_start), 2, g.number, NULL
            FROM fec_flagged g JOIN fec_fe e USING (frag) JOIN fec_next n USING (frag)
            WHERE NOT e.rejected
        ) WHERE pos <= ? ORDER BY pos, number LIMIT 1
        """,
        [line_error],
    ).fetchone()
    big = con.execute(
        "SELECT frag FROM fec_frags WHERE n_lines > ? ORDER BY frag LIMIT 1", [bound]
    ).fetchone()
    if big is not None:
        # A fragment longer than the bound: the reader stops at its line bound + 1.
        numbers = [
            number
            for (number,) in con.execute(
                f"""
                SELECT p.number FROM fec_parsed p
                JOIN (SELECT * FROM fec_frags WHERE frag = ?) f ON {link}
                ORDER BY p.number LIMIT {bound + 1}
                """,
                [big[0]],
            ).fetchall()
        ]
        found = (numbers[bound], 0, numbers[bound - 1], numbers[0])
        if found[0] <= line_error and (deferred is None or found[0] <= deferred[0]):
            deferred = found
    if deferred is not None and deferred[0] < line_error:
        _raise_deferred(con, plan, connector, deferred)
    if line_error != INFINITY:
        _raise_line(con, plan, connector, line_error)


# -- entries -------------------------------------------------------------------------------


def _entries(con: duckdb.DuckDBPyConnection, link: str) -> None:
    """`fec_fe`: every fragment with its entry, and the entry's figures.

    A fragment that balances is an entry (most of them). The others, per JournalCode and
    EcritureNum, form an entry each time their running sum comes back to zero; what never
    comes back is quarantined. `done_at` is where the Python reader processes the entry:
    the first line after its last fragment.
    """
    (needed,) = con.execute(
        "SELECT count(*) FROM fec_frags WHERE debit <> credit "
        "OR frag IN (SELECT frag FROM fec_flagged)"
    ).fetchone()
    # The start of the next fragment, for the unbalanced ones and those with flagged lines.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_next AS
        SELECT frag, coalesce(next_start, {INFINITY - 1}) AS next_start FROM (
            SELECT frag, debit <> credit OR frag IN (SELECT frag FROM fec_flagged) AS needed,
                lead(frag) OVER (ORDER BY frag) AS next_start
            FROM fec_frags
            {"WHERE false" if needed == 0 else ""}
        ) WHERE needed
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_unb1 AS
        SELECT *, coalesce(sum(CASE WHEN cum = 0 THEN 1 ELSE 0 END) OVER (
                PARTITION BY j, e ORDER BY frag
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp,
            cum = 0 AS closes
        FROM (
            SELECT f.frag, f.j, f.e, f.n_lines, f.frag AS first_line, f.last_line,
                n.next_start,
                sum(f.debit - f.credit) OVER (PARTITION BY f.j, f.e ORDER BY f.frag
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
            FROM fec_frags f JOIN fec_next n USING (frag) WHERE f.debit <> f.credit
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
    # Entries of several fragments: figures summed, the date of the first fragment.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fec_merged AS
        SELECT u.entry, any_value(u.rejected) AS rejected, any_value(u.group_done_at) AS done_at,
            arg_min(f.booked_on, f.frag) AS booked_on,  -- DuckDB: arg_min
            bool_or(f.sells) AS sells, bool_or(f.reverses) AS reverses, sum(f.sales) AS sales,
            sum(f.debit) AS debit, sum(f.credit) AS credit
        FROM fec_unbalanced u JOIN fec_frags f USING (frag) GROUP BY u.entry
        """
    )
    # done_at of one-fragment entries is in fec_next, for the few that need it.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_fe AS
        SELECT f.frag, f.j, f.e, f.d_raw, f.booked_on, {"f.frag_no," if "frag_no" in link else ""}
            coalesce(u.entry, f.frag) AS entry,
            coalesce(m.rejected, false) AS rejected,
            coalesce(m.sells, f.sells) AS sells, coalesce(m.reverses, f.reverses) AS reverses,
            coalesce(m.sales, f.sales) AS sales, coalesce(m.booked_on, f.booked_on)
                AS entry_booked_on,
            coalesce(m.debit, f.debit) AS entry_debit, coalesce(m.credit, f.credit)
                AS entry_credit,
            CASE WHEN u.entry IS NOT NULL THEN m.done_at END AS done_at
        FROM fec_frags f
        LEFT JOIN fec_unbalanced u USING (frag) LEFT JOIN fec_merged m ON m.entry = u.entry
        """
    )


def _reader(plan: _Plan, connector: FecConnector) -> _EntryReader:
    return _EntryReader(connector, plan.encoding, plan.header)


def _line_bytes(con: duckdb.DuckDBPyConnection, plan: _Plan, number: int) -> bytes:
    (text,) = con.execute("SELECT line FROM fec_text WHERE number = ?", [number]).fetchone() or (
        "",
    )
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


# -- records -------------------------------------------------------------------------------


def _build(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, link: str) -> None:
    """The five record tables, from `fec_parsed` and `fec_fe`."""
    source = connector.source
    _terms_table(con, connector)
    key = f"coalesce(nullif({_bstrip('p.aux')}, ''), p.account)"
    # Customer lines with their entry: the one join over many lines.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_cl AS
        SELECT p.number, p.account, p.aux, p.aux_label, p.account_label, p.piece,
            p.piece_raw, p.let_raw, p.date_let_raw, p.debit_h, p.credit_h,
            {key} AS customer_key, {_text(key, plan)} AS customer_id,
            f.j, f.e, f.entry, f.rejected, f.sells, f.reverses, f.booked_on
        FROM fec_parsed p JOIN fec_fe f ON {link}
        WHERE p.is_customer
        """
    )
    name = (
        f"CASE WHEN {_bstrip('c.aux')} <> '' THEN {_text('c.aux_label', plan)} "
        f"ELSE {_text('c.account_label', plan)} END"
    )
    # DuckDB: arg_min (PostgreSQL: DISTINCT ON ... ORDER BY number).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_customers AS
        SELECT {_lit(source)} AS source, c.customer_id AS external_id,
            coalesce(nullif({name}, ''), c.customer_id) AS name,
            t.last_days AS payment_terms_days, coalesce(t.last_eom, false) AS terms_end_of_month,
            {_decoded("x.line", plan)} AS raw
        FROM (
            SELECT unnest(arg_min({{'customer_id': customer_id, 'aux': aux,
                'aux_label': aux_label, 'account_label': account_label, 'number': number}},
                number))
            FROM fec_cl GROUP BY customer_key
        ) c
        JOIN fec_text x ON x.number = c.number
        LEFT JOIN (SELECT DISTINCT customer_id, last_days, last_eom FROM fec_terms
                   WHERE customer_id IS NOT NULL) t ON t.customer_id = c.customer_id
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_balances AS
        SELECT {_lit(source)} AS source, customer_id AS external_id,
            (SELECT max(booked_on) FROM fec_frags) AS as_of,
            CAST(sum(debit_h - credit_h) AS BIGINT) AS amount, {_lit(LEDGER_BASIS)} AS basis
        FROM fec_cl GROUP BY customer_id
        """
    )
    entry_id = f"{_text('x.j', plan)} || '/' || {_text('x.e', plan)}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_sales AS
        SELECT {_lit(source)} AS source, {entry_id} || '/L' || x.entry AS external_id,
            c.customer_id, x.entry_booked_on AS booked_on, CAST(x.sales AS BIGINT) AS amount,
            CAST(NULL AS VARCHAR) AS raw
        FROM (SELECT * FROM fec_fe WHERE frag = entry AND NOT rejected AND (sells OR reverses)) x
        LEFT JOIN (
            SELECT entry, CASE WHEN min(customer_id) = max(customer_id) THEN min(customer_id)
                END AS customer_id
            FROM fec_cl GROUP BY entry
        ) c USING (entry)
        """
    )
    _ledger_lines(con, plan, connector)
    _rejected(con, plan, connector, link)
    _line_entries(con, link)


def _line_entries(con: duckdb.DuckDBPyConnection, link: str) -> None:
    """`fec_line_entries`: each line of an entry (number) and its entry's first line.

    When each fragment is one run of lines (`_fragments`), its lines are the numbers from
    its first to its last: counted, not joined back to the lines on their text keys.
    """
    if "frag_no" in link:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fec_line_entries AS
            SELECT p.number, f.entry FROM fec_parsed p JOIN fec_fe f ON {link}
            """
        )
        return
    con.execute(  # DuckDB: range, unnest
        """
        CREATE OR REPLACE TEMP TABLE fec_line_entries AS
        SELECT unnest(range(g.frag, g.last_line + 1)) AS number, f.entry
        FROM fec_frags g JOIN fec_fe f ON f.frag = g.frag
        """
    )


def _keep_texts(con: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    """`fec_texts` (number, line: every line read, decoded) and `fec_line_end` (its end).

    The lines just read become `fec_texts` as they are, unless ISO-8859-15 needs them
    translated.
    """
    if plan.translate:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE fec_texts AS "
            f"SELECT number, {_decoded('line', plan)} AS line FROM fec_text"
        )
    else:
        con.execute("DROP TABLE IF EXISTS fec_texts")
        con.execute("ALTER TABLE fec_text RENAME TO fec_texts")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE fec_line_end AS SELECT {_lit(plan.terminator)} AS line_end"
    )


def _ledger_lines(con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector) -> None:
    code = _bstrip("l.let_raw")
    account = (
        f"CASE WHEN strlen(l.account) = length(l.account) THEN l.account "
        f"ELSE {_ascii_replace('l.account', plan)} END"
    )
    entry_id = f"{_text('l.j', plan)} || '/' || {_text('l.e', plan)}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_ll AS
        SELECT l.number, {entry_id} || '/L' || l.number AS external_id, l.customer_id,
            CASE WHEN l.debit_h > l.credit_h THEN
                CASE WHEN l.account LIKE '4181%' THEN 'unbilled'
                     WHEN l.account LIKE '4191%' THEN 'advance_use'
                     WHEN l.sells OR l.account LIKE '416%' THEN 'invoice'
                     ELSE 'debit' END
            ELSE
                CASE WHEN l.account LIKE '4191%' THEN 'advance'
                     WHEN l.reverses THEN 'credit_note'
                     ELSE 'payment' END
            END AS kind,
            l.booked_on,
            nullif({_text("l.piece", plan)}, '') AS reference,
            CAST(abs(l.debit_h - l.credit_h) AS BIGINT) AS amount,
            l.account LIKE '416%' AS is_doubtful,
            CASE WHEN {code} <> '' THEN {account} || ':' || {_text(code, plan)} END AS match_ref,
            CASE WHEN {code} <> '' THEN {_day("l.date_let_raw")} END AS matched_on,
            l.piece_raw
        FROM fec_cl l
        WHERE NOT l.rejected AND l.debit_h <> l.credit_h
        """
    )
    # Due lines of invoices and other debits, by the customer's terms or the default ones.
    # PieceDate is read once per distinct value.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_pieces AS
        SELECT piece_raw, {_day("piece_raw")} AS piece_on
        FROM (SELECT DISTINCT piece_raw FROM fec_ll WHERE kind IN ('invoice', 'debit'))
        """
    )
    default = connector.default_terms
    if not connector.terms and len(default.lines) == 1:
        # Only the default terms, of one line: the due date in the row.
        term = default.lines[0]
        due_on = f"l.issued_on + {int(term.days)}"
        if term.end_of_month:
            due_on = f"last_day({due_on})"  # DuckDB: last_day
        due = f"[{{'due_on': {due_on}, 'amount': l.amount}}]"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fec_due AS
            SELECT l.number, {due} AS due_lines, false AS has_terms
            FROM (SELECT l.number, l.amount, coalesce(d.piece_on, l.booked_on) AS issued_on
                  FROM fec_ll l JOIN fec_pieces d USING (piece_raw)
                  WHERE l.kind IN ('invoice', 'debit')) l
            """
        )
    else:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE fec_due AS
            SELECT number, has_terms,
                -- DuckDB: list of struct (PostgreSQL: an array of a composite type, or a table).
                list({'due_on': due_on, 'amount': part} ORDER BY seq)
                    FILTER (WHERE n_terms = 1 OR part <> 0) AS due_lines
            FROM (
                SELECT l.number, t.seq, t.n_terms, t.customer_id IS NOT NULL AS has_terms,
                    CASE WHEN t.end_of_month THEN last_day(l.issued_on + t.days)  -- DuckDB
                         ELSE l.issued_on + t.days END AS due_on,
                    CASE WHEN t.factor IS NOT NULL THEN (l.amount * t.factor) // 10000
                         ELSE l.amount - coalesce(sum((l.amount * t.factor) // 10000) OVER (
                            PARTITION BY l.number ORDER BY t.seq
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                    END AS part
                FROM (SELECT l.number, l.amount, l.customer_id,
                        coalesce(d.piece_on, l.booked_on) AS issued_on
                      FROM fec_ll l JOIN fec_pieces d USING (piece_raw)
                      WHERE l.kind IN ('invoice', 'debit')) l
                JOIN fec_terms t ON t.customer_id IS NOT DISTINCT FROM (
                    CASE WHEN l.customer_id IN (SELECT customer_id FROM fec_terms
                        WHERE customer_id IS NOT NULL) THEN l.customer_id END)
            ) GROUP BY number, has_terms
            """
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fec_lines AS
        SELECT {_lit(connector.source)} AS source, l.external_id, l.customer_id, l.kind,
            l.booked_on, l.reference, l.amount,
            CASE WHEN l.kind IN ('unbilled', 'advance_use')
                    THEN [{{'due_on': l.booked_on, 'amount': l.amount}}]
                 WHEN d.number IS NOT NULL THEN d.due_lines
                 ELSE CAST([] AS STRUCT(due_on DATE, amount BIGINT)[]) END AS due_lines,
            l.is_doubtful, coalesce(NOT d.has_terms, false) AS due_date_assumed,
            l.match_ref, l.matched_on, CAST(NULL AS VARCHAR) AS raw
        FROM fec_ll l LEFT JOIN fec_due d USING (number)
        """
    )


def _rejected(
    con: duckdb.DuckDBPyConnection, plan: _Plan, connector: FecConnector, link: str
) -> None:
    """Quarantine records; the reason is worded by the Python reader's helpers (few rows)."""
    entry_id = f"{_text('x.j', plan)} || '/' || {_text('x.e', plan)}"
    rows = con.execute(
        f"""
        SELECT {entry_id}, r.numbers, CAST(x.entry_debit AS BIGINT),
            CAST(x.entry_credit AS BIGINT), {_decoded("r.raw_lines", plan)}
        FROM (SELECT * FROM fec_fe WHERE frag = entry AND rejected) x
        JOIN (
            -- DuckDB: list_sort of structs (by line number first), list_transform.
            SELECT entry, list_transform(lines, lambda x: x.number) AS numbers,
                array_to_string(list_transform(lines, lambda x: x.line), chr(10)) AS raw_lines
            FROM (
                SELECT f.entry, list_sort(list({{'number': p.number, 'line': t.line}})) AS lines
                FROM fec_parsed p JOIN (SELECT * FROM fec_fe WHERE rejected) f ON {link}
                JOIN fec_text t ON t.number = p.number
                GROUP BY f.entry
            )
        ) r USING (entry)
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
    # The records hold their raw texts themselves.
    con.execute("CREATE OR REPLACE TEMP TABLE fec_texts (number BIGINT, line VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE fec_line_entries (number BIGINT, entry BIGINT)")
    con.execute("CREATE OR REPLACE TEMP TABLE fec_line_end (line_end VARCHAR)")


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)
