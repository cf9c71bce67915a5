"""reconcile_dirty_sql(): the same allocations and settlement dates as reconcile(), per customer.

Each case is written into a fresh store made from the schema's migrations, reconciled there in
SQL, and compared with the Python reference run on the same records, customer by customer; on
DuckDB and on PostgreSQL (`scratch_stores`).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scratch_stores import ScratchStores

from encours.sync.reconcile import CreditItem, DueItem, Reconciliation, reconcile
from encours.sync.store.reconcile_sql import reconcile_dirty_sql

D = date
#: Written over every settlement date first: reconciliation must set or clear each one.
STALE = D(1999, 1, 1)
EXAMPLES = int(os.environ.get("ENCOURS_SQL_EXAMPLES", "150"))


@dataclass
class Line:
    seq: int
    amount: int
    due_on: date
    issued_on: date = D(2026, 1, 1)
    kind: str = "invoice"
    match_ref: str | None = None


@dataclass
class Invoice:
    id: str
    lines: list[Line]
    customer: str = "C1"
    source: str = "g"
    number: str | None = None
    match_ref: str | None = None
    matched_on: date | None = None
    order_ref: str | None = None


@dataclass
class Credit:
    id: str
    kind: str
    on: date
    amount: int
    customer: str | None = "C1"
    source: str = "g"
    reference: str | None = None
    match_ref: str | None = None
    matched_on: date | None = None
    applies_to: str | None = None
    is_on_order: bool = False
    order_ref: str | None = None
    links: list[tuple[str, int, date | None]] = field(default_factory=list)


def write(
    con: duckdb.DuckDBPyConnection,
    invoices: list[Invoice],
    credits: list[Credit],
    dirty: set[tuple[str, str]],
) -> None:
    if not invoices:
        return write_credits(con, credits, dirty)
    con.executemany(
        "INSERT INTO invoices (source, external_id, customer_id, number, kind, issued_on, "
        "currency, total_in_currency, total, is_doubtful, due_date_assumed, match_ref, "
        "matched_on, order_ref, raw) VALUES (?, ?, ?, ?, ?, ?, 'EUR', '0', ?, false, false, "
        "?, ?, ?, '{}')",
        [
            (
                i.source,
                i.id,
                i.customer,
                i.number,
                i.lines[0].kind,
                i.lines[0].issued_on,
                sum(line.amount for line in i.lines),
                i.match_ref,
                i.matched_on,
                i.order_ref,
            )
            for i in invoices
        ],
    )
    due_rows = [
        (
            i.source,
            i.id,
            line.seq,
            i.customer,
            line.kind,
            line.issued_on,
            line.due_on,
            line.amount,
            line.match_ref,
            STALE,
        )
        for i in invoices
        for line in i.lines
    ]
    con.executemany(
        "INSERT INTO due_lines (source, invoice_id, seq, customer_id, kind, is_doubtful, "
        "issued_on, due_on, amount, match_ref, settled_on) "
        "VALUES (?, ?, ?, ?, ?, false, ?, ?, ?, ?, ?)",
        due_rows,
    )
    write_credits(con, credits, dirty)


def write_credits(
    con: duckdb.DuckDBPyConnection, credits: list[Credit], dirty: set[tuple[str, str]]
) -> None:
    if credits:
        con.executemany(
            "INSERT INTO credits (source, external_id, kind, customer_id, on_date, currency, "
            "amount_in_currency, amount, reference, match_ref, matched_on, applies_to, "
            "is_on_order, order_ref, used_on, raw) "
            "VALUES (?, ?, ?, ?, ?, 'EUR', '0', ?, ?, ?, ?, ?, ?, ?, ?, '{}')",
            [
                (
                    c.source,
                    c.id,
                    c.kind,
                    c.customer,
                    c.on,
                    c.amount,
                    c.reference,
                    c.match_ref,
                    c.matched_on,
                    c.applies_to,
                    c.is_on_order,
                    c.order_ref,
                    STALE,
                )
                for c in credits
            ],
        )
    # Positions written last first: the order comes from `position`, not from insertion.
    links = [
        (c.source, c.id, position, invoice_id, amount, linked_on)
        for c in credits
        for position, (invoice_id, amount, linked_on) in enumerate(c.links)
    ]
    if links:
        con.executemany("INSERT INTO credit_links VALUES (?, ?, ?, ?, ?, ?)", links[::-1])
    if dirty:
        con.executemany("INSERT INTO dirty_customers VALUES (?, ?)", sorted(dirty))


def python_side(
    invoices: list[Invoice],
    credits: list[Credit],
    source: str,
    customer: str,
    *,
    oldest_first: bool,
    guess: bool,
) -> Reconciliation:
    """The reference on one customer's records, mapped as the store maps them."""
    due = [
        DueItem(
            invoice_id=i.id,
            seq=line.seq,
            issued_on=line.issued_on,
            due_on=line.due_on,
            amount=line.amount,
            kind=line.kind,
            number=i.number,
            match_ref=line.match_ref if line.match_ref is not None else i.match_ref,
            matched_on=i.matched_on,
            order_ref=i.order_ref,
        )
        for i in invoices
        if (i.source, i.customer) == (source, customer)
        for line in i.lines
    ]
    items = [
        CreditItem(
            credit_id=c.id,
            kind=c.kind,
            on=c.on,
            amount=c.amount,
            reference=c.reference,
            match_ref=c.match_ref,
            matched_on=c.matched_on,
            applies_to=c.applies_to,
            is_on_order=c.is_on_order,
            order_ref=c.order_ref,
            links=tuple(c.links),
        )
        for c in credits
        if (c.source, c.customer) == (source, customer)
    ]
    return reconcile(due, items, oldest_first=oldest_first, guess=guess)


