"""reconcile(): each rule in order, what it may and may not allocate, dates, determinism."""

from __future__ import annotations

import random
from datetime import date

import pytest

from encours.sync.reconcile import CreditItem, DueItem, Reconciliation, reconcile

D = date


def due(
    invoice_id: str,
    amount: int,
    due_on: date,
    *,
    seq: int = 0,
    issued_on: date | None = None,
    kind: str = "invoice",
    number: str | None = None,
    match_ref: str | None = None,
    matched_on: date | None = None,
    order_ref: str | None = None,
) -> DueItem:
    return DueItem(
        invoice_id=invoice_id,
        seq=seq,
        issued_on=issued_on or D(2026, 1, 1),
        due_on=due_on,
        amount=amount,
        kind=kind,
        number=number,
        match_ref=match_ref,
        matched_on=matched_on,
        order_ref=order_ref,
    )


def payment(credit_id: str, amount: int, on: date, **kw: object) -> CreditItem:
    return CreditItem(credit_id=credit_id, kind="payment", on=on, amount=amount, **kw)  # type: ignore[arg-type]


def credit_note(credit_id: str, amount: int, on: date, **kw: object) -> CreditItem:
    return CreditItem(credit_id=credit_id, kind="credit_note", on=on, amount=amount, **kw)  # type: ignore[arg-type]


def advance(
    credit_id: str, amount: int, on: date, *, is_on_order: bool = True, **kw: object
) -> CreditItem:
    return CreditItem(
        credit_id=credit_id,
        kind="advance",
        on=on,
        amount=amount,
        is_on_order=is_on_order,
        **kw,  # type: ignore[arg-type]
    )


def run(
    due_items: list[DueItem], credits: list[CreditItem], *, oldest_first: bool = True
) -> Reconciliation:
    return reconcile(due_items, credits, oldest_first=oldest_first)


def triples(result: Reconciliation) -> list[tuple[str, str, int, int, date, str]]:
    """(credit, invoice, seq, cents, date, rule) of every allocation, in order made."""
    return [
        (a.credit_id, a.invoice_id, a.due_seq, a.amount, a.allocated_on, a.rule.value)
        for a in result.allocations
    ]


# -- rule 1: source_link -------------------------------------------------------------------


def test_source_link_by_links_limits_to_the_linked_amount_and_dates_by_the_link():
    lines = [due("F1", 100_00, D(2026, 1, 31)), due("F2", 45_00, D(2026, 1, 10))]
    credit = payment("P1", 120_00, D(2026, 2, 1), links=(("F1", 70_00, D(2026, 2, 20)),))
    result = run(lines, [credit], oldest_first=False)
    assert triples(result) == [("P1", "F1", 0, 70_00, D(2026, 2, 20), "source_link")]
    assert result.unmatched == (("P1", 50_00),)


def test_source_link_link_date_none_falls_back_to_the_later_document():
    lines = [due("F1", 100_00, D(2026, 3, 31), issued_on=D(2026, 3, 1))]
    credit = payment("P1", 100_00, D(2026, 2, 1), links=(("F1", 100_00, None),))
    assert triples(run(lines, [credit])) == [("P1", "F1", 0, 100_00, D(2026, 3, 1), "source_link")]


def test_source_link_over_several_instalments_oldest_due_line_first():
    lines = [
        due("F1", 70_00, D(2026, 3, 31), seq=1),
        due("F1", 30_00, D(2026, 1, 31), seq=0),
    ]
    credit = payment("P1", 50_00, D(2026, 2, 1), links=(("F1", 50_00, None),))
    assert triples(run(lines, [credit])) == [
        ("P1", "F1", 0, 30_00, D(2026, 2, 1), "source_link"),
        ("P1", "F1", 1, 20_00, D(2026, 2, 1), "source_link"),
    ]


def test_source_link_to_an_unknown_invoice_allocates_nothing():
    lines = [due("F1", 100_00, D(2026, 1, 31))]
    credit = payment("P1", 100_00, D(2026, 2, 1), links=(("NOPE", 100_00, None),))
    result = run(lines, [credit], oldest_first=False)
    # Rule 4 then pairs it by exact amount: the link did nothing.
    assert [t[5] for t in triples(result)] == ["exact_amount"]


