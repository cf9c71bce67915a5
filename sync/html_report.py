"""`encours report --html FILE`: the figures as one self-contained page, in the reader's language.

One HTML file with its CSS inline and its charts as SVG drawn here (`svg_chart.py`): it
needs no network when opened (its Content-Security-Policy forbids any fetch and any
script), prints well, and reads with scripts off. It shows:

- the company's name and the as-of date;
- the total outstanding and its parts (overdue + not due + unbilled − unapplied; doubtful
  within it; drafts and receipts tied to no customer beside it);
- the aged balance as stacked bars, the company's and the top debtors';
- the DSO trend (count-back, or the configured method, and the best possible DSO) from
  the snapshots each sync keeps;
- the top debtors with days late, credit usage and hold, risk grade and its main reason;
- the money received and matched to no invoice, to review;
- the quarantine and balance-check counts.

Every text from a source (a customer's name, a reference) is escaped: a name like
`<script>` is shown as written. Each figure the tests compare with `status --json` carries
its JSON value in `data-value` (`data-field` names it, `data-customer` the customer).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from encours.sync import report, svg_chart
from encours.sync.display import MISSING, Display
from encours.sync.figures import CustomerFigures, Figures
from encours.sync.review_text import kind_name
from encours.sync.risk_text import main_reason, usage
from encours.sync.status_text import BUCKET_LABELS
from encours.sync.store import Store
from encours.sync.store.review import UnmatchedItem

#: How many customers the top debtors table and the ageing chart show.
TOP = 10
#: How many unmatched credits are listed (the largest first); `encours unmatched` has all.
UNMATCHED_SHOWN = 20
#: Each column of the aged balance, by its position among the positive columns.
BUCKET_COLOURS = ("#9e9e9e", "#4c9f70", "#f2c14e", "#f08a24", "#d9492b", "#8c1c13", "#4a0d0a")
DSO_COLOUR, BEST_COLOUR = "#1f5fa8", "#6fb3e0"
#: No fetch, no script: the page shows what is in it and nothing else.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1d1d1f; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0; } h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; }
.sub { color: #555; margin: .2rem 0 1.2rem; }
.cards { display: grid; gap: .6rem;
         grid-template-columns: repeat(auto-fill, minmax(12.5rem, 1fr)); }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; }
.card .label { color: #555; font-size: .85rem; } .card .value { font-size: 1.2rem; }
.card.main { border-color: #1f5fa8; } .card.main .value { font-size: 1.35rem; font-weight: 600; }
.formula { color: #555; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { padding: .3rem .45rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
th { text-align: left; color: #555; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.grade { display: inline-block; min-width: 1.4em; text-align: center; border-radius: 4px;
         font-weight: 700; color: #fff; }
.grade-A { background: #4c9f70; } .grade-B { background: #c99a1b; }
.grade-C { background: #e0702b; } .grade-D { background: #b2182b; }
.hold { color: #b2182b; font-weight: 600; }
.reason { color: #555; font-size: .85rem; }
.warn { color: #b2182b; } .ok { color: #2e7d32; }
svg { max-width: 100%; height: auto; }
footer { margin-top: 2.5rem; color: #777; font-size: .8rem; }
@media print { body { margin: 0; max-width: none; } section { break-inside: avoid; } }
"""


@dataclass(frozen=True)
class ReportData:
    """What the page shows: the figures, their history, the money to review, whose they are."""

    figures: Figures
    company: str | None
    trend: Sequence[tuple[date, Decimal | None, Decimal | None]]  # as of, DSO, best possible
    unmatched: Sequence[UnmatchedItem]


