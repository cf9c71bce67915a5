"""Tryton's records to the common model (pure: rows in, records out).

What Tryton has, and what encours makes of it (amounts in the company currency, from the
move lines, so they add up to Tryton's own `party.receivable`: every receivable line of a
posted move is read exactly once):

- a customer invoice, posted or paid: an `Invoice` whose due lines are its `lines_to_pay`
  (maturity date, debit - credit), and a `Sale` of its total for DSO; a credit note (an out
  invoice with a negative total): a `CreditNote` and a negative `Sale`. A credit note that
  Tryton put in an invoice's payment lines is applied to that invoice (a source link), and
  its line is read only here, never again as a payment;
- an invoice cancelled by a credit note ("credit with refund"): what it was, an invoice,
  settled by that credit note through their reconciliation; an invoice cancelled outright
  (its move reversed), and the reversing line: nothing, neither a receipt nor money owed;
- a draft or validated customer invoice: an `Invoice` of kind `draft`, in no ledger, never
  in the outstanding (a draft credit note: nothing);
- a line on a receivable account that is no invoice's own (a payment, an overpayment, a
  transfer, a refund, a write-off): a `Payment` for a credit, with a link to the invoice it
  pays when the pay wizard made it (`invoice_payment`), a `CreditNote` for a write-off (a
  concession, not money received), an `Invoice` of kind `debit` for a debit;
- lines reconciled together share their reconciliation as `match_ref` ("rec:12"), so
  reconciliation pairs them as Tryton did; they are dated by their own documents, not by the
  reconciliation, which Tryton dates by the latest due date of its lines;
- a deposit invoice line (account_deposit, account 4191): an `Advance` of its amount with
  VAT, at its invoice's own TTC/HT ratio; a deposit recalled by a later invoice: an `Invoice`
  of kind `debit` ("recall:<line>") that the oldest deposits of the customer pay, first in
  first out. So a recalled deposit nets to zero and one not recalled lowers the outstanding,
  as `party.receivable` − `party.deposit` at TTC.

A row that does not fit the model gives a `Rejected` with the reason, for the quarantine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import ValidationError

from encours.connectors.base import validation_reasons
from encours.model import (
    CURRENCY_EXPONENTS,
    Advance,
    CreditNote,
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    Rejected,
    Sale,
    SourceAllocation,
)

__all__ = [
    "DEPOSIT_FIELDS",
    "INVOICE_FIELDS",
    "LINE_FIELDS",
    "PARTY_FIELDS",
    "deposit_records",
    "identifiers",
    "invoice_records",
    "is_refunded",
    "line_records",
    "to_customer",
]

PARTY_FIELDS = ("name", "code", "identifiers.type", "identifiers.code", "write_date", "create_date")
INVOICE_FIELDS = (
    "number",
    "reference",
    "state",
    "invoice_date",
    "currency.code",
    "party",
    "total_amount",
    "amount_to_pay",  # kept with the row: what Tryton says is left, to compare with
    "lines_to_pay.date",
    "lines_to_pay.maturity_date",
    "lines_to_pay.debit",
    "lines_to_pay.credit",
    "lines_to_pay.reconciliation",
    "lines_to_pay.party",
    "lines_to_pay.invoice_payment",  # a credit note's line in an invoice's payment lines
    "payment_lines",  # on a credit note: the refunds paid out of it
    "cancel_move.origin",  # "account.invoice,<id>" when a credit note cancelled it
    "write_date",
    "create_date",
)
LINE_FIELDS = (
    "date",
    "maturity_date",
    "party",
    "debit",
    "credit",
    "reconciliation",
    "invoice_payment",
    "move.number",
    "move.journal.type",  # "write-off": a concession, not money received
    "description_used",
    "write_date",
    "create_date",
)
DEPOSIT_FIELDS = (
    "amount",
    "invoice",
    "invoice.number",
    "invoice.reference",
    "invoice.invoice_date",
    "invoice.party",
    "invoice.currency.code",
    "invoice.total_amount",
    "invoice.untaxed_amount",
)
#: Invoice states that are documents of the ledger, and those in no ledger yet.
POSTED = ("posted", "paid")
DRAFTS = ("draft", "validated")
#: The journal type of Tryton's write-offs (the pay wizard's and the reconciliation's).
WRITE_OFF = "write-off"

_SIREN_TYPES = {"fr_siren"}
_SIRET_TYPES = {"fr_siret"}
_VAT_TYPES = {"eu_vat", "fr_vat"}


def raw_of(item: Any) -> str:
    """The row as Tryton sent it (typed values in their Python form), stable text."""
    return json.dumps(item, default=str, sort_keys=True, ensure_ascii=False)


def _rejected(source: str, stream: str, item: dict[str, Any], reason: str) -> Rejected:
    return Rejected(
        source=source,
        stream=stream,
        external_id=str(item.get("id", "?")),
        reason=reason,
        raw=raw_of(item),
    )


def identifiers(item: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A party's SIREN, SIRET and VAT number from its identifiers, spaces removed.

    The first identifier of each kind counts; Tryton writes SIREN "732 829 320".
    """
    by_type: dict[str, str] = {}
    for identifier in item.get("identifiers.") or []:
        code = "".join((identifier.get("code") or "").split())
        by_type.setdefault(identifier.get("type") or "", code)
    siren = next((by_type[t] for t in _SIREN_TYPES if t in by_type), None)
    siret = next((by_type[t] for t in _SIRET_TYPES if t in by_type), None)
    vat = next((by_type[t] for t in _VAT_TYPES if t in by_type), None)
    return siren, siret, vat


