"""Tryton rows to the common model: real rows recorded from a Tryton 8.2 server, and edge cases.

`tests/data/tryton_rows.json` holds the raw JSON-RPC results of the French scenario of
TRYTON.md (Alpha party 2, Beta 3, Gamma 4); `tests/data/tryton_rows_bookkeeping.json` those
of the customers of `tests/tryton/scenario.py` whose documents Tryton's own wizards booked
(overpayment, cancellations, credit notes in payment lines, drafts, write-off, refunds, one
payment for two invoices: parties 6 to 12), read with the source's own domains and fields.
Every row goes through `from_wire` first, as the source does. Hand-made rows are written
directly in their Python form.
"""

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from encours.connectors.tryton.balance import (
    BASIS,
    DepositsLeft,
    deposit_with_vat,
    deposits_left,
    draft_moves,
    source_balance,
)
from encours.connectors.tryton.records import (
    deposit_records,
    invoice_records,
    is_refunded,
    line_records,
    to_customer,
)
from encours.connectors.tryton.rpc import from_wire
from encours.model import (
    MAX_AMOUNT,
    Advance,
    AllocationRule,
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
    SourceBalance,
)
from encours.sync.reconcile import CreditItem, DueItem, reconcile

SOURCE = "erp"
ROWS: dict[str, list[dict[str, Any]]] = from_wire(
    json.loads(
        (Path(__file__).parent.parent / "data" / "tryton_rows.json").read_text(encoding="utf-8")
    )
)
ALPHA, BETA, GAMMA = 2, 3, 4
BOOKS: dict[str, Any] = from_wire(
    json.loads(
        (Path(__file__).parent.parent / "data" / "tryton_rows_bookkeeping.json").read_text(
            encoding="utf-8"
        )
    )
)
DELTA, EPSILON, ZETA, ETA, THETA, IOTA, KAPPA = range(6, 13)


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def row(stream: str, ident: int) -> dict[str, Any]:
    """The recorded row of `stream` with this id."""
    return next(item for item in ROWS[stream] if item["id"] == ident)


def of_invoice(ident: int) -> list[Any]:
    return invoice_records(SOURCE, row("invoices", ident), currency="EUR")


def of_line(ident: int) -> list[Any]:
    return line_records(SOURCE, row("lines", ident), currency="EUR")


def recorded_deposits(party: int) -> list[Any]:
    rows = [item for item in ROWS["deposits"] if item["invoice."]["party"] == party]
    return deposit_records(SOURCE, party, rows, currency="EUR")


def every_record() -> list[Any]:
    """What the source makes of every recorded row (customers aside)."""
    records: list[Any] = []
    for item in ROWS["invoices"]:
        records += invoice_records(SOURCE, item, currency="EUR")
    for item in ROWS["lines"]:
        records += line_records(SOURCE, item, currency="EUR")
    for party in sorted({item["invoice."]["party"] for item in ROWS["deposits"]}):
        records += recorded_deposits(party)
    return records


def by_id(records: list[Any]) -> dict[str, Any]:
    return {record.external_id: record for record in records}


# -- hand-made rows ------------------------------------------------------------------------------


def to_pay(
    ident: int,
    debit: str = "0",
    credit: str = "0",
    *,
    maturity: date | None = None,
    reconciliation: int | None = None,
    on: date = date(2026, 10, 1),
) -> dict[str, Any]:
    """A line of `lines_to_pay.`."""
    return {
        "id": ident,
        "date": on,
        "maturity_date": maturity,
        "debit": Decimal(debit),
        "credit": Decimal(credit),
        "reconciliation": reconciliation,
    }


def an_invoice(
    ident: int,
    *,
    state: str = "posted",
    total: str,
    lines: list[dict[str, Any]] | None = None,
    currency: str = "EUR",
    on: date | None = date(2026, 10, 1),
    party: int = ALPHA,
) -> dict[str, Any]:
    """An `account.invoice` row as `INVOICE_FIELDS` reads it."""
    return {
        "id": ident,
        "number": f"FA-{ident}" if state in ("posted", "paid", "cancelled") else None,
        "reference": f"CMD-{ident}",
        "state": state,
        "invoice_date": on,
        "currency.": {"id": 1, "code": currency},
        "party": party,
        "total_amount": Decimal(total),
        "lines_to_pay.": lines or [],
        "create_date": None,
        "write_date": None,
    }


def a_line(
    ident: int,
    *,
    debit: str = "0",
    credit: str = "0",
    party: int | None = BETA,
    on: date = date(2026, 11, 20),
    maturity: date | None = None,
    invoice_payment: int | None = None,
    reconciliation: int | None = None,
) -> dict[str, Any]:
    """An `account.move.line` row as `LINE_FIELDS` reads it."""
    return {
        "id": ident,
        "date": on,
        "maturity_date": maturity,
        "party": party,
        "debit": Decimal(debit),
        "credit": Decimal(credit),
        "reconciliation": reconciliation,
        "invoice_payment": invoice_payment,
        "move.": {"id": ident, "number": f"M{ident}"},
        "description_used": None,
    }


def a_deposit_line(
    ident: int,
    amount: str,
    *,
    invoice: int,
    on: date,
    total: str,
    untaxed: str,
    currency: str = "EUR",
) -> dict[str, Any]:
    """An `account.invoice.line` on a deposit account, as `DEPOSIT_FIELDS` reads it."""
    return {
        "id": ident,
        "amount": Decimal(amount),
        "invoice": invoice,
        "invoice.": {
            "id": invoice,
            "number": f"FA-{invoice}",
            "reference": f"ACPT-{invoice}",
            "invoice_date": on,
            "party": GAMMA,
            "currency.": {"id": 1, "code": currency},
            "total_amount": Decimal(total),
            "untaxed_amount": Decimal(untaxed),
        },
    }


def deposits_of(*rows: dict[str, Any]) -> dict[str, Any]:
    return by_id(deposit_records(SOURCE, GAMMA, list(rows), currency="EUR"))


# -- recorded rows: invoices -----------------------------------------------------------------


def test_nothing_recorded_is_rejected() -> None:
    """Every recorded row fits the model, in EUR."""
    records = every_record()
    assert [r for r in records if isinstance(r, Rejected)] == []
    for record in records:
        money = record.total if isinstance(record, Invoice) else record.amount
        assert money.currency == "EUR"


