"""Reconciliation: which credit (payment, credit note, advance) settles which invoice due line.

Pure: it takes one customer's due lines and credits and returns allocations; it reads and
writes nothing. Rules, strongest first; each one only uses what the ones before left over:

1. `source_link`: the source says which invoice a credit pays (an allocation, a credit note
   that names its invoice).
2. `match_group`: the source matched lines together (a FEC lettrage code, a reconciliation
   id): inside each group, credits settle due lines oldest due date first.
   `advance_applied`: an advance being used up (a debit on 4191, whose 411 credit in the
   same entry settles the invoice) consumes the customer's advances that lettrage left,
   oldest first; nothing else may settle it, and it settles nothing itself.
3. `same_reference`: the credit's reference is the invoice number (or, for an advance, its
   order reference is the invoice's).
4. `exact_amount`: what is left of a credit equals what is left of one invoice: the oldest
   such invoice.
5. `oldest_first` (a setting, on by default): what is left of payments received on account
   settles the oldest due lines first.

Advances on orders (account 4191) wait for the invoice they were paid for: only rules 1 to 3
may allocate them. Unbilled items (4181) receive only explicit or matched credits. An
allocation is dated the later of the two documents' dates (and of their match dates for
rule 2, or the source's allocation date for rule 1), so as of any date only what was known
to be settled then counts.

Example: invoice F1 of 1 200.00 due 31 Jan, payment P1 of 1 000.00 received 15 Feb with
reference "F1": rule 3 allocates 1 000.00 on 15 Feb; 200.00 of F1 stays open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from encours.model import Allocation, AllocationRule, CreditKind, InvoiceKind

#: Debits that no guess may settle: unbilled revenue, and the use of an advance.
_NOT_GUESSED = (InvoiceKind.UNBILLED.value, InvoiceKind.ADVANCE_USE.value)


@dataclass(slots=True)
class DueItem:
    """One due line of an invoice, with what is still unallocated of it (`left`)."""

    invoice_id: str
    seq: int
    issued_on: date
    due_on: date
    amount: int
    kind: str = InvoiceKind.INVOICE.value
    number: str | None = None
    match_ref: str | None = None
    matched_on: date | None = None
    order_ref: str | None = None
    left: int = field(init=False)

    def __post_init__(self) -> None:
        self.left = self.amount

    @property
    def order_key(self) -> tuple[date, date, str, int]:
        """Oldest due date first; ties by issue date, then id: deterministic."""
        return (self.due_on, self.issued_on, self.invoice_id, self.seq)


@dataclass(slots=True)
class CreditItem:
    """A credit, with what is still unallocated of it (`left`)."""

    credit_id: str
    kind: str
    on: date
    amount: int
    reference: str | None = None
    match_ref: str | None = None
    matched_on: date | None = None
    applies_to: str | None = None
    is_on_order: bool = False
    order_ref: str | None = None
    links: tuple[tuple[str, int, date | None], ...] = ()
    left: int = field(init=False)

    def __post_init__(self) -> None:
        self.left = self.amount


@dataclass(frozen=True)
class Reconciliation:
    """The allocations made, and the credits left (partly) unallocated for a person to check.

    `settled_on` gives, for each due line wholly allocated, the date of its last allocation
    (from then on it is no longer open); `used_on` the same for each credit wholly used.
    """

    allocations: tuple[Allocation, ...]
    unmatched: tuple[tuple[str, int], ...]
    settled_on: dict[tuple[str, int], date]
    used_on: dict[str, date]


def reconcile(
    due: Sequence[DueItem],
    credits: Sequence[CreditItem],
    *,
    oldest_first: bool = True,
    guess: bool = True,
) -> Reconciliation:
    """Allocate one customer's credits to its due lines (see the module docstring).

    `guess=False` keeps to rules 1 and 2, for a source whose own matching is complete (Tryton:
    what its accountant has not reconciled is not matched, and stays unapplied).

    Invariants: no due line receives more than its amount, no credit gives more than its
    amount, every amount is positive and every allocation is dated on or after both documents.
    """
    run = _Allocator()
    credits = sorted(credits, key=lambda c: (c.on, c.credit_id))
    lines_by_invoice: dict[str, list[DueItem]] = defaultdict(list)
    for line in sorted(due, key=lambda d: d.order_key):
        lines_by_invoice[line.invoice_id].append(line)

    _by_source_links(run, credits, lines_by_invoice)
    _by_match_groups(run, due, credits)
    _advances_applied(run, credits, due)
    if guess:
        _by_reference(run, credits, lines_by_invoice)
        _by_exact_amount(run, credits, lines_by_invoice)
        if oldest_first:
            _oldest_first(run, credits, due)
    last_on: dict[tuple[str, int], date] = {}
    last_used: dict[str, date] = {}
    for allocation in run.allocations:
        key = (allocation.invoice_id, allocation.due_seq)
        last_on[key] = max(last_on.get(key, allocation.allocated_on), allocation.allocated_on)
        used = last_used.get(allocation.credit_id, allocation.allocated_on)
        last_used[allocation.credit_id] = max(used, allocation.allocated_on)
    return Reconciliation(
        allocations=tuple(run.allocations),
        unmatched=tuple((c.credit_id, c.left) for c in credits if c.left > 0),
        settled_on={
            (d.invoice_id, d.seq): last_on[(d.invoice_id, d.seq)] for d in due if d.left == 0
        },
        used_on={c.credit_id: last_used[c.credit_id] for c in credits if c.left == 0},
    )


class _Allocator:
    """Holds the allocations made so far and the one way to make one."""

    def __init__(self) -> None:
        self.allocations: list[Allocation] = []

    def allocate(
        self,
        credit: CreditItem,
        lines: Iterable[DueItem],
        rule: AllocationRule,
        *,
        limit: int | None = None,
        on: date | None = None,
    ) -> None:
        """Give from `credit` to `lines` in their order, up to `limit`, each line its left."""
        budget = credit.left if limit is None else min(limit, credit.left)
        for line in lines:
            if budget <= 0:
                break
            amount = min(budget, line.left)
            if amount <= 0:
                continue
            line.left -= amount
            credit.left -= amount
            budget -= amount
            allocated_on = max(credit.on, line.issued_on, on or credit.on)
            self.allocations.append(
                Allocation(credit.credit_id, line.invoice_id, line.seq, amount, allocated_on, rule)
            )


def _by_source_links(
    run: _Allocator, credits: Sequence[CreditItem], lines_by_invoice: dict[str, list[DueItem]]
) -> None:
    for credit in credits:
        for invoice_id, amount, linked_on in credit.links:
            run.allocate(
                credit,
                lines_by_invoice.get(invoice_id, ()),
                AllocationRule.SOURCE_LINK,
                limit=amount,
                on=linked_on,
            )
        if credit.applies_to and credit.left > 0:
            run.allocate(
                credit, lines_by_invoice.get(credit.applies_to, ()), AllocationRule.SOURCE_LINK
            )


def _by_match_groups(
    run: _Allocator, due: Sequence[DueItem], credits: Sequence[CreditItem]
) -> None:
    due_groups: dict[str, list[DueItem]] = defaultdict(list)
    for line in due:
        if line.match_ref:
            due_groups[line.match_ref].append(line)
    credit_groups: dict[str, list[CreditItem]] = defaultdict(list)
    for credit in credits:
        if credit.match_ref and credit.match_ref in due_groups:
            credit_groups[credit.match_ref].append(credit)
    for ref in sorted(credit_groups):
        lines = sorted(due_groups[ref], key=lambda d: d.order_key)
        for credit in credit_groups[ref]:
            for line in lines:
                # Dated by this pair's own documents and match dates, not by the whole
                # group's: a line lettered later into the group must not move, as of past
                # dates, what two older members of it had already settled.
                # A use of an advance is the application itself, on its entry's own day: the
                # 4191 lettrage, often done later, only records it (DOMAIN, FEC).
                matched = [day for day in (credit.matched_on, line.matched_on) if day]
                if line.kind == InvoiceKind.ADVANCE_USE:
                    matched = []
                run.allocate(
                    credit, (line,), AllocationRule.MATCH_GROUP, on=max(matched, default=None)
                )


def _advances_applied(
    run: _Allocator, credits: Sequence[CreditItem], due: Sequence[DueItem]
) -> None:
    """Uses of advances consume the oldest advances left, and only advances.

    Example: advance 1 000.00 received on 1 September (credit 4191), applied on 5 October to
    an invoice (debit 4191 1 000.00 / credit 411 1 000.00): the 4191 debit takes the whole
    advance on 5 October, so neither is open any more; the 411 credit settles the invoice.
    """
    uses = sorted(
        (d for d in due if d.kind == InvoiceKind.ADVANCE_USE and d.left > 0),
        key=lambda d: d.order_key,
    )
    advances = [c for c in credits if c.kind == CreditKind.ADVANCE and c.left > 0]
    for advance in advances:
        run.allocate(advance, uses, AllocationRule.ADVANCE_APPLIED)


def _by_reference(
    run: _Allocator, credits: Sequence[CreditItem], lines_by_invoice: dict[str, list[DueItem]]
) -> None:
    by_number: dict[str, list[DueItem]] = defaultdict(list)
    by_order: dict[str, list[DueItem]] = defaultdict(list)
    for lines in lines_by_invoice.values():
        first = lines[0]
        if first.number:
            by_number[first.number].extend(lines)
        if first.order_ref:
            by_order[first.order_ref].extend(lines)
    for credit in credits:
        if credit.left <= 0:
            continue
        if credit.kind == CreditKind.ADVANCE and credit.order_ref in by_order:
            run.allocate(credit, by_order[credit.order_ref or ""], AllocationRule.SAME_REFERENCE)
        if credit.left > 0 and credit.reference in by_number:
            lines = [d for d in by_number[credit.reference or ""] if _may_guess(credit, d)]
            run.allocate(credit, lines, AllocationRule.SAME_REFERENCE)


def _may_guess(credit: CreditItem, line: DueItem) -> bool:
    """Only explicit or matched credits reach unbilled items; only advances their uses."""
    if line.kind == InvoiceKind.ADVANCE_USE:
        return False
    return line.kind != InvoiceKind.UNBILLED or credit.kind == CreditKind.CREDIT_NOTE


def _by_exact_amount(
    run: _Allocator, credits: Sequence[CreditItem], lines_by_invoice: dict[str, list[DueItem]]
) -> None:
    candidates = [c for c in credits if c.left > 0 and not c.is_on_order]
    if not candidates:
        return
    by_left: dict[int, list[list[DueItem]]] = defaultdict(list)
    for lines in sorted(lines_by_invoice.values(), key=lambda ls: ls[0].order_key):
        if lines[0].kind in _NOT_GUESSED:
            continue
        left = sum(line.left for line in lines)
        if left > 0:
            by_left[left].append(lines)
    for credit in candidates:
        for lines in by_left.get(credit.left, ()):
            if sum(line.left for line in lines) == credit.left:
                run.allocate(credit, lines, AllocationRule.EXACT_AMOUNT)
                break


def _oldest_first(run: _Allocator, credits: Sequence[CreditItem], due: Sequence[DueItem]) -> None:
    payments = [c for c in credits if c.left > 0 and c.kind == CreditKind.PAYMENT]
    if not payments:
        return
    lines = sorted(
        (d for d in due if d.left > 0 and d.kind not in _NOT_GUESSED), key=lambda d: d.order_key
    )
    first_open = 0
    for credit in payments:
        remaining = (lines[index] for index in range(first_open, len(lines)))
        run.allocate(credit, remaining, AllocationRule.OLDEST_FIRST)
        while first_open < len(lines) and lines[first_open].left == 0:
            first_open += 1