def to_customer(source: str, item: dict[str, Any], *, currency: str) -> Customer | Rejected:
    """A Tryton party to a `Customer`: SIREN, SIRET and VAT number from its identifiers.

    `credit_limit_amount` (account_credit_limit) becomes the credit limit when present.
    """
    siren, siret, vat = identifiers(item)
    limit = item.get("credit_limit_amount")
    try:
        return Customer(
            source=source,
            external_id=str(item["id"]),
            raw=raw_of(item),
            name=item.get("name") or str(item["id"]),
            siren=siren or (siret[:9] if siret else None),
            siret=siret,
            vat_number=vat.upper() if vat else None,
            credit_limit=Money(amount=limit, currency=currency) if limit else None,
        )
    except ValidationError as exc:
        return _rejected(
            source, "party.party", item, f"party does not fit the model: {validation_reasons(exc)}"
        )


def invoice_records(
    source: str, item: dict[str, Any], *, currency: str
) -> list[Invoice | CreditNote | Sale | Rejected]:
    """A customer invoice or credit note to the common model (see the module docstring).

    A draft or validated invoice is a draft; an invoice cancelled by a credit note is read
    as the posted invoice it was, which that credit note settles; an invoice cancelled
    outright, or a draft credit note, gives nothing.
    """
    state = item.get("state")
    try:
        if state in DRAFTS:
            return _draft(source, item, currency)
        if state in POSTED or is_refunded(item):
            return _posted(source, item, currency)
        return []
    except ValidationError as exc:
        reason = f"invoice does not fit the model: {validation_reasons(exc)}"
    except ValueError as exc:
        reason = f"invoice cannot be read: {exc}"
    return [_rejected(source, "account.invoice", item, reason)]


def is_refunded(item: dict[str, Any]) -> bool:
    """True for an invoice cancelled by a credit note (Tryton's "credit with refund").

    Tryton then makes the credit note's move the invoice's `cancel_move` and reconciles the
    two: the ledger keeps both documents, the invoice settled by its credit note. An
    invoice cancelled outright has a copy of its own move as `cancel_move` instead
    (origin "account.move,<id>"), and is read as nothing.
    """
    origin = (item.get("cancel_move.") or {}).get("origin") or ""
    return item.get("state") == "cancelled" and origin.startswith("account.invoice,")