Row = tuple[str, str, int, int, date, str]


def sql_side(
    con: duckdb.DuckDBPyConnection, source: str, customer: str
) -> tuple[Counter[Row], dict[tuple[str, int], date], dict[str, date]]:
    allocations = Counter(
        con.execute(
            "SELECT credit_id, invoice_id, due_seq, amount, allocated_on, rule FROM allocations "
            "WHERE source = ? AND customer_id = ?",
            [source, customer],
        ).fetchall()
    )
    settled = {
        (invoice_id, seq): day
        for invoice_id, seq, day in con.execute(
            "SELECT invoice_id, seq, settled_on FROM due_lines "
            "WHERE source = ? AND customer_id = ? AND settled_on IS NOT NULL",
            [source, customer],
        ).fetchall()
    }
    used = dict(
        con.execute(
            "SELECT external_id, used_on FROM credits "
            "WHERE source = ? AND customer_id = ? AND used_on IS NOT NULL",
            [source, customer],
        ).fetchall()
    )
    return allocations, settled, used


def expected_rows(result: Reconciliation) -> Counter[Row]:
    return Counter(
        (a.credit_id, a.invoice_id, a.due_seq, a.amount, a.allocated_on, a.rule.value)
        for a in result.allocations
    )


def check_same(
    stores: ScratchStores,
    invoices: list[Invoice],
    credits: list[Credit],
    *,
    oldest_first: bool = True,
    complete: frozenset[str] = frozenset(),
) -> duckdb.DuckDBPyConnection:
    """Reconcile every customer both ways and assert the same outcome; return the store."""
    customers = {(i.source, i.customer) for i in invoices} | {
        (c.source, c.customer) for c in credits if c.customer is not None
    }
    con = stores.new()
    write(con, invoices, credits, customers)
    count = reconcile_dirty_sql(con, oldest_first=oldest_first, complete_sources=complete)
    assert count == len(customers)
    for source, customer in sorted(customers):
        result = python_side(
            invoices,
            credits,
            source,
            customer,
            oldest_first=oldest_first,
            guess=source not in complete,
        )
        allocations, settled, used = sql_side(con, source, customer)
        assert allocations == expected_rows(result), (source, customer)
        assert settled == result.settled_on, (source, customer)
        assert used == result.used_on, (source, customer)
    return con


