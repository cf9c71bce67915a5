"""Outstanding and the aged balance: the docstring's example, bucket edges, DOMAIN's seeds."""

from __future__ import annotations

import doctest
from datetime import date, timedelta
from decimal import Decimal

import pytest

from encours.metrics import outstanding as outstanding_module
from encours.metrics.outstanding import (
    AgedBalance,
    OpenLine,
    aged_balance,
    bucket_labels,
    combined,
    outstanding,
    overdue_labels,
)

AS_OF = date(2026, 3, 31)
EDGES = (30, 60, 90)


def late(
    days: int, residual: int = 100, *, kind: str = "invoice", doubtful: bool = False
) -> OpenLine:
    """A line `days` days past due as of AS_OF (0: due today, negative: due later)."""
    return OpenLine(kind, AS_OF - timedelta(days=days), residual, doubtful)


def test_doctests():
    result = doctest.testmod(outstanding_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_worked_example_from_the_docstring():
    lines = [
        OpenLine("invoice", date(2026, 4, 15), 1000_00),
        OpenLine("invoice", date(2026, 3, 10), 500_00),
        OpenLine("invoice", date(2025, 12, 1), 300_00),
        OpenLine("unbilled", date(2026, 3, 31), 200_00),
    ]
    aged = aged_balance(lines, unapplied=250_00, as_of=AS_OF, edges=EDGES)
    assert aged.buckets == (
        ("unapplied", -250_00),
        ("unbilled", 200_00),
        ("not_due", 1000_00),
        ("1-30", 500_00),
        ("31-60", 0),
        ("61-90", 0),
        ("90+", 300_00),
    )
    assert aged.outstanding == 1750_00
    assert aged.unapplied == 250_00
    assert aged.unbilled == 200_00
    assert aged.not_due == 1000_00
    assert aged.overdue == 800_00
    assert aged.oldest_overdue_days == 120
    assert aged.doubtful == 0
    assert aged.bucket("1-30") == 500_00


def test_labels():
    assert overdue_labels((30, 60, 90)) == ("1-30", "31-60", "61-90", "90+")
    assert overdue_labels((15, 45)) == ("1-15", "16-45", "45+")
    assert bucket_labels((15, 45)) == ("unapplied", "unbilled", "not_due", "1-15", "16-45", "45+")


@pytest.mark.parametrize(
    ("days_late", "label"),
    [(1, "1-15"), (15, "1-15"), (16, "16-45"), (45, "16-45"), (46, "45+"), (400, "45+")],
)
def test_configurable_edges(days_late, label):
    aged = aged_balance([late(days_late)], unapplied=0, as_of=AS_OF, edges=(15, 45))
    assert [name for name, _ in aged.buckets] == list(bucket_labels((15, 45)))
    assert aged.bucket(label) == 100
    assert aged.overdue == 100
    assert aged.oldest_overdue_days == days_late


@pytest.mark.parametrize(
    ("days_late", "label"),
    [
        (-30, "not_due"),
        (0, "not_due"),  # due on the as-of date: not yet late
        (1, "1-30"),  # one day late
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
    ],
)
def test_bucket_boundaries(days_late, label):
    aged = aged_balance([late(days_late)], unapplied=0, as_of=AS_OF, edges=EDGES)
    assert aged.bucket(label) == 100
    assert aged.outstanding == 100
    assert sum(amount for name, amount in aged.buckets if name != label) == 0


def test_due_on_the_as_of_date_is_not_due_and_not_counted_in_oldest():
    aged = aged_balance([late(0)], unapplied=0, as_of=AS_OF, edges=EDGES)
    assert aged.not_due == 100
    assert aged.overdue == 0
    assert aged.oldest_overdue_days is None


def test_unbilled_column_whatever_the_date():
    lines = [late(200, 70, kind="unbilled"), late(-10, 30, kind="unbilled"), late(5, 1)]
    aged = aged_balance(lines, unapplied=0, as_of=AS_OF, edges=EDGES)
    assert aged.unbilled == 100
    assert aged.overdue == 1
    assert aged.oldest_overdue_days == 5  # unbilled lines never count as overdue


def test_doubtful_sum_counts_in_its_bucket_too():
    lines = [late(100, 40, doubtful=True), late(-3, 25, doubtful=True), late(10, 7)]
    aged = aged_balance(lines, unapplied=10, as_of=AS_OF, edges=EDGES)
    assert aged.doubtful == 65
    assert aged.bucket("90+") == 40
    assert aged.not_due == 25
    assert aged.outstanding == 40 + 25 + 7 - 10


def test_unapplied_only_gives_a_negative_outstanding():
    aged = aged_balance([], unapplied=500, as_of=AS_OF, edges=EDGES)
    assert aged.bucket("unapplied") == -500
    assert aged.unapplied == 500
    assert aged.outstanding == -500
    assert aged.oldest_overdue_days is None


def test_buckets_add_up_to_the_outstanding():
    lines = [late(d, 1000 + d) for d in range(-40, 200, 7)] + [late(3, 999, kind="unbilled")]
    aged = aged_balance(lines, unapplied=12345, as_of=AS_OF, edges=EDGES)
    expected = sum(line.residual for line in lines) - 12345
    assert sum(amount for _, amount in aged.buckets) == aged.outstanding == expected
    assert aged.outstanding == aged.unbilled + aged.not_due + aged.overdue - aged.unapplied


def test_combined_column_by_column():
    first = aged_balance(
        [late(10, 100), late(95, 50, doubtful=True)], unapplied=20, as_of=AS_OF, edges=EDGES
    )
    second = aged_balance(
        [late(-5, 300), late(40, 70), late(2, 5, kind="unbilled")],
        unapplied=0,
        as_of=AS_OF,
        edges=EDGES,
    )
    total = combined([first, second], EDGES)
    assert total.buckets == (
        ("unapplied", -20),
        ("unbilled", 5),
        ("not_due", 300),
        ("1-30", 100),
        ("31-60", 70),
        ("61-90", 0),
        ("90+", 50),
    )
    assert total.outstanding == first.outstanding + second.outstanding
    assert total.doubtful == 50
    assert total.oldest_overdue_days == 95


def test_combined_of_nothing_and_of_balances_with_nothing_overdue():
    empty = combined([], EDGES)
    assert empty == AgedBalance(
        buckets=tuple((label, 0) for label in bucket_labels(EDGES)),
        oldest_overdue_days=None,
        doubtful=0,
    )
    quiet = aged_balance([late(-1)], unapplied=0, as_of=AS_OF, edges=EDGES)
    assert combined([quiet, quiet], EDGES).oldest_overdue_days is None


@pytest.mark.parametrize(
    ("open_invoices", "advances", "expected"),
    [
        ([25000], [5000], 20000),
        ([2000, 1500, 1500], [1000], 4000),
        ([18200], [3700], 14500),
        ([80000], [20000], 60000),
    ],
)
def test_domain_seed_examples(open_invoices, advances, expected):
    result = outstanding([Decimal(x) for x in open_invoices], [Decimal(x) for x in advances])
    assert result == Decimal(expected)


def test_outstanding_with_unbilled_and_cents():
    assert outstanding([Decimal("100.10")], [Decimal("0.05")], [Decimal("9.95")]) == Decimal(
        "110.00"
    )
    assert outstanding([]) == Decimal(0)


@pytest.mark.parametrize(
    ("open_invoices", "advances", "expected"),
    [
        ([25000], [5000], 20000),
        ([2000, 1500, 1500], [1000], 4000),
        ([18200], [3700], 14500),
        ([80000], [20000], 60000),
    ],
)
def test_domain_seed_examples_through_the_aged_balance(open_invoices, advances, expected):
    lines = [late(10 * i, amount * 100) for i, amount in enumerate(open_invoices)]
    aged = aged_balance(lines, unapplied=sum(advances) * 100, as_of=AS_OF, edges=EDGES)
    assert aged.outstanding == expected * 100


def test_seed_advance_linked_to_one_invoice_moves_money_not_the_total():
    # 2 000 + 1 500 + 1 500, an advance of 1 000 linked to the second: that invoice is 500 open.
    linked = aged_balance(
        [late(40, 2000_00), late(10, 500_00), late(-5, 1500_00)],
        unapplied=0,
        as_of=AS_OF,
        edges=EDGES,
    )
    floating = aged_balance(
        [late(40, 2000_00), late(10, 1500_00), late(-5, 1500_00)],
        unapplied=1000_00,
        as_of=AS_OF,
        edges=EDGES,
    )
    assert linked.outstanding == floating.outstanding == 4000_00
    assert linked.overdue == 2500_00
    assert floating.overdue == 3500_00
