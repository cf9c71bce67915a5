"""The indicators of every customer and of the company as of a date, read from the store.

The store does the set-based part in SQL (residuals as of the date, sums per customer and
month); the metrics functions do the rest on plain values, customer by customer, so memory
holds one customer's open lines at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import groupby

from encours.metrics.dso import (
    DayCount,
    DsoMethod,
    EmptyMonth,
    PeriodLength,
    WalkOrder,
    accounting_period,
    monthly_periods,
)
from encours.metrics.indicators import DsoSettings, Indicators, PeriodFlows, indicators
from encours.metrics.outstanding import AgedBalance, OpenLine, aged_balance, combined
from encours.sync.config import Settings
from encours.sync.store import Store


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
    `balance_check` is None when its source states no balance for it.
    """

    source: str
    customer_id: str
    name: str
    figures: Indicators
    due_dates_assumed: bool
    drafts: int = 0
    balance_check: BalanceCheck | None = None

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
    """Every customer's indicators and the company's total, as of `as_of`."""
    currency = settings.company.currency
    edges = settings.metrics.aging_edges
    dso = dso_settings(settings)
    period, _ = accounting_period(as_of, dso.period, dso.day_count)
    oldest_month = monthly_periods(as_of, dso.months)[-1].start
    sales = store.monthly_sales(min(oldest_month, period.start), as_of)
    flows = store.period_flows(period.start, as_of)
    unapplied = store.unapplied(as_of)
    delays = store.payment_delays(as_of)
    assumed = store.due_dates_assumed()
    balances = dict(_aged_by_customer(store.open_due_lines(as_of), unapplied, as_of, edges))

    def figures_of(key: tuple[str, str | None], aged: AgedBalance, limit: int | None) -> Indicators:
        opening, period_sales, cash = flows.get(key, (0, 0, 0))
        return indicators(
            aged,
            as_of=as_of,
            currency=currency,
            settings=dso,
            monthly_sales=sales.get(key, {}),
            flows=PeriodFlows(opening=opening, sales=period_sales, cash=cash),
            payment_delay=delays.get(key),
            credit_limit=limit,
        )

    drafts = store.drafts(as_of)
    checks = _balance_checks(store, as_of, balances, unapplied)
    known = [
        (row["source"], row["external_id"], row["name"], row["credit_limit"])
        for row in store.customers()
    ]
    # Open items, credits, drafts and balances of a customer the source never described still
    # count, under its id.
    described = {(source, customer) for source, customer, _, _ in known}
    undescribed = (
        balances.keys()
        | {key for key in unapplied if key[1] is not None}
        | drafts.keys()
        | checks.keys()
    ) - described
    known += [(source, customer, customer, None) for source, customer in sorted(undescribed)]
    customers = []
    for source, customer_id, name, limit in known:
        key = (source, customer_id)
        aged = balances.pop(key, None) or aged_balance(
            (), unapplied=unapplied.get(key, 0), as_of=as_of, edges=edges
        )
        customers.append(
            CustomerFigures(
                source=source,
                customer_id=customer_id,
                name=name,
                figures=figures_of(key, aged, limit),
                due_dates_assumed=key in assumed,
                drafts=drafts.get(key, 0),
                balance_check=checks.get(key),
            )
        )
    total_aged = combined((c.figures.aged for c in customers), edges)
    total = indicators(
        total_aged,
        as_of=as_of,
        currency=currency,
        settings=dso,
        monthly_sales=_sum_months(sales.values()),
        flows=PeriodFlows(
            opening=sum(f[0] for f in flows.values()),
            sales=sum(f[1] for f in flows.values()),
            cash=sum(f[2] for f in flows.values()),
        ),
        payment_delay=(
            sum(d[0] for d in delays.values()),
            sum(d[1] for d in delays.values()),
        ),
    )
    return Figures(
        as_of=as_of,
        currency=currency,
        customers=tuple(customers),
        total=total,
        unidentified=sum(amount for (_, customer), amount in unapplied.items() if customer is None),
        quarantined=store.quarantine_count(),
    )


def _balance_checks(
    store: Store,
    as_of: date,
    balances: Mapping[tuple[str, str], AgedBalance],
    unapplied: Mapping[tuple[str, str | None], int],
) -> dict[tuple[str, str], BalanceCheck]:
    """Each balance a source states, beside the outstanding computed as of its own date.

    The outstanding is the sum of the customer's open residuals less its unapplied credits,
    as `aged_balance` adds it up; for the figures' own date it is the one just computed, and
    so for an earlier date when nothing was issued or received since (a FEC's balance is
    stated as of its last entry, and the figures are usually computed later).
    """
    stated = store.source_balances()
    outstanding_on: dict[date, dict[tuple[str, str | None], int]] = {}
    for day in {row[2] for row in stated}:
        # Nothing issued or received between the two dates: the outstanding is the same.
        if day == as_of or (day < as_of and not store.dated_between(day, as_of)):
            totals = {key: aged.outstanding for key, aged in balances.items()}
            for key, amount in unapplied.items():
                totals.setdefault(key, 0)
                if key not in balances:
                    totals[key] -= amount
        else:
            totals = _outstanding(store, day)
        outstanding_on[day] = totals
    return {
        (source, customer): BalanceCheck(
            as_of=day,
            source_balance=amount,
            outstanding=outstanding_on[day].get((source, customer), 0),
            basis=basis,
        )
        for source, customer, day, amount, basis in stated
    }


def _outstanding(store: Store, as_of: date) -> dict[tuple[str, str | None], int]:
    """Per customer: open residuals less unapplied credits, as of a date."""
    totals: dict[tuple[str, str | None], int] = {}
    for source, customer, _, _, residual, _ in store.open_due_lines(as_of):
        totals[(source, customer)] = totals.get((source, customer), 0) + residual
    for key, amount in store.unapplied(as_of).items():
        totals[key] = totals.get(key, 0) - amount
    return totals


def _aged_by_customer(
    rows: Iterator[tuple[str, str, str, str, int, int]],
    unapplied: dict[tuple[str, str | None], int],
    as_of: date,
    edges: tuple[int, ...],
) -> Iterator[tuple[tuple[str, str], AgedBalance]]:
    for key, lines in groupby(rows, key=lambda row: (row[0], row[1])):
        open_lines = (
            OpenLine(kind, date.fromisoformat(due_on), residual, bool(doubtful))
            for _, _, kind, due_on, residual, doubtful in lines
        )
        yield (
            key,
            aged_balance(open_lines, unapplied=unapplied.get(key, 0), as_of=as_of, edges=edges),
        )


def _sum_months(per_customer: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for months in per_customer:
        for month, amount in months.items():
            total[month] = total.get(month, 0) + amount
    return total