def test_open_invoice_is_an_invoice_and_a_sale() -> None:
    """FA2026-1: one due line at its maturity date, no match, a sale of its total."""
    invoice, sale = of_invoice(1)

    assert invoice == Invoice(
        source=SOURCE,
        external_id="1",
        raw=invoice.raw,
        customer_id="2",
        number="FA2026-1",
        issued_on=date(2026, 8, 15),
        total=eur("1200.00"),
        due_lines=(DueLine(due_on=date(2026, 9, 14), amount=eur("1200.00")),),
        kind=InvoiceKind.INVOICE,
        match_ref=None,
        order_ref="CMD-A1",
    )
    assert sale == Sale(
        source=SOURCE,
        external_id="sale:1",
        raw=sale.raw,
        customer_id="2",
        booked_on=date(2026, 8, 15),
        amount=eur("1200.00"),
    )


def test_raw_is_the_row_as_text() -> None:
    """The raw payload kept for the store is the row itself, with its typed values."""
    invoice, _ = of_invoice(1)
    raw = json.loads(invoice.raw)
    assert raw["number"] == "FA2026-1"
    assert raw["total_amount"] == "1200.00"
    assert raw["lines_to_pay."][0]["maturity_date"] == "2026-09-14"


def test_partial_payment_links_to_its_invoice() -> None:
    """FA2026-3 stays whole; move line 33 (pay wizard) pays 1 000 of it by a source link."""
    invoice, _ = of_invoice(3)
    (payment,) = of_line(33)

    assert invoice.total == eur("2400.00")
    assert invoice.due_lines == (DueLine(due_on=date(2026, 11, 3), amount=eur("2400.00")),)
    assert invoice.match_ref is None
    assert isinstance(payment, Payment)
    assert payment.external_id == "line:33"
    assert payment.customer_id == "2"
    assert payment.on == date(2026, 11, 13)
    assert payment.amount == eur("1000.00")
    assert payment.reference == "11"
    assert payment.match_ref is None
    assert payment.allocations == (
        SourceAllocation(invoice_id="3", amount=eur("1000.00"), allocated_on=date(2026, 11, 13)),
    )


def test_end_of_month_terms_keep_tryton_due_date() -> None:
    """FA2026-8, "45 jours fin de mois" from 13 Nov: due 31 Dec, as Tryton computed it."""
    invoice, sale = of_invoice(9)
    assert invoice.number == "FA2026-8"
    assert invoice.issued_on == date(2026, 11, 13)
    assert invoice.due_lines == (DueLine(due_on=date(2026, 12, 31), amount=eur("600.00")),)
    assert invoice.due_date_assumed is False
    assert sale.amount == eur("600.00")


@pytest.mark.parametrize(
    ("ident", "customer", "amount", "on", "order_ref"),
    [
        (10, "2", "360.00", date(2026, 11, 21), "CMD-A4"),  # validated
        (11, "3", "840.00", date(2026, 11, 22), "CMD-B3"),  # draft
    ],
)
def test_draft_and_validated_invoices_are_drafts(
    ident: int, customer: str, amount: str, on: date, order_ref: str
) -> None:
    """A draft or validated invoice: one draft item (in no ledger) on its date, no sale."""
    (draft,) = of_invoice(ident)
    assert isinstance(draft, Invoice)
    assert draft.kind == InvoiceKind.DRAFT
    assert draft.external_id == str(ident)
    assert draft.customer_id == customer
    assert draft.number is None
    assert draft.issued_on == on
    assert draft.total == eur(amount)
    assert draft.due_lines == (DueLine(due_on=on, amount=eur(amount)),)
    assert draft.order_ref == order_ref


def test_two_instalments_are_two_due_lines() -> None:
    """FA2026-4: 3 600 in two instalments of 1 800, in due-date order."""
    invoice, sale = of_invoice(4)
    assert invoice.customer_id == "3"
    assert invoice.total == eur("3600.00")
    assert invoice.due_lines == (
        DueLine(due_on=date(2026, 11, 8), amount=eur("1800.00")),
        DueLine(due_on=date(2026, 12, 8), amount=eur("1800.00")),
    )
    assert invoice.match_ref is None
    assert sale.amount == eur("3600.00")


def test_reconciled_invoice_and_payment_share_the_reconciliation() -> None:
    """FA2026-5 and move line 35 are reconciliation 2: both carry "rec:2"."""
    invoice, _ = of_invoice(5)
    (payment,) = of_line(35)
    assert invoice.match_ref == "rec:2"
    assert payment.match_ref == "rec:2"
    assert payment.customer_id == "3"
    assert payment.amount == eur("960.00")
    assert payment.on == date(2026, 11, 18)
    assert payment.allocations == (
        SourceAllocation(invoice_id="5", amount=eur("960.00"), allocated_on=date(2026, 11, 18)),
    )


def test_credit_note_is_a_credit_and_a_negative_sale() -> None:
    """AV2026-1 (total −120): a credit note of 120 on its date and a sale of −120."""
    credit, sale = of_invoice(7)
    assert credit == CreditNote(
        source=SOURCE,
        external_id="7",
        raw=credit.raw,
        customer_id="3",
        on=date(2026, 11, 3),
        amount=eur("120.00"),
        reference="AV2026-1",
    )
    assert sale.external_id == "sale:7"
    assert sale.customer_id == "3"
    assert sale.booked_on == date(2026, 11, 3)
    assert sale.amount == eur("-120.00")


def test_unallocated_transfer_is_a_payment_without_link() -> None:
    """Move line 40 (no invoice): a payment of 300 from Beta, linked and matched to nothing."""
    (payment,) = of_line(40)
    assert payment == Payment(
        source=SOURCE,
        external_id="line:40",
        raw=payment.raw,
        customer_id="3",
        on=date(2026, 11, 20),
        amount=eur("300.00"),
        reference="14",
    )


def test_deposit_invoice_is_an_invoice_paid_by_its_reconciliation() -> None:
    """FA2026-2 (the deposit invoice, 1 200 TTC) and its payment, line 17, are "rec:1"."""
    invoice, sale = of_invoice(2)
    (payment,) = of_line(17)
    assert invoice.customer_id == "4"
    assert invoice.kind == InvoiceKind.INVOICE
    assert invoice.total == eur("1200.00")
    assert invoice.match_ref == "rec:1"
    assert sale.amount == eur("1200.00")
    assert payment.match_ref == "rec:1"
    assert payment.amount == eur("1200.00")
    assert payment.allocations == (
        SourceAllocation(invoice_id="2", amount=eur("1200.00"), allocated_on=date(2026, 9, 26)),
    )