def _draft(
    source: str, item: dict[str, Any], currency: str
) -> list[Invoice | CreditNote | Sale | Rejected]:
    """A draft or validated invoice: an `Invoice` of kind `draft`, in no ledger.

    It is dated by its invoice date, or, when it has none yet (Tryton sets it at the
    latest on posting), by its creation day (UTC): `drafts` as of a date counts it from
    the day it was made. Its one due line falls on that day; it is never aged. It gives no
    `Sale` (DSO counts posted sales), and a draft credit note gives nothing.

    Example: a draft of 840.00 TTC created on 22 Nov with no invoice date: a draft of
    840.00 issued on 22 Nov, reported as `drafts`, outside the outstanding.
    """
    total = item.get("total_amount") or Decimal(0)
    if total <= 0:  # a credit note not issued yet credits nothing
        return []
    document_currency = (item.get("currency.") or {}).get("code") or currency
    if document_currency != currency:
        raise ValueError(
            f"a {item.get('state')} invoice in {document_currency}: encours counts drafts "
            f"in {currency} only; it is taken in once posted"
        )
    issued_on = item.get("invoice_date") or _day_of(item.get("create_date"))
    amount = Money(amount=total, currency=currency)
    return [
        Invoice(
            source=source,
            external_id=str(item["id"]),
            raw=raw_of(item),
            customer_id=str(item["party"]),
            issued_on=issued_on,
            total=amount,
            due_lines=(DueLine(due_on=issued_on, amount=amount),),
            kind=InvoiceKind.DRAFT,
            order_ref=item.get("reference") or None,
        )
    ]


def _line_amount(line: dict[str, Any]) -> Decimal:
    return (line.get("debit") or Decimal(0)) - (line.get("credit") or Decimal(0))


def lines_due(item: dict[str, Any], issued_on: date) -> list[dict[str, Any]]:
    """An invoice's lines to pay that are still its own, in due-date order.

    Tryton adds to an invoice's lines to pay the moves that reschedule or delegate them:
    each brings a line that reverses the old ones, reconciled with them. Lines of one
    reconciliation that add up to zero among the invoice's own lines settle each other and
    are left out; what stays is what the invoice is now due as.

    Example: 1 200.00 due 1 Dec rescheduled as 600.00 due 1 Jan and 600.00 due 1 Feb: the
    lines 1 200.00 and -1 200.00 (reconciliation 7) leave; the invoice is due as 600.00 +
    600.00.
    """
    lines = item.get("lines_to_pay.") or []
    by_reconciliation: dict[Any, Decimal] = {}
    for line in lines:
        if line.get("reconciliation") is not None:
            key = line["reconciliation"]
            by_reconciliation[key] = by_reconciliation.get(key, Decimal(0)) + _line_amount(line)
    settled = {key for key, amount in by_reconciliation.items() if amount == 0}
    return sorted(
        (line for line in lines if line.get("reconciliation") not in settled),
        key=lambda line: (line.get("maturity_date") or line.get("date") or issued_on, line["id"]),
    )


def _match_ref(item: dict[str, Any], lines: Sequence[dict[str, Any]], total: Decimal) -> str | None:
    """The invoice's match key: its reconciliation, else its refunds' key, else None.

    `rec:<id>` when all its lines are in one reconciliation; `pay:<id>` for a credit note
    refunded in part by the pay wizard, whose refunds carry the same key.
    """
    reconciliations = {line.get("reconciliation") for line in lines}
    if len(reconciliations) == 1 and None not in reconciliations:
        return f"rec:{next(iter(reconciliations))}"
    if total < 0 and item.get("payment_lines"):
        return f"pay:{item['id']}"
    return None


def _customer_of(item: dict[str, Any], lines: Sequence[dict[str, Any]]) -> str:
    """Who owes the invoice: the party of its lines to pay, else the invoice's party.

    The lines' party differs when the invoice has an alternative payee, or its lines were
    delegated to another party.
    """
    parties = {line.get("party") for line in lines} - {None}
    return str(parties.pop() if len(parties) == 1 else item["party"])


