"""The dunning plan (plan de relance): which reminder each customer gets on a day.

A plan is a list of steps, each a number of days from a due line's due date (negative:
before it). The customary plan of the seed articles, the default:

    courtesy J−7, friendly J+3, firm J+15, pre_formal J+30, formal_notice J+45 (a letter)

As of a day D, a due line still open (something left to pay) has reached the last step whose
day (due date + days) is on or before D. A customer gets one reminder when at least one of
its open lines has reached a step higher than any step already sent for that line; the
reminder lists every open line of the customer at its highest step reached, and is of the
highest new step among them. So:

- a step is never sent twice for the same due line, and never after a higher one: a line
  first seen at J+20 gets the firm reminder only, not the friendly one it missed;
- a line paid (residual 0) is in no reminder;
- a customer on hold (a pause, a promise to pay until its date, a dispute) gets none; a
  dispute may hold a single invoice, whose lines are then left out.

What was sent is kept by the caller (the store) as (line, step days) and given back here.

Worked example (the test's), plan as above, nightly runs from 1 March to 29 April (60 days),
one customer: F1 due 10 March, F2 due 15 March, F1 paid on 1 April.
3 Mar courtesy (F1) · 8 Mar courtesy (F2; F1 listed, already sent) · 13 Mar friendly (F1)
· 18 Mar friendly (F2) · 25 Mar firm (F1) · 30 Mar firm (F2) · 9 Apr nothing (F1's J+30,
but F1 is paid) · 14 Apr pre_formal (F2) · 24 Apr nothing · 29 Apr formal_notice (F2, a
letter). Eight reminders, each step once per line.

The customer's record shows what comes next (`next_steps`): the step its earliest-due open
line gets next, with its day. In the example, as of 13 March after the friendly reminder:
"firm 2026-03-25" (F1's J+15).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class DunningStep:
    """One step: `name`, `days` from the due date, `channel` ("email" or "letter"), template."""

    name: str
    days: int
    channel: str = "email"
    template: str = ""


DEFAULT_STEPS = (
    DunningStep("courtesy", -7, "email", "courtesy.txt"),
    DunningStep("friendly", 3, "email", "friendly.txt"),
    DunningStep("firm", 15, "email", "firm.txt"),
    DunningStep("pre_formal", 30, "email", "pre_formal.txt"),
    DunningStep("formal_notice", 45, "letter", "formal_notice.txt"),
)

#: A due line across runs: (source, invoice id, due line number).
LineKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A due line still open as of the day, with what the reminder shows of it.

    Amounts in minor units; `residual` is what is left to pay of `amount`.
    """

    source: str
    customer_id: str
    invoice_id: str
    seq: int
    number: str | None
    issued_on: date
    due_on: date
    amount: int
    residual: int

    @property
    def key(self) -> LineKey:
        """The line's key across runs."""
        return (self.source, self.invoice_id, self.seq)

    @property
    def customer_key(self) -> str:
        """The customer's key across encours: `source:id`."""
        return f"{self.source}:{self.customer_id}"


@dataclass(frozen=True, slots=True)
class Hold:
    """A customer (or one invoice of it: `invoice_id`) kept out of the plan.

    `kind`: "pause", "promise" (until the promised date) or "dispute". Active from
    `since` to `until` included (None: until `resume`).
    """

    customer_key: str
    kind: str
    since: date
    until: date | None = None
    invoice_id: str | None = None
    reason: str = ""

    def active_on(self, day: date) -> bool:
        """Whether the hold applies on `day`."""
        return self.since <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """An open line in a reminder, at its highest step reached; `is_new`: not sent before."""

    item: OpenItem
    step: DunningStep
    is_new: bool


@dataclass(frozen=True)
class Reminder:
    """The one reminder of a customer on a day: of `step`, listing `lines`."""

    customer_key: str
    step: DunningStep
    lines: tuple[PlannedLine, ...]

    @property
    def new_lines(self) -> tuple[PlannedLine, ...]:
        """The lines whose step is sent by this reminder (what the store records)."""
        return tuple(line for line in self.lines if line.is_new)


def step_reached(due_on: date, as_of: date, steps: Sequence[DunningStep]) -> DunningStep | None:
    """The last step whose day (due date + days) is on or before `as_of`, if any.

    >>> step_reached(date(2026, 3, 10), date(2026, 3, 27), DEFAULT_STEPS).name
    'firm'
    >>> step_reached(date(2026, 3, 10), date(2026, 3, 2), DEFAULT_STEPS) is None
    True
    """
    reached = None
    for step in steps:
        if due_on + timedelta(days=step.days) <= as_of:
            reached = step
    return reached


