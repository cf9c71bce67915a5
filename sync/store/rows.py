"""The rows a record becomes in the store: one named type per table, built by pure functions.

Every record, whatever its source, goes through `rows_of`: this is the one write path's
first half (the second, `writing.py`, merges the rows into the tables). Amounts become
minor units of the company currency here; a foreign-currency document without a rate is
refused with `NoRate` (the writer quarantines it).

Example: an invoice of 1 200.00 EUR with two due lines (600.00 on 31 Jan, 600.00 on 28 Feb)
becomes one `InvoiceRow` (total 120000) and two `DueLineRow`s (seq 0 and 1, 60000 each).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from encours.model import (
    CURRENCY_EXPONENTS,
    Credit,
    CreditKind,
    Customer,
    Invoice,
    InvoiceKind,
    LedgerLine,
    LedgerSale,
    Money,
    Rejected,
    Sale,
    SourceBalance,
    SourceRecord,
    convert,
    to_decimal,
)


class CustomerRow(NamedTuple):
    """A customer as its source describes it."""

    source: str
    external_id: str
    name: str
    siren: str | None
    siret: str | None
    vat_number: str | None
    email_domain: str | None
    payment_terms_days: int | None
    terms_end_of_month: bool
    credit_limit: int | None
    updated_at: str | None
    raw: str


class InvoiceRow(NamedTuple):
    """An invoice (or a ledger debit), its total in company currency."""

    source: str
    external_id: str
    customer_id: str
    number: str | None
    kind: str
    issued_on: str
    currency: str
    total_in_currency: str
    exchange_rate: str | None
    total: int
    is_doubtful: bool
    due_date_assumed: bool
    match_ref: str | None
    matched_on: str | None
    order_ref: str | None
    updated_at: str | None
    raw: str


class DueLineRow(NamedTuple):
    """One due line of an invoice: what is due on which day."""

    source: str
    invoice_id: str
    seq: int
    customer_id: str
    kind: str
    is_doubtful: bool
    issued_on: str
    due_on: str
    amount: int
    match_ref: str | None


class CreditRow(NamedTuple):
    """A payment, credit note or advance received."""

    source: str
    external_id: str
    kind: str
    customer_id: str | None
    on_date: str
    currency: str
    amount_in_currency: str
    exchange_rate: str | None
    amount: int
    reference: str | None
    match_ref: str | None
    matched_on: str | None
    applies_to: str | None
    is_on_order: bool
    order_ref: str | None
    updated_at: str | None
    raw: str


class CreditLinkRow(NamedTuple):
    """What a source says a credit pays: an amount of one invoice."""

    source: str
    credit_id: str
    position: int
    invoice_id: str
    amount: int
    linked_on: str | None


class SaleRow(NamedTuple):
    """Sales including VAT booked on a day (for DSO)."""

    source: str
    external_id: str
    customer_id: str | None
    booked_on: str
    amount: int
    raw: str


class DraftRow(NamedTuple):
    """A draft invoice: in no ledger yet, shown apart."""

    source: str
    external_id: str
    customer_id: str
    number: str | None
    issued_on: str
    currency: str
    total_in_currency: str
    exchange_rate: str | None
    total: int
    updated_at: str | None
    raw: str


class SourceBalanceRow(NamedTuple):
    """A customer's balance as its source states it."""

    source: str
    customer_id: str
    as_of: str
    currency: str
    amount_in_currency: str
    amount: int
    basis: str
    raw: str


class QuarantineRow(NamedTuple):
    """A record refused, with the reason, for a person to fix."""

    source: str
    stream: str
    external_id: str
    reason: str
    raw: str


Row = (
    CustomerRow
    | InvoiceRow
    | DueLineRow
    | CreditRow
    | CreditLinkRow
    | SaleRow
    | DraftRow
    | SourceBalanceRow
    | QuarantineRow
)