def test_final_invoice_is_net_of_the_recall() -> None:
    """FA2026-6 is 4 800 TTC to pay: its own debit, the recall is read from the deposit lines."""
    invoice, sale = of_invoice(6)
    assert invoice.total == eur("4800.00")
    assert invoice.due_lines == (DueLine(due_on=date(2026, 12, 3), amount=eur("4800.00")),)
    assert invoice.order_ref == "CMD-G100"
    assert sale.amount == eur("4800.00")


# -- recorded rows: deposits -------------------------------------------------------------------


def test_recalled_deposit_pays_its_recall() -> None:
    """Gamma: 1 000 HT deposit (1 200 TTC) recalled by FA2026-6 line 7: advance and debit net out.

    The second deposit, 500 HT / 600 TTC, is not recalled: an advance with nothing allocated.
    """
    records = recorded_deposits(GAMMA)
    found = by_id(records)
    assert sorted(found) == ["deposit:2", "deposit:9", "recall:7"]

    recall = found["recall:7"]
    assert recall == Invoice(
        source=SOURCE,
        external_id="recall:7",
        raw=recall.raw,
        customer_id="4",
        number="FA2026-6",
        issued_on=date(2026, 11, 3),
        total=eur("1200.00"),
        due_lines=(DueLine(due_on=date(2026, 11, 3), amount=eur("1200.00")),),
        kind=InvoiceKind.DEBIT,
    )
    first = found["deposit:2"]
    assert first == Advance(
        source=SOURCE,
        external_id="deposit:2",
        raw=first.raw,
        customer_id="4",
        on=date(2026, 9, 24),
        amount=eur("1200.00"),
        reference="FA2026-2",
        order_ref="ACPT-G1",
        allocations=(
            SourceAllocation(
                invoice_id="recall:7", amount=eur("1200.00"), allocated_on=date(2026, 11, 3)
            ),
        ),
    )
    second = found["deposit:9"]
    assert isinstance(second, Advance)
    assert second.amount == eur("600.00")
    assert second.on == date(2026, 11, 8)
    assert second.reference == "FA2026-7"
    assert second.order_ref == "ACPT-G2"
    assert second.is_on_order is True
    assert second.allocations == ()


# -- recorded rows: customers ------------------------------------------------------------------


def test_customers_get_siren_without_spaces_vat_and_credit_limit() -> None:
    """Parties: SIREN "732 829 320" becomes "732829320"; VAT and credit limit when present."""
    customers = {item["id"]: to_customer(SOURCE, item, currency="EUR") for item in ROWS["parties"]}
    assert all(isinstance(c, Customer) for c in customers.values())

    alpha = customers[ALPHA]
    assert alpha.external_id == "2"
    assert alpha.name == "Alpha Industrie SARL"
    assert alpha.siren == "732829320"
    assert alpha.siret is None
    assert alpha.vat_number == "FR44732829320"
    assert alpha.credit_limit == eur("5000.00")

    assert (customers[BETA].siren, customers[BETA].vat_number) == ("552100554", None)
    assert customers[BETA].credit_limit == eur("10000.00")
    assert (customers[GAMMA].siren, customers[GAMMA].credit_limit) == ("542065479", None)
    assert (customers[5].name, customers[5].siren, customers[5].vat_number) == (
        "Fournitures Delta",
        None,
        None,
    )


def test_siret_gives_siren_and_vat_is_upper_case() -> None:
    """A SIRET alone gives the SIREN (its first nine digits); a VAT number is upper-cased."""
    item = {
        "id": 8,
        "name": "Epsilon",
        "identifiers.": [
            {"id": 1, "type": "fr_siret", "code": "732 829 320 00074"},
            {"id": 2, "type": "eu_vat", "code": "fr 44 732829320"},
        ],
    }
    customer = to_customer(SOURCE, item, currency="EUR")
    assert isinstance(customer, Customer)
    assert customer.siret == "73282932000074"
    assert customer.siren == "732829320"
    assert customer.vat_number == "FR44732829320"


# -- recorded rows: the figures add up to Tryton's --------------------------------------------


def balance(records: list[Any]) -> tuple[Decimal, Decimal, Any]:
    """(Σ open due lines − unapplied after reconciliation, Σ debits − Σ credits, the result).

    Reconciled as `sync/run.py` does for a Tryton source: source links and match groups only.
    """
    due: list[DueItem] = []
    credits: list[CreditItem] = []
    for record in records:
        if isinstance(record, Invoice) and record.kind == InvoiceKind.DRAFT:
            continue  # in no ledger: stored apart, never reconciled
        if isinstance(record, Invoice):
            for seq, line in enumerate(record.due_lines, start=1):
                due.append(
                    DueItem(
                        invoice_id=record.external_id,
                        seq=seq,
                        issued_on=record.issued_on,
                        due_on=line.due_on,
                        amount=line.amount.minor_units,
                        kind=record.kind.value,
                        number=record.number,
                        match_ref=record.match_ref,
                        order_ref=record.order_ref,
                    )
                )
        elif isinstance(record, Payment | CreditNote | Advance):
            credits.append(
                CreditItem(
                    credit_id=record.external_id,
                    kind=record.kind.value,
                    on=record.on,
                    amount=record.amount.minor_units,
                    reference=record.reference,
                    match_ref=record.match_ref,
                    applies_to=getattr(record, "applies_to", None),
                    is_on_order=getattr(record, "is_on_order", False),
                    order_ref=getattr(record, "order_ref", None),
                    links=tuple(
                        (a.invoice_id, a.amount.minor_units, a.allocated_on)
                        for a in record.allocations
                    ),
                )
            )
    result = reconcile(due, credits, guess=False)
    allocated = sum(a.amount for a in result.allocations)
    open_due = sum(d.amount for d in due) - allocated
    unapplied = sum(left for _, left in result.unmatched)
    net = sum(d.amount for d in due) - sum(c.amount for c in credits)
    return (
        Money.from_minor(open_due - unapplied, "EUR").amount,
        Money.from_minor(net, "EUR").amount,
        result,
    )


