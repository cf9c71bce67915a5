"""DSO (days sales outstanding) and the figures around it, on plain Decimal amounts.

Two methods, and the method is always stated next to the figure:

- **count-back** (épuisement du chiffre d'affaires), the default: walk back month by month from
  the month of the as-of date, using up the outstanding against each month's sales.
  The standard walk is most recent first (`WalkOrder.RECENT_FIRST`). `WalkOrder.OLDEST_FIRST`
  is a named, non-default variant that reproduces the seed document's Oct–Dec 2021 table.
- **accounting** (méthode comptable): outstanding / sales of the period × days of the period,
  the period being a month, quarter, half-year or year ending at the as-of date, counted in
  calendar days or with the Banque de France 360-day convention (`DayCount.BANK_360`).

Every function is pure: no I/O, no clock. Amounts are `Decimal`, never float. Results are
unrounded Decimals: a ratio × days is computed as amount × days / sales so that exact figures
stay exact, and a division carries the current decimal context's precision (28 significant
digits by default); `round_days` rounds for presentation only. A figure that cannot be
computed (no sales, zero denominator) is `None`, never a division error.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import pairwise

ZERO = Decimal(0)
HUNDRED = Decimal(100)
DAYS_PER_YEAR = 365
DAYS_PER_BANK_MONTH = 30  # the 360-day convention: 12 months of 30 days
PRESENTATION_QUANTUM = Decimal("0.01")

_MONTH_KEY = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days, `start` and `end` both included.

    >>> Period(date(2025, 1, 1), date(2025, 3, 31)).days
    90
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        """Calendar days in the period: end − start + 1."""
        return (self.end - self.start).days + 1


class WalkOrder(StrEnum):
    """Order in which the count-back method uses up the months' sales."""

    RECENT_FIRST = "recent-first"  # the standard method
    OLDEST_FIRST = "oldest-first"  # the seed document's variant, to reproduce its table


class EmptyMonth(StrEnum):
    """What the count-back walk does with a month whose sales are zero or negative."""

    COUNT = "count"  # add the month's full days and go on
    STOP = "stop"  # stop the walk there


class DsoMethod(StrEnum):
    """How a DSO figure is computed; shown next to the figure."""

    COUNT_BACK = "count-back"
    ACCOUNTING = "accounting"


class DayCount(StrEnum):
    """How the days of an accounting period are counted."""

    CALENDAR = "calendar"  # the period's calendar days
    BANK_360 = "360"  # 30 days a month, 360 a year (Banque de France convention)


class PeriodLength(StrEnum):
    """Length of the accounting-method period ending at the as-of date."""

    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half-year"
    YEAR = "year"


_MONTHS_IN = {
    PeriodLength.MONTH: 1,
    PeriodLength.QUARTER: 3,
    PeriodLength.HALF_YEAR: 6,
    PeriodLength.YEAR: 12,
}


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    """The (year, month) `delta` months away from (year, month); delta may be negative."""
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def monthly_periods(as_of: date, count: int) -> list[Period]:
    """The `count` monthly periods of a count-back walk ending at `as_of`, most recent first.

    The first period is the month of `as_of` from its 1st up to `as_of` (a partial month, its
    days so far); the others are whole previous calendar months.

    Example: as of 15 March 2024, three periods are 1–15 March (15 days), February 2024
    (29 days, a leap year) and January 2024 (31 days).

    >>> [p.days for p in monthly_periods(date(2024, 3, 15), 3)]
    [15, 29, 31]

    Raises:
        ValueError: if `count` is negative.
    """
    if count < 0:
        raise ValueError(f"count must be zero or more, not {count}")
    if count == 0:
        return []
    periods = [Period(as_of.replace(day=1), as_of)]
    year, month = as_of.year, as_of.month
    for _ in range(count - 1):
        year, month = _shift_month(year, month, -1)
        periods.append(Period(date(year, month, 1), date(year, month, _last_day(year, month))))
    return periods


