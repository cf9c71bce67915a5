"""What a person reads: `status` (clear states, units, names, amounts), `status --customer`
(open items, settlements and their rules, adding up to the outstanding), `unmatched`, the
sync summary's counts, `calc`'s checks, config errors and `check` on a cut FEC."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from fec_files import Line
from test_cli import AS_OF, DAY, run, write_config, write_small_fec

from encours import demo as demo_setup
from encours.demo.fecgen import FecSpec

SUMMARY = re.compile(
    r"(\d+) record\(s\) read: (\d+) new, (\d+) changed, (\d+) unchanged, (\d+) quarantined; "
    r"(\d+) deleted"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    config, _ = demo_setup.prepare(folder)
    run("--config", config, "sync", "--as-of", AS_OF)
    return config


@pytest.fixture(scope="module")
def other_books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another generated company: more invoices left open, partial payments, advances and
    credit notes, another seed."""
    folder = tmp_path_factory.mktemp("other")
    spec = FecSpec(invoices=400, customers=20, open_share=Decimal("0.35"), seed=7)
    config, _ = demo_setup.prepare(folder, spec)
    run("--config", config, "sync", "--as-of", AS_OF)
    return config


# --- clear states ----------------------------------------------------------------------------


def test_status_before_any_sync_says_so_and_exits_66(tmp_path: Path) -> None:
    write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path)
    result = run("--config", config, "status", expect=66)
    assert result.stdout == ""
    assert "no sync has run" in result.stderr and "encours sync" in result.stderr
    assert not (tmp_path / "encours.duckdb").exists()  # asking created nothing


def test_status_after_only_failed_syncs_exits_66_saying_how_it_ended(tmp_path: Path) -> None:
    write_small_fec(tmp_path / "books.fec")
    text = (tmp_path / "books.fec").read_text(encoding="utf-8")
    (tmp_path / "books.fec").write_text(text[: len(text) - 30], encoding="utf-8")  # cut
    config = write_config(tmp_path)
    run("--config", config, "sync", expect=65)
    result = run("--config", config, "status", expect=66)
    assert "ended with exit 65" in result.stderr and "no figures" in result.stderr


def test_status_after_a_failed_sync_shows_the_last_good_figures_with_a_note(
    tmp_path: Path,
) -> None:
    write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path)
    run("--config", config, "sync", "--as-of", "2026-01-31")
    (tmp_path / "books.fec").write_text("not a FEC\n", encoding="utf-8")
    run("--config", config, "sync", "--as-of", "2026-01-31", expect=65)
    result = run("--config", config, "status", "--as-of", "2026-01-31")
    assert "€1,200.00" in result.stdout
    assert "the last sync (run 2) ended with exit 65" in result.stderr
    assert "run 1" in result.stderr


def test_status_help_documents_exit_66() -> None:
    assert "66" in run("status", "--help").stdout


def test_a_figure_that_cannot_be_computed_shows_a_dash_and_why(tmp_path: Path) -> None:
    # The only sale is in January; as of March with a one-month DSO window there is none.
    write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[metrics]\ndso_months = 1\n", encoding="utf-8"
    )
    run("--config", config, "sync", "--as-of", "2026-03-31")
    document = json.loads(run("--config", config, "status", "--json").stdout)
    assert document["total"]["dso"] is None  # the premise
    text = run("--config", config, "status").stdout
    assert "None" not in text
    (row,) = [line for line in text.splitlines() if "(C1)" in line]
    assert row.split()[-3:] == ["—", "D", "*"]  # no DSO; risk grade; due dates assumed
    assert "— DSO: no sales in the DSO period" in text
    customer = run("--config", config, "status", "--customer", "C1").stdout
    assert "None" not in customer and "DSO (count-back): — days" in customer


# --- the table -------------------------------------------------------------------------------


def test_status_table_has_units_separators_currency_and_the_company(demo: Path) -> None:
    text = run("--config", demo, "status", "--as-of", AS_OF).stdout
    lines = text.splitlines()
    assert lines[0] == "Receivables of Démo SARL as of 31 Oct 2026, worst first"
    assert "late (days)" in lines[1] and "DSO (days)" in lines[1]
    (total,) = [line for line in lines if line.startswith("TOTAL")]
    assert "€413,602.88" in total and "€209,599.15" in total
    assert "Company aged balance: unapplied -€5,397.16" in text