def test_source_link_by_applies_to_gives_all_it_can():
    lines = [due("F1", 80_00, D(2026, 1, 31)), due("F2", 25_00, D(2026, 1, 1))]
    note = credit_note("A1", 100_00, D(2026, 2, 5), applies_to="F1")
    result = run(lines, [note])
    assert triples(result) == [("A1", "F1", 0, 80_00, D(2026, 2, 5), "source_link")]
    # A credit note is not a payment: oldest_first does not spread the rest.
    assert result.unmatched == (("A1", 20_00),)


def test_applies_to_reaches_an_unbilled_line():
    lines = [due("FAE1", 40_00, D(2026, 1, 31), kind="unbilled")]
    note = credit_note("A1", 40_00, D(2026, 2, 5), applies_to="FAE1")
    assert [t[5] for t in triples(run(lines, [note]))] == ["source_link"]


def test_links_come_before_applies_to():
    lines = [due("F1", 100_00, D(2026, 1, 31)), due("F2", 100_00, D(2026, 1, 31))]
    note = credit_note("A1", 150_00, D(2026, 2, 5), links=(("F2", 60_00, None),), applies_to="F1")
    assert triples(run(lines, [note])) == [
        ("A1", "F2", 0, 60_00, D(2026, 2, 5), "source_link"),
        ("A1", "F1", 0, 90_00, D(2026, 2, 5), "source_link"),
    ]


# -- rule 2: match_group ---------------------------------------------------------------------


def test_full_match_group_dated_by_matched_on():
    lines = [due("F1", 100_00, D(2026, 1, 31), match_ref="AA", matched_on=D(2026, 3, 1))]
    credit = payment("P1", 100_00, D(2026, 2, 10), match_ref="AA", matched_on=D(2026, 3, 1))
    result = run(lines, [credit])
    assert triples(result) == [("P1", "F1", 0, 100_00, D(2026, 3, 1), "match_group")]
    assert result.unmatched == ()


def test_match_group_date_is_the_latest_matched_on_of_the_group():
    lines = [due("F1", 100_00, D(2026, 1, 31), match_ref="AA", matched_on=D(2026, 3, 1))]
    credit = payment("P1", 100_00, D(2026, 2, 10), match_ref="AA", matched_on=D(2026, 3, 5))
    assert triples(run(lines, [credit]))[0][4] == D(2026, 3, 5)


def test_match_group_without_matched_on_is_dated_by_the_later_of_the_two_documents():
    lines = [
        due("F1", 60_00, D(2026, 1, 31), issued_on=D(2026, 1, 1), match_ref="AB"),
        due("F2", 40_00, D(2026, 2, 28), issued_on=D(2026, 2, 15), match_ref="AB"),
    ]
    credit = payment("P1", 100_00, D(2026, 2, 10), match_ref="AB")
    # P1 settles F1 when received; F2 once it is issued.
    assert triples(run(lines, [credit])) == [
        ("P1", "F1", 0, 60_00, D(2026, 2, 10), "match_group"),
        ("P1", "F2", 0, 40_00, D(2026, 2, 15), "match_group"),
    ]


def test_match_group_pair_dated_by_its_own_match_dates_not_by_a_later_member():
    # Found by tests/test_properties.py: I0 and C0 lettered together by 31 Jan; a payment of
    # 15 Mar is lettered into the same group on 20 Mar. C0 still settled I0 on 31 Jan.
    lines = [
        due(
            "I0",
            100_00,
            D(2026, 1, 31),
            issued_on=D(2026, 1, 5),
            match_ref="L1",
            matched_on=D(2026, 1, 31),
        )
    ]
    credits = [
        credit_note("C0", 60_00, D(2026, 1, 20), match_ref="L1", matched_on=D(2026, 1, 31)),
        payment("Z0", 40_00, D(2026, 3, 15), match_ref="L1", matched_on=D(2026, 3, 20)),
    ]
    assert [(t[0], t[3], t[4]) for t in triples(run(lines, credits))] == [
        ("C0", 60_00, D(2026, 1, 31)),
        ("Z0", 40_00, D(2026, 3, 20)),
    ]
    # without any match date, the same: each pair by its own documents
    bare = [due("I0", 100_00, D(2026, 1, 31), issued_on=D(2026, 1, 5), match_ref="L1")]
    credits = [
        credit_note("C0", 60_00, D(2026, 1, 20), match_ref="L1"),
        payment("Z0", 40_00, D(2026, 3, 15), match_ref="L1"),
    ]
    assert [t[4] for t in triples(run(bare, credits))] == [D(2026, 1, 20), D(2026, 3, 15)]


