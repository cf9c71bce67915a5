"""The credit limit position and the risk grade: their worked examples and their laws."""

from __future__ import annotations

import doctest
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from encours.metrics import credit, risk
from encours.metrics.credit import credit_position
from encours.metrics.risk import RiskFinding, RiskMeasures, RiskThresholds, risk_grade


@pytest.mark.parametrize("module", [credit, risk])
def test_the_docstring_examples_hold(module: object) -> None:
    failed, attempted = doctest.testmod(module)  # type: ignore[arg-type]
    assert attempted and not failed


def test_drafts_count_in_the_exposure() -> None:
    """The module's worked example: 8 500.00 owed and a 2 000.00 draft on a 10 000.00 limit."""
    position = credit_position(outstanding=850_000, drafts=200_000, limit=1_000_000)

    assert position.exposure == 1_050_000
    assert position.usage == Decimal("1.05")
    assert position.on_hold


@pytest.mark.parametrize("limit", [None, 0])
def test_no_limit_no_usage_no_hold(limit: int | None) -> None:
    position = credit_position(outstanding=5_000_000, drafts=0, limit=limit)

    assert (position.usage, position.on_hold) == (None, False)


def test_money_owed_to_the_customer_lowers_the_exposure() -> None:
    """A customer in credit (unapplied money beyond its invoices) uses less than nothing."""
    position = credit_position(outstanding=-30_000, drafts=10_000, limit=100_000)

    assert position.usage == Decimal("-0.2")
    assert not position.on_hold


def test_the_worked_example_is_graded_c_for_its_payment_delay() -> None:
    grade = risk_grade(
        RiskMeasures(
            payment_delay_days=Decimal(32),
            late_beyond_60_share=Decimal("0.20"),
            dso_rise_days=Decimal(5),
            limit_usage=Decimal("0.90"),
        )
    )

    assert (grade.grade, grade.reasons) == ("C", ("pays 32 days late on average (C from 30)",))
    assert grade.findings == (
        RiskFinding("payment_delay_days", Decimal(32), Decimal(30), "C", late_after_days=60),
    )


def test_reasons_at_the_worst_grade_come_furthest_past_their_threshold_first() -> None:
    grade = risk_grade(
        RiskMeasures(
            payment_delay_days=Decimal(12),  # B, 1.2 x its threshold
            late_beyond_60_share=Decimal("0.15"),  # B, 1.5 x
            limit_usage=Decimal("0.50"),  # A
        )
    )

    assert grade.grade == "B"
    assert grade.reasons == (
        "15 % of its open items are over 60 days late (B from 10 %)",
        "pays 12 days late on average (B from 10)",
    )
    assert grade.main_reason == grade.reasons[0]


def test_a_threshold_reached_exactly_counts() -> None:
    assert risk_grade(RiskMeasures(limit_usage=Decimal("1.20"))).grade == "D"
    assert risk_grade(RiskMeasures(limit_usage=Decimal("1.1999"))).grade == "C"


def test_nothing_known_is_grade_a_with_no_reason() -> None:
    grade = risk_grade(RiskMeasures())

    assert (grade.grade, grade.reasons) == ("A", ())
    assert grade.main_reason == "no measure past its thresholds"


def test_thresholds_must_ascend() -> None:
    with pytest.raises(ValueError, match="dso_rise_days needs three ascending values"):
        RiskThresholds(dso_rise_days=(Decimal(20), Decimal(10), Decimal(40)))


measure = st.one_of(
    st.none(), st.decimals(min_value=-100, max_value=500, places=2, allow_nan=False)
)
measures = st.builds(
    RiskMeasures,
    payment_delay_days=measure,
    late_beyond_60_share=st.one_of(st.none(), st.decimals(0, 1, places=4)),
    dso_rise_days=measure,
    limit_usage=st.one_of(st.none(), st.decimals(-1, 5, places=4)),
)


@given(measures, st.sampled_from(risk.MEASURES), st.decimals(0, 100, places=2))
def test_a_worse_measure_never_gives_a_better_grade(
    before: RiskMeasures, name: str, worse_by: Decimal
) -> None:
    value = getattr(before, name)
    if value is None:
        return
    values = {n: getattr(before, n) for n in risk.MEASURES}
    after = RiskMeasures(**{**values, name: value + worse_by})

    assert risk_grade(after).grade >= risk_grade(before).grade


@given(measures)
def test_every_grade_but_a_says_why(measures: RiskMeasures) -> None:
    grade = risk_grade(measures)

    assert grade.grade in "ABCD"
    assert bool(grade.reasons) == (grade.grade != "A")
    assert all(f"({grade.grade} from " in reason for reason in grade.reasons)
