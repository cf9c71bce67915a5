"""`encours dunning`: today's reminders, sending them (opt-in), and holds on customers.

Registered on the main command group by `cli.py`. Like every command it parses, calls
`sync`, prints; the clock is read here (the day of the run) and nowhere below.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import click

from encours.cli import App, _handled, echo, pass_app
from encours.errors import ConfigError

#: Where `dunning --date` leaves the day for the subcommands (`pause`, `promise`, ...).
DAY_KEY = "encours.dunning.day"

if TYPE_CHECKING:
    from encours.sync.dunning import DunningDay, Sent
    from encours.sync.store import Store


def _day(value: str | None) -> date:
    """The date given, else the day of the run: `dunning --date`, else today (local date)."""
    if value is None:
        context = click.get_current_context(silent=True)
        given = context.meta.get(DAY_KEY) if context else None
        return given or datetime.now(UTC).astimezone().date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-03-31") from None


@click.group(invoke_without_command=True)
@click.option(
    "--date",
    "date_text",
    metavar="DATE",
    help="The day of the run, and of a hold's start (default: today).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the actions as JSON.")
@click.option(
    "--send/--dry-run",
    default=False,
    help="Send the e-mails (needs [dunning.smtp]), write the letters and record them. "
    "Default: --dry-run, which only lists today's actions.",
)
@click.pass_context
@_handled
def dunning(ctx: click.Context, date_text: str | None, as_json: bool, send: bool) -> None:
    """Today's reminders (one per customer), penalties to date, and the L441-10 check.

    Each open due line reaches the steps of the plan ([dunning] steps, by default J-7,
    J+3, J+15, J+30, J+45); a customer gets one reminder when a line reaches a step not yet
    sent for it. Nothing is sent without --send; every reminder sent is recorded in the store
    and never sent again. Invoices whose terms exceed 60 days, or 45 days end of month, are
    listed (L441-10).

    \b
    Examples:
        encours dunning                       # what would be sent today
        encours dunning --date 2026-03-31 --json
        encours dunning --send                # from cron, after the nightly sync
        encours dunning promise C0001 2026-04-15
    """
    if date_text is not None:
        ctx.meta[DAY_KEY] = _day(date_text)
    if ctx.invoked_subcommand is not None:
        return
    from encours.sync.dunning import dunning_day, send_day
    from encours.sync.store import Store

    app = ctx.find_object(App)
    assert app is not None  # noqa: S101 - the main group always sets it
    settings = app.settings
    as_of = _day(date_text)
    if not send:
        with Store.reading(settings.store.path, url=settings.store.url) as store:
            day = dunning_day(store, settings, as_of)
        _print_day(day, None, as_json=as_json)
        return
    store = Store.open(settings.store.path, url=settings.store.url)
    try:
        day = dunning_day(store, settings, as_of)
        needs_mail = any(
            due.reminder.step.channel == "email" and due.recipients for due in day.reminders
        )
        mailer = _mailer(settings) if needs_mail else None
        with mailer or nullcontext():
            results = send_day(store, day, mailer=mailer, letters_dir=settings.dunning.letters_dir)
    finally:
        store.close()
    _print_day(day, results, as_json=as_json)


def _mailer(settings: Any) -> Any:
    """The SMTP mailer of `[dunning.smtp]`, or None when sending e-mails is not set up."""
    from encours.sync.mail import SECRET_NAME, SmtpMailer
    from encours.sync.secrets import get_secret

    smtp = settings.dunning.smtp
    if smtp is None:
        return None
    password = get_secret(SECRET_NAME, "password") if smtp.user else None
    return SmtpMailer(smtp, password)


def _day_json(day: DunningDay, results: list[Sent] | None) -> dict[str, Any]:
    from encours.sync.report import amount

    cur = day.currency
    outcomes = {(r.customer_key, r.step): r for r in results or []}
    reminders = []
    for due in day.reminders:
        key = due.reminder.customer_key
        outcome = outcomes.get((key, due.reminder.step.name))
        reminders.append(
            {
                "customer": key,
                "name": due.name,
                "step": due.reminder.step.name,
                "channel": due.reminder.step.channel,
                "to": list(due.recipients),
                "subject": due.message.subject,
                "lines": [
                    {
                        "invoice": line.planned.item.invoice_id,
                        "number": line.planned.item.number,
                        "issued_on": line.planned.item.issued_on.isoformat(),
                        "due_on": line.planned.item.due_on.isoformat(),
                        "amount": amount(line.planned.item.amount, cur),
                        "residual": amount(line.planned.item.residual, cur),
                        "days_late": line.days_late,
                        "step": line.planned.step.name,
                        "new": line.planned.is_new,
                        "penalty": amount(line.penalty, cur),
                    }
                    for line in due.lines
                ],
                "residual": amount(due.total_residual, cur),
                "penalties": amount(due.penalties, cur),
                "indemnity": amount(due.indemnity, cur),
                "total": amount(due.grand_total, cur),
                "outcome": outcome.outcome if outcome else "planned",
                "detail": outcome.detail if outcome else "",
            }
        )
    return {
        "as_of": day.as_of.isoformat(),
        "currency": cur,
        "sent": results is not None,
        "reminders": reminders,
        "held": [
            {
                "customer": hold.customer_key,
                "kind": hold.kind,
                "invoice": hold.invoice_id,
                "until": hold.until.isoformat() if hold.until else None,
                "reason": hold.reason,
            }
            for hold in day.held
        ],
        "terms_breaches": [
            {
                "customer": f"{breach.source}:{breach.customer_id}",
                "invoice": breach.invoice_id,
                "number": breach.number,
                "issued_on": breach.issued_on.isoformat(),
                "due_on": breach.due_on.isoformat(),
                "limit": breach.limit.isoformat(),
                "days_over": breach.days_over,
            }
            for breach in day.breaches
        ],
        "notes": list(day.notes),
    }


def _print_day(day: DunningDay, results: list[Sent] | None, *, as_json: bool) -> None:
    from encours.sync.report import printable

    document = _day_json(day, results)
    if as_json:
        echo(json.dumps(document, indent=1, ensure_ascii=False))
        return
    mode = "sent" if results is not None else "dry run: nothing sent, --send to send"
    echo(f"Dunning as of {document['as_of']} ({document['currency']}; {mode})")
    if not document["reminders"]:
        echo("No reminder today.")
    for row in document["reminders"]:
        to = ", ".join(row["to"]) or "NO ADDRESS: add it to [dunning.contacts]"
        channel = "letter" if row["channel"] == "letter" else f"e-mail to {to}"
        echo(
            f"{printable(row['customer'])} {printable(row['name'][:30])}: {row['step']} "
            f"({printable(channel)}) {row['residual']} due, penalties "
            f"{row['penalties']}, indemnity {row['indemnity']}, total {row['total']}"
            + (f" -> {row['outcome']} {printable(row['detail'])}" if results is not None else "")
        )
        for line in row["lines"]:
            echo(
                f"    {printable(line['number'] or line['invoice']):<16} due {line['due_on']} "
                f"{line['residual']:>12} {line['days_late']:>4} d late  {line['step']}"
                + (" (new)" if line["new"] else "")
                + (f"  penalty {line['penalty']}" if line["penalty"] != "0.00" else "")
            )
    for hold in document["held"]:
        until = f" until {hold['until']}" if hold["until"] else ""
        invoice = f" invoice {hold['invoice']}" if hold["invoice"] else ""
        echo(
            f"On hold: {printable(hold['customer'])}{invoice} ({hold['kind']}{until}) "
            f"{printable(hold['reason'])}"
        )
    if document["terms_breaches"]:
        echo("Terms over the legal cap (L441-10: 60 days, or 45 days end of month):")
    for breach in document["terms_breaches"]:
        echo(
            f"    {printable(breach['customer'])} "
            f"{printable(breach['number'] or breach['invoice'])} issued {breach['issued_on']} "
            f"due {breach['due_on']}: limit {breach['limit']}, {breach['days_over']} days over"
        )
    for note in document["notes"]:
        echo(f"encours: {note}", err=True)


def _customer_key(store: Store, given: str) -> str:
    """`source:id` of the customer `given` (its key, or its id when one source has it)."""
    keys = [f"{c.source}:{c.external_id}" for c in store.customers()]
    if given in keys:
        return given
    found = [key for key in keys if key.split(":", 1)[1] == given]
    if len(found) == 1:
        return found[0]
    if found:
        raise ConfigError(f"{given!r} names several customers: write one of {', '.join(found)}")
    raise ConfigError(f"no customer {given!r} in the store: `encours status` lists them")


def _hold(app: App, customer: str, kind: str, since: date, **fields: Any) -> str:
    from encours.metrics.dunning import Hold
    from encours.sync.store import Store
    from encours.sync.store.dunning import DunningLog

    store = Store.open(app.settings.store.path, url=app.settings.store.url)
    try:
        key = _customer_key(store, customer)
        with store.transaction():
            DunningLog(store.db).add_hold(Hold(key, kind, since, **fields))
    finally:
        store.close()
    return key


@dunning.command()
@click.argument("customer")
@click.option(
    "--until", "until_text", metavar="DATE", help="Last day of the pause (default: none)."
)
@click.option("--reason", default="", help="Why, for the record.")
@pass_app
@_handled
def pause(app: App, customer: str, until_text: str | None, reason: str) -> None:
    """Send a customer no reminder, until DATE or until `resume`.

    \b
    Example:
        encours dunning pause C0001 --until 2026-04-30 --reason "new contract"
    """
    until = _day(until_text) if until_text else None
    key = _hold(app, customer, "pause", _day(None), until=until, reason=reason)
    echo(f"{key}: no reminder " + (f"until {until}" if until else "until `resume`"))


@dunning.command()
@click.argument("customer")
@click.argument("promised", metavar="DATE")
@click.option("--reason", default="", help="Who promised what, for the record.")
@pass_app
@_handled
def promise(app: App, customer: str, promised: str, reason: str) -> None:
    """The customer promised to pay by DATE: no reminder until then.

    \b
    Example:
        encours dunning promise C0001 2026-04-15 --reason "phone call, M. Martin"
    """
    until = _day(promised)
    key = _hold(app, customer, "promise", _day(None), until=until, reason=reason)
    echo(f"{key}: no reminder until {until} (promise to pay)")


@dunning.command()
@click.argument("customer")
@click.option("--invoice", metavar="ID", help="Only this invoice is disputed (its id).")
@click.option("--reason", required=True, help="What the customer disputes.")
@pass_app
@_handled
def dispute(app: App, customer: str, invoice: str | None, reason: str) -> None:
    """A dispute (litige): no reminder for the customer, or for one invoice, until `resume`.

    \b
    Example:
        encours dunning dispute C0001 --invoice F2026-014 --reason "goods damaged"
    """
    key = _hold(app, customer, "dispute", _day(None), invoice_id=invoice, reason=reason)
    echo(f"{key}: " + (f"invoice {invoice} " if invoice else "") + "in dispute, no reminder")


@dunning.command()
@click.argument("customer")
@pass_app
@_handled
def resume(app: App, customer: str) -> None:
    """End the pauses, promises and disputes of a customer: dunned again from today.

    \b
    Example:
        encours dunning resume C0001
    """
    from encours.sync.store import Store
    from encours.sync.store.dunning import DunningLog

    store = Store.open(app.settings.store.path, url=app.settings.store.url)
    try:
        key = _customer_key(store, customer)
        with store.transaction():
            ended = DunningLog(store.db).end_holds(key, _day(None))
    finally:
        store.close()
    echo(f"{key}: {ended} hold(s) ended, dunned again from today")
