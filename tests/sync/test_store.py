"""The store: migrations, the 0.1 upgrade, file mode, currencies, merges and deletions.

Every test taking `store` (or `store_url`) runs on the embedded DuckDB file and on PostgreSQL.
"""

from __future__ import annotations

import gzip
import shutil
import stat
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from encours.errors import StateError
from encours.model import (
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    SourceBalance,
    SourceRecord,
)
from encours.sync.store import Store
from encours.sync.store.schema import MIGRATIONS

NOW = datetime(2026, 3, 1, 3, tzinfo=UTC)
DAY = date(2026, 1, 10)


def invoice(
    external_id: str, amount: str, currency: str = "EUR", rate: str | None = None
) -> Invoice:
    total = Money(amount=Decimal(amount), currency=currency)
    return Invoice(
        source="books",
        external_id=external_id,
        customer_id="C1",
        issued_on=DAY,
        total=total,
        due_lines=(DueLine(due_on=date(2026, 2, 9), amount=total),),
        exchange_rate=None if rate is None else Decimal(rate),
    )


def write(
    store: Store, records: list[SourceRecord], *, replace_all: bool = True
) -> tuple[int, int, int]:
    with store.transaction():
        run_id = store.start_run(DAY, NOW)
        counts = store.write_records(
            "books", records, company_currency="EUR", run_id=run_id, replace_all=replace_all
        )
    return counts.written, counts.quarantined, counts.deleted


@pytest.fixture
def store(tmp_path: Path, store_url: str | None) -> Store:
    opened = Store.open(tmp_path / "s.sqlite", url=store_url)
    yield opened  # type: ignore[misc]
    opened.close()


def test_a_new_store_is_migrated_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "deep" / "s.sqlite")
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert stat.S_IMODE((tmp_path / "deep" / "s.sqlite").stat().st_mode) == 0o600
    finally:
        store.close()


def test_a_store_from_a_newer_encours_is_refused(tmp_path: Path, store_url: str | None) -> None:
    path = tmp_path / "s.sqlite"
    store = Store.open(path, url=store_url)
    store.db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS) + 1,))
    store.close()
    with pytest.raises(StateError, match="newer encours"):
        Store.open(path, url=store_url)


def test_a_failing_migration_leaves_the_store_as_it_was(store: Store) -> None:
    write(store, [invoice("F1", "100.00")])
    before = store.db.execute("SELECT * FROM invoices").fetchall()
    broken = (*MIGRATIONS, "CREATE TABLE extra (x INTEGER); INSERT INTO nowhere VALUES (1);")

    with pytest.raises(StateError, match=f"migration {len(MIGRATIONS) + 1} .* unchanged"):
        store.migrate(broken)

    assert store.schema_version == len(MIGRATIONS)
    assert (
        store.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name = 'extra'"
        ).fetchone()
        is None
    )
    assert store.db.execute("SELECT * FROM invoices").fetchall() == before


LEGACY = Path(__file__).parent.parent / "data" / "legacy"


