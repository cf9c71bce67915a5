"""Figures turned into plain data: the stable `--json` output and the values pushed to targets.

Amounts are strings with the currency's decimals ("1234.50"), days are strings with two
decimals ("53.50") or null, dates are ISO 8601. The JSON schema is documented in the README.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from encours.metrics.dso import round_days
from encours.metrics.indicators import Indicators
from encours.metrics.outstanding import AgedBalance, bucket_labels
from encours.model import to_decimal
from encours.sync.explain import Explanation
from encours.sync.figures import BalanceCheck, CustomerFigures, Figures

#: Every indicator a target can receive, with its French label (the default field label).
INDICATOR_LABELS: dict[str, str] = {
    "outstanding": "Encours client",
    "overdue": "Encours échu",
    "not_due": "Encours non échu",
    "unbilled": "Factures à établir",
    "unapplied": "Règlements non imputés",
    "doubtful": "Créances douteuses",
    "drafts": "Factures en brouillon",
    "oldest_overdue_days": "Retard le plus ancien (jours)",
    "dso": "DSO (jours)",
    "dso_method": "Méthode du DSO",
    "best_possible_dso": "Meilleur DSO possible (jours)",
    "average_days_delinquent": "Retard moyen (jours)",
    "average_payment_delay": "Délai moyen de paiement (jours)",
    "credit_limit": "Plafond d'encours",
    "exposure": "Engagement (encours + brouillons)",
    "credit_used": "Utilisation du plafond",
    "on_hold": "Blocage (plafond dépassé)",
    "risk_grade": "Note de risque",
    "risk_reason": "Motif de la note",
    "next_dunning_step": "Prochaine relance",
    "aging": "Balance âgée",
    "as_of": "Calculé au",
}


def printable(text: str) -> str:
    """One field of a text listing: every control character, tab and newline too, escaped.

    `printable("Dupont\tSA\x1b[31m")` is `"Dupont\\tSA\\x1b[31m"`: a field read from a
    source cannot split a line of tab-separated output, nor drive the terminal.
    """
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def amount(units: int, currency: str) -> str:
    """Minor units as a string with the currency's decimals: 123450 EUR -> "1234.50"."""
    return str(to_decimal(units, currency))


def days(value: Decimal | None) -> str | None:
    """Days with two decimals, or None when the figure cannot be computed."""
    rounded = round_days(value)
    return None if rounded is None else str(rounded)


def aging(aged: AgedBalance, currency: str) -> dict[str, str]:
    """The aged balance's columns, in order, as amounts."""
    return {label: amount(value, currency) for label, value in aged.buckets}


def indicators_json(figures: Indicators) -> dict[str, Any]:
    """The figures shared by a customer and the total, in the documented JSON shape."""
    aged, currency = figures.aged, figures.currency
    return {
        "outstanding": amount(aged.outstanding, currency),
        "overdue": amount(aged.overdue, currency),
        "not_due": amount(aged.not_due, currency),
        "unbilled": amount(aged.unbilled, currency),
        "unapplied": amount(aged.unapplied, currency),
        "doubtful": amount(aged.doubtful, currency),
        "oldest_overdue_days": aged.oldest_overdue_days,
        "aging": aging(aged, currency),
        "dso": days(figures.dso),
        "dso_method": figures.dso_method,
        "best_possible_dso": days(figures.best_possible_dso),
        "average_days_delinquent": days(figures.average_days_delinquent),
        "average_payment_delay": days(figures.average_payment_delay),
        "collection_rate": _ratio(figures.collection_rate),
        "turnover_days": days(figures.turnover_days),
    }


def customer_json(customer: CustomerFigures) -> dict[str, Any]:
    """One customer in the `--json` output."""
    return {
        "id": customer.customer_id,
        "source": customer.source,
        "name": customer.name,
        **indicators_json(customer.figures),
        "drafts": amount(customer.drafts, customer.figures.currency),
        **credit_json(customer),
        "risk_grade": customer.risk.grade,
        "risk_reasons": list(customer.risk.reasons),
        "due_dates_assumed": customer.due_dates_assumed,
        "balance_check": balance_check_json(customer.balance_check, customer.figures.currency),
    }


def credit_json(customer: CustomerFigures) -> dict[str, Any]:
    """The credit limit, the exposure (outstanding + drafts), the share used and the hold."""
    credit = customer.credit
    currency = customer.figures.currency
    return {
        "credit_limit": None if credit.limit is None else amount(credit.limit, currency),
        "exposure": amount(credit.exposure, currency),
        "credit_used": _ratio(credit.usage),
        "on_hold": credit.on_hold,
    }


def balance_check_json(check: BalanceCheck | None, currency: str) -> dict[str, Any] | None:
    """The source's own balance beside ours, or None when the source states none."""
    if check is None:
        return None
    return {
        "as_of": check.as_of.isoformat(),
        "source_balance": amount(check.source_balance, currency),
        "outstanding": amount(check.outstanding, currency),
        "difference": amount(check.difference, currency),
        "basis": check.basis,
    }


