"""A FEC staged by the engine (`stage_fec` + `store/ledger.py`) stores what its records store.

The same file is written into two stores, once through the records of the Python reader and
the one write path, once through the engine's tables; every table must come out the same,
row for row, and a second read of the same file through the engine must change nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fec_files import write_fec
from store_tables import dump
from test_fec import ADVANCE_THEN_INVOICE, LEDGER
from test_fec_bookkeeping import INTERLEAVED, advance_ledger
from test_fec_bookkeeping import write as write_rows

from encours.connectors.fec import FecConnector
from encours.demo.fecgen import FecSpec
from encours.demo.fecgen import write_fec as write_generated
from encours.model import PaymentTerms
from encours.sync.store import Store

NOW = datetime(2026, 11, 1, 3, tzinfo=UTC)


def connector(path: Path) -> FecConnector:
    return FecConnector("books", path, currency="EUR", default_terms=PaymentTerms.net(30))


def stored(folder: Path, fec: Path, *, engine: bool, times: int = 1) -> dict[str, object]:
    folder.mkdir()
    store = Store.open(folder / "s.duckdb")
    try:
        for _ in range(times):
            source = connector(fec)
            ledger = (
                store.read_ledger(source.source, source.stage) if engine else ""
            )  # as a run does
            with store.transaction():
                run_id = store.start_run(date(2026, 11, 1), NOW)
                if engine:
                    counts = store.write_ledger(
                        "books",
                        ledger,
                        company_currency="EUR",
                        run_id=run_id,
                        replace_all=True,
                    )
                else:
                    counts = store.write_records(
                        "books",
                        source.records(),
                        company_currency="EUR",
                        run_id=run_id,
                        replace_all=True,
                    )
    finally:
        store.close()
    return {"tables": records_only(dump(folder / "s.duckdb")), "counts": counts}


def records_only(tables: dict[str, list[tuple[object, ...]]]) -> dict[str, object]:
    """The tables without the index an engine's read keeps of the file (`fec_changes`)."""
    kept: dict[str, object] = {
        name: rows for name, rows in tables.items() if not name.startswith("ledger_")
    }
    kept["cursors"] = [row for row in tables["cursors"] if row[1] != "ledger-index"]
    return kept


def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "ledger": write_fec(tmp_path / "ledger.txt", LEDGER),
        "advance": write_fec(tmp_path / "advance.txt", ADVANCE_THEN_INVOICE),
    }
    for name, rows, end in (
        ("interleaved", INTERLEAVED, "\n"),
        # Read the general way, line by line: numbered right inside the run's transaction.
        ("interleaved-cr", INTERLEAVED, "\r"),
        ("advances", advance_ledger(lettered_on_4191=True), "\n"),
    ):
        (tmp_path / name).mkdir()
        write_rows(tmp_path / name, rows, end=end)
        made[name] = tmp_path / name / "books.fec"
    for invoices, seed in ((300, 1), (2000, 7)):
        path = tmp_path / f"gen{invoices}.txt"
        with path.open("w", encoding="utf-8", newline="") as out:
            write_generated(out, FecSpec(invoices=invoices, customers=40, seed=seed))
        made[path.stem] = path
    return made


@pytest.mark.parametrize(
    "name", ["ledger", "advance", "interleaved", "interleaved-cr", "advances", "gen300", "gen2000"]
)
def test_the_engine_stores_what_the_records_store(tmp_path: Path, name: str) -> None:
    fec = files(tmp_path)[name]

    by_records = stored(tmp_path / "records", fec, engine=False)
    by_engine = stored(tmp_path / "engine", fec, engine=True)

    assert by_engine["tables"] == by_records["tables"]
    assert by_engine["counts"] == by_records["counts"]


def test_the_same_file_staged_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    fec = files(tmp_path)["gen2000"]

    twice = stored(tmp_path / "twice", fec, engine=True, times=2)

    assert twice["counts"].changed == 0 and twice["counts"].deleted == 0