def test_match_group_beats_an_older_guess():
    # By the rule order, a lettrage (even a later one) wins over a guess: P0 paid I1 by
    # exact amount until Z0 was lettered with I1; P0 then goes to I2. So past columns may
    # change when a later lettrage corrects a guess (the outstanding does not).
    lines = [due("I1", 100_00, D(2026, 1, 31), match_ref="L9"), due("I2", 100_00, D(2026, 2, 28))]
    alone = run(lines, [payment("P0", 100_00, D(2026, 2, 1))])
    assert [(t[1], t[5]) for t in triples(alone)] == [("I1", "exact_amount")]
    lines = [due("I1", 100_00, D(2026, 1, 31), match_ref="L9"), due("I2", 100_00, D(2026, 2, 28))]
    later = run(
        lines,
        [
            payment("P0", 100_00, D(2026, 2, 1)),
            payment("Z0", 100_00, D(2026, 4, 1), match_ref="L9"),
        ],
    )
    assert [(t[0], t[1], t[5]) for t in triples(later)] == [
        ("Z0", "I1", "match_group"),
        ("P0", "I2", "exact_amount"),
    ]


def test_partial_match_group_leaves_the_rest_open():
    lines = [due("F1", 100_00, D(2026, 1, 31), match_ref="AC")]
    credit = payment("P1", 30_00, D(2026, 2, 10), match_ref="AC")
    other = [due("F9", 5_00, D(2025, 12, 31))]
    result = run(lines + other, [credit])
    # Matched to F1 though F9 is older: the match wins over oldest_first.
    assert triples(result) == [("P1", "F1", 0, 30_00, D(2026, 2, 10), "match_group")]


def test_multi_line_group_credits_settle_oldest_due_line_first():
    lines = [
        due("F2", 50_00, D(2026, 2, 28), match_ref="AD"),
        due("F1", 40_00, D(2026, 1, 31), seq=1, match_ref="AD"),
        due("F1", 10_00, D(2026, 1, 15), seq=0, match_ref="AD"),
    ]
    credits = [
        payment("P2", 60_00, D(2026, 3, 2), match_ref="AD"),
        payment("P1", 40_00, D(2026, 3, 1), match_ref="AD"),
    ]
    result = run(lines, credits)
    assert triples(result) == [
        ("P1", "F1", 0, 10_00, D(2026, 3, 1), "match_group"),
        ("P1", "F1", 1, 30_00, D(2026, 3, 1), "match_group"),
        ("P2", "F1", 1, 10_00, D(2026, 3, 2), "match_group"),
        ("P2", "F2", 0, 50_00, D(2026, 3, 2), "match_group"),
    ]
    assert result.unmatched == ()


def test_match_group_credit_without_due_lines_in_group_goes_on():
    lines = [due("F1", 100_00, D(2026, 1, 31))]
    credit = payment("P1", 100_00, D(2026, 2, 10), match_ref="ZZ")
    assert [t[5] for t in triples(run(lines, [credit]))] == ["exact_amount"]


def test_match_group_after_source_link_uses_only_what_is_left():
    lines = [due("F1", 100_00, D(2026, 1, 31), match_ref="AE")]
    credits = [
        payment("P0", 70_00, D(2026, 2, 1), links=(("F1", 70_00, None),)),
        payment("P1", 50_00, D(2026, 2, 2), match_ref="AE"),
    ]
    result = run(lines, credits, oldest_first=False)
    assert [(t[0], t[3], t[5]) for t in triples(result)] == [
        ("P0", 70_00, "source_link"),
        ("P1", 30_00, "match_group"),
    ]
    assert result.unmatched == (("P1", 20_00),)


