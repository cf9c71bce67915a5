"""Late-payment penalties (pénalités de retard, L441-10) and the recovery indemnity (D441-5).

Between professionals, penalties run from the day after the due date, with no reminder
needed, on what is left to pay of each due line:

    rate(day)   = max(ECB main refinancing rate + 10 points, 3 × legal interest rate)
    penalty     = Σ over each day late: residual(day) × rate(day) / 100 / 365

- The ECB rate is the one in force on 1 January for a day of the first half-year, on 1 July
  for a day of the second; the legal interest rate (taux de l'intérêt légal, the rate for
  creditors other than private persons) is set by half-year too. Both come from the
  configuration (`RateTable`), never from here.
- A day late is every day from the due date + 1 to the as-of date, or to the day of the
  payment that settles the line: a due line of 31 January paid on 10 February is 10 days
  late. A payment dated P still counts on day P, and lowers the residual from day P + 1.
- Day count: actual/365, as French practice writes it ("montant impayé × taux × nombre de
  jours de retard / 365"): every calendar day is 1/365 of the yearly rate, in a leap year too.
- Exact: the sum is kept as an exact Decimal (minor units × percent × days) and divided and
  rounded once per due line, half up to the minor unit (the cent). Never per day, never per
  half-year, so splitting a period changes nothing.
- The fixed recovery indemnity (40 €, D441-5) is due once per late invoice, however many of
  its due lines are late, and only from a business customer; it bears no VAT. A customer who
  is not a business (a consumer) owes neither indemnity nor L441-10 penalties here.

Amounts are integers in minor units of the company currency, as in `outstanding.py`.

Worked example (the test's): 10 000.00 due 2025-05-31, unpaid, as of 2025-08-31. June: 30 days
at 13.15 % (ECB 3.15 % on 1 January 2025 + 10; 3 × 3.71 % = 11.13 % is below), then July and
August: 62 days at 12.15 % (ECB 2.15 % on 1 July 2025 + 10; 3 × 2.76 % = 8.28 %):
1 000 000 × (13.15 × 30 + 12.15 × 62) / 36 500 = 31 446.58 -> 314.47 EUR, plus 40.00 EUR
of indemnity for a business customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

#: Points added to the ECB rate (L441-10, the rate that applies when the terms name none).
ECB_MARGIN = Decimal(10)
#: The floor: never below this many times the legal interest rate (L441-10).
LEGAL_RATE_FLOOR_MULTIPLE = Decimal(3)
#: Actual/365: every calendar day is one 365th of the yearly rate.
DAYS_PER_YEAR = 365
#: The fixed recovery indemnity (D441-5), in euros: 40.00.
RECOVERY_INDEMNITY_EUR = Decimal("40.00")


def half_year_start(day: date) -> date:
    """1 January or 1 July: the start of the half-year `day` is in.

    >>> half_year_start(date(2025, 9, 14))
    datetime.date(2025, 7, 1)
    """
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def next_half_year(start: date) -> date:
    """The start of the half-year after the one starting on `start`."""
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


@dataclass(frozen=True, slots=True)
class HalfYearRates:
    """The two rates of one half-year, in percent per year.

    `ecb` is the ECB main refinancing operations rate in force on `starts_on` (1 January or
    1 July); `legal` the legal interest rate of that half-year for professional creditors.

    >>> HalfYearRates(date(2025, 1, 1), ecb=Decimal("3.15"), legal=Decimal("3.71")).penalty
    Decimal('13.15')
    >>> HalfYearRates(date(2024, 7, 1), ecb=Decimal("4.25"), legal=Decimal("4.92")).penalty
    Decimal('14.76')
    """

    starts_on: date
    ecb: Decimal
    legal: Decimal

    @property
    def penalty(self) -> Decimal:
        """The penalty rate: ECB + 10 points, never below 3 × the legal rate."""
        return max(self.ecb + ECB_MARGIN, LEGAL_RATE_FLOOR_MULTIPLE * self.legal)


class UnknownRateError(ValueError):
    """A day late falls before the first half-year whose rates are known."""


@dataclass(frozen=True)
class RateTable:
    """The rates of every half-year known, oldest first.

    A day after the last half-year known takes that half-year's rates, and the result says
    so (`assumed`): the rates of a new half-year are published shortly before it starts, and
    a nightly run must not stop for it. A day before the first one is an error.
    """

    half_years: tuple[HalfYearRates, ...]

    def __post_init__(self) -> None:
        starts = [rates.starts_on for rates in self.half_years]
        if not starts:
            raise ValueError("the rate table needs at least one half-year")
        if any(start != half_year_start(start) for start in starts):
            raise ValueError("every half-year starts on 1 January or 1 July")
        if starts != sorted(set(starts)):
            raise ValueError("half-years must be given once each, oldest first")

    def rates_on(self, day: date) -> tuple[HalfYearRates, bool]:
        """The rates that apply on `day`, and whether they were carried forward (assumed).

        Raises:
            UnknownRateError: `day` is before the first half-year known.
        """
        start = half_year_start(day)
        known = None
        for rates in self.half_years:
            if rates.starts_on > start:
                break
            known = rates
        if known is None:
            raise UnknownRateError(
                f"no penalty rates for the half-year starting {start.isoformat()}: "
                "add it to [penalties.rates]"
            )
        return known, known.starts_on != start


@dataclass(frozen=True, slots=True)
class DueLineHistory:
    """One due line and what settled it, for its penalties as of a date.

    `payments`: (date, minor units) of every allocation to this line, in any order.
    `settled_on`: the day the source says the line was settled whole (a lettrage date),
    when that is known without allocations; None otherwise.
    """

    invoice_id: str
    seq: int
    due_on: date
    amount: int
    payments: tuple[tuple[date, int], ...] = ()
    settled_on: date | None = None


@dataclass(frozen=True, slots=True)
class LinePenalty:
    """The penalties of one due line as of a date.

    `days_late`: days with something left to pay after the due date (0: never late).
    `assumed_from`: the start of a half-year whose rates were carried forward, if any.
    """

    invoice_id: str
    seq: int
    days_late: int
    penalty: int
    assumed_from: date | None = None


def _residual_changes(line: DueLineHistory, as_of: date) -> list[tuple[date, int]]:
    """(first day it applies, amount paid) of every settlement dated on or before `as_of`."""
    changes = [(day + timedelta(days=1), units) for day, units in line.payments if day <= as_of]
    if line.settled_on is not None and line.settled_on <= as_of:
        changes.append((line.settled_on + timedelta(days=1), line.amount))
    return sorted(changes)


def line_penalty(line: DueLineHistory, *, as_of: date, rates: RateTable) -> LinePenalty:
    """Penalties of one due line from its due date + 1 to `as_of` (see the module docstring).

    >>> table = RateTable((HalfYearRates(date(2025, 1, 1), Decimal("3.15"), Decimal("3.71")),))
    >>> line = DueLineHistory("F1", 0, date(2025, 1, 31), 100000, ((date(2025, 2, 10), 100000),))
    >>> line_penalty(line, as_of=date(2025, 3, 31), rates=table)  # 1 000 × 13.15 % × 10 / 365
    LinePenalty(invoice_id='F1', seq=0, days_late=10, penalty=360, assumed_from=None)

    Raises:
        UnknownRateError: a day late is before the first half-year of `rates`.
    """
    changes = _residual_changes(line, as_of)
    residual = line.amount
    numerator = Decimal(0)  # minor units × percent × days: exact
    days_late = 0
    assumed_from: date | None = None
    day = line.due_on + timedelta(days=1)
    for change_on, paid in changes:  # what was paid by the due date is not late
        if change_on > day:
            break
        residual -= paid
    changes = [(change_on, paid) for change_on, paid in changes if change_on > day]
    while day <= as_of and residual > 0:
        half_year, assumed = rates.rates_on(day)
        if assumed and assumed_from is None:
            assumed_from = half_year_start(day)
        end = min(as_of + timedelta(days=1), next_half_year(half_year_start(day)))
        if changes and changes[0][0] < end:
            end = changes[0][0]
        days = (end - day).days
        numerator += residual * half_year.penalty * days
        days_late += days
        day = end
        while changes and changes[0][0] <= day:
            residual -= changes.pop(0)[1]
    penalty = (numerator / (100 * DAYS_PER_YEAR)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return LinePenalty(line.invoice_id, line.seq, days_late, int(penalty), assumed_from)


@dataclass(frozen=True)
class InvoicePenalties:
    """An invoice's penalties as of a date: per due line, and the recovery indemnity."""

    invoice_id: str
    lines: tuple[LinePenalty, ...]
    indemnity: int

    @property
    def is_late(self) -> bool:
        """Whether at least one of its due lines was late."""
        return any(line.days_late for line in self.lines)

    @property
    def penalty(self) -> int:
        """The penalties of every due line (each rounded on its own)."""
        return sum(line.penalty for line in self.lines)


