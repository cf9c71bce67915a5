"""The indicators of every customer and of the company as of a date, read from the store.

The store computes them in SQL over whole tables (`store/indicators_sql.py`, tested equal to
the pure functions of `metrics/`, which stay the reference of each formula); this module
names the customers and checks each against its source's own balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from encours.metrics.credit import CreditPosition, credit_position
from encours.metrics.dso import DayCount, DsoMethod, EmptyMonth, PeriodLength, WalkOrder
from encours.metrics.dunning import NextStep
from encours.metrics.indicators import DsoSettings, Indicators
from encours.metrics.risk import RiskGrade, RiskMeasures, RiskThresholds, risk_grade
from encours.model import CURRENCY_EXPONENTS
from encours.sync.config import Settings
from encours.sync.store import Store
from encours.sync.store.indicators_sql import indicator_rows


@dataclass(frozen=True)
class BalanceCheck:
    """A customer's balance as its source states it, beside the outstanding encours computed.

    Both as of the source's date, in minor units; `difference` is encours' figure less the
    source's. Example: the FEC ledger gives C1 a balance of 120.00 on 2025-02-28 and encours'
    outstanding that day is 100.00: difference -20.00, and the customer is flagged.
    """

    as_of: date
    source_balance: int
    outstanding: int
    basis: str

    @property
    def difference(self) -> int:
        """The outstanding encours computed less the source's balance: zero when they agree."""
        return self.outstanding - self.source_balance


@dataclass(frozen=True)
class CustomerFigures:
    """One customer's indicators, with who it is.

    `drafts` is the total of its draft invoices (in no ledger, so in no other figure);
    `balance_check` is None when its source states no balance for it; `credit_limit` is the
    source's, else the configuration's (`[credit]`); `risk` its grade (`metrics/risk.py`);
    `next_dunning_step` the dunning plan's next step for it, when a sync pushes it
    (`sync/dunning.py`), else None.
    """

    source: str
    customer_id: str
    name: str
    figures: Indicators
    due_dates_assumed: bool
    drafts: int = 0
    balance_check: BalanceCheck | None = None
    credit_limit: int | None = None
    risk: RiskGrade = RiskGrade("A")
    next_dunning_step: NextStep | None = None

    @property
    def credit(self) -> CreditPosition:
        """Exposure (outstanding + drafts) against the credit limit."""
        return credit_position(self.figures.aged.outstanding, self.drafts, self.credit_limit)

    @property
    def key(self) -> str:
        """The customer's key across encours: `source:external_id`."""
        return f"{self.source}:{self.customer_id}"


@dataclass(frozen=True)
class Figures:
    """Everything `status` shows and `sync` pushes, as of one date."""

    as_of: date
    currency: str
    customers: tuple[CustomerFigures, ...]
    total: Indicators
    unidentified: int  # receipts tied to no customer, minor units
    quarantined: int

    @property
    def drafts(self) -> int:
        """The total of every customer's draft invoices."""
        return sum(c.drafts for c in self.customers)

    @property
    def checked(self) -> list[CustomerFigures]:
        """The customers whose source states a balance."""
        return [c for c in self.customers if c.balance_check is not None]

    @property
    def differing(self) -> list[CustomerFigures]:
        """The customers whose outstanding is not their source's balance, worst first."""
        return sorted(
            (c for c in self.checked if c.balance_check and c.balance_check.difference),
            key=lambda c: (-abs(c.balance_check.difference if c.balance_check else 0), c.key),
        )

    def worst_first(self) -> list[CustomerFigures]:
        """Customers by overdue, then outstanding, largest first; then by key."""
        return sorted(
            self.customers,
            key=lambda c: (-c.figures.aged.overdue, -c.figures.aged.outstanding, c.key),
        )


def dso_settings(settings: Settings) -> DsoSettings:
    """The `[metrics]` section as the metrics functions take it."""
    metrics = settings.metrics
    return DsoSettings(
        method=DsoMethod(metrics.dso_method),
        order=WalkOrder(metrics.dso_order),
        months=metrics.dso_months,
        empty_month=EmptyMonth(metrics.dso_empty_month),
        period=PeriodLength(metrics.accounting_period),
        day_count=DayCount(metrics.day_count),
    )