#: Table of each row type.
TABLES: dict[type, str] = {
    CustomerRow: "customers",
    InvoiceRow: "invoices",
    DueLineRow: "due_lines",
    CreditRow: "credits",
    CreditLinkRow: "credit_links",
    SaleRow: "sales",
    DraftRow: "drafts",
    SourceBalanceRow: "source_balances",
    QuarantineRow: "quarantine",
}


class NoRate(Exception):
    """A foreign-currency document without an exchange rate."""


class RowMaker:
    """Turns one source's records into rows, in the company currency."""

    def __init__(self, company_currency: str) -> None:
        self.currency = company_currency
        self.exponent = CURRENCY_EXPONENTS[company_currency]

    def rows_of(self, record: SourceRecord) -> list[Row]:
        """The rows of a record (see the module docstring).

        Raises:
            NoRate: a document in another currency carries no exchange rate.
        """
        if type(record) is LedgerLine:
            return self._ledger_line(record)
        if isinstance(record, LedgerSale):
            return [
                SaleRow(
                    record.source,
                    record.external_id,
                    record.customer_id,
                    record.booked_on,
                    record.amount,
                    record.raw,
                )
            ]
        raw = record.raw or record.model_dump_json(exclude_defaults=True)  # type: ignore[union-attr]
        updated_at = record.updated_at.isoformat() if record.updated_at else None  # type: ignore[union-attr]
        if isinstance(record, Customer):
            return [self._customer(record, updated_at, raw)]
        if isinstance(record, Invoice) and record.kind == InvoiceKind.DRAFT:
            return [self._draft(record, updated_at, raw)]
        if isinstance(record, Invoice):
            return self._invoice(record, updated_at, raw)
        if isinstance(record, Credit):
            return self._credit(record, updated_at, raw)
        if isinstance(record, SourceBalance):
            return [
                SourceBalanceRow(
                    record.source,
                    record.external_id,
                    record.as_of.isoformat(),
                    record.amount.currency,
                    str(record.amount.amount),
                    self._company(record.amount, None, f"balance of customer {record.external_id}"),
                    record.basis,
                    record.raw or "",  # a balance a reader computed has no payload of its own
                )
            ]
        if isinstance(record, Sale):
            return [
                SaleRow(
                    record.source,
                    record.external_id,
                    record.customer_id,
                    record.booked_on.isoformat(),
                    self._company(record.amount, None, f"sale {record.external_id}"),
                    raw,
                )
            ]
        raise TypeError(f"not a record: {type(record).__name__}")

    def quarantine_row(self, rejected: Rejected) -> QuarantineRow:
        """The quarantine row of a record refused, with its reason."""
        return QuarantineRow(
            rejected.source, rejected.stream, rejected.external_id, rejected.reason, rejected.raw
        )

    def _ledger_line(self, line: LedgerLine) -> list[Row]:
        """A ledger line straight to its rows: already checked, in company currency."""
        amount_text = self._amount_text(line.amount)
        if line.due_lines:
            rows: list[Row] = [
                InvoiceRow(
                    line.source,
                    line.external_id,
                    line.customer_id,
                    line.reference,
                    line.kind,
                    line.booked_on,
                    self.currency,
                    amount_text,
                    None,
                    line.amount,
                    line.is_doubtful,
                    line.due_date_assumed,
                    line.match_ref,
                    line.matched_on,
                    None,
                    None,
                    line.raw,
                )
            ]
            rows += [
                DueLineRow(
                    line.source,
                    line.external_id,
                    seq,
                    line.customer_id,
                    line.kind,
                    line.is_doubtful,
                    line.booked_on,
                    due_on,
                    units,
                    None,
                )
                for seq, (due_on, units) in enumerate(line.due_lines)
            ]
            return rows
        is_advance = line.kind == CreditKind.ADVANCE.value
        return [
            CreditRow(
                line.source,
                line.external_id,
                line.kind,
                line.customer_id,
                line.booked_on,
                self.currency,
                amount_text,
                None,
                line.amount,
                line.reference,
                line.match_ref,
                line.matched_on,
                None,
                is_advance,
                line.reference if is_advance else None,
                None,
                line.raw,
            )
        ]

    def _customer(self, record: Customer, updated_at: str | None, raw: str) -> CustomerRow:
        limit = (
            self._company(record.credit_limit, None, "credit limit")
            if record.credit_limit
            else None
        )
        return CustomerRow(
            record.source,
            record.external_id,
            record.name,
            record.siren,
            record.siret,
            record.vat_number,
            record.email_domain,
            record.payment_terms_days,
            record.terms_end_of_month,
            limit,
            updated_at,
            raw,
        )

    def _draft(self, record: Invoice, updated_at: str | None, raw: str) -> DraftRow:
        rate = record.exchange_rate
        what = f"draft invoice {record.number or record.external_id}"
        return DraftRow(
            record.source,
            record.external_id,
            record.customer_id,
            record.number,
            record.issued_on.isoformat(),
            record.total.currency,
            str(record.total.amount),
            _text(rate),
            self._company(record.total, rate, what),
            updated_at,
            raw,
        )

    def _invoice(self, record: Invoice, updated_at: str | None, raw: str) -> list[Row]:
        rate = record.exchange_rate
        what = f"invoice {record.number or record.external_id}"
        total = self._company(record.total, rate, what)
        amounts = [self._company(line.amount, rate, what) for line in record.due_lines]
        # After conversion, the last due line absorbs the rounding: lines add up to the total.
        amounts[-1] += total - sum(amounts)
        issued_on = record.issued_on.isoformat()
        rows: list[Row] = [
            InvoiceRow(
                record.source,
                record.external_id,
                record.customer_id,
                record.number,
                record.kind.value,
                issued_on,
                record.total.currency,
                str(record.total.amount),
                _text(rate),
                total,
                record.is_doubtful,
                record.due_date_assumed,
                record.match_ref,
                _iso(record.matched_on),
                record.order_ref,
                updated_at,
                raw,
            )
        ]
        rows += [
            DueLineRow(
                record.source,
                record.external_id,
                seq,
                record.customer_id,
                record.kind.value,
                record.is_doubtful,
                issued_on,
                line.due_on.isoformat(),
                units,
                line.match_ref,
            )
            for seq, (line, units) in enumerate(zip(record.due_lines, amounts, strict=True))
        ]
        return rows

    def _credit(self, record: Credit, updated_at: str | None, raw: str) -> list[Row]:
        rate = record.exchange_rate
        what = f"{record.kind.value.replace('_', ' ')} {record.reference or record.external_id}"
        rows: list[Row] = [
            CreditRow(
                record.source,
                record.external_id,
                record.kind.value,
                record.customer_id,
                record.on.isoformat(),
                record.amount.currency,
                str(record.amount.amount),
                _text(rate),
                self._company(record.amount, rate, what),
                record.reference,
                record.match_ref,
                _iso(record.matched_on),
                getattr(record, "applies_to", None),
                bool(getattr(record, "is_on_order", False)),
                getattr(record, "order_ref", None),
                updated_at,
                raw,
            )
        ]
        rows += [
            CreditLinkRow(
                record.source,
                record.external_id,
                position,
                link.invoice_id,
                self._company(link.amount, rate, what),
                _iso(link.allocated_on),
            )
            for position, link in enumerate(record.allocations)
        ]
        return rows

    def _amount_text(self, units: int) -> str:
        """Minor units as the Decimal text of the company currency ("1234.50")."""
        if self.exponent == 2:
            return f"{'-' if units < 0 else ''}{abs(units) // 100}.{abs(units) % 100:02d}"
        return str(to_decimal(units, self.currency))

    def _company(self, money: Money, rate: Decimal | None, what: str) -> int:
        if money.currency == self.currency:
            return money.minor_units
        if rate is None:
            raise NoRate(
                f"{what} is in {money.currency} with no exchange rate to {self.currency}; "
                "encours never guesses a rate: fix the document in the source"
            )
        return convert(money, rate, self.currency).minor_units


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