@pytest.mark.parametrize(
    ("party", "receivable", "deposit_ttc", "drafts", "expected"),
    [
        (ALPHA, "3200.00", "0", "360.00", "3200.00"),
        (BETA, "3180.00", "0", "840.00", "3180.00"),
        (GAMMA, "4800.00", "600.00", "0", "4200.00"),
    ],
)
def test_customer_balance_matches_tryton(
    party: int, receivable: str, deposit_ttc: str, drafts: str, expected: str
) -> None:
    """Σ open due lines − unapplied = party.receivable − deposit at TTC; drafts beside it."""
    assert Decimal(receivable) - Decimal(deposit_ttc) == Decimal(expected)
    records = [r for r in every_record() if not isinstance(r, Sale) and r.customer_id == str(party)]

    outstanding, net, result = balance(records)

    assert outstanding == Decimal(expected)
    assert net == Decimal(expected)
    rules = {a.rule for a in result.allocations}
    assert rules <= {AllocationRule.SOURCE_LINK, AllocationRule.MATCH_GROUP}
    draft_total = sum(
        (r.total.amount for r in records if isinstance(r, Invoice) and r.kind == InvoiceKind.DRAFT),
        Decimal(0),
    )
    assert draft_total == Decimal(drafts)


def test_what_stays_unapplied_is_what_tryton_leaves_open() -> None:
    """Beta: the credit note and the transfer; Gamma: the deposit not recalled; Alpha: none."""
    records = every_record()

    def unmatched(party: int) -> dict[str, int]:
        mine = [r for r in records if not isinstance(r, Sale) and r.customer_id == str(party)]
        return dict(balance(mine)[2].unmatched)

    assert unmatched(ALPHA) == {}
    assert unmatched(BETA) == {"7": 12000, "line:40": 30000}
    assert unmatched(GAMMA) == {"deposit:9": 60000}