def _posted(
    source: str, item: dict[str, Any], currency: str
) -> list[Invoice | CreditNote | Sale | Rejected]:
    issued_on = item.get("invoice_date")
    if issued_on is None:
        raise ValueError("a posted invoice without an invoice date")
    lines = lines_due(item, issued_on)
    if not lines:
        raise ValueError("a posted invoice without lines to pay (no receivable line)")
    amounts = [_line_amount(line) for line in lines]
    total = sum(amounts, Decimal(0))
    customer = _customer_of(item, lines)
    common: dict[str, Any] = {
        "source": source,
        "external_id": str(item["id"]),
        "raw": raw_of(item),
        "customer_id": customer,
        "match_ref": _match_ref(item, lines, total),
    }
    sale = Sale(
        source=source,
        external_id=f"sale:{item['id']}",
        customer_id=customer,
        booked_on=issued_on,
        amount=Money(amount=total, currency=currency),
        raw=common["raw"],
    )
    if total < 0:
        credit = CreditNote(
            **common,
            on=issued_on,
            amount=Money(amount=-total, currency=currency),
            reference=item.get("number"),
            allocations=_applied_to(lines, issued_on, currency),
        )
        return [credit, sale]
    if total == 0:
        return []
    if any(amount < 0 for amount in amounts):
        raise ValueError("its lines to pay mix debits and credits; fix the invoice's move")
    # Each instalment keeps its own reconciliation when they differ: a transfer reconciled
    # with one line to pay settles that instalment, not the invoice's earliest one.
    apart = common["match_ref"] is None
    due_lines = tuple(
        DueLine(
            due_on=line.get("maturity_date") or line.get("date") or issued_on,
            amount=Money(amount=amount, currency=currency),
            match_ref=f"rec:{line['reconciliation']}"
            if apart and line.get("reconciliation") is not None
            else None,
        )
        for line, amount in zip(lines, amounts, strict=True)
        if amount
    )
    invoice = Invoice(
        **common,
        number=item.get("number"),
        issued_on=issued_on,
        total=Money(amount=total, currency=currency),
        due_lines=due_lines,
        order_ref=item.get("reference") or None,
    )
    return [invoice, sale]


def _applied_to(
    lines: Sequence[dict[str, Any]], issued_on: date, currency: str
) -> tuple[SourceAllocation, ...]:
    """A credit note's lines that Tryton put in an invoice's payment lines: source links.

    Example: credit note AV-2 of 300.00 whose line is in invoice FA-12's payment lines:
    300.00 of it settles FA-12 (Tryton's `amount_to_pay` of FA-12 drops by 300.00), and it
    is not unapplied. Its line is read here only, never as a payment.
    """
    return tuple(
        SourceAllocation(
            invoice_id=str(line["invoice_payment"]),
            amount=Money(amount=-_line_amount(line), currency=currency),
            allocated_on=issued_on,
        )
        for line in lines
        if line.get("invoice_payment") and _line_amount(line) < 0
    )


def line_records(
    source: str, item: dict[str, Any], *, currency: str
) -> list[Payment | CreditNote | Invoice | Rejected]:
    """A receivable move line that is no invoice's own to a credit or a debit.

    A credit is a `Payment` (linked to the invoice the pay wizard paid), or a `CreditNote`
    when it is a write-off (journal of type write-off: a concession, no money received); a
    debit is an `Invoice` of kind `debit` (a refund paid out, a transfer). A refund that the
    pay wizard paid out of a credit note, not reconciled yet, shares the key `pay:<credit
    note>` with it, so the credit note settles it as Tryton's `amount_to_pay` does.
    """
    amount = _line_amount(item)
    try:
        if item.get("date") is None:
            raise ValueError("a move line without a date")
        if amount < 0:
            return [_credit_line(source, item, -amount, currency)]
        if amount == 0:
            return []
        return [_debit_line(source, item, amount, currency)]
    except ValidationError as exc:
        reason = f"move line does not fit the model: {validation_reasons(exc)}"
    except ValueError as exc:
        reason = f"move line cannot be read: {exc}"
    return [_rejected(source, "account.move.line", item, reason)]


