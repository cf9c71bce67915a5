"""What a person reviews, as text: the money matched to no invoice, one customer explained.

Kinds and matching rules are named in words (`RULE_NAMES`, `KIND_NAMES`), in the reader's
language; amounts, dates and days as `display.py` writes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from encours.sync.display import MISSING, Display
from encours.sync.explain import Explanation
from encours.sync.figures import CustomerFigures
from encours.sync.risk_text import credit_lines
from encours.sync.status_text import BUCKET_LABELS, table
from encours.sync.store.review import UnmatchedItem

#: What each kind of record is called for a person.
KIND_NAMES = {
    "invoice": "invoice",
    "unbilled": "invoice to issue",
    "debit": "debit",
    "advance_use": "advance used",
    "payment": "payment",
    "credit_note": "credit note",
    "advance": "advance",
}
#: Which reconciliation rule made an allocation, in words (`model.AllocationRule`).
RULE_NAMES = {
    "source_link": "source link",
    "match_group": "lettrage",
    "advance_applied": "advance applied",
    "same_reference": "same reference",
    "exact_amount": "exact amount",
    "oldest_first": "oldest first",
}


def kind_name(kind: str, display: Display) -> str:
    """`credit_note` -> "credit note" (« avoir »)."""
    return display._(KIND_NAMES.get(kind, kind))


def rule_name(rule: str, display: Display) -> str:
    """`match_group` -> "lettrage"."""
    return display._(RULE_NAMES.get(rule, rule))


def unmatched_lines(
    items: Sequence[UnmatchedItem], display: Display, currency: str, *, customers: bool = True
) -> Iterator[str]:
    """One line per credit matched to no invoice (or only partly), under a header.

    `customers=False` leaves the customer out (`status --customer` shows one).
    """
    _ = display._
    if not items:
        yield _("No money waits to be matched.")
        return
    header = [_("date"), _("kind"), _("reference"), _("amount"), _("not matched")]
    rows = [
        [
            display.date(item.on_date),
            kind_name(item.kind, display),
            item.reference or item.external_id,
            display.money(item.amount, currency),
            display.money(item.left_over, currency),
        ]
        for item in items
    ]
    if customers:
        yield from table(
            [_("customer"), *header],
            [(_customer(item, display), row) for item, row in zip(items, rows, strict=True)],
            aligns="<<<",
        )
    else:
        yield from table(header, [(row[0], row[1:]) for row in rows], aligns="<<")


def _customer(item: UnmatchedItem, display: Display) -> str:
    if item.customer_id is None:
        return display._("(no customer)") + f" [{item.source}]"
    return f"{item.customer_name or item.customer_id} ({item.customer_id})"


def customer_lines(explanation: Explanation, display: Display) -> Iterator[str]:
    """`status --customer ID`: the customer's own figures, then what they rest on."""
    _ = display._
    customer = explanation.customer
    figures, currency = customer.figures, customer.figures.currency
    aged = figures.aged

    def money(units: int) -> str:
        return display.money(units, currency)

    yield _("{name} ({id}, source {source}): receivables as of {date}").format(
        name=customer.name,
        id=customer.customer_id,
        source=customer.source,
        date=display.date(figures.as_of),
    )
    yield _(
        "Outstanding {outstanding} = overdue {overdue} + not due {not_due} + unbilled "
        "{unbilled} - unapplied {unapplied}"
    ).format(
        outstanding=money(aged.outstanding),
        overdue=money(aged.overdue),
        not_due=money(aged.not_due),
        unbilled=money(aged.unbilled),
        unapplied=money(aged.unapplied),
    )
    yield _("Aged balance: {buckets}").format(
        buckets=", ".join(
            f"{_(BUCKET_LABELS.get(label, label))} {money(value)}" for label, value in aged.buckets
        )
    )
    yield _(
        "Oldest overdue: {late} days; DSO ({method}): {dso} days; best possible {best}; "
        "average days delinquent {delinquent}"
    ).format(
        late=display.days(aged.oldest_overdue_days),
        method=_(figures.dso_method),
        dso=display.days(figures.dso),
        best=display.days(figures.best_possible_dso),
        delinquent=display.days(figures.average_days_delinquent),
    )
    if figures.dso is None:
        yield _("{missing} DSO: no sales in the DSO period, so no DSO to compute").format(
            missing=MISSING
        )
    yield from credit_lines(customer, display)
    if customer.due_dates_assumed:
        yield _(
            "Some due dates come from the default payment terms: set this customer's under "
            "[sources.{source}.payment_terms]"
        ).format(source=customer.source)
    yield ""
    yield _("Open items ({count})").format(count=len(explanation.items))
    yield from _items_table(explanation, display)
    yield ""
    yield _("Money received and matched to no invoice ({count})").format(
        count=len(explanation.unapplied_items)
    )
    yield from unmatched_lines(explanation.unapplied_items, display, currency, customers=False)
    yield ""
    yield _("Open items {residuals} - unapplied {unapplied} = outstanding {outstanding}").format(
        residuals=money(explanation.residuals),
        unapplied=money(explanation.unapplied),
        outstanding=money(explanation.residuals - explanation.unapplied),
    )
    if explanation.drafts:
        drafts = money(customer.drafts)
        yield _("Draft invoices, in no figure above: {amount}").format(amount=drafts)
        for draft in explanation.drafts:
            yield f"  {draft.number}  {display.date(draft.issued_on)}  {money(draft.total)}"
    else:
        yield _("Draft invoices: none")
    yield from _balance_check(customer, display)


