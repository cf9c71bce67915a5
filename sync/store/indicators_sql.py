"""The indicators of every customer and of the company as of a date, as set-based SQL.

The same figures as the pure functions of `metrics/` fed by the store customer by customer
(`figures.compute_figures`), computed instead by one SQL statement over whole tables: the
residuals, the aged balance, the flows of the accounting period, the payment delays and the
count-back walk are aggregates and window functions; Python then does O(customers) work, the
last Decimal division of each ratio, with the very functions of `metrics/dso.py`, so that
every figure is the reference's to the last digit. The functions of `metrics/` stay the
documented reference of each formula; `tests/metrics/test_indicators_sql.py` proves the two
equal on random stores, dates and settings.

The formulas, as of a date D (amounts are BIGINT minor units, summed exactly):

- residual of a due line = amount − Σ allocations of that line dated ≤ D; the line is open
  when issued ≤ D, not settled by D (`settled_on` NULL or > D) and its residual is not 0;
- unapplied = Σ credits received ≤ D − Σ allocations dated ≤ D, per customer; customer NULL
  is the company's unidentified receipts, in no customer's figures;
- aged balance: an open line of kind `unbilled` goes to its own column; any other is not due
  when D − due_on ≤ 0, else in the first overdue range whose edge is ≥ D − due_on (the last
  range has no edge); doubtful = Σ residuals of open doubtful lines; oldest overdue = the
  largest D − due_on over open overdue lines;
  outstanding = unbilled + not due + overdue − unapplied;
- accounting period P = `accounting_period(D, period, day_count)`: opening = Σ due lines
  issued before P − Σ credits received before P; sales = Σ sales booked in P; cash =
  Σ payments and advances received in P − Σ `advance_use` lines issued in P;
- payment delay = Σ amount × (settled_on − due_on) / Σ amount over `invoice` lines settled ≤ D;
- count-back DSO of an amount X > 0 over months m₀, m₁, … in walk order, with
  used(k) = Σ positive sales of the months before mₖ: month mₖ is reached when X > used(k)
  (and, when empty months stop the walk, no month before it had sales ≤ 0); a reached month
  with sales > 0 adds its days when X − used(k) ≥ sales, else (X − used(k)) / sales × days
  and is the last one; a reached month with sales ≤ 0 adds its days when empty months count.
  None when no month has positive sales, 0 when X ≤ 0 (`metrics.dso.count_back_dso`).

Worked example, as of 2026-03-31, edges 30/60/90, count-back over 3 months: customer C1 has
due lines of 1 000.00 due 2026-04-15 and 500.00 due 2026-03-10, an allocation of 200.00 on
the second dated 2026-03-20, a payment of 450.00 received 2026-03-20 (so 250.00 unapplied),
sales of 600.00 in March, 500.00 in February and 700.00 in January. Residuals: 1 000.00 not
due, 300.00 in 1–30 (21 days late); outstanding = 1 300.00 − 250.00 = 1 050.00; the walk
uses March (31 days, 450.00 left) and then 450 / 500 of February's 28 days: DSO = 31 + 25.2
= 56.2 days.

The SQL keeps to the dialect DuckDB and PostgreSQL share (CTEs, `FILTER (WHERE ...)`,
`WINDOW`, `IS NOT DISTINCT FROM`, DATE − DATE as whole days, `EXTRACT`); the values of the
query (dates, edges, settings) are typed Python values written as SQL literals, so the same
text suits either engine whatever its driver's placeholder style. No DuckDB-only construct is
used; the tests run it on DuckDB only (PostgreSQL returns sums as NUMERIC: every figure goes
through `int()` before use, for that reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from encours.metrics.dso import (
    ZERO,
    DsoMethod,
    EmptyMonth,
    WalkOrder,
    accounting_dso,
    accounting_period,
    average_days_delinquent,
    collection_rate,
    monthly_periods,
    receivables_turnover,
)
from encours.metrics.indicators import DsoSettings, Indicators
from encours.metrics.outstanding import AgedBalance, bucket_labels
from encours.model import to_decimal

CustomerKey = tuple[str, str]


class Connection(Protocol):
    """What the module needs of a database connection: `execute(sql).fetchall()`.

    A DuckDB connection has it; so has a psycopg 3 connection.
    """

    def execute(self, query: str, /) -> Any:  # noqa: D102 - a protocol, documented above
        ...


@dataclass(frozen=True)
class IndicatorRows:
    """Every customer's indicators and the company's total, as of one date.

    `customers` holds every customer the figures speak of, keyed (source, customer id): the
    customers the sources described, and any other that has an open due line, unapplied
    money, a draft dated by then or a balance stated by its source (the same list as
    `compute_figures`). `total` is the company's: the aged balance of those customers, with
    the sales, flows and payment delays of every record (unidentified ones included).
    `drafts` is each customer's total of drafts dated by then (present only for customers
    that have one); `unidentified` the receipts tied to no customer and not allocated.
    """

    as_of: date
    currency: str
    customers: dict[CustomerKey, Indicators]
    total: Indicators
    drafts: dict[CustomerKey, int]
    unidentified: int


def indicator_rows(
    con: Connection,
    *,
    as_of: date,
    currency: str,
    edges: Sequence[int],
    settings: DsoSettings,
) -> IndicatorRows:
    """Compute every customer's `Indicators` and the company total as of `as_of`, in SQL.

    `con` is a connection to a store made by `sync.store.schema.MIGRATIONS`; `edges` are the
    ageing edges (`[metrics] aging_edges`, increasing days); `settings` the DSO settings
    (`figures.dso_settings`). One statement computes, per customer and for the company, the
    integer sums of the module docstring; Python builds the `Indicators` from them with the
    functions of `metrics/dso.py`, as `metrics.indicators.indicators` does.

    Example: for the worked example of the module docstring, the result's
    `customers[("fec", "C1")].aged.outstanding` is 105000 and its `.dso` is Decimal("56.2").
    """
    edges = tuple(int(edge) for edge in edges)
    labels = bucket_labels(edges)
    period, period_days = accounting_period(as_of, settings.period, settings.day_count)
    is_count_back = DsoMethod(settings.method) is DsoMethod.COUNT_BACK
    months = monthly_periods(as_of, settings.months) if is_count_back else []
    sql = _statement(
        as_of=as_of,
        period_start=period.start,
        edges=edges,
        months=months,
        order=WalkOrder(settings.order),
        empty_month=EmptyMonth(settings.empty_month),
    )
    customers: dict[CustomerKey, Indicators] = {}
    drafts: dict[CustomerKey, int] = {}
    total: Indicators | None = None
    unidentified = 0

    def dso_of(amount: int, walked: tuple[Any, ...], sales: int) -> Decimal | None:
        if is_count_back:
            return _count_back(amount, walked, currency)
        return accounting_dso(
            to_decimal(amount, currency), to_decimal(sales, currency), period_days
        )

    for row in con.execute(sql).fetchall():
        (is_total, source, customer, is_listed, credit_limit, unapplied, unbilled, not_due) = row[
            :8
        ]
        overdue = [int(amount) for amount in row[8 : 8 + len(edges) + 1]]
        rest = row[8 + len(edges) + 1 :]
        (doubtful, oldest, opening, sales, cash, delay_weighted, delay_amount, draft_total) = rest[
            :8
        ]
        walk_dso, walk_best = rest[8:13], rest[13:18]
        if not is_total and customer is None:
            unidentified += int(unapplied)
            continue
        if not (is_total or is_listed):
            continue
        aged = AgedBalance(
            buckets=tuple(
                zip(labels, (-int(unapplied), int(unbilled), int(not_due), *overdue), strict=True)
            ),
            oldest_overdue_days=None if oldest is None else int(oldest),
            doubtful=int(doubtful),
        )
        dso = dso_of(aged.outstanding, walk_dso, int(sales))
        best = dso_of(aged.not_due, walk_best, int(sales))
        opening_dec = to_decimal(int(opening), currency)
        sales_dec = to_decimal(int(sales), currency)
        outstanding_dec = to_decimal(aged.outstanding, currency)
        turnover = receivables_turnover(sales_dec, (opening_dec + outstanding_dec) / 2)
        delay = None
        if delay_amount is not None and delay_amount > 0:
            delay = Decimal(int(delay_weighted)) / Decimal(int(delay_amount))
        figures = Indicators(
            as_of=as_of,
            currency=currency,
            aged=aged,
            dso=dso,
            dso_method=DsoMethod(settings.method).value,
            best_possible_dso=best,
            average_days_delinquent=average_days_delinquent(dso, best),
            collection_rate=collection_rate(
                to_decimal(int(cash), currency), opening_dec, sales_dec
            ),
            turnover_days=Decimal(period.days) / turnover if turnover else None,
            average_payment_delay=delay,
            credit_limit=None if is_total or credit_limit is None else int(credit_limit),
        )
        if is_total:
            total = figures
            continue
        customers[(source, customer)] = figures
        if draft_total is not None:
            drafts[(source, customer)] = int(draft_total)
    if total is None:  # pragma: no cover - the statement always returns the total row
        raise RuntimeError("the indicators statement returned no total row")
    return IndicatorRows(
        as_of=as_of,
        currency=currency,
        customers=customers,
        total=total,
        drafts=drafts,
        unidentified=unidentified,
    )


def _count_back(amount: int, walked: tuple[Any, ...], currency: str) -> Decimal | None:
    """Finish a count-back walk the SQL did: the Decimal steps of `count_back_dso`.

    `walked` is (has positive sales, full days, remaining, sales, days of the partial month).
    `count_back_dso` adds whole days as Decimal integers (exact) and then, for the month that
    uses the outstanding up, remaining × days / sales with the remaining and the sales as
    `to_decimal` gives them: the same operations on the same operands here, so the same digits.
    """
    has_positive, full_days, remaining, partial_sales, partial_days = walked
    if not has_positive:
        return None
    if amount <= 0:
        return ZERO
    total = ZERO + int(full_days or 0)
    if remaining is not None:
        total += (
            to_decimal(int(remaining), currency)
            * int(partial_days)
            / to_decimal(int(partial_sales), currency)
        )
    return total


def _day(value: date) -> str:
    """A date as a SQL literal; the value is a `date`, so the text is always `YYYY-MM-DD`."""
    if not isinstance(value, date):
        raise TypeError(f"expected a date, not {value!r}")
    return f"DATE '{value.isoformat()}'"


def _month_number(value: date) -> int:
    """The month's number as the SQL computes it: year × 12 + month."""
    return value.year * 12 + value.month


