"""One customer explained: its figures, and the items and settlements they rest on.

`status --customer ID` shows this. The open items' residuals less the customer's unapplied
money are its outstanding, to the cent (`Explanation.residuals - Explanation.unapplied`):
each settlement shown is an allocation with the rule that made it, so a person can follow
every figure back to the documents of the source.

Example: invoice F1 of 1 000.00 due 31 Jan, payment P1 of 400.00 lettered to it on 10 Feb,
advance A1 of 50.00 matched to nothing; as of 28 Feb: F1 open for 600.00 (28 days late,
bucket 1-30), settled by P1 400.00 (lettrage); unapplied A1 50.00; outstanding 550.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from encours.metrics.outstanding import bucket_of
from encours.sync.figures import CustomerFigures
from encours.sync.store import Store
from encours.sync.store.review import DraftItem, OpenItem, Settlement, UnmatchedItem


@dataclass(frozen=True)
class ExplainedItem:
    """An open due line, how late it is, its column, and what was set against it."""

    item: OpenItem
    days_late: int  # 0 when not due yet
    bucket: str
    settlements: tuple[Settlement, ...]


@dataclass(frozen=True)
class Explanation:
    """Everything `status --customer` shows of one customer, as of one date."""

    customer: CustomerFigures
    items: tuple[ExplainedItem, ...]
    unapplied_items: tuple[UnmatchedItem, ...]
    drafts: tuple[DraftItem, ...]

    @property
    def residuals(self) -> int:
        """What is left of the open items, in minor units."""
        return sum(entry.item.residual for entry in self.items)

    @property
    def unapplied(self) -> int:
        """The money received and matched to nothing, in minor units."""
        return sum(item.left_over for item in self.unapplied_items)


def explain(
    store: Store, customer: CustomerFigures, as_of: date, edges: tuple[int, ...]
) -> Explanation:
    """The open items, settlements, unapplied money and drafts behind a customer's figures."""
    source, customer_id = customer.source, customer.customer_id
    applied: dict[tuple[str, int], list[Settlement]] = {}
    for settlement in store.settlements(source, customer_id, as_of):
        applied.setdefault((settlement.invoice_id, settlement.due_seq), []).append(settlement)
    items = tuple(
        ExplainedItem(
            item=item,
            days_late=max(0, (as_of - item.due_on).days),
            bucket=bucket_of(item.kind, item.due_on, as_of, edges),
            settlements=tuple(applied.get((item.invoice_id, item.seq), ())),
        )
        for item in store.open_items(source, customer_id, as_of)
    )
    unapplied = tuple(
        item
        for item in store.unmatched_items(as_of)
        if item.source == source and item.customer_id == customer_id
    )
    drafts = tuple(store.draft_items(source, customer_id, as_of))
    return Explanation(customer, items, unapplied, drafts)