def compute_figures(store: Store, settings: Settings, as_of: date) -> Figures:
    """Every customer's indicators and the company's total, as of `as_of`.

    The indicators come from set-based SQL (`store/indicators_sql.py`, proven equal to the
    functions of `metrics/`); here they get their customers' names and the checks against
    each source's own balance.
    """
    rows = indicator_rows(
        store.db,
        as_of=as_of,
        currency=settings.company.currency,
        edges=settings.metrics.aging_edges,
        settings=dso_settings(settings),
    )
    checks = _balance_checks(store, as_of, rows.customers)
    assumed = store.due_dates_assumed()
    named = {(row.source, row.external_id): row.name for row in store.customers()}
    # Open items, credits, drafts and balances of a customer the source never described still
    # count, under its id; described customers first, by source and id.
    keys = sorted(rows.customers, key=lambda key: (key not in named, key))
    limits = _credit_limits(settings)
    dso_before = store.snapshot_dso(as_of - timedelta(days=DSO_TREND_DAYS))
    customers = []
    for source, customer_id in keys:
        customer = CustomerFigures(
            source=source,
            customer_id=customer_id,
            name=named.get((source, customer_id), customer_id),
            figures=rows.customers[(source, customer_id)],
            due_dates_assumed=(source, customer_id) in assumed,
            drafts=rows.drafts.get((source, customer_id), 0),
            balance_check=checks.get((source, customer_id)),
        )
        limit = customer.figures.credit_limit
        if limit is None:
            limit = limits.get(customer.key, limits.get(customer_id))
        customer = replace(customer, credit_limit=limit)
        measures = risk_measures(customer, settings.metrics.aging_edges, dso_before)
        customers.append(replace(customer, risk=risk_grade(measures, _thresholds(settings))))
    return Figures(
        as_of=as_of,
        currency=settings.company.currency,
        customers=tuple(customers),
        total=rows.total,
        unidentified=rows.unidentified,
        quarantined=store.quarantine_count(),
    )


#: The DSO trend of the risk grade compares with the last snapshot at least this old.
DSO_TREND_DAYS = 90


def _credit_limits(settings: Settings) -> dict[str, int]:
    """`[credit] limits` in minor units, by customer id or `source:id`."""
    scale = Decimal(10) ** CURRENCY_EXPONENTS[settings.company.currency]
    return {key: int(limit * scale) for key, limit in settings.credit.limits.items()}


def _thresholds(settings: Settings) -> RiskThresholds:
    risk = settings.risk
    return RiskThresholds(
        payment_delay_days=risk.payment_delay_days,
        late_beyond_60_share=risk.late_beyond_60_share,
        dso_rise_days=risk.dso_rise_days,
        limit_usage=risk.limit_usage,
    )


def risk_measures(
    customer: CustomerFigures, edges: tuple[int, ...], dso_before: Mapping[str, Decimal]
) -> RiskMeasures:
    """The four measures of the risk grade for one customer (see `metrics/risk.py`).

    Late beyond 60 days sums the overdue ranges past the aged balance's first edge of 60
    days or more (with edges 30/60/90: 61-90 and 90+), over not due + overdue. The DSO rise
    counts only for a customer with something overdue now whose DSO then was above 0: a DSO
    that grows on invoices not yet due, or from nothing owed, is new business, not a trend.
    """
    figures = customer.figures
    aged = figures.aged
    after = next((edge for edge in edges if edge >= 60), None)
    share = None
    if after is not None and aged.not_due + aged.overdue > 0:
        lower_edges = (0, *edges)
        beyond = sum(
            amount
            for lower, (_, amount) in zip(lower_edges, aged.buckets[3:], strict=True)
            if lower >= after
        )
        share = Decimal(beyond) / Decimal(aged.not_due + aged.overdue)
    before = dso_before.get(customer.key)
    rise = None
    if figures.dso is not None and before is not None and before > 0 and aged.overdue > 0:
        rise = figures.dso - before
    return RiskMeasures(
        payment_delay_days=figures.average_payment_delay,
        late_beyond_60_share=share,
        dso_rise_days=rise,
        limit_usage=customer.credit.usage,
        late_after_days=after or 60,
    )


def _balance_checks(
    store: Store, as_of: date, computed: Mapping[tuple[str, str], Indicators]
) -> dict[tuple[str, str], BalanceCheck]:
    """Each balance a source states, beside the outstanding computed as of its own date.

    The outstanding is the sum of the customer's open residuals less its unapplied credits;
    for the figures' own date it is the one just computed, and so for an earlier date when
    nothing was issued or received since (a FEC's balance is stated as of its last entry,
    and the figures are usually computed later).
    """
    stated = store.source_balances()
    outstanding_on: dict[date, Mapping[tuple[str, str | None], int]] = {}
    for day in {row.as_of for row in stated}:
        if day == as_of or (day < as_of and not store.dated_between(day, as_of)):
            outstanding_on[day] = {key: ind.aged.outstanding for key, ind in computed.items()}
        else:
            outstanding_on[day] = _outstanding(store, day)
    return {
        (row.source, row.customer_id): BalanceCheck(
            as_of=row.as_of,
            source_balance=row.amount,
            outstanding=outstanding_on[row.as_of].get((row.source, row.customer_id), 0),
            basis=row.basis,
        )
        for row in stated
    }


def _outstanding(store: Store, as_of: date) -> dict[tuple[str, str | None], int]:
    """Per customer: open residuals less unapplied credits, as of a date."""
    totals: dict[tuple[str, str | None], int] = {}
    for source, customer, _, _, residual, _ in store.open_due_lines(as_of):
        totals[(source, customer)] = totals.get((source, customer), 0) + residual
    for key, amount in store.unapplied(as_of).items():
        totals[key] = totals.get(key, 0) - amount
    return totals
