"""A risk grade A–D per customer that says why: four measures, each against its thresholds.

Each measure gives a grade of its own, and the customer's grade is the worst of them; its
reasons are the measures at that grade, worst first (the one furthest past its threshold,
as a share of the threshold). A measure that cannot be computed (no paid invoice yet, no
credit limit, no DSO three months back) gives no grade and no reason.

The measures, as of a date D:

- payment delay: the amount-weighted average of (paid date − due date) over the invoices
  paid by D, in days (`metrics.dso.average_payment_delay`);
- late beyond 60 days: the residuals overdue by more than 60 days (the aged balance's
  ranges past its 60-day edge) as a share of not due + overdue;
- DSO trend: DSO at D − DSO at the last stored snapshot at least 90 days before D, in days
  (the caller leaves it out where it says nothing: see `sync.figures.risk_measures`);
- limit usage: exposure (outstanding + drafts) / credit limit (`metrics.credit`).

A measure reaches grade B, C or D when it is at or above that grade's threshold
(`RiskThresholds`; the config's `[risk]` table), else it is A.

Worked example, with the default thresholds (payment delay 10/30/60 days; late beyond 60
days 10 %/25 %/50 %; DSO rise 10/20/40 days; limit usage 80 %/100 %/120 %): a customer who
paid 32 days late on average (C: 32 ≥ 30), has 2 000.00 of 10 000.00 late beyond 60 days
(20 %: B), a DSO of 75 against 70 three months ago (+5: A) and uses 9 000.00 of a 10 000.00
limit (90 %: B) is graded C, for one reason: "pays 32 days late on average (C from 30)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

GRADES = ("A", "B", "C", "D")


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    """Where each measure reaches grades B, C and D (each tuple ascending)."""

    payment_delay_days: tuple[Decimal, Decimal, Decimal] = (
        Decimal(10),
        Decimal(30),
        Decimal(60),
    )
    late_beyond_60_share: tuple[Decimal, Decimal, Decimal] = (
        Decimal("0.10"),
        Decimal("0.25"),
        Decimal("0.50"),
    )
    dso_rise_days: tuple[Decimal, Decimal, Decimal] = (Decimal(10), Decimal(20), Decimal(40))
    limit_usage: tuple[Decimal, Decimal, Decimal] = (
        Decimal("0.80"),
        Decimal("1.00"),
        Decimal("1.20"),
    )

    def __post_init__(self) -> None:
        for name in MEASURES:
            values = getattr(self, name)
            if len(values) != 3 or list(values) != sorted(values):
                raise ValueError(
                    f"risk threshold {name} needs three ascending values (grades B, C, D), "
                    f"got {list(values)}"
                )


@dataclass(frozen=True, slots=True)
class RiskMeasures:
    """The four measures of one customer; None where one cannot be computed."""

    payment_delay_days: Decimal | None = None
    late_beyond_60_share: Decimal | None = None
    dso_rise_days: Decimal | None = None
    limit_usage: Decimal | None = None
    #: Where `late_beyond_60_share` starts: 60, or the aged balance's first edge past it.
    late_after_days: int = 60


@dataclass(frozen=True, slots=True)
class RiskFinding:
    """One measure past a threshold: its value, the threshold it reached and that grade.

    `text` words it in English (the `--json` reasons); a view in another language words it
    from these fields (`sync/risk_text.py`).
    """

    measure: str  # one of MEASURES
    value: Decimal
    threshold: Decimal
    grade: str
    late_after_days: int = 60

    @property
    def text(self) -> str:
        """The finding in words: "pays 32 days late on average (C from 30)"."""
        return _wording(self.measure, self.value, self.threshold, self.grade, self.late_after_days)


@dataclass(frozen=True, slots=True)
class RiskGrade:
    """A grade and the findings that gave it, the main one first (none for grade A)."""

    grade: str
    findings: tuple[RiskFinding, ...] = field(default=())

    @property
    def reasons(self) -> tuple[str, ...]:
        """The findings in words, the main one first."""
        return tuple(finding.text for finding in self.findings)

    @property
    def main_reason(self) -> str:
        """The first reason, or a sentence saying nothing stands out."""
        return self.reasons[0] if self.reasons else "no measure past its thresholds"


def _days(value: Decimal) -> str:
    return f"{value.quantize(Decimal(1)):f}"


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal(1)):f} %"


def _wording(name: str, value: Decimal, threshold: Decimal, grade: str, late_after: int) -> str:
    """How a measure past its threshold reads in a reason."""
    if name == "payment_delay_days":
        return f"pays {_days(value)} days late on average ({grade} from {_days(threshold)})"
    if name == "late_beyond_60_share":
        return (
            f"{_percent(value)} of its open items are over {late_after} days late "
            f"({grade} from {_percent(threshold)})"
        )
    if name == "dso_rise_days":
        return f"DSO up {_days(value)} days in three months ({grade} from {_days(threshold)})"
    return f"uses {_percent(value)} of its credit limit ({grade} from {_percent(threshold)})"


MEASURES = ("payment_delay_days", "late_beyond_60_share", "dso_rise_days", "limit_usage")


def _grade_of(value: Decimal, thresholds: Sequence[Decimal]) -> int:
    """0 for A, 1 for B, ...: how many thresholds `value` reaches."""
    return sum(1 for threshold in thresholds if value >= threshold)


def risk_grade(measures: RiskMeasures, thresholds: RiskThresholds | None = None) -> RiskGrade:
    """The customer's grade: the worst of its measures' grades, with the reasons for it.

    >>> grade = risk_grade(RiskMeasures(
    ...     payment_delay_days=Decimal(32), late_beyond_60_share=Decimal("0.2"),
    ...     dso_rise_days=Decimal(5), limit_usage=Decimal("0.9")))
    >>> grade.grade, grade.reasons
    ('C', ('pays 32 days late on average (C from 30)',))
    >>> risk_grade(RiskMeasures()).grade
    'A'
    """
    thresholds = thresholds or RiskThresholds()
    graded: list[tuple[int, Decimal, RiskFinding]] = []
    for name in MEASURES:
        value = getattr(measures, name)
        if value is None:
            continue
        steps = getattr(thresholds, name)
        level = _grade_of(value, steps)
        if level:
            threshold = steps[level - 1]
            excess = value / threshold if threshold > 0 else Decimal(0)
            finding = RiskFinding(name, value, threshold, GRADES[level], measures.late_after_days)
            graded.append((level, excess, finding))
    worst = max((level for level, _, _ in graded), default=0)
    findings = sorted(
        ((excess, finding) for level, excess, finding in graded if level == worst),
        key=lambda item: item[0],
        reverse=True,
    )
    return RiskGrade(GRADES[worst], tuple(finding for _, finding in findings))
