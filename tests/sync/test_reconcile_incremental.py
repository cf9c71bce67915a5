"""A reconciliation after a change gives what a reconciliation from nothing gives.

The records go through the store's write path (`writing.Merge`), as a sync writes them: it
marks the customers to redo and takes the changed records' lettrage groups out of
`closed_groups`; the groups left there are not worked out again (`reconcile_sql._freeze`).
Each example writes some records, reconciles, changes some of them (a lettrage code, an
amount, a customer, a link, a deletion, a new record), writes and reconciles again, and
compares allocations, settlement dates and closed groups with a fresh store given only the
changed records.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reconcile_sql import (
    AMOUNTS,
    DAYS,
    GROUPS,
    Credit,
    Invoice,
    Line,
    credits_of,
    invoices_of,
)

from encours.sync.store import Store
from encours.sync.store.writing import Merge, create_stage

NOW = datetime(2026, 11, 1, 3, tzinfo=UTC)
SOURCES = ("g", "t")


@st.composite
def books(draw: st.DrawFn) -> tuple[list[Invoice], list[Credit]]:
    """Records of two sources and two customers, most lettrage groups settled in full."""
    invoices: list[Invoice] = []
    credits: list[Credit] = []
    for source in SOURCES:
        for customer in ("C1", "C2"):
            mine = draw(invoices_of(source, customer))
            if draw(st.integers(0, 3)):  # lettered as a whole, as most ledgers letter
                mine = [
                    dataclasses.replace(
                        i, lines=[dataclasses.replace(line, match_ref=None) for line in i.lines]
                    )
                    for i in mine
                ]
            invoices += mine
            credits += draw(credits_of(source, customer, [i.id for i in mine]))
            for group in sorted({i.match_ref for i in mine if i.match_ref}):
                owed = sum(
                    line.amount for i in mine if i.match_ref == group for line in i.lines
                ) - sum(
                    c.amount for c in credits if c.match_ref == group and c.customer == customer
                )
                if owed > 0 and draw(st.booleans()):  # the payment that settles the group
                    credits.append(
                        Credit(f"L{group}{customer}{source}", "payment", DAYS[-1], owed,
                               customer=customer, source=source, match_ref=group)
                    )  # fmt: skip
    return invoices, credits


@st.composite
def changed(
    draw: st.DrawFn, invoices: list[Invoice], credits: list[Credit]
) -> tuple[list[Invoice], list[Credit]]:
    """The same records, a few of them changed as a new read would give them."""
    new_invoices: list[Invoice] = []
    for invoice in invoices:
        action = draw(st.sampled_from(["keep"] * 5 + ["letter", "amount", "move", "drop"]))
        if action == "drop":
            continue
        if action == "letter":
            invoice = dataclasses.replace(invoice, match_ref=draw(st.sampled_from(GROUPS)))
        elif action == "amount":
            first = dataclasses.replace(invoice.lines[0], amount=draw(st.sampled_from(AMOUNTS)))
            invoice = dataclasses.replace(invoice, lines=[first, *invoice.lines[1:]])
        elif action == "move":
            invoice = dataclasses.replace(
                invoice, customer="C2" if invoice.customer == "C1" else "C1"
            )
        new_invoices.append(invoice)
    ids = [i.id for i in invoices]
    new_credits: list[Credit] = []
    for credit in credits:
        action = draw(
            st.sampled_from(["keep"] * 5 + ["letter", "amount", "link", "applies", "drop"])
        )
        if action == "drop":
            continue
        if action == "letter":
            credit = dataclasses.replace(credit, match_ref=draw(st.sampled_from(GROUPS)))
        elif action == "amount":
            credit = dataclasses.replace(credit, amount=draw(st.sampled_from(AMOUNTS)))
        elif action == "link" and ids:
            target = draw(st.sampled_from(ids))
            credit = dataclasses.replace(
                credit, links=[(target, draw(st.sampled_from(AMOUNTS)), None)]
            )
        elif action == "applies" and ids:
            credit = dataclasses.replace(credit, applies_to=draw(st.sampled_from(ids)))
        new_credits.append(credit)
    for index in range(draw(st.integers(0, 2))):  # a new invoice in an existing group
        group = draw(st.sampled_from(GROUPS))
        new_invoices.append(
            Invoice(f"n{index}", [Line(0, draw(st.sampled_from(AMOUNTS)), DAYS[2])],
                    customer="C1", source="g", match_ref=group)
        )  # fmt: skip
    return new_invoices, new_credits


def write(store: Store, invoices: list[Invoice], credits: list[Credit]) -> None:
    """A full read of each source with these records, then the reconciliation of a sync."""
    with store.transaction():
        run_id = store.start_run(date(2026, 11, 1), NOW)
        for source in SOURCES:
            create_stage(store.db)
            _stage(store, source, invoices, credits)
            Merge(store.db, source, run_id).run(replace_all=True, max_deletion_share=None)
        store.reconcile_dirty(oldest_first=True, complete_sources=())


def _stage(store: Store, source: str, invoices: list[Invoice], credits: list[Credit]) -> None:
    mine = [i for i in invoices if i.source == source]
    rows: dict[str, list[tuple[Any, ...]]] = {
        "invoices": [
            (n, i.source, i.id, i.customer, i.number, i.lines[0].kind, i.lines[0].issued_on,
             "EUR", "0", None, sum(line.amount for line in i.lines), False, False, i.match_ref,
             i.matched_on, i.order_ref, None, "{}")
            for n, i in enumerate(mine)
        ],
        "due_lines": [
            (n, i.source, i.id, line.seq, i.customer, line.kind, False, line.issued_on,
             line.due_on, line.amount, line.match_ref)
            for n, i in enumerate(mine)
            for line in i.lines
        ],
        "credits": [
            (n, c.source, c.id, c.kind, c.customer, c.on, "EUR", "0", None, c.amount,
             c.reference, c.match_ref, c.matched_on, c.applies_to, c.is_on_order, c.order_ref,
             None, "{}")
            for n, c in enumerate(credits)
            if c.source == source
        ],
        "credit_links": [
            (n, c.source, c.id, position, invoice_id, amount, linked_on)
            for n, c in enumerate(credits)
            if c.source == source
            for position, (invoice_id, amount, linked_on) in enumerate(c.links)
        ],
    }  # fmt: skip
    for table, values in rows.items():
        if values:
            marks = ", ".join("?" * len(values[0]))
            store.db.executemany(f"INSERT INTO stage_{table} VALUES ({marks})", values)  # noqa: S608


def outcome(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """What reconciliation leaves: allocations, settlement dates, closed groups."""
    queries = {
        "allocations": "SELECT * FROM allocations",
        "settled": "SELECT source, invoice_id, seq, settled_on FROM due_lines",
        "used": "SELECT source, external_id, used_on FROM credits",
        "closed": "SELECT * FROM closed_groups",
    }
    return {
        name: sorted(store.db.execute(sql).fetchall(), key=repr) for name, sql in queries.items()
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_change_reconciled_gives_what_a_fresh_store_gives(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    before = data.draw(books())
    after = data.draw(changed(*before))
    folder: Path = tmp_path_factory.mktemp("incremental")
    again = Store.open(folder / "again.duckdb")
    fresh = Store.open(folder / "fresh.duckdb")
    try:
        write(again, *before)
        write(again, *after)
        write(fresh, *after)

        assert outcome(again) == outcome(fresh)
    finally:
        again.close()
        fresh.close()


def test_a_closed_group_is_kept_and_left_alone(tmp_path: Path) -> None:
    """FA1 and P1 lettered AB close AB; a new invoice elsewhere leaves AB's rows alone."""
    invoices = [Invoice("FA1", [Line(0, 100_00, DAYS[1])], match_ref="AB", matched_on=DAYS[3])]
    credits = [Credit("P1", "payment", DAYS[2], 100_00, match_ref="AB", matched_on=DAYS[3])]
    store = Store.open(tmp_path / "s.duckdb")
    try:
        write(store, invoices, credits)
        assert store.db.execute("SELECT * FROM closed_groups").fetchall() == [("g", "C1", "AB")]
        # Marked so: a reconciliation that worked AB out again would write the real rule.
        store.db.execute("UPDATE allocations SET rule = 'kept'")

        write(store, [*invoices, Invoice("FA2", [Line(0, 50_00, DAYS[4])])], credits)

        assert store.db.execute(
            "SELECT credit_id, invoice_id, rule FROM allocations"
        ).fetchall() == [("P1", "FA1", "kept")]
        assert store.db.execute(
            "SELECT invoice_id, settled_on FROM due_lines ORDER BY invoice_id"
        ).fetchall() == [("FA1", DAYS[3]), ("FA2", None)]
    finally:
        store.close()


