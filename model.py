"""The common records every connector speaks, and `Money` (Decimal + ISO 4217 currency).

Customers, invoices with their due lines, credit notes, payments, advances, sales and
allocations.

Records are frozen pydantic models validated at the edge (vendor payload -> record); a float
amount is refused, an amount finer than its currency's minor unit is refused, an unknown
currency code is refused. Every record is keyed by `(source, external_id)`.

Dates of business events are named `*_on` (`date`); timestamps are named `*_at` (aware UTC).

This module imports nothing else of the project; everything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# ISO 4217 active codes whose minor unit is not 2 digits; every other listed code has 2.
_ZERO_DECIMALS = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
_THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_TWO_DECIMALS = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK
    PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG""".split()
)

#: Number of decimal digits of each known currency's minor unit (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = (
    {code: 2 for code in _TWO_DECIMALS}
    | {code: 0 for code in _ZERO_DECIMALS}
    | {code: 3 for code in _THREE_DECIMALS}
)


#: No document amount reaches this (a thousand billion): above it, the input is broken. It
#: also keeps minor units far inside SQLite's 64-bit integers.
MAX_AMOUNT = Decimal(10) ** 12
#: Business dates outside these are typing errors (0001-01-01, 9999-12-31), not facts.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def plausible(day: date) -> date:
    """`day` if it lies between EARLIEST_DATE and LATEST_DATE, else ValueError."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"{day} is not a plausible date (from {EARLIEST_DATE} to {LATEST_DATE})")
    return day


PlausibleDate = Annotated[date, AfterValidator(plausible)]


class Frozen(BaseModel):
    """Base of every record: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(Frozen):
    """An exact amount in one currency.

    >>> Money(amount=Decimal("1200.50"), currency="EUR").minor_units
    120050
    >>> Money.from_minor(1999, "EUR").amount
    Decimal('19.99')
    """

    amount: Decimal
    currency: str

    @field_validator("amount", mode="before")
    @classmethod
    def _reject_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise TypeError("money must be a Decimal or a string, never a float")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency code {value!r}: use an ISO 4217 code like EUR")
        return value

    @model_validator(mode="after")
    def _exact_to_minor_unit(self) -> Money:
        if not self.amount.is_finite():
            raise ValueError("amount must be a finite number")
        if abs(self.amount) >= MAX_AMOUNT:
            raise ValueError(f"{self.amount} is not a plausible amount (at most {MAX_AMOUNT:,})")
        exponent = CURRENCY_EXPONENTS[self.currency]
        if self.amount != self.amount.quantize(Decimal(1).scaleb(-exponent)):
            raise ValueError(
                f"{self.amount} has more decimals than {self.currency} allows ({exponent})"
            )
        return self

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of the currency's minor unit (cents for EUR)."""
        return int(self.amount.scaleb(CURRENCY_EXPONENTS[self.currency]))

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        """Build from an integer count of minor units: `from_minor(1999, "EUR")` is 19.99 EUR."""
        return cls(amount=Decimal(units).scaleb(-CURRENCY_EXPONENTS[currency]), currency=currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def to_decimal(units: int, currency: str) -> Decimal:
    """Minor units to a Decimal with the currency's exact number of decimals: 150 EUR -> 1.50."""
    exponent = CURRENCY_EXPONENTS[currency]
    return (Decimal(units).scaleb(-exponent)).quantize(Decimal(1).scaleb(-exponent))


def convert(money: Money, rate: Decimal, company_currency: str) -> Money:
    """Convert a document amount into the company currency with the document's own rate.

    `rate` is company currency units per one document currency unit; the result is rounded
    half-even to the company currency's minor unit. 100.00 USD at 0.9150 -> 91.50 EUR.
    """
    exponent = CURRENCY_EXPONENTS[company_currency]
    quantum = Decimal(1).scaleb(-exponent)
    return Money(amount=(money.amount * rate).quantize(quantum), currency=company_currency)


class Record(Frozen):
    """What every record shares: its key in the source and when the source last changed it."""

    source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    updated_at: datetime | None = None
    #: The payload as the source gave it (a FEC line, a JSON object), kept in the store.
    raw: str | None = Field(default=None, repr=False)

    @field_validator("updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("updated_at must be timezone-aware")
        return value


@dataclass(frozen=True)
class Party:
    """A company as one side knows it, to match an accounting customer with a CRM record.

    Kept apart from `Customer`: a CRM record is no customer of the ledger, and matching
    runs over thousands of them, so a plain frozen dataclass.
    """

    key: str
    name: str = ""
    siren: str | None = None
    siret: str | None = None
    vat_number: str | None = None
    email_domain: str | None = None


class Customer(Record):
    """A customer (client) as one tool knows it.

    `payment_terms_days` with `terms_end_of_month` gives the due date of its invoices when the
    source has none (the FEC never has): 45 and True mean "45 jours fin de mois".
    """

    name: str
    siren: Annotated[str, Field(pattern=r"^\d{9}$")] | None = None
    siret: Annotated[str, Field(pattern=r"^\d{14}$")] | None = None
    vat_number: str | None = None
    email_domain: str | None = None
    payment_terms_days: int | None = Field(default=None, ge=0)
    terms_end_of_month: bool = False
    credit_limit: Money | None = None


class DueLine(Frozen):
    """One instalment (échéance) of an invoice: what is due on which day.

    `match_ref` is the source's matching key of this instalment alone, when the source
    matches instalments apart (Tryton reconciles each line to pay on its own); else the
    invoice's `match_ref` holds for all its due lines.
    """

    due_on: PlausibleDate
    amount: Money
    match_ref: str | None = None


class InvoiceKind(StrEnum):
    """What a debit on the customer's account is."""

    INVOICE = "invoice"  # a sale invoiced to the customer
    UNBILLED = "unbilled"  # revenue earned, invoice still to issue (FAE, account 4181)
    DEBIT = "debit"  # any other debit on the customer's account (a refund paid out)
    #: An advance being used up (a debit on 4191 whose 411 credit settles the invoice): it
    #: consumes the customer's advances and falls due to no one.
    ADVANCE_USE = "advance_use"
    #: Not a receivable: a draft, or an invoice validated but not posted, is in no ledger.
    #: Stored apart and reported beside the figures as `drafts`; never in the outstanding,
    #: the aged balance or DSO, and never given a payment.
    DRAFT = "draft"


class Invoice(Record):
    """A debit on the customer's account, with one or more due lines that add up to its total.

    `match_ref` is the source's own matching key (a FEC lettrage code, a reconciliation id):
    lines sharing it were matched together on `matched_on`.
    """

    customer_id: str
    number: str | None = None
    issued_on: PlausibleDate
    total: Money
    due_lines: tuple[DueLine, ...] = Field(min_length=1)
    kind: InvoiceKind = InvoiceKind.INVOICE
    is_doubtful: bool = False
    due_date_assumed: bool = False
    exchange_rate: Decimal | None = Field(default=None, gt=0)
    match_ref: str | None = None
    matched_on: date | None = None
    order_ref: str | None = None

    @model_validator(mode="after")
    def _due_lines_add_up(self) -> Invoice:
        if any(line.amount.currency != self.total.currency for line in self.due_lines):
            raise ValueError("every due line must be in the invoice's currency")
        lines_sum = sum((line.amount.amount for line in self.due_lines), Decimal(0))
        if lines_sum != self.total.amount:
            raise ValueError(f"due lines add up to {lines_sum}, not to the total {self.total}")
        if self.total.amount <= 0:
            raise ValueError("an invoice total must be positive; a negative one is a credit note")
        return self


class CreditKind(StrEnum):
    """What a credit on the customer's account is."""

    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"
    ADVANCE = "advance"


class SourceAllocation(Frozen):
    """An explicit link given by the source: this credit settles that invoice for that much."""

    invoice_id: str
    amount: Money
    allocated_on: date | None = None


class Credit(Record):
    """What credits share: money or value the customer has given, to set against invoices."""

    customer_id: str | None
    on: PlausibleDate
    amount: Money
    reference: str | None = None
    allocations: tuple[SourceAllocation, ...] = ()
    exchange_rate: Decimal | None = Field(default=None, gt=0)
    match_ref: str | None = None
    matched_on: date | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.amount <= 0:
            raise ValueError("a credit amount must be positive")
        return value

    @model_validator(mode="after")
    def _allocations_fit(self) -> Credit:
        allocated = sum((a.amount.amount for a in self.allocations), Decimal(0))
        if allocated > self.amount.amount:
            raise ValueError(f"allocations {allocated} exceed the amount {self.amount}")
        return self


class Payment(Credit):
    """Money received. `customer_id` None means an unidentified receipt (company level)."""

    kind: Literal[CreditKind.PAYMENT] = CreditKind.PAYMENT


class CreditNote(Credit):
    """A credit note (avoir); `applies_to` names the invoice it corrects when the source says."""

    kind: Literal[CreditKind.CREDIT_NOTE] = CreditKind.CREDIT_NOTE
    customer_id: str
    applies_to: str | None = None


class Advance(Credit):
    """A deposit or advance (acompte).

    On an order (account 4191) it waits for its invoice: only an explicit link or the order
    reference may allocate it, never a guess.
    """

    kind: Literal[CreditKind.ADVANCE] = CreditKind.ADVANCE
    customer_id: str
    is_on_order: bool = True
    order_ref: str | None = None


class SourceBalance(Record):
    """What the source itself says a customer owes on a day: the check of our outstanding.

    `external_id` is the customer's id. `amount` is the balance after the adjustments that
    `basis` names (it may be zero or negative: a customer in credit). At the end of every
    sync the outstanding computed as of `as_of` is compared with it, to the cent; a
    difference is never hidden. Example: the FEC ledger's balance of 411, 413, 416 and 4181
    less 4191 for customer C1 on 2025-02-28 is 120.00; encours' outstanding as of that day
    must be 120.00.
    """

    as_of: PlausibleDate
    amount: Money
    basis: str = Field(min_length=1)


class Sale(Record):
    """A credit sale including VAT (CA TTC), booked on a day: the denominator of DSO.

    Negative for a credit note. `customer_id` None for a sale not tied to a customer account.
    """

    customer_id: str | None
    booked_on: PlausibleDate
    amount: Money


class AllocationRule(StrEnum):
    """Which reconciliation rule made an allocation, strongest first."""

    SOURCE_LINK = "source_link"
    MATCH_GROUP = "match_group"
    ADVANCE_APPLIED = "advance_applied"
    SAME_REFERENCE = "same_reference"
    EXACT_AMOUNT = "exact_amount"
    OLDEST_FIRST = "oldest_first"


class Allocation(NamedTuple):
    """What paid what, for how much, on which date, by which rule.

    `amount` of credit `credit_id` set against due line `due_seq` of invoice `invoice_id`,
    on `allocated_on`, by `rule`.

    Made by reconciliation, never taken from outside (a source's own links arrive as
    `SourceAllocation`), and made by the million on a large ledger: so a plain tuple, with
    the amount in integer minor units of the company currency.
    """

    credit_id: str
    invoice_id: str
    due_seq: int
    amount: int
    allocated_on: date
    rule: AllocationRule


class TermLine(Frozen):
    """One line of a payment term.

    `share` percent of the total (None: what is left), due `days` after the invoice date,
    moved to the month's last day when `end_of_month`.
    """

    share: Decimal | None = Field(default=None, gt=0, le=100)
    days: int = Field(ge=0)
    end_of_month: bool = False

    def due_on(self, issued_on: date) -> date:
        """The due date: "45 jours fin de mois" is the invoice date + 45 days, then month end.

        >>> TermLine(days=45, end_of_month=True).due_on(date(2026, 1, 20))
        datetime.date(2026, 3, 31)
        """
        due = date.fromordinal(issued_on.toordinal() + self.days)
        if self.end_of_month:
            next_month = date(due.year + due.month // 12, due.month % 12 + 1, 1)
            due = date.fromordinal(next_month.toordinal() - 1)
        return due


class PaymentTerms(Frozen):
    """How an invoice falls due: one or more term lines, the last one taking the remainder.

    "30 % at order, balance at 60 days" is `[TermLine(share=30, days=0), TermLine(days=60)]`.
    """

    lines: tuple[TermLine, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _last_takes_the_rest(self) -> PaymentTerms:
        if self.lines[-1].share is not None or any(t.share is None for t in self.lines[:-1]):
            raise ValueError("every term line but the last needs a share; the last takes the rest")
        if sum((t.share or Decimal(0) for t in self.lines), Decimal(0)) >= 100:
            raise ValueError("the shares of the first lines must leave something for the last")
        return self

    @classmethod
    def net(cls, days: int, *, end_of_month: bool = False) -> PaymentTerms:
        """A single due date.

        `net(30)` is "30 jours"; `net(45, end_of_month=True)` is "45 jours fin de mois".
        """
        return cls(lines=(TermLine(days=days, end_of_month=end_of_month),))

    def amounts(self, units: int) -> tuple[int, ...]:
        """Split `units` (minor units) by the shares.

        Each share is rounded down and the last line takes the remainder, so the parts always
        add up to the whole, to the cent.

        >>> terms = PaymentTerms(lines=(TermLine(share=Decimal(30), days=0), TermLine(days=60)))
        >>> terms.amounts(10001)
        (3000, 7001)
        """
        parts: list[int] = []
        left = units
        for term in self.lines:
            part = left if term.share is None else (units * int(term.share * 100)) // 10000
            left -= part
            parts.append(part)
        return tuple(parts)

    def due_dates(self, issued_on: date) -> tuple[date, ...]:
        """The due date of each line for an invoice dated `issued_on`."""
        return tuple(term.due_on(issued_on) for term in self.lines)

    def due_lines(self, issued_on: date, total: Money) -> tuple[DueLine, ...]:
        """The invoice's due lines: `amounts` on `due_dates`, without lines of zero.

        >>> terms = PaymentTerms(lines=(TermLine(share=Decimal(30), days=0), TermLine(days=60)))
        >>> lines = terms.due_lines(date(2026, 1, 1), Money.from_minor(10001, "EUR"))
        >>> [str(line.amount) for line in lines]
        ['30.00 EUR', '70.01 EUR']
        """
        lines = [
            DueLine(due_on=due_on, amount=Money.from_minor(part, total.currency))
            for due_on, part in zip(
                self.due_dates(issued_on), self.amounts(total.minor_units), strict=True
            )
            if part
        ]
        return tuple(lines) or (DueLine(due_on=self.lines[-1].due_on(issued_on), amount=total),)


class LedgerLine(NamedTuple):
    """One line on a customer account of a ledger export (a FEC), as its reader checked it.

    The bulk form of an `Invoice` (a debit: `kind` is an `InvoiceKind` value, with its due
    lines) or of a credit (`kind` is a `CreditKind` value, no due lines). A ledger has
    millions of such lines, so they are plain tuples, not pydantic records: per-line objects
    would cost more than everything else of a run (DESIGN: hot loops work on plain values).
    The reader has validated every field. Amounts are positive integers in minor units of the
    company currency; dates are ISO 8601 text ("2026-01-31").
    """

    source: str
    external_id: str
    customer_id: str
    kind: str
    booked_on: str
    reference: str | None
    amount: int
    due_lines: tuple[tuple[str, int], ...]
    is_doubtful: bool
    due_date_assumed: bool
    match_ref: str | None
    matched_on: str | None
    raw: str


class LedgerSale(NamedTuple):
    """The sales including VAT of one ledger entry: the bulk form of a `Sale`.

    In minor units, negative for a credit note; `customer_id` None when the entry has no
    single customer.
    """

    source: str
    external_id: str
    customer_id: str | None
    booked_on: str
    amount: int
    raw: str


class Rejected(Frozen):
    """A record the source gave that cannot enter the model, with a reason a person can act on.

    Sync puts it in quarantine with its raw payload and carries on with the rest.
    """

    source: str
    stream: str
    external_id: str
    reason: str
    raw: str


#: Every record a source may yield.
SourceRecord = (
    Customer
    | Invoice
    | Payment
    | CreditNote
    | Advance
    | Sale
    | SourceBalance
    | LedgerLine
    | LedgerSale
)
