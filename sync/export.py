"""`status --csv FILE` and `--xlsx FILE`: the figures as a sheet a spreadsheet user opens.

One row per customer (worst first, then the company's total: outstanding, its parts, days
late, DSO, then the overdue part by age range), or with `--customer` one row
per open item and per settlement. Amounts are numbers, never text: a `Decimal` with the
currency's decimals, written in CSV as the number itself and in XLSX as a numeric cell with
a currency format, so the cents are exact and sums work. Dates are dates. Headers are in the
reader's language; a French CSV uses `;` between cells and a decimal comma, as a French
spreadsheet expects. A text cell a spreadsheet would evaluate (`=`, `+`, `-`, `@` first)
gets a leading `'` (CSV injection: a customer named `=HYPERLINK(...)`).

Example (English CSV): `customer,id,outstanding,...` then
`Bernard Frères SASU,C0026,61588.69,...`.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from encours.connectors.file import inert
from encours.metrics.dso import round_days
from encours.metrics.indicators import Indicators
from encours.model import to_decimal
from encours.sync.display import Display
from encours.sync.explain import Explanation
from encours.sync.figures import Figures
from encours.sync.review_text import kind_name, rule_name
from encours.sync.status_text import BUCKET_LABELS

Cell = str | int | Decimal | date | None


@dataclass(frozen=True)
class Sheet:
    """A header and rows of typed cells; `money` names the columns that are amounts."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    money: frozenset[int]
    currency: str


def customers_sheet(figures: Figures, display: Display) -> Sheet:
    """One row per customer, worst first, then TOTAL."""
    _ = display._
    currency = figures.currency
    # The ageing's overdue ranges; its other columns are the ones before them.
    labels = [label for label, _value in figures.total.aged.buckets][3:]

    def money(units: int) -> Decimal:
        return to_decimal(units, currency)

    def row(name: str, key: str, indicators: Indicators) -> tuple[Cell, ...]:
        aged = indicators.aged
        return (
            name,
            key,
            money(aged.outstanding),
            money(aged.overdue),
            money(aged.not_due),
            money(aged.unbilled),
            money(aged.unapplied),
            aged.oldest_overdue_days,
            round_days(indicators.dso),
            *(money(value) for _label, value in aged.buckets[3:]),
        )

    rows = [row(c.name, c.customer_id, c.figures) for c in figures.worst_first()]
    rows.append(row(_("TOTAL"), "", figures.total))
    header = (
        _("customer"),
        "id",
        _("outstanding"),
        _("overdue"),
        _("not due"),
        _("unbilled"),
        _("unapplied"),
        _("late (days)"),
        _("DSO (days)"),
        *labels,
    )
    amounts = frozenset({2, 3, 4, 5, 6, *range(9, 9 + len(labels))})
    return Sheet(_("Receivables"), header, tuple(rows), amounts, currency)


def items_sheet(explanation: Explanation, display: Display) -> Sheet:
    """One row per open item of a customer, each followed by the settlements applied to it."""
    _ = display._
    currency = explanation.customer.figures.currency

    def money(units: int) -> Decimal:
        return to_decimal(units, currency)

    rows: list[tuple[Cell, ...]] = []
    for entry in explanation.items:
        item = entry.item
        bucket = _(BUCKET_LABELS.get(entry.bucket, entry.bucket))
        rows.append(
            (
                item.document,
                item.issued_on,
                item.due_on,
                entry.days_late,
                money(item.amount),
                money(item.residual),
                bucket,
                None,
                None,
            )
        )
        for settlement in entry.settlements:
            rows.append(
                (
                    item.document,
                    settlement.allocated_on,
                    None,
                    None,
                    money(-settlement.amount),
                    None,
                    rule_name(settlement.rule, display),
                    kind_name(settlement.credit_kind or "payment", display),
                    settlement.reference,
                )
            )
    for credit in explanation.unapplied_items:
        rows.append(
            (
                _("unapplied"),
                credit.on_date,
                None,
                None,
                money(-credit.left_over),
                money(-credit.left_over),
                _("unapplied"),
                kind_name(credit.kind, display),
                credit.reference or credit.external_id,
            )
        )
    header = (
        _("document"),
        _("date"),
        _("due"),
        _("days late"),
        _("amount"),
        _("residual"),
        _("bucket / rule"),
        _("kind"),
        _("reference"),
    )
    return Sheet(explanation.customer.customer_id, header, tuple(rows), frozenset({4, 5}), currency)


def write_csv(path: Path, sheet: Sheet, display: Display) -> None:
    """The sheet as CSV (UTF-8 with a BOM, which spreadsheets need to read accents)."""
    french = display.language == "fr"

    def text(cell: Cell) -> str:
        if cell is None:
            return ""
        if isinstance(cell, Decimal | int):
            return str(cell).replace(".", ",") if french else str(cell)
        if isinstance(cell, date):
            return cell.isoformat()
        return inert(cell)

    def write(handle) -> None:  # noqa: ANN001
        out = csv.writer(handle, delimiter=";" if french else ",", lineterminator="\r\n")
        out.writerow([inert(label) for label in sheet.header])
        out.writerows([text(cell) for cell in row] for row in sheet.rows)

    _atomic(path, "w", write, encoding="utf-8-sig", newline="")


def write_xlsx(path: Path, sheet: Sheet, display: Display) -> None:
    """The sheet as an Excel workbook: numeric amount cells with a currency format."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    page = book.active
    page.title = sheet.title[:31]
    page.append([inert(label) for label in sheet.header])
    for cell in page[1]:
        cell.font = Font(bold=True)
    money_format = _excel_money_format(sheet.currency, display)
    for values in sheet.rows:
        page.append([inert(v) if isinstance(v, str) else v for v in values])
        for column, cell in enumerate(page[page.max_row]):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
            elif column in sheet.money and cell.value is not None:
                cell.number_format = money_format
            elif isinstance(cell.value, date):
                cell.number_format = "DD/MM/YYYY" if display.language == "fr" else "YYYY-MM-DD"
    for column, width in enumerate(_widths(sheet), start=1):
        page.column_dimensions[get_column_letter(column)].width = width
    page.freeze_panes = "A2"
    _atomic(path, "wb", book.save)


def _excel_money_format(currency: str, display: Display) -> str:
    symbol = "€" if currency == "EUR" else currency
    return f'#,##0.00\\ "{symbol}"' if display.language == "fr" else f'"{symbol}"#,##0.00'


def _widths(sheet: Sheet) -> list[int]:
    return [
        min(50, max(len(str(v or "")) for v in (label, *(row[i] for row in sheet.rows))) + 2)
        for i, label in enumerate(sheet.header)
    ]


def _atomic(path: Path, mode: str, write: Callable[..., None], **options: str) -> None:
    """Write beside `path`, then rename: a reader never sees half a file."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or None)
    try:
        with os.fdopen(fd, mode, **options) as handle:
            write(handle)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def export(path: Path, sheet: Sheet, display: Display, *, kind: str) -> None:
    """Write `sheet` to `path` as `kind` ("csv" or "xlsx")."""
    writers: dict[str, Callable[[Path, Sheet, Display], None]] = {
        "csv": write_csv,
        "xlsx": write_xlsx,
    }
    writers[kind](path, sheet, display)
