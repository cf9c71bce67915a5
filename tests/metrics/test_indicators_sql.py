"""The indicators in SQL (`sync/indicators_sql.py`) equal the Python reference of `metrics/`.

Random store contents (due lines of every kind, doubtful ones, instalments, allocations dated
before and after the as-of date, partial or beyond the amount, credits of every kind and
unidentified ones, sales over many months, drafts, credit limits, stated balances) go into a
fresh store made by the store's migrations, on DuckDB and on PostgreSQL. The reference reads
the same rows in plain Python exactly as the store's queries do (`open_due_lines`,
`unapplied`, `monthly_sales`, `period_flows`, `payment_delays`, `drafts`) and assembles them
as `figures.compute_figures` does, with `aged_balance`, `combined` and `indicators`. Every
customer's `Indicators` and the company total must be equal, Decimal digits included (their
reprs are compared), for random as-of dates and random settings.

`ENCOURS_EXAMPLES` sets the number of examples (default 100). `ENCOURS_MEASURE=1` also runs
the measurement on a million due lines (it asserts nothing but the figures' invariant).
"""

from __future__ import annotations

import os
import time
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scratch_stores import ScratchStores

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
from encours.metrics.outstanding import OpenLine, aged_balance, combined
from encours.sync.store.indicators_sql import indicator_rows