def _items_table(explanation: Explanation, display: Display) -> Iterator[str]:
    _ = display._
    currency = explanation.customer.figures.currency
    if not explanation.items:
        yield _("No open item.")
        return
    rows: list[tuple[str, list[str]]] = []
    for entry in explanation.items:
        item = entry.item
        document = item.document + (f" /{item.seq + 1}" if item.seq else "")
        rows.append(
            (
                document,
                [
                    display.date(item.issued_on),
                    display.date(item.due_on),
                    display.days(entry.days_late) if entry.days_late else "",
                    display.money(item.amount, currency),
                    display.money(item.residual, currency),
                    _(BUCKET_LABELS.get(entry.bucket, entry.bucket))
                    + (" " + _("(doubtful)") if item.is_doubtful else ""),
                ],
            )
        )
        for settlement in entry.settlements:
            what = kind_name(settlement.credit_kind or "payment", display)
            rows.append(
                (
                    f"  - {what} {settlement.reference}",
                    [
                        display.date(settlement.allocated_on),
                        "",
                        "",
                        display.money(-settlement.amount, currency),
                        "",
                        rule_name(settlement.rule, display),
                    ],
                )
            )
    header = [
        _("document"),
        _("issued"),
        _("due"),
        _("days late"),
        _("amount"),
        _("residual"),
        _("bucket / rule"),
    ]
    yield from table(header, rows, aligns=">>>>><")


def _balance_check(customer: CustomerFigures, display: Display) -> Iterator[str]:
    _ = display._
    check = customer.balance_check
    currency = customer.figures.currency
    if check is None:
        yield _("Balance check: the source states no balance for this customer")
        return
    args = {
        "date": display.date(check.as_of),
        "basis": check.basis,
        "source": display.money(check.source_balance, currency),
        "outstanding": display.money(check.outstanding, currency),
        "difference": display.money(check.difference, currency),
    }
    if check.difference:
        yield _(
            "! Balance check: the source says {source} on {date} ({basis}); encours "
            "computes {outstanding} for that day: difference {difference}"
        ).format(**args)
    else:
        yield _(
            "Balance check: the source says {source} on {date} ({basis}); encours agrees"
        ).format(**args)
