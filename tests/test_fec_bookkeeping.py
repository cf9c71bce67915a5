"""Classes of real FEC bookkeeping, through `encours sync` and `encours status --json`.

Each test writes a small ledger as the programs that export them do (entries interleaved,
numbers repeated, CR line ends, advances applied) and asserts every figure of the customers
involved, and that each one agrees with the ledger's own balance (`balance_check`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from encours.cli import cli
from encours.connectors.fec import COLUMNS
from encours.model import Money, SourceBalance

HEADER = "\t".join(COLUMNS)
ZERO = "0.00"


def fec_row(
    journal: str,
    number: str,
    day: str,
    account: str,
    debit: str = "0,00",
    credit: str = "0,00",
    *,
    aux: str = "",
    piece: str = "",
    let: str = "",
    date_let: str = "",
) -> str:
    """One tab-separated FEC line; a customer line names its customer in CompAuxNum/Lib."""
    return "\t".join(
        [
            journal,
            journal,
            number,
            day,
            account,
            account,
            aux,
            f"Client {aux}" if aux else "",
            piece,
            day,
            piece or "ecriture",
            debit,
            credit,
            let,
            date_let,
            day,
            "",
            "",
        ]
    )


def write(folder: Path, rows: list[str], *, end: str = "\n") -> Path:
    """The ledger (header first) with `end` after every line, and a config that reads it."""
    (folder / "books.fec").write_bytes((end.join([HEADER, *rows]) + end).encode())
    config = folder / "config.toml"
    config.write_text(
        '[company]\ncurrency = "EUR"\n\n[store]\npath = "encours.duckdb"\n\n'
        '[sources.books]\ntype = "fec"\npath = "books.fec"\ndefault_payment_terms_days = 30\n\n'
        '[targets.file]\ntype = "file"\npath = "indicators.json"\n',
        encoding="utf-8",
    )
    return config


def encours(config: Path, *args: str, expect: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == expect, (result.output, result.exception)
    return result


def status(config: Path, as_of: str) -> dict:
    return json.loads(encours(config, "status", "--json", "--as-of", as_of).stdout)


def figures(document: dict, customer: str) -> dict:
    (row,) = [c for c in document["customers"] if c["id"] == customer]
    return row


def assert_figures(row: dict, **expected: str) -> None:
    """Every amount of a customer: the ones named, and zero for the others."""
    amounts = ("outstanding", "overdue", "not_due", "unbilled", "unapplied", "doubtful", "drafts")
    assert {key: row[key] for key in amounts} == {key: expected.get(key, ZERO) for key in amounts}
    aging = {"unapplied": ZERO, "unbilled": ZERO, "not_due": ZERO, "1-30": ZERO}
    aging |= {"31-60": ZERO, "61-90": ZERO, "90+": ZERO}
    aging |= {key.replace("_", "-"): value for key, value in expected.items() if key[0].isdigit()}
    aging["unapplied"] = f"-{row['unapplied']}" if row["unapplied"] != ZERO else ZERO
    aging["not_due"] = row["not_due"]
    assert row["aging"] == aging
    assert sum(float(v) for v in row["aging"].values()) == pytest.approx(float(row["outstanding"]))


def assert_agrees(row: dict) -> None:
    """The customer's outstanding is its ledger balance, to the cent."""
    check = row["balance_check"]
    assert check is not None and check["difference"] == ZERO
    assert check["source_balance"] == check["outstanding"] == row["outstanding"]


# -- 1. entries whose lines are not adjacent ----------------------------------------------------

INTERLEAVED = [
    fec_row("VT", "1", "20250110", "411000", "120,00", aux="C1", piece="F1"),
    fec_row("VT", "2", "20250111", "411000", "240,00", aux="C2", piece="F2"),
    fec_row("VT", "1", "20250110", "706000", credit="120,00", piece="F1"),
    fec_row("VT", "2", "20250111", "706000", credit="240,00", piece="F2"),
]