def read_report(store: Store, figures: Figures, company: str | None) -> ReportData:
    """The report's data, as of the figures' date.

    The figures given, the company's DSO at each stored snapshot up to their date (and
    theirs for that date, whether or not a snapshot holds it), the unmatched money.
    """
    trend: dict[date, tuple[Decimal | None, Decimal | None]] = {}
    for as_of, indicators in store.snapshot_series("", figures.as_of):
        dso, best = indicators.get("dso"), indicators.get("best_possible_dso")
        trend[as_of] = (_decimal(dso), _decimal(best))
    trend[figures.as_of] = (figures.total.dso, figures.total.best_possible_dso)
    return ReportData(
        figures=figures,
        company=company,
        trend=[(day, *trend[day]) for day in sorted(trend)],
        unmatched=store.unmatched_items(figures.as_of),
    )


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def render(data: ReportData, display: Display) -> str:
    """The whole page as text."""
    _ = display._
    figures = data.figures
    title = (
        _("Receivables of {company}").format(company=data.company)
        if data.company
        else _("Receivables")
    )
    as_of = _("as of {date}").format(date=display.date(figures.as_of))
    made_by = _("Made by encours from the store, as of {date}.")
    body = "\n".join(
        [
            f"<header><h1>{escape(title)}</h1>"
            f'<p class="sub" data-field="as_of" data-value="{figures.as_of.isoformat()}">'
            f"{escape(as_of)}</p></header>",
            *sections(data, display),
            _element("footer", made_by.format(date=display.date(figures.as_of))),
        ]
    )
    return page(f"{title} — {as_of}", body, display)


def sections(data: ReportData, display: Display) -> list[str]:
    """The report's sections, from the totals to the checks (a firm's page has one each)."""
    figures = data.figures
    return [
        *_totals(figures, display),
        *_ageing(figures, display),
        *_trend(data, display),
        *_debtors(figures, display),
        *_unmatched(data, display),
        *_checks(figures, display),
    ]


