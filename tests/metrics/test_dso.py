"""DSO and the figures around it: worked examples from DOMAIN.md, edge cases, properties."""

from __future__ import annotations

import doctest
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from encours.metrics import dso as dso_module
from encours.metrics.dso import (
    DayCount,
    DsoMethod,
    EmptyMonth,
    Period,
    PeriodLength,
    WalkOrder,
    accounting_dso,
    accounting_period,
    average_days_delinquent,
    average_payment_delay,
    best_possible_dso,
    calc_dso,
    collection_effectiveness_index,
    collection_rate,
    count_back_dso,
    monthly_periods,
    receivables_turnover,
    round_days,
    turnover_days,
)


def D(value: str | int) -> Decimal:
    return Decimal(value)


def months(*pairs: tuple[str | int, int]) -> list[tuple[Decimal, int]]:
    """(sales, days) pairs, most recent first."""
    return [(D(sales), days) for sales, days in pairs]


# DOMAIN.md: March 60 000 (31 d), February 50 000 (28 d), January 70 000 (31 d).
Q1_2025 = months((60000, 31), (50000, 28), (70000, 31))
# The seed document's table, most recent first: Dec 90 000, Nov 80 000, Oct 50 000.
SEED_2021 = months((90000, 31), (80000, 30), (50000, 31))