def count_back_dso(
    outstanding: Decimal,
    months: Sequence[tuple[Decimal, int]],
    *,
    order: WalkOrder = WalkOrder.RECENT_FIRST,
    empty_month: EmptyMonth = EmptyMonth.COUNT,
) -> Decimal | None:
    """DSO by the count-back method (épuisement du chiffre d'affaires).

    `months` are `(sales, days)` pairs given **most recent first**. The walk goes in that order
    for `WalkOrder.RECENT_FIRST` (the standard) or in reverse for `WalkOrder.OLDEST_FIRST` (the
    seed document's variant). With `remaining` starting at `outstanding`, for each month:

    - sales > 0 and remaining >= sales: remaining −= sales, DSO += days; the walk stops when
      remaining reaches exactly 0;
    - sales > 0 and remaining < sales: DSO += remaining / sales × days, and the walk stops;
    - sales <= 0: `EmptyMonth.COUNT` adds the full days and goes on, `EmptyMonth.STOP` stops.

    Edge cases:

    - no month with positive sales (including no months at all): None, there is nothing to
      measure the outstanding against (this is checked first);
    - outstanding <= 0: Decimal(0);
    - the months run out while outstanding remains: the days accumulated so far. That figure
      is a floor of the true DSO; give enough months to use up the outstanding.

    No rounding: use `round_days` to present the figure.

    Example: outstanding 150 000; March 60 000 (31 d), February 50 000 (28 d), January
    70 000 (31 d) → 31 + 28 + 40 000 / 70 000 × 31 = 76.71 days once rounded.

    >>> months = [(Decimal(60000), 31), (Decimal(50000), 28), (Decimal(70000), 31)]
    >>> round_days(count_back_dso(Decimal(150000), months))
    Decimal('76.71')

    Raises:
        ValueError: if a month has fewer than 1 day.
    """
    order = WalkOrder(order)
    empty_month = EmptyMonth(empty_month)
    if any(days < 1 for _, days in months):
        raise ValueError("every month of a count-back walk must have at least 1 day")
    if not any(sales > 0 for sales, _ in months):
        return None
    if outstanding <= 0:
        return ZERO
    walk = months if order is WalkOrder.RECENT_FIRST else list(reversed(months))
    remaining = outstanding
    total = ZERO
    for sales, days in walk:
        if sales <= 0:
            if empty_month is EmptyMonth.STOP:
                break
            total += days
            continue
        if remaining < sales:
            total += remaining * days / sales
            break
        remaining -= sales
        total += days
        if remaining == 0:
            break
    return total


def accounting_dso(outstanding: Decimal, sales: Decimal, days: int) -> Decimal | None:
    """DSO by the accounting method: outstanding / sales × days; None when sales <= 0.

    A negative outstanding (the customer is in credit) gives a negative figure, as the formula
    says. No rounding. Example: outstanding 30 000, sales of the last 90 days 60 000 → 45 days.

    >>> accounting_dso(Decimal(30000), Decimal(60000), 90)
    Decimal('45')
    """
    if sales <= 0:
        return None
    return outstanding * days / sales


def accounting_period(
    as_of: date, length: PeriodLength, day_count: DayCount = DayCount.CALENDAR
) -> tuple[Period, int]:
    """The accounting-method period of `length` ending at `as_of`, and its number of days.

    The period runs from the day after the same day N months earlier (N = 1, 3, 6, 12) up to
    `as_of`, both included. When `as_of` is the last day of its month the period is whole
    calendar months (the anchor is the last day of the month N months earlier); otherwise a day
    that does not exist N months earlier is clamped to that month's last day (31 May → 28 Feb).

    Days: `DayCount.CALENDAR` counts the period's calendar days; `DayCount.BANK_360` counts
    30 per month (month 30, quarter 90, half-year 180, year 360).

    Example: the quarter ending 31 March 2025 is 1 January – 31 March 2025, 90 calendar days,
    or 90 under the 360 convention; the quarter ending 31 May 2025 is 1 March – 31 May, 92 days.

    >>> period, days = accounting_period(date(2025, 5, 31), PeriodLength.QUARTER)
    >>> period.start, days
    (datetime.date(2025, 3, 1), 92)
    """
    months = _MONTHS_IN[PeriodLength(length)]
    year, month = _shift_month(as_of.year, as_of.month, -months)
    last = _last_day(year, month)
    is_month_end = as_of.day == _last_day(as_of.year, as_of.month)
    anchor = date(year, month, last if is_month_end else min(as_of.day, last))
    period = Period(anchor + timedelta(days=1), as_of)
    if DayCount(day_count) is DayCount.BANK_360:
        return period, DAYS_PER_BANK_MONTH * months
    return period, period.days


