"""What a Pennylane (API v2) document becomes in the common model: pure functions, no I/O.

The connector (`connectors/pennylane.py`) reads; this module maps. Four rules, each with the
Pennylane fact it rests on (contract `shared/specs/pennylane/openapi.json`, checked 2026-12):

- **A draft is no receivable.** `draft: true` (or status `draft`) gives an `Invoice` of kind
  `DRAFT`, with no `Sale` and no payment. A draft credit note, or a draft without customer
  or amount yet, gives nothing.
- **A credit note counts once.** Pennylane nets a credit note linked to an invoice
  (`credited_invoice`) into that invoice's `remaining_amount_with_tax` (statuses
  `partially_cancelled`, `cancelled`). So what was *paid* of an invoice is its total, less
  what remains, less its linked credit notes (`paid_part`); the credit note itself is one
  `CreditNote` that `applies_to` the invoice. A credit note linked to nothing is an unapplied
  credit of its customer; one refunded by a bank transfer (an outgoing transaction matched to
  it) is settled by a `DEBIT` of that amount on the transfer's date (`to_invoice_records`).
- **A payment is dated by the money.** What is paid is spread over the dated receipts the API
  gives for the invoice (`split`): its matched bank transactions (their `date`), then its
  payments (the contract gives them no settlement date: the last change of a received
  payment, `updated_at`, stands for it). Only a part no receipt explains is dated by the
  invoice's own `updated_at`, its last change, the latest the money can have come.
- **A transfer that pays several invoices is not split by Pennylane**: each invoice lists the
  whole transaction. Each invoice takes from it what it needs, oldest receipt first, up to the
  transaction's amount: so the parts are what each invoice's remaining went down by, and all
  are dated on the transaction's date.

Amounts are the document's currency's; a receipt in another currency is not capped by its
amount (no rate to compare them with).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, ValidationError

from encours.connectors.base import validation_reasons
from encours.model import (
    CreditNote,
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    PlausibleDate,
    Rejected,
    Sale,
    SourceAllocation,
    SourceBalance,
    convert,
)

__all__ = [
    "RECEIVED",
    "PlInvoice",
    "Settlement",
    "account_note",
    "covers",
    "credit_note_link",
    "customer_records",
    "customer_touched",
    "document_records",
    "fiscal_period",
    "ledger_account_of",
    "paid_noted",
    "paid_part",
    "parse_invoice",
    "payment_records",
    "payments",
    "refund_records",
    "refundable",
    "something_paid",
    "split",
    "to_balances",
    "to_customer",
    "to_invoice_records",
    "to_payments",
    "transactions",
    "transactions_fall_short",
    "wants_payments",
    "wants_refund",
]

#: Payment statuses that mean the money was received (GoCardless `confirmed`, `paid_out`; a
#: bank payment `found` in the account). Every other status is on the way, or failed.
RECEIVED = frozenset({"confirmed", "paid_out", "found"})

# payment_conditions -> (days, end of month)
_TERMS = {
    "upon_receipt": (0, False),
    "7_days": (7, False),
    "15_days": (15, False),
    "30_days": (30, False),
    "30_days_end_of_month": (30, True),
    "45_days": (45, False),
    "45_days_end_of_month": (45, True),
    "60_days": (60, False),
}

Document: TypeAlias = Invoice | CreditNote | Sale | Rejected

log = logging.getLogger("encours.pennylane")


# ---------------------------------------------------------------------------------------------
# Wire models


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Ref(_Wire):
    id: int


class _PlCustomer(_Wire):
    id: int
    name: str
    vat_number: str | None = None
    reg_no: str | None = None
    payment_conditions: str | None = None
    emails: list[str] = []
    ledger_account: _Ref | None = None
    updated_at: datetime


class PlInvoice(_Wire):
    """A customer invoice or credit note, as the list endpoint gives it."""

    id: int
    invoice_number: str | None = None
    currency: str = "EUR"
    currency_amount: Decimal  # total with tax, in the invoice's currency
    exchange_rate: Decimal | None = None
    date: PlausibleDate | None
    deadline: PlausibleDate | None = None
    remaining_amount_with_tax: Decimal | None = None
    status: str
    draft: bool = False
    customer: _Ref | None
    credited_invoice: _Ref | None = None
    created_at: datetime | None = None
    updated_at: datetime

    @property
    def is_credit_note(self) -> bool:
        """Pennylane marks credit notes by status and writes their amounts negative."""
        return self.status == "credit_note" or self.currency_amount < 0

    @property
    def is_draft(self) -> bool:
        """Not finalized: in no ledger."""
        return self.draft or self.status == "draft"

    @property
    def total(self) -> Decimal:
        """The total with tax, positive, in the document's currency."""
        return abs(self.currency_amount)

    @property
    def credits(self) -> Decimal:
        """What a credit note linked to an invoice took off it.

        Its total, less what Pennylane says remains of it when that is less (a credit note
        larger than what was left of its invoice); never less than that, so that money is
        never counted twice: at worst a payment is undercounted, and the balance check shows
        it.
        """
        left = abs(self.remaining_amount_with_tax or Decimal(0))
        return self.total - left if 0 < left < self.total else self.total


