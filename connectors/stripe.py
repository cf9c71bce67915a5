"""Stripe (API 2023-08-16, pinned): invoices, credit notes, and customer balances.

What each object becomes (amounts are integers in Stripe's minor unit of the currency, which
is ISO 4217's but for ISK, two decimals in Stripe's API, and MGA, none: `money`):

- a customer: a `Customer`; its `balance` below zero is credit Stripe applies to its *next*
  invoices: an `Advance` (never guessed onto an open invoice, so `is_on_order`), dated the
  day it is read, for Stripe lists the balance and not its history. Above zero it is owed and
  will be added to the next invoice: an `Invoice` of kind `UNBILLED`.
- an invoice: a draft is a `DRAFT`; a void one or one of no amount is nothing. Otherwise an
  `Invoice` of its `total` (plus any debt of the customer balance it took over), due on
  `due_date` (charged automatically: on its date), `is_doubtful` when marked uncollectible,
  and a `Sale`. What settled it, linked to it: the customer credit applied when it was
  finalised (`starting_balance - ending_balance`), an `Advance` used up on its date; and
  `amount_paid`, a `Payment` on `status_transitions.paid_at`.
  Example: total 1 000.00, credit note of 300.00 before payment, credit balance of 200.00
  applied, 500.00 paid: residual 0, and no money left unapplied.
- a credit note counts once: issued on an open invoice (`pre_payment`) it lowers what is due,
  a `CreditNote` linked to it; on a paid one (`post_payment`) it was refunded, settled out of
  band (both cancel it) or credited to the customer balance (counted there), so only its
  negative `Sale`. A void one is nothing.

Incremental reads use `/v1/events` (lists filter only on `created`): the changed objects
since the position less `OVERLAP`, each at its latest state (events come newest first, and
carry the object). A deletion or a void, or a customer balance that changed side (its record
would vanish), turns the run into a full read: only a full read lets sync remove records.
So does a position older than the events' 30-day retention. Stripe keeps events in the API
version of the account, not of the request: the mapping reads fields every version has.

Calls: a full read is ceil(customers / 100) + ceil(invoices / 100) + ceil(credit notes / 100);
a nightly read, ceil(events / 100), the objects being in the events. Paced at 24 requests/s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import chain
from typing import Any

import requests
from pydantic import ValidationError

from encours.connectors.base import Pull, validation_reasons
from encours.connectors.declarations.stripe import BASE_URL
from encours.connectors.declarative import DeclarativeSource, HttpSourceSpec, Stream, ToRecords
from encours.connectors.http import BearerAuth, HttpClient, HttpLimits, Pacer, PageRequest
from encours.model import (
    CURRENCY_EXPONENTS,
    Advance,
    CreditNote,
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    Rejected,
    Sale,
    SourceAllocation,
)

log = logging.getLogger("encours.stripe")

API_VERSION = "2023-08-16"  # the saved contract's; Basil (2025-03-31) removed invoice fields
PAGE_SIZE = 100  # `limit` ranges from 1 to 100
# 25 requests/s: each endpoint's default, and the sandbox's limit. Paced at 24: a window
# filled to the exact limit bounced off it on the real clock (bench/bench_api.py).
RATE_LIMIT = (24, 1.0)
RETENTION = timedelta(days=30) - timedelta(days=1)  # events are kept 30 days; a day's margin
OVERLAP = timedelta(hours=1)
VERSION = 1  # of the records made: a position of another version reads everything again
STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}  # where Stripe's minor unit is not ISO 4217's
EVENT_TYPES = [f"customer.{e}" for e in ("created", "updated", "deleted")] + [
    f"invoice.{e}" for e in ("created", "updated", "deleted", "finalized", "paid", "voided",
                             "marked_uncollectible")] + [  # fmt: skip
    f"credit_note.{e}" for e in ("created", "updated", "voided")]  # fmt: skip
GONE = {"customer.deleted", "invoice.deleted", "invoice.voided", "credit_note.voided"}


class StartingAfter:
    """Stripe's pages: the next one starts after the last object's id, while `has_more`."""

    def first(self, request: PageRequest) -> PageRequest:
        """The first page, as large as Stripe allows."""
        return request.with_value("limit", PAGE_SIZE)

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """The page after the last object of this one, or None when Stripe has no more."""
        if not payload.get("has_more") or not count:
            return None
        return request.with_value("starting_after", payload["data"][-1]["id"])


def money(units: Any, currency: str) -> Money:
    """Stripe's integer amount of minor units, exact.

    (1999, "eur") is 19.99 EUR, (500, "jpy") 500 JPY, (12300, "isk") 123 ISK; a fraction of a
    króna is refused, as the model refuses it.
    """
    code = currency.upper()
    if type(units) is not int:
        raise ValueError(f"amount {units!r} is not an integer of minor units")
    exponent = STRIPE_EXPONENTS.get(code, CURRENCY_EXPONENTS.get(code, 2))
    exact = Money(amount=Decimal(units).scaleb(-exponent), currency=code)  # checks both
    return Money.from_minor(exact.minor_units, code)


def _day(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, UTC).date()


def _id(value: Any) -> str:
    return str(value["id"] if isinstance(value, dict) else value)  # expanded or not


def _debit(source: str, ident: str, customer: str, on: date, due: date, total: Money,
           **extra: Any) -> Invoice:  # fmt: skip
    line = DueLine(due_on=due, amount=total)
    return Invoice(source=source, external_id=ident, customer_id=customer, issued_on=on,
                   total=total, due_lines=(line,), **extra)  # fmt: skip


def _settling(kind: type, source: str, ident: str, customer: str, invoice: str, on: date,
              amount: Money, **extra: Any) -> Any:  # fmt: skip
    link = SourceAllocation(invoice_id=invoice, amount=amount, allocated_on=on)
    return kind(source=source, external_id=ident, customer_id=customer, on=on, amount=amount,
                allocations=(link,), **extra)  # fmt: skip


def to_customer_records(source: str, item: Any, currency: str, *, today: date) -> list[Any]:
    """A customer, and its balance: credit as an `Advance`, debt as `UNBILLED`."""
    ident, balance, email = item["id"], item.get("balance") or 0, item.get("email") or ""
    name = item.get("name") or email or ident
    domain = email.rpartition("@")[2] or None
    records: list[Any] = [Customer(source=source, external_id=ident, name=name,
                                   email_domain=domain, raw=json.dumps(item))]  # fmt: skip
    amount = money(abs(balance), item.get("currency") or currency)
    if balance < 0:
        records.append(Advance(source=source, external_id=f"{ident}:credit", customer_id=ident,
                               on=today, amount=amount, reference="customer balance"))  # fmt: skip
    elif balance > 0:
        kind = InvoiceKind.UNBILLED
        records.append(_debit(source, f"{ident}:debit", ident, today, today, amount, kind=kind))
    return records


def to_invoice_records(source: str, item: Any, currency: str) -> list[Any]:
    """An invoice and what settled it (module docstring)."""
    status, ident, cur, customer = item["status"], item["id"], item["currency"], item["customer"]
    if status == "void" or item["total"] <= 0:
        return []
    customer, number = _id(customer), item.get("number")
    issued = _day(item.get("effective_at") or item["created"])
    due = _day(item["due_date"]) if item.get("due_date") else issued
    if status == "draft":
        return [_debit(source, ident, customer, issued, due, money(item["total"], cur),
                       kind=InvoiceKind.DRAFT, raw=json.dumps(item))]  # fmt: skip
    moved = item["starting_balance"] - item["ending_balance"]  # > 0: debt, < 0: credit used
    total = money(item["total"] + max(moved, 0), cur)
    records = [_debit(source, ident, customer, issued, due, total, number=number,
                      is_doubtful=status == "uncollectible", raw=json.dumps(item)),
               Sale(source=source, external_id=f"sale:{ident}", customer_id=customer,
                    booked_on=issued, amount=money(item["total"], cur))]  # fmt: skip
    paid_at = item["status_transitions"].get("paid_at")
    paid_on = _day(paid_at) if paid_at else issued
    for kind, suffix, units, on in ((Advance, "balance", -moved, issued),
                                    (Payment, "paid", item["amount_paid"], paid_on)):  # fmt: skip
        if units > 0:
            records.append(_settling(kind, source, f"{ident}:{suffix}", customer, ident, on,
                                     money(units, cur), reference=number))  # fmt: skip
    return records


def to_credit_note_records(source: str, item: Any, currency: str) -> list[Any]:
    """A credit note: linked to its invoice when issued before payment, else a sale only."""
    if item["status"] == "void":
        return []
    ident, amount = item["id"], money(item["amount"], item["currency"])
    customer, invoice = _id(item["customer"]), _id(item["invoice"])
    on = _day(item.get("effective_at") or item["created"])
    negative = Money(amount=-amount.amount, currency=amount.currency)
    records: list[Any] = [Sale(source=source, external_id=f"sale:{ident}", customer_id=customer,
                               booked_on=on, amount=negative)]  # fmt: skip
    if item["type"] == "pre_payment":
        records.append(_settling(CreditNote, source, ident, customer, invoice, on, amount,
                                 applies_to=invoice, reference=item.get("number"),
                                 raw=json.dumps(item)))  # fmt: skip
    return records


def to_records(kind: str, today: date) -> ToRecords:
    """The mapping of one kind of object; one that does not fit is `Rejected` with why."""
    mapping = MAPPINGS[kind] if kind != "customer" else partial(to_customer_records, today=today)

    def guarded(source: str, item: Any, currency: str) -> list[Any]:
        try:
            return mapping(source, item, currency)  # type: ignore[no-any-return]
        except ValidationError as exc:
            reason = validation_reasons(exc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = f"unexpected {kind} object ({type(exc).__name__}: {exc})"
        ident = str(item.get("id") or "?") if isinstance(item, dict) else "?"
        raw = json.dumps(item, default=str)
        return [Rejected(source=source, stream=kind, external_id=ident, reason=reason, raw=raw)]

    return guarded


MAPPINGS: dict[str, Callable[..., list[Any]]] = {"customer": to_customer_records,
    "invoice": to_invoice_records, "credit_note": to_credit_note_records}  # fmt: skip
PAGES = StartingAfter()


def _spec(today: date) -> HttpSourceSpec:
    streams = tuple(Stream(f"/v1/{kind}s", "data", PAGES, to_records(kind, today))
                    for kind in MAPPINGS)  # fmt: skip
    return HttpSourceSpec(streams, check_path="/v1/customers", version=VERSION)


def make_client(api_key: str, *, base_url: str = BASE_URL, limits: HttpLimits | None = None,
                **kwargs: Any) -> HttpClient:  # fmt: skip
    """An `HttpClient` for Stripe: bearer key, pinned version, paced under 25 requests/s."""
    session = requests.Session()
    session.headers["Stripe-Version"] = API_VERSION
    kwargs.setdefault("pacer", Pacer(*RATE_LIMIT))
    return HttpClient(base_url, auth=BearerAuth(api_key), session=session, limits=limits, **kwargs)


def _balance_vanished(data: Any) -> bool:
    """A customer balance gone to zero or to the other side: its record must go."""
    before = (data.get("previous_attributes") or {}).get("balance")
    after = data["object"].get("balance") or 0
    return bool(before) and (after == 0 or (before < 0) != (after < 0))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StripeSource:
    """The Stripe reader: a full read from the lists, or the changes from the events."""

    def __init__(self, source: str, http: HttpClient, *, currency: str,
                 now: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.source, self.currency, self._http = source, currency, http
        self._now = now or _utc_now

    def check(self) -> None:
        """Raise AuthError if Stripe refuses the key."""
        self._http.get("/v1/customers", params={"limit": 1})

    def pull(self, position: str | None) -> Pull:
        """Everything, or what the events say changed since `position` (less the overlap)."""
        started = self._now()
        new_position = json.dumps({"since": started.isoformat(), "v": VERSION})
        since = self._since(position, started)
        changed = None if since is None else self._changes(since - OVERLAP)
        if changed is None:
            read = DeclarativeSource(self.source, _spec(started.date()), self._http,
                                     currency=self.currency, now=lambda: started)  # fmt: skip
            return read.pull(None)
        today = started.date()
        records = chain.from_iterable(
            to_records(obj.get("object"), today)(self.source, obj, self.currency)
            for obj in changed.values()
        )
        return Pull(records, lambda: new_position, replace_all=False, unchanged=not changed)

    def _changes(self, start: datetime) -> dict[str, Any] | None:
        """Each object changed since `start`, at its latest state; None: read everything."""
        latest: dict[str, Any] = {}
        params = {"types[]": EVENT_TYPES, "created[gte]": int(start.timestamp())}
        for event in self._http.paginate("/v1/events", params=params, paginator=PAGES,
                                         items="data"):  # fmt: skip
            data = event["data"]
            if event["type"] in GONE or _balance_vanished(data):
                log.info("%s: %s since the last run: full read", self.source, event["type"])
                return None
            latest.setdefault(data["object"]["id"], data["object"])  # newest first
        return latest

    def _since(self, position: str | None, started: datetime) -> datetime | None:
        try:
            value = json.loads(position or "null") or {}
            since = datetime.fromisoformat(value["since"]) if value.get("v") == VERSION else None
        except (ValueError, KeyError, TypeError, AttributeError):
            since = None
        if since is not None and (since.tzinfo is None or started - since > RETENTION):
            log.info("%s: position past the events' retention: full read", self.source)
            return None
        return since
