"""`encours report --html FILE --all`: the firm's companies on one self-contained page.

First a table of the companies (outstanding, overdue, DSO, as of), each name a link to the
company's part of the page (`#company-<name>`); then, for each, the sections of its own
report (`sync/html_report.py`). A company without figures (no sync yet, a sync writing its
store with figures of another date, a broken configuration) has a line saying so, and the
others are shown as usual. Example of the table's first row, in English:

    alpha (→ #company-alpha)   €12,345.67   €2,000.00   41.20   6 Dec 2026
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import escape
from pathlib import Path

from encours.errors import EncoursError
from encours.sync import html_report
from encours.sync.config import load_settings
from encours.sync.display import Display
from encours.sync.firm_config import Company, Firm
from encours.sync.status import current_figures
from encours.sync.store import Store

#: The as-of date of a company, given its configuration file (its own `[company] as_of`).
AsOfOf = Callable[[Path], date]


def render_firm(firm: Firm, as_of_of: AsOfOf, display: Display) -> str:
    """The whole page: the companies' table, then every company's report."""
    _ = display._
    title = (
        _("Receivables of {company}").format(company=firm.name) if firm.name else _("Receivables")
    )
    reports = [(company, _company_report(company, as_of_of)) for company in firm.companies]
    rows = [_row(company, report, display) for company, report in reports]
    header = "".join(
        f'<th class="{"num" if i else ""}">{escape(_(name))}</th>'
        for i, name in enumerate(["company", "outstanding", "overdue", "DSO (days)", "as of"])
    )
    parts = [
        f"<header><h1>{escape(title)}</h1></header>",
        f"<section><h2>{escape(_('Companies'))} ({len(reports)})</h2>",
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
        "</section>",
    ]
    for company, report in reports:
        parts.append(f'<article id="company-{escape(company.name)}">')
        parts.append(f"<h2>{escape(company.name)}</h2>")
        if isinstance(report, str):
            parts.append(f'<p class="warn" data-field="error">{escape(report)}</p>')
        else:
            parts.extend(html_report.sections(report, display))
        parts.append("</article>")
    return html_report.page(title, "\n".join(parts), display)


def _company_report(company: Company, as_of_of: AsOfOf) -> html_report.ReportData | str:
    """A company's report data, or the reason it has none (its error's message)."""
    try:
        settings = load_settings(company.config)
        figures, _note = current_figures(settings, as_of_of(company.config))
        with Store.reading(settings.store.path) as store:
            return html_report.read_report(store, figures, settings.company.name)
    except EncoursError as exc:
        return str(exc)


def _row(company: Company, report: html_report.ReportData | str, display: Display) -> str:
    """The company's row in the table: a link to its part, its totals."""
    link = f'<td><a href="#company-{escape(company.name)}">{escape(company.name)}</a></td>'
    if isinstance(report, str):
        return f'<tr data-company="{escape(company.name)}">{link}<td colspan="4"></td></tr>'
    figures = report.figures
    aged, currency = figures.total.aged, figures.currency
    cells = [
        display.money(aged.outstanding, currency),
        display.money(aged.overdue, currency),
        display.days(figures.total.dso),
        display.date(figures.as_of),
    ]
    numbers = "".join(f'<td class="num">{escape(cell)}</td>' for cell in cells)
    return f'<tr data-company="{escape(company.name)}">{link}{numbers}</tr>'