class _PlTransaction(_Wire):
    id: int
    date: PlausibleDate
    currency: str | None = None
    currency_amount: Decimal


class _PlPayment(_Wire):
    id: int
    currency: str | None = None
    currency_amount: Decimal
    status: str
    updated_at: datetime


class _PlAccount(_Wire):
    id: int
    number: str


class _PlBalanceRow(_Wire):
    number: str
    formatted_number: str | None = None
    debits: Decimal
    credits: Decimal


# ---------------------------------------------------------------------------------------------
# Customers


def _raw(item: Any) -> str:
    return json.dumps(item, default=str, sort_keys=True)


def _rejected(source: str, stream: str, item: Any, reason: str) -> Rejected:
    ident = item.get("id") if isinstance(item, dict) else None
    return Rejected(
        source=source,
        stream=stream,
        external_id=str(ident if ident is not None else "?"),
        reason=reason,
        raw=_raw(item),
    )


def to_customer(source: str, item: Any) -> Customer | Rejected:
    """Map a Pennylane customer (company or individual) to a `Customer`, or say why not."""
    try:
        raw = _PlCustomer.model_validate(item)
        reg_no = (raw.reg_no or "").replace(" ", "")
        days, end_of_month = _TERMS.get(raw.payment_conditions or "", (None, False))
        domain = raw.emails[0].rpartition("@")[2].lower() if raw.emails else None
        return Customer(
            source=source,
            external_id=str(raw.id),
            updated_at=raw.updated_at,
            raw=_raw(item),
            name=raw.name,
            siren=reg_no if len(reg_no) == 9 and reg_no.isdigit() else None,
            siret=reg_no if len(reg_no) == 14 and reg_no.isdigit() else None,
            vat_number=raw.vat_number or None,
            email_domain=domain or None,
            payment_terms_days=days,
            terms_end_of_month=end_of_month,
        )
    except ValidationError as exc:
        return _rejected(
            source, "customers", item, f"customer does not fit the model: {validation_reasons(exc)}"
        )


def ledger_account_of(item: Any) -> tuple[str, int] | None:
    """(customer id, ledger account id) of a customer item, when it has an account."""
    try:
        raw = _PlCustomer.model_validate(item)
    except ValidationError:
        return None
    return (str(raw.id), raw.ledger_account.id) if raw.ledger_account else None


# ---------------------------------------------------------------------------------------------
# Invoices and credit notes


def parse_invoice(source: str, item: Any) -> PlInvoice | Rejected:
    """The wire model of a customer invoice, or a `Rejected` saying why it does not fit."""
    try:
        return PlInvoice.model_validate(item)
    except ValidationError as exc:
        return _rejected(
            source,
            "customer_invoices",
            item,
            f"invoice does not fit the model: {validation_reasons(exc)}",
        )