def _statement(
    *,
    as_of: date,
    period_start: date,
    edges: tuple[int, ...],
    months: Sequence[Any],
    order: WalkOrder,
    empty_month: EmptyMonth,
) -> str:
    """The one SELECT: a row per customer key met in any table, then the company's row.

    Columns: is_total, source, customer_id, is_listed, credit_limit, unapplied, unbilled,
    not_due, one per overdue range, doubtful, oldest, opening, sales, cash, delay_weighted,
    delay_amount, drafts, then for DSO and best possible DSO: has_positive, full_days,
    remaining, partial_sales, partial_days (NULL under the accounting method).
    """
    d = _day(as_of)
    start = _day(period_start)
    before = _day(period_start - timedelta(days=1))
    # The first matching edge, as `outstanding._range_index`: -2 unbilled, -1 not due.
    ranges = " ".join(f"WHEN late <= {edge} THEN {i}" for i, edge in enumerate(edges))
    bucket = (
        f"CASE WHEN kind = 'unbilled' THEN -2 WHEN late <= 0 THEN -1 {ranges} ELSE {len(edges)} END"
    )
    overdue_sums = ",\n".join(
        f"        SUM(residual) FILTER (WHERE bucket = {i}) AS overdue_{i}"
        for i in range(len(edges) + 1)
    )
    overdue_cols = [f"overdue_{i}" for i in range(len(edges) + 1)]
    party_overdue = ",\n".join(f"        COALESCE(o.{c}, 0) AS {c}" for c in overdue_cols)
    total_overdue = ",\n".join(
        f"        COALESCE(SUM({c}) FILTER (WHERE is_listed), 0) AS {c}" for c in overdue_cols
    )
    outstanding = " + ".join(["unbilled", "not_due", *overdue_cols]) + " - unapplied"
    figure_cols = ", ".join(
        [
            "is_total",
            "source",
            "customer_id",
            "is_listed",
            "credit_limit",
            "unapplied",
            "unbilled",
            "not_due",
            *overdue_cols,
            "doubtful",
            "oldest",
            "opening",
            "sales",
            "cash",
            "delay_weighted",
            "delay_amount",
            "drafts",
        ]
    )
    # Every value written into the text is a date through `_day`, an int or a fixed word.
    base = f"""
WITH unsettled AS (
    -- the only lines that can be open: issued by D and not settled by D
    SELECT source, customer_id, invoice_id, seq, kind, is_doubtful, due_on, amount
    FROM due_lines WHERE issued_on <= {d} AND (settled_on IS NULL OR settled_on > {d})
), alloc_line AS (
    -- allocations dated by D, per unsettled line
    SELECT a.source, a.invoice_id, a.due_seq, SUM(a.amount) AS allocated
    FROM allocations a
    WHERE a.allocated_on <= {d} AND EXISTS (
        SELECT 1 FROM unsettled u
        WHERE u.source = a.source AND u.invoice_id = a.invoice_id AND u.seq = a.due_seq)
    GROUP BY a.source, a.invoice_id, a.due_seq
), open_line AS (
    SELECT source, customer_id, kind, is_doubtful, residual, late, {bucket} AS bucket
    FROM (
        SELECT u.source, u.customer_id, u.kind, u.is_doubtful,
            u.amount - COALESCE(a.allocated, 0) AS residual, {d} - u.due_on AS late
        FROM unsettled u LEFT JOIN alloc_line a
            ON a.source = u.source AND a.invoice_id = u.invoice_id AND a.due_seq = u.seq
    ) residuals
    WHERE residual <> 0
), by_open AS (
    SELECT source, customer_id,
        SUM(residual) FILTER (WHERE bucket = -2) AS unbilled,
        SUM(residual) FILTER (WHERE bucket = -1) AS not_due,
{overdue_sums},
        SUM(residual) FILTER (WHERE is_doubtful) AS doubtful,
        MAX(late) FILTER (WHERE bucket >= 0) AS oldest
    FROM open_line GROUP BY source, customer_id
), by_line AS (
    SELECT source, customer_id,
        SUM(amount) FILTER (WHERE issued_on <= {before}) AS issued_before,
        SUM(amount) FILTER (
            WHERE kind = 'advance_use' AND issued_on BETWEEN {start} AND {d}) AS advance_used,
        SUM(amount * (settled_on - due_on)) FILTER (
            WHERE kind = 'invoice' AND settled_on <= {d}) AS delay_weighted,
        SUM(amount) FILTER (WHERE kind = 'invoice' AND settled_on <= {d}) AS delay_amount
    FROM due_lines GROUP BY source, customer_id
), by_credit AS (
    SELECT source, customer_id,
        SUM(amount) FILTER (WHERE on_date <= {d}) AS received,
        SUM(amount) FILTER (WHERE on_date <= {before}) AS received_before,
        SUM(amount) FILTER (
            WHERE kind IN ('payment', 'advance') AND on_date BETWEEN {start} AND {d}) AS cash
    FROM credits GROUP BY source, customer_id
), by_allocation AS (
    SELECT source, customer_id, SUM(amount) AS allocated
    FROM allocations WHERE allocated_on <= {d} GROUP BY source, customer_id
), by_sale AS (
    SELECT source, customer_id, SUM(amount) AS sales
    FROM sales WHERE booked_on BETWEEN {start} AND {d} GROUP BY source, customer_id
), by_draft AS (
    SELECT source, customer_id, SUM(total) AS drafts
    FROM drafts WHERE issued_on <= {d} GROUP BY source, customer_id
), described AS (
    -- one row per customer even if a source described it twice
    SELECT source, external_id AS customer_id, MAX(credit_limit) AS credit_limit
    FROM customers GROUP BY source, external_id
), stated AS (
    SELECT DISTINCT source, customer_id FROM source_balances
), party_key AS (
    SELECT source, customer_id FROM by_line
    UNION SELECT source, customer_id FROM by_credit
    UNION SELECT source, customer_id FROM by_allocation
    UNION SELECT source, customer_id FROM by_sale
    UNION SELECT source, customer_id FROM by_draft
    UNION SELECT source, customer_id FROM described
    UNION SELECT source, customer_id FROM stated
), party AS (
    SELECT FALSE AS is_total, k.source, k.customer_id,
        k.customer_id IS NOT NULL AND (
            c.customer_id IS NOT NULL OR o.customer_id IS NOT NULL
            OR COALESCE(r.received, 0) <> COALESCE(a.allocated, 0)
            OR dr.customer_id IS NOT NULL OR st.customer_id IS NOT NULL
        ) AS is_listed,
        c.credit_limit,
        COALESCE(r.received, 0) - COALESCE(a.allocated, 0) AS unapplied,
        COALESCE(o.unbilled, 0) AS unbilled,
        COALESCE(o.not_due, 0) AS not_due,
{party_overdue},
        COALESCE(o.doubtful, 0) AS doubtful,
        o.oldest,
        COALESCE(l.issued_before, 0) - COALESCE(r.received_before, 0) AS opening,
        COALESCE(s.sales, 0) AS sales,
        COALESCE(r.cash, 0) - COALESCE(l.advance_used, 0) AS cash,
        l.delay_weighted,
        l.delay_amount,
        dr.drafts
    FROM party_key k
    LEFT JOIN by_line l
        ON l.source = k.source AND l.customer_id IS NOT DISTINCT FROM k.customer_id
    LEFT JOIN by_open o
        ON o.source = k.source AND o.customer_id IS NOT DISTINCT FROM k.customer_id
    LEFT JOIN by_credit r
        ON r.source = k.source AND r.customer_id IS NOT DISTINCT FROM k.customer_id
    LEFT JOIN by_allocation a
        ON a.source = k.source AND a.customer_id IS NOT DISTINCT FROM k.customer_id
    LEFT JOIN by_sale s
        ON s.source = k.source AND s.customer_id IS NOT DISTINCT FROM k.customer_id
    LEFT JOIN by_draft dr
        ON dr.source = k.source AND dr.customer_id IS NOT DISTINCT FROM k.customer_id
    LEFT JOIN described c ON c.source = k.source AND c.customer_id = k.customer_id
    LEFT JOIN stated st ON st.source = k.source AND st.customer_id = k.customer_id
), company AS (
    -- the aged balance of the listed customers; the flows and delays of every record
    SELECT TRUE AS is_total, CAST(NULL AS TEXT) AS source, CAST(NULL AS TEXT) AS customer_id,
        TRUE AS is_listed, CAST(NULL AS BIGINT) AS credit_limit,
        COALESCE(SUM(unapplied) FILTER (WHERE is_listed), 0) AS unapplied,
        COALESCE(SUM(unbilled) FILTER (WHERE is_listed), 0) AS unbilled,
        COALESCE(SUM(not_due) FILTER (WHERE is_listed), 0) AS not_due,
{total_overdue},
        COALESCE(SUM(doubtful) FILTER (WHERE is_listed), 0) AS doubtful,
        MAX(oldest) AS oldest,
        COALESCE(SUM(opening), 0) AS opening,
        COALESCE(SUM(sales), 0) AS sales,
        COALESCE(SUM(cash), 0) AS cash,
        COALESCE(SUM(delay_weighted), 0) AS delay_weighted,
        COALESCE(SUM(delay_amount), 0) AS delay_amount,
        CAST(NULL AS BIGINT) AS drafts
    FROM party
), figure AS (
    SELECT {figure_cols} FROM party
    UNION ALL
    SELECT {figure_cols} FROM company
)"""  # noqa: S608
    if not months:
        nulls = ", ".join(["CAST(NULL AS BIGINT)"] * 10)
        return (
            f"{base}\nSELECT figure.*, {nulls} FROM figure ORDER BY is_total, source, customer_id"
        )
    return base + _walk(as_of, outstanding, months, order, empty_month)


