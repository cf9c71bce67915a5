"""The FEC connector over small files written by hand (see tests/fec_files.py).

What the FEC says, read back as records: both column variants, both separators, the three
encodings, every amount format; lettrage to `match_ref`; payment terms to due lines; advances,
credit notes, unbilled and doubtful accounts; unbalanced entries to quarantine; broken files to
a `DataError` naming file, line and column; and, through a whole sync, that a file which breaks
on its last line leaves the store exactly as it was.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fec_files import Line, fec_text, receipt, sale, write_fec
from store_tables import dump

from encours.connectors.fec import FecConnector, _sniff_encoding
from encours.connectors.settings import parse_terms
from encours.errors import DataError
from encours.metrics.outstanding import AgedBalance
from encours.model import InvoiceKind, LedgerLine, LedgerSale, PaymentTerms
from encours.sync import store as store_module
from encours.sync.config import Settings, load_settings
from encours.sync.figures import compute_figures
from encours.sync.run import EXIT_DATA, EXIT_OK, run_sync
from encours.sync.store import Store

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


def connector(
    path: Path, *, terms: dict[str, str] | None = None, encoding: str = "auto"
) -> FecConnector:
    return FecConnector(
        "books",
        path,
        currency="EUR",
        default_terms=PaymentTerms.net(30),
        terms={code: parse_terms(value) for code, value in (terms or {}).items()},
        encoding=encoding,
    )


def read(path: Path, **options: object) -> list[object]:
    return list(connector(path, **options).records())  # type: ignore[arg-type]


CREDIT_NAMES = {"payment": "Payment", "credit_note": "CreditNote", "advance": "Advance"}


def name_of(record: object) -> str:
    """What a record stands for: a ledger line with due lines is an invoice, else a credit."""
    if isinstance(record, LedgerLine):
        return "Invoice" if record.due_lines else CREDIT_NAMES[record.kind]
    if isinstance(record, LedgerSale):
        return "Sale"
    return type(record).__name__


def only(records: list[object], name: str) -> list:  # type: ignore[type-arg]
    return [record for record in records if name_of(record) == name]


def cents(record: LedgerLine | LedgerSale) -> int:
    return record.amount


def due(invoice: LedgerLine) -> list[tuple[date, int]]:
    return [(date.fromisoformat(day), amount) for day, amount in invoice.due_lines]


def dumps(records: list[object]) -> list[dict[str, object]]:
    """Records without their raw line, which differs between variants by design."""
    return [
        {"type": name_of(r), **(r._asdict() if isinstance(r, tuple) else r.model_dump())}  # type: ignore[attr-defined]
        | {"raw": None}
        for r in records
    ]


# A small ledger touching every kind of record, used by several tests.
LEDGER = [
    *sale(
        "1",
        "20260110",
        "C001",
        "Dupont SA",
        "1000,00",
        "200,00",
        "1200,00",
        let="AB",
        date_let="20260215",
    ),
    *receipt("1", "20260215", "C001", "Dupont SA", "1200,00", let="AB", date_let="20260215"),
    Line("VT", "2", "20260120", "706000", debit="100,00", piece="AV2"),
    Line("VT", "2", "20260120", "445710", debit="20,00", piece="AV2"),
    Line(
        "VT",
        "2",
        "20260120",
        "411000",
        credit="120,00",
        aux="C002",
        aux_label="Martin",
        piece="AV2",
    ),
    *receipt("2", "20260125", "C002", "Martin", "300,00", account="419100", piece="CMD7"),
]


# -- variants, separators, encodings, amounts --------------------------------------------------


@pytest.mark.parametrize("separator", ["\t", "|"])
@pytest.mark.parametrize("signed", [False, True], ids=["debit-credit", "montant-sens"])
def test_variants_and_separators_give_the_same_records(
    tmp_path: Path, separator: str, signed: bool
) -> None:
    reference = read(write_fec(tmp_path / "reference.fec", LEDGER))
    path = write_fec(tmp_path / "books.fec", LEDGER, separator=separator, signed=signed)

    records = read(path)

    assert dumps(records) == dumps(reference)
    assert [name_of(r) for r in records] == [
        "Customer",
        "Invoice",
        "Sale",  # VT 1
        "Payment",  # BQ 1
        "Customer",
        "CreditNote",
        "Sale",  # VT 2
        "Advance",  # BQ 2
        "SourceBalance",  # C001's ledger balance
        "SourceBalance",  # C002's
    ]
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert ("Montant" in header.split(separator)) is signed
    assert header.count(separator) == 17


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "iso-8859-15"])
def test_every_encoding_reads_to_the_same_names_with_auto(tmp_path: Path, encoding: str) -> None:
    name = "Café Crème & Fils, Société à 5 €"
    lines = sale("1", "20260110", "C001", name, "10,00", "2,00", "12,00")
    path = write_fec(tmp_path / "books.fec", lines, encoding=encoding)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") is (encoding == "utf-8-sig")
    assert (b"\xa4" in data and b"\xe9" in data) is (encoding == "iso-8859-15")  # € and é

    (customer,) = only(read(path, encoding="auto"), "Customer")

    assert customer.name == name


def test_a_small_iso_file_is_iso_even_when_its_only_accent_is_at_the_very_end(
    tmp_path: Path,
) -> None:
    # A whole file is never "a character cut at the end of the sample".
    path = tmp_path / "books.fec"
    path.write_bytes(b"JournalCode\tCompAuxLib\nVT\tFr\xe8re\n")

    assert _sniff_encoding(path) == "iso-8859-15"


@pytest.mark.parametrize(
    "amount",
    [
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
    ],
)
@pytest.mark.parametrize("signed", [False, True], ids=["debit-credit", "montant-sens"])
def test_amount_formats_all_read_to_the_same_cents(
    tmp_path: Path, amount: str, signed: bool
) -> None:
    lines = [
        Line("VT", "1", "20260110", "411000", debit=amount, aux="C001", aux_label="Dupont"),
        Line("VT", "1", "20260110", "706000", credit=amount),
    ]
    records = read(write_fec(tmp_path / "books.fec", lines, signed=signed))

    (invoice,) = only(records, "Invoice")
    (sale_,) = only(records, "Sale")
    assert cents(invoice) == cents(sale_) == 300_000


def test_a_negative_debit_is_a_credit(tmp_path: Path) -> None:
    lines = [
        Line("VT", "1", "20260110", "706000", credit="-100,00"),
        Line("VT", "1", "20260110", "411000", debit="-100,00", aux="C001", aux_label="Dupont"),
    ]
    records = read(write_fec(tmp_path / "books.fec", lines))

    (note,) = only(records, "CreditNote")
    (sale_,) = only(records, "Sale")
    assert cents(note) == 10_000 and cents(sale_) == -10_000


# -- lettrage ----------------------------------------------------------------------------------


def test_full_lettrage_gives_the_same_match_ref_and_the_match_date(tmp_path: Path) -> None:
    records = read(write_fec(tmp_path / "books.fec", LEDGER))

    (invoice,) = only(records, "Invoice")
    (payment,) = only(records, "Payment")
    assert invoice.match_ref == payment.match_ref == "411000:AB"  # account + code
    assert invoice.matched_on == payment.matched_on == "2026-02-15"
    assert cents(invoice) - cents(payment) == 0  # the group balances


def test_partial_lettrage_keeps_the_code_on_a_group_that_does_not_balance(tmp_path: Path) -> None:
    lines = [
        *sale("1", "20260110", "C001", "Dupont", "1000,00", "200,00", "1200,00", let="ac"),
        *receipt("1", "20260201", "C001", "Dupont", "500,00", let="ac"),
        *receipt("2", "20260205", "C001", "Dupont", "100,00"),  # not lettered: open
    ]
    records = read(write_fec(tmp_path / "books.fec", lines))

    (invoice,) = only(records, "Invoice")
    lettered, open_ = only(records, "Payment")
    assert invoice.match_ref == lettered.match_ref == "411000:ac"
    assert invoice.matched_on is lettered.matched_on is None  # no DateLet given
    assert cents(invoice) - cents(lettered) == 70_000  # the group does not balance
    assert open_.match_ref is None and open_.matched_on is None


def test_lettrage_settles_as_of_the_match_date_end_to_end(tmp_path: Path) -> None:
    settings = configure(tmp_path)
    lines = [
        *LEDGER[:5],  # C001: invoice 1 200,00 lettered AB with its payment on 15 Feb
        *sale("3", "20260110", "C003", "Petit", "1000,00", "200,00", "1200,00", let="ac"),
        *receipt("3", "20260201", "C003", "Petit", "500,00", let="ac"),
    ]
    write_fec(tmp_path / "books.fec", lines)

    assert run_sync(settings, as_of=date(2026, 2, 20), now=NOW).exit_code == EXIT_OK

    before, after = aged(settings, date(2026, 2, 14)), aged(settings, date(2026, 2, 20))
    assert before["C001"].outstanding == 120_000 and after["C001"].outstanding == 0
    assert after["C003"].outstanding == 70_000 and after["C003"].unapplied == 0


# -- payment terms -----------------------------------------------------------------------------


def test_instalments_split_an_invoice_into_due_lines_that_add_up_to_the_cent(
    tmp_path: Path,
) -> None:
    lines = sale("1", "20260110", "C003", "Petit", "833,34", "166,67", "1000,01")
    records = read(write_fec(tmp_path / "books.fec", lines), terms={"C003": "30% 0, 70% 60"})

    (invoice,) = only(records, "Invoice")
    assert due(invoice) == [
        (date(2026, 1, 10), 30_000),  # 30 % of 100 001 cents, rounded down
        (date(2026, 3, 11), 70_001),  # 60 days later, takes the rest
    ]
    assert sum(amount for _, amount in invoice.due_lines) == cents(invoice) == 100_001
    assert invoice.due_date_assumed is False


def test_45_days_end_of_month(tmp_path: Path) -> None:
    lines = sale("1", "20260120", "C004", "Leroy", "100,00", "20,00", "120,00")
    records = read(write_fec(tmp_path / "books.fec", lines), terms={"C004": "45 fin de mois"})

    (customer,) = only(records, "Customer")
    (invoice,) = only(records, "Invoice")
    assert [day for day, _ in due(invoice)] == [date(2026, 3, 31)]  # 6 Mar -> month end
    assert (customer.payment_terms_days, customer.terms_end_of_month) == (45, True)


def test_default_terms_are_flagged_assumed_and_customer_terms_are_not(tmp_path: Path) -> None:
    lines = [
        *sale("1", "20260110", "C001", "Dupont", "100,00", "20,00", "120,00"),
        *sale("2", "20260110", "C002", "Martin", "100,00", "20,00", "120,00"),
    ]
    records = read(write_fec(tmp_path / "books.fec", lines), terms={"C002": "60"})

    default, agreed = only(records, "Invoice")
    assert (default.customer_id, default.due_date_assumed) == ("C001", True)
    assert [day for day, _ in due(default)] == [date(2026, 2, 9)]  # 30 days
    assert (agreed.customer_id, agreed.due_date_assumed) == ("C002", False)
    assert [day for day, _ in due(agreed)] == [date(2026, 3, 11)]  # 60 days


# -- what each account and entry becomes -------------------------------------------------------

ADVANCE_THEN_INVOICE = [
    # 5 Jan: 300,00 deposit on order CMD42, on 4191.
    *receipt(
        "1",
        "20260105",
        "C001",
        "Dupont",
        "300,00",
        account="419100",
        piece="CMD42",
        let="A",
        date_let="20260201",
    ),
    # 1 Feb: the invoice of 1 200,00 TTC...
    *sale("2", "20260201", "C001", "Dupont", "1000,00", "200,00", "1200,00", piece="F2", let="b"),
    # ... and the deposit moved from 4191 onto it (lettered on both accounts).
    Line(
        "OD",
        "3",
        "20260201",
        "419100",
        debit="300,00",
        aux="C001",
        aux_label="Dupont",
        piece="F2",
        let="A",
        date_let="20260201",
    ),
    Line(
        "OD",
        "3",
        "20260201",
        "411000",
        credit="300,00",
        aux="C001",
        aux_label="Dupont",
        piece="F2",
        let="b",
    ),
]


def test_advance_invoice_and_transfer_records(tmp_path: Path) -> None:
    records = read(write_fec(tmp_path / "books.fec", ADVANCE_THEN_INVOICE))

    assert [name_of(r) for r in records] == [
        "Customer",
        "Advance",
        "Invoice",
        "Sale",
        "Invoice",
        "Payment",
        "SourceBalance",
    ]
    _, advance, invoice, sale_, transfer_debit, transfer_credit, _ = records
    assert advance.kind == "advance" and advance.reference == "CMD42" and cents(advance) == 30_000
    assert advance.match_ref == transfer_debit.match_ref == "419100:A"
    assert (invoice.kind, cents(invoice), invoice.match_ref) == (
        InvoiceKind.INVOICE,
        120_000,
        "411000:b",
    )
    assert cents(sale_) == 120_000
    # The 4191 debit uses the advance up: it is no invoice (DOMAIN, FEC).
    assert transfer_debit.kind == InvoiceKind.ADVANCE_USE and cents(transfer_debit) == 30_000
    assert not transfer_debit.due_date_assumed  # nothing falls due on an advance used up
    assert name_of(transfer_credit) == "Payment" and transfer_credit.match_ref == "411000:b"


def test_advance_lowers_the_outstanding_then_settles_its_invoice_end_to_end(
    tmp_path: Path,
) -> None:
    settings = configure(tmp_path)
    write_fec(tmp_path / "books.fec", ADVANCE_THEN_INVOICE)

    assert run_sync(settings, as_of=date(2026, 2, 15), now=NOW).exit_code == EXIT_OK

    before = aged(settings, date(2026, 1, 20))["C001"]
    assert (before.outstanding, before.unapplied) == (-30_000, 30_000)
    after = aged(settings, date(2026, 2, 15))["C001"]
    assert after.outstanding == 120_000 - 30_000
    assert after.unapplied == 0 and after.not_due == 90_000 and after.overdue == 0


def test_sales_invoice_and_credit_note(tmp_path: Path) -> None:
    records = read(write_fec(tmp_path / "books.fec", LEDGER))

    invoice_sale, note_sale = only(records, "Sale")
    (invoice,) = only(records, "Invoice")
    (note,) = only(records, "CreditNote")
    assert (invoice.customer_id, invoice.kind, invoice.reference) == (
        "C001",
        InvoiceKind.INVOICE,
        "F1",
    )
    assert invoice_sale.customer_id == "C001"
    assert cents(invoice_sale) == 100_000 + 20_000 == cents(invoice)  # TTC = HT + VAT
    assert (note.customer_id, note.reference, cents(note)) == ("C002", "AV2", 12_000)
    assert (note_sale.customer_id, cents(note_sale)) == ("C002", -12_000)


def test_unbilled_and_doubtful_accounts(tmp_path: Path) -> None:
    lines = [
        Line("OD", "1", "20260131", "418100", debit="600,00", aux="C001", aux_label="Dupont"),
        Line("OD", "1", "20260131", "706000", credit="500,00"),
        Line("OD", "1", "20260131", "445870", credit="100,00"),
        Line("OD", "2", "20260131", "416000", debit="240,00", aux="C002", aux_label="Martin"),
        Line("OD", "2", "20260131", "411000", credit="240,00", aux="C002", aux_label="Martin"),
    ]
    records = read(write_fec(tmp_path / "books.fec", lines))

    unbilled, doubtful = only(records, "Invoice")
    assert unbilled.kind == InvoiceKind.UNBILLED and not unbilled.is_doubtful
    assert [day for day, _ in due(unbilled)] == [date(2026, 1, 31)]
    assert doubtful.is_doubtful and doubtful.customer_id == "C002"
    (sale_,) = only(records, "Sale")
    assert cents(sale_) == 60_000  # VAT on invoices to issue (44587) counts too


def test_an_unbalanced_entry_is_rejected_and_the_rest_is_read(tmp_path: Path) -> None:
    lines = [
        *sale("1", "20260110", "C001", "Dupont", "100,00", "20,00", "120,00"),
        *sale("2", "20260111", "C002", "Martin", "100,00", "10,00", "120,00"),  # lines 5-7
        *sale("3", "20260112", "C003", "Petit", "100,00", "20,00", "120,00"),
    ]
    records = read(write_fec(tmp_path / "books.fec", lines))

    (rejected,) = only(records, "Rejected")
    assert rejected.external_id == "VT/2" and rejected.stream == "entries"
    assert "entry VT/2" in rejected.reason and "lines 5-7" in rejected.reason
    assert "does not balance" in rejected.reason
    assert len(rejected.raw.splitlines()) == 3
    assert [i.customer_id for i in only(records, "Invoice")] == ["C001", "C003"]


# -- broken files ------------------------------------------------------------------------------

GOOD = sale("1", "20260110", "C001", "Dupont", "100,00", "20,00", "120,00")


def _replace_field(text: str, line: int, column: int, value: str) -> str:
    rows = text.split("\n")
    fields = rows[line - 1].split("\t")
    fields[column] = value
    rows[line - 1] = "\t".join(fields)
    return "\n".join(rows)


def _bytes_missing_columns() -> bytes:
    rows = fec_text(GOOD).split("\n")
    rows[0] = rows[0].replace("\tEcritureLet\tDateLet", "")
    return "\n".join(rows).encode()


def _bytes_bad_date() -> bytes:
    return _replace_field(fec_text(GOOD), 3, 3, "20261345").encode()


def _bytes_bad_amount() -> bytes:
    return _replace_field(fec_text(GOOD), 2, 11, "12,3x").encode()


def _bytes_bad_montant() -> bytes:
    text = fec_text(GOOD, signed=True)
    return _replace_field(text, 4, 11, "1O,00").encode()


def _bytes_bad_sens() -> bytes:
    return _replace_field(fec_text(GOOD, signed=True), 3, 12, "X").encode()


def _bytes_too_few_columns() -> bytes:
    rows = fec_text(GOOD).split("\n")
    rows[3] = "\t".join(rows[3].split("\t")[:9])
    return "\n".join(rows).encode()


def _bytes_iso_as_utf8() -> bytes:
    lines = [*GOOD, *sale("2", "20260111", "C002", "Société Martin", "10,00", "2,00", "12,00")]
    return fec_text(lines).encode("iso-8859-15")  # é first on line 4: "TVA collectée"


@pytest.mark.parametrize(
    ("content", "encoding", "expected"),
    [
        (_bytes_missing_columns, "auto", ["line 1", "EcritureLet", "DateLet"]),
        (_bytes_bad_date, "auto", ["line 3", "column EcritureDate", "20261345"]),
        (_bytes_bad_amount, "auto", ["line 2", "column Debit", "12,3x"]),
        (_bytes_bad_montant, "auto", ["line 4", "column Montant", "1O,00"]),
        (_bytes_bad_sens, "auto", ["line 3", "column Sens", "'X'"]),
        (_bytes_too_few_columns, "auto", ["line 4", "9 columns", "18"]),
        (_bytes_iso_as_utf8, "utf-8", ["line 4", "column CompteLib", "utf-8", "iso-8859-15"]),
        (lambda: b"", "auto", ["line 1"]),
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
    ],
)
def test_a_broken_file_raises_a_data_error_naming_file_line_and_column(
    tmp_path: Path, content: object, encoding: str, expected: list[str]
) -> None:
    path = tmp_path / "books.fec"
    path.write_bytes(content())  # type: ignore[operator]

    with pytest.raises(DataError) as raised:
        read(path, encoding=encoding)

    message = str(raised.value)
    assert str(path) in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize("content", [_bytes_missing_columns, lambda: b""], ids=["columns", "empty"])
def test_check_refuses_a_file_without_a_usable_header(tmp_path: Path, content: object) -> None:
    path = tmp_path / "books.fec"
    path.write_bytes(content())  # type: ignore[operator]

    with pytest.raises(DataError, match="line 1"):
        connector(path).check()


# -- end to end: nothing half-written ----------------------------------------------------------

TABLES = ("invoices", "credits", "customers", "sales", "due_lines", "allocations", "cursors")


def configure(tmp_path: Path, extra: str = "") -> Settings:
    config = tmp_path / "encours.toml"
    config.write_text(
        '[company]\ncurrency = "EUR"\n'
        '[store]\npath = "s.sqlite"\n'
        '[sources.books]\ntype = "fec"\npath = "books.fec"\n'
        + extra
        + '[targets.file]\ntype = "file"\npath = "out.json"\n',
        encoding="utf-8",
    )
    return load_settings(config)


def aged(settings: Settings, as_of: date) -> dict[str, AgedBalance]:
    store = Store.open(settings.store.path)
    try:
        figures = compute_figures(store, settings, as_of)
    finally:
        store.close()
    return {c.customer_id: c.figures.aged for c in figures.customers}


def table_rows(database: Path) -> dict[str, list[tuple[object, ...]]]:
    tables = dump(database)
    return {table: tables[table] for table in TABLES}


def _with_bad_last_line(lines: list[Line]) -> list[Line]:
    """The good ledger grown by a new customer's entries, the very last line a bad amount."""
    return [
        *lines,
        *sale("9", "20260220", "C009", "Nouveau", "100,00", "20,00", "120,00"),
        Line("BQ", "9", "20260221", "512000", debit="12,30"),
        Line("BQ", "9", "20260221", "411000", credit="12,3x", aux="C009", aux_label="Nouveau"),
    ]