def test_sales_add_up_to_posted_totals() -> None:
    """Σ sales per customer: posted invoices less credit notes, drafts not counted."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in every_record():
        if isinstance(record, Sale):
            totals[record.customer_id] += record.amount.amount
    assert totals == {
        "2": Decimal("4200.00"),  # 1200 + 2400 + 600
        "3": Decimal("4440.00"),  # 3600 + 960 − 120
        "4": Decimal("6600.00"),  # 1200 (deposit) + 4800 + 600 (deposit)
    }


# -- hand-made rows: deposits --------------------------------------------------------------------


def test_partial_recall_takes_its_share_of_vat() -> None:
    """300 HT of a 1 000 HT / 1 200 TTC deposit is 360 TTC; 840 stays on the advance."""
    found = deposits_of(
        a_deposit_line(
            1, "1000.00", invoice=1, on=date(2026, 9, 1), total="1200.00", untaxed="1000.00"
        ),
        a_deposit_line(
            2, "-300.00", invoice=2, on=date(2026, 10, 1), total="2400.00", untaxed="2000.00"
        ),
    )
    assert found["recall:2"].total == eur("360.00")
    assert found["recall:2"].due_lines == (DueLine(due_on=date(2026, 10, 1), amount=eur("360.00")),)
    advance = found["deposit:1"]
    assert advance.amount == eur("1200.00")
    assert advance.allocations == (
        SourceAllocation(
            invoice_id="recall:2", amount=eur("360.00"), allocated_on=date(2026, 10, 1)
        ),
    )
    _, net, result = balance(list(found.values()))
    assert net == Decimal("-840.00")
    assert dict(result.unmatched) == {"deposit:1": 84000}


def test_recall_uses_deposits_first_in_first_out() -> None:
    """A recall of 1 200 HT takes all of the older deposit (1 000 HT), then 200 HT of the next.

    Rows are given newest first: order comes from the invoice dates, not from the input.
    """
    found = deposits_of(
        a_deposit_line(
            9, "-1200.00", invoice=9, on=date(2026, 11, 1), total="6000.00", untaxed="5000.00"
        ),
        a_deposit_line(
            5, "500.00", invoice=5, on=date(2026, 10, 1), total="550.00", untaxed="500.00"
        ),
        a_deposit_line(
            1, "1000.00", invoice=1, on=date(2026, 9, 1), total="1200.00", untaxed="1000.00"
        ),
    )
    day = date(2026, 11, 1)
    assert found["deposit:1"].allocations == (
        SourceAllocation(invoice_id="recall:9", amount=eur("1200.00"), allocated_on=day),
    )
    # 200 HT of a deposit at 10 % VAT: 220 TTC, at the deposit's own rate
    assert found["deposit:5"].amount == eur("550.00")
    assert found["deposit:5"].allocations == (
        SourceAllocation(invoice_id="recall:9", amount=eur("220.00"), allocated_on=day),
    )
    assert found["recall:9"].total == eur("1420.00")
    assert dict(balance(list(found.values()))[2].unmatched) == {"deposit:5": 33000}


def test_last_use_of_a_deposit_takes_the_exact_rest() -> None:
    """100 HT / 120 TTC recalled as 33.33 + 33.33 + 33.34: 40.00 each, 120.00 to the cent.

    33.34 × 1.2 = 40.008 would round to 40.01 and overdraw the deposit by a cent.
    """
    found = deposits_of(
        a_deposit_line(
            1, "100.00", invoice=1, on=date(2026, 9, 1), total="120.00", untaxed="100.00"
        ),
        *(
            a_deposit_line(
                10 + n,
                f"-{part}",
                invoice=10 + n,
                on=date(2026, 10, 1 + n),
                total="1200.00",
                untaxed="1000.00",
            )
            for n, part in enumerate(["33.33", "33.33", "33.34"])
        ),
    )
    recalls = [found[f"recall:{10 + n}"].total for n in range(3)]
    assert recalls == [eur("40.00")] * 3
    allocations = found["deposit:1"].allocations
    assert [a.amount for a in allocations] == [eur("40.00")] * 3
    assert sum(a.amount.amount for a in allocations) == Decimal("120.00")
    assert balance(list(found.values()))[1] == Decimal("0.00")


def test_recall_beyond_the_deposits_stays_open_on_the_recall() -> None:
    """800 HT recalled with 500 HT deposited: the 600 TTC deposit pays 600 of a 960 recall."""
    found = deposits_of(
        a_deposit_line(
            1, "500.00", invoice=1, on=date(2026, 9, 1), total="600.00", untaxed="500.00"
        ),
        a_deposit_line(
            2, "-800.00", invoice=2, on=date(2026, 10, 1), total="3600.00", untaxed="3000.00"
        ),
    )
    recall = found["recall:2"]
    assert recall.kind == InvoiceKind.DEBIT
    assert recall.total == eur("960.00")
    assert found["deposit:1"].allocations == (
        SourceAllocation(
            invoice_id="recall:2", amount=eur("600.00"), allocated_on=date(2026, 10, 1)
        ),
    )
    outstanding, _, result = balance(list(found.values()))
    assert outstanding == Decimal("360.00")
    assert result.unmatched == ()


def test_deposit_in_another_currency_is_rejected() -> None:
    """A deposit invoiced in USD when the company is in EUR: a Rejected with the reason."""
    (rejected,) = deposit_records(
        SOURCE,
        GAMMA,
        [
            a_deposit_line(
                3,
                "100.00",
                invoice=3,
                on=date(2026, 9, 1),
                total="120.00",
                untaxed="100.00",
                currency="USD",
            )
        ],
        currency="EUR",
    )
    assert isinstance(rejected, Rejected)
    assert rejected.stream == "account.invoice.line"
    assert rejected.external_id == "3"
    assert "USD" in rejected.reason


@pytest.mark.parametrize("deposited", [False, True], ids=["no-deposit", "with-deposit"])
def test_recall_over_max_amount_is_rejected_not_raised(deposited: bool) -> None:
    """A recall whose TTC reaches MAX_AMOUNT gives a Rejected, like any row that does not fit."""
    huge = "900000000000.00"  # 9e11 HT, 1.08e12 TTC: over MAX_AMOUNT with VAT
    rows = [
        a_deposit_line(
            2, f"-{huge}", invoice=2, on=date(2026, 10, 1), total="1080000000000.00", untaxed=huge
        )
    ]
    if deposited:
        rows.insert(
            0,
            a_deposit_line(
                1, huge, invoice=1, on=date(2026, 9, 1), total="1080000000000.00", untaxed=huge
            ),
        )
    records = deposit_records(SOURCE, GAMMA, rows, currency="EUR")
    assert any(isinstance(r, Rejected) for r in records)


# -- hand-made rows: invoices and lines ----------------------------------------------------------


def test_cancelled_invoice_gives_nothing() -> None:
    """A cancelled invoice is no document of the ledger: no invoice, no sale."""
    item = an_invoice(20, state="cancelled", total="500.00", lines=[to_pay(50, "500.00")])
    assert invoice_records(SOURCE, item, currency="EUR") == []


def test_draft_credit_note_gives_nothing() -> None:
    """A credit note not issued yet credits nothing."""
    item = an_invoice(21, state="draft", total="-240.00", on=None)
    assert invoice_records(SOURCE, item, currency="EUR") == []


def test_draft_in_another_currency_is_rejected() -> None:
    """A draft in USD when the company is in EUR: a Rejected saying why, with the raw row."""
    item = an_invoice(22, state="draft", total="500.00", currency="USD", on=None)
    (rejected,) = invoice_records(SOURCE, item, currency="EUR")
    assert isinstance(rejected, Rejected)
    assert rejected.source == SOURCE
    assert rejected.stream == "account.invoice"
    assert rejected.external_id == "22"
    assert "USD" in rejected.reason
    assert "EUR" in rejected.reason
    assert json.loads(rejected.raw)["id"] == 22


def test_draft_without_invoice_date_is_dated_by_its_creation() -> None:
    """A draft has no invoice date yet: the draft takes its creation day (UTC)."""
    item = an_invoice(23, state="draft", total="120.00", on=None)
    item["create_date"] = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    (draft,) = invoice_records(SOURCE, item, currency="EUR")
    assert draft.kind == InvoiceKind.DRAFT
    assert draft.issued_on == date(2026, 11, 22)


def test_posted_invoice_over_max_amount_is_rejected_not_raised() -> None:
    """An amount of MAX_AMOUNT or more is broken input: a Rejected, not an exception."""
    item = an_invoice(24, total=str(MAX_AMOUNT), lines=[to_pay(60, str(MAX_AMOUNT))])
    (rejected,) = invoice_records(SOURCE, item, currency="EUR")
    assert isinstance(rejected, Rejected)
    assert rejected.external_id == "24"
    assert "not a plausible amount" in rejected.reason


def test_posted_invoice_without_lines_to_pay_is_rejected() -> None:
    """A posted invoice with no receivable line cannot be aged: a Rejected."""
    (rejected,) = invoice_records(SOURCE, an_invoice(25, total="100.00"), currency="EUR")
    assert isinstance(rejected, Rejected)
    assert "lines to pay" in rejected.reason


def test_instalments_reconciled_separately_have_no_match_ref() -> None:
    """Two instalments in two reconciliations: no single match group for the invoice; each
    instalment carries its own."""
    item = an_invoice(
        26,
        total="200.00",
        lines=[
            to_pay(61, "100.00", maturity=date(2026, 11, 1), reconciliation=5),
            to_pay(62, "100.00", maturity=date(2026, 12, 1), reconciliation=6),
        ],
    )
    invoice, _ = invoice_records(SOURCE, item, currency="EUR")
    assert invoice.match_ref is None
    assert [line.due_on for line in invoice.due_lines] == [date(2026, 11, 1), date(2026, 12, 1)]
    assert [line.match_ref for line in invoice.due_lines] == ["rec:5", "rec:6"]


def test_one_instalment_reconciled_is_matched_alone() -> None:
    """A transfer reconciled with the second instalment only (reconciliation 7): that
    instalment carries "rec:7", the first none, the invoice none."""
    item = an_invoice(
        28,
        total="200.00",
        lines=[
            to_pay(63, "100.00", maturity=date(2026, 11, 1)),
            to_pay(64, "100.00", maturity=date(2026, 12, 1), reconciliation=7),
        ],
    )
    invoice, _ = invoice_records(SOURCE, item, currency="EUR")
    assert invoice.match_ref is None
    assert [line.match_ref for line in invoice.due_lines] == [None, "rec:7"]


def test_instalments_in_one_reconciliation_share_its_match_ref() -> None:
    """Both instalments in reconciliation 5: the invoice is "rec:5"; one open: no match."""
    lines = [
        to_pay(61, "100.00", maturity=date(2026, 11, 1), reconciliation=5),
        to_pay(62, "100.00", maturity=date(2026, 12, 1), reconciliation=5),
    ]
    invoice, _ = invoice_records(
        SOURCE, an_invoice(27, total="200.00", lines=lines), currency="EUR"
    )
    assert invoice.match_ref == "rec:5"

    lines[1]["reconciliation"] = None
    invoice, _ = invoice_records(
        SOURCE, an_invoice(27, total="200.00", lines=lines), currency="EUR"
    )
    assert invoice.match_ref is None


def test_receivable_credit_without_party_is_an_unidentified_payment() -> None:
    """A receipt on 411 with no party: a Payment of no customer (company level)."""
    (payment,) = line_records(SOURCE, a_line(70, credit="250.00", party=None), currency="EUR")
    assert isinstance(payment, Payment)
    assert payment.customer_id is None
    assert payment.amount == eur("250.00")
    assert payment.reference == "M70"


def test_receivable_debit_without_party_is_rejected() -> None:
    """A debit on 411 with no party belongs to no customer: a Rejected saying so."""
    (rejected,) = line_records(SOURCE, a_line(71, debit="250.00", party=None), currency="EUR")
    assert isinstance(rejected, Rejected)
    assert rejected.stream == "account.move.line"
    assert rejected.external_id == "71"
    assert "without a party" in rejected.reason


def test_receivable_debit_is_a_debit_due_at_its_maturity() -> None:
    """A refund paid to the customer: a debit, due at its maturity date, with its match."""
    item = a_line(72, debit="80.00", maturity=date(2026, 12, 20), reconciliation=9)
    (debit,) = line_records(SOURCE, item, currency="EUR")
    assert isinstance(debit, Invoice)
    assert debit.kind == InvoiceKind.DEBIT
    assert debit.external_id == "line:72"
    assert debit.customer_id == "3"
    assert debit.number == "M72"
    assert debit.due_lines == (DueLine(due_on=date(2026, 12, 20), amount=eur("80.00")),)
    assert debit.match_ref == "rec:9"


def test_zero_line_gives_nothing() -> None:
    """A receivable line of zero moves nothing."""
    assert line_records(SOURCE, a_line(73), currency="EUR") == []


def test_line_over_max_amount_is_rejected_not_raised() -> None:
    """A receipt of MAX_AMOUNT or more: a Rejected, not an exception."""
    (rejected,) = line_records(SOURCE, a_line(74, credit=str(MAX_AMOUNT)), currency="EUR")
    assert isinstance(rejected, Rejected)
    assert "not a plausible amount" in rejected.reason


# -- recorded rows: Tryton's own bookkeeping ------------------------------------------------------


def booked(stream: str, ident: int) -> dict[str, Any]:
    """The recorded row of `stream` with this id, among the bookkeeping customers'."""
    return next(item for item in BOOKS[stream] if item["id"] == ident)


