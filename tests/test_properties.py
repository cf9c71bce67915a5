"""Properties of reconciliation and of the figures read from a real store, with hypothesis.

a. reconcile() never gives a due line more than its amount nor takes from a credit more than
   its amount; every allocation is positive and dated on or after both documents.
b. Through the store: the aging buckets add up to the outstanding for every customer and in
   total, and the outstanding is the ledger balance (invoices issued by the date less credits
   dated by it), which no matching changes.
c. Records dated after D do not change the outstanding as of D; credits dated after D that
   are lettered with old invoices do not change any column as of D.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from encours.model import (
    Advance,
    Credit,
    CreditNote,
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    SourceAllocation,
)
from encours.sync.config import Settings, StoreSettings
from encours.sync.figures import Figures, compute_figures
from encours.sync.reconcile import CreditItem, DueItem, reconcile
from encours.sync.run import reconcile_dirty
from encours.sync.store import Store

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE = "books"
START = date(2026, 1, 1)
SPAN = 180  # days of business dates drawn: 2026-01-01 .. 2026-06-29
REFS = ("L1", "L2", "L3", "L4")
ORDERS = ("O1", "O2")


def day(offset: int) -> date:
    return START + timedelta(days=offset)


def eur(units: int) -> Money:
    return Money.from_minor(units, "EUR")


# -- a. pure reconciliation --------------------------------------------------------------------


@st.composite
def customer_items(draw: st.DrawFn) -> tuple[list[DueItem], list[CreditItem], bool]:
    invoices = draw(st.integers(0, 6))
    due: list[DueItem] = []
    for n in range(invoices):
        issued = draw(st.integers(0, SPAN))
        kind = draw(st.sampled_from(["invoice", "invoice", "unbilled", "debit"]))
        number = draw(st.sampled_from([f"N{n}", f"N{n}", None, "N0"]))  # numbers may repeat
        match_ref = draw(st.sampled_from((None, None) + REFS))
        matched_on = draw(st.none() | st.integers(0, SPAN + 30).map(day))
        order_ref = draw(st.sampled_from((None, None) + ORDERS))
        for seq in range(draw(st.integers(1, 3))):
            due.append(
                DueItem(
                    invoice_id=f"I{n}",
                    seq=seq,
                    issued_on=day(issued),
                    due_on=day(issued + draw(st.integers(0, 120))),
                    amount=draw(st.integers(1, 50_000)),
                    kind=kind,
                    number=number,
                    match_ref=match_ref,
                    matched_on=matched_on,
                    order_ref=order_ref,
                )
            )
    invoice_ids = [f"I{n}" for n in range(invoices)] + ["ELSEWHERE"]
    credits: list[CreditItem] = []
    for n in range(draw(st.integers(0, 6))):
        amount = draw(st.integers(1, 80_000))
        links = []
        budget = amount
        for _ in range(draw(st.integers(0, 2))):
            if budget <= 0:
                break
            linked = draw(st.integers(1, budget))
            budget -= linked
            links.append(
                (
                    draw(st.sampled_from(invoice_ids)),
                    linked,
                    draw(st.none() | st.integers(0, SPAN + 30).map(day)),
                )
            )
        kind = draw(st.sampled_from(["payment", "payment", "credit_note", "advance"]))
        credits.append(
            CreditItem(
                credit_id=f"C{n}",
                kind=kind,
                on=day(draw(st.integers(0, SPAN))),
                amount=amount,
                reference=draw(st.none() | st.sampled_from([f"N{i}" for i in range(6)])),
                match_ref=draw(st.sampled_from((None,) + REFS)),
                matched_on=draw(st.none() | st.integers(0, SPAN + 30).map(day)),
                applies_to=draw(st.none() | st.sampled_from(invoice_ids))
                if kind == "credit_note"
                else None,
                is_on_order=draw(st.booleans()) if kind == "advance" else False,
                order_ref=draw(st.sampled_from((None,) + ORDERS)) if kind == "advance" else None,
                links=tuple(links),
            )
        )
    return due, credits, draw(st.booleans())


@PROPERTY
@given(customer_items())
def test_reconcile_never_over_allocates_and_never_predates(case):
    due, credits, oldest_first = case
    amounts = {(d.invoice_id, d.seq): d.amount for d in due}
    issued = {d.invoice_id: d.issued_on for d in due}
    kinds = {d.invoice_id: d.kind for d in due}
    credit_by_id = {c.credit_id: c for c in credits}
    original = {c.credit_id: c.amount for c in credits}

    result = reconcile(due, credits, oldest_first=oldest_first)

    to_line: dict[tuple[str, int], int] = defaultdict(int)
    from_credit: dict[str, int] = defaultdict(int)
    for allocation in result.allocations:
        cents = allocation.amount
        assert cents > 0
        key = (allocation.invoice_id, allocation.due_seq)
        assert key in amounts
        to_line[key] += cents
        from_credit[allocation.credit_id] += cents
        credit = credit_by_id[allocation.credit_id]
        assert allocation.allocated_on >= credit.on
        assert allocation.allocated_on >= issued[allocation.invoice_id]
        if allocation.rule.value in ("exact_amount", "oldest_first"):
            # guesses: never an unbilled line, never an advance on order
            assert kinds[allocation.invoice_id] != InvoiceKind.UNBILLED
            assert not credit.is_on_order
        if allocation.rule.value == "oldest_first":
            assert credit.kind == "payment" and oldest_first
    for key, total in to_line.items():
        assert total <= amounts[key]
    for credit_id, total in from_credit.items():
        assert total <= original[credit_id]
    # unmatched: exactly what each credit has left, in credit order
    left = [(c.credit_id, original[c.credit_id] - from_credit[c.credit_id]) for c in credits]
    assert sorted(result.unmatched) == sorted((cid, units) for cid, units in left if units > 0)


# -- records in a real store ----------------------------------------------------------------


@dataclass
class Book:
    """Records of one source, and the pools new records draw their references from."""

    customers: list[str]
    records: list[Any] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    invoice_ids: list[str] = field(default_factory=list)
    match_refs: list[str] = field(default_factory=lambda: list(REFS))

    def invoices(self) -> list[Invoice]:
        return [r for r in self.records if isinstance(r, Invoice)]

    def credits(self) -> list[Credit]:
        return [r for r in self.records if isinstance(r, Credit)]


def draw_invoice(draw: st.DrawFn, book: Book, ident: str, dates: st.SearchStrategy[int]) -> Invoice:
    issued = draw(dates)
    amounts = draw(st.lists(st.integers(1, 500_000), min_size=1, max_size=3))
    due_lines = tuple(
        DueLine(due_on=day(issued + draw(st.integers(0, 120))), amount=eur(units))
        for units in amounts
    )
    match_ref = draw(st.none() | st.sampled_from(book.match_refs))
    invoice = Invoice(
        source=SOURCE,
        external_id=ident,
        customer_id=draw(st.sampled_from(book.customers)),
        number=draw(st.none() | st.just(f"F-{ident}")),
        issued_on=day(issued),
        total=eur(sum(amounts)),
        due_lines=due_lines,
        kind=draw(
            st.sampled_from([InvoiceKind.INVOICE] * 3 + [InvoiceKind.UNBILLED, InvoiceKind.DEBIT])
        ),
        is_doubtful=draw(st.booleans()),
        match_ref=match_ref,
        matched_on=day(issued + draw(st.integers(0, 60)))
        if match_ref and draw(st.booleans())
        else None,
        order_ref=draw(st.none() | st.sampled_from(ORDERS)),
    )
    book.records.append(invoice)
    book.invoice_ids.append(ident)
    if invoice.number:
        book.numbers.append(invoice.number)
    return invoice


def draw_credit(
    draw: st.DrawFn,
    book: Book,
    ident: str,
    dates: st.SearchStrategy[int],
    *,
    kinds: tuple[str, ...] = ("payment", "payment", "credit_note", "advance"),
    references: bool = True,
) -> Credit:
    on = draw(dates)
    amount = draw(st.integers(1, 600_000))
    kind = draw(st.sampled_from(kinds))
    links = []
    budget = amount
    if book.invoice_ids:
        for _ in range(draw(st.integers(0, 2))):
            if budget <= 0:
                break
            linked = draw(st.integers(1, budget))
            budget -= linked
            links.append(
                SourceAllocation(
                    invoice_id=draw(st.sampled_from(book.invoice_ids)),
                    amount=eur(linked),
                    allocated_on=draw(st.none() | st.integers(0, SPAN + 60).map(day)),
                )
            )
    match_ref = draw(st.none() | st.sampled_from(book.match_refs))
    common: dict[str, Any] = {
        "source": SOURCE,
        "external_id": ident,
        "customer_id": draw(st.sampled_from(book.customers)),
        "on": day(on),
        "amount": eur(amount),
        "reference": draw(st.none() | st.sampled_from(book.numbers or ["F-none"]))
        if references
        else None,
        "allocations": tuple(links) if draw(st.integers(0, 3)) == 0 else (),
        "match_ref": match_ref,
        "matched_on": day(on + draw(st.integers(0, 60)))
        if match_ref and draw(st.booleans())
        else None,
    }
    if kind == "payment":
        if draw(st.integers(0, 9)) == 0:
            common["customer_id"] = None
        credit: Credit = Payment(**common)
    elif kind == "credit_note":
        credit = CreditNote(
            **common, applies_to=draw(st.none() | st.sampled_from(book.invoice_ids or ["none"]))
        )
    else:
        credit = Advance(
            **common,
            is_on_order=draw(st.booleans()),
            order_ref=draw(st.none() | st.sampled_from(ORDERS)),
        )
    book.records.append(credit)
    return credit


@st.composite
def books(draw: st.DrawFn, *, references: bool = True) -> Book:
    book = Book(customers=[f"K{n}" for n in range(draw(st.integers(1, 3)))])
    dates = st.integers(0, SPAN)
    for n in range(draw(st.integers(0, 8))):
        draw_invoice(draw, book, f"I{n}", dates)
    for n in range(draw(st.integers(0, 8))):
        draw_credit(draw, book, f"C{n}", dates, references=references)
    return book


def customer_records(book: Book) -> list[Customer]:
    return [Customer(source=SOURCE, external_id=c, name=f"Client {c}") for c in book.customers]


class World:
    """A store in a temporary folder, fed and reconciled the way `run_sync` does."""

    def __init__(self, folder: str, settings: Settings | None = None) -> None:
        self.settings = (settings or Settings()).model_copy(
            update={"store": StoreSettings(path=Path(folder) / "s.sqlite")}
        )
        self.store = Store.open(self.settings.store.path)

    def guesses(self) -> int:
        """How many allocations were made by the guessing rules (3 to 5)."""
        marks = ", ".join("?" for _ in GUESSES)
        sql = f"SELECT COUNT(*) FROM allocations WHERE rule IN ({marks})"  # noqa: S608
        return int(self.store.db.execute(sql, GUESSES).fetchone()[0])

    def load(self, records: Iterable[Any], as_of: date) -> None:
        run_id = self.store.start_run(as_of, datetime(2026, 7, 1, tzinfo=UTC))
        with self.store.transaction():
            self.store.write_records(
                SOURCE, list(records), company_currency="EUR", run_id=run_id, replace_all=True
            )
        with self.store.transaction():
            reconcile_dirty(self.store, self.settings, lambda *a: None)

    def figures(self, as_of: date) -> Figures:
        return compute_figures(self.store, self.settings, as_of)

    def close(self) -> None:
        self.store.close()


def with_world(test: Callable[[World], None]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = World(folder)
        try:
            test(world)
        finally:
            world.close()


def ledger(book: Book, as_of: date) -> dict[str | None, int]:
    """Each customer's account balance as of a date: debits less credits, in cents."""
    balance: dict[str | None, int] = defaultdict(int)
    for invoice in book.invoices():
        if invoice.issued_on <= as_of:
            balance[invoice.customer_id] += invoice.total.minor_units
    for credit in book.credits():
        if credit.on <= as_of:
            balance[credit.customer_id] -= credit.amount.minor_units
    return balance