@pytest.mark.parametrize("batch_rows", [None, 1], ids=["default-batches", "row-by-row"])
def test_a_file_broken_on_its_last_line_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int | None
) -> None:
    if batch_rows is not None:  # rows reach SQLite before the error: the rollback must undo them
        monkeypatch.setattr(store_module, "BATCH_ROWS", batch_rows, raising=False)
    settings = configure(tmp_path, 'payment_terms = { C003 = "30% 0, 70% 60" }\n')
    good = [*LEDGER, *sale("4", "20260115", "C003", "Petit", "833,34", "166,67", "1000,01")]
    write_fec(tmp_path / "books.fec", good)
    first = run_sync(settings, as_of=date(2026, 2, 28), now=NOW)
    assert first.exit_code == EXIT_OK
    stored = table_rows(settings.store.path)
    assert all(stored[table] for table in TABLES)  # the check below compares something

    bad = write_fec(tmp_path / "books.fec", _with_bad_last_line(good))
    second = run_sync(settings, as_of=date(2026, 2, 28), now=NOW)

    (outcome,) = second.sources
    assert second.exit_code == EXIT_DATA == 65
    assert outcome.status == "failed" and outcome.exit_code == EXIT_DATA
    last_line = len(bad.read_text(encoding="utf-8").splitlines())
    assert outcome.error is not None
    assert str(bad) in outcome.error and f"line {last_line}," in outcome.error
    assert "column Credit" in outcome.error
    assert table_rows(settings.store.path) == stored