def test_long_names_are_wrapped_not_cut(tmp_path: Path) -> None:
    name = "Société Coopérative Agricole des Producteurs de Noix du Périgord Noir"
    write_small_fec(
        tmp_path / "books.fec",
        Line("VT", "2", DAY, "411000", debit="600,00", aux="C2", aux_label=name, piece="FA2"),
        Line("VT", "2", DAY, "707000", credit="500,00", piece="FA2"),
        Line("VT", "2", DAY, "445710", credit="100,00", piece="FA2"),
    )
    config = write_config(tmp_path)
    run("--config", config, "sync", "--as-of", "2026-01-31")
    text = run("--config", config, "status").stdout
    start = next(i for i, line in enumerate(text.splitlines()) if line.startswith("Société"))
    lines = text.splitlines()
    assert " ".join([lines[start][:44].strip(), lines[start + 1].strip()]) == f"{name} (C2)"
    assert "€600.00" in lines[start]


# --- status --customer -----------------------------------------------------------------------


def test_customer_view_shows_its_own_figures_and_no_company_total(demo: Path) -> None:
    text = run("--config", demo, "status", "--as-of", AS_OF, "--customer", "C0006").stdout
    assert text.startswith("Salaisons Roussel SAS (C0006, source books)")
    assert "TOTAL" not in text and "Company" not in text
    assert "Outstanding €69,846.12 = overdue €28,774.96" in text
    # An item partly paid, the payment that settled it and the rule that matched them.
    (item,) = [line for line in text.splitlines() if line.startswith("FA2026-00047")]
    assert item.split()[-2:] == ["€612.45", "90+"]
    assert "€827.45" in item and "227" in item
    settled = text.splitlines()[text.splitlines().index(item) + 1]
    assert "payment VIR2026-00045" in settled and settled.endswith("-€215.00              lettrage")
    assert "AC2026-00247" in text  # its unapplied advance
    assert "Open items €71,746.12 - unapplied €1,900.00 = outstanding €69,846.12" in text
    assert "encours agrees" in text


def _check_adds_up(config: Path) -> int:
    document = json.loads(run("--config", config, "status", "--json", "--as-of", AS_OF).stdout)
    checked = 0
    for customer in document["customers"]:
        explained = json.loads(
            run(
                "--config",
                config,
                "status",
                "--json",
                "--as-of",
                AS_OF,
                "--customer",
                customer["id"],
            ).stdout
        )
        (own,) = explained["customers"]
        residuals = sum(Decimal(item["residual"]) for item in own["open_items"])
        unapplied = sum(Decimal(item["not_matched"]) for item in own["unapplied_items"])
        assert residuals - unapplied == Decimal(customer["outstanding"]), customer["id"]
        assert unapplied == Decimal(customer["unapplied"]), customer["id"]
        for item in own["open_items"]:
            settled = sum(Decimal(s["amount"]) for s in item["settlements"])
            assert Decimal(item["amount"]) - settled == Decimal(item["residual"])
            assert all(s["rule"] for s in item["settlements"])
        checked += 1
    return checked


def test_open_items_add_up_to_the_outstanding_for_every_demo_customer(demo: Path) -> None:
    assert _check_adds_up(demo) == 34


def test_open_items_add_up_on_another_company(other_books: Path) -> None:
    assert _check_adds_up(other_books) == 20
    document = json.loads(run("--config", other_books, "status", "--json").stdout)
    kinds = set()
    for customer in document["customers"][:8]:
        own = json.loads(
            run("--config", other_books, "status", "--json", "--customer", customer["id"]).stdout
        )["customers"][0]
        kinds |= {s["kind"] for item in own["open_items"] for s in item["settlements"]}
        kinds |= {item["kind"] for item in own["unapplied_items"]}
    assert "payment" in kinds  # partial payments are among what was checked


# --- unmatched, calc, the sync summary -------------------------------------------------------


def test_unmatched_has_a_header_names_and_dates(demo: Path) -> None:
    lines = run("--config", demo, "unmatched", "--as-of", AS_OF).stdout.splitlines()
    assert lines[0].split() == ["customer", "date", "kind", "reference", "amount", "not", "matched"]
    (advance,) = [line for line in lines if "AC2026-00247" in line]
    assert advance.startswith("Salaisons Roussel SAS (C0006)")
    assert "28 Sept 2026" in advance and "advance" in advance
    assert advance.endswith("€1,900.00    €1,900.00")


