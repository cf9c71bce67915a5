"""Outstanding (encours client) and the aged balance (balance âgée), as of a date.

    outstanding = unbilled + not_due + overdue − unapplied

`not_due` and `overdue` are the residual open amounts of invoice due lines, split by due date
against the as-of date: a due line is overdue when its due date is before the as-of date (on
the due date itself it is not yet late). Instalments are aged per due line. `unapplied` is
money received and not matched to an invoice (advances, payments on account, credit notes):
it lowers the outstanding and is shown as its own (negative) bucket, so the buckets always
add up to the outstanding, to the cent.

Amounts here are integers in minor units of the company currency (cents for EUR): exact,
and summed without rounding; `model.to_decimal` turns them into Decimal for display.

Worked example, as of 2026-03-31, edges 30/60/90: due lines of 1 000.00 due 2026-04-15 (not
due), 500.00 due 2026-03-10 (21 days late: 1–30) and 300.00 due 2025-12-01 (120 days: >90),
unbilled 200.00, unapplied advance 250.00 -> outstanding 1 750.00 = −250 + 200 + 1 000 + 500
+ 300.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

UNAPPLIED = "unapplied"
UNBILLED = "unbilled"
NOT_DUE = "not_due"


@dataclass(frozen=True, slots=True)
class OpenLine:
    """What is left to pay of one due line as of the date (`residual`, minor units)."""

    kind: str  # "invoice", "debit" or "unbilled"
    due_on: date
    residual: int
    is_doubtful: bool = False


@dataclass(frozen=True, slots=True)
class AgedBalance:
    """One customer's (or the company's) aged balance as of a date, in minor units.

    `buckets` holds every column in order: unapplied (negative), unbilled, not due, then the
    overdue ranges; they add up to `outstanding`.
    """

    buckets: tuple[tuple[str, int], ...]
    oldest_overdue_days: int | None
    doubtful: int

    def bucket(self, label: str) -> int:
        """One column by its label (`"1-30"`, `"not_due"`, ...)."""
        return dict(self.buckets)[label]

    @property
    def unapplied(self) -> int:
        """Money received and not yet matched, as a positive amount."""
        return -self.bucket(UNAPPLIED)

    @property
    def unbilled(self) -> int:
        """Revenue earned and not yet invoiced."""
        return self.bucket(UNBILLED)

    @property
    def not_due(self) -> int:
        """Residuals of due lines not yet due."""
        return self.bucket(NOT_DUE)

    @property
    def overdue(self) -> int:
        """Residuals of due lines past their due date: the sum of the overdue ranges."""
        return sum(amount for _, amount in self.buckets[3:])

    @property
    def outstanding(self) -> int:
        """Unbilled + not due + overdue − unapplied: the sum of every bucket."""
        return sum(amount for _, amount in self.buckets)


def overdue_labels(edges: Sequence[int]) -> tuple[str, ...]:
    """Labels of the overdue ranges: edges (30, 60, 90) -> 1-30, 31-60, 61-90, 90+."""
    labels = []
    low = 1
    for edge in edges:
        labels.append(f"{low}-{edge}")
        low = edge + 1
    labels.append(f"{edges[-1]}+")
    return tuple(labels)


def bucket_labels(edges: Sequence[int]) -> tuple[str, ...]:
    """Every column of the aged balance, in order."""
    return (UNAPPLIED, UNBILLED, NOT_DUE, *overdue_labels(edges))


def aged_balance(
    lines: Iterable[OpenLine], *, unapplied: int, as_of: date, edges: Sequence[int]
) -> AgedBalance:
    """Sort open due lines into the buckets, as of `as_of`.

    Days late = as_of − due_on; a line is overdue from one day late. A line due on the as-of
    date is not due. Unbilled lines go to their own column whatever their date.

    >>> lines = [OpenLine("invoice", date(2026, 4, 15), 100000),
    ...          OpenLine("invoice", date(2026, 3, 10), 50000),
    ...          OpenLine("invoice", date(2025, 12, 1), 30000),
    ...          OpenLine("unbilled", date(2026, 3, 31), 20000)]
    >>> aged = aged_balance(lines, unapplied=25000, as_of=date(2026, 3, 31), edges=(30, 60, 90))
    >>> aged.buckets
    (('unapplied', -25000), ('unbilled', 20000), ('not_due', 100000), ('1-30', 50000), \
('31-60', 0), ('61-90', 0), ('90+', 30000))
    >>> aged.outstanding, aged.oldest_overdue_days
    (175000, 120)
    """
    labels = bucket_labels(edges)
    sums = dict.fromkeys(labels, 0)
    sums[UNAPPLIED] = -unapplied
    oldest: int | None = None
    doubtful = 0
    for line in lines:
        if line.is_doubtful:
            doubtful += line.residual
        label = bucket_of(line.kind, line.due_on, as_of, edges)
        sums[label] += line.residual
        if label not in (UNBILLED, NOT_DUE):
            late = (as_of - line.due_on).days
            oldest = late if oldest is None else max(oldest, late)
    return AgedBalance(
        buckets=tuple((label, sums[label]) for label in labels),
        oldest_overdue_days=oldest,
        doubtful=doubtful,
    )


def bucket_of(kind: str, due_on: date, as_of: date, edges: Sequence[int]) -> str:
    """The column of the aged balance an open due line falls in, as of `as_of`.

    >>> bucket_of("invoice", date(2026, 3, 10), date(2026, 3, 31), (30, 60, 90))
    '1-30'
    >>> bucket_of("invoice", date(2026, 3, 31), date(2026, 3, 31), (30, 60, 90))
    'not_due'
    """
    if kind == UNBILLED:
        return UNBILLED
    late = (as_of - due_on).days
    if late <= 0:
        return NOT_DUE
    return overdue_labels(edges)[_range_index(late, edges)]


def _range_index(days_late: int, edges: Sequence[int]) -> int:
    for index, edge in enumerate(edges):
        if days_late <= edge:
            return index
    return len(edges)


def combined(balances: Iterable[AgedBalance], edges: Sequence[int]) -> AgedBalance:
    """The company's aged balance: every customer's, column by column."""
    labels = bucket_labels(edges)
    sums = dict.fromkeys(labels, 0)
    oldest: int | None = None
    doubtful = 0
    for balance in balances:
        for label, amount in balance.buckets:
            sums[label] += amount
        doubtful += balance.doubtful
        if balance.oldest_overdue_days is not None:
            oldest = max(oldest or 0, balance.oldest_overdue_days)
    return AgedBalance(
        buckets=tuple((label, sums[label]) for label in labels),
        oldest_overdue_days=oldest,
        doubtful=doubtful,
    )


def outstanding(
    open_invoices: Iterable[Decimal],
    advances: Iterable[Decimal] = (),
    unbilled: Iterable[Decimal] = (),
) -> Decimal:
    """The seeds' calculator: unbilled + open invoices − advances and deposits.

    >>> outstanding([Decimal(25000)], [Decimal(5000)])
    Decimal('20000')
    >>> outstanding([Decimal(2000), Decimal(1500), Decimal(1500)], [Decimal(1000)])
    Decimal('4000')
    """
    return sum(unbilled, Decimal(0)) + sum(open_invoices, Decimal(0)) - sum(advances, Decimal(0))