# --- count-back ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outstanding", "walk", "order", "empty_month", "expected"),
    [
        # 31 + 28 + 40 000/70 000 × 31 = 76.714… -> 76.71
        pytest.param(
            "150000",
            Q1_2025,
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "76.71",
            id="domain-example",
        ),
        # Dec 90 000 used up (31), 60 000 left: 60 000/80 000 × 30 = 22.5 -> 53.50
        pytest.param(
            "150000",
            SEED_2021,
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "53.50",
            id="seed-recent-first-standard",
        ),
        # Oct 50 000 (31), Nov 80 000 (30), 20 000 left: 20 000/90 000 × 31 = 6.888… -> 67.89
        pytest.param(
            "150000",
            SEED_2021,
            WalkOrder.OLDEST_FIRST,
            EmptyMonth.COUNT,
            "67.89",
            id="seed-oldest-first-variant",
        ),
        # First month only partly used: 30 000/60 000 × 31 = 15.5
        pytest.param(
            "30000",
            Q1_2025,
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "15.50",
            id="first-month-partial",
        ),
        # Zero-sales February, COUNT: 31 + 28 + (100 000 − 60 000)/70 000 × 31 = 76.71
        pytest.param(
            "100000",
            months((60000, 31), (0, 28), (70000, 31)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "76.71",
            id="zero-month-count",
        ),
        # Zero-sales February, STOP: March used up (31), the walk stops at February
        pytest.param(
            "100000",
            months((60000, 31), (0, 28), (70000, 31)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.STOP,
            "31.00",
            id="zero-month-stop",
        ),
        # Negative February (credit notes over sales) is treated like an empty month
        pytest.param(
            "100000",
            months((60000, 31), (-5000, 28), (70000, 31)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "76.71",
            id="negative-month-count",
        ),
        pytest.param(
            "100000",
            months((60000, 31), (-5000, 28), (70000, 31)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.STOP,
            "31.00",
            id="negative-month-stop",
        ),
        # An empty most recent month under STOP: nothing is counted
        pytest.param(
            "10000",
            months((0, 15), (50000, 28)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.STOP,
            "0.00",
            id="empty-first-stop",
        ),
        # ... under COUNT: 15 + 10 000/50 000 × 28 = 20.6
        pytest.param(
            "10000",
            months((0, 15), (50000, 28)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "20.60",
            id="empty-first-count",
        ),
        # Outstanding exactly uses up March: 31, the empty February after it is not counted
        pytest.param(
            "60000",
            months((60000, 31), (0, 28), (70000, 31)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "31.00",
            id="exactly-used-up",
        ),
        # Months run out with 20 000 left: 31 + 28 = 59, a floor
        pytest.param(
            "130000",
            months((60000, 31), (50000, 28)),
            WalkOrder.RECENT_FIRST,
            EmptyMonth.COUNT,
            "59.00",
            id="months-run-out",
        ),
        pytest.param(
            "0", Q1_2025, WalkOrder.RECENT_FIRST, EmptyMonth.COUNT, "0.00", id="zero-outstanding"
        ),
        pytest.param(
            "-500",
            Q1_2025,
            WalkOrder.OLDEST_FIRST,
            EmptyMonth.STOP,
            "0.00",
            id="negative-outstanding",
        ),
    ],
)
def test_count_back_dso(
    outstanding: str,
    walk: list[tuple[Decimal, int]],
    order: WalkOrder,
    empty_month: EmptyMonth,
    expected: str,
) -> None:
    result = count_back_dso(D(outstanding), walk, order=order, empty_month=empty_month)
    assert round_days(result) == D(expected)


def test_count_back_dso_is_exact_not_rounded() -> None:
    # 31 + 28 + 40 000 × 31 / 70 000 = 59 + 124/7
    result = count_back_dso(D(150000), Q1_2025)
    assert result is not None
    assert abs(result - (D(59) + D(124) / D(7))) < D("1e-20")
    assert result != round_days(result)


def test_count_back_dso_accepts_string_settings() -> None:
    result = count_back_dso(
        D(150000),
        SEED_2021,
        order="oldest-first",  # type: ignore[arg-type]
        empty_month="stop",
    )  # type: ignore[arg-type]
    assert round_days(result) == D("67.89")


@pytest.mark.parametrize(
    ("outstanding", "walk"),
    [
        pytest.param("1000", [], id="no-months"),
        pytest.param("1000", months((0, 31), (0, 28)), id="all-zero-sales"),
        pytest.param("1000", months((-10, 31), (0, 28)), id="all-negative-or-zero"),
        pytest.param("0", months((0, 31)), id="zero-outstanding-no-sales"),
    ],
)
@pytest.mark.parametrize("empty_month", list(EmptyMonth))
def test_count_back_dso_none_without_sales(
    outstanding: str, walk: list[tuple[Decimal, int]], empty_month: EmptyMonth
) -> None:
    assert count_back_dso(D(outstanding), walk, empty_month=empty_month) is None


def test_count_back_dso_refuses_a_month_without_days() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        count_back_dso(D(100), months((100, 0)))


def test_count_back_over_a_partial_month() -> None:
    # As of 15 March 2025: March so far 30 000 (15 d), Feb 50 000 (28 d), Jan 70 000 (31 d).
    # 100 000: 15 + 28 + 20 000/70 000 × 31 = 43 + 8.857… = 51.86
    periods = monthly_periods(date(2025, 3, 15), 3)
    sales = [D(30000), D(50000), D(70000)]
    walk = [(s, p.days) for s, p in zip(sales, periods, strict=True)]
    assert round_days(count_back_dso(D(100000), walk)) == D("51.86")


# --- periods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "count", "expected"),
    [
        pytest.param(
            date(2025, 3, 15),
            3,
            [
                (date(2025, 3, 1), date(2025, 3, 15), 15),
                (date(2025, 2, 1), date(2025, 2, 28), 28),
                (date(2025, 1, 1), date(2025, 1, 31), 31),
            ],
            id="mid-month",
        ),
        pytest.param(
            date(2025, 1, 10),
            3,
            [
                (date(2025, 1, 1), date(2025, 1, 10), 10),
                (date(2024, 12, 1), date(2024, 12, 31), 31),
                (date(2024, 11, 1), date(2024, 11, 30), 30),
            ],
            id="across-year-boundary",
        ),
        pytest.param(
            date(2024, 3, 31),
            2,
            [
                (date(2024, 3, 1), date(2024, 3, 31), 31),
                (date(2024, 2, 1), date(2024, 2, 29), 29),
            ],
            id="leap-february",
        ),
        pytest.param(
            date(2025, 3, 1),
            1,
            [
                (date(2025, 3, 1), date(2025, 3, 1), 1),
            ],
            id="first-of-month",
        ),
        pytest.param(date(2025, 3, 1), 0, [], id="none-asked"),
    ],
)
def test_monthly_periods(as_of: date, count: int, expected: list[tuple[date, date, int]]) -> None:
    periods = monthly_periods(as_of, count)
    assert [(p.start, p.end, p.days) for p in periods] == expected


def test_monthly_periods_refuses_negative_count() -> None:
    with pytest.raises(ValueError, match="count"):
        monthly_periods(date(2025, 3, 1), -1)


def test_period_refuses_end_before_start() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2025, 3, 2), date(2025, 3, 1))


@pytest.mark.parametrize(
    ("as_of", "length", "start", "days"),
    [
        pytest.param(date(2025, 3, 31), PeriodLength.MONTH, date(2025, 3, 1), 31, id="month"),
        # Jan 31 + Feb 28 + Mar 31
        pytest.param(date(2025, 3, 31), PeriodLength.QUARTER, date(2025, 1, 1), 90, id="quarter"),
        # 31 + 28 + 31 + 30 + 31 + 30
        pytest.param(
            date(2025, 6, 30), PeriodLength.HALF_YEAR, date(2025, 1, 1), 181, id="half-year"
        ),
        pytest.param(date(2025, 12, 31), PeriodLength.YEAR, date(2025, 1, 1), 365, id="year"),
        pytest.param(date(2024, 12, 31), PeriodLength.YEAR, date(2024, 1, 1), 366, id="leap-year"),
        # 16–28 Feb (13) + 1–15 Mar (15)
        pytest.param(date(2025, 3, 15), PeriodLength.MONTH, date(2025, 2, 16), 28, id="mid-month"),
        # Month end: whole months March–May, 31 + 30 + 31 (31 Feb does not exist)
        pytest.param(
            date(2025, 5, 31),
            PeriodLength.QUARTER,
            date(2025, 3, 1),
            92,
            id="quarter-clamped-month-end",
        ),
        # Dec 31 + Jan 31 + Feb 29
        pytest.param(
            date(2024, 2, 29), PeriodLength.QUARTER, date(2023, 12, 1), 91, id="leap-february-end"
        ),
        pytest.param(
            date(2025, 2, 28), PeriodLength.MONTH, date(2025, 2, 1), 28, id="february-end"
        ),
        # 28 Feb 2024 is not a month end (leap year): from 29 Jan, 3 + 28 days
        pytest.param(
            date(2024, 2, 28), PeriodLength.MONTH, date(2024, 1, 29), 31, id="leap-february-28"
        ),
        # 30 Feb does not exist: clamped to 28 Feb, so the month is 1–30 March
        pytest.param(date(2025, 3, 30), PeriodLength.MONTH, date(2025, 3, 1), 30, id="clamped-day"),
        # 16–28 Feb (13) + Mar 31 + Apr 30 + May 31 + Jun 30 + Jul 31 + 1–15 Aug (15)
        pytest.param(
            date(2025, 8, 15),
            PeriodLength.HALF_YEAR,
            date(2025, 2, 16),
            181,
            id="half-year-mid-month",
        ),
        pytest.param(
            date(2025, 1, 15),
            PeriodLength.QUARTER,
            date(2024, 10, 16),
            92,
            id="quarter-across-year",
        ),
    ],
)
def test_accounting_period_calendar(
    as_of: date, length: PeriodLength, start: date, days: int
) -> None:
    period, day_count = accounting_period(as_of, length, DayCount.CALENDAR)
    assert (period.start, period.end) == (start, as_of)
    assert day_count == days == period.days


@pytest.mark.parametrize(
    ("length", "days"),
    [
        (PeriodLength.MONTH, 30),
        (PeriodLength.QUARTER, 90),
        (PeriodLength.HALF_YEAR, 180),
        (PeriodLength.YEAR, 360),
    ],
)
def test_accounting_period_360(length: PeriodLength, days: int) -> None:
    # The period itself stays calendar; only the day count follows the convention.
    as_of = date(2025, 5, 31)
    period, day_count = accounting_period(as_of, length, DayCount.BANK_360)
    assert day_count == days
    assert period == accounting_period(as_of, length)[0]


def test_accounting_period_accepts_strings() -> None:
    period, days = accounting_period(date(2025, 3, 31), "quarter", "360")  # type: ignore[arg-type]
    assert (period.start, days) == (date(2025, 1, 1), 90)


# --- accounting method and the figures around DSO ---------------------------------------------


@pytest.mark.parametrize(
    ("outstanding", "sales", "days", "expected"),
    [
        pytest.param("30000", "60000", 90, Decimal(45), id="domain-example"),
        # 30 000 / 120 000 × 360 = 90 (Banque de France year)
        pytest.param("30000", "120000", 360, Decimal(90), id="bank-360-year"),
        # 30 000 / 120 000 × 365 = 91.25
        pytest.param("30000", "120000", 365, Decimal("91.25"), id="calendar-year"),
        pytest.param("0", "60000", 90, Decimal(0), id="zero-outstanding"),
        # customer in credit: −5 000 / 60 000 × 90 = −7.5
        pytest.param("-5000", "60000", 90, Decimal("-7.5"), id="negative-outstanding"),
        pytest.param("30000", "0", 90, None, id="no-sales"),
        pytest.param("30000", "-100", 90, None, id="negative-sales"),
    ],
)
def test_accounting_dso(outstanding: str, sales: str, days: int, expected: Decimal | None) -> None:
    assert accounting_dso(D(outstanding), D(sales), days) == expected


def test_accounting_dso_over_a_360_period() -> None:
    _, days = accounting_period(date(2025, 12, 31), PeriodLength.YEAR, DayCount.BANK_360)
    assert accounting_dso(D(30000), D(120000), days) == D(90)


@pytest.mark.parametrize(
    ("not_due", "sales", "days", "expected"),
    [
        # 20 000 / 60 000 × 90 = 30
        ("20000", "60000", 90, Decimal(30)),
        ("0", "60000", 90, Decimal(0)),
        ("20000", "0", 90, None),
    ],
)
def test_best_possible_dso(not_due: str, sales: str, days: int, expected: Decimal | None) -> None:
    assert best_possible_dso(D(not_due), D(sales), days) == expected


@pytest.mark.parametrize(
    ("dso", "best", "expected"),
    [
        (Decimal(45), Decimal(30), Decimal(15)),
        (Decimal("53.5"), Decimal("53.5"), Decimal(0)),
        (None, Decimal(30), None),
        (Decimal(45), None, None),
        (None, None, None),
    ],
)
def test_average_days_delinquent(
    dso: Decimal | None, best: Decimal | None, expected: Decimal | None
) -> None:
    assert average_days_delinquent(dso, best) == expected


@pytest.mark.parametrize(
    ("opening", "sales", "closing", "closing_not_due", "expected"),
    [
        # (100 000 + 50 000 − 90 000) / (100 000 + 50 000 − 40 000) × 100 = 60/110 × 100
        pytest.param("100000", "50000", "90000", "40000", "54.55", id="typical"),
        # Everything still open is not due: (12 000)/(12 000) × 100 = 100
        pytest.param("10000", "5000", "3000", "3000", "100.00", id="perfect"),
        # Nothing collected: (20 000 + 10 000 − 30 000) / (30 000 − 5 000) × 100 = 0
        pytest.param("20000", "10000", "30000", "5000", "0.00", id="nothing-collected"),
        pytest.param("0", "0", "0", "0", None, id="zero-denominator"),
        # Denominator 1 000 + 0 − 2 000 < 0: nothing was collectible
        pytest.param("1000", "0", "500", "2000", None, id="negative-denominator"),
    ],
)
def test_collection_effectiveness_index(
    opening: str, sales: str, closing: str, closing_not_due: str, expected: str | None
) -> None:
    result = collection_effectiveness_index(D(opening), D(sales), D(closing), D(closing_not_due))
    assert round_days(result) == (None if expected is None else D(expected))


@pytest.mark.parametrize(
    ("cash", "opening", "sales", "expected"),
    [
        # 60 000 / (40 000 + 35 000) = 0.8
        ("60000", "40000", "35000", Decimal("0.8")),
        # 25 000 / (100 000 + 0) = 0.25
        ("25000", "100000", "0", Decimal("0.25")),
        ("0", "40000", "35000", Decimal(0)),
        ("1000", "0", "0", None),
        ("1000", "-500", "100", None),
    ],
)
def test_collection_rate(cash: str, opening: str, sales: str, expected: Decimal | None) -> None:
    assert collection_rate(D(cash), D(opening), D(sales)) == expected


@pytest.mark.parametrize(
    ("sales", "average", "turnover", "days"),
    [
        # 730 000 / 100 000 = 7.3 turns; 365 / 7.3 = 50 days
        ("730000", "100000", "7.3", "50.00"),
        # 1 200 000 / 100 000 = 12 turns; 365 / 12 = 30.4166… -> 30.42
        ("1200000", "100000", "12", "30.42"),
        # 365 000 / 365 000 = 1 turn; 365 days
        ("365000", "365000", "1", "365.00"),
    ],
)
def test_receivables_turnover_and_days(sales: str, average: str, turnover: str, days: str) -> None:
    result = receivables_turnover(D(sales), D(average))
    assert result == D(turnover)
    assert round_days(turnover_days(result)) == D(days)


@pytest.mark.parametrize("average", ["0", "-1"])
def test_receivables_turnover_none_without_outstanding(average: str) -> None:
    assert receivables_turnover(D(1000), D(average)) is None


@pytest.mark.parametrize("turnover", [None, Decimal(0), Decimal(-2)])
def test_turnover_days_none(turnover: Decimal | None) -> None:
    assert turnover_days(turnover) is None


DUE = date(2025, 1, 31)


@pytest.mark.parametrize(
    ("paid", "expected"),
    [
        # One invoice paid 10 days late
        pytest.param([("500", DUE, date(2025, 2, 10))], "10", id="single"),
        # (1 000 × 10 + 3 000 × −2) / 4 000 = 4 000 / 4 000 = 1
        pytest.param(
            [("1000", DUE, date(2025, 2, 10)), ("3000", DUE, date(2025, 1, 29))],
            "1",
            id="early-counts-negative",
        ),
        # (1 000 × 30 + 9 000 × 0) / 10 000 = 3, where an unweighted mean would say 15
        pytest.param(
            [("1000", DUE, date(2025, 3, 2)), ("9000", DUE, DUE)], "3", id="weighted-not-plain-mean"
        ),
        # (100 × 5 + 200 × 20) / 300 = 4 500 / 300 = 15
        pytest.param(
            [("100", DUE, date(2025, 2, 5)), ("200", date(2025, 2, 10), date(2025, 3, 2))],
            "15",
            id="different-due-dates",
        ),
        pytest.param([], None, id="none-paid"),
        pytest.param([("0", DUE, date(2025, 2, 10))], None, id="zero-amount"),
    ],
)
def test_average_payment_delay(paid: list[tuple[str, date, date]], expected: str | None) -> None:
    result = average_payment_delay((D(amount), due, on) for amount, due, on in paid)
    assert result == (None if expected is None else D(expected))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("67.885"), Decimal("67.89")),
        (Decimal("53.5"), Decimal("53.50")),
        (Decimal("2.345"), Decimal("2.35")),
        (Decimal("2.344999"), Decimal("2.34")),
        (Decimal("-1.005"), Decimal("-1.01")),
        (Decimal(45), Decimal("45.00")),
        (None, None),
    ],
)
def test_round_days(value: Decimal | None, expected: Decimal | None) -> None:
    result = round_days(value)
    assert result == expected
    if result is not None:
        assert result.as_tuple().exponent == -2