def booked_records(party: int) -> list[Any]:
    """What the source makes of one bookkeeping customer's invoices and lines, sales aside."""
    records: list[Any] = []
    for item in BOOKS["invoices"]:
        records += invoice_records(SOURCE, item, currency="EUR")
    for item in BOOKS["lines"]:
        records += line_records(SOURCE, item, currency="EUR")
    return [r for r in records if not isinstance(r, Sale) and r.customer_id == str(party)]


def booked_sales(party: int) -> Decimal:
    total = Decimal(0)
    for item in BOOKS["invoices"]:
        for record in invoice_records(SOURCE, item, currency="EUR"):
            if isinstance(record, Sale) and record.customer_id == str(party):
                total += record.amount.amount
    return total


def test_overpayment_is_unapplied_money_of_the_customer() -> None:
    """Delta paid 1 500.00 for FA2026-9 (1 200.00): the pay wizard's move has the payment,
    linked and reconciled with the invoice, and 300.00 apart with no link: a payment left
    unapplied, so Delta owes its next invoice (600.00) less 300.00, as Tryton says."""
    paid, over = line_records(SOURCE, booked("lines", 75), currency="EUR") + line_records(
        SOURCE, booked("lines", 76), currency="EUR"
    )
    assert isinstance(paid, Payment) and isinstance(over, Payment)
    assert paid.allocations == (
        SourceAllocation(invoice_id="9", amount=eur("1200.00"), allocated_on=date(2026, 11, 24)),
    )
    assert paid.match_ref == "rec:4"
    assert (over.amount, over.allocations, over.match_ref) == (eur("300.00"), (), None)
    assert over.reference == paid.reference == "26"  # one move, the pay wizard's

    outstanding, net, result = balance(booked_records(DELTA))
    assert outstanding == net == booked("parties", DELTA)["receivable"] == Decimal("300.00")
    assert dict(result.unmatched) == {"line:76": 30000}


def test_invoice_cancelled_by_a_credit_note_is_settled_by_it() -> None:
    """FA2026-18 was credited with refund: Tryton cancels it, makes AV2026-6's move its
    cancel move and reconciles the two. Both are read, matched: no money, nothing left."""
    refunded = booked("invoices", 19)
    assert refunded["state"] == "cancelled" and is_refunded(refunded)
    invoice, sale = invoice_records(SOURCE, refunded, currency="EUR")
    credit, credit_sale = invoice_records(SOURCE, booked("invoices", 28), currency="EUR")
    assert isinstance(invoice, Invoice) and isinstance(credit, CreditNote)
    assert (invoice.total, invoice.match_ref, invoice.number) == (
        eur("480.00"), "rec:8", "FA2026-18",
    )  # fmt: skip
    assert (credit.amount, credit.match_ref, credit.allocations) == (eur("480.00"), "rec:8", ())
    assert sale.amount.amount + credit_sale.amount.amount == 0

    outstanding, net, result = balance(booked_records(EPSILON))
    assert outstanding == net == booked("parties", EPSILON)["receivable"] == Decimal("600.00")
    assert result.unmatched == ()  # neither the credit note nor anything else is left over
    assert booked_sales(EPSILON) == Decimal("600.00")  # FA2026-7 alone: the pair nets out


def test_invoice_cancelled_outright_and_its_reversal_are_not_read() -> None:
    """FA2026-10 was cancelled: Tryton copied its move with the amounts negated and
    reconciled the copy with it. The source reads neither (the reversing line's origin is
    the invoice's own line); a cancelled row given anyway gives nothing."""
    assert all(item["reference"] != "CMD-E1" for item in BOOKS["invoices"])
    assert {line["id"] for line in BOOKS["lines"]} == {75, 76, 78, 80, 88, 90, 105}
    item = an_invoice(40, state="cancelled", total="960.00", lines=[to_pay(90, "960.00")])
    item["cancel_move."] = {"id": 35, "origin": "account.move,10"}
    assert not is_refunded(item)
    assert invoice_records(SOURCE, item, currency="EUR") == []