def _line_common(source: str, item: dict[str, Any]) -> dict[str, Any]:
    reconciliation = item.get("reconciliation")
    return {
        "source": source,
        "external_id": f"line:{item['id']}",
        "raw": raw_of(item),
        "match_ref": f"rec:{reconciliation}" if reconciliation else None,
    }


def _reference(item: dict[str, Any]) -> str | None:
    return (item.get("move.") or {}).get("number") or item.get("description_used") or None


def _credit_line(
    source: str, item: dict[str, Any], amount: Decimal, currency: str
) -> Payment | CreditNote:
    on: date = item["date"]
    party = item.get("party")
    paid = Money(amount=amount, currency=currency)
    journal = ((item.get("move.") or {}).get("journal.") or {}).get("type")
    if journal == WRITE_OFF and party:
        return CreditNote(
            **_line_common(source, item),
            customer_id=str(party),
            on=on,
            amount=paid,
            reference=_reference(item),
        )
    invoice = item.get("invoice_payment")
    links = (
        (SourceAllocation(invoice_id=str(invoice), amount=paid, allocated_on=on),)
        if invoice
        else ()
    )
    return Payment(
        **_line_common(source, item),
        customer_id=str(party) if party else None,
        on=on,
        amount=paid,
        reference=_reference(item),
        allocations=links,
    )


def _debit_line(source: str, item: dict[str, Any], amount: Decimal, currency: str) -> Invoice:
    party = item.get("party")
    if not party:
        raise ValueError("a debit on a receivable account without a party")
    on: date = item["date"]
    debit = Money(amount=amount, currency=currency)
    common = _line_common(source, item)
    if common["match_ref"] is None and item.get("invoice_payment"):
        common["match_ref"] = f"pay:{item['invoice_payment']}"
    return Invoice(
        **common,
        customer_id=str(party),
        number=_reference(item),
        issued_on=on,
        total=debit,
        due_lines=(DueLine(due_on=item.get("maturity_date") or on, amount=debit),),
        kind=InvoiceKind.DEBIT,
    )


@dataclass
class _Deposit:
    """What is left of one deposit, before VAT (as Tryton checks it) and with VAT."""

    untaxed: Decimal
    taxed: Decimal
    allocations: list[SourceAllocation] = field(default_factory=list)
    untaxed_left: Decimal = field(init=False)
    taxed_left: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.untaxed_left, self.taxed_left = self.untaxed, self.taxed

    def take(self, untaxed: Decimal, quantum: Decimal) -> Decimal:
        """Use `untaxed` of what is left; return its amount with VAT (the last use takes all)."""
        if untaxed >= self.untaxed_left:
            taxed = self.taxed_left
        else:
            taxed = (untaxed * self.taxed / self.untaxed).quantize(quantum, ROUND_HALF_EVEN)
        self.untaxed_left -= min(untaxed, self.untaxed_left)
        self.taxed_left -= taxed
        return taxed


