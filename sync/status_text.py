"""The `status` table for a person: every customer worst first, the total, what it rests on.

Columns are as wide as their widest cell; a name longer than `NAME_WIDTH` wraps onto the
next lines rather than being cut. Amounts carry separators and the currency, days their
unit (in the header), and a figure that cannot be computed is « — » with a note saying why
under the table. Example (English):

    Receivables of Démo SARL as of 31 Oct 2026, worst first
    customer                        outstanding      overdue  ...  late (days)  DSO (days)  risk
    Bernard Frères SASU (C0026)      €61,588.69   €42,695.98  ...          196      164.62     D
    TOTAL                           €413,602.88  €209,599.15  ...          269       77.62
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence

from encours.metrics.indicators import Indicators
from encours.sync.display import MISSING, Display
from encours.sync.figures import CustomerFigures, Figures

NAME_WIDTH = 44
#: The buckets' labels as `status` prints them (the overdue ones are day ranges, as is).
BUCKET_LABELS = {"unapplied": "unapplied", "unbilled": "unbilled", "not_due": "not due"}


def title(display: Display, company: str | None, as_of_text: str) -> str:
    """The first line: whose receivables, as of when."""
    _ = display._
    if company:
        return _("Receivables of {company} as of {date}, worst first").format(
            company=company, date=as_of_text
        )
    return _("Receivables as of {date}, worst first").format(date=as_of_text)


def status_lines(figures: Figures, display: Display, company: str | None) -> Iterator[str]:
    """The whole `status` text, line by line."""
    _ = display._
    yield title(display, company, display.date(figures.as_of))
    rows = [
        (_name_cell(c), _cells(c.figures, display) + [c.risk.grade, _flags(c)])
        for c in figures.worst_first()
    ]
    rows.append((_("TOTAL"), _cells(figures.total, display) + ["", ""]))
    yield from table(
        [
            _("customer"),
            _("outstanding"),
            _("overdue"),
            _("not due"),
            _("unbilled"),
            _("unapplied"),
            _("late (days)"),
            _("DSO (days)"),
            _("risk"),
            "",
        ],
        rows,
    )
    yield from total_lines(figures, display)
    yield from notes(figures, display)


def total_lines(figures: Figures, display: Display) -> Iterator[str]:
    """The company's ageing and DSO, each labelled as the company's."""
    _ = display._
    total, currency = figures.total, figures.currency
    buckets = ", ".join(
        f"{_(BUCKET_LABELS.get(label, label))} {display.money(value, currency)}"
        for label, value in total.aged.buckets
    )
    yield _("Company aged balance: {buckets}").format(buckets=buckets)
    yield _(
        "Company DSO ({method}): {dso} days; best possible {best}, average days delinquent "
        "{delinquent}"
    ).format(
        method=_(total.dso_method),
        dso=display.days(total.dso),
        best=display.days(total.best_possible_dso),
        delinquent=display.days(total.average_days_delinquent),
    )


def notes(figures: Figures, display: Display) -> Iterator[str]:
    """What the marks of the table mean, and what waits for a person."""
    _ = display._
    currency = figures.currency
    customers = figures.customers
    if any(c.figures.dso is None for c in customers) or figures.total.dso is None:
        yield _("{missing} DSO: no sales in the DSO period, so no DSO to compute").format(
            missing=MISSING
        )
    if any(c.figures.aged.oldest_overdue_days is None for c in customers):
        yield _("{missing} late: nothing overdue").format(missing=MISSING)
    if any(c.due_dates_assumed for c in customers):
        yield _(
            "* due dates from the default payment terms (the source has none for this "
            "customer): set them under [sources.NAME.payment_terms]"
        )
    if figures.unidentified:
        yield _("Receipts tied to no customer: {amount}").format(
            amount=display.money(figures.unidentified, currency)
        )
    drafts = [c for c in customers if c.drafts]
    if drafts:
        yield _("Draft invoices, in no figure above: {amount} ({count} customer(s))").format(
            amount=display.money(figures.drafts, currency), count=len(drafts)
        )
    yield _("risk: grade A (nothing stands out) to D; `status --customer ID` says why")
    yield from balance_check_lines(figures, display)
    if figures.quarantined:
        yield _("{count} record(s) wait in quarantine: run `encours quarantine`").format(
            count=figures.quarantined
        )


def balance_check_lines(figures: Figures, display: Display) -> Iterator[str]:
    """The customers whose outstanding is not their source's own balance, one line each."""
    _ = display._
    checked = figures.checked
    if not checked:
        return
    differing = figures.differing
    if not differing:
        yield _("Balance check: all {count} customer(s) agree with their source").format(
            count=len(checked)
        )
        return
    yield _("! {count} of {checked} customer(s) differ from their source's own balance:").format(
        count=len(differing), checked=len(checked)
    )
    for customer in differing:
        check = customer.balance_check
        assert check is not None  # noqa: S101 - `differing` holds checked customers only
        yield "  " + _(
            "{name} ({id}): source {source} as of {date} ({basis}), encours {outstanding}, "
            "difference {difference}"
        ).format(
            name=customer.name,
            id=customer.customer_id,
            source=display.money(check.source_balance, figures.currency),
            date=display.date(check.as_of),
            basis=check.basis,
            outstanding=display.money(check.outstanding, figures.currency),
            difference=display.money(check.difference, figures.currency),
        )


def table(
    header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]], aligns: str = ""
) -> Iterator[str]:
    """A text table: the first column left-aligned and wrapped, the others as `aligns` says.

    `aligns` has one `<` (left) or `>` (right, the default) per column after the first. Each
    column is as wide as its widest cell; the first at most `NAME_WIDTH`, its longer cells
    continuing on the next lines.
    """
    widths = [
        max([len(header[i])] + [len(cells[i - 1]) for _, cells in rows])
        for i in range(1, len(header))
    ]
    first = min(NAME_WIDTH, max([len(header[0])] + [len(name) for name, _ in rows]))
    aligns = aligns.ljust(len(widths), ">")
    yield _line(header[0], header[1:], first, widths, aligns)
    for name, cells in rows:
        pieces = textwrap.wrap(name, first) or [""]
        yield _line(pieces[0], cells, first, widths, aligns)
        for piece in pieces[1:]:
            yield "  " + piece


def _line(name: str, cells: Sequence[str], first: int, widths: Sequence[int], aligns: str) -> str:
    aligned = [f"{name:<{first}}"]
    aligned += [
        f"{cell:{align}{width}}" for cell, width, align in zip(cells, widths, aligns, strict=False)
    ]
    return "  ".join(aligned).rstrip()


def _name_cell(customer: CustomerFigures) -> str:
    return f"{customer.name} ({customer.customer_id})"


def _cells(figures: Indicators, display: Display) -> list[str]:
    aged, currency = figures.aged, figures.currency
    return [
        display.money(aged.outstanding, currency),
        display.money(aged.overdue, currency),
        display.money(aged.not_due, currency),
        display.money(aged.unbilled, currency),
        display.money(aged.unapplied, currency),
        display.days(aged.oldest_overdue_days),
        display.days(figures.dso),
    ]


def _flags(customer: CustomerFigures) -> str:
    check = customer.balance_check
    return ("*" if customer.due_dates_assumed else "") + (
        "!" if check is not None and check.difference else ""
    )