def to_invoice_records(
    source: str,
    item: Any,
    *,
    currency: str,
    refunds: Sequence[tuple[Settlement, Decimal]] = (),
) -> list[Document]:
    """Map a Pennylane customer invoice or credit note to the common model's documents (pure).

    A posted invoice gives an `Invoice` with one due line on its `deadline` and a `Sale`;
    a draft an `Invoice` of kind `DRAFT` alone; a credit note a `CreditNote` (that
    `applies_to` the credited invoice, if any) and a negative `Sale`. What is paid is not
    here: see `to_payments`. `refunds` are the parts of a credit note refunded by outgoing
    transfers (from `split`): each gives a `DEBIT` the credit note settles on that day.
    `currency` is the company's: the `exchange_rate` is kept only for a document in another
    currency. A record that does not fit gives a `Rejected` saying why.

    Example: a credit note of -300.00 linked to nothing, refunded by transfer 77 on 20 Feb,
    gives `CreditNote` 300.00, a `Sale` of -300.00 and `Invoice` `refund:9:tx:77` of kind
    `DEBIT`, 300.00 due on 20 Feb, which the credit note settles that day: the customer's
    credit of 300.00 lasts until the refund.
    """
    raw = parse_invoice(source, item)
    if isinstance(raw, Rejected):
        return [raw]
    try:
        return _documents(source, raw, item, currency, refunds)
    except ValidationError as exc:
        reason = f"invoice does not fit the model: {validation_reasons(exc)}"
    except ValueError as exc:
        reason = f"invoice cannot be read: {exc}"
    return [_rejected(source, "customer_invoices", item, reason)]


def _common(source: str, raw: PlInvoice, item: Any, currency: str) -> dict[str, Any]:
    if raw.customer is None:
        raise ValueError("it has no customer; set one in Pennylane")
    cur = raw.currency.upper()
    return {
        "source": source,
        "external_id": str(raw.id),
        "updated_at": raw.updated_at,
        "raw": _raw(item),
        "customer_id": str(raw.customer.id),
        "exchange_rate": raw.exchange_rate if cur != currency and raw.exchange_rate else None,
    }


def _documents(
    source: str,
    raw: PlInvoice,
    item: Any,
    currency: str,
    refunds: Sequence[tuple[Settlement, Decimal]],
) -> list[Document]:
    if raw.is_draft:
        return _draft(source, raw, item, currency)
    common = _common(source, raw, item, currency)
    if raw.date is None:
        raise ValueError("it has no date; set one in Pennylane")
    total = Money(amount=raw.total, currency=raw.currency.upper())
    sale = _sale(common, raw.date, total, currency, sign=-1 if raw.is_credit_note else 1)
    if raw.is_credit_note:
        return [*_credit_note(common, raw, raw.date, total, refunds), *sale]
    invoice = Invoice(
        **common,
        number=raw.invoice_number,
        issued_on=raw.date,
        total=total,
        due_lines=(DueLine(due_on=raw.deadline or raw.date, amount=total),),
        due_date_assumed=raw.deadline is None,
    )
    return [invoice, *sale]


def _draft(source: str, raw: PlInvoice, item: Any, currency: str) -> list[Document]:
    """A draft invoice, reported beside the figures; nothing for what cannot be reported.

    A draft credit note, a draft of no amount yet or without customer credits or owes
    nobody anything: it gives nothing, and no quarantine either (a draft is work in progress).
    """
    issued_on = raw.date or (raw.created_at.astimezone(UTC).date() if raw.created_at else None)
    if raw.is_credit_note or raw.currency_amount == 0 or raw.customer is None or not issued_on:
        return []
    total = Money(amount=raw.total, currency=raw.currency.upper())
    return [
        Invoice(
            **_common(source, raw, item, currency),
            number=raw.invoice_number,
            issued_on=issued_on,
            total=total,
            due_lines=(DueLine(due_on=raw.deadline or issued_on, amount=total),),
            kind=InvoiceKind.DRAFT,
            due_date_assumed=raw.deadline is None,
        )
    ]