def page(title: str, body: str, display: Display) -> str:
    """A whole self-contained document: the policy, the style, the title, the body."""
    return (
        f'<!DOCTYPE html>\n<html lang="{display.language}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _heading(text: str) -> str:
    """A section's start and its title."""
    return f"<section><h2>{escape(text)}</h2>"


def _element(tag: str, text: str, css: str = "") -> str:
    """A text in an element, escaped."""
    attribute = f' class="{css}"' if css else ""
    return f"<{tag}{attribute}>{escape(text)}</{tag}>"


def _note(text: str) -> str:
    """A line of explanation under a table or a chart."""
    return _element("p", text, "formula")


def _money(units: int, currency: str, display: Display, field: str, **attrs: str) -> str:
    """An amount in words with its JSON value beside it, for the tests and for a reader's tools."""
    extra = "".join(f' data-{name}="{escape(value)}"' for name, value in attrs.items())
    return (
        f'<span data-field="{field}" data-value="{report.amount(units, currency)}"{extra}>'
        f"{escape(display.money(units, currency))}</span>"
    )


def _totals(figures: Figures, display: Display) -> Iterator[str]:
    _ = display._
    aged, currency = figures.total.aged, figures.currency
    cards = [
        ("main", _("Outstanding"), "outstanding", aged.outstanding),
        ("", _("Overdue"), "overdue", aged.overdue),
        ("", _("Not due"), "not_due", aged.not_due),
        ("", _("Unbilled"), "unbilled", aged.unbilled),
        ("", _("Unapplied"), "unapplied", aged.unapplied),
        ("", _("of which doubtful"), "doubtful", aged.doubtful),
        ("", _("Drafts (in no figure)"), "drafts", figures.drafts),
        ("", _("Receipts tied to no customer"), "unidentified_receipts", figures.unidentified),
    ]
    yield _heading(_("Total")) + '<div class="cards">'
    for kind, label, field, units in cards:
        yield (
            f'<div class="card {kind}"><div class="label">{escape(label)}</div>'
            f'<div class="value">{_money(units, currency, display, field, customer="")}</div></div>'
        )
    yield "</div>"
    formula = _(
        "Outstanding {outstanding} = overdue {overdue} + not due {not_due} + unbilled "
        "{unbilled} - unapplied {unapplied}"
    ).format(
        outstanding=display.money(aged.outstanding, currency),
        overdue=display.money(aged.overdue, currency),
        not_due=display.money(aged.not_due, currency),
        unbilled=display.money(aged.unbilled, currency),
        unapplied=display.money(aged.unapplied, currency),
    )
    yield _note(formula) + "</section>"


def _bar(
    label: str, customer: CustomerFigures | None, figures: Figures, display: Display
) -> svg_chart.Bar:
    """One ageing bar: the positive columns, unbilled and not due first, then by lateness."""
    _ = display._
    aged = customer.figures.aged if customer else figures.total.aged
    columns = [(name, value) for name, value in aged.buckets if name != "unapplied"]
    return svg_chart.Bar(
        label,
        [
            svg_chart.Segment(
                _(BUCKET_LABELS.get(name, name)),
                value,
                BUCKET_COLOURS[min(position, len(BUCKET_COLOURS) - 1)],
                display.money(value, figures.currency),
            )
            for position, (name, value) in enumerate(columns)
        ],
    )


def _ageing(figures: Figures, display: Display) -> Iterator[str]:
    _ = display._
    title = _("Aged balance")
    bars = [_bar(_("Company"), None, figures, display)]
    bars += [_bar(c.name, c, figures, display) for c in figures.worst_first()[:TOP]]
    yield f"<section><h2>{escape(title)}</h2>"
    yield svg_chart.stacked_bars(bars, title)
    aged = figures.total.aged
    columns = ", ".join(
        f"{_(BUCKET_LABELS.get(name, name))} {display.money(value, figures.currency)}"
        for name, value in aged.buckets
    )
    yield _note(_("Company aged balance: {buckets}").format(buckets=columns))
    yield "</section>"


def _trend(data: ReportData, display: Display) -> Iterator[str]:
    _ = display._
    total = data.figures.total
    title = _("DSO trend")
    method = _(total.dso_method)
    series = [
        svg_chart.Series(
            _("DSO ({method})").format(method=method),
            DSO_COLOUR,
            [(day, dso) for day, dso, _best in data.trend],
        ),
        svg_chart.Series(
            _("best possible DSO"), BEST_COLOUR, [(day, best) for day, _dso, best in data.trend]
        ),
    ]
    yield f"<section><h2>{escape(title)}</h2>"
    yield svg_chart.line_chart(
        series,
        title,
        day_text=_("days"),
        date_text={day: display.date(day) for day, _dso, _best in data.trend},
    )
    summary = _(
        "Company DSO ({method}): {dso} days; best possible {best}, average days delinquent "
        "{delinquent}"
    ).format(
        method=method,
        dso=_days(total.dso, "dso", display),
        best=_days(total.best_possible_dso, "best_possible_dso", display),
        delinquent=_days(total.average_days_delinquent, "average_days_delinquent", display),
    )
    yield f'<p class="formula">{summary}</p>'
    if len(data.trend) < 2:
        yield _note(_("One snapshot so far: each sync adds one."))
    if total.dso is None:
        no_sales = _("{missing} DSO: no sales in the DSO period, so no DSO to compute")
        yield _note(no_sales.format(missing=MISSING))
    yield "</section>"


def _days(value: Decimal | int | None, field: str, display: Display, customer: str = "") -> str:
    """Days in words, their JSON value beside (null shows « — »); already escaped."""
    shown = escape(display.days(value))
    if isinstance(value, int):
        json_value = str(value)
    else:
        json_value = report.days(value) or ""
    return (
        f'<span data-field="{field}" data-value="{json_value}" '
        f'data-customer="{escape(customer)}">{shown}</span>'
    )


def _debtors(figures: Figures, display: Display) -> Iterator[str]:
    _ = display._
    currency = figures.currency
    header = [
        ("", _("customer")),
        ("num", _("outstanding")),
        ("num", _("overdue")),
        ("num", _("late (days)")),
        ("num", _("DSO (days)")),
        ("num", _("credit used")),
        ("", _("risk")),
    ]
    yield _heading(_("Top debtors")) + "<table><thead><tr>"
    yield "".join(f'<th class="{kind}">{escape(label)}</th>' for kind, label in header)
    yield "</tr></thead><tbody>"
    for customer in figures.worst_first()[:TOP]:
        key = customer.customer_id
        aged = customer.figures.aged
        hold = " " + _element("span", _("on hold"), "hold") if customer.credit.on_hold else ""
        grade = customer.risk.grade
        numbers = [
            _money(aged.outstanding, currency, display, "outstanding", customer=key),
            _money(aged.overdue, currency, display, "overdue", customer=key),
            _days(aged.oldest_overdue_days, "oldest_overdue_days", display, key),
            _days(customer.figures.dso, "dso", display, key),
        ]
        yield (
            f'<tr data-customer="{escape(key)}">'
            f"<td>{escape(customer.name)} ({escape(key)})</td>"
            + "".join(f'<td class="num">{number}</td>' for number in numbers)
            + f'<td class="num">{escape(usage(customer, display))}{hold}</td>'
            f'<td><span class="grade grade-{grade}" data-field="risk_grade" data-value="{grade}" '
            f'data-customer="{escape(key)}">{grade}</span> '
            f'<span class="reason">{escape(main_reason(customer.risk, display))}</span></td></tr>'
        )
    yield "</tbody></table></section>"


def _unmatched(data: ReportData, display: Display) -> Iterator[str]:
    _ = display._
    currency = data.figures.currency
    items = sorted(data.unmatched, key=lambda item: (-item.left_over, item.on_date))
    total = sum(item.left_over for item in items)
    yield _heading(_("Money to review: received and matched to no invoice"))
    if not items:
        yield _element("p", _("No money waits to be matched.")) + "</section>"
        return
    counted = _("{count} credit(s), {amount} not matched")
    yield _element("p", counted.format(count=len(items), amount=display.money(total, currency)))
    header = [
        ("", _("customer")),
        ("", _("date")),
        ("", _("kind")),
        ("", _("reference")),
        ("num", _("amount")),
        ("num", _("not matched")),
    ]
    yield "<table><thead><tr>"
    yield "".join(f'<th class="{kind}">{escape(label)}</th>' for kind, label in header)
    yield "</tr></thead><tbody>"
    for item in items[:UNMATCHED_SHOWN]:
        who = (
            f"{item.customer_name or item.customer_id} ({item.customer_id})"
            if item.customer_id
            else _("(no customer)") + f" [{item.source}]"
        )
        yield (
            f"<tr><td>{escape(who)}</td><td>{escape(display.date(item.on_date))}</td>"
            f"<td>{escape(kind_name(item.kind, display))}</td>"
            f"<td>{escape(item.reference or item.external_id)}</td>"
            f'<td class="num">{escape(display.money(item.amount, currency))}</td>'
            f'<td class="num">{escape(display.money(item.left_over, currency))}</td></tr>'
        )
    yield "</tbody></table>"
    if len(items) > UNMATCHED_SHOWN:
        more = _("and {count} more: `encours unmatched` lists them all").format(
            count=len(items) - UNMATCHED_SHOWN
        )
        yield _note(more)
    yield "</section>"


def _checks(figures: Figures, display: Display) -> Iterator[str]:
    _ = display._
    yield _heading(_("Checks")) + "<ul>"
    quarantined = _("{count} record(s) wait in quarantine: run `encours quarantine`").format(
        count=figures.quarantined
    )
    css = "warn" if figures.quarantined else "ok"
    yield (
        f'<li class="{css}" data-field="quarantined" data-value="{figures.quarantined}">'
        f"{escape(quarantined)}</li>"
    )
    checked, differing = len(figures.checked), len(figures.differing)
    agree = _(
        "Balance check: {differ} of {checked} customer(s) differ from their source's own balance"
    ).format(differ=differing, checked=checked)
    yield (
        f'<li class="{"warn" if differing else "ok"}" data-field="balance_check" '
        f'data-value="{checked}/{differing}">{escape(agree)}</li>'
    )
    for customer in figures.differing:
        check = customer.balance_check
        if check is not None:
            yield (
                f"<li>{escape(customer.name)} ({escape(customer.customer_id)}): "
                f"{escape(display.money(check.difference, figures.currency))}</li>"
            )
    yield "</ul></section>"