EXAMPLES = int(os.environ.get("ENCOURS_EXAMPLES", "100"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Each example makes its own store: the fixture only names the engine.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

SOURCES = ("fec", "api")
CUSTOMERS = ("C1", "C2", "C3", "C4")
START = date(2023, 1, 1)
SPAN_DAYS = 3 * 365
LINE_KINDS = ("invoice", "debit", "unbilled", "advance_use")
CREDIT_KINDS = ("payment", "credit_note", "advance")

Key = tuple[str, str]


@dataclass(frozen=True)
class Line:
    source: str
    invoice_id: str
    seq: int
    customer_id: str
    kind: str
    is_doubtful: bool
    issued_on: date
    due_on: date
    amount: int
    settled_on: date | None


@dataclass(frozen=True)
class Allocation:
    source: str
    customer_id: str
    credit_id: str
    invoice_id: str
    due_seq: int
    amount: int
    allocated_on: date


@dataclass(frozen=True)
class CreditRow:
    source: str
    external_id: str
    kind: str
    customer_id: str | None
    on_date: date
    amount: int


@dataclass(frozen=True)
class Sale:
    source: str
    customer_id: str | None
    booked_on: date
    amount: int


@dataclass
class Content:
    lines: list[Line] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    credits: list[CreditRow] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)
    drafts: list[tuple[str, str, date, int]] = field(default_factory=list)
    customers: list[tuple[str, str, int | None]] = field(default_factory=list)
    balances: list[tuple[str, str, date, int]] = field(default_factory=list)


# -- strategies --------------------------------------------------------------------------------

days = st.integers(-40, SPAN_DAYS + 40).map(lambda n: START + timedelta(days=n))
keys = st.tuples(st.sampled_from(SOURCES), st.sampled_from(CUSTOMERS))
# Round amounts from a short list make sums coincide: an outstanding equal to some months'
# sales, an allocation equal to the line, the walk's edge cases.
round_amounts = st.sampled_from((100, 200, 300, 500, 600, 1_000))
amounts = st.one_of(round_amounts, st.integers(1, 10_000_000), st.integers(-20_000, 20_000))


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Content, list[date]]:
    """A store's content and as-of dates: spread over three years, or dense.

    Dense: one to two customers, four months, round amounts only, so that outstandings equal
    sums of months' sales and the count-back walk meets its edge cases.
    """
    content = Content()
    if draw(st.booleans()):
        when, who, how_much = days, keys, amounts
        sale_amounts = st.one_of(
            round_amounts, st.just(0), st.integers(1, 10**7), st.integers(-(10**5), 10**5)
        )
        credit_amounts = st.one_of(round_amounts, st.integers(1, 10**7))
        sale_who = st.tuples(
            st.sampled_from(SOURCES), st.one_of(st.sampled_from((*CUSTOMERS, "C5")), st.none())
        )
    else:
        first = START + timedelta(days=draw(st.integers(0, SPAN_DAYS)))
        when = st.integers(0, 120).map(lambda n: first + timedelta(days=n))
        who = st.tuples(st.just("fec"), st.sampled_from(CUSTOMERS[:2]))
        how_much = round_amounts
        sale_amounts = st.one_of(round_amounts, st.just(0))
        credit_amounts = round_amounts
        sale_who = st.one_of(who, st.just(("fec", None)))
    for number in range(draw(st.integers(0, 14))):
        source, customer = draw(who)
        kind = draw(st.sampled_from(LINE_KINDS))
        doubtful = draw(st.booleans())
        issued = draw(when)
        for seq in range(draw(st.integers(1, 2))):  # instalments
            amount = draw(how_much)
            due = issued + timedelta(days=draw(st.integers(-15, 150)))
            allocations = []
            for number_alloc in range(draw(st.integers(0, 3))):
                share = draw(
                    st.one_of(st.just(amount), round_amounts, st.integers(1, max(1, abs(amount))))
                )
                if draw(st.booleans()):
                    on = draw(when)
                else:  # near the issue date, where as-of dates fall between allocations
                    on = issued + timedelta(days=draw(st.integers(0, 90)))
                allocations.append(
                    Allocation(source, customer, f"K{number}.{seq}.{number_alloc}",
                               f"I{number}", seq, share, on)
                )  # fmt: skip
            settled_mode = draw(st.sampled_from(("none", "covered", "any")))
            settled = None
            if settled_mode == "any":
                settled = draw(when)
            elif settled_mode == "covered":
                running = 0
                for allocation in sorted(allocations, key=lambda a: a.allocated_on):
                    running += allocation.amount
                    if running >= amount:
                        settled = allocation.allocated_on
                        break
            content.lines.append(
                Line(source, f"I{number}", seq, customer, kind, doubtful, issued, due, amount,
                     settled)
            )  # fmt: skip
            content.allocations += allocations
    for number in range(draw(st.integers(0, 8))):
        source, customer = draw(who)
        unidentified = draw(st.booleans()) and draw(st.booleans())
        content.credits.append(
            CreditRow(source, f"P{number}", draw(st.sampled_from(CREDIT_KINDS)),
                      None if unidentified else customer, draw(when),
                      draw(credit_amounts))
        )  # fmt: skip
    for _ in range(draw(st.integers(0, 30))):
        source, customer = draw(sale_who)
        content.sales.append(Sale(source, customer, draw(when), draw(sale_amounts)))
    for _ in range(draw(st.integers(0, 3))):
        source, customer = draw(who)
        content.drafts.append((source, customer, draw(when), draw(st.integers(0, 10**6))))
    described = draw(st.sets(keys, max_size=3))
    for source, customer in sorted(described):
        limit = draw(st.one_of(st.none(), st.integers(0, 10**7)))
        content.customers.append((source, customer, limit))
    for source, customer in sorted(draw(st.sets(keys, max_size=2))):
        content.balances.append((source, customer, draw(when), draw(st.integers(-(10**6), 10**6))))
    # As-of dates on, next to and whole periods after the content's own dates, where the
    # comparisons of the SQL (<=, <, BETWEEN) meet their edges.
    anchors = sorted(
        {x.issued_on for x in content.lines}
        | {x.due_on for x in content.lines}
        | {x.settled_on for x in content.lines if x.settled_on}
        | {a.allocated_on for a in content.allocations}
        | {c.on_date for c in content.credits}
        | {s.booked_on for s in content.sales}
    )
    near = (
        st.tuples(
            st.sampled_from(anchors), st.sampled_from((0, 1, 3, 6, 12)), st.integers(-1, 1)
        ).map(lambda shift: months_later(*shift))
        if anchors
        else days
    )
    return content, draw(st.lists(st.one_of(when, days, near), min_size=1, max_size=3))