def _credit_note(
    common: dict[str, Any],
    raw: PlInvoice,
    on: date,
    total: Money,
    refunds: Sequence[tuple[Settlement, Decimal]],
) -> list[Document]:
    debits = [
        Invoice(
            **common | {"external_id": f"refund:{raw.id}:{settlement.key}"},
            number=raw.invoice_number,
            issued_on=settlement.on,
            total=Money(amount=part, currency=total.currency),
            due_lines=(
                DueLine(due_on=settlement.on, amount=Money(amount=part, currency=total.currency)),
            ),
            kind=InvoiceKind.DEBIT,
        )
        for settlement, part in refunds
    ]
    note = CreditNote(
        **common,
        on=on,
        amount=total,
        reference=raw.invoice_number,
        applies_to=str(raw.credited_invoice.id) if raw.credited_invoice else None,
        allocations=tuple(
            SourceAllocation(invoice_id=debit.external_id, amount=debit.total, allocated_on=on)
            for debit, on in zip(debits, (s.on for s, _ in refunds), strict=True)
        ),
    )
    return [note, *debits]


def _sale(
    common: dict[str, Any], on: date, total: Money, currency: str, *, sign: int
) -> list[Sale]:
    """The sale (TTC, for DSO) of a posted invoice, or its reversal by a credit note.

    Sales are kept in the company currency: a foreign document is converted with its own
    rate, and without one it gives no sale (the document itself goes to quarantine).
    """
    rate = common["exchange_rate"]
    if total.currency != currency:
        if rate is None:
            return []
        total = convert(total, rate, currency)
    return [
        Sale(
            source=common["source"],
            external_id=f"sale:{common['external_id']}",
            customer_id=common["customer_id"],
            booked_on=on,
            amount=Money(amount=sign * total.amount, currency=currency),
            raw=common["raw"],
        )
    ]


# ---------------------------------------------------------------------------------------------
# What is paid, and when


@dataclass(frozen=True)
class Settlement:
    """A dated receipt (or refund) the API gives for a document.

    `key` names it (`tx:42`, a bank transaction; `payment:444`, a payment); `amount` is the
    most it can give, in the document's currency, None when it is in another currency.
    """

    key: str
    on: date
    amount: Decimal | None


def paid_part(raw: PlInvoice, credited: Decimal) -> Decimal:
    """What was paid of a posted invoice: what no longer remains, less its credit notes.

    `credited` is the total of the credit notes linked to it (`credited_invoice`); Pennylane
    has already taken them off `remaining_amount_with_tax`, so they count once, as credit
    notes, and never again as money.

    >>> item = {"id": 7, "currency_amount": "1000.00", "remaining_amount_with_tax": "100.00",
    ...         "status": "partially_cancelled", "date": "2026-01-10", "customer": {"id": 1},
    ...         "updated_at": "2026-02-01T00:00:00Z"}
    >>> paid_part(PlInvoice.model_validate(item), Decimal("300.00"))
    Decimal('600.00')
    """
    if raw.is_draft or raw.is_credit_note or raw.remaining_amount_with_tax is None:
        return Decimal(0)
    settled = raw.total - max(raw.remaining_amount_with_tax, Decimal(0))
    return max(settled - min(credited, settled), Decimal(0))


def refundable(raw: PlInvoice) -> Decimal:
    """What of a posted credit note linked to no invoice was used: a refund to look for.

    Its `remaining_amount_with_tax` is what is left of it; the rest went somewhere. A credit
    note linked to an invoice was used on that invoice, never refunded here.

    >>> item = {"id": 9, "currency_amount": "-300.00", "remaining_amount_with_tax": "-100.00",
    ...         "status": "credit_note", "date": "2026-01-20", "customer": {"id": 1},
    ...         "updated_at": "2026-02-20T00:00:00Z"}
    >>> refundable(PlInvoice.model_validate(item))
    Decimal('200.00')
    """
    if not raw.is_credit_note or raw.is_draft or raw.credited_invoice is not None:
        return Decimal(0)
    if raw.remaining_amount_with_tax is None:
        return Decimal(0)
    return max(raw.total - abs(raw.remaining_amount_with_tax), Decimal(0))