def rows(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT credit_id, invoice_id, due_seq, amount, allocated_on, rule FROM allocations "
        "ORDER BY allocated_on, credit_id, invoice_id, due_seq"
    ).fetchall()


# -- worked examples ---------------------------------------------------------------------------


def test_module_docstring_example_oldest_first(scratch_stores: ScratchStores):
    invoices = [
        Invoice("i1", [Line(0, 100_00, D(2026, 1, 31))]),
        Invoice("i2", [Line(0, 100_00, D(2026, 2, 28))]),
    ]
    credits = [
        Credit("P1", "payment", D(2026, 3, 1), 130_00),
        Credit("P2", "payment", D(2026, 3, 2), 90_00),
    ]
    con = check_same(scratch_stores, invoices, credits)
    assert rows(con) == [
        ("P1", "i1", 0, 100_00, D(2026, 3, 1), "oldest_first"),
        ("P1", "i2", 0, 30_00, D(2026, 3, 1), "oldest_first"),
        ("P2", "i2", 0, 70_00, D(2026, 3, 2), "oldest_first"),
    ]
    assert con.execute("SELECT external_id, used_on FROM credits ORDER BY 1").fetchall() == [
        ("P1", D(2026, 3, 1)),
        ("P2", None),
    ]


def test_reference_then_exact_amount_then_oldest_first(scratch_stores: ScratchStores):
    invoices = [
        Invoice("F1", [Line(0, 1200_00, D(2026, 1, 31))], number="F1"),
        Invoice("F2", [Line(0, 300_00, D(2026, 2, 28))], number="F2"),
        Invoice("F3", [Line(0, 50_00, D(2025, 12, 31))], number="F3"),
    ]
    credits = [
        Credit("P1", "payment", D(2026, 2, 15), 1000_00, reference="F1"),
        Credit("P2", "payment", D(2026, 3, 1), 300_00),
        Credit("P3", "payment", D(2026, 3, 2), 70_00),
    ]
    con = check_same(scratch_stores, invoices, credits)
    assert rows(con) == [
        ("P1", "F1", 0, 1000_00, D(2026, 2, 15), "same_reference"),
        ("P2", "F2", 0, 300_00, D(2026, 3, 1), "exact_amount"),
        ("P3", "F1", 0, 20_00, D(2026, 3, 2), "oldest_first"),
        ("P3", "F3", 0, 50_00, D(2026, 3, 2), "oldest_first"),
    ]


def test_lettrage_group_and_advance_used(scratch_stores: ScratchStores):
    invoices = [
        Invoice(
            "F1",
            [Line(0, 60_00, D(2026, 1, 31)), Line(1, 40_00, D(2026, 2, 28))],
            match_ref="AA",
            matched_on=D(2026, 3, 5),
        ),
        Invoice("U1", [Line(0, 80_00, D(2026, 2, 1), D(2026, 2, 1), kind="advance_use")]),
    ]
    credits = [
        Credit("P1", "payment", D(2026, 3, 1), 70_00, match_ref="AA"),
        Credit("AC1", "advance", D(2026, 1, 10), 50_00, is_on_order=True),
        Credit("AC2", "advance", D(2026, 1, 12), 50_00, is_on_order=True),
    ]
    con = check_same(scratch_stores, invoices, credits)
    assert rows(con) == [
        ("AC1", "U1", 0, 50_00, D(2026, 2, 1), "advance_applied"),
        ("AC2", "U1", 0, 30_00, D(2026, 2, 1), "advance_applied"),
        ("P1", "F1", 0, 60_00, D(2026, 3, 5), "match_group"),
        ("P1", "F1", 1, 10_00, D(2026, 3, 5), "match_group"),
    ]