def months_later(day: date, months: int, days_after: int) -> date:
    """`day` moved `months` months on (clamped to the month's end), then `days_after` days."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last)) + timedelta(days=days_after)


@st.composite
def dso_settings(draw: st.DrawFn) -> DsoSettings:
    return DsoSettings(
        method=draw(st.sampled_from(DsoMethod)),
        order=draw(st.sampled_from(WalkOrder)),
        months=draw(st.integers(1, 30)),
        empty_month=draw(st.sampled_from(EmptyMonth)),
        period=draw(st.sampled_from(PeriodLength)),
        day_count=draw(st.sampled_from(DayCount)),
    )


aging_edges = st.lists(st.integers(1, 200), min_size=1, max_size=5, unique=True).map(
    lambda values: tuple(sorted(values))
)
currencies = st.sampled_from(("EUR", "JPY", "KWD"))


# -- the database ------------------------------------------------------------------------------


def insert(con: duckdb.DuckDBPyConnection, content: Content) -> None:
    rows = {
        "due_lines (source, invoice_id, seq, customer_id, kind, is_doubtful, issued_on, due_on,"
        " amount, settled_on)": [
            (x.source, x.invoice_id, x.seq, x.customer_id, x.kind, x.is_doubtful, x.issued_on,
             x.due_on, x.amount, x.settled_on)
            for x in content.lines
        ],
        "allocations (source, customer_id, credit_id, invoice_id, due_seq, amount, allocated_on,"
        " rule)": [
            (a.source, a.customer_id, a.credit_id, a.invoice_id, a.due_seq, a.amount,
             a.allocated_on, "explicit")
            for a in content.allocations
        ],
        "credits (source, external_id, kind, customer_id, on_date, currency, amount_in_currency,"
        " amount, is_on_order, raw)": [
            (c.source, c.external_id, c.kind, c.customer_id, c.on_date, "EUR", "0", c.amount,
             False, "")
            for c in content.credits
        ],
        "sales (source, external_id, customer_id, booked_on, amount, raw)": [
            (s.source, f"S{n}", s.customer_id, s.booked_on, s.amount, "")
            for n, s in enumerate(content.sales)
        ],
        "drafts (source, external_id, customer_id, issued_on, currency, total_in_currency, total,"
        " raw)": [
            (source, f"D{n}", customer, on, "EUR", "0", total, "")
            for n, (source, customer, on, total) in enumerate(content.drafts)
        ],
        "customers (source, external_id, name, terms_end_of_month, credit_limit, raw)": [
            (source, customer, customer, False, limit, "")
            for source, customer, limit in content.customers
        ],
        "source_balances (source, customer_id, as_of, currency, amount_in_currency, amount,"
        " basis, raw)": [
            (source, customer, on, "EUR", "0", amount, "ledger", "")
            for source, customer, on, amount in content.balances
        ],
    }  # fmt: skip
    for table, values in rows.items():
        if values:  # one statement per table: DuckDB's executemany costs a query per row
            marks = ", ".join(["(" + ", ".join("?" * len(values[0])) + ")"] * len(values))
            parameters = [value for row in values for value in row]
            con.execute(f"INSERT INTO {table} VALUES {marks}", parameters)  # noqa: S608


# -- the reference: the store's queries in plain Python, assembled as compute_figures ----------


def reference(
    content: Content, as_of: date, currency: str, edges: tuple[int, ...], dso: DsoSettings
) -> tuple[dict[Key, Indicators], Indicators, dict[Key, int], int]:
    period, _ = accounting_period(as_of, dso.period, dso.day_count)
    oldest_month = monthly_periods(as_of, dso.months)[-1].start
    since = min(oldest_month, period.start)
    before = period.start - timedelta(days=1)

    # store.monthly_sales(since, as_of)
    sales: dict[tuple[str, str | None], dict[str, int]] = {}
    for sale in content.sales:
        if since <= sale.booked_on <= as_of:
            months = sales.setdefault((sale.source, sale.customer_id), {})
            month = f"{sale.booked_on:%Y-%m}"
            months[month] = months.get(month, 0) + sale.amount

    # store.period_flows(period.start, as_of)
    flows: dict[tuple[str, str | None], list[int]] = {}

    def flow(key: tuple[str, str | None], position: int, amount: int) -> None:
        flows.setdefault(key, [0, 0, 0])[position] += amount

    for line in content.lines:
        if line.issued_on <= before:
            flow((line.source, line.customer_id), 0, line.amount)
        if line.kind == "advance_use" and period.start <= line.issued_on <= as_of:
            flow((line.source, line.customer_id), 2, -line.amount)
    for credit in content.credits:
        if credit.on_date <= before:
            flow((credit.source, credit.customer_id), 0, -credit.amount)
        if credit.kind in ("payment", "advance") and period.start <= credit.on_date <= as_of:
            flow((credit.source, credit.customer_id), 2, credit.amount)
    for sale in content.sales:
        if period.start <= sale.booked_on <= as_of:
            flow((sale.source, sale.customer_id), 1, sale.amount)

    # store.unapplied(as_of)
    totals: dict[tuple[str, str | None], int] = {}
    for credit in content.credits:
        if credit.on_date <= as_of:
            key = (credit.source, credit.customer_id)
            totals[key] = totals.get(key, 0) + credit.amount
    for allocation in content.allocations:
        if allocation.allocated_on <= as_of:
            key = (allocation.source, allocation.customer_id)
            totals[key] = totals.get(key, 0) - allocation.amount
    unapplied = {key: amount for key, amount in totals.items() if amount}

    # store.payment_delays(as_of)
    delays: dict[tuple[str, str | None], tuple[int, int]] = {}
    for line in content.lines:
        if line.kind == "invoice" and line.settled_on is not None and line.settled_on <= as_of:
            weighted, amount = delays.get((line.source, line.customer_id), (0, 0))
            delays[(line.source, line.customer_id)] = (
                weighted + line.amount * (line.settled_on - line.due_on).days,
                amount + line.amount,
            )

    # store.open_due_lines(as_of), then _aged_by_customer
    open_lines: dict[Key, list[OpenLine]] = {}
    for line in content.lines:
        if line.issued_on > as_of or (line.settled_on is not None and line.settled_on <= as_of):
            continue
        residual = line.amount - sum(
            a.amount
            for a in content.allocations
            if (a.source, a.invoice_id, a.due_seq) == (line.source, line.invoice_id, line.seq)
            and a.allocated_on <= as_of
        )
        if residual != 0:
            open_lines.setdefault((line.source, line.customer_id), []).append(
                OpenLine(line.kind, line.due_on, residual, line.is_doubtful)
            )
    balances = {
        key: aged_balance(lines, unapplied=unapplied.get(key, 0), as_of=as_of, edges=edges)
        for key, lines in open_lines.items()
    }

    # store.drafts(as_of)
    drafts: dict[Key, int] = {}
    for source, customer, on, total in content.drafts:
        if on <= as_of:
            drafts[(source, customer)] = drafts.get((source, customer), 0) + total

    def figures_of(key: tuple[str, str | None], aged, limit: int | None) -> Indicators:  # noqa: ANN001
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

    checks = {(source, customer) for source, customer, _, _ in content.balances}
    known = sorted(content.customers)
    described = {(source, customer) for source, customer, _ in known}
    undescribed = (
        balances.keys() | {key for key in unapplied if key[1] is not None} | drafts.keys() | checks
    ) - described
    known += [(source, customer, None) for source, customer in sorted(undescribed)]
    customers: dict[Key, Indicators] = {}
    for source, customer, limit in known:
        key = (source, customer)
        aged = balances.pop(key, None) or aged_balance(
            (), unapplied=unapplied.get(key, 0), as_of=as_of, edges=edges
        )
        assert key not in customers
        customers[key] = figures_of(key, aged, limit)
    month_totals: dict[str, int] = {}
    for months in sales.values():
        for month, amount in months.items():
            month_totals[month] = month_totals.get(month, 0) + amount
    total = indicators(
        combined((c.aged for c in customers.values()), edges),
        as_of=as_of,
        currency=currency,
        settings=dso,
        monthly_sales=month_totals,
        flows=PeriodFlows(
            opening=sum(f[0] for f in flows.values()),
            sales=sum(f[1] for f in flows.values()),
            cash=sum(f[2] for f in flows.values()),
        ),
        payment_delay=(sum(d[0] for d in delays.values()), sum(d[1] for d in delays.values())),
    )
    unidentified = sum(amount for (_, customer), amount in unapplied.items() if customer is None)
    return customers, total, drafts, unidentified


# -- the property ------------------------------------------------------------------------------


def assert_same(
    stores: ScratchStores, content: Content, as_of: date, currency: str, edges, dso: DsoSettings
) -> None:
    con = stores.new()
    insert(con, content)
    got = indicator_rows(con, as_of=as_of, currency=currency, edges=edges, settings=dso)
    customers, total, drafts, unidentified = reference(content, as_of, currency, edges, dso)
    assert sorted(got.customers) == sorted(customers)
    for key, expected in customers.items():
        assert got.customers[key] == expected, key
        assert repr(got.customers[key]) == repr(expected), key  # the same digits and exponents
    assert got.total == total
    assert repr(got.total) == repr(total)
    assert got.drafts == drafts
    assert got.unidentified == unidentified
    for figures in (*got.customers.values(), got.total):
        assert sum(amount for _, amount in figures.aged.buckets) == figures.aged.outstanding


@PROPERTY
@given(
    world=worlds(),
    currency=currencies,
    edges=aging_edges,
    dso=dso_settings(),
)
@example(  # the DOMAIN's count-back example: 150 000 at 31 March → 31 + 28 + 40/70 × 31 days
    world=(Content(
        lines=[Line("fec", "I1", 1, "C1", "invoice", False, date(2025, 3, 1), date(2025, 4, 30),
                    15_000_000, None)],
        sales=[Sale("fec", "C1", date(2025, 3, 5), 6_000_000),
               Sale("fec", "C1", date(2025, 2, 5), 5_000_000),
               Sale("fec", "C1", date(2025, 1, 5), 7_000_000)],
    ), [date(2025, 3, 31)]),
    currency="EUR",
    edges=(30, 60, 90),
    dso=DsoSettings(),
)  # fmt: skip
def test_sql_indicators_equal_the_python_reference(scratch_stores, world, currency, edges, dso):
    content, as_of = world
    for day in as_of:
        assert_same(scratch_stores, content, day, currency, edges, dso)


def test_worked_example_of_the_module_docstring(scratch_stores):
    content = Content(
        lines=[
            Line("fec", "I1", 1, "C1", "invoice", False, date(2026, 3, 1), date(2026, 4, 15),
                 100_000, None),
            Line("fec", "I2", 1, "C1", "invoice", False, date(2026, 2, 8), date(2026, 3, 10),
                 50_000, None),
        ],
        allocations=[Allocation("fec", "C1", "P1", "I2", 1, 20_000, date(2026, 3, 20))],
        credits=[CreditRow("fec", "P1", "payment", "C1", date(2026, 3, 20), 45_000)],
        sales=[Sale("fec", "C1", date(2026, 3, 2), 60_000),
               Sale("fec", "C1", date(2026, 2, 2), 50_000),
               Sale("fec", "C1", date(2026, 1, 2), 70_000)],
    )  # fmt: skip
    con = scratch_stores.new()
    insert(con, content)
    got = indicator_rows(
        con, as_of=date(2026, 3, 31), currency="EUR", edges=(30, 60, 90), settings=DsoSettings()
    )
    c1 = got.customers[("fec", "C1")]
    assert c1.aged.buckets == (
        ("unapplied", -25_000), ("unbilled", 0), ("not_due", 100_000),
        ("1-30", 30_000), ("31-60", 0), ("61-90", 0), ("90+", 0),
    )  # fmt: skip
    assert c1.aged.outstanding == 105_000
    assert str(c1.dso) == "56.2"
    assert_same(scratch_stores, content, date(2026, 3, 31), "EUR", (30, 60, 90), DsoSettings())


# -- the measurement ---------------------------------------------------------------------------

# `range()` is DuckDB's (PostgreSQL: generate_series): only the measurement uses it.
SCALE_SQL = """
INSERT INTO customers (source, external_id, name, terms_end_of_month, credit_limit, raw)
SELECT 'fec', 'C' || i, 'C' || i, FALSE, CASE WHEN i % 3 = 0 THEN 5000000 END, ''
FROM range(5000) t(i);
INSERT INTO due_lines (source, invoice_id, seq, customer_id, kind, is_doubtful, issued_on,
    due_on, amount, settled_on)