def figures_json(figures: Figures) -> dict[str, Any]:
    """The whole `status --json` document: as_of, currency, total, customers (worst first)."""
    return {
        "as_of": figures.as_of.isoformat(),
        "currency": figures.currency,
        "total": {
            **indicators_json(figures.total),
            "drafts": amount(figures.drafts, figures.currency),
            "unidentified_receipts": amount(figures.unidentified, figures.currency),
            "balance_check": {
                "checked": len(figures.checked),
                "differ": len(figures.differing),
            },
        },
        "customers": [customer_json(c) for c in figures.worst_first()],
        "quarantined": figures.quarantined,
    }


def json_text(document: dict[str, Any]) -> str:
    """The `--json` document as text: a key per line, a customer per line.

    Written by the json module's C encoder a value at a time, which `indent` would turn off:
    at a million invoices (5 000 customers) the indented dump took 0.7 s of `status`.

    >>> print(json_text({"as_of": "2026-10-31", "customers": [{"id": "C1"}, {"id": "C2"}]}))
    {
     "as_of": "2026-10-31",
     "customers": [
      {"id": "C1"},
      {"id": "C2"}
     ]
    }
    """

    def value(item: Any) -> str:
        if isinstance(item, list) and item:
            rows = ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in item)
            return "[\n" + rows + "\n ]"
        return json.dumps(item, ensure_ascii=False)

    fields = ",\n".join(f" {json.dumps(key)}: {value(item)}" for key, item in document.items())
    return "{\n" + fields + "\n}"


def aging_key(label: str) -> str:
    """The push key of an ageing column, safe as a field name.

    `1-30` -> `aging_1_30`, `90+` -> `aging_90_plus`.
    """
    return "aging_" + label.replace("-", "_").replace("+", "_plus")


def push_keys(indicators: tuple[str, ...], edges: tuple[int, ...]) -> tuple[str, ...]:
    """The keys `push_values` gives for these indicators: `aging` expands to its columns."""
    keys: list[str] = []
    for name in indicators:
        if name == "aging":
            keys.extend(aging_key(label) for label in bucket_labels(edges))
        else:
            keys.append(name)
    return tuple(keys)


def push_values(
    customer: CustomerFigures,
    indicators: tuple[str, ...],
    document: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The values a target receives for one customer, by push key, as strings.

    `aging` expands to one value per column (`aging_1_30`, ...); a figure that cannot be
    computed is an empty string, so the target's field is cleared rather than left stale.
    `next_dunning_step` is the step and its day ("firm 2026-03-25"), empty when the plan
    has no step coming for the customer. `document` is the customer's `customer_json`, if
    already made.
    """
    document = document or customer_json(customer)
    figures = customer.figures
    values: dict[str, str] = {}
    for name in indicators:
        if name == "aging":
            values.update({aging_key(label): value for label, value in document["aging"].items()})
        elif name == "as_of":
            values[name] = figures.as_of.isoformat()
        elif name == "on_hold":
            values[name] = "true" if customer.credit.on_hold else "false"
        elif name == "risk_reason":
            values[name] = customer.risk.main_reason
        elif name == "next_dunning_step":
            coming = customer.next_dunning_step
            values[name] = "" if coming is None else str(coming)
        else:
            value = document[name]
            values[name] = "" if value is None else str(value)
    return values


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.0001")))


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """One customer of `status --customer ID --json`: its figures, then what they rest on.

    `open_items[].residual` summed, less `unapplied_items[].not_matched` summed, is
    `outstanding`, to the cent.
    """
    currency = explanation.customer.figures.currency
    return {
        **customer_json(explanation.customer),
        "open_items": [
            {
                "document": entry.item.document,
                "invoice_id": entry.item.invoice_id,
                "due_seq": entry.item.seq,
                "kind": entry.item.kind,
                "issued_on": entry.item.issued_on.isoformat(),
                "due_on": entry.item.due_on.isoformat(),
                "days_late": entry.days_late,
                "amount": amount(entry.item.amount, currency),
                "residual": amount(entry.item.residual, currency),
                "bucket": entry.bucket,
                "doubtful": entry.item.is_doubtful,
                "settlements": [
                    {
                        "credit_id": settlement.credit_id,
                        "kind": settlement.credit_kind,
                        "reference": settlement.reference,
                        "amount": amount(settlement.amount, currency),
                        "on": settlement.allocated_on.isoformat(),
                        "rule": settlement.rule,
                    }
                    for settlement in entry.settlements
                ],
            }
            for entry in explanation.items
        ],
        "unapplied_items": [
            {
                "credit_id": item.external_id,
                "kind": item.kind,
                "reference": item.reference,
                "on": item.on_date.isoformat(),
                "amount": amount(item.amount, currency),
                "not_matched": amount(item.left_over, currency),
            }
            for item in explanation.unapplied_items
        ],
        "draft_items": [
            {
                "id": draft.external_id,
                "number": draft.number,
                "issued_on": draft.issued_on.isoformat(),
                "total": amount(draft.total, currency),
            }
            for draft in explanation.drafts
        ],
    }