def deposit_records(
    source: str, party: int, rows: Sequence[dict[str, Any]], *, currency: str
) -> list[Advance | Invoice | Rejected]:
    """One customer's deposit lines to advances, and recalls to debits the deposits pay.

    `rows` are the customer's lines on deposit accounts of posted customer invoices: a
    positive amount is a deposit received, a negative one a recall by a later invoice (or a
    credit note refunding it). Deposits are used first in, first out, before VAT as Tryton
    counts them; each part used carries its share of the deposit's VAT.

    Example: deposit 1 000.00 HT invoiced 1 200.00 TTC, then a final invoice recalls
    1 000.00 HT: advance 1 200.00, recall debit 1 200.00 paid by it; a second deposit of
    500.00 HT (600.00 TTC) not recalled stays an unapplied advance of 600.00.
    """
    quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    records: list[Advance | Invoice | Rejected] = []
    deposits: list[tuple[dict[str, Any], _Deposit]] = []
    ordered = sorted(
        rows, key=lambda r: ((r.get("invoice.") or {}).get("invoice_date") or date.min, r["id"])
    )
    for row in ordered:
        invoice = row.get("invoice.") or {}
        try:
            on, ratio = _deposit_terms(invoice, currency)
        except ValueError as exc:
            records.append(
                _rejected(
                    source, "account.invoice.line", row, f"deposit line cannot be read: {exc}"
                )
            )
            continue
        untaxed = row.get("amount") or Decimal(0)
        if untaxed > 0:
            taxed = (untaxed * ratio).quantize(quantum, ROUND_HALF_EVEN)
            deposits.append((row, _Deposit(untaxed, taxed)))
        elif untaxed < 0:
            records.extend(
                _recall(source, party, row, on, -untaxed, ratio, deposits, quantum, currency)
            )
    for row, deposit in deposits:
        invoice = row.get("invoice.") or {}
        try:
            records.append(
                Advance(
                    source=source,
                    external_id=f"deposit:{row['id']}",
                    raw=raw_of(row),
                    customer_id=str(party),
                    on=invoice["invoice_date"],
                    amount=Money(amount=deposit.taxed, currency=currency),
                    reference=invoice.get("number"),
                    order_ref=invoice.get("reference") or None,
                    allocations=tuple(deposit.allocations),
                )
            )
        except ValidationError as exc:
            records.append(
                _rejected(
                    source,
                    "account.invoice.line",
                    row,
                    f"deposit does not fit the model: {validation_reasons(exc)}",
                )
            )
    return records


def _deposit_terms(invoice: dict[str, Any], currency: str) -> tuple[date, Decimal]:
    """The invoice's date and its TTC/HT ratio, or ValueError."""
    on = invoice.get("invoice_date")
    if on is None:
        raise ValueError("its invoice has no date")
    document_currency = (invoice.get("currency.") or {}).get("code") or currency
    if document_currency != currency:
        raise ValueError(f"a deposit in {document_currency}: only {currency} deposits are read")
    untaxed = invoice.get("untaxed_amount") or Decimal(0)
    total = invoice.get("total_amount") or Decimal(0)
    if untaxed == 0:
        raise ValueError("its invoice has no amount before tax")
    return on, total / untaxed


def _recall(
    source: str,
    party: int,
    row: dict[str, Any],
    on: date,
    untaxed: Decimal,
    ratio: Decimal,
    deposits: Iterable[tuple[dict[str, Any], _Deposit]],
    quantum: Decimal,
    currency: str,
) -> list[Invoice | Rejected]:
    taxed_total = Decimal(0)
    left = untaxed
    recall_id = f"recall:{row['id']}"
    invoice = row.get("invoice.") or {}
    try:
        for _, deposit in deposits:
            if left <= 0:
                break
            if deposit.untaxed_left <= 0:
                continue
            part = min(left, deposit.untaxed_left)
            taxed = deposit.take(part, quantum)
            left -= part
            taxed_total += taxed
            deposit.allocations.append(
                SourceAllocation(
                    invoice_id=recall_id,
                    amount=Money(amount=taxed, currency=currency),
                    allocated_on=on,
                )
            )
        if left > 0:  # recalled more than was deposited (an older deposit not read): stays open
            taxed_total += (left * ratio).quantize(quantum, ROUND_HALF_EVEN)
        amount = Money(amount=taxed_total, currency=currency)
        return [
            Invoice(
                source=source,
                external_id=recall_id,
                raw=raw_of(row),
                customer_id=str(party),
                number=invoice.get("number"),
                issued_on=on,
                total=amount,
                due_lines=(DueLine(due_on=on, amount=amount),),
                kind=InvoiceKind.DEBIT,
            )
        ]
    except ValidationError as exc:
        reason = f"deposit recall does not fit the model: {validation_reasons(exc)}"
    return [_rejected(source, "account.invoice.line", row, reason)]


def _day_of(moment: datetime | None) -> date:
    if moment is None:
        raise ValueError("no invoice date and no creation date")
    return moment.date()
