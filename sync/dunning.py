"""A day of dunning: today's reminders with their penalties and messages, then sending them.

`dunning_day` reads the store (open items, what was sent, holds), asks the plan
(`metrics/dunning.py`) which customers get a reminder, computes the penalties and the
indemnity of their invoices (`metrics/penalties.py`) and renders each message. It writes
nothing. `send_day` then sends each e-mail (or writes each letter) and records its new steps
in the store, one reminder at a time: a reminder that fails is not recorded, and the next
run plans it again.

Example: as of 2026-03-13, customer books:C0001 has F1 (1 000.00, due 10 March): the plan
gives it the friendly step (J+3); penalties 3 days at 12.15 % = 1.00; the indemnity 40.00.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Protocol

from encours.errors import ConfigError
from encours.metrics.dunning import (
    Hold,
    NextStep,
    PlannedLine,
    Reminder,
    next_steps,
    plan_reminders,
)
from encours.metrics.penalties import DueLineHistory, UnknownRateError, invoice_penalties
from encours.metrics.terms import TermsBreach
from encours.model import CURRENCY_EXPONENTS
from encours.sync.config import Settings
from encours.sync.dunning_letters import LetterWriter, Message
from encours.sync.figures import Figures
from encours.sync.store import Store
from encours.sync.store.dunning import DunningLog


@dataclass(frozen=True)
class ReminderLine:
    """A line of a reminder, with its days late and penalties to date (minor units)."""

    planned: PlannedLine
    days_late: int
    penalty: int


@dataclass(frozen=True)
class DueReminder:
    """A reminder ready to go: to whom, what it lists, its amounts, its message."""

    reminder: Reminder
    name: str
    recipients: tuple[str, ...]
    lines: tuple[ReminderLine, ...]
    penalties: int
    indemnity: int
    late_invoices: int
    message: Message

    @property
    def total_residual(self) -> int:
        """What is left to pay of the lines listed."""
        return sum(line.planned.item.residual for line in self.lines)

    @property
    def grand_total(self) -> int:
        """Left to pay, penalties and indemnity."""
        return self.total_residual + self.penalties + self.indemnity


@dataclass(frozen=True)
class DunningDay:
    """Everything `encours dunning` shows for a day."""

    as_of: date
    currency: str
    reminders: tuple[DueReminder, ...]
    held: tuple[Hold, ...]
    breaches: tuple[TermsBreach, ...]
    notes: tuple[str, ...]


def dunning_day(store: Store, settings: Settings, as_of: date) -> DunningDay:
    """Today's reminders as of `as_of`, with penalties and messages; nothing is written.

    Raises:
        ConfigError: a business customer is late and no penalty rates cover the day.
    """
    log = DunningLog(store.db)
    items = log.open_items(as_of)
    holds = log.holds()
    plan = plan_reminders(
        items, as_of=as_of, steps=settings.dunning.plan(), sent=log.sent_steps(), holds=holds
    )
    names = {f"{c.source}:{c.external_id}": c.name for c in store.customers()}
    currency = settings.company.currency
    invoices: dict[tuple[str, str], list[DueLineHistory]] = {}
    reminder_items = [line.item for reminder in plan for line in reminder.lines]
    for (source, _, _), history in log.histories(reminder_items, as_of).items():
        invoices.setdefault((source, history.invoice_id), []).append(history)
    writer = LetterWriter(currency, settings.dunning.templates_dir)
    notes: set[str] = set()
    reminders = [
        _priced(reminder, invoices, settings, as_of, names, writer, notes) for reminder in plan
    ]
    active = tuple(hold for hold in holds if hold.active_on(as_of))
    return DunningDay(
        as_of=as_of,
        currency=currency,
        reminders=tuple(reminders),
        held=active,
        breaches=tuple(log.terms_breaches(as_of)),
        notes=tuple(sorted(notes)),
    )


def _priced(
    reminder: Reminder,
    invoices: dict[tuple[str, str], list[DueLineHistory]],
    settings: Settings,
    as_of: date,
    names: dict[str, str],
    writer: LetterWriter,
    notes: set[str],
) -> DueReminder:
    """The reminder with its penalties, indemnity and rendered message."""
    is_business = settings.penalties.is_business(reminder.customer_key)
    rates = settings.penalties.rate_table()
    exponent = CURRENCY_EXPONENTS[settings.company.currency]
    indemnity_each = int(settings.penalties.indemnity.scaleb(exponent))
    per_line: dict[tuple[str, int], tuple[int, int]] = {}
    indemnity = late_invoices = 0
    if rates is None and is_business and any(line.item.due_on < as_of for line in reminder.lines):
        raise ConfigError(
            "late-payment penalties need the rates: add [penalties.rates] to the "
            "configuration (see config.example.toml)"
        )
    for source, invoice_id in sorted(
        {(line.item.source, line.item.invoice_id) for line in reminder.lines}
    ):
        if rates is None:
            continue
        try:
            result = invoice_penalties(
                invoices[(source, invoice_id)],
                as_of=as_of,
                rates=rates,
                is_business=is_business,
                indemnity=indemnity_each,
            )
        except UnknownRateError as exc:
            raise ConfigError(f"{exc} (invoice {invoice_id})") from None
        for line in result.lines:
            per_line[(invoice_id, line.seq)] = (line.days_late, line.penalty)
            if line.assumed_from and line.penalty:
                notes.add(
                    f"penalty rates of the half-year from {line.assumed_from.isoformat()} "
                    "are not configured: the last ones known were used; add them to "
                    "[penalties.rates]"
                )
        indemnity += result.indemnity
        late_invoices += 1 if result.indemnity else 0
    lines = tuple(
        ReminderLine(
            planned,
            *per_line.get(
                (planned.item.invoice_id, planned.item.seq),
                (max(0, (as_of - planned.item.due_on).days), 0),
            ),
        )
        for planned in reminder.lines
    )
    penalties = sum(line.penalty for line in lines)
    name = names.get(reminder.customer_key, reminder.customer_key)
    total_residual = sum(line.planned.item.residual for line in lines)
    context = {
        "company": settings.company.name or "",
        "customer_name": name,
        "as_of": as_of,
        "step": reminder.step.name,
        "items": [
            {
                "number": line.planned.item.number or line.planned.item.invoice_id,
                "issued_on": line.planned.item.issued_on,
                "due_on": line.planned.item.due_on,
                "amount": line.planned.item.amount,
                "residual": line.planned.item.residual,
                "days_late": line.days_late,
                "penalty": line.penalty,
                "step": line.planned.step.name,
            }
            for line in lines
        ],
        "total_residual": total_residual,
        "penalties": penalties,
        "indemnity": indemnity,
        "indemnity_each": indemnity_each,
        "late_invoices": late_invoices,
        "grand_total": total_residual + penalties + indemnity,
    }
    return DueReminder(
        reminder=reminder,
        name=name,
        recipients=settings.dunning.recipients(reminder.customer_key),
        lines=lines,
        penalties=penalties,
        indemnity=indemnity,
        late_invoices=late_invoices,
        message=writer.render(reminder.step.template, context),
    )


def next_dunning_steps(store: Store, settings: Settings, as_of: date) -> dict[str, NextStep]:
    """Per customer key, the plan's next step as of `as_of` (`metrics/dunning.py`).

    Counts what was already sent and the holds recorded, as `dunning_day` does.
    """
    log = DunningLog(store.db)
    return next_steps(
        log.open_items(as_of),
        as_of=as_of,
        steps=settings.dunning.plan(),
        sent=log.sent_steps(),
        holds=log.holds(),
    )


def with_next_dunning_steps(store: Store, settings: Settings, figures: Figures) -> Figures:
    """The figures with each customer's next dunning step, for the push."""
    coming = next_dunning_steps(store, settings, figures.as_of)
    return replace(
        figures,
        customers=tuple(
            replace(customer, next_dunning_step=coming.get(customer.key))
            for customer in figures.customers
        ),
    )


