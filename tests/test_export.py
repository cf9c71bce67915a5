"""`status --csv` and `--xlsx`: opened back with csv and openpyxl, compared cell by cell with
`status --json`; amounts are numbers to the cent, formulas inert, headers French in French."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fec_files import Line
from openpyxl import load_workbook
from test_cli import AS_OF, DAY, run, write_config, write_small_fec

from encours import demo as demo_setup

BUCKETS = ["1-30", "31-60", "61-90", "90+"]
FIGURES = ["outstanding", "overdue", "not_due", "unbilled", "unapplied"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    config, _ = demo_setup.prepare(folder)
    run("--config", config, "sync", "--as-of", AS_OF)
    return config


def expected_rows(document: dict) -> list[list[object]]:
    """The rows `status --csv` must hold, from `status --json`: typed cells."""
    rows = []
    for row in [*document["customers"], {**document["total"], "name": "TOTAL", "id": None}]:
        rows.append(
            [
                row["name"],
                row["id"],
                *(Decimal(row[k]) for k in FIGURES),
                row["oldest_overdue_days"],
                None if row["dso"] is None else Decimal(row["dso"]),
                *(Decimal(row["aging"][b]) for b in BUCKETS),
            ]
        )
    return rows


def read_csv(path: Path, *, french: bool = False) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";" if french else ","))


def typed(cell: str, *, french: bool = False) -> object:
    """A CSV cell read back as the exporter wrote it: a number, or the text."""
    if cell == "":
        return None
    number = cell.replace(",", ".") if french else cell
    try:
        value = Decimal(number)
    except ArithmeticError:
        return cell
    return int(value) if "." not in number else value


def test_csv_per_customer_equals_the_json_cell_by_cell(demo: Path, tmp_path: Path) -> None:
    document = json.loads(run("--config", demo, "status", "--as-of", AS_OF, "--json").stdout)
    out = tmp_path / "status.csv"
    result = run("--config", demo, "status", "--as-of", AS_OF, "--csv", out)
    assert f"Wrote {out}" in result.stderr
    header, *rows = read_csv(out)
    assert header == [
        "customer",
        "id",
        "outstanding",
        "overdue",
        "not due",
        "unbilled",
        "unapplied",
        "late (days)",
        "DSO (days)",
        *BUCKETS,
    ]
    assert [[typed(c) for c in row] for row in rows] == expected_rows(document)


def test_xlsx_per_customer_has_number_cells_equal_to_the_json(demo: Path, tmp_path: Path) -> None:
    document = json.loads(run("--config", demo, "status", "--as-of", AS_OF, "--json").stdout)
    out = tmp_path / "status.xlsx"
    run("--config", demo, "status", "--as-of", AS_OF, "--xlsx", out)
    sheet = load_workbook(out).active
    header, *rows = list(sheet.iter_rows())
    assert [c.value for c in header][:3] == ["customer", "id", "outstanding"]
    expected = expected_rows(document)
    assert len(rows) == len(expected)
    for cells, wanted in zip(rows, expected, strict=True):
        for cell, value in zip(cells, wanted, strict=True):
            if isinstance(value, Decimal):
                assert cell.data_type == "n", (cell.coordinate, cell.value)
                # A double holds every amount of 15 digits or fewer; read back exactly.
                assert Decimal(str(cell.value)).quantize(Decimal("0.01")) == value
            else:
                assert cell.value == value, cell.coordinate
    assert "€" in rows[0][2].number_format


def test_customer_exports_hold_its_items_and_settlements(demo: Path, tmp_path: Path) -> None:
    own = json.loads(
        run("--config", demo, "status", "--as-of", AS_OF, "--json", "--customer", "C0006").stdout
    )["customers"][0]
    out_csv, out_xlsx = tmp_path / "c.csv", tmp_path / "c.xlsx"
    run(
        "--config",
        demo,
        "status",
        "--as-of",
        AS_OF,
        "--customer",
        "C0006",
        "--csv",
        out_csv,
        "--xlsx",
        out_xlsx,
    )
    header, *rows = read_csv(out_csv)
    assert header[:6] == ["document", "date", "due", "days late", "amount", "residual"]
    items = [row for row in rows if row[2]]  # the open items have a due date
    assert [(r[0], r[2], typed(r[5])) for r in items] == [
        (i["document"], i["due_on"], Decimal(i["residual"])) for i in own["open_items"]
    ]
    settlements = [row for row in rows if not row[2] and row[0] != "unapplied"]
    assert [(r[0], typed(r[4]), r[6], r[8]) for r in settlements] == [
        (i["document"], -Decimal(s["amount"]), "lettrage", s["reference"])
        for i in own["open_items"]
        for s in i["settlements"]
    ]
    assert {s["rule"] for i in own["open_items"] for s in i["settlements"]} == {"match_group"}
    # The residuals, less what is unapplied, sum to the outstanding in the sheet too.
    book = load_workbook(out_xlsx).active
    residuals = sum(
        Decimal(str(row[5].value)) for row in list(book.iter_rows())[1:] if row[5].value is not None
    )
    assert residuals.quantize(Decimal("0.01")) == Decimal(own["outstanding"])
    first = list(book.iter_rows())[1]
    assert isinstance(first[1].value, datetime) and first[1].value.date() == date.fromisoformat(
        own["open_items"][0]["issued_on"]
    )


def test_french_exports_have_french_headers_and_decimal_commas(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    out_csv, out_xlsx = tmp_path / "s.csv", tmp_path / "s.xlsx"
    run("--config", demo, "status", "--as-of", AS_OF, "--csv", out_csv, "--xlsx", out_xlsx)
    header, *rows = read_csv(out_csv, french=True)
    assert header[:8] == [
        "client",
        "id",
        "encours",
        "échu",
        "non échu",
        "à facturer",
        "non imputé",
        "retard (jours)",
    ]
    (total,) = [row for row in rows if row[0] == "TOTAL"]
    assert total[2] == "413602,88"
    sheet = load_workbook(out_xlsx).active
    assert [c.value for c in next(sheet.iter_rows())][:3] == ["client", "id", "encours"]
    assert sheet.title == "Encours"


def test_formula_characters_are_escaped(tmp_path: Path) -> None:
    names = {"C2": '=HYPERLINK("http://x")', "C3": "+33 Conseil", "C4": "@Home SARL"}
    extra = []
    for number, (code, name) in enumerate(names.items(), start=2):
        piece = f"FA{number}"
        extra += [
            Line(
                "VT",
                str(number),
                DAY,
                "411000",
                debit="120,00",
                aux=code,
                aux_label=name,
                piece=piece,
            ),
            Line("VT", str(number), DAY, "707000", credit="120,00", piece=piece),
        ]
    write_small_fec(tmp_path / "books.fec", *extra)
    config = write_config(tmp_path)
    run("--config", config, "sync", "--as-of", "2026-01-31")
    out_csv, out_xlsx = tmp_path / "s.csv", tmp_path / "s.xlsx"
    run("--config", config, "status", "--csv", out_csv, "--xlsx", out_xlsx)
    csv_names = {row[1]: row[0] for row in read_csv(out_csv)[1:]}
    sheet = load_workbook(out_xlsx).active
    xlsx_cells = {row[1].value: row[0] for row in list(sheet.iter_rows())[1:]}
    for code, name in names.items():
        assert csv_names[code] == "'" + name
        assert xlsx_cells[code].value == "'" + name and xlsx_cells[code].data_type == "s"
    assert csv_names["C1"] == "Client Un"