def test_interleaved_entries_are_gathered_whole(tmp_path: Path) -> None:
    config = write(tmp_path, INTERLEAVED)

    encours(config, "sync", "--as-of", "2025-02-28")

    document = status(config, "2025-02-28")
    assert document["quarantined"] == 0
    assert_figures(
        figures(document, "C1"), outstanding="120.00", overdue="120.00", **{"1-30": "120.00"}
    )
    assert_figures(
        figures(document, "C2"), outstanding="240.00", overdue="240.00", **{"1-30": "240.00"}
    )
    assert document["total"]["outstanding"] == "360.00"
    assert document["total"]["balance_check"] == {"checked": 2, "differ": 0}
    for customer in ("C1", "C2"):
        assert_agrees(figures(document, customer))


def test_an_interleaved_entry_that_does_not_balance_is_one_quarantine_record(
    tmp_path: Path,
) -> None:
    rows = [
        fec_row("VT", "1", "20250110", "411000", "120,00", aux="C1", piece="F1"),
        fec_row("VT", "2", "20250111", "411000", "240,00", aux="C2", piece="F2"),
        fec_row("VT", "1", "20250110", "706000", credit="100,00", piece="F1"),  # 20,00 short
        fec_row("VT", "2", "20250111", "706000", credit="240,00", piece="F2"),
        fec_row("AC", "1", "20250112", "411000", "50,00", aux="C3", piece="X1"),  # same number,
        fec_row("AC", "1", "20250112", "706000", credit="40,00", piece="X1"),  # other journal
    ]
    config = write(tmp_path, rows)

    result = encours(config, "sync", "--as-of", "2025-02-28", expect=3)

    listed = encours(config, "quarantine").stdout.splitlines()
    assert len(listed) == 2  # one record per rejected entry, none overwritten
    by_entry = {line.split("\t")[2]: line.split("\t")[3] for line in listed}
    assert set(by_entry) == {"VT/1", "AC/1"}
    assert "lines 2, 4" in by_entry["VT/1"] and "debit 120.00, credit 100.00" in by_entry["VT/1"]
    assert "lines 6-7" in by_entry["AC/1"]
    assert all("Fix it in the accounting software" in reason for reason in by_entry.values())
    document = status(config, "2025-02-28")
    assert_figures(
        figures(document, "C2"), outstanding="240.00", overdue="240.00", **{"1-30": "240.00"}
    )
    assert_agrees(figures(document, "C2"))
    # C1's line is in the ledger but not in the figures: flagged, never hidden.
    check = figures(document, "C1")["balance_check"]
    assert (check["source_balance"], check["outstanding"], check["difference"]) == (
        "120.00",
        "0.00",
        "-120.00",
    )
    assert document["total"]["balance_check"] == {"checked": 3, "differ": 2}
    assert "2 of 3 customer(s) differ" in result.stderr


# -- 2. repeated entry numbers ------------------------------------------------------------------


@pytest.mark.parametrize("same_day", [False, True], ids=["days-apart", "same-day"])
def test_entries_numbered_zero_are_all_kept(tmp_path: Path, same_day: bool) -> None:
    second = "20250110" if same_day else "20250120"
    rows = [
        fec_row("VT", "0", "20250110", "411000", "120,00", aux="C1", piece="F1"),
        fec_row("VT", "0", "20250110", "706000", credit="120,00", piece="F1"),
        fec_row("BQ", "0", "20250115", "512000", "120,00", piece="P1"),
        fec_row("BQ", "0", "20250115", "411000", credit="120,00", aux="C1", piece="P1"),
        fec_row("VT", "0", second, "411000", "300,00", aux="C1", piece="F2"),
        fec_row("VT", "0", second, "706000", credit="300,00", piece="F2"),
    ]
    config = write(tmp_path, rows)

    encours(config, "sync", "--as-of", "2025-02-28")

    row = figures(status(config, "2025-02-28"), "C1")
    # F1 is paid; F2 (300, due 9 or 19 February) is open, whichever block came first.
    assert_figures(row, outstanding="300.00", overdue="300.00", **{"1-30": "300.00"})
    assert_agrees(row)