SELECT 'fec', 'I' || i, 1, 'C' || (i % 5000),
    CASE WHEN i % 50 = 0 THEN 'unbilled' WHEN i % 70 = 0 THEN 'advance_use' ELSE 'invoice' END,
    i % 97 = 0, DATE '2022-01-01' + CAST(i % 1460 AS INTEGER),
    DATE '2022-01-01' + CAST(i % 1460 + 30 + i % 31 AS INTEGER), 10000 + (i * 7919) % 990000,
    CASE WHEN i % 4 <> 0 THEN DATE '2022-01-01' + CAST(i % 1460 + 20 + i % 60 AS INTEGER) END
FROM range(1000000) t(i);
INSERT INTO allocations (source, customer_id, credit_id, invoice_id, due_seq, amount,
    allocated_on, rule)
SELECT source, customer_id, 'P' || invoice_id, invoice_id, seq,
    CASE WHEN settled_on IS NULL THEN amount / 2 ELSE amount END,
    COALESCE(settled_on, issued_on + 15), 'explicit'
FROM due_lines WHERE kind = 'invoice' AND (settled_on IS NOT NULL OR amount % 3 = 0);
INSERT INTO credits (source, external_id, kind, customer_id, on_date, currency,
    amount_in_currency, amount, is_on_order, raw)