def test_links_that_exceed_the_credit_give_what_the_first_could_not_to_the_next(
    scratch_stores: ScratchStores,
):
    # F1 has only 30.00 left for P1's first link of 80.00 (P0 took 70.00 before it): P1's
    # budget is not spent, so its second link may take 80.00 of F2 although 80 + 80 > 100.
    invoices = [
        Invoice("F1", [Line(0, 100_00, D(2026, 1, 31))]),
        Invoice("F2", [Line(0, 100_00, D(2026, 2, 28))]),
    ]
    credits = [
        Credit("P0", "payment", D(2026, 2, 1), 70_00, links=[("F1", 70_00, None)]),
        Credit(
            "P1",
            "payment",
            D(2026, 2, 2),
            100_00,
            links=[("F1", 80_00, D(2026, 2, 10)), ("F2", 80_00, None)],
            applies_to="F2",
        ),
    ]
    con = check_same(scratch_stores, invoices, credits, oldest_first=False)
    assert rows(con) == [
        ("P0", "F1", 0, 70_00, D(2026, 2, 1), "source_link"),
        ("P1", "F2", 0, 70_00, D(2026, 2, 2), "source_link"),
        ("P1", "F1", 0, 30_00, D(2026, 2, 10), "source_link"),
    ]


def test_advance_by_order_then_payment_by_number_share_the_invoice(
    scratch_stores: ScratchStores,
):
    invoices = [
        Invoice(
            "i1", [Line(0, 500_00, D(2026, 2, 28), D(2026, 2, 1))], number="FA-9", order_ref="CMD-7"
        ),
    ]
    credits = [
        Credit("P1", "payment", D(2026, 1, 5), 450_00, reference="FA-9"),
        Credit("AC1", "advance", D(2026, 1, 10), 300_00, is_on_order=True, order_ref="CMD-7"),
    ]
    con = check_same(scratch_stores, invoices, credits)
    assert rows(con) == [
        ("AC1", "i1", 0, 50_00, D(2026, 2, 1), "same_reference"),
        ("P1", "i1", 0, 450_00, D(2026, 2, 1), "same_reference"),
    ]


def test_a_complete_source_only_links_and_letters_and_others_are_left_alone(
    scratch_stores: ScratchStores,
):
    invoices = [
        Invoice("i1", [Line(0, 100_00, D(2026, 1, 31))], source="t", number="N1"),
        Invoice("i9", [Line(0, 100_00, D(2026, 1, 31))], customer="C9"),
    ]
    credits = [
        Credit("P1", "payment", D(2026, 2, 1), 100_00, source="t", reference="N1"),
        Credit("P9", "payment", D(2026, 2, 1), 100_00, customer=None),
    ]
    con = scratch_stores.new()
    write(con, invoices, credits, {("t", "C1")})
    con.execute(
        "INSERT INTO allocations VALUES ('g', 'C9', 'X', 'i9', 0, 1, DATE '2026-01-01', 'x'),"
        " ('t', 'C1', 'X', 'i1', 0, 1, DATE '2026-01-01', 'x')"
    )
    assert reconcile_dirty_sql(con, oldest_first=True, complete_sources={"t"}) == 1
    assert con.execute("SELECT source, customer_id FROM allocations").fetchall() == [("g", "C9")]
    assert con.execute("SELECT settled_on FROM due_lines ORDER BY invoice_id").fetchall() == [
        (None,),
        (STALE,),
    ]
    assert con.execute("SELECT used_on FROM credits ORDER BY external_id").fetchall() == [
        (None,),
        (STALE,),
    ]
    assert con.execute("SELECT COUNT(*) FROM dirty_customers").fetchone() == (1,)


# -- property: equal to the reference on any records ---------------------------------------