class Mailer(Protocol):
    """What sends an e-mail (`sync/mail.py`'s SMTP mailer; a list in tests)."""

    def send(self, recipients: Sequence[str], subject: str, body: str) -> None:
        """Send one message, or raise."""


@dataclass(frozen=True)
class Sent:
    """What `send_day` did with each reminder: "sent", "written" (a letter) or "skipped"."""

    customer_key: str
    step: str
    outcome: str
    detail: str


def send_day(
    store: Store, day: DunningDay, *, mailer: Mailer | None, letters_dir: Path
) -> list[Sent]:
    """Send every e-mail reminder of `day`, write every letter, record each one in the store.

    A reminder with no address, or e-mails with no mailer (no `[dunning.smtp]`), is
    skipped and said; it is not recorded, so a later run sends it.
    """
    log = DunningLog(store.db)
    results = []
    for due in day.reminders:
        reminder = due.reminder
        if reminder.step.channel == "letter":
            path = _write_letter(letters_dir, day.as_of, due)
            recipients: tuple[str, ...] = (str(path),)
            outcome, detail = "written", str(path)
        elif not due.recipients:
            results.append(
                Sent(
                    reminder.customer_key,
                    reminder.step.name,
                    "skipped",
                    f'no address: add it to [dunning.contacts] "{reminder.customer_key}"',
                )
            )
            continue
        elif mailer is None:
            results.append(
                Sent(
                    reminder.customer_key,
                    reminder.step.name,
                    "skipped",
                    "sending e-mails needs [dunning.smtp] in the configuration",
                )
            )
            continue
        else:
            mailer.send(due.recipients, due.message.subject, due.message.body)
            recipients = due.recipients
            outcome, detail = "sent", ", ".join(due.recipients)
        with store.transaction():
            log.record_sent(
                reminder, sent_on=day.as_of, recipients=recipients, subject=due.message.subject
            )
        results.append(Sent(reminder.customer_key, reminder.step.name, outcome, detail))
    return results


def _write_letter(folder: Path, as_of: date, due: DueReminder) -> Path:
    """The letter as a text file `<date>-<customer>-<step>.txt` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", due.reminder.customer_key)
    path = folder / f"{as_of.isoformat()}-{safe}-{due.reminder.step.name}.txt"
    path.write_text(f"{due.message.subject}\n\n{due.message.body}", encoding="utf-8")
    return path