def _same_as_fresh(
    folder: Path,
    before: tuple[list[Invoice], list[Credit]],
    after: tuple[list[Invoice], list[Credit]],
) -> dict[str, list[tuple[Any, ...]]]:
    again, fresh = Store.open(folder / "again.duckdb"), Store.open(folder / "fresh.duckdb")
    try:
        write(again, *before)
        write(again, *after)
        write(fresh, *after)
        assert outcome(again) == outcome(fresh)
        return outcome(again)
    finally:
        again.close()
        fresh.close()


def test_a_credit_that_comes_to_name_an_invoice_of_a_closed_group_reaches_it(
    tmp_path: Path,
) -> None:
    """FA1 and P1 lettered AB, closed; then credit note AV1 applies to FA1: it comes first."""
    invoices = [Invoice("FA1", [Line(0, 100_00, DAYS[1])], match_ref="AB")]
    credits = [Credit("P1", "payment", DAYS[2], 100_00, match_ref="AB")]
    note = Credit("AV1", "credit_note", DAYS[3], 30_00, applies_to="FA1")

    result = _same_as_fresh(tmp_path, (invoices, credits), (invoices, [*credits, note]))

    assert [row[2:4] + row[5:6] for row in result["allocations"]] == [
        ("AV1", "FA1", 30_00),
        ("P1", "FA1", 70_00),
    ]


def test_a_group_holding_part_of_an_invoice_is_worked_out_again(tmp_path: Path) -> None:
    """FA1's first line (January) is lettered AB with P1, its second (June) is not: FA1 is
    still older than FA2 (March) when P2 looks for the oldest invoice of its amount."""
    invoices = [
        Invoice("FA1", [Line(0, 100_00, DAYS[0], match_ref="AB"), Line(1, 50_00, DAYS[7])]),
        Invoice("FA2", [Line(0, 50_00, DAYS[3])]),
    ]
    credits = [Credit("P1", "payment", DAYS[1], 100_00, match_ref="AB")]
    payment = Credit("P2", "payment", DAYS[4], 50_00)

    result = _same_as_fresh(tmp_path, (invoices, credits), (invoices, [*credits, payment]))

    assert ("g", "C1", "P2", "FA1", 1, 50_00, DAYS[4], "exact_amount") in result["allocations"]
    assert result["closed"] == []