def transactions(
    items: Iterable[Any], currency: str, *, outgoing: bool = False
) -> list[Settlement]:
    """The bank transactions matched to a document, as settlements, oldest first.

    Money in (a positive amount) pays an invoice; money out (`outgoing`) refunds a credit note.
    A transaction that does not fit the wire model is skipped: its part stays undated.
    """
    found = []
    for item in items:
        try:
            row = _PlTransaction.model_validate(item)
        except ValidationError:
            continue
        amount = -row.currency_amount if outgoing else row.currency_amount
        if amount <= 0:
            continue
        same = (row.currency or currency).upper() == currency.upper()
        found.append(Settlement(f"tx:{row.id}", row.date, amount if same else None))
    return sorted(found, key=lambda s: (s.on, s.key))


def payments(items: Iterable[Any], currency: str) -> list[Settlement]:
    """The received payments of an invoice, as settlements dated by their last change."""
    found = []
    for item in items:
        try:
            row = _PlPayment.model_validate(item)
        except ValidationError:
            continue
        if row.status not in RECEIVED or row.currency_amount <= 0:
            continue
        same = (row.currency or currency).upper() == currency.upper()
        on = row.updated_at.astimezone(UTC).date()
        found.append(Settlement(f"payment:{row.id}", on, row.currency_amount if same else None))
    return sorted(found, key=lambda s: (s.on, s.key))


def covers(amount: Decimal, settlements: Sequence[Settlement]) -> bool:
    """Whether `settlements` can explain `amount` (one of unknown size can explain anything)."""
    if any(s.amount is None for s in settlements):
        return bool(settlements)
    return sum((s.amount or Decimal(0) for s in settlements), Decimal(0)) >= amount


def split(
    amount: Decimal, settlements: Sequence[Settlement]
) -> tuple[list[tuple[Settlement, Decimal]], Decimal]:
    """Spread `amount` over `settlements` in their order, each up to its own amount.

    Returns the parts (settlement, amount) and the rest no settlement explains. A transfer
    that paid several invoices is listed whole by each: each takes what it needs of it.

    >>> own = Settlement("tx:1", date(2026, 1, 10), Decimal("300.00"))
    >>> shared = Settlement("tx:2", date(2026, 2, 10), Decimal("1000.00"))
    >>> parts, rest = split(Decimal("600.00"), [own, shared])
    >>> [(s.key, str(part)) for s, part in parts], str(rest)
    ([('tx:1', '300.00'), ('tx:2', '300.00')], '0.00')
    """
    parts = []
    left = amount
    for settlement in settlements:
        if left <= 0:
            break
        part = left if settlement.amount is None else min(left, settlement.amount)
        if part > 0:
            parts.append((settlement, part))
            left -= part
    return parts, max(left, Decimal(0))


def to_payments(
    source: str,
    raw: PlInvoice,
    *,
    paid: Decimal,
    settlements: Sequence[Settlement],
    currency: str,
) -> list[Payment]:
    """The payments of a posted invoice: `paid` spread over its `settlements` (pure).

    One `Payment` per settlement used, `paid:<invoice>:<settlement>`, on the settlement's
    date and allocated to the invoice that day; what no settlement explains is one
    `paid:<invoice>` dated by the invoice's last change (`updated_at`).

    Example: invoice 7 of 1 000.00, 600.00 paid, transactions tx:1 (300.00, 10 Jan) and
    tx:2 (1 000.00 shared with another invoice, 10 Feb): `paid:7:tx:1` 300.00 on 10 Jan and
    `paid:7:tx:2` 300.00 on 10 Feb.
    """
    if paid <= 0 or raw.customer is None:
        return []
    parts, rest = split(paid, settlements)
    dated = [(f"paid:{raw.id}:{s.key}", s.on, part) for s, part in parts]
    if rest > 0:
        dated.append((f"paid:{raw.id}", raw.updated_at.astimezone(UTC).date(), rest))
    cur = raw.currency.upper()
    rate = raw.exchange_rate if cur != currency and raw.exchange_rate else None
    return [
        _payment(source, raw, ident, on, Money(amount=part, currency=cur), rate)
        for ident, on, part in dated
    ]


