"""Late-payment penalties and the 40 € indemnity: worked examples with the real rates."""

from __future__ import annotations

import doctest
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encours.metrics import penalties as penalties_module
from encours.metrics.penalties import (
    DueLineHistory,
    HalfYearRates,
    RateTable,
    UnknownRateError,
    invoice_penalties,
    line_penalty,
)

# The rates of config.example.toml: ECB main refinancing rate on 1 January / 1 July, and the
# legal interest rate for professional creditors, in percent.
RATES = RateTable(
    (
        HalfYearRates(date(2024, 7, 1), ecb=Decimal("4.25"), legal=Decimal("4.92")),
        HalfYearRates(date(2025, 1, 1), ecb=Decimal("3.15"), legal=Decimal("3.71")),
        HalfYearRates(date(2025, 7, 1), ecb=Decimal("2.15"), legal=Decimal("2.76")),
        HalfYearRates(date(2026, 1, 1), ecb=Decimal("2.15"), legal=Decimal("2.62")),
    )
)
INDEMNITY = 4000  # 40.00 EUR


def test_doctests():
    result = doctest.testmod(penalties_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_penalties_across_a_half_year_change_of_rate():
    # 10 000.00 due 31 May 2025, unpaid on 31 August: 30 days of June at 13.15 % (3.15 + 10),
    # then 62 days of July and August at 12.15 % (2.15 + 10).
    line = DueLineHistory("F1", 0, date(2025, 5, 31), 1_000_000)
    result = line_penalty(line, as_of=date(2025, 8, 31), rates=RATES)
    assert result.days_late == 92
    # 1 000 000 × (13.15 × 30 + 12.15 × 62) / 36 500 = 31 446.575... -> 314.47
    assert result.penalty == 31447
    assert result.assumed_from is None


def test_the_rate_is_never_below_three_times_the_legal_rate():
    # Second half of 2024: ECB 4.25 + 10 = 14.25 %, but 3 × 4.92 % = 14.76 % is the floor.
    assert RATES.rates_on(date(2024, 10, 1))[0].penalty == Decimal("14.76")
    line = DueLineHistory("F1", 0, date(2024, 9, 30), 1_000_000)
    result = line_penalty(line, as_of=date(2024, 10, 31), rates=RATES)
    # 1 000 000 × 14.76 × 31 / 36 500 = 12 535.89 -> 125.36, not 121.03 at 14.25 %.
    assert (result.days_late, result.penalty) == (31, 12536)


def test_a_partial_payment_lowers_the_residual_from_the_next_day():
    # 1 000.00 due 31 Jan 2025; 600.00 paid on 10 Feb; as of 2 March.
    # 10 days on 1 000.00 (1-10 Feb), then 20 days on 400.00 (11 Feb - 2 March), at 13.15 %.
    line = DueLineHistory("F1", 0, date(2025, 1, 31), 100_000, ((date(2025, 2, 10), 60_000),))
    result = line_penalty(line, as_of=date(2025, 3, 2), rates=RATES)
    exact = (Decimal(100_000) * 10 + Decimal(40_000) * 20) * Decimal("13.15") / 36500
    assert result.days_late == 30
    assert result.penalty == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)) == 648


def test_paid_on_the_due_date_is_not_late_and_a_payment_after_as_of_does_not_count():
    on_time = ((date(2025, 3, 31), 100_000),)
    paid_on_time = DueLineHistory("F1", 0, date(2025, 3, 31), 100_000, on_time)
    assert line_penalty(paid_on_time, as_of=date(2025, 6, 30), rates=RATES).days_late == 0
    later = ((date(2025, 5, 30), 100_000),)
    paid_later = DueLineHistory("F2", 0, date(2025, 3, 31), 100_000, later)
    # As of 30 April the payment of 30 May has not happened yet: 30 days late.
    assert line_penalty(paid_later, as_of=date(2025, 4, 30), rates=RATES).days_late == 30
    # As of 30 June it stopped the penalties on 30 May: 60 days late.
    assert line_penalty(paid_later, as_of=date(2025, 6, 30), rates=RATES).days_late == 60


