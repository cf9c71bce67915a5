"""Pennylane (public API v2): customers, invoices, credit notes and what is paid of them.

Incremental sync works from Pennylane's changelogs, because v2 lists have no `updated_at`
filter (VENDORS.md §2, checked 2026-11). The position is JSON, `{"processed_at": "<RFC 3339>"}`:

- no position (or one older than the 4-week changelog retention, minus a margin, or one that
  cannot be read): a full read of `/customers` and `/customer_invoices`, `replace_all=True`,
  and the new position is the run's start;
- otherwise `/changelogs/customers` and `/changelogs/customer_invoices` are read from the
  position minus `OVERLAP` (so a change recorded late is not missed; re-reading is harmless
  because sync upserts), then the changed ids are fetched from the list endpoints with an
  `id in [...]` filter, at most `PAGE_SIZE` ids a request, `replace_all=False`. The new
  position is the latest `processed_at` seen, never later than the run's start.
- a changelog that reports a deletion turns the run into a full read: only a full read lets
  sync remove records (`replace_all`), and deletions are rare (drafts).

Pennylane gives the remaining amount of an invoice but not the dated payments in the list, so
what is paid (total - `remaining_amount_with_tax`) becomes one `Payment` `paid:<invoice id>`
allocated to that invoice, dated the invoice's last change (`updated_at`), else its date: an
approximation of the payment date that may be late by as much as the invoice was edited after.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from encours.connectors.base import Pull, validation_reasons
from encours.connectors.http import (
    BearerAuth,
    CursorPaginator,
    HttpClient,
    Pacer,
    PageRequest,
    RetryPolicy,
)
from encours.errors import AuthError
from encours.model import (
    CreditNote,
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    PlausibleDate,
    Rejected,
    Sale,
    SourceAllocation,
    SourceRecord,
    convert,
)

__all__ = ["BASE_URL", "PAGE_SIZE", "PennylaneConnector", "make_client", "to_customer"]

log = logging.getLogger("encours.pennylane")

BASE_URL = "https://app.pennylane.com/api/external/v2"
PAGE_SIZE = 100  # lists cap `limit` at 100 and answer 400 above (VENDORS.md §2, checked 2026-11)
CHANGELOG_PAGE_SIZE = 1000  # changelogs allow up to 1000
ID_BATCH = 100  # changed ids asked per `id in [...]` filter
# Pennylane allows 25 requests per 5 s per token (pennylane.readme.io rate limiting). We pace
# at 24: a request is counted by us when sent and by the server when it arrives, so a window
# filled to the exact limit bounced off it (7 429s in a 250-call pull, bench/bench_api.py).
RATE_LIMIT = (24, 5.0)
# Opt in to the 2026 behaviour (cursor only, sort -id), the default from 2026-04-08.
HEADERS = {"X-Use-2026-API-Changes": "true"}
RETENTION = timedelta(weeks=4)  # changelogs keep 4 weeks; an older start_date is a 422
RETENTION_MARGIN = timedelta(days=3)
OVERLAP = timedelta(hours=1)

_PAGES = CursorPaginator("cursor", "next_cursor", has_more_path="has_more")
# payment_conditions -> (days, end of month)
_TERMS = {
    "upon_receipt": (0, False),
    "7_days": (7, False),
    "15_days": (15, False),
    "30_days": (30, False),
    "30_days_end_of_month": (30, True),
    "45_days": (45, False),
    "45_days_end_of_month": (45, True),
    "60_days": (60, False),
}


# ---------------------------------------------------------------------------------------------
# Wire models


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Ref(_Wire):
    id: int


class _PlCustomer(_Wire):
    id: int
    name: str
    vat_number: str | None = None
    reg_no: str | None = None
    payment_conditions: str | None = None
    emails: list[str] = []
    updated_at: datetime


class _PlInvoice(_Wire):
    id: int
    invoice_number: str | None = None
    currency: str = "EUR"
    currency_amount: Decimal  # total with tax, in the invoice's currency
    exchange_rate: Decimal | None = None
    date: PlausibleDate | None
    deadline: PlausibleDate | None = None
    remaining_amount_with_tax: Decimal | None = None
    status: str
    draft: bool = False
    customer: _Ref | None
    credited_invoice: _Ref | None = None
    updated_at: datetime


class _Change(_Wire):
    id: int
    operation: str  # insert | update | delete
    processed_at: datetime


# ---------------------------------------------------------------------------------------------
# Pure mapping


def _raw(item: Any) -> str:
    return json.dumps(item, default=str, sort_keys=True)


def _rejected(source: str, stream: str, item: Any, reason: str) -> Rejected:
    ident = item.get("id") if isinstance(item, dict) else None
    return Rejected(
        source=source,
        stream=stream,
        external_id=str(ident if ident is not None else "?"),
        reason=reason,
        raw=_raw(item),
    )


def to_customer(source: str, item: Any) -> Customer | Rejected:
    """Map a Pennylane customer (company or individual) to a `Customer`, or say why not."""
    try:
        raw = _PlCustomer.model_validate(item)
        reg_no = (raw.reg_no or "").replace(" ", "")
        days, end_of_month = _TERMS.get(raw.payment_conditions or "", (None, False))
        domain = raw.emails[0].rpartition("@")[2].lower() if raw.emails else None
        return Customer(
            source=source,
            external_id=str(raw.id),
            updated_at=raw.updated_at,
            raw=_raw(item),
            name=raw.name,
            siren=reg_no if len(reg_no) == 9 and reg_no.isdigit() else None,
            siret=reg_no if len(reg_no) == 14 and reg_no.isdigit() else None,
            vat_number=raw.vat_number or None,
            email_domain=domain or None,
            payment_terms_days=days,
            terms_end_of_month=end_of_month,
        )
    except ValidationError as exc:
        return _rejected(
            source, "customers", item, f"customer does not fit the model: {validation_reasons(exc)}"
        )


def to_invoice_records(
    source: str, item: Any, *, currency: str
) -> list[Invoice | CreditNote | Payment | Sale | Rejected]:
    """Map a Pennylane customer invoice to the common model (pure).

    A posted invoice gives an `Invoice` (kind `unbilled` when draft) with one due line on its
    `deadline`, plus a `Payment` `paid:<id>` for what is paid of it; a credit note gives a
    `CreditNote` that `applies_to` the credited invoice. Both give a `Sale` (negative for the
    credit note) so that DSO has its sales. `currency` is the company's: the
    `exchange_rate` is kept only for a document in another currency. A record that does not
    fit gives a `Rejected` saying why.
    """
    try:
        raw = _PlInvoice.model_validate(item)
        if raw.customer is None:
            raise ValueError("it has no customer; set one in Pennylane")
        if raw.date is None:
            raise ValueError("it has no date; set one in Pennylane")
        cur = raw.currency.upper()
        rate = raw.exchange_rate if cur != currency and raw.exchange_rate else None
        common: dict[str, Any] = {
            "source": source,
            "external_id": str(raw.id),
            "updated_at": raw.updated_at,
            "raw": _raw(item),
            "customer_id": str(raw.customer.id),
            "exchange_rate": rate,
        }
        total = Money(amount=abs(raw.currency_amount), currency=cur)
        if raw.status == "credit_note" or raw.currency_amount < 0:
            if raw.draft:  # not issued yet: it credits nothing
                return []
            applies_to = str(raw.credited_invoice.id) if raw.credited_invoice else None
            return [
                CreditNote(
                    **common,
                    on=raw.date,
                    amount=total,
                    reference=raw.invoice_number,
                    applies_to=applies_to,
                ),
                *_sale(common, raw.date, total, rate, currency, sign=-1),
            ]
        records: list[Invoice | CreditNote | Payment | Sale | Rejected] = [
            Invoice(
                **common,
                number=raw.invoice_number,
                issued_on=raw.date,
                total=total,
                due_lines=(DueLine(due_on=raw.deadline or raw.date, amount=total),),
                kind=InvoiceKind.UNBILLED if raw.draft else InvoiceKind.INVOICE,
                due_date_assumed=raw.deadline is None,
            )
        ]
        if not raw.draft:
            records.extend(_sale(common, raw.date, total, rate, currency, sign=1))
        left = raw.remaining_amount_with_tax
        paid = total.amount - left if left is not None else Decimal(0)
        if not raw.draft and paid > 0:
            amount = Money(amount=min(paid, total.amount), currency=cur)
            on = raw.updated_at.astimezone(UTC).date()  # approximation: see module docstring
            records.append(
                Payment(
                    **common | {"external_id": f"paid:{raw.id}"},
                    on=on,
                    amount=amount,
                    reference=raw.invoice_number,
                    allocations=(
                        SourceAllocation(invoice_id=str(raw.id), amount=amount, allocated_on=on),
                    ),
                )
            )
        return records
    except ValidationError as exc:
        reason = f"invoice does not fit the model: {validation_reasons(exc)}"
    except ValueError as exc:
        reason = f"invoice cannot be read: {exc}"
    return [_rejected(source, "customer_invoices", item, reason)]


def _sale(
    common: dict[str, Any],
    on: date,
    total: Money,
    rate: Decimal | None,
    currency: str,
    *,
    sign: int,
) -> list[Sale]:
    """The sale (TTC, for DSO) of a posted invoice, or its reversal by a credit note.

    Sales are kept in the company currency: a foreign document is converted with its own
    rate, and without one it gives no sale (the document itself goes to quarantine).
    """
    if total.currency != currency:
        if rate is None:
            return []
        total = convert(total, rate, currency)
    amount = Money(amount=sign * total.amount, currency=currency)
    return [
        Sale(
            source=common["source"],
            external_id=f"sale:{common['external_id']}",
            customer_id=common["customer_id"],
            booked_on=on,
            amount=amount,
            raw=common["raw"],
        )
    ]


# ---------------------------------------------------------------------------------------------
# The connector


@dataclass(frozen=True)
class _ChangelogPages:
    """Cursor pages of a changelog: `start_date` and `cursor` are exclusive (400 if both)."""

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        following = _PAGES.next(request, payload, count)
        if following is None:
            return None
        params = {k: v for k, v in following.params.items() if k != "start_date"}
        return PageRequest(following.url, params)


def make_client(
    token: str, *, retry: RetryPolicy | None = None, pacer: Pacer | None = None
) -> HttpClient:
    """An `HttpClient` for Pennylane: bearer token, 2026 header, paced at 25 requests / 5 s."""
    session = requests.Session()
    session.headers.update(HEADERS)
    return HttpClient(
        BASE_URL,
        auth=BearerAuth(token),
        retry=retry,
        pacer=pacer or Pacer(*RATE_LIMIT),
        session=session,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _position_of(position: str | None) -> datetime | None:
    if position is None:
        return None
    try:
        when = datetime.fromisoformat(json.loads(position)["processed_at"])
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable Pennylane position %r: reading everything again", position)
        return None
    return when if when.tzinfo else None


class PennylaneConnector:
    """Read customers and customer invoices from one Pennylane company."""

    name = "pennylane"

    def __init__(
        self,
        source: str,
        token: str,
        *,
        currency: str,
        http: HttpClient | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Create the connector.

        Args:
            source: the source's name in the configuration.
            token: a company (or firm) API token with the `customers:readonly` and
                `customer_invoices:readonly` scopes.
            currency: the company's currency.
            http: a client to use instead of `make_client(token)` (tests).
            now: the clock, read once at the start of each pull.
        """
        self.source = source
        self.currency = currency
        self._http = http or make_client(token)
        self._now = now
        #: Ids the last incremental pull saw deleted, by stream (they trigger a full read).
        self.deleted: dict[str, list[str]] = {}

    def check(self) -> None:
        """Ask `/me`, the cheapest authenticated call.

        Raises:
            AuthError: the token was refused (expired or revoked) or lacks a scope.
        """
        try:
            self._http.get("/me")
        except AuthError as exc:
            raise AuthError(
                f"Pennylane refused the token of source {self.source!r}: it has probably "
                "expired (tokens have an end date) or lacks the customers:readonly and "
                "customer_invoices:readonly scopes. Renew it: create a new token in Pennylane "
                "(Settings -> Connectivity -> Developers), then run "
                f"`encours secrets set {self.source} token`."
            ) from exc

    def pull(self, position: str | None) -> Pull:
        """Everything when `position` is None or too old, else what the changelogs name."""
        started = self._now()
        since = _position_of(position)
        if since is not None and started - since > RETENTION - RETENTION_MARGIN:
            log.info("%s: last position %s is past the changelog retention", self.source, since)
            since = None
        if since is None:
            return self._full(started)
        latest = since
        changed: dict[str, list[str]] = {}
        self.deleted = {}
        for stream in ("customers", "customer_invoices"):
            ids: dict[str, None] = {}  # ordered set
            for row in self._http.paginate(
                f"/changelogs/{stream}",
                params={"limit": CHANGELOG_PAGE_SIZE, "start_date": (since - OVERLAP).isoformat()},
                paginator=_ChangelogPages(),
                items="items",
            ):
                change = _Change.model_validate(row)
                latest = max(latest, change.processed_at)
                if change.operation == "delete":
                    self.deleted.setdefault(stream, []).append(str(change.id))
                else:
                    ids[str(change.id)] = None
            changed[stream] = list(ids)
        if self.deleted:
            log.info("%s: records deleted in Pennylane (%s): full read", self.source, self.deleted)
            return self._full(started)
        new_position = json.dumps({"processed_at": min(latest, started).isoformat()})
        if not any(changed.values()):
            return Pull(
                records=iter(()),
                position=lambda: new_position,
                replace_all=False,
                unchanged=True,
            )
        records = chain(
            self._customers(_batches(changed["customers"])),
            self._invoices(_batches(changed["customer_invoices"])),
        )
        return Pull(records=records, position=lambda: new_position, replace_all=False)

    # -- internals -----------------------------------------------------------------------------

    def _full(self, started: datetime) -> Pull:
        new_position = json.dumps({"processed_at": started.isoformat()})
        records = chain(self._customers([None]), self._invoices([None]))
        return Pull(records=records, position=lambda: new_position, replace_all=True)

    def _list(self, path: str, batches: Iterable[list[str] | None]) -> Iterator[Any]:
        for ids in batches:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if ids is not None:  # the paginator resends the filter on every page
                params["filter"] = json.dumps([{"field": "id", "operator": "in", "value": ids}])
            yield from self._http.paginate(path, params=params, paginator=_PAGES, items="items")

    def _customers(self, batches: Iterable[list[str] | None]) -> Iterator[SourceRecord | Rejected]:
        for item in self._list("/customers", batches):
            yield to_customer(self.source, item)

    def _invoices(self, batches: Iterable[list[str] | None]) -> Iterator[SourceRecord | Rejected]:
        for item in self._list("/customer_invoices", batches):
            yield from to_invoice_records(self.source, item, currency=self.currency)


def _batches(ids: list[str]) -> list[list[str] | None]:
    return [ids[i : i + ID_BATCH] for i in range(0, len(ids), ID_BATCH)]