def _payment(
    source: str, raw: PlInvoice, ident: str, on: date, amount: Money, rate: Decimal | None
) -> Payment:
    assert raw.customer is not None  # noqa: S101 - checked by the caller
    return Payment(
        source=source,
        external_id=ident,
        updated_at=raw.updated_at,
        customer_id=str(raw.customer.id),
        on=on,
        amount=amount,
        reference=raw.invoice_number,
        exchange_rate=rate,
        allocations=(SourceAllocation(invoice_id=str(raw.id), amount=amount, allocated_on=on),),
    )


# ---------------------------------------------------------------------------------------------
# The source's own balance


def to_balances(
    source: str,
    accounts: Mapping[str, int],
    numbers: Iterable[Any],
    rows: Iterable[Any],
    *,
    period: tuple[date, date],
    currency: str,
) -> list[SourceBalance]:
    """Each customer's balance in Pennylane's trial balance: debits - credits of its account.

    `accounts` maps a customer id to its ledger account id (`ledger_account` of the
    customer); `numbers` are `/ledger_accounts` items (id -> number); `rows` the
    `/trial_balance` items with auxiliary accounts, over `period` (the fiscal year's start to
    the day read). A customer whose account the trial balance does not list owes nothing
    there: 0.00. Rows that do not fit are skipped.

    Example: customer 1's account 411DUPONT has debits 1 500.00 and credits 300.00 from 1 Jan
    to 2 Mar: `SourceBalance(external_id="1", as_of=2 Mar, amount=1 200.00)`.
    """
    number_of: dict[int, str] = {}
    for item in numbers:
        try:
            account = _PlAccount.model_validate(item)
        except ValidationError:
            continue
        number_of[account.id] = account.number
    balance_of: dict[str, tuple[Decimal, Any]] = {}
    for item in rows:
        try:
            row = _PlBalanceRow.model_validate(item)
        except ValidationError:
            continue
        for key in filter(None, (row.number, row.formatted_number)):
            balance_of.setdefault(key, (row.debits - row.credits, item))
    start, end = period
    found = []
    for customer_id, account_id in sorted(accounts.items()):
        number = number_of.get(account_id)
        if number is None:
            continue
        amount, row_item = balance_of.get(number, (Decimal(0), None))
        try:
            balance = SourceBalance(
                source=source,
                external_id=customer_id,
                raw=_raw(row_item) if row_item is not None else None,
                as_of=end,
                amount=Money(amount=amount, currency=currency),
                basis=f"Pennylane trial balance: account {number}, debits - credits, "
                f"{start.isoformat()} to {end.isoformat()}",
            )
        except ValidationError as exc:  # an absurd ledger (a typo of 10^18): no check then
            log.warning("balance of account %s not read: %s", number, validation_reasons(exc))
            continue
        found.append(balance)
    return found


class _PlFiscalYear(_Wire):
    start: PlausibleDate
    finish: PlausibleDate


def fiscal_period(items: Iterable[Any], day: date) -> tuple[date, date] | None:
    """From the start of the fiscal year that holds `day` to `day`; None when none holds it.

    >>> fiscal_period([{"start": "2026-01-01", "finish": "2026-12-31"}], date(2026, 3, 2))
    (datetime.date(2026, 1, 1), datetime.date(2026, 3, 2))
    """
    for item in items:
        try:
            year = _PlFiscalYear.model_validate(item)
        except ValidationError:
            continue
        if year.start <= day <= year.finish:
            return year.start, day
    return None


# ---------------------------------------------------------------------------------------------
# What a read decides, item by item (the hooks of the declarative source)
#
# `notes` are what the read kept of the invoice list (`credit_note_link`); `found` what the
# follow-up calls of one document found: "transactions" (its matched bank transactions) and
# "payments".


def _parsed(item: Any) -> PlInvoice | None:
    try:
        return PlInvoice.model_validate(item)
    except ValidationError:
        return None