def test_match_group_may_settle_an_unbilled_line_and_an_advance_on_order():
    lines = [due("FAE1", 40_00, D(2026, 1, 31), kind="unbilled", match_ref="AF")]
    credit = advance("AC1", 40_00, D(2026, 1, 5), match_ref="AF")
    assert [t[5] for t in triples(run(lines, [credit]))] == ["match_group"]


# -- rule 3: same_reference ------------------------------------------------------------------


def test_same_reference_docstring_example():
    lines = [due("F1", 1200_00, D(2026, 1, 31), number="F1")]
    credit = payment("P1", 1000_00, D(2026, 2, 15), reference="F1")
    result = run(lines, [credit])
    assert triples(result) == [("P1", "F1", 0, 1000_00, D(2026, 2, 15), "same_reference")]
    assert result.unmatched == ()


def test_same_reference_by_invoice_number_over_oldest():
    lines = [
        due("i1", 100_00, D(2025, 12, 31), number="FA-001"),
        due("i2", 100_00, D(2026, 1, 31), number="FA-002"),
    ]
    credit = payment("P1", 100_00, D(2026, 2, 1), reference="FA-002")
    assert triples(run(lines, [credit])) == [
        ("P1", "i2", 0, 100_00, D(2026, 2, 1), "same_reference")
    ]


def test_same_reference_payment_more_than_invoice_leaves_the_rest_for_later_rules():
    lines = [
        due("i1", 100_00, D(2026, 1, 31), number="N1"),
        due("i2", 30_00, D(2026, 1, 15), number="N2"),
    ]
    credit = payment("P1", 150_00, D(2026, 2, 1), reference="N1")
    result = run(lines, [credit])
    assert [(t[1], t[3], t[5]) for t in triples(result)] == [
        ("i1", 100_00, "same_reference"),
        ("i2", 30_00, "oldest_first"),
    ]
    assert result.unmatched == (("P1", 20_00),)


def test_advance_on_order_allocated_by_order_ref():
    lines = [
        due("i1", 500_00, D(2026, 2, 28), issued_on=D(2026, 2, 1), order_ref="CMD-7"),
        due("i0", 300_00, D(2026, 1, 31)),
    ]
    deposit = advance("AC1", 300_00, D(2026, 1, 10), order_ref="CMD-7")
    result = run(lines, [deposit])
    # Never to i0 although it is older and of exactly the same amount.
    assert triples(result) == [("AC1", "i1", 0, 300_00, D(2026, 2, 1), "same_reference")]


def test_advance_on_order_by_its_reference_as_invoice_number():
    lines = [due("i1", 500_00, D(2026, 2, 28), number="FA-9")]
    deposit = advance("AC1", 100_00, D(2026, 1, 10), reference="FA-9")
    assert [t[5] for t in triples(run(lines, [deposit]))] == ["same_reference"]


def test_same_reference_payment_never_reaches_an_unbilled_line():
    lines = [due("FAE1", 100_00, D(2026, 1, 31), kind="unbilled", number="FAE-1")]
    credit = payment("P1", 100_00, D(2026, 2, 1), reference="FAE-1")
    result = run(lines, [credit])
    assert result.allocations == ()
    assert result.unmatched == (("P1", 100_00),)


def test_same_reference_credit_note_may_reach_an_unbilled_line():
    lines = [due("FAE1", 100_00, D(2026, 1, 31), kind="unbilled", number="FAE-1")]
    note = credit_note("A1", 100_00, D(2026, 2, 1), reference="FAE-1")
    assert [t[5] for t in triples(run(lines, [note]))] == ["same_reference"]


# -- rule 4: exact_amount --------------------------------------------------------------------


def test_exact_amount_picks_the_oldest_of_equal_candidates():
    lines = [
        due("i3", 250_00, D(2026, 3, 31)),
        due("i1", 250_00, D(2026, 1, 31)),
        due("i2", 250_00, D(2026, 2, 28)),
        due("i0", 100_00, D(2025, 12, 31)),
    ]
    credit = payment("P1", 250_00, D(2026, 4, 1))
    assert triples(run(lines, [credit])) == [("P1", "i1", 0, 250_00, D(2026, 4, 1), "exact_amount")]