# --- calc_dso (command-line calculator) -------------------------------------------------------

Q1_SALES = {"2025-01": D(70000), "2025-02": D(50000), "2025-03": D(60000)}
SEED_SALES = {"2021-10": D(50000), "2021-11": D(80000), "2021-12": D(90000)}


@pytest.mark.parametrize(
    ("outstanding", "sales", "method", "order", "expected"),
    [
        pytest.param(
            "150000",
            Q1_SALES,
            DsoMethod.COUNT_BACK,
            WalkOrder.RECENT_FIRST,
            "76.71",
            id="domain-example",
        ),
        pytest.param(
            "150000",
            SEED_SALES,
            DsoMethod.COUNT_BACK,
            WalkOrder.RECENT_FIRST,
            "53.50",
            id="seed-recent-first",
        ),
        pytest.param(
            "150000",
            SEED_SALES,
            DsoMethod.COUNT_BACK,
            WalkOrder.OLDEST_FIRST,
            "67.89",
            id="seed-oldest-first",
        ),
        # Key order in the mapping does not matter
        pytest.param(
            "150000",
            dict(reversed(SEED_SALES.items())),
            DsoMethod.COUNT_BACK,
            WalkOrder.OLDEST_FIRST,
            "67.89",
            id="unsorted-keys",
        ),
        # Jan–Mar 2025 is 90 days; 30 000 / 60 000 × 90 = 45
        pytest.param(
            "30000",
            {"2025-01": D(20000), "2025-02": D(20000), "2025-03": D(20000)},
            DsoMethod.ACCOUNTING,
            WalkOrder.RECENT_FIRST,
            "45.00",
            id="accounting-domain-example",
        ),
        # Oct–Dec 2021 is 92 days; 150 000 / 220 000 × 92 = 62.727… -> 62.73
        pytest.param(
            "150000",
            SEED_SALES,
            DsoMethod.ACCOUNTING,
            WalkOrder.RECENT_FIRST,
            "62.73",
            id="accounting-seed",
        ),
        # Leap February has 29 days: 14 500 / 29 000 × 29 = 14.5
        pytest.param(
            "14500",
            {"2024-02": D(29000)},
            DsoMethod.COUNT_BACK,
            WalkOrder.RECENT_FIRST,
            "14.50",
            id="leap-february",
        ),
        # Across a year boundary, most recent first: Jan 2025 (31) then 10 000/20 000 × 31
        pytest.param(
            "40000",
            {"2024-12": D(20000), "2025-01": D(30000)},
            DsoMethod.COUNT_BACK,
            WalkOrder.RECENT_FIRST,
            "46.50",
            id="across-year",
        ),
        pytest.param(
            "150000",
            {"2025-03": D(0)},
            DsoMethod.COUNT_BACK,
            WalkOrder.RECENT_FIRST,
            None,
            id="count-back-no-sales",
        ),
        pytest.param(
            "150000",
            {"2025-03": D(0)},
            DsoMethod.ACCOUNTING,
            WalkOrder.RECENT_FIRST,
            None,
            id="accounting-no-sales",
        ),
    ],
)
def test_calc_dso(
    outstanding: str,
    sales: dict[str, Decimal],
    method: DsoMethod,
    order: WalkOrder,
    expected: str | None,
) -> None:
    result = calc_dso(D(outstanding), sales, method=method, order=order)
    assert round_days(result) == (None if expected is None else D(expected))