SELECT source, credit_id, CASE WHEN amount % 10 = 0 THEN 'credit_note' ELSE 'payment' END,
    customer_id, allocated_on, 'EUR', '0', amount, FALSE, ''
FROM allocations;
INSERT INTO credits (source, external_id, kind, customer_id, on_date, currency,
    amount_in_currency, amount, is_on_order, raw)
SELECT 'fec', 'A' || i, 'advance', CASE WHEN i % 10 = 0 THEN NULL ELSE 'C' || (i % 5000) END,
    DATE '2022-01-01' + CAST(i % 1460 AS INTEGER), 'EUR', '0', 50000, FALSE, ''
FROM range(20000) t(i);
INSERT INTO sales (source, external_id, customer_id, booked_on, amount, raw)
SELECT 'fec', 'S' || invoice_id, customer_id, issued_on, amount, ''
FROM due_lines WHERE kind = 'invoice';
INSERT INTO drafts (source, external_id, customer_id, issued_on, currency, total_in_currency,
    total, raw)
SELECT 'fec', 'D' || i, 'C' || (i % 5000), DATE '2025-06-01', 'EUR', '0', 120000, ''
FROM range(5000) t(i);
"""


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("ENCOURS_MEASURE") != "1", reason="set ENCOURS_MEASURE=1")
def test_measure_a_million_due_lines(capsys):
    con = ScratchStores(None).new()  # DuckDB-only SQL fills it
    con.execute(SCALE_SQL)
    count = con.execute("SELECT COUNT(*) FROM due_lines").fetchone()[0]
    for method in DsoMethod:
        dso = DsoSettings(method=method)
        started = time.perf_counter()
        got = indicator_rows(
            con, as_of=date(2025, 6, 30), currency="EUR", edges=(30, 60, 90), settings=dso
        )
        elapsed = time.perf_counter() - started
        with capsys.disabled():
            print(
                f"\n{count} due lines, {len(got.customers)} customers, {method.value}: "
                f"{elapsed:.3f} s, outstanding {got.total.aged.outstanding}, DSO {got.total.dso}"
            )
    assert sum(c.aged.outstanding for c in got.customers.values()) == got.total.aged.outstanding