def test_exact_amount_ties_on_due_date_by_issue_date_then_id():
    lines = [
        due("iB", 250_00, D(2026, 1, 31), issued_on=D(2026, 1, 2)),
        due("iA", 250_00, D(2026, 1, 31), issued_on=D(2026, 1, 2)),
        due("iC", 250_00, D(2026, 1, 31), issued_on=D(2026, 1, 1)),
    ]
    credits = [payment("P1", 250_00, D(2026, 2, 1)), payment("P2", 250_00, D(2026, 2, 2))]
    assert [(t[0], t[1]) for t in triples(run(lines, credits))] == [("P1", "iC"), ("P2", "iA")]


def test_exact_amount_matches_the_whole_invoice_over_its_instalments():
    lines = [
        due("i1", 30_00, D(2026, 1, 31), seq=0),
        due("i1", 70_00, D(2026, 3, 31), seq=1),
        due("i0", 10_00, D(2025, 12, 31)),
    ]
    credit = payment("P1", 100_00, D(2026, 2, 1))
    assert [(t[1], t[2], t[3], t[5]) for t in triples(run(lines, [credit]))] == [
        ("i1", 0, 30_00, "exact_amount"),
        ("i1", 1, 70_00, "exact_amount"),
    ]


def test_exact_amount_applies_to_credit_notes_too():
    lines = [due("i0", 10_00, D(2025, 12, 31)), due("i1", 80_00, D(2026, 1, 31))]
    note = credit_note("A1", 80_00, D(2026, 2, 1))
    assert [(t[1], t[5]) for t in triples(run(lines, [note]))] == [("i1", "exact_amount")]


def test_exact_amount_uses_what_is_left_after_stronger_rules():
    lines = [due("i1", 100_00, D(2026, 1, 31), number="N1"), due("i2", 60_00, D(2026, 2, 28))]
    credits = [
        payment("P1", 40_00, D(2026, 2, 1), reference="N1"),
        payment("P2", 60_00, D(2026, 2, 2)),
    ]
    # i1 has 60.00 left after P1 and is older than i2: P2 goes to i1.
    result = run(lines, credits, oldest_first=False)
    assert [(t[0], t[1], t[3], t[5]) for t in triples(result)] == [
        ("P1", "i1", 40_00, "same_reference"),
        ("P2", "i1", 60_00, "exact_amount"),
    ]


def test_exact_amount_each_invoice_taken_once():
    lines = [due("i1", 50_00, D(2026, 1, 31))]
    credits = [payment("P1", 50_00, D(2026, 2, 1)), payment("P2", 50_00, D(2026, 2, 2))]
    result = run(lines, credits, oldest_first=False)
    assert [(t[0], t[5]) for t in triples(result)] == [("P1", "exact_amount")]
    assert result.unmatched == (("P2", 50_00),)


def test_exact_amount_never_to_unbilled():
    lines = [due("FAE1", 50_00, D(2026, 1, 31), kind="unbilled")]
    result = run(lines, [payment("P1", 50_00, D(2026, 2, 1))])
    assert result.allocations == ()


# -- rule 5: oldest_first --------------------------------------------------------------------


def test_oldest_first_spreads_payments_over_the_oldest_due_lines():
    lines = [
        due("i2", 100_00, D(2026, 2, 28)),
        due("i1", 100_00, D(2026, 1, 31), seq=0),
        due("i1", 50_00, D(2026, 3, 31), seq=1),
    ]
    credits = [payment("P1", 130_00, D(2026, 3, 1)), payment("P2", 90_00, D(2026, 3, 2))]
    result = run(lines, credits)
    assert [(t[0], t[1], t[2], t[3], t[5]) for t in triples(result)] == [
        ("P1", "i1", 0, 100_00, "oldest_first"),
        ("P1", "i2", 0, 30_00, "oldest_first"),
        ("P2", "i2", 0, 70_00, "oldest_first"),
        ("P2", "i1", 1, 20_00, "oldest_first"),
    ]
    assert result.unmatched == ()


def test_oldest_first_is_a_setting():
    lines = [due("i1", 100_00, D(2026, 1, 31))]
    result = run(lines, [payment("P1", 30_00, D(2026, 3, 1))], oldest_first=False)
    assert result.allocations == ()
    assert result.unmatched == (("P1", 30_00),)