DAYS = [D(2026, 1, 1) + timedelta(days=9 * k) for k in range(8)]
AMOUNTS = [5_00, 10_00, 20_00, 30_00, 50_00, 60_00, 100_00]
LINE_KINDS = ["invoice", "invoice", "debit", "unbilled", "advance_use"]
CREDIT_KINDS = ["payment", "payment", "credit_note", "advance"]
NUMBERS = [None, "", "N1", "N2", "N3"]
GROUPS = [None, None, "", "M1", "M2"]
ORDERS = [None, "", "O1", "O2"]
maybe_day = st.one_of(st.none(), st.sampled_from(DAYS))


@st.composite
def invoices_of(draw: st.DrawFn, source: str, customer: str) -> list[Invoice]:
    invoices = []
    for index in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(LINE_KINDS))
        mixed = draw(st.booleans()) and draw(st.booleans())
        issued_on = draw(st.sampled_from(DAYS))
        lines = [
            Line(
                seq=seq,
                amount=draw(st.sampled_from(AMOUNTS)),
                due_on=draw(st.sampled_from(DAYS)),
                issued_on=draw(st.sampled_from(DAYS)) if mixed else issued_on,
                kind=draw(st.sampled_from(LINE_KINDS)) if mixed else kind,
                match_ref=draw(st.sampled_from(GROUPS)),
            )
            for seq in range(draw(st.integers(1, 3)))
        ]
        invoices.append(
            Invoice(
                id=f"{draw(st.sampled_from('aBz'))}{index}{customer}",
                lines=lines,
                customer=customer,
                source=source,
                number=draw(st.sampled_from(NUMBERS)),
                match_ref=draw(st.sampled_from(GROUPS)),
                matched_on=draw(maybe_day),
                order_ref=draw(st.sampled_from(ORDERS)),
            )
        )
    return invoices


@st.composite
def credits_of(draw: st.DrawFn, source: str, customer: str, invoice_ids: list[str]) -> list[Credit]:
    targets = st.sampled_from([*invoice_ids, "unknown"])
    credits = []
    for index in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(CREDIT_KINDS))
        links = draw(
            st.lists(
                st.tuples(targets, st.sampled_from(AMOUNTS), maybe_day),
                max_size=3 if draw(st.integers(0, 3)) == 0 else 0,
            )
        )
        credits.append(
            Credit(
                id=f"{draw(st.sampled_from('PpZ'))}{index}{customer}",
                kind=kind,
                on=draw(st.sampled_from(DAYS)),
                amount=draw(st.sampled_from(AMOUNTS)),
                customer=customer,
                source=source,
                reference=draw(st.sampled_from(NUMBERS)),
                match_ref=draw(st.sampled_from(GROUPS)),
                matched_on=draw(maybe_day),
                applies_to=draw(st.one_of(st.none(), st.none(), targets)),
                is_on_order=kind == "advance" and draw(st.booleans()),
                order_ref=draw(st.sampled_from(ORDERS)),
                links=links,
            )
        )
    return credits


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Invoice], list[Credit], bool, frozenset[str]]:
    invoices: list[Invoice] = []
    credits: list[Credit] = []
    for source in ("g", "t"):
        for customer in ("C1", "C2")[: draw(st.integers(1, 2))]:
            mine = draw(invoices_of(source, customer))
            invoices += mine
            credits += draw(credits_of(source, customer, [i.id for i in mine]))
    # Credits without a customer are not reconciled.
    credits += [Credit("orphan", "payment", DAYS[0], 10_00, customer=None)]
    complete = frozenset(draw(st.sets(st.sampled_from(["g", "t"]))))
    return invoices, credits, draw(st.booleans()), complete


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Each example makes its own store: the fixture only names the engine.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(worlds())
def test_same_as_the_reference_customer_by_customer(scratch_stores: ScratchStores, world):
    invoices, credits, oldest_first, complete = world
    con = check_same(
        scratch_stores, invoices, credits, oldest_first=oldest_first, complete=complete
    )
    (orphan,) = con.execute("SELECT used_on FROM credits WHERE customer_id IS NULL").fetchone()
    assert orphan == STALE