def test_a_store_written_by_0_1_is_upgraded_on_first_open_keeping_everything(
    tmp_path: Path,
) -> None:
    """The fixture is a 0.1 store (SQLite, schema 3) that 0.1's own `encours sync` wrote.

    It synced tests/data/legacy/books.fec as of 2026-10-31 (file target pushed); a match to
    CRM record 42 was then added, as a HubSpot run would have.
    """
    path = tmp_path / "encours.sqlite"
    with gzip.open(LEGACY / "store-0.1.sqlite.gz") as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)

    store = Store.open(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert store.cursor("books", "position") is not None  # the next run reads nothing
        assert sum(len(fields) for fields in store.last_pushed("file").values()) == 48
        assert store.matches() == [("crm", "books:C0001", "42", "matched", "siren")]
        counts = {
            table: store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("invoices", "due_lines", "credits", "allocations", "snapshots", "runs")
        }
        assert counts == {
            "invoices": 66,
            "due_lines": 66,
            "credits": 61,
            "allocations": counts["allocations"],
            "snapshots": 7,
            "runs": 1,
        }
        assert counts["allocations"] > 0
        assert store.start_run(DAY, NOW) == 2  # run ids go on from 0.1's
    finally:
        store.close()
    assert (tmp_path / "encours.sqlite.0.1-sqlite").exists()  # the old file, kept


def test_foreign_currency_is_converted_with_the_document_rate(store: Store) -> None:
    written, quarantined, _ = write(store, [invoice("F1", "100.00", "USD", rate="0.9150")])

    assert (written, quarantined) == (1, 0)
    total, currency, in_currency, rate = store.db.execute(
        "SELECT total, currency, total_in_currency, exchange_rate FROM invoices"
    ).fetchone()
    assert (total, currency, in_currency, rate) == (9150, "USD", "100.00", "0.9150")
    assert store.db.execute("SELECT SUM(amount) FROM due_lines").fetchone()[0] == 9150


def test_instalments_converted_still_add_up_to_the_converted_total(store: Store) -> None:
    total = Money(amount=Decimal("100.01"), currency="USD")
    halves = (
        DueLine(due_on=date(2026, 2, 1), amount=Money(amount=Decimal("50.00"), currency="USD")),
        DueLine(due_on=date(2026, 3, 1), amount=Money(amount=Decimal("50.01"), currency="USD")),
    )
    record = Invoice(
        source="books",
        external_id="F2",
        customer_id="C1",
        issued_on=DAY,
        total=total,
        due_lines=halves,
        exchange_rate=Decimal("0.3333"),
    )
    write(store, [record])

    (converted,) = store.db.execute("SELECT total FROM invoices").fetchone()
    assert converted == 3333  # 100.01 × 0.3333 = 33.333333 -> 33.33
    assert store.db.execute("SELECT SUM(amount) FROM due_lines").fetchone()[0] == converted


def test_a_document_without_a_rate_is_quarantined_not_guessed(store: Store) -> None:
    written, quarantined, _ = write(store, [invoice("F1", "100.00", "USD"), invoice("F2", "50.00")])

    assert (written, quarantined) == (1, 1)
    ((stream, external_id, reason),) = store.db.execute(
        "SELECT stream, external_id, reason FROM quarantine"
    ).fetchall()
    assert (stream, external_id) == ("invoice", "F1")
    assert "no exchange rate" in reason and "never guesses" in reason


def test_writing_the_same_records_again_changes_nothing(store: Store) -> None:
    records: list[SourceRecord] = [
        Customer(source="books", external_id="C1", name="Dupont"),
        invoice("F1", "100.00"),
        Payment(
            source="books",
            external_id="P1",
            customer_id="C1",
            on=DAY,
            amount=Money(amount=Decimal("40.00"), currency="EUR"),
        ),
    ]
    write(store, records)
    tables = ("customers", "invoices", "due_lines", "credits", "quarantine")
    before = {t: store.db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}  # noqa: S608

    written, _, deleted = write(store, records)

    assert (written, deleted) == (3, 0)
    after = {t: store.db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}  # noqa: S608
    assert after == before


def test_a_full_read_deletes_what_the_source_no_longer_has(store: Store) -> None:
    write(store, [invoice("F1", "100.00"), invoice("F2", "50.00")])
    store.db.execute("DELETE FROM dirty_customers")

    _, _, deleted = write(store, [invoice("F1", "100.00")])

    assert deleted == 1
    assert store.db.execute("SELECT external_id FROM invoices").fetchall() == [("F1",)]
    assert store.db.execute("SELECT invoice_id FROM due_lines").fetchall() == [("F1",)]
    assert store.dirty_customers() == [("books", "C1")]


def test_an_invoice_with_fewer_due_lines_than_before_loses_the_extra_ones(store: Store) -> None:
    total = Money(amount=Decimal("100.00"), currency="EUR")
    half = Money(amount=Decimal("50.00"), currency="EUR")
    two = Invoice(
        source="books",
        external_id="F1",
        customer_id="C1",
        issued_on=DAY,
        total=total,
        due_lines=(
            DueLine(due_on=date(2026, 2, 1), amount=half),
            DueLine(due_on=date(2026, 3, 1), amount=half),
        ),
    )
    write(store, [two])
    write(store, [invoice("F1", "100.00")])

    assert store.db.execute("SELECT seq, amount FROM due_lines").fetchall() == [(0, 10000)]


def test_every_other_version_of_an_id_is_its_own_quarantine_record(store: Store) -> None:
    versions = [invoice("F1", "100.00"), invoice("F1", "200.00"), invoice("F1", "300.00")]

    written, quarantined, _ = write(store, versions)

    assert (written, quarantined) == (1, 2)
    rows = store.db.execute(
        "SELECT external_id, reason FROM quarantine ORDER BY external_id"
    ).fetchall()
    assert [external_id for external_id, _ in rows] == ["F1", "F1 (version 3)"]
    assert "came twice" in rows[0][1] and "came 3 times" in rows[1][1]
    assert store.db.execute("SELECT total FROM invoices").fetchall() == [(10000,)]


def test_drafts_and_source_balances_are_kept_apart_and_replaced_on_a_full_read(
    store: Store,
) -> None:
    draft = invoice("D1", "50.00").model_copy(update={"kind": InvoiceKind.DRAFT})
    stated = SourceBalance(
        source="books",
        external_id="C1",
        as_of=DAY,
        amount=Money(amount=Decimal("100.00"), currency="EUR"),
        basis="the ledger",
    )
    write(store, [invoice("F1", "100.00"), draft, stated])

    assert store.drafts(DAY) == {("books", "C1"): 5000}
    assert store.db.execute("SELECT external_id FROM invoices").fetchall() == [("F1",)]
    assert store.db.execute("SELECT COUNT(*) FROM due_lines").fetchone() == (1,)
    assert store.source_balances() == [("books", "C1", DAY, 10000, "the ledger")]

    _, _, deleted = write(store, [invoice("F1", "100.00")])  # the draft was posted or deleted

    assert deleted == 2 and store.drafts(DAY) == {} and store.source_balances() == []


def test_a_draft_posted_under_the_same_id_leaves_the_drafts(store: Store) -> None:
    draft = invoice("F1", "50.00").model_copy(update={"kind": InvoiceKind.DRAFT})
    write(store, [draft], replace_all=False)

    write(store, [invoice("F1", "50.00")], replace_all=False)  # an incremental read: posted

    assert store.drafts(DAY) == {}
    assert store.db.execute("SELECT external_id, total FROM invoices").fetchall() == [("F1", 5000)]

    write(store, [draft], replace_all=False)  # and back to draft (a posting undone)

    assert store.drafts(DAY) == {("books", "C1"): 5000}
    assert store.db.execute("SELECT COUNT(*) FROM invoices").fetchone() == (0,)
    assert store.db.execute("SELECT COUNT(*) FROM due_lines").fetchone() == (0,)


def test_spooled_files_a_killed_run_left_are_removed(tmp_path: Path) -> None:
    from encours.sync.store.bulk import Spool, remove_leftovers

    left = Spool(tmp_path / "encours.duckdb", ("a",))
    left.add(("x",))  # a run killed here leaves its file behind
    (tmp_path / "books.fec").write_text("kept")
    neighbour = Spool(tmp_path / "other.duckdb", ("a",))  # another store's run, under way

    assert remove_leftovers(tmp_path / "encours.duckdb") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["books.fec", neighbour.path.name])