def held(item: OpenItem, holds: Iterable[Hold], as_of: date) -> Hold | None:
    """The hold that keeps `item` out of the plan on `as_of`, if any."""
    for hold in holds:
        if (
            hold.customer_key == item.customer_key
            and hold.active_on(as_of)
            and hold.invoice_id in (None, item.invoice_id)
        ):
            return hold
    return None


def plan_reminders(
    items: Iterable[OpenItem],
    *,
    as_of: date,
    steps: Sequence[DunningStep],
    sent: Mapping[LineKey, int],
    holds: Sequence[Hold] = (),
) -> tuple[Reminder, ...]:
    """Today's reminders, one per customer that has a new step (see the module docstring).

    `sent` gives, per line, the days of the highest step already sent for it. Reminders
    are ordered by customer key; lines by due date, invoice and line number.
    """
    by_customer: dict[str, list[PlannedLine]] = {}
    for item in items:
        if item.residual <= 0 or held(item, holds, as_of):
            continue
        step = step_reached(item.due_on, as_of, steps)
        if step is None:
            continue
        is_new = item.key not in sent or step.days > sent[item.key]
        by_customer.setdefault(item.customer_key, []).append(PlannedLine(item, step, is_new))
    reminders = []
    for customer_key in sorted(by_customer):
        lines = sorted(
            by_customer[customer_key],
            key=lambda line: (line.item.due_on, line.item.invoice_id, line.item.seq),
        )
        new = [line.step for line in lines if line.is_new]
        if new:
            top = max(new, key=lambda step: step.days)
            reminders.append(Reminder(customer_key, top, tuple(lines)))
    return tuple(reminders)


@dataclass(frozen=True, slots=True)
class NextStep:
    """The step a due line gets next and the day it falls due (`due_on + step.days`)."""

    item: OpenItem
    step: DunningStep
    on: date

    def __str__(self) -> str:
        """The step and its day, as the customer's record shows it: "firm 2026-03-25"."""
        return f"{self.step.name} {self.on.isoformat()}"


def next_step(
    item: OpenItem, *, as_of: date, steps: Sequence[DunningStep], sent_days: int | None
) -> NextStep | None:
    """The step `item` gets next, or None when the plan has nothing more for it.

    The step reached on `as_of` when it was not sent yet (the plan sends it today, or it is
    late); else the first step whose day is after `as_of` and past the one sent.
    `sent_days`: the days of the highest step sent for the line (None: none sent).

    Example, the default plan, F1 due 10 March: as of 13 March with nothing sent, friendly
    on 13 March (J+3); with friendly sent, firm on 25 March (J+15); with formal notice
    sent, None.
    """
    reached = step_reached(item.due_on, as_of, steps)
    if reached is not None and (sent_days is None or reached.days > sent_days):
        return NextStep(item, reached, item.due_on + timedelta(days=reached.days))
    for step in steps:
        on = item.due_on + timedelta(days=step.days)
        if on > as_of and (sent_days is None or step.days > sent_days):
            return NextStep(item, step, on)
    return None


def next_steps(
    items: Iterable[OpenItem],
    *,
    as_of: date,
    steps: Sequence[DunningStep],
    sent: Mapping[LineKey, int],
    holds: Sequence[Hold] = (),
) -> dict[str, NextStep]:
    """Per customer key, the next step of its earliest-due open line that has one coming.

    Lines are taken by due date, invoice and line number; a paid line, or one on hold on
    `as_of` (a pause, a promise, a dispute), has none. A customer with no step coming is
    not in the result.

    Example: F1 due 10 March (formal notice already sent), F2 due 15 March, nothing sent
    for it; as of 20 April: F1 has nothing more, so F2's "pre_formal 2026-04-14".
    """
    found: dict[str, NextStep] = {}
    for item in sorted(items, key=lambda i: (i.due_on, i.invoice_id, i.seq)):
        if item.customer_key in found or item.residual <= 0 or held(item, holds, as_of):
            continue
        coming = next_step(item, as_of=as_of, steps=steps, sent_days=sent.get(item.key))
        if coming is not None:
            found[item.customer_key] = coming
    return found