def test_numbers_restarting_each_year_keep_both_years(tmp_path: Path) -> None:
    rows = [
        fec_row("VT", "1", "20240110", "411000", "100,00", aux="C1", piece="F2024-1"),
        fec_row("VT", "1", "20240110", "706000", credit="100,00", piece="F2024-1"),
        fec_row("VT", "1", "20250110", "411000", "250,00", aux="C1", piece="F2025-1"),
        fec_row("VT", "1", "20250110", "706000", credit="250,00", piece="F2025-1"),
    ]
    config = write(tmp_path, rows)

    encours(config, "sync", "--as-of", "2025-01-31")

    row = figures(status(config, "2025-01-31"), "C1")
    assert_figures(
        row, outstanding="350.00", overdue="100.00", not_due="250.00", **{"90+": "100.00"}
    )
    assert_agrees(row)


# -- 3. line ends -------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r", "\r\r\n"], ids=["LF", "CRLF", "CR", "CRCRLF"])
def test_every_line_end_reads_the_same_ledger(tmp_path: Path, end: str) -> None:
    config = write(tmp_path, INTERLEAVED, end=end)

    assert "FAILED" not in encours(config, "check").stdout
    encours(config, "sync", "--as-of", "2025-02-28")

    document = status(config, "2025-02-28")
    assert document["total"]["outstanding"] == "360.00"
    assert_figures(
        figures(document, "C1"), outstanding="120.00", overdue="120.00", **{"1-30": "120.00"}
    )
    assert document["total"]["balance_check"] == {"checked": 2, "differ": 0}


# -- 4. an advance applied to its invoice -------------------------------------------------------


def advance_ledger(*, lettered_on_4191: bool) -> list[str]:
    """The seed's example: invoices 2 000, 1 500 and 1 500; an advance of 1 000 received on
    1 September and applied to the second invoice on 5 October (debit 4191, credit 411
    lettered with the invoice)."""
    let_4191 = "AA" if lettered_on_4191 else ""
    date_4191 = "20251005" if lettered_on_4191 else ""
    return [
        fec_row("BQ", "1", "20250901", "512000", "1000,00", piece="ACPT"),
        fec_row(
            "BQ", "1", "20250901", "419100", credit="1000,00", aux="C1", piece="ACPT",
            let=let_4191, date_let=date_4191,
        ),
        fec_row("VT", "1", "20250910", "411000", "2000,00", aux="C1", piece="F1"),
        fec_row("VT", "1", "20250910", "706000", credit="2000,00", piece="F1"),
        fec_row("VT", "2", "20251005", "411000", "1500,00", aux="C1", piece="F2", let="B",
                date_let="20251005"),
        fec_row("VT", "2", "20251005", "706000", credit="1500,00", piece="F2"),
        fec_row("OD", "7", "20251005", "419100", "1000,00", aux="C1", piece="F2",
                let=let_4191, date_let=date_4191),
        fec_row("OD", "7", "20251005", "411000", credit="1000,00", aux="C1", piece="F2",
                let="B", date_let="20251005"),
        fec_row("VT", "3", "20251020", "411000", "1500,00", aux="C1", piece="F3"),
        fec_row("VT", "3", "20251020", "706000", credit="1500,00", piece="F3"),
    ]  # fmt: skip


@pytest.mark.parametrize("lettered_on_4191", [True, False], ids=["4191-lettered", "not-lettered"])
def test_an_advance_applied_settles_its_invoice_and_is_used_up(
    tmp_path: Path, lettered_on_4191: bool
) -> None:
    config = write(tmp_path, advance_ledger(lettered_on_4191=lettered_on_4191))

    encours(config, "sync", "--as-of", "2025-10-31")

    document = status(config, "2025-10-31")
    row = figures(document, "C1")
    # F1 2 000 due 10 Oct (21 days late); F2 500 left, due 4 Nov; F3 1 500 due 19 Nov.
    assert_figures(
        row, outstanding="4000.00", overdue="2000.00", not_due="2000.00", **{"1-30": "2000.00"}
    )
    assert_agrees(row)
    # Before it was applied, the advance lowered the outstanding as unapplied money.
    before = figures(status(config, "2025-09-30"), "C1")
    assert_figures(before, outstanding="1000.00", not_due="2000.00", unapplied="1000.00")
    unmatched = encours(config, "unmatched", "--as-of", "2025-10-31")
    assert "advance" not in unmatched.stdout