def test_a_line_the_source_marks_settled_stops_on_that_day():
    line = DueLineHistory("F1", 0, date(2025, 3, 31), 100_000, settled_on=date(2025, 4, 10))
    assert line_penalty(line, as_of=date(2025, 6, 30), rates=RATES).days_late == 10


def test_one_indemnity_per_late_invoice_whatever_its_late_due_lines():
    lines = [
        DueLineHistory("F1", 0, date(2025, 2, 28), 50_000),
        DueLineHistory("F1", 1, date(2025, 3, 31), 50_000),
    ]
    result = invoice_penalties(
        lines, as_of=date(2025, 4, 30), rates=RATES, is_business=True, indemnity=INDEMNITY
    )
    assert [line.days_late for line in result.lines] == [61, 30]
    assert result.indemnity == 4000
    assert result.penalty == sum(line.penalty for line in result.lines) > 0


def test_no_indemnity_nor_penalty_for_a_consumer():
    lines = [DueLineHistory("F1", 0, date(2025, 2, 28), 50_000)]
    result = invoice_penalties(
        lines, as_of=date(2025, 4, 30), rates=RATES, is_business=False, indemnity=INDEMNITY
    )
    assert result.is_late
    assert (result.indemnity, result.penalty) == (0, 0)


def test_no_indemnity_when_not_late():
    lines = [
        DueLineHistory("F1", 0, date(2025, 4, 30), 50_000),  # due on the as-of date
        DueLineHistory("F1", 1, date(2025, 3, 31), 50_000, ((date(2025, 3, 20), 50_000),)),
    ]
    result = invoice_penalties(
        lines, as_of=date(2025, 4, 30), rates=RATES, is_business=True, indemnity=INDEMNITY
    )
    assert not result.is_late
    assert (result.indemnity, result.penalty) == (0, 0)


def test_rates_after_the_last_half_year_known_are_carried_forward_and_said_so():
    line = DueLineHistory("F1", 0, date(2026, 6, 30), 100_000)
    result = line_penalty(line, as_of=date(2026, 7, 10), rates=RATES)
    assert result.assumed_from == date(2026, 7, 1)
    assert result.days_late == 10


def test_a_day_before_the_first_half_year_known_is_an_error():
    line = DueLineHistory("F1", 0, date(2024, 6, 1), 100_000)
    with pytest.raises(UnknownRateError, match="2024-01-01"):
        line_penalty(line, as_of=date(2024, 7, 10), rates=RATES)


def test_the_table_refuses_a_half_year_that_does_not_start_on_1_january_or_1_july():
    with pytest.raises(ValueError, match="1 January or 1 July"):
        RateTable((HalfYearRates(date(2025, 2, 1), Decimal(3), Decimal(3)),))


@settings(max_examples=60, deadline=None)
@given(
    due=st.dates(min_value=date(2024, 7, 1), max_value=date(2026, 6, 1)),
    amount=st.integers(min_value=1, max_value=10**9),
    payments=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=10**8)
        ),
        max_size=4,
    ),
    horizon=st.integers(min_value=0, max_value=400),
)
def test_equals_the_day_by_day_sum_rounded_once(due, amount, payments, horizon):
    dated = tuple((due + timedelta(days=offset), units) for offset, units in payments)
    line = DueLineHistory("F", 0, due, amount, dated)
    as_of = due + timedelta(days=horizon)
    result = line_penalty(line, as_of=as_of, rates=RATES)
    exact = Decimal(0)
    days = 0
    day = due + timedelta(days=1)
    while day <= as_of:
        residual = amount - sum(units for paid_on, units in dated if paid_on < day)
        if residual <= 0:
            break
        exact += residual * RATES.rates_on(day)[0].penalty
        days += 1
        day += timedelta(days=1)
    assert result.days_late == days
    assert result.penalty == int((exact / 36500).quantize(Decimal(1), rounding=ROUND_HALF_UP))
