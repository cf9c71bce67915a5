"""The indicators of one customer (or of the company) as of a date.

They come from its aged balance, its sales and its settled invoices: what `status` shows
and what is pushed.

Pure: the figures come in as arguments (minor units of the company currency, see
`outstanding.py`), DSO and the figures around it come from `dso.py`.

- DSO by the configured method, with the method stated beside it;
- best possible DSO: the same method applied to the not-due part alone; average days
  delinquent (ADD) = DSO − best possible DSO;
- collection rate over the accounting period = cash collected / (opening outstanding + sales);
- receivables turnover over the period = sales / average of opening and closing outstanding,
  and in days = period days / turnover;
- average payment delay: amount-weighted days between due date and settlement over the due
  lines settled by the as-of date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from encours.metrics.dso import (
    DayCount,
    DsoMethod,
    EmptyMonth,
    PeriodLength,
    WalkOrder,
    accounting_dso,
    accounting_period,
    average_days_delinquent,
    collection_rate,
    count_back_dso,
    monthly_periods,
    receivables_turnover,
)
from encours.metrics.outstanding import AgedBalance
from encours.model import to_decimal


@dataclass(frozen=True, slots=True)
class DsoSettings:
    """How DSO is computed (the `[metrics]` section)."""

    method: DsoMethod = DsoMethod.COUNT_BACK
    order: WalkOrder = WalkOrder.RECENT_FIRST
    months: int = 24
    empty_month: EmptyMonth = EmptyMonth.COUNT
    period: PeriodLength = PeriodLength.QUARTER
    day_count: DayCount = DayCount.CALENDAR


@dataclass(frozen=True, slots=True)
class PeriodFlows:
    """What moved during the accounting period, in minor units.

    The outstanding on the day before it started, the sales and the cash received during it.
    """

    opening: int
    sales: int
    cash: int


@dataclass(frozen=True, slots=True)
class Indicators:
    """Every figure of one customer or of the company, as of a date."""

    as_of: date
    currency: str
    aged: AgedBalance
    dso: Decimal | None
    dso_method: str
    best_possible_dso: Decimal | None
    average_days_delinquent: Decimal | None
    collection_rate: Decimal | None
    turnover_days: Decimal | None
    average_payment_delay: Decimal | None
    credit_limit: int | None = None


def indicators(
    aged: AgedBalance,
    *,
    as_of: date,
    currency: str,
    settings: DsoSettings,
    monthly_sales: Mapping[str, int],
    flows: PeriodFlows,
    payment_delay: tuple[int, int] | None = None,
    credit_limit: int | None = None,
) -> Indicators:
    """Compute the indicators of one customer (or the company) as of `as_of`.

    `monthly_sales` maps "YYYY-MM" to the month's sales up to `as_of` (for count-back);
    `flows.sales` are the sales of the accounting period ending at `as_of`; `payment_delay`
    is (sum of amount × days late, sum of amount) over settled due lines.
    """
    outstanding = to_decimal(aged.outstanding, currency)
    not_due = to_decimal(aged.not_due, currency)
    period, period_days = accounting_period(as_of, settings.period, settings.day_count)
    if settings.method is DsoMethod.COUNT_BACK:
        months = [
            (to_decimal(monthly_sales.get(f"{p.start:%Y-%m}", 0), currency), p.days)
            for p in monthly_periods(as_of, settings.months)
        ]

        def dso_of(amount: Decimal) -> Decimal | None:
            return count_back_dso(
                amount, months, order=settings.order, empty_month=settings.empty_month
            )

    else:
        period_sales = to_decimal(flows.sales, currency)

        def dso_of(amount: Decimal) -> Decimal | None:
            return accounting_dso(amount, period_sales, period_days)

    dso = dso_of(outstanding)
    best = dso_of(not_due)
    opening = to_decimal(flows.opening, currency)
    sales = to_decimal(flows.sales, currency)
    turnover = receivables_turnover(sales, (opening + outstanding) / 2)
    delay = None
    if payment_delay and payment_delay[1] > 0:
        delay = Decimal(payment_delay[0]) / Decimal(payment_delay[1])
    return Indicators(
        as_of=as_of,
        currency=currency,
        aged=aged,
        dso=dso,
        dso_method=settings.method.value,
        best_possible_dso=best,
        average_days_delinquent=average_days_delinquent(dso, best),
        collection_rate=collection_rate(to_decimal(flows.cash, currency), opening, sales),
        turnover_days=Decimal(period.days) / turnover if turnover else None,
        average_payment_delay=delay,
        credit_limit=credit_limit,
    )