# -- measurement (run with ENCOURS_MEASURE=100000,1000000; asserts equality, not a time) -----

MEASURE = [int(n) for n in os.environ.get("ENCOURS_MEASURE", "").split(",") if n]
CUSTOMERS = 5_000


def fill(con: duckdb.DuckDBPyConnection, lines: int) -> None:
    """About `lines` due lines over 5 000 customers: every rule has work (DuckDB-only SQL).

    Invoices of one or two instalments; for each: a lettered payment, a payment naming it,
    one of its exact amount, a part payment on account, or nothing; now and then an advance
    on its order, a credit note applying to it, a payment linked to it, an unbilled line.
    """
    invoices = lines * 3 // 4
    con.execute(
        f"""
        INSERT INTO invoices
        SELECT 'g', 'I' || i, 'C' || (i % {CUSTOMERS}), 'F' || i,
               CASE WHEN i % 50 = 0 THEN 'unbilled' WHEN i % 97 = 0 THEN 'debit'
                    ELSE 'invoice' END,
               DATE '2024-01-01' + CAST(hash(i) % 700 AS INTEGER), 'EUR', '0', NULL,
               0, false, false,
               CASE WHEN i % 5 = 0 THEN 'L' || i END,
               CASE WHEN i % 5 = 0 THEN DATE '2026-01-01' END,
               CASE WHEN i % 20 = 0 THEN 'O' || i END, NULL, '{{}}'
        FROM range({invoices}) t(i)
        """  # noqa: S608 - numbers of this function only
    )
    con.execute(
        """
        INSERT INTO due_lines
        SELECT i.source, i.external_id, s.seq, i.customer_id, i.kind, false, i.issued_on,
               i.issued_on + 30 + 30 * s.seq,
               100 + CAST(hash(i.external_id || s.seq) % 500000 AS BIGINT), NULL, NULL
        FROM invoices i
        JOIN (SELECT 0 AS seq UNION ALL SELECT 1) s
          ON s.seq = 0 OR CAST(substr(i.external_id, 2) AS BIGINT) % 3 = 0
        """
    )
    con.execute(
        """
        UPDATE invoices SET total = t.total FROM (
            SELECT invoice_id, SUM(amount) AS total FROM due_lines GROUP BY invoice_id
        ) t WHERE invoices.external_id = t.invoice_id
        """
    )
    con.execute(
        """
        INSERT INTO credits
        SELECT 'g', 'P' || i.external_id, 'payment', i.customer_id,
               i.issued_on + CAST(hash(i.external_id) % 90 AS INTEGER), 'EUR', '0', NULL,
               CASE WHEN n % 5 = 3 THEN i.total * 6 / 10 ELSE i.total END,
               CASE WHEN n % 5 = 1 THEN i.number END,
               CASE WHEN n % 5 = 0 THEN i.match_ref END,
               CASE WHEN n % 5 = 0 THEN i.matched_on END,
               NULL, false, NULL, NULL, NULL, '{}'
        FROM (SELECT *, CAST(substr(external_id, 2) AS BIGINT) AS n FROM invoices) i
        WHERE n % 5 <> 4
        UNION ALL
        SELECT 'g', 'A' || i.external_id, 'advance', i.customer_id, i.issued_on - 20, 'EUR',
               '0', NULL, i.total / 3, NULL, NULL, NULL, NULL, true, i.order_ref, NULL, NULL,
               '{}'
        FROM invoices i WHERE i.order_ref IS NOT NULL
        UNION ALL
        SELECT 'g', 'N' || i.external_id, 'credit_note', i.customer_id, i.issued_on + 10,
               'EUR', '0', NULL, i.total / 10, NULL, NULL, NULL, i.external_id, false, NULL,
               NULL, NULL, '{}'
        FROM invoices i WHERE CAST(substr(i.external_id, 2) AS BIGINT) % 10 = 7
        UNION ALL
        SELECT 'g', 'K' || i.external_id, 'payment', i.customer_id, i.issued_on + 5, 'EUR',
               '0', NULL, i.total / 2, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, '{}'
        FROM invoices i WHERE CAST(substr(i.external_id, 2) AS BIGINT) % 13 = 0
        """
    )
    con.execute(
        """
        INSERT INTO credit_links
        SELECT source, external_id, 0, substr(external_id, 2), amount, on_date + 3
        FROM credits WHERE external_id LIKE 'K%'
        """
    )
    con.execute("INSERT INTO dirty_customers SELECT DISTINCT source, customer_id FROM due_lines")


