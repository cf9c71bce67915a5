"""`stage_fec` (connectors/fec_engine.py) gives the records `FecConnector.records()` gives.

Every FEC the other tests write (tests/fec_files.py, the bookkeeping scenarios, the
hypothesis ledgers of tests/test_fec_ledger_properties.py) and files of demo/fecgen.py are
read both ways and compared as sorted tuples of plain values; a broken file must raise the
same exception class with the same message.
"""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from fec_files import Line, fec_text, receipt, sale, write_fec
from hypothesis import HealthCheck, given, settings
from test_fec import (
    ADVANCE_THEN_INVOICE,
    LEDGER,
    _bytes_bad_amount,
    _bytes_bad_date,
    _bytes_bad_montant,
    _bytes_bad_sens,
    _bytes_iso_as_utf8,
    _bytes_missing_columns,
    _bytes_too_few_columns,
)
from test_fec_bookkeeping import INTERLEAVED, advance_ledger, fec_row
from test_fec_bookkeeping import write as write_rows
from test_fec_ledger_properties import Case, cases, fec_bytes

from encours.connectors import fec_engine
from encours.connectors.fec import COLUMNS, FecBounds, FecConnector
from encours.connectors.settings import parse_terms
from encours.demo.fecgen import FecSpec
from encours.demo.fecgen import write_fec as write_generated
from encours.model import Customer, LedgerLine, LedgerSale, PaymentTerms, Rejected, SourceBalance
from encours.sync.store.ledger import with_raw

Rows = dict[str, list[tuple[object, ...]]]


def connector(
    path: Path,
    *,
    terms: dict[str, str] | None = None,
    encoding: str = "auto",
    bounds: FecBounds | None = None,
) -> FecConnector:
    return FecConnector(
        "books",
        path,
        currency="EUR",
        default_terms=PaymentTerms.net(30),
        terms={code: parse_terms(value) for code, value in (terms or {}).items()},
        encoding=encoding,
        bounds=bounds,
    )


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):  # due lines
        return tuple((_plain(item["due_on"]), item["amount"]) for item in value)
    return value