def best_possible_dso(not_due: Decimal, sales: Decimal, days: int) -> Decimal | None:
    """Best possible DSO: not-due outstanding / sales × days; None when sales <= 0.

    Use the same sales and days as the DSO it sits beside. No rounding. Example: not due
    20 000, sales 60 000 over 90 days → 30 days.

    >>> best_possible_dso(Decimal(20000), Decimal(60000), 90)
    Decimal('30')
    """
    return accounting_dso(not_due, sales, days)


def average_days_delinquent(dso: Decimal | None, best: Decimal | None) -> Decimal | None:
    """Average days delinquent (ADD): DSO − best possible DSO; None if either is None.

    No rounding. Example: DSO 45, best possible 30 → 15 days.

    >>> average_days_delinquent(Decimal(45), Decimal(30))
    Decimal('15')
    """
    if dso is None or best is None:
        return None
    return dso - best


def collection_effectiveness_index(
    opening_ar: Decimal, sales: Decimal, closing_ar: Decimal, closing_not_due: Decimal
) -> Decimal | None:
    """Collection effectiveness index (CEI), in percent, usually for one month.

    CEI = (opening AR + sales − closing AR) / (opening AR + sales − closing not-due AR) × 100.
    None when the denominator is zero or negative (nothing was collectible). No rounding.

    Example: opening 100 000, sales 50 000, closing 90 000 of which 40 000 not due →
    60 000 / 110 000 × 100 = 54.55 % once rounded.

    >>> round_days(collection_effectiveness_index(
    ...     Decimal(100000), Decimal(50000), Decimal(90000), Decimal(40000)))
    Decimal('54.55')
    """
    collectible = opening_ar + sales - closing_not_due
    if collectible <= 0:
        return None
    return (opening_ar + sales - closing_ar) / collectible * HUNDRED


def collection_rate(
    cash_collected: Decimal, opening_outstanding: Decimal, sales: Decimal
) -> Decimal | None:
    """Collection rate (taux de recouvrement), as a fraction (0.8 means 80 %).

    rate = cash collected in the period / (opening outstanding + sales of the period).
    None when the denominator is zero or negative. No rounding.

    Example: 60 000 collected, 40 000 opening outstanding, 35 000 sales → 60 000 / 75 000 = 0.8.

    >>> collection_rate(Decimal(60000), Decimal(40000), Decimal(35000))
    Decimal('0.8')
    """
    base = opening_outstanding + sales
    if base <= 0:
        return None
    return cash_collected / base


def receivables_turnover(sales: Decimal, average_outstanding: Decimal) -> Decimal | None:
    """Receivables turnover: sales / average outstanding; None when the average is <= 0.

    No rounding. Example: yearly sales 730 000, average outstanding 100 000 → 7.3 turns.

    >>> receivables_turnover(Decimal(730000), Decimal(100000))
    Decimal('7.3')
    """
    if average_outstanding <= 0:
        return None
    return sales / average_outstanding


def turnover_days(turnover: Decimal | None) -> Decimal | None:
    """Receivables turnover in days: 365 / turnover; None when turnover is None or <= 0.

    No rounding. Example: 7.3 turns → 365 / 7.3 = 50 days.

    >>> round_days(turnover_days(Decimal("7.3")))
    Decimal('50.00')
    """
    if turnover is None or turnover <= 0:
        return None
    return DAYS_PER_YEAR / turnover