def test_calc_outstanding_without_figures_is_a_usage_error() -> None:
    result = run("calc", "outstanding", expect=2)
    assert "--invoice" in result.stderr and result.stdout == ""


def test_calc_dso_accounting_names_its_method_only() -> None:
    sales = ["--sales", "2026-01:3000"]
    text = run("calc", "dso", "--outstanding", "1000", *sales, "--method", "accounting").stdout
    assert text.strip() == "10.33 days (accounting)"
    document = json.loads(
        run(
            "calc", "dso", "--outstanding", "1000", *sales, "--method", "accounting", "--json"
        ).stdout
    )
    assert document == {"dso": "10.33", "method": "accounting", "order": None}


def test_calc_dso_without_sales_says_why() -> None:
    text = run("calc", "dso", "--outstanding", "1000", "--sales", "2026-01:0").stdout
    assert text.startswith("— (count-back, recent-first): no sales")


def _counts(stderr: str) -> tuple[int, ...]:
    match = SUMMARY.search(stderr)
    assert match, stderr
    return tuple(int(n) for n in match.groups())


def test_the_sync_summary_counts_add_up(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    config, _ = demo_setup.prepare(folder)
    read, new, changed, unchanged, quarantined, deleted = _counts(
        run("--config", config, "sync", "--as-of", AS_OF).stderr
    )
    assert read == new + changed + unchanged + quarantined
    assert (new, changed, unchanged, deleted) == (read, 0, 0, 0)
    again = _counts(run("--config", config, "sync", "--as-of", AS_OF, "--full-refresh").stderr)
    assert again == (read, 0, 0, read, 0, 0)
    # One sale more to an existing customer: new records, the customer's balance changed.
    fec = folder / "books.fec"
    text = fec.read_text(encoding="utf-8").rstrip("\n").split("\n")
    last = text[-1].split("\t")
    extra = [
        [
            "VT",
            last[1],
            "99999",
            "20261031",
            "411000",
            "Clients",
            "C0001",
            "Fonderie Laurent SASU",
            "FX1",
            "20261031",
            "x",
            "120,00",
            "",
            "",
            "",
            "20261031",
            "",
            "",
        ],
        [
            "VT",
            last[1],
            "99999",
            "20261031",
            "706000",
            "Ventes",
            "",
            "",
            "FX1",
            "20261031",
            "x",
            "",
            "120,00",
            "",
            "",
            "20261031",
            "",
            "",
        ],
    ]
    fec.write_text("\n".join(text + ["\t".join(f) for f in extra]) + "\n", encoding="utf-8")
    read2, new2, changed2, unchanged2, quarantined2, _ = _counts(
        run("--config", config, "sync", "--as-of", AS_OF).stderr
    )
    assert read2 == new2 + changed2 + unchanged2 + quarantined2
    assert new2 >= 1 and changed2 >= 1 and unchanged2 > read - 10


# --- config errors and check -----------------------------------------------------------------


def test_a_misspelt_key_names_file_line_and_the_key_meant(tmp_path: Path) -> None:
    write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path, extra="default_paymnet_terms_days = 45\n")
    result = run("--config", config, "status", expect=78)
    line = (
        config.read_text(encoding="utf-8").splitlines().index("default_paymnet_terms_days = 45") + 1
    )
    assert (
        f"{config}, line {line}: [sources.books] default_paymnet_terms_days: unknown "
        "setting; did you mean default_payment_terms_days?" in result.stderr
    )
    assert "Extra inputs" not in result.stderr


def test_check_reads_the_whole_fec_and_fails_on_a_cut_one(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    config, _ = demo_setup.prepare(folder)
    run("--config", config, "check")
    data = (folder / "books.fec").read_bytes()
    (folder / "books.fec").write_bytes(data[: len(data) // 2 + 37])
    result = run("--config", config, "check", expect=78)
    assert re.search(r"FAILED  source books: .*books\.fec, line \d+: .*cut", result.stdout)
    sync = run("--config", config, "sync", expect=65)
    assert "books.fec, line" in sync.stderr
    shutil.rmtree(folder)
