"""The credit position and the risk grade in the reader's language.

The `--json` output keeps the English reasons of `metrics/risk.py`; a view words each
finding from its fields, so « paie en moyenne 32 jours après l’échéance (C dès 30) » in
French is "pays 32 days late on average (C from 30)" in English.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from babel.numbers import format_percent

from encours.metrics.risk import RiskFinding, RiskGrade
from encours.sync.display import MISSING, Display
from encours.sync.figures import CustomerFigures

#: Each measure's wording; `{value}` and `{threshold}` are written in the measure's unit.
WORDINGS = {
    "payment_delay_days": "pays {value} days late on average ({grade} from {threshold})",
    "late_beyond_60_share": (
        "{value} of its open items are over {days} days late ({grade} from {threshold})"
    ),
    "dso_rise_days": "DSO up {value} days in three months ({grade} from {threshold})",
    "limit_usage": "uses {value} of its credit limit ({grade} from {threshold})",
}
NOTHING_STANDS_OUT = "no measure past its thresholds"


def percent(value: Decimal, display: Display) -> str:
    """A share as a whole percentage: 1.05 -> "105%" (« 105 % » in French)."""
    return format_percent(value, locale=display.locale)


def reason(finding: RiskFinding, display: Display) -> str:
    """One finding in words, in the reader's language."""
    if finding.measure in ("late_beyond_60_share", "limit_usage"):
        value, threshold = percent(finding.value, display), percent(finding.threshold, display)
    else:
        whole = Decimal(1)
        value = display.number(finding.value.quantize(whole))
        threshold = display.number(finding.threshold.quantize(whole))
    return display._(WORDINGS[finding.measure]).format(
        value=value, threshold=threshold, grade=finding.grade, days=finding.late_after_days
    )


def main_reason(grade: RiskGrade, display: Display) -> str:
    """The first finding in words, or that nothing stands out."""
    if not grade.findings:
        return display._(NOTHING_STANDS_OUT)
    return reason(grade.findings[0], display)


def usage(customer: CustomerFigures, display: Display) -> str:
    """The share of the credit limit used, or « — » without a limit."""
    used = customer.credit.usage
    return MISSING if used is None else percent(used, display)


def credit_lines(customer: CustomerFigures, display: Display) -> Iterator[str]:
    """`status --customer`: the credit limit, exposure, usage and hold, then the risk grade."""
    _ = display._
    credit, currency = customer.credit, customer.figures.currency
    if credit.limit:
        yield _(
            "Credit limit {limit}; exposure (outstanding + drafts) {exposure}: {usage} used"
        ).format(
            limit=display.money(credit.limit, currency),
            exposure=display.money(credit.exposure, currency),
            usage=usage(customer, display),
        ) + (" — " + _("ON HOLD: the exposure is over the limit") if credit.on_hold else "")
    else:
        yield _("Credit limit: none set; exposure (outstanding + drafts) {exposure}").format(
            exposure=display.money(credit.exposure, currency)
        )
    grade = customer.risk
    if not grade.findings:
        yield _("Risk grade {grade}: {reason}").format(
            grade=grade.grade, reason=_(NOTHING_STANDS_OUT)
        )
        return
    yield _("Risk grade {grade}:").format(grade=grade.grade)
    for finding in grade.findings:
        yield "  - " + reason(finding, display)