def by_customer(figures: Figures) -> dict[str, Any]:
    return {c.customer_id: c.figures.aged for c in figures.customers}


# -- b. buckets add up, outstanding is the ledger balance -------------------------------------


@PROPERTY
@given(books(), st.integers(-10, SPAN + 60))
def test_buckets_add_up_to_the_ledger_balance(book, as_of_offset):
    as_of = day(as_of_offset)

    def check(world: World) -> None:
        world.load(customer_records(book) + book.records, as_of)
        figures = world.figures(as_of)
        expected = ledger(book, as_of)
        aged = by_customer(figures)
        assert set(aged) == set(book.customers)
        for customer in book.customers:
            assert sum(amount for _, amount in aged[customer].buckets) == aged[customer].outstanding
            assert aged[customer].outstanding == expected[customer], customer
            assert aged[customer].unapplied >= 0
            assert all(
                amount >= 0 for label, amount in aged[customer].buckets if label != "unapplied"
            )
        total = figures.total.aged
        assert sum(amount for _, amount in total.buckets) == total.outstanding
        assert total.outstanding == sum(expected[c] for c in book.customers)
        assert figures.unidentified == -expected[None]

    with_world(check)


# -- c. what happens after D does not change the figures as of D ------------------------------


@st.composite
def later_records(draw: st.DrawFn, book: Book, cut: int, *, credits_only: bool) -> None:
    """Add to `book` records dated after day `cut`; with `credits_only`, only credits each
    lettered with an old invoice. Old records may be re-lettered with a code matched after
    the cut, as a FEC exported again shows them."""
    after = st.integers(cut + 1, SPAN + 60)
    first = len(book.records)
    if credits_only:
        old = [i.external_id for i in book.invoices() if i.issued_on <= day(cut)]
        for n in range(draw(st.integers(1, 4)) if old else 0):
            credit = draw_credit(
                draw,
                book,
                f"Z{n}",
                after,
                references=False,
                kinds=("payment", "credit_note", "advance"),
            )
            # favour invoices already lettered, best with an old credit: the group gets a
            # later member
            lettered = [
                i.external_id for i in book.invoices() if i.issued_on <= day(cut) and i.match_ref
            ]
            shared = [
                i.external_id
                for i in book.invoices()
                if i.issued_on <= day(cut)
                and i.match_ref
                and any(
                    c.match_ref == i.match_ref
                    and c.customer_id == i.customer_id
                    and c.on <= day(cut)
                    for c in book.credits()
                )
            ]
            target_id = draw(
                st.sampled_from(
                    draw(st.sampled_from([pool for pool in (shared, lettered, old) if pool]))
                )
            )
            at = next(
                i
                for i, r in enumerate(book.records)
                if isinstance(r, Invoice) and r.external_id == target_id
            )
            target = book.records[at]
            # lettered with the old invoice: same customer, the invoice's code (or a new code
            # given to the invoice as well), matched on or after the credit's date
            ref = target.match_ref or f"NEW{n}"
            matched_on = credit.on + timedelta(days=draw(st.integers(0, 30)))
            update: dict[str, Any] = {
                "customer_id": target.customer_id,
                "match_ref": ref,
                "matched_on": matched_on,
                "allocations": (),
            }
            if isinstance(credit, CreditNote):
                update["applies_to"] = None  # lettered, not linked
            book.records[-1] = credit.model_copy(update=update)
            if target.match_ref is None:
                book.records[at] = target.model_copy(
                    update={"match_ref": ref, "matched_on": matched_on}
                )
        return
    book.match_refs.append("LATE")
    for n in range(draw(st.integers(1, 4))):
        draw_invoice(draw, book, f"Y{n}", after)
    for n in range(draw(st.integers(1, 4))):
        draw_credit(draw, book, f"Z{n}", after)
    # Lettrage after D involving old records too: an old, unlettered invoice or credit gets
    # the code of a new record, matched after D.
    for at, record in enumerate(book.records[:first]):
        if record.match_ref is None and draw(st.integers(0, 3)) == 0:
            book.records[at] = record.model_copy(
                update={
                    "match_ref": draw(st.sampled_from(book.match_refs)),
                    "matched_on": day(draw(after)),
                }
            )