def test_oldest_first_only_for_payments():
    lines = [due("i1", 100_00, D(2026, 1, 31))]
    credits = [
        credit_note("A1", 30_00, D(2026, 3, 1)),
        advance("AC1", 20_00, D(2026, 3, 1), is_on_order=False),
    ]
    result = run(lines, credits)
    assert result.allocations == ()
    assert result.unmatched == (("A1", 30_00), ("AC1", 20_00))


def test_oldest_first_skips_unbilled_lines():
    lines = [
        due("FAE1", 100_00, D(2025, 12, 31), kind="unbilled"),
        due("i1", 100_00, D(2026, 1, 31)),
    ]
    result = run(lines, [payment("P1", 150_00, D(2026, 3, 1))])
    assert [(t[1], t[3]) for t in triples(result)] == [("i1", 100_00)]
    assert result.unmatched == (("P1", 50_00),)


def test_oldest_first_reaches_debit_lines():
    lines = [due("D1", 100_00, D(2026, 1, 31), kind="debit")]
    result = run(lines, [payment("P1", 40_00, D(2026, 3, 1))])
    assert [(t[1], t[5]) for t in triples(result)] == [("D1", "oldest_first")]


# -- advances on order and unbilled lines: never guessed ------------------------------------


@pytest.mark.parametrize("oldest_first", [True, False])
def test_advance_on_order_never_guessed(oldest_first):
    lines = [due("i1", 300_00, D(2026, 1, 31)), due("i2", 500_00, D(2026, 2, 28))]
    deposit = advance("AC1", 300_00, D(2026, 1, 10), order_ref="CMD-UNKNOWN")
    result = run(lines, [deposit], oldest_first=oldest_first)
    assert result.allocations == ()
    assert result.unmatched == (("AC1", 300_00),)


def test_advance_not_on_order_may_match_by_exact_amount_but_not_oldest_first():
    lines = [due("i1", 300_00, D(2026, 1, 31)), due("i2", 500_00, D(2026, 2, 28))]
    credits = [
        advance("AC1", 500_00, D(2026, 1, 10), is_on_order=False),
        advance("AC2", 10_00, D(2026, 1, 11), is_on_order=False),
    ]
    result = run(lines, credits)
    assert [(t[0], t[1], t[5]) for t in triples(result)] == [("AC1", "i2", "exact_amount")]
    assert result.unmatched == (("AC2", 10_00),)


@pytest.mark.parametrize(
    "credit",
    [
        payment("P1", 100_00, D(2026, 2, 1)),
        payment("P1", 100_00, D(2026, 2, 1), reference="nothing"),
        credit_note("P1", 100_00, D(2026, 2, 1)),
        advance("P1", 100_00, D(2026, 2, 1), is_on_order=False),
    ],
    ids=["payment", "payment-with-reference", "credit-note", "advance"],
)
def test_unbilled_lines_never_receive_guessed_credits(credit):
    lines = [
        due("FAE1", 100_00, D(2025, 12, 31), kind="unbilled"),
        due("FAE2", 40_00, D(2025, 11, 30), kind="unbilled"),
    ]
    result = run(lines, [credit])
    assert result.allocations == ()
    assert result.unmatched == (("P1", 100_00),)


# -- dates, unmatched, determinism -----------------------------------------------------------


@pytest.mark.parametrize(
    ("credit", "expected"),
    [
        # a payment received before the invoice was issued: dated the issue date
        (payment("P1", 100_00, D(2026, 1, 5), reference="N1"), D(2026, 1, 20)),
        (payment("P1", 100_00, D(2026, 2, 5), reference="N1"), D(2026, 2, 5)),
        # a link dated before both documents is moved to the later one
        (
            payment("P1", 100_00, D(2026, 1, 5), links=(("i1", 100_00, D(2026, 1, 1)),)),
            D(2026, 1, 20),
        ),
        # a match date before both documents too
        (
            payment("P1", 100_00, D(2026, 1, 25), match_ref="G", matched_on=D(2026, 1, 2)),
            D(2026, 1, 25),
        ),
        (payment("P1", 100_00, D(2026, 1, 5)), D(2026, 1, 20)),  # exact amount
        (payment("P1", 90_00, D(2026, 1, 5)), D(2026, 1, 20)),  # oldest first
    ],
)
def test_allocation_never_dated_before_either_document(credit, expected):
    lines = [
        due("i1", 100_00, D(2026, 2, 28), issued_on=D(2026, 1, 20), number="N1", match_ref="G")
    ]
    result = run(lines, [credit])
    assert [a.allocated_on for a in result.allocations] == [expected]
    for allocation in result.allocations:
        assert allocation.allocated_on >= credit.on
        assert allocation.allocated_on >= lines[0].issued_on