# -- the balance check, both ways ---------------------------------------------------------------


def test_figures_that_agree_with_the_ledger_pass_the_check(tmp_path: Path) -> None:
    config = write(tmp_path, INTERLEAVED)
    result = encours(config, "sync", "--as-of", "2025-02-28")
    assert "balance check: 0 of 2 customer(s) differ" in result.stderr

    checked = encours(config, "check", "--figures")

    assert "all 2 customer(s) agree" in checked.stdout
    assert "!" not in encours(config, "status", "--as-of", "2025-02-28").stdout


def test_a_source_balance_that_differs_is_flagged_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from encours.connectors import fec

    real = fec._EntryReader._balances

    def one_off(self: fec._EntryReader) -> Iterator[SourceBalance]:
        for balance in real(self):
            if balance.external_id == "C1":  # the ledger says 100.00 where the lines give 120.00
                balance = balance.model_copy(
                    update={"amount": Money(amount=Decimal("100.00"), currency="EUR")}
                )
            yield balance

    monkeypatch.setattr(fec._EntryReader, "_balances", one_off)
    monkeypatch.setattr(fec.FecConnector, "stage", None)  # read by the patched Python reader
    config = write(tmp_path, INTERLEAVED)

    result = encours(config, "sync", "--as-of", "2025-02-28", expect=3)

    assert "balance check: 1 of 2 customer(s) differ" in result.stderr
    assert "exit 3" in result.stderr
    document = status(config, "2025-02-28")
    assert figures(document, "C1")["balance_check"] == {
        "as_of": "2025-01-11",
        "source_balance": "100.00",
        "outstanding": "120.00",
        "difference": "20.00",
        "basis": fec.LEDGER_BASIS,
    }
    assert_agrees(figures(document, "C2"))
    assert document["total"]["balance_check"] == {"checked": 2, "differ": 1}
    text = encours(config, "status", "--as-of", "2025-02-28").stdout
    flagged = [line for line in text.splitlines() if "(C1)" in line]
    assert flagged[0].endswith("!")
    assert "source €100.00 as of 11 Jan 2025" in text and "difference €20.00" in text
    checked = encours(config, "check", "--figures", expect=3)
    assert "1 of 2 customer(s) differ" in checked.stdout and "Client C1 (C1)" in checked.stdout
    # What was pushed is encours' own figure, and the exit code says to look at it.
    pushed = json.loads((tmp_path / "indicators.json").read_text(encoding="utf-8"))
    assert pushed["books:C1"]["outstanding"] == "120.00"


def test_a_change_of_the_matching_rules_reconciles_every_customer_again(tmp_path: Path) -> None:
    rows = [
        fec_row("VT", "1", "20250110", "411000", "300,00", aux="C1", piece="F1"),
        fec_row("VT", "1", "20250110", "706000", credit="300,00", piece="F1"),
        fec_row("BQ", "1", "20250120", "512000", "100,00", piece="VIR"),
        fec_row("BQ", "1", "20250120", "411000", credit="100,00", aux="C1", piece="VIR"),
    ]
    config = write(tmp_path, rows)
    encours(config, "sync", "--as-of", "2025-02-28")
    row = figures(status(config, "2025-02-28"), "C1")
    assert (row["overdue"], row["unapplied"]) == ("200.00", ZERO)  # on account, oldest first

    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[reconcile]\noldest_first = false\n", encoding="utf-8")
    encours(config, "sync", "--as-of", "2025-02-28")  # the file did not change

    row = figures(status(config, "2025-02-28"), "C1")
    assert (row["overdue"], row["unapplied"], row["outstanding"]) == ("300.00", "100.00", "200.00")