def customer_records(source: str, item: Any, currency: str) -> list[Customer | Rejected]:
    """`to_customer`, as a stream's mapping."""
    return [to_customer(source, item)]


def account_note(item: Any) -> list[tuple[str, int]]:
    """What to note of a customer: (its id, its ledger account id), to read its balance."""
    link = ledger_account_of(item)
    return [] if link is None else [link]


def document_records(source: str, item: Any, currency: str) -> list[Document]:
    """A listed document's records; a credit note refunded by transfer waits for the transfer."""
    raw = parse_invoice(source, item)
    if isinstance(raw, Rejected):
        return [raw]
    if refundable(raw) > 0:
        return []
    return to_invoice_records(source, item, currency=currency)


def credit_note_link(item: Any) -> list[tuple[str, tuple[str, str, Decimal]]]:
    """What to note of a posted credit note linked to an invoice: (id, (invoice, cur, amount)).

    Keyed by the credit note, so one seen twice in a read counts once.
    """
    raw = _parsed(item)
    if raw is None or not raw.is_credit_note or raw.is_draft or raw.credited_invoice is None:
        return []
    return [(str(raw.id), (str(raw.credited_invoice.id), raw.currency.upper(), raw.credits))]


def customer_touched(item: Any) -> list[tuple[str, str]]:
    """The customer a document needs read (for its account): ("customers", id)."""
    raw = _parsed(item)
    return [] if raw is None or raw.customer is None else [("customers", str(raw.customer.id))]


def paid_noted(item: Any, notes: Mapping[str, Any]) -> Decimal:
    """`paid_part` of a posted invoice, less the credit notes linked to it in `notes`."""
    raw = PlInvoice.model_validate(item)
    key = (str(raw.id), raw.currency.upper())
    credits = (amount for invoice, cur, amount in notes.values() if (invoice, cur) == key)
    return paid_part(raw, sum(credits, Decimal(0)))


def something_paid(item: Any, found: Mapping[str, list[Any]], notes: Mapping[str, Any]) -> bool:
    """Whether an invoice has something paid once its credit notes are counted: date it."""
    return paid_noted(item, notes) > 0


def transactions_fall_short(
    item: Any, found: Mapping[str, list[Any]], notes: Mapping[str, Any]
) -> bool:
    """Whether the bank transactions leave some of what was paid undated: ask the payments."""
    paid = paid_noted(item, notes)
    currency = PlInvoice.model_validate(item).currency
    return paid > 0 and not covers(paid, transactions(found["transactions"], currency))


def wants_refund(item: Any, records: Sequence[Any]) -> bool:
    """A posted credit note linked to nothing and used: look for the transfer that refunded it."""
    raw = _parsed(item)
    return raw is not None and refundable(raw) > 0


def refund_records(
    source: str, item: Any, found: Mapping[str, list[Any]], notes: Any, currency: str
) -> list[Document]:
    """The credit note's records, with the parts of it its outgoing transactions refunded."""
    raw = PlInvoice.model_validate(item)
    outgoing = transactions(found["transactions"], raw.currency, outgoing=True)
    parts, _ = split(refundable(raw), outgoing)
    return to_invoice_records(source, item, currency=currency, refunds=parts)


def wants_payments(item: Any, records: Sequence[Any]) -> bool:
    """A posted invoice (its records hold one) with something paid: date what was paid."""
    raw = _parsed(item)
    posted = any(isinstance(r, Invoice) and r.kind == InvoiceKind.INVOICE for r in records)
    return posted and raw is not None and paid_part(raw, Decimal(0)) > 0


def payment_records(
    source: str, item: Any, found: Mapping[str, list[Any]], notes: Any, currency: str
) -> list[Payment]:
    """`to_payments` of what was paid, spread over its transactions, then its payments."""
    raw = PlInvoice.model_validate(item)
    settlements = transactions(found.get("transactions", []), raw.currency)
    settlements += payments(found.get("payments", []), raw.currency)
    paid = paid_noted(item, notes)
    return to_payments(source, raw, paid=paid, settlements=settlements, currency=currency)