def _walk(
    as_of: date,
    outstanding: str,
    months: Sequence[Any],
    order: WalkOrder,
    empty_month: EmptyMonth,
) -> str:
    """The count-back walk of the outstanding and of the not-due part, for every figure row.

    `months` are the `monthly_periods` of the walk, most recent first; `w` is a month's rank
    in the walk order. Only the customers (and the company) with an amount above zero walk.
    """
    count = len(months)
    grid = ", ".join(
        f"({i if order is WalkOrder.RECENT_FIRST else count - 1 - i}, "
        f"{_month_number(p.start)}, {p.days})"
        for i, p in enumerate(months)
    )
    count_empty = "TRUE" if empty_month is EmptyMonth.COUNT else "FALSE"
    first = _day(months[-1].start)
    d = _day(as_of)
    # As in `_statement`: only dates through `_day`, ints and fixed words go into the text.
    return f""", grid (w, month, days) AS (
    VALUES {grid}
), month_sale AS (
    SELECT source, customer_id,
        EXTRACT(YEAR FROM booked_on) * 12 + EXTRACT(MONTH FROM booked_on) AS month,
        SUM(amount) AS sales
    FROM sales WHERE booked_on BETWEEN {first} AND {d}
    GROUP BY source, customer_id, EXTRACT(YEAR FROM booked_on) * 12 + EXTRACT(MONTH FROM booked_on)
), party_month AS (
    SELECT FALSE AS is_total, source, customer_id, month, sales
    FROM month_sale WHERE customer_id IS NOT NULL
    UNION ALL
    SELECT TRUE, CAST(NULL AS TEXT), CAST(NULL AS TEXT), month, SUM(sales)
    FROM month_sale GROUP BY month
), positive AS (
    SELECT is_total, source, customer_id FROM party_month WHERE sales > 0
    GROUP BY is_total, source, customer_id
), target AS (
    SELECT is_total, source, customer_id, 'dso' AS figure, {outstanding} AS x
    FROM figure WHERE is_listed
    UNION ALL
    SELECT is_total, source, customer_id, 'best', not_due FROM figure WHERE is_listed
), walk AS (
    SELECT t.is_total, t.source, t.customer_id, t.figure, t.x, g.w, g.days,
        COALESCE(pm.sales, 0) AS sales
    FROM target t CROSS JOIN grid g
    LEFT JOIN party_month pm
        ON pm.is_total = t.is_total AND pm.source IS NOT DISTINCT FROM t.source
        AND pm.customer_id IS NOT DISTINCT FROM t.customer_id AND pm.month = g.month
    WHERE t.x > 0 AND EXISTS (
        SELECT 1 FROM positive p WHERE p.is_total = t.is_total
        AND p.source IS NOT DISTINCT FROM t.source
        AND p.customer_id IS NOT DISTINCT FROM t.customer_id)
), step AS (
    SELECT *,
        COALESCE(SUM(CASE WHEN sales > 0 THEN sales ELSE 0 END) OVER earlier, 0) AS used,
        COALESCE(SUM(CASE WHEN sales > 0 THEN 0 ELSE 1 END) OVER earlier, 0) AS empties
    FROM walk
    WINDOW earlier AS (
        PARTITION BY is_total, source, customer_id, figure ORDER BY w
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), reached AS (
    SELECT *, x - used AS remaining FROM step
    WHERE x > used AND ({count_empty} OR empties = 0)
), walked AS (
    SELECT is_total, source, customer_id, figure,
        SUM(CASE WHEN sales > 0 AND remaining >= sales THEN days
                 WHEN sales <= 0 AND {count_empty} THEN days ELSE 0 END) AS full_days,
        MAX(CASE WHEN sales > 0 AND remaining < sales THEN remaining END) AS remaining,
        MAX(CASE WHEN sales > 0 AND remaining < sales THEN sales END) AS partial_sales,
        MAX(CASE WHEN sales > 0 AND remaining < sales THEN days END) AS partial_days
    FROM reached GROUP BY is_total, source, customer_id, figure
)
SELECT f.*,
    p.is_total IS NOT NULL, wd.full_days, wd.remaining, wd.partial_sales, wd.partial_days,
    p.is_total IS NOT NULL, wb.full_days, wb.remaining, wb.partial_sales, wb.partial_days
FROM figure f
LEFT JOIN positive p ON p.is_total = f.is_total AND p.source IS NOT DISTINCT FROM f.source
    AND p.customer_id IS NOT DISTINCT FROM f.customer_id
LEFT JOIN walked wd ON wd.figure = 'dso' AND wd.is_total = f.is_total
    AND wd.source IS NOT DISTINCT FROM f.source
    AND wd.customer_id IS NOT DISTINCT FROM f.customer_id
LEFT JOIN walked wb ON wb.figure = 'best' AND wb.is_total = f.is_total
    AND wb.source IS NOT DISTINCT FROM f.source
    AND wb.customer_id IS NOT DISTINCT FROM f.customer_id
ORDER BY f.is_total, f.source, f.customer_id
"""  # noqa: S608