def test_credit_note_in_an_invoice_payment_lines_counts_once() -> None:
    """AV2026-4 (300.00) is in FA2026-2's payment lines: a credit note linked to FA2026-2,
    its line never read again as a payment (not among the lines read)."""
    (credit, sale) = invoice_records(SOURCE, booked("invoices", 26), currency="EUR")
    assert isinstance(credit, CreditNote)
    assert credit.allocations == (
        SourceAllocation(invoice_id="2", amount=eur("300.00"), allocated_on=date(2026, 12, 1)),
    )
    assert sale.amount == eur("-300.00")
    assert 94 not in {line["id"] for line in BOOKS["lines"]}

    outstanding, net, result = balance(booked_records(ZETA))
    assert outstanding == net == booked("parties", ZETA)["receivable"] == Decimal("1500.00")
    assert result.unmatched == ()
    assert {(a.credit_id, a.invoice_id, a.amount, a.rule) for a in result.allocations} == {
        ("26", "2", 30000, AllocationRule.SOURCE_LINK),
        ("27", "21", 12000, AllocationRule.SOURCE_LINK),
    }


def test_drafts_are_drafts_dated_by_creation_when_undated() -> None:
    """Eta: a draft with no invoice date (dated by its creation day), a validated invoice,
    a draft credit note (nothing); no sale, nothing in the outstanding."""
    (undated,) = invoice_records(SOURCE, booked("invoices", 29), currency="EUR")
    (validated,) = invoice_records(SOURCE, booked("invoices", 30), currency="EUR")
    assert invoice_records(SOURCE, booked("invoices", 31), currency="EUR") == []
    assert (undated.kind, undated.total, undated.issued_on) == (
        InvoiceKind.DRAFT, eur("120.00"), date(2026, 12, 6),
    )  # fmt: skip
    assert (validated.kind, validated.total, validated.issued_on) == (
        InvoiceKind.DRAFT, eur("240.00"), date(2026, 12, 3),
    )  # fmt: skip
    outstanding, net, _ = balance(booked_records(ETA))
    assert outstanding == net == booked("parties", ETA)["receivable"] == 0
    assert booked_sales(ETA) == 0


def test_write_off_settles_the_invoice_and_is_no_receipt() -> None:
    """Theta paid 590.00 of 600.00 and the pay wizard wrote 10.00 off: a payment of 590.00
    and a credit note of 10.00 (journal of type write-off), both reconciled with FA2026-3."""
    (payment,) = line_records(SOURCE, booked("lines", 78), currency="EUR")
    (written_off,) = line_records(SOURCE, booked("lines", 80), currency="EUR")
    assert isinstance(payment, Payment) and payment.amount == eur("590.00")
    assert isinstance(written_off, CreditNote)
    assert (written_off.amount, written_off.match_ref, written_off.customer_id) == (
        eur("10.00"), "rec:5", "10",
    )  # fmt: skip
    outstanding, net, result = balance(booked_records(THETA))
    assert outstanding == net == booked("parties", THETA)["receivable"] == Decimal("300.00")
    assert sum(a.amount for a in result.allocations if a.invoice_id == "3") == 60000


def test_refunds_paid_out_of_credit_notes_are_applied_to_them() -> None:
    """Iota: AV2026-2 (240.00) paid back whole, reconciled; AV2026-3 (120.00) paid back
    50.00, not reconciled: the refund and the credit note share "pay:25", so 70.00 of the
    credit note is what stays unapplied, as Tryton's amount_to_pay (−70.00) says."""
    (whole,) = line_records(SOURCE, booked("lines", 88), currency="EUR")
    (part,) = line_records(SOURCE, booked("lines", 90), currency="EUR")
    credit, _ = invoice_records(SOURCE, booked("invoices", 25), currency="EUR")
    assert (whole.kind, whole.match_ref) == (InvoiceKind.DEBIT, "rec:6")
    assert (part.kind, part.total, part.match_ref) == (InvoiceKind.DEBIT, eur("50.00"), "pay:25")
    assert credit.match_ref == "pay:25"
    outstanding, net, result = balance(booked_records(IOTA))
    assert outstanding == net == booked("parties", IOTA)["receivable"] == Decimal("-70.00")
    assert dict(result.unmatched) == {"25": 7000}


def test_one_payment_reconciled_with_two_invoices_settles_both() -> None:
    """Kappa's transfer of 360.00, reconciled with FA2026-11 and FA2026-12: both settled."""
    outstanding, net, result = balance(booked_records(KAPPA))
    assert outstanding == net == booked("parties", KAPPA)["receivable"] == Decimal("360.00")
    assert {(a.invoice_id, a.amount) for a in result.allocations if a.credit_id == "line:105"} == {
        ("11", 12000),
        ("12", 24000),
    }


@pytest.mark.parametrize("party", [DELTA, EPSILON, ZETA, ETA, THETA, IOTA, KAPPA])
def test_each_booked_customer_outstanding_is_its_tryton_balance(party: int) -> None:
    """The source's own balance of each customer (receivable, no deposit, no draft move)
    equals the outstanding its records add up to."""
    stated = source_balance(
        SOURCE,
        booked("parties", party),
        as_of=BOOKS["today"],
        draft=Decimal(0),
        deposits=DepositsLeft(),
        currency="EUR",
    )
    assert isinstance(stated, SourceBalance)
    assert (stated.external_id, stated.as_of, stated.basis) == (
        str(party),
        date(2026, 12, 6),
        BASIS,
    )
    assert stated.amount.amount == balance(booked_records(party))[0]


# -- hand-made rows: lines to pay moved by Tryton ------------------------------------------------