def invoice_penalties(
    lines: Sequence[DueLineHistory],
    *,
    as_of: date,
    rates: RateTable,
    is_business: bool,
    indemnity: int,
) -> InvoicePenalties:
    """Penalties of one invoice's due lines, and its indemnity (`indemnity` minor units).

    A customer who is not a business owes neither: every line shows its days late and no
    penalty. The indemnity is due once when any line is late, whatever their number.

    >>> table = RateTable((HalfYearRates(date(2025, 1, 1), Decimal("3.15"), Decimal("3.71")),))
    >>> lines = [DueLineHistory("F1", 0, date(2025, 1, 31), 50000),
    ...          DueLineHistory("F1", 1, date(2025, 2, 28), 50000)]
    >>> result = invoice_penalties(lines, as_of=date(2025, 3, 31), rates=table,
    ...                            is_business=True, indemnity=4000)
    >>> [line.penalty for line in result.lines], result.indemnity
    ([1063, 558], 4000)
    """
    if not lines:
        raise ValueError("an invoice has at least one due line")
    invoice_id = lines[0].invoice_id
    computed = []
    for line in lines:
        result = line_penalty(line, as_of=as_of, rates=rates)
        if not is_business:
            result = LinePenalty(line.invoice_id, line.seq, result.days_late, 0)
        computed.append(result)
    late = any(result.days_late for result in computed)
    return InvoicePenalties(invoice_id, tuple(computed), indemnity if late and is_business else 0)