GUESSES = ("same_reference", "exact_amount", "oldest_first")


def before_and_after(
    data: st.DataObject,
    book: Book,
    cut: int,
    *,
    credits_only: bool,
    world_settings: Settings | None = None,
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Figures per customer as of day `cut` before and after the later records are added to
    the same store (incremental reconciliation), and how many allocations were guesses."""
    as_of = day(cut)
    guesses = 0
    with tempfile.TemporaryDirectory() as folder:
        world = World(folder, settings=world_settings)
        try:
            world.load(customer_records(book) + book.records, as_of)
            before = by_customer(world.figures(as_of))
            guesses += world.guesses()
            data.draw(later_records(book, cut, credits_only=credits_only))
            world.load(customer_records(book) + book.records, as_of)
            after = by_customer(world.figures(as_of))
            guesses += world.guesses()
        finally:
            world.close()
    return before, after, guesses


@PROPERTY
@given(st.data(), books(), st.integers(0, SPAN))
def test_records_after_d_do_not_change_the_outstanding_at_d(data, book, cut):
    before, after, _ = before_and_after(data, book, cut, credits_only=False)
    assert {k: v.outstanding for k, v in after.items()} == {
        k: v.outstanding for k, v in before.items()
    }
    assert {k: v.outstanding for k, v in before.items()} == {
        c: ledger(book, day(cut))[c] for c in book.customers
    }


@PROPERTY
@given(st.data(), books(references=False), st.integers(0, SPAN))
def test_credits_after_d_lettered_with_old_invoices_do_not_settle_them_at_d(data, book, cut):
    # Only explicit matching here (links, lettrage): rules 3 to 5 are re-decided on all the
    # data at each run, so a later lettrage may take an invoice an earlier *guess* had paid
    # and change the past columns (see test_match_group_beats_an_older_guess); that is the
    # rule order, not a leak of the future.
    no_guessing = Settings(reconcile={"oldest_first": False})
    before, after, guesses = before_and_after(
        data, book, cut, credits_only=True, world_settings=no_guessing
    )
    assume(guesses == 0)
    for customer in book.customers:
        assert after[customer].overdue + after[customer].not_due == (
            before[customer].overdue + before[customer].not_due
        ), customer
        assert after[customer].buckets == before[customer].buckets, customer


# -- found by the properties above: a changed record could not be stored again ---------------


def _invoice(**changes: Any) -> Invoice:
    fields: dict[str, Any] = {
        "customer_id": "K0",
        "issued_on": START,
        "total": eur(100),
        "due_lines": (DueLine(due_on=START, amount=eur(100)),),
    } | changes
    return Invoice(source=SOURCE, external_id="I0", **fields)


def _payment(**changes: Any) -> Payment:
    fields: dict[str, Any] = {"customer_id": "K0", "on": START, "amount": eur(40)} | changes
    return Payment(source=SOURCE, external_id="P0", **fields)


@pytest.mark.parametrize(
    ("first", "second", "outstanding"),
    [
        ([_invoice()], [_invoice(match_ref="X", matched_on=START)], 100),
        ([_payment()], [_payment(reference="F-1")], -40),
        (
            [_invoice(), _payment()],
            [
                _invoice(total=eur(90), due_lines=(DueLine(due_on=START, amount=eur(90)),)),
                _payment(match_ref="X"),
            ],
            50,
        ),
    ],
    ids=["invoice", "credit", "both"],
)
def test_a_changed_record_can_be_stored_again(first, second, outstanding):
    # Failed with "UNIQUE constraint failed: dirty_customers" before the triggers of
    # migration 1 used ON CONFLICT DO NOTHING (an outer upsert overrides INSERT OR IGNORE).
    def check(world: World) -> None:
        known = [Customer(source=SOURCE, external_id="K0", name="K0")]
        world.load(known + first, START)
        world.load(known + second, START)
        assert world.store.dirty_customers() == []
        assert world.figures(START).total.aged.outstanding == outstanding

    with_world(check)


def test_an_undescribed_customer_with_only_a_credit_still_counts():
    payment = _payment(customer_id="K9")  # no Customer record for K9, no invoice

    def check(world: World) -> None:
        world.load([Customer(source=SOURCE, external_id="K0", name="K0"), payment], START)
        figures = world.figures(START)
        assert figures.total.aged.outstanding == -40
        assert {c.customer_id: c.figures.aged.unapplied for c in figures.customers}.get("K9") == 40

    with_world(check)