@pytest.mark.parametrize(
    ("empty_month", "expected"),
    [
        # Mar 60 000 used up (31), empty Feb counted (28), 40 000/70 000 × 31 -> 76.71
        (EmptyMonth.COUNT, "76.71"),
        (EmptyMonth.STOP, "31.00"),
    ],
)
def test_calc_dso_empty_month(empty_month: EmptyMonth, expected: str) -> None:
    sales = {"2025-01": D(70000), "2025-02": D(0), "2025-03": D(60000)}
    assert round_days(calc_dso(D(100000), sales, empty_month=empty_month)) == D(expected)


def test_calc_dso_defaults_to_standard_count_back() -> None:
    assert round_days(calc_dso(D(150000), SEED_SALES)) == D("53.50")


def test_calc_dso_accepts_string_settings_and_loose_keys() -> None:
    sales = {" 2021-10": D(50000), "2021-11 ": D(80000), "2021-12": D(90000)}
    result = calc_dso(
        D(150000),
        sales,
        method="count-back",  # type: ignore[arg-type]
        order="oldest-first",
    )  # type: ignore[arg-type]
    assert round_days(result) == D("67.89")
    assert round_days(calc_dso(D(14500), {"2024-2": D(29000)})) == D("14.50")


@pytest.mark.parametrize(
    ("sales", "message"),
    [
        pytest.param({}, "no monthly sales", id="empty"),
        pytest.param({"2025-13": D(1)}, "YYYY-MM", id="month-13"),
        pytest.param({"2025-00": D(1)}, "YYYY-MM", id="month-0"),
        pytest.param({"2025/03": D(1)}, "YYYY-MM", id="slash"),
        pytest.param({"25-03": D(1)}, "YYYY-MM", id="short-year"),
        pytest.param({"2025-03-01": D(1)}, "YYYY-MM", id="a-date"),
        pytest.param({"March": D(1)}, "YYYY-MM", id="a-name"),
        pytest.param({"2025-3": D(1), "2025-03": D(2)}, "given twice", id="duplicate"),
        pytest.param({"2025-01": D(1), "2025-03": D(2)}, "consecutive", id="gap"),
        pytest.param({"2024-12": D(1), "2025-02": D(2)}, "consecutive", id="gap-across-year"),
    ],
)
def test_calc_dso_refuses_bad_input(sales: dict[str, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calc_dso(D(100), sales)


def test_calc_dso_refuses_unknown_method() -> None:
    with pytest.raises(ValueError, match="bogus"):
        calc_dso(D(100), Q1_SALES, method="bogus")  # type: ignore[arg-type]


def test_calc_dso_refuses_float() -> None:
    with pytest.raises(TypeError, match="never float"):
        calc_dso(D(100), {"2025-03": 1000.0})  # type: ignore[dict-item]


def test_docstring_examples() -> None:
    failures, tried = doctest.testmod(dso_module)
    assert tried > 0
    assert failures == 0


# --- properties ------------------------------------------------------------------------------

amounts = st.decimals(
    min_value=-1_000_000, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False
)
sales_amounts = st.decimals(
    min_value=-10_000, max_value=500_000, places=2, allow_nan=False, allow_infinity=False
)
walks = st.lists(st.tuples(sales_amounts, st.integers(min_value=1, max_value=31)), max_size=12)
orders = st.sampled_from(WalkOrder)
empty_months = st.sampled_from(EmptyMonth)


@given(outstanding=amounts, walk=walks, order=orders, empty_month=empty_months)
def test_count_back_is_non_negative(
    outstanding: Decimal,
    walk: list[tuple[Decimal, int]],
    order: WalkOrder,
    empty_month: EmptyMonth,
) -> None:
    result = count_back_dso(outstanding, walk, order=order, empty_month=empty_month)
    has_sales = any(sales > 0 for sales, _ in walk)
    assert (result is None) == (not has_sales)
    assert result is None or result >= 0


@given(a=amounts, b=amounts, walk=walks, order=orders, empty_month=empty_months)
def test_count_back_is_monotone_in_outstanding(
    a: Decimal,
    b: Decimal,
    walk: list[tuple[Decimal, int]],
    order: WalkOrder,
    empty_month: EmptyMonth,
) -> None:
    low, high = sorted((a, b))
    low_dso = count_back_dso(low, walk, order=order, empty_month=empty_month)
    high_dso = count_back_dso(high, walk, order=order, empty_month=empty_month)
    assert (low_dso is None) == (high_dso is None)
    if low_dso is not None and high_dso is not None:
        assert low_dso <= high_dso


@given(outstanding=amounts, walk=walks, order=orders, empty_month=empty_months)
def test_count_back_stays_within_the_months_given(
    outstanding: Decimal,
    walk: list[tuple[Decimal, int]],
    order: WalkOrder,
    empty_month: EmptyMonth,
) -> None:
    assume(outstanding <= sum((s for s, _ in walk if s > 0), Decimal(0)))
    result = count_back_dso(outstanding, walk, order=order, empty_month=empty_month)
    assert result is None or result <= sum(days for _, days in walk)
