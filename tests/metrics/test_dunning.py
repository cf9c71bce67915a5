"""The dunning plan: the calendar of the docstring, holds, and the property across nightly runs."""

from __future__ import annotations

import doctest
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from encours.metrics import dunning as dunning_module
from encours.metrics import terms as terms_module
from encours.metrics.dunning import (
    DEFAULT_STEPS,
    Hold,
    OpenItem,
    next_step,
    next_steps,
    plan_reminders,
)
from encours.metrics.terms import breaks_terms_cap, latest_lawful_due_date

START = date(2026, 3, 1)


def item(invoice: str, due_on: date, residual: int = 100_000, customer: str = "C1") -> OpenItem:
    return OpenItem(
        "books", customer, invoice, 0, invoice, due_on - timedelta(30), due_on, 100_000, residual
    )


def test_doctests():
    for module in (dunning_module, terms_module):
        result = doctest.testmod(module)
        assert result.attempted > 0
        assert result.failed == 0


def run_nights(items_on, nights: int, holds=()):
    """Plan every night from START, recording the new steps as the store does."""
    sent: dict = {}
    calendar = []
    for offset in range(nights):
        day = START + timedelta(days=offset)
        for reminder in plan_reminders(
            items_on(day), as_of=day, steps=DEFAULT_STEPS, sent=sent, holds=holds
        ):
            calendar.append(
                (
                    day.isoformat(),
                    reminder.step.name,
                    [
                        (line.item.invoice_id, line.step.name, line.is_new)
                        for line in reminder.lines
                    ],
                )
            )
            for line in reminder.new_lines:
                assert line.step.days > sent.get(line.item.key, -(10**6))
                sent[line.item.key] = line.step.days
    return calendar


def test_the_calendar_of_one_customer_over_60_days():
    # F1 due 10 March, F2 due 15 March, F1 paid on 1 April (open until 31 March).
    def open_items(day):
        items = [item("F2", date(2026, 3, 15))]
        if day < date(2026, 4, 1):
            items.append(item("F1", date(2026, 3, 10)))
        return items

    calendar = run_nights(open_items, 60)
    assert calendar == [
        ("2026-03-03", "courtesy", [("F1", "courtesy", True)]),
        ("2026-03-08", "courtesy", [("F1", "courtesy", False), ("F2", "courtesy", True)]),
        ("2026-03-13", "friendly", [("F1", "friendly", True), ("F2", "courtesy", False)]),
        ("2026-03-18", "friendly", [("F1", "friendly", False), ("F2", "friendly", True)]),
        ("2026-03-25", "firm", [("F1", "firm", True), ("F2", "friendly", False)]),
        ("2026-03-30", "firm", [("F1", "firm", False), ("F2", "firm", True)]),
        ("2026-04-14", "pre_formal", [("F2", "pre_formal", True)]),
        ("2026-04-29", "formal_notice", [("F2", "formal_notice", True)]),
    ]


def test_a_line_first_seen_late_gets_its_highest_step_only():
    calendar = run_nights(lambda day: [item("F1", date(2026, 2, 10))], 1)
    assert calendar == [("2026-03-01", "firm", [("F1", "firm", True)])]


def test_a_promise_holds_until_its_date_and_a_dispute_holds_one_invoice():
    promise = Hold("books:C1", "promise", START, until=date(2026, 3, 20))
    calendar = run_nights(lambda day: [item("F1", date(2026, 3, 10))], 24, holds=(promise,))
    # Nothing until the promise ends; on 21 March the friendly step (J+3) is the highest.
    assert calendar == [("2026-03-21", "friendly", [("F1", "friendly", True)])]
    dispute = Hold("books:C1", "dispute", START, invoice_id="F1")
    both = [item("F1", date(2026, 3, 10)), item("F2", date(2026, 3, 10))]
    plan = plan_reminders(
        both, as_of=date(2026, 3, 13), steps=DEFAULT_STEPS, sent={}, holds=(dispute,)
    )
    assert [[line.item.invoice_id for line in r.lines] for r in plan] == [["F2"]]