def python_rows(source: FecConnector) -> Rows:
    """The reader's records as rows of the engine's tables (dates ISO, amounts in cents)."""
    rows: Rows = {table: [] for table in fec_engine.TABLES}
    for record in source.records():
        if isinstance(record, LedgerLine):
            rows["fec_lines"].append((*record[:7], tuple(record.due_lines), *record[8:]))
        elif isinstance(record, LedgerSale):
            rows["fec_sales"].append(tuple(record))
        elif isinstance(record, Customer):
            rows["fec_customers"].append(
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
            rows["fec_balances"].append(
                (
                    record.source,
                    record.external_id,
                    record.as_of.isoformat(),
                    record.amount.minor_units,
                    record.basis,
                )
            )
        else:
            assert isinstance(record, Rejected)
            rows["fec_rejected"].append(
                (record.source, record.stream, record.external_id, record.reason, record.raw)
            )
    return {table: sorted(found, key=repr) for table, found in rows.items()}


def engine_rows(source: FecConnector) -> Rows:
    con = duckdb.connect()
    try:
        fec_engine.stage_fec(con, source)
        return {
            table: sorted(
                (
                    tuple(_plain(value) for value in row)
                    for row in con.execute(f"SELECT * FROM {_read(table)}").fetchall()  # noqa: S608
                ),
                key=repr,
            )
            for table in fec_engine.TABLES
        }
    finally:
        con.close()


def _read(table: str) -> str:
    """The staged `table`; the records' raw texts filled in from the lines kept once."""
    if table in ("fec_lines", "fec_sales"):
        texts = (
            "(SELECT 'books' AS source, number, line, (SELECT line_end FROM fec_line_end) "
            "AS line_end FROM fec_texts)"
        )
        entries = "(SELECT 'books' AS source, number, entry FROM fec_line_entries)"
        return f"({with_raw(table, texts, entries)}) AS {table}"
    return table


def outcome(read: object, source: FecConnector) -> tuple[str, object]:
    try:
        return "rows", read(source)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the class and message are what is compared
        return type(exc).__name__, str(exc)


def assert_same(source: FecConnector) -> Rows:
    """Both readers agree on `source`; the engine's rows (or raises what both raise)."""
    expected = outcome(python_rows, source)
    found = outcome(engine_rows, source)
    assert found == expected
    return found[1]  # type: ignore[return-value]


# -- the hand-written files of tests/connectors/test_fec.py -----------------------------------


@pytest.mark.parametrize("separator", ["\t", "|"])
@pytest.mark.parametrize("signed", [False, True], ids=["debit-credit", "montant-sens"])
@pytest.mark.parametrize("ledger", [LEDGER, ADVANCE_THEN_INVOICE], ids=["ledger", "advance"])
def test_variants_and_separators(
    tmp_path: Path, separator: str, signed: bool, ledger: list[Line]
) -> None:
    path = write_fec(tmp_path / "books.fec", ledger, separator=separator, signed=signed)

    rows = assert_same(connector(path))

    assert rows["fec_lines"] and rows["fec_sales"] and rows["fec_balances"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "iso-8859-15", "cp1252"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    name = "Café Crème & Fils, Société à 5 € Œuvre"
    lines = sale("1", "20260110", "C001", name, "10,00", "2,00", "12,00")
    path = write_fec(tmp_path / "books.fec", lines, encoding=encoding)

    auto = encoding if encoding == "cp1252" else "auto"
    rows = assert_same(connector(path, encoding=auto))

    assert rows["fec_customers"][0][2] == name


AMOUNTS = [
    "3000,00",
    "000000000003000,00",
    "   3000,00",
    "3000,00   ",
    "3 000,00",
    "3000.00",
    "3000",
    "3000,0",
    "+3000,00",
    "3000,000",
    "-3000,00",
    "",
    "0,00",
]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("signed", [False, True], ids=["debit-credit", "montant-sens"])
def test_amount_formats(tmp_path: Path, amount: str, signed: bool) -> None:
    lines = [
        Line("VT", "1", "20260110", "411000", debit=amount, aux="C001", aux_label="Dupont"),
        Line("VT", "1", "20260110", "706000", credit=amount),
    ]
    assert_same(connector(write_fec(tmp_path / "books.fec", lines, signed=signed)))


def test_lettrage_terms_unbilled_doubtful_and_rejected(tmp_path: Path) -> None:
    lines = [
        *sale("1", "20260110", "C001", "Dupont", "1000,00", "200,00", "1200,00", let="ac"),
        *receipt("1", "20260201", "C001", "Dupont", "500,00", let="ac", date_let="20260201"),
        *receipt("2", "20260205", "C001", "Dupont", "100,00"),
        *sale("2", "20260110", "C003", "Petit", "833,34", "166,67", "1000,01"),
        *sale("3", "20260120", "C004", "Leroy", "100,00", "20,00", "120,00"),
        *sale("4", "20260111", "C002", "Martin", "100,00", "10,00", "120,00"),  # unbalanced
        Line("OD", "1", "20260131", "418100", debit="600,00", aux="C001", aux_label="Dupont"),
        Line("OD", "1", "20260131", "706000", credit="500,00"),
        Line("OD", "1", "20260131", "445870", credit="100,00"),
        Line("OD", "2", "20260131", "416000", debit="240,00", aux="C002", aux_label="Martin"),
        Line("OD", "2", "20260131", "411000", credit="240,00", aux="C002", aux_label="Martin"),
    ]
    path = write_fec(tmp_path / "books.fec", lines)
    terms = {"C003": "30% 0, 70% 60", "C004": "45 fin de mois", "C002": "60"}

    rows = assert_same(connector(path, terms=terms))

    assert len(rows["fec_rejected"]) == 1


def _bytes_long_field() -> bytes:
    rows = fec_text(sale("1", "20260110", "C001", "Dupont", "100,00", "20,00", "120,00"))
    return rows.replace("Dupont", "D" * 5000, 1).encode()


def _bytes_implausible() -> bytes:
    big = "1000000000000,00"
    return fec_text(sale("1", "20260110", "C001", "Dupont", big, "0,00", big)).encode()


def _bytes_bad_piece_date() -> bytes:
    text = fec_text(sale("1", "20260110", "C001", "Dupont", "100,00", "20,00", "120,00"))
    rows = text.split("\n")
    fields = rows[1].split("\t")
    fields[9] = "2026011"
    rows[1] = "\t".join(fields)
    return "\n".join(rows).encode()


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (_bytes_missing_columns, "auto"),
        (_bytes_bad_date, "auto"),
        (_bytes_bad_amount, "auto"),
        (_bytes_bad_montant, "auto"),
        (_bytes_bad_sens, "auto"),
        (_bytes_too_few_columns, "auto"),
        (_bytes_iso_as_utf8, "utf-8"),
        (lambda: b"", "auto"),
        (_bytes_long_field, "auto"),
        (_bytes_implausible, "auto"),
        (_bytes_bad_piece_date, "auto"),
    ],
    ids=[
        "missing-columns",
        "bad-date",
        "bad-amount",
        "bad-montant",
        "bad-sens",
        "too-few-columns",
        "iso-read-as-utf8",
        "empty",
        "long-field",
        "implausible",
        "bad-piece-date",
    ],
)
def test_broken_files_raise_the_same_error(tmp_path: Path, content: object, encoding: str) -> None:
    path = tmp_path / "books.fec"
    path.write_bytes(content())  # type: ignore[operator]

    kind, message = outcome(engine_rows, connector(path, encoding=encoding))

    assert kind == "DataError"
    assert (kind, message) == outcome(python_rows, connector(path, encoding=encoding))