def test_a_bad_file_on_the_first_run_leaves_the_store_empty(tmp_path: Path) -> None:
    settings = configure(tmp_path)
    write_fec(tmp_path / "books.fec", _with_bad_last_line(LEDGER))

    summary = run_sync(settings, as_of=date(2026, 2, 28), now=NOW)

    assert summary.exit_code == EXIT_DATA
    assert table_rows(settings.store.path) == {table: [] for table in TABLES}


def test_a_re_exported_file_with_a_changed_invoice_is_read_again(tmp_path: Path) -> None:
    settings = configure(tmp_path)
    write_fec(
        tmp_path / "books.fec",
        sale("1", "20260110", "C001", "Dupont", "1000,00", "200,00", "1200,00"),
    )
    assert run_sync(settings, as_of=date(2026, 2, 28), now=NOW).exit_code == EXIT_OK

    write_fec(
        tmp_path / "books.fec",
        sale("1", "20260110", "C001", "Dupont", "2000,00", "400,00", "2400,00"),
    )
    assert run_sync(settings, as_of=date(2026, 2, 28), now=NOW).exit_code == EXIT_OK

    assert aged(settings, date(2026, 2, 28))["C001"].outstanding == 240_000


def test_a_file_of_the_same_size_and_time_is_not_even_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_fec(tmp_path / "ledger.txt", LEDGER)
    source = connector(path)
    position = source.pull(None).position()

    with monkeypatch.context() as patched:
        patched.setattr(FecConnector, "fingerprint", lambda _: pytest.fail("the file was hashed"))
        assert source.pull(position).unchanged

    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # touched, the same bytes
    touched = source.pull(position)
    assert touched.unchanged and touched.position() != position

    path.write_bytes(path.read_bytes().replace(b"1200,00", b"1300,00", 1))  # another export
    changed = source.pull(touched.position())
    assert not changed.unchanged and changed.replace_all

    path.write_bytes(path.read_bytes() + path.read_bytes().splitlines(keepends=True)[-1])
    grown = source.pull(changed.position())  # another size: hashed while it is read
    status = path.stat()
    assert not grown.unchanged and grown.replace_all
    assert grown.position() == f"{status.st_size}:{status.st_mtime_ns}:{source.fingerprint()}"