@settings(max_examples=80, deadline=None)
@given(
    dues=st.lists(st.integers(min_value=-20, max_value=80), min_size=1, max_size=5),
    paid_after=st.lists(
        st.one_of(st.none(), st.integers(min_value=0, max_value=120)), min_size=5, max_size=5
    ),
    skipped=st.sets(st.integers(min_value=0, max_value=119), max_size=60),
)
def test_no_step_twice_for_a_line_and_no_paid_line_reminded(dues, paid_after, skipped):
    """Any nightly runs (some nights missed), any payments arriving: each step at most once
    per line, never a lower step after a higher one, and a paid line in no reminder."""
    lines = [(f"F{n}", START + timedelta(days=days), paid_after[n]) for n, days in enumerate(dues)]
    sent: dict = {}
    for offset in range(120):
        if offset in skipped:
            continue
        day = START + timedelta(days=offset)
        open_now = [
            item(invoice, due_on)
            for invoice, due_on, paid in lines
            if paid is None or day < START + timedelta(days=paid)
        ]
        for reminder in plan_reminders(open_now, as_of=day, steps=DEFAULT_STEPS, sent=sent):
            assert reminder.new_lines
            for line in reminder.lines:
                assert line.item in open_now  # a paid line is never in a reminder
            for line in reminder.new_lines:
                assert line.step.days > sent.get(line.item.key, -(10**6))
                sent[line.item.key] = line.step.days


def test_the_l441_10_cap():
    assert latest_lawful_due_date(date(2026, 1, 20)) == date(2026, 3, 31)
    assert not breaks_terms_cap(date(2026, 1, 20), date(2026, 3, 31))
    assert breaks_terms_cap(date(2026, 1, 20), date(2026, 4, 1))
    # 60 days net is always lawful; 90 days never is.
    for issued in (date(2026, 1, 1) + timedelta(days=n) for n in range(366)):
        assert not breaks_terms_cap(issued, issued + timedelta(days=60))
        assert breaks_terms_cap(issued, issued + timedelta(days=90))


F1_DUE = date(2026, 3, 10)


def _next(as_of: date, sent_days: int | None) -> str | None:
    coming = next_step(item("F1", F1_DUE), as_of=as_of, steps=DEFAULT_STEPS, sent_days=sent_days)
    return None if coming is None else str(coming)


def test_the_next_step_of_a_line_over_its_calendar():
    assert _next(date(2026, 3, 1), None) == "courtesy 2026-03-03"  # J-7 still to come
    assert _next(date(2026, 3, 13), None) == "friendly 2026-03-13"  # reached today, not sent
    assert _next(date(2026, 3, 13), 3) == "firm 2026-03-25"  # friendly sent: J+15 next
    assert _next(date(2026, 3, 27), -7) == "firm 2026-03-25"  # reached, late to be sent
    assert _next(date(2026, 4, 30), 45) is None  # formal notice sent: the plan is over


def test_next_steps_take_the_earliest_due_line_with_a_step_coming():
    items = [item("F2", date(2026, 3, 15)), item("F1", F1_DUE), item("F9", F1_DUE, customer="C9")]
    sent = {("books", "F1", 0): 45}
    holds = [Hold("books:C9", "dispute", START)]
    found = next_steps(items, as_of=date(2026, 4, 20), steps=DEFAULT_STEPS, sent=sent,
                       holds=holds)  # fmt: skip
    # F1 has had everything; F2's pre-formal step (J+30) is due; C9 is held: nothing.
    assert {key: str(step) for key, step in found.items()} == {"books:C1": "pre_formal 2026-04-14"}
    assert found["books:C1"].item.invoice_id == "F2"


def test_a_paid_line_has_no_next_step():
    items = [item("F1", F1_DUE, residual=0)]
    assert next_steps(items, as_of=date(2026, 3, 13), steps=DEFAULT_STEPS, sent={}) == {}