def test_a_line_too_long_and_an_entry_too_large(tmp_path: Path) -> None:
    lines = [Line("VT", "1", "20260110", "706000", credit="1,00") for _ in range(12)]
    path = write_fec(tmp_path / "books.fec", lines)
    bounds = FecBounds(line_bytes=300, field_bytes=100, entry_lines=10)
    assert outcome(engine_rows, connector(path, bounds=bounds))[0] == "DataError"
    assert_same(connector(path, bounds=bounds))
    wide = [Line("VT", "1", "20260110", "706000", label="x" * 90) for _ in range(4)]
    long_line = write_fec(tmp_path / "long.fec", wide)
    assert_same(connector(long_line, bounds=FecBounds(line_bytes=120, field_bytes=100)))


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    source = connector(tmp_path / "absent.fec")

    assert outcome(engine_rows, source) == outcome(python_rows, source)
    assert outcome(engine_rows, source)[0] == "ConfigError"


# -- the bookkeeping scenarios of tests/test_fec_bookkeeping.py -------------------------------

REPEATED = [
    fec_row("VT", "0", "20250110", "411000", "120,00", aux="C1", piece="F1"),
    fec_row("VT", "0", "20250110", "706000", credit="120,00", piece="F1"),
    fec_row("BQ", "0", "20250115", "512000", "120,00", piece="P1"),
    fec_row("BQ", "0", "20250115", "411000", credit="120,00", aux="C1", piece="P1"),
    fec_row("VT", "0", "20250110", "411000", "300,00", aux="C1", piece="F2"),
    fec_row("VT", "0", "20250110", "706000", credit="300,00", piece="F2"),
]
UNBALANCED_INTERLEAVED = [
    fec_row("VT", "1", "20250110", "411000", "120,00", aux="C1", piece="F1"),
    fec_row("VT", "2", "20250111", "411000", "240,00", aux="C2", piece="F2"),
    fec_row("VT", "1", "20250110", "706000", credit="100,00", piece="F1"),
    fec_row("VT", "2", "20250111", "706000", credit="240,00", piece="F2"),
    fec_row("AC", "1", "20250112", "411000", "50,00", aux="C3", piece="X1"),
    fec_row("AC", "1", "20250112", "706000", credit="40,00", piece="X1"),
]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r", "\r\r\n"], ids=["LF", "CRLF", "CR", "CRCRLF"])
@pytest.mark.parametrize(
    "rows",
    [
        INTERLEAVED,
        UNBALANCED_INTERLEAVED,
        REPEATED,
        advance_ledger(lettered_on_4191=True),
        advance_ledger(lettered_on_4191=False),
    ],
    ids=["interleaved", "unbalanced", "repeated", "advance-lettered", "advance"],
)
def test_bookkeeping_scenarios_with_every_line_end(
    tmp_path: Path, rows: list[str], end: str
) -> None:
    write_rows(tmp_path, rows, end=end)

    assert_same(connector(tmp_path / "books.fec"))


def test_mixed_line_ends_and_blank_lines(tmp_path: Path) -> None:
    header = "\t".join(COLUMNS)
    text = header + "\r\n" + INTERLEAVED[0] + "\n\n   \n" + "\r\n".join(INTERLEAVED[1:]) + "\r\n"
    path = tmp_path / "books.fec"
    path.write_bytes(text.encode())

    assert_same(connector(path))


# -- demo/fecgen.py ---------------------------------------------------------------------------


@pytest.mark.parametrize(("invoices", "seed"), [(0, 1), (50, 7), (300, 2026), (2000, 11)])
def test_generated_ledgers(tmp_path: Path, invoices: int, seed: int) -> None:
    spec = FecSpec(invoices=invoices, customers=max(3, invoices // 40), seed=seed)
    path = tmp_path / "books.fec"
    with path.open("w", encoding="utf-8", newline="\n") as out:
        write_generated(out, spec)
    terms = {"C0001": "30% 0, 70% 60", "C0002": "45 fin de mois", "C0003": "60"}

    rows = assert_same(connector(path, terms=terms))

    assert len(rows["fec_customers"]) <= spec.customers


@pytest.mark.slow
def test_a_large_generated_ledger(tmp_path: Path) -> None:
    spec = FecSpec(invoices=100_000, customers=500, open_share=Decimal("0.2"))
    path = tmp_path / "books.fec"
    with path.open("w", encoding="utf-8", newline="\n") as out:
        write_generated(out, spec)

    assert_same(connector(path))


# -- the hypothesis ledgers of tests/test_fec_ledger_properties.py ----------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_every_generated_ledger_reads_the_same(case: Case) -> None:
    terms = {c.key: c.terms for c in case.clients if c.terms is not None}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "books.fec"
        path.write_bytes(fec_bytes(case.lines, case.shape))
        source = connector(path, terms={key: str(value) for key, value in terms.items()})

        assert_same(source)