def test_rescheduled_lines_to_pay_are_the_new_instalments() -> None:
    """1 200.00 rescheduled in two: the old line and its reversal (one reconciliation adding up
    to zero) leave; the invoice is due as 600.00 + 600.00."""
    item = an_invoice(
        41,
        total="1200.00",
        lines=[
            to_pay(80, "1200.00", maturity=date(2026, 11, 1), reconciliation=7),
            to_pay(81, credit="1200.00", reconciliation=7),
            to_pay(82, "600.00", maturity=date(2027, 1, 1)),
            to_pay(83, "600.00", maturity=date(2027, 2, 1)),
        ],
    )
    invoice, sale = invoice_records(SOURCE, item, currency="EUR")
    assert invoice.due_lines == (
        DueLine(due_on=date(2027, 1, 1), amount=eur("600.00")),
        DueLine(due_on=date(2027, 2, 1), amount=eur("600.00")),
    )
    assert (invoice.match_ref, sale.amount) == (None, eur("1200.00"))


def test_lines_delegated_to_another_party_are_that_party_s() -> None:
    """Lines to pay delegated to party 9: the invoice is owed by party 9."""
    lines = [
        to_pay(84, "500.00", maturity=date(2026, 11, 1), reconciliation=8),
        to_pay(85, credit="500.00", reconciliation=8),
        to_pay(86, "500.00", maturity=date(2026, 11, 1)),
    ]
    for line in lines:
        line["party"] = ALPHA
    lines[2]["party"] = 9
    invoice, sale = invoice_records(
        SOURCE, an_invoice(42, total="500.00", lines=lines), currency="EUR"
    )
    assert (invoice.customer_id, sale.customer_id, invoice.total) == ("9", "9", eur("500.00"))


def test_debit_linked_to_an_invoice_by_the_pay_wizard_shares_its_key() -> None:
    """A refund paid out of credit note 25, not reconciled: match key "pay:25"; reconciled:
    its reconciliation."""
    (open_refund,) = line_records(
        SOURCE, a_line(91, debit="50.00", invoice_payment=25), currency="EUR"
    )
    (settled,) = line_records(
        SOURCE, a_line(92, debit="50.00", invoice_payment=25, reconciliation=3), currency="EUR"
    )
    assert (open_refund.match_ref, settled.match_ref) == ("pay:25", "rec:3")


def test_write_off_without_party_is_an_unidentified_payment() -> None:
    """A write-off line with no party cannot be a customer's credit note: a payment of no one."""
    item = a_line(93, credit="5.00", party=None)
    item["move."] = {"id": 93, "number": "M93", "journal.": {"id": 7, "type": "write-off"}}
    (payment,) = line_records(SOURCE, item, currency="EUR")
    assert isinstance(payment, Payment) and payment.customer_id is None


# -- the source's own balance ---------------------------------------------------------------------


def test_deposits_left_of_the_recorded_deposits() -> None:
    """Gamma: 1 000.00 + 500.00 HT deposited, 1 000.00 HT recalled: 500.00 HT, 600.00 TTC."""
    rows = [item for item in ROWS["deposits"] if item["invoice."]["party"] == GAMMA]
    left = deposits_left(rows, recorded_deposits(GAMMA))
    assert left == DepositsLeft(untaxed=Decimal("500.00"), taxed=Decimal("600.00"))
    assert deposit_with_vat(Decimal("500.00"), left, "EUR") == Decimal("600.00")


def test_rejected_deposit_is_left_out_of_both_sums() -> None:
    """A deposit in USD is rejected: neither its HT nor its TTC counts."""
    rows = [
        a_deposit_line(
            1, "100.00", invoice=1, on=date(2026, 9, 1), total="120.00", untaxed="100.00"
        ),
        a_deposit_line(
            3,
            "50.00",
            invoice=3,
            on=date(2026, 9, 2),
            total="60.00",
            untaxed="50.00",
            currency="USD",
        ),
    ]
    records = deposit_records(SOURCE, GAMMA, rows, currency="EUR")
    assert deposits_left(rows, records) == DepositsLeft(Decimal("100.00"), Decimal("120.00"))


@pytest.mark.parametrize(
    ("deposit", "left", "expected"),
    [
        ("0", DepositsLeft(), "0"),
        ("250.00", DepositsLeft(), "250.00"),  # no deposit read: no ratio, shown as is
        ("500.00", DepositsLeft(Decimal("500.00"), Decimal("600.00")), "600.00"),
        ("100.00", DepositsLeft(Decimal("300.00"), Decimal("330.00")), "110.00"),
        ("33.33", DepositsLeft(Decimal("100.00"), Decimal("120.00")), "40.00"),  # 39.996
    ],
)
def test_deposit_with_vat(deposit: str, left: DepositsLeft, expected: str) -> None:
    """party.deposit × TTC/HT of the deposits left, to the cent."""
    assert deposit_with_vat(Decimal(deposit), left, "EUR") == Decimal(expected)


def test_draft_moves_add_up_per_party() -> None:
    """Receivable lines of draft moves, per party; a line with no party counts for none."""
    rows = [
        {"id": 1, "party": 3, "debit": Decimal("0"), "credit": Decimal("150.00")},
        {"id": 2, "party": 3, "debit": Decimal("40.00"), "credit": Decimal("0")},
        {"id": 3, "party": None, "debit": Decimal("9.00"), "credit": Decimal("0")},
    ]
    assert draft_moves(rows) == {3: Decimal("-110.00")}


def test_source_balance_subtracts_draft_moves_and_deposits_with_vat() -> None:
    """4 800.00 receivable − (−110.00) of draft moves − 500.00 HT at 1.2 = 4 310.00."""
    stated = source_balance(
        SOURCE,
        {"id": GAMMA, "receivable": Decimal("4800.00"), "deposit": Decimal("500.00")},
        as_of=date(2026, 11, 23),
        draft=Decimal("-110.00"),
        deposits=DepositsLeft(Decimal("500.00"), Decimal("600.00")),
        currency="EUR",
    )
    assert stated == SourceBalance(
        source=SOURCE,
        external_id="4",
        raw=stated.raw,
        as_of=date(2026, 11, 23),
        amount=eur("4310.00"),
        basis=BASIS,
    )
    assert json.loads(stated.raw)["receivable"] == "4800.00"


def test_source_balance_over_max_amount_is_rejected() -> None:
    """A receivable of MAX_AMOUNT or more is broken input: a Rejected of the party."""
    stated = source_balance(
        SOURCE,
        {"id": 4, "receivable": MAX_AMOUNT, "deposit": Decimal(0)},
        as_of=date(2026, 11, 23),
        draft=Decimal(0),
        deposits=DepositsLeft(),
        currency="EUR",
    )
    assert isinstance(stated, Rejected)
    assert (stated.stream, stated.external_id) == ("party.party", "4")
