"""Xero (Accounting API 2.0): sales invoices, credit notes, prepayments and overpayments.

What each document becomes (amounts are JSON decimals in the document's `CurrencyCode`):

- a contact: a `Customer` (its e-mail's domain, its `TaxNumber` as VAT number).
- an invoice (`ACCREC`): DRAFT, or SUBMITTED for approval, is a `DRAFT`; AUTHORISED or PAID an
  `Invoice` of `Total` due on `DueDate`, and its `Sale`; each of its `Payments` a `Payment`
  linked to it on its day. VOIDED or DELETED: nothing.
- a credit note (`ACCRECCREDIT`), AUTHORISED or PAID: a `CreditNote` of `Total` linked by its
  `Allocations` (invoice, amount, day), and a negative `Sale`; the rest (`RemainingCredit`)
  is unapplied credit. It counts once: from its own side, never from the invoice's list.
- a prepayment (`RECEIVE-PREPAYMENT`, an acompte) is an `Advance`, an overpayment
  (`RECEIVE-OVERPAYMENT`, a trop-perçu) a `Payment`, each with its allocations.
- money paid back out of a credit note, prepayment or overpayment (its `Payments`) is, as
  Xero books it, a debit on the customer's account settled by that credit: an `Invoice` of
  kind `DEBIT`, and the credit allocated to it on that day.
  Example: credit note 100.00 allocated 60.00 to INV-1 on 3 Mar, 40.00 refunded on 5 Mar:
  INV-1 is settled by 60.00; 40.00 is unapplied until 5 Mar, nothing after.

Xero's matching is explicit and complete (every payment names its invoice): no guessing.
Dates are `/Date(<ms>+0000)/`, midnight UTC of the organisation's day: read in UTC.

Incremental reads send `If-Modified-Since` (the position less `OVERLAP`, to the second) on
every list; Xero returns the changed documents, voided and deleted ones too. A void or a
deletion, or a payment deleted since (one `/Payments` call), turns the run into a full read:
only a full read lets sync remove records. The changed documents are held until that is known.

Calls: a full read is the sum of ceil(documents / 1000) over contacts, invoices, credit
notes, prepayments and overpayments (one call at least each: `pagination.pageCount` says
which page is the last); a nightly read the same over the changed ones, plus one. Paced at
58 calls a minute (Xero: 60 per minute and 5 000 a day per organisation).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import requests
from pydantic import ValidationError

from encours.connectors.base import Pull, validation_reasons
from encours.connectors.declarations.xero import BASE_URL
from encours.connectors.declarative import (
    DeclarativeSource,
    HttpSourceSpec,
    Stream,
    ToRecords,
)
from encours.connectors.http import HttpClient, HttpLimits, Pacer, PageRequest
from encours.model import (
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

PAGE_SIZE = 1000  # the largest `pageSize` Xero takes
RATE_LIMIT = (58, 60.0)  # 60 a minute per organisation; a margin for clocks that disagree
OVERLAP = timedelta(hours=1)
VERSION = 1
SINCE = "If-Modified-Since"
OPEN = {"AUTHORISED", "PAID"}
GONE = {"VOIDED", "DELETED"}


class XeroPages:
    """`page` from 1 and `pageSize`; the last page is `pagination.pageCount`, or a short one."""

    def first(self, request: PageRequest) -> PageRequest:
        """Page 1, as large as Xero allows."""
        return request.with_value("page", 1).with_value("pageSize", PAGE_SIZE)

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """The next page, or None after the last one."""
        page = int(request.params["page"])
        pages = (payload.get("pagination") or {}).get("pageCount")
        if (page >= pages) if isinstance(pages, int) else count < PAGE_SIZE:
            return None
        return request.with_value("page", page + 1)


class SinceInHeader(requests.Session):
    """A session that sends the "changed since" filter in Xero's header.

    The declarative source writes its filters as query parameters; Xero reads "changed
    since" from a header: this session moves that one there (logs show it as a query).
    """

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """`requests.Session.request`, with `If-Modified-Since` moved to the headers."""
        params = dict(kwargs.get("params") or {})
        if SINCE in params:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), SINCE: params.pop(SINCE)}
            kwargs["params"] = params
        return super().request(method, url, *args, **kwargs)


class Vanished:
    """A voided or deleted document read by a nightly read: sync must read everything."""

    def __init__(self, ident: str) -> None:
        self.ident = ident


def day(value: str) -> date:
    """`/Date(1767225600000+0000)/` or `2026-01-01T00:00:00`: the day, read in UTC."""
    if value.startswith("/Date("):
        return datetime.fromtimestamp(int(value[6:].split("+")[0].split(")")[0]) / 1000, UTC).date()
    return date.fromisoformat(value[:10])


def stamp(at: datetime) -> str:
    """`If-Modified-Since` as Xero takes it: UTC, to the second (the overlap covers the cut)."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def money(value: Any, currency: str) -> Money:
    """A JSON number, exact (the HTTP layer reads it as a Decimal): 1200.5 EUR -> 1200.50."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"amount {value!r} is not a number")
    return Money(amount=Decimal(value), currency=currency)


def to_contact(source: str, item: Any) -> list[Any]:
    """A Xero contact as the customer it is."""
    email, raw = item.get("EmailAddress") or "", json.dumps(item, default=str)
    return [Customer(source=source, external_id=item["ContactID"], name=item["Name"],
                     email_domain=email.rpartition("@")[2] or None,
                     vat_number=item.get("TaxNumber") or None, raw=raw)]  # fmt: skip


def _invoice(source: str, ident: str, customer: str, on: date, due: date, total: Money,
             **extra: Any) -> Invoice:  # fmt: skip
    line = DueLine(due_on=due, amount=total)
    return Invoice(source=source, external_id=ident, customer_id=customer, issued_on=on,
                   total=total, due_lines=(line,), **extra)  # fmt: skip


def to_invoice(source: str, item: Any) -> list[Any]:
    """An invoice, its sale and its payments (module docstring)."""
    ident, status, cur = item["InvoiceID"], item["Status"], item["CurrencyCode"]
    if status in GONE:
        return [Vanished(ident)]
    customer, total, on = item["Contact"]["ContactID"], money(item["Total"], cur), day(item["Date"])
    due, raw = day(item.get("DueDate") or item["Date"]), json.dumps(item, default=str)
    if total.amount <= 0:
        return []
    extra = (
        {"kind": InvoiceKind.DRAFT}
        if status not in OPEN
        else {"number": item.get("InvoiceNumber"), "due_date_assumed": not item.get("DueDate")}
    )
    records: list[Any] = [_invoice(source, ident, customer, on, due, total, raw=raw, **extra)]
    if status in OPEN:
        records.append(Sale(source=source, external_id=f"sale:{ident}", customer_id=customer,
                            booked_on=on, amount=total))  # fmt: skip
    for paid in item.get("Payments") or ():
        amount, paid_on = money(paid["Amount"], cur), day(paid["Date"])
        link = SourceAllocation(invoice_id=ident, amount=amount, allocated_on=paid_on)
        records.append(Payment(source=source, external_id=paid["PaymentID"], customer_id=customer,
                               on=paid_on, amount=amount, reference=paid.get("Reference"),
                               allocations=(link,)))  # fmt: skip
    return records


def to_credit(kind: type, id_key: str, source: str, item: Any) -> list[Any]:
    """A credit note, prepayment or overpayment: its allocations, its refunds as debits."""
    ident, status, cur = item[id_key], item["Status"], item["CurrencyCode"]
    if status not in OPEN:
        return [Vanished(ident)] if status in GONE else []
    customer, total, on = item["Contact"]["ContactID"], money(item["Total"], cur), day(item["Date"])
    links, records, refunds = [], [], set()
    for given in item.get("Allocations") or ():
        if not given.get("IsDeleted"):
            links.append(SourceAllocation(invoice_id=given["Invoice"]["InvoiceID"],
                                          amount=money(given["Amount"], cur),
                                          allocated_on=day(given["Date"])))  # fmt: skip
    for refund in item.get("Payments") or ():
        debit, amount = refund["PaymentID"], money(refund["Amount"], cur)
        paid_on = day(refund["Date"])
        records.append(
            _invoice(
                source,
                debit,
                customer,
                paid_on,
                paid_on,
                amount,
                kind=InvoiceKind.DEBIT,
                number=refund.get("Reference"),
            )
        )
        links.append(SourceAllocation(invoice_id=debit, amount=amount, allocated_on=paid_on))
        refunds.add(debit)
    applies = [link.invoice_id for link in links if link.invoice_id not in refunds]
    extra: dict[str, Any] = {"applies_to": applies[0]} if kind is CreditNote and applies else {}
    number = item.get("CreditNoteNumber") or item.get("Reference")
    records.append(kind(source=source, external_id=ident, customer_id=customer, on=on,
                        amount=total, reference=number, allocations=tuple(links),
                        raw=json.dumps(item, default=str), **extra))  # fmt: skip
    if kind is CreditNote:
        negative = Money(amount=-total.amount, currency=cur)
        records.append(Sale(source=source, external_id=f"sale:{ident}", customer_id=customer,
                            booked_on=on, amount=negative))  # fmt: skip
    return records


def guarded(stream: str, id_key: str, mapping: Callable[[str, Any], list[Any]]) -> ToRecords:
    """The mapping of one list; a document that does not fit is `Rejected` with why."""

    def to_records(source: str, item: Any, currency: str) -> list[Any]:
        try:
            return mapping(source, item)
        except ValidationError as exc:
            reason = validation_reasons(exc)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            reason = f"unexpected {stream} document ({type(exc).__name__}: {exc})"
        ident = str(item.get(id_key) or "?") if isinstance(item, dict) else "?"
        raw = json.dumps(item, default=str)
        return [Rejected(source=source, stream=stream, external_id=ident, reason=reason, raw=raw)]

    return to_records


def _stream(path: str, id_key: str, mapping: Callable[..., list[Any]], **params: str) -> Stream:
    return Stream(
        f"/{path}",
        path,
        XeroPages(),
        guarded(path, id_key, mapping),
        params,
        since_param=SINCE,
        since_format=stamp,
    )


SPEC = HttpSourceSpec((
    _stream("Contacts", "ContactID", to_contact, includeArchived="true"),
    _stream("Invoices", "InvoiceID", to_invoice, where='Type=="ACCREC"'),
    _stream("CreditNotes", "CreditNoteID", partial(to_credit, CreditNote, "CreditNoteID"),
            where='Type=="ACCRECCREDIT"'),
    _stream("Prepayments", "PrepaymentID", partial(to_credit, Advance, "PrepaymentID"),
            where='Type=="RECEIVE-PREPAYMENT"'),
    _stream("Overpayments", "OverpaymentID", partial(to_credit, Payment, "OverpaymentID"),
            where='Type=="RECEIVE-OVERPAYMENT"'),
), check_path="/Contacts", overlap=OVERLAP, version=VERSION)  # fmt: skip


def make_client(tenant_id: str, auth: Any, *, base_url: str = BASE_URL,
                limits: HttpLimits | None = None, **kwargs: Any) -> HttpClient:  # fmt: skip
    """An `HttpClient` for one organisation: its tenant header, paced under 60 a minute."""
    session = SinceInHeader()
    session.headers["xero-tenant-id"] = tenant_id
    kwargs.setdefault("pacer", Pacer(*RATE_LIMIT))
    return HttpClient(base_url, auth=auth, session=session, limits=limits, **kwargs)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class XeroSource:
    """The Xero reader: everything, or what changed since the position (module docstring)."""

    def __init__(self, source: str, http: HttpClient, *, currency: str,
                 now: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.source, self.currency, self._http = source, currency, http
        self._now = now or _utc_now

    def check(self) -> None:
        """Raise AuthError if Xero refuses the token or the tenant."""
        self._http.get("/Contacts", params={"page": 1, "pageSize": 1})

    def pull(self, position: str | None) -> Pull:
        """A full read streams; a nightly read holds the changes, a full read if one vanished."""
        started = self._now()
        read = DeclarativeSource(self.source, SPEC, self._http, currency=self.currency,
                                 now=lambda: started)  # fmt: skip
        pull = read.pull(position)
        if pull.replace_all:
            return Pull((r for r in pull.records if not isinstance(r, Vanished)), pull.position,
                        replace_all=True)  # fmt: skip
        changed = list(pull.records)
        if any(isinstance(r, Vanished) for r in changed) or self._payment_deleted(position):
            return self.pull(None)
        return Pull(iter(changed), pull.position, replace_all=False, unchanged=not changed)

    def _payment_deleted(self, position: str | None) -> bool:
        since = datetime.fromisoformat(json.loads(position or "{}")["since"]) - OVERLAP
        params = {"where": 'Status=="DELETED"', "page": 1, "pageSize": 1,
                  SINCE: stamp(since)}  # fmt: skip
        return bool(self._http.get("/Payments", params=params)["Payments"])