def test_unmatched_lists_every_credit_with_something_left_in_date_order():
    lines = [due("i1", 100_00, D(2026, 1, 31))]
    credits = [
        credit_note("A2", 15_00, D(2026, 3, 1)),
        payment("P1", 130_00, D(2026, 2, 1)),
        advance("AC1", 20_00, D(2026, 1, 1)),
        payment("P2", 5_00, D(2026, 2, 2)),
    ]
    result = run(lines, credits)
    assert result.unmatched == (("AC1", 20_00), ("P1", 30_00), ("P2", 5_00), ("A2", 15_00))
    assert sum(a.amount for a in result.allocations) == 100_00


def test_nothing_to_match():
    assert run([], []) == Reconciliation(allocations=(), unmatched=(), settled_on={}, used_on={})
    assert run([], [payment("P1", 1, D(2026, 1, 1))]).unmatched == (("P1", 1),)
    assert run([due("i1", 1, D(2026, 1, 1))], []).allocations == ()


def test_allocation_amounts_are_minor_units_of_the_company_currency():
    result = reconcile([due("i1", 12345, D(2026, 1, 31))], [payment("P1", 12345, D(2026, 2, 1))])
    assert result.allocations[0].amount == 12345


def _fresh(items: list) -> list:
    """Copies with `left` reset: reconcile mutates its inputs."""
    return [
        type(item)(**{k: getattr(item, k) for k in item.__dataclass_fields__ if k != "left"})
        for item in items
    ]


def _mixed_case() -> tuple[list[DueItem], list[CreditItem]]:
    lines = [
        due("i1", 100_00, D(2026, 1, 31), number="N1"),
        due("i2", 100_00, D(2026, 1, 31), issued_on=D(2026, 1, 1)),
        due("i3", 100_00, D(2026, 1, 31), issued_on=D(2026, 1, 1)),
        due("i4", 50_00, D(2026, 2, 28), seq=0, match_ref="M"),
        due("i4", 50_00, D(2026, 3, 31), seq=1, match_ref="M"),
        due("i5", 70_00, D(2026, 2, 15), order_ref="CMD"),
        due("FAE", 80_00, D(2025, 12, 31), kind="unbilled"),
    ]
    credits = [
        payment("P1", 100_00, D(2026, 2, 1)),
        payment("P2", 100_00, D(2026, 2, 1)),
        payment("P3", 60_00, D(2026, 2, 1), match_ref="M"),
        payment("P4", 150_00, D(2026, 2, 3), reference="N1"),
        advance("AC", 30_00, D(2026, 1, 3), order_ref="CMD"),
        credit_note("A1", 45_00, D(2026, 2, 2), applies_to="i3"),
    ]
    return lines, credits


@pytest.mark.parametrize("seed", range(20))
def test_same_output_for_shuffled_inputs(seed):
    lines, credits = _mixed_case()
    expected = run(_fresh(lines), _fresh(credits))
    rng = random.Random(seed)  # noqa: S311 - a seeded shuffle, not a secret
    lines, credits = _fresh(lines), _fresh(credits)
    rng.shuffle(lines)
    rng.shuffle(credits)
    assert run(lines, credits) == expected


def test_settlement_dates_are_the_last_allocation_of_what_is_wholly_allocated():
    lines = [due("i1", 100_00, D(2026, 1, 31)), due("i2", 100_00, D(2026, 2, 28))]
    credits = [payment("P1", 60_00, D(2026, 2, 5)), payment("P2", 80_00, D(2026, 2, 20))]

    result = run(lines, credits)

    assert result.settled_on == {("i1", 0): D(2026, 2, 20)}  # 60 on 5 Feb, 40 on 20 Feb
    assert result.used_on == {"P1": D(2026, 2, 5), "P2": D(2026, 2, 20)}