def reference_over(con: duckdb.DuckDBPyConnection) -> Counter[tuple[Any, ...]]:
    """reconcile() customer by customer over the store's rows, as (customer, allocation)."""
    due: dict[str, list[DueItem]] = {}
    for row in con.execute(
        "SELECT d.customer_id, d.invoice_id, d.seq, d.issued_on, d.due_on, d.amount, d.kind, "
        "i.number, COALESCE(d.match_ref, i.match_ref), i.matched_on, i.order_ref "
        "FROM due_lines d JOIN invoices i ON i.source = d.source AND i.external_id = d.invoice_id"
    ).fetchall():
        due.setdefault(row[0], []).append(DueItem(*row[1:]))
    links: dict[str, list[tuple[str, int, date | None]]] = {}
    for credit_id, invoice_id, amount, linked_on in con.execute(
        "SELECT credit_id, invoice_id, amount, linked_on FROM credit_links ORDER BY position"
    ).fetchall():
        links.setdefault(credit_id, []).append((invoice_id, amount, linked_on))
    credits: dict[str, list[CreditItem]] = {}
    for customer, external_id, *rest in con.execute(
        "SELECT customer_id, external_id, kind, on_date, amount, reference, match_ref, "
        "matched_on, applies_to, is_on_order, order_ref FROM credits"
    ).fetchall():
        item = CreditItem(external_id, *rest, links=tuple(links.get(external_id, ())))
        credits.setdefault(customer, []).append(item)
    allocations: Counter[tuple[Any, ...]] = Counter()
    for customer in due.keys() | credits.keys():
        result = reconcile(due.get(customer, []), credits.get(customer, []))
        allocations.update(
            (customer, a.credit_id, a.invoice_id, a.due_seq, a.amount, a.allocated_on, a.rule)
            for a in result.allocations
        )
    return allocations


@pytest.mark.slow
@pytest.mark.skipif(not MEASURE, reason="a measurement: set ENCOURS_MEASURE=lines,lines")
@pytest.mark.parametrize("lines", MEASURE)
def test_measure(lines: int, capsys: pytest.CaptureFixture[str]) -> None:
    con = ScratchStores(None).new()  # DuckDB-only SQL fills it
    fill(con, lines)
    (count,) = con.execute("SELECT COUNT(*) FROM due_lines").fetchone()
    start = time.perf_counter()
    reconcile_dirty_sql(con, oldest_first=True, complete_sources=())
    sql = time.perf_counter() - start
    by_rule = con.execute(
        "SELECT rule, COUNT(*) FROM allocations GROUP BY rule ORDER BY rule"
    ).fetchall()
    start = time.perf_counter()
    expected = reference_over(con)
    python = time.perf_counter() - start
    got = Counter(
        con.execute(
            "SELECT customer_id, credit_id, invoice_id, due_seq, amount, allocated_on, rule "
            "FROM allocations"
        ).fetchall()
    )
    with capsys.disabled():
        print(
            f"\n{count:,} due lines, {CUSTOMERS:,} customers: SQL {sql:.2f} s; "
            f"reading the rows and reconcile() per customer {python:.2f} s; {by_rule}"
        )
    assert got == expected
