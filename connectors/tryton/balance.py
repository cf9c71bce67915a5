"""What Tryton says a customer owes, adjusted to what encours reads: the check of our figures.

    balance = party.receivable − draft moves − party.deposit × r

- `party.receivable` (module account, `Party._receivable_payable_query`, Tryton 8.2) is
  Σ(debit − credit) of the party's lines on receivable accounts of the company: of every
  move, draft or posted, whatever its date; a reconciliation only decides what counts
  "today" in `receivable_today`, and the context `date` moves only that. Reconciled lines
  add up to zero, so it is the sum of all those lines.
- encours reads posted moves only, so the receivable lines of draft moves are taken out
  ("draft moves"). Draft and validated customer invoices have no move yet: they are in
  neither figure.
- `party.deposit` (module account_deposit) is the credit balance of the deposit accounts
  (4191) before VAT, unreconciled lines of the open fiscal years. encours counts a deposit
  at its invoice's total with VAT, so the deposit is valued at r = TTC / HT of the
  deposits the connector read as not recalled (r = 1 when it read none: then the check
  shows the VAT, never hides it).
- Not adjusted, so shown as a difference: receivable lines dated after the day the
  balance is read (`receivable` has no date; the outstanding as of that day leaves them
  out), and deposits of a closed fiscal year.

Example: Gamma owes 4 800.00 on its final invoice and has 500.00 HT of deposit not
recalled, invoiced 600.00 TTC; no draft move: 4 800.00 − 0.00 − 500.00 × 600/500 = 4 200.00,
which is encours' outstanding of Gamma.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import ValidationError

from encours.connectors.base import validation_reasons
from encours.connectors.tryton.records import raw_of
from encours.model import (
    CURRENCY_EXPONENTS,
    Advance,
    Invoice,
    Money,
    Rejected,
    SourceBalance,
    SourceRecord,
)

__all__ = [
    "BALANCE_FIELDS",
    "BASIS",
    "DRAFT_MOVE_LINES",
    "DepositsLeft",
    "deposit_with_vat",
    "deposits_left",
    "draft_moves",
    "source_balance",
]

#: The party's fields the balance needs, read with the party itself.
BALANCE_FIELDS = ("receivable", "deposit")
#: The receivable lines `party.receivable` counts and encours does not read.
DRAFT_MOVE_LINES: list[Any] = [
    ["account.type.receivable", "=", True],
    ["move_state", "!=", "posted"],
]
BASIS = "Tryton party.receivable − draft moves − deposits not recalled (TTC)"


@dataclass(frozen=True)
class DepositsLeft:
    """One customer's deposits not recalled, as the connector read them: HT and TTC."""

    untaxed: Decimal = Decimal(0)
    taxed: Decimal = Decimal(0)


def deposits_left(
    rows: Sequence[dict[str, Any]], records: Iterable[SourceRecord | Rejected]
) -> DepositsLeft:
    """What is left of one customer's deposits: HT from the rows, TTC from their records.

    HT is Σ of the deposit lines' amounts (a deposit positive, a recall negative) over the
    rows that were not rejected; TTC is Σ advances − Σ recalls of `deposit_records`.

    Example: deposits of 1 000.00 and 500.00 HT (1 200.00 and 600.00 TTC), 1 000.00 HT
    recalled (1 200.00 TTC): 500.00 HT, 600.00 TTC.
    """
    rejected = {record.external_id for record in records if isinstance(record, Rejected)}
    untaxed = sum(
        (row.get("amount") or Decimal(0) for row in rows if str(row["id"]) not in rejected),
        Decimal(0),
    )
    taxed = Decimal(0)
    for record in records:
        if isinstance(record, Advance):
            taxed += record.amount.amount
        elif isinstance(record, Invoice):
            taxed -= record.total.amount
    return DepositsLeft(untaxed=untaxed, taxed=taxed)


def deposit_with_vat(deposit: Decimal, left: DepositsLeft, currency: str) -> Decimal:
    """Tryton's `party.deposit` (HT) with VAT, at the ratio of the deposits left.

    `deposit × left.taxed / left.untaxed`, rounded half-even to the currency's minor unit;
    `deposit` itself when the connector has no deposit left (no ratio to apply). When
    Tryton's deposit is what the connector read, this is exactly `left.taxed`.

    Example: 500.00 HT, 500.00 HT / 600.00 TTC left: 600.00.
    """
    if not left.untaxed:
        return deposit
    quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    return (deposit * left.taxed / left.untaxed).quantize(quantum, ROUND_HALF_EVEN)


def draft_moves(rows: Iterable[dict[str, Any]]) -> dict[int, Decimal]:
    """Σ(debit − credit) per party of the receivable lines of draft moves.

    Example: a draft transfer crediting 4111 by 150.00 for party 3: {3: Decimal("-150.00")}.
    """
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.get("party"):
            totals[row["party"]] += (row.get("debit") or Decimal(0)) - (
                row.get("credit") or Decimal(0)
            )
    return dict(totals)


def source_balance(
    source: str,
    item: dict[str, Any],
    *,
    as_of: date,
    draft: Decimal,
    deposits: DepositsLeft,
    currency: str,
) -> SourceBalance | Rejected:
    """A party read with `BALANCE_FIELDS` to its `SourceBalance` on `as_of` (formula above).

    Example: receivable 3 180.00, no draft move, no deposit: 3 180.00.
    """
    receivable = item.get("receivable") or Decimal(0)
    deposit = item.get("deposit") or Decimal(0)
    amount = receivable - draft - deposit_with_vat(deposit, deposits, currency)
    stated = {
        "id": item["id"],
        "receivable": receivable,
        "draft_moves": draft,
        "deposit": deposit,
        "deposits_left": {"untaxed": deposits.untaxed, "taxed": deposits.taxed},
    }
    try:
        return SourceBalance(
            source=source,
            external_id=str(item["id"]),
            raw=raw_of(stated),
            as_of=as_of,
            amount=Money(amount=amount, currency=currency),
            basis=BASIS,
        )
    except ValidationError as exc:
        return Rejected(
            source=source,
            stream="party.party",
            external_id=str(item["id"]),
            reason=f"party balance does not fit the model: {validation_reasons(exc)}",
            raw=raw_of(stated),
        )
