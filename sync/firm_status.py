"""`encours status --all`: one line per company, from the files beside its store.

Nothing opens a store: a company's figures are its last run's (`<store>.last-run.json`,
`sync/lastrun.py`), whether a sync runs on it now is its run lock (`sync/lock.py`), whether
a firm pass did it today is its claim file (`sync/firm_claim.py`). Hundreds of companies
take milliseconds each, also while the night's runs write their stores. Example:

    Companies of Cabinet Martin (3)
    company  last run          status          as of        outstanding      overdue  DSO (days)
    alpha    06/12/2026 02:41  synced today    06/12/2026    €12,345.67    €2,000.00       41.20
    beta     05/12/2026 02:39  not yet today   05/12/2026     €9,000.00        €0.00       30.00
    gamma                      no run yet
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from encours.errors import EncoursError
from encours.sync import lastrun
from encours.sync.config import load_settings
from encours.sync.display import Display
from encours.sync.firm_claim import last_success_of
from encours.sync.firm_config import Firm
from encours.sync.lock import sync_running
from encours.sync.report import amount, days


@dataclass(frozen=True)
class CompanyLine:
    """What `status --all` says of one company; the figures are None without a run."""

    name: str
    status: str  # synced today | not yet today | running | no run yet | config error
    last_run: datetime | None = None  # when its last run's figures were written
    as_of: date | None = None
    currency: str | None = None
    outstanding: int | None = None  # minor units
    overdue: int | None = None
    dso: Decimal | None = None
    message: str | None = None


def company_lines(firm: Firm, today: date) -> list[CompanyLine]:
    """Every company's line, in name order."""
    return [_line(company.name, company.config, today) for company in firm.companies]


def _line(name: str, config: Path, today: date) -> CompanyLine:
    try:
        settings = load_settings(config)
    except EncoursError as exc:
        return CompanyLine(name, "config error", message=str(exc))
    store = settings.store.path
    kept = lastrun.load(store)
    if sync_running(store):
        status = "running"
    elif kept is None:
        return CompanyLine(name, "no run yet")
    else:
        status = "synced today" if last_success_of(store) == today else "not yet today"
    if kept is None:
        return CompanyLine(name, status)
    figures = kept.figures
    written = lastrun.path_of(store).stat().st_mtime
    return CompanyLine(
        name,
        status,
        last_run=datetime.fromtimestamp(written).astimezone(),
        as_of=figures.as_of,
        currency=figures.currency,
        outstanding=figures.total.aged.outstanding,
        overdue=figures.total.aged.overdue,
        dso=figures.total.dso,
    )


def status_text(lines: list[CompanyLine], display: Display, firm: str | None) -> Iterator[str]:
    """The table of the module docstring, then each configuration error under it."""
    _ = display._
    title = _("Companies of {firm}").format(firm=firm) if firm else _("Companies")
    yield f"{title} ({len(lines)})"
    header = [_("company"), _("last run"), _("status"), _("as of")]
    header += [_("outstanding"), _("overdue"), _("DSO (days)")]
    rows = [header]
    for line in lines:
        row = [line.name, "", _(line.status), "", "", "", ""]
        if line.last_run is not None:
            row[1] = f"{display.date(line.last_run.date())} {line.last_run:%H:%M}"
        if line.as_of is not None:
            row[3] = display.date(line.as_of)
        if line.currency is not None and line.outstanding is not None:
            row[4] = display.money(line.outstanding, line.currency)
            row[5] = display.money(line.overdue or 0, line.currency)
            row[6] = display.days(line.dso)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.ljust(w) if i < 4 else cell.rjust(w) for i, (cell, w) in pairs]
        yield "  ".join(cells).rstrip()
    for line in lines:
        if line.message:
            yield f"{line.name}: {line.message}"


def status_json(lines: list[CompanyLine]) -> list[dict[str, object]]:
    """The lines as JSON values: amounts as exact decimal text, dates as ISO text."""

    def money(units: int | None, currency: str | None) -> str | None:
        return None if units is None or currency is None else amount(units, currency)

    return [
        {
            "company": line.name,
            "status": line.status,
            "last_run": line.last_run.isoformat(timespec="seconds") if line.last_run else None,
            "as_of": line.as_of.isoformat() if line.as_of else None,
            "currency": line.currency,
            "outstanding": money(line.outstanding, line.currency),
            "overdue": money(line.overdue, line.currency),
            "dso": days(line.dso),
            "error": line.message,
        }
        for line in lines
    ]