def average_payment_delay(paid: Iterable[tuple[Decimal, date, date]]) -> Decimal | None:
    """Amount-weighted average payment delay in days over paid invoices.

    Each item is `(amount, due_on, paid_on)`; delay = Σ amount × (paid_on − due_on).days /
    Σ amount. Early payments count negative. None when the amounts add up to zero or less
    (no invoice, or nothing paid). No rounding.

    Example: 1 000 paid 10 days late and 3 000 paid 2 days early →
    (1 000 × 10 + 3 000 × −2) / 4 000 = 1 day.

    >>> average_payment_delay([
    ...     (Decimal(1000), date(2025, 1, 31), date(2025, 2, 10)),
    ...     (Decimal(3000), date(2025, 1, 31), date(2025, 1, 29)),
    ... ])
    Decimal('1')
    """
    weighted = ZERO
    amount_total = ZERO
    for amount, due_on, paid_on in paid:
        weighted += amount * (paid_on - due_on).days
        amount_total += amount
    if amount_total <= 0:
        return None
    return weighted / amount_total


def round_days(value: Decimal | None) -> Decimal | None:
    """Round a figure to 0.01, half up, for presentation; None stays None.

    >>> round_days(Decimal("67.885"))
    Decimal('67.89')
    """
    if value is None:
        return None
    return value.quantize(PRESENTATION_QUANTUM, rounding=ROUND_HALF_UP)


def _parse_month_key(key: str) -> tuple[int, int]:
    match = _MONTH_KEY.match(key)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month {key!r} is not of the form YYYY-MM, like 2025-03")
    return int(match.group(1)), int(match.group(2))


def calc_dso(
    outstanding: Decimal,
    monthly_sales: Mapping[str, Decimal],
    *,
    method: DsoMethod = DsoMethod.COUNT_BACK,
    order: WalkOrder = WalkOrder.RECENT_FIRST,
    empty_month: EmptyMonth = EmptyMonth.COUNT,
) -> Decimal | None:
    """DSO from an outstanding and sales per month, for the command-line calculator.

    Keys are months `YYYY-MM` (surrounding spaces and a one-digit month are accepted, so
    `2025-3` and `2025-03` are the same month); each month counts its calendar days. The months
    must be consecutive: give 0 for a month without sales.

    - count-back: `count_back_dso` over the months, most recent first, walked in `order`;
    - accounting: `accounting_dso(outstanding, Σ sales, Σ days)`.

    No rounding. Example (the seed document's table): outstanding 150 000, sales 2021-10
    50 000, 2021-11 80 000, 2021-12 90 000 → 53.50 days walking most recent first (standard),
    67.89 days oldest first (the seed's variant).

    >>> sales = {"2021-10": Decimal(50000), "2021-11": Decimal(80000), "2021-12": Decimal(90000)}
    >>> round_days(calc_dso(Decimal(150000), sales))
    Decimal('53.50')
    >>> round_days(calc_dso(Decimal(150000), sales, order=WalkOrder.OLDEST_FIRST))
    Decimal('67.89')

    Raises:
        ValueError: if there are no months, a key is malformed, a month is given twice, the
            months are not consecutive, or `method` / `order` is unknown.
        TypeError: if an amount is a float.
    """
    method = DsoMethod(method)
    order = WalkOrder(order)
    empty_month = EmptyMonth(empty_month)
    if not monthly_sales:
        raise ValueError("no monthly sales given: give at least one month, like 2025-03=12000")
    for amount in (outstanding, *monthly_sales.values()):
        if isinstance(amount, float):
            raise TypeError("amounts must be Decimal, never float")
    by_month: dict[tuple[int, int], Decimal] = {}
    for key, sales in monthly_sales.items():
        month = _parse_month_key(key)
        if month in by_month:
            raise ValueError(f"month {month[0]:04d}-{month[1]:02d} is given twice")
        by_month[month] = sales
    recent_first = sorted(by_month, reverse=True)
    for later, earlier in pairwise(recent_first):
        if _shift_month(*later, -1) != earlier:
            raise ValueError(
                f"months must be consecutive: {earlier[0]:04d}-{earlier[1]:02d} is followed by "
                f"{later[0]:04d}-{later[1]:02d}; give 0 for a month without sales"
            )
    months = [(by_month[m], _last_day(*m)) for m in recent_first]
    if method is DsoMethod.ACCOUNTING:
        total_sales = sum((sales for sales, _ in months), ZERO)
        return accounting_dso(outstanding, total_sales, sum(days for _, days in months))
    return count_back_dso(outstanding, months, order=order, empty_month=empty_month)
