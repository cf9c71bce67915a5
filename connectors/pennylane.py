"""Pennylane (public API v2): customers, invoices, credit notes, what is paid of them and when.

What each document becomes is in `connectors/pennylane_records.py` (drafts, credit notes
counted once, payments dated by the money, transfers paying several invoices); this module
reads.

Incremental sync works from Pennylane's changelogs, because v2 lists have no `updated_at`
filter (VENDORS.md §2, checked 2026-11). The position is JSON,
`{"processed_at": "<RFC 3339>", "v": 2}`:

- no position (or one older than the 4-week changelog retention, minus a margin, one that
  cannot be read, or one of an earlier version of this connector, whose records followed
  other rules): a full read of `/customers` and `/customer_invoices`, `replace_all=True`,
  and the new position is the run's start;
- otherwise `/changelogs/customers` and `/changelogs/customer_invoices` are read from the
  position minus `OVERLAP` (so a change recorded late is not missed; re-reading is harmless
  because sync upserts), then the changed ids are fetched from the list endpoints with an
  `id in [...]` filter, at most `ID_BATCH` ids a request, `replace_all=False`. The new
  position is the latest `processed_at` seen, never later than the run's start.
- a changelog that reports a deletion turns the run into a full read: only a full read lets
  sync remove records (`replace_all`), and deletions are rare (drafts).

What is paid and when is not in the invoice list (it embeds only the URLs of an invoice's
payments and matched transactions, contract checked 2026-12), so it costs calls, and only for
invoices with something paid (`remaining_amount_with_tax` below the total, less the linked
credit notes): one `GET /customer_invoices/{id}/matched_transactions`, and one
`GET /customer_invoices/{id}/payments` when the transactions do not explain all of it. A
credit note linked to no invoice and used (its remaining below its amount) costs one
`matched_transactions`, for the outgoing transfer that refunded it. An incremental read
fetches them for the changed documents only, plus one list (by 100) of the credit notes dated
since the oldest changed invoice with something paid: a credit note linked to it may not have
changed (one dated before the invoice it credits is missed there, and the invoice's payment
then includes it until the next full read). So a full read costs the list pages plus about one
call per paid invoice; a nightly read, the changelogs, the changed ids by 100 and about one
call per invoice paid that day.

A settlement that disappears in Pennylane (a transaction unmatched from an invoice) leaves
its payment in the store until the next full read: an incremental read cannot tell the
store to forget a record.

**The source's own balance.** Pennylane states a customer's balance in its trial balance:
`GET /trial_balance` with auxiliary accounts gives debits and credits per account (the
customer's `ledger_account`, numbered by `GET /ledger_accounts`). A full read yields one
`SourceBalance` per customer with an account: debits - credits from the start of the fiscal
year that holds the day of the read (`GET /fiscal_years`) to that day, which is its `as_of`.
It assumes the opening entries (à-nouveaux) carry the earlier years into the fiscal year's
first day *(verify on a real account)*. It costs 1 call, plus 1 per 1 000 customer accounts,
plus 1 per 1 000 auxiliary accounts (the trial balance cannot be filtered). An incremental read
yields the balances of the customers it touched (those changed, and those of the documents
changed, read again by id for their account: 1 call per 100), the others keeping theirs: their
documents did not change since. Every customer each night would need the whole customer list
(the only link from a customer to its account), 1 call per 100 customers: a night's read
would cost as much as the size of the books. The token needs the scopes
`trial_balance:readonly`, `ledger_accounts:readonly` and `fiscal_years:readonly` too; without
them (403) the run goes on without balances and says so in the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict

from encours.connectors.base import Pull
from encours.connectors.declarations.pennylane import BASE_URL  # the setting's default
from encours.connectors.http import (
    BearerAuth,
    CursorPaginator,
    HttpClient,
    HttpLimits,
    Pacer,
    PageRequest,
    RetryPolicy,
)
from encours.connectors.pennylane_records import (
    PlInvoice,
    covers,
    fiscal_period,
    ledger_account_of,
    paid_part,
    parse_invoice,
    payments,
    refundable,
    split,
    to_balances,
    to_customer,
    to_invoice_records,
    to_payments,
    transactions,
)
from encours.errors import AuthError
from encours.model import Invoice, InvoiceKind, Rejected, SourceRecord

__all__ = [
    "BASE_URL",
    "PAGE_SIZE",
    "PennylaneConnector",
    "make_client",
    "to_customer",
    "to_invoice_records",
]

log = logging.getLogger("encours.pennylane")

PAGE_SIZE = 100  # lists cap `limit` at 100 and answer 400 above (VENDORS.md §2, checked 2026-11)
CHANGELOG_PAGE_SIZE = 1000  # changelogs allow up to 1000
LEDGER_PAGE_SIZE = 1000  # /ledger_accounts and /trial_balance allow up to 1000 (contract)
FISCAL_YEARS_PAGE_SIZE = 100  # /fiscal_years allows up to 100 (contract)
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
#: Version of the records this connector makes: a position of another version reads all again.
POSITION_VERSION = 2
CUSTOMER_ACCOUNTS = "411"  # customers' auxiliary accounts (plan comptable général)

_PAGES = CursorPaginator("cursor", "next_cursor", has_more_path="has_more")


class _Change(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    operation: str  # insert | update | delete
    processed_at: datetime


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
    token: str,
    *,
    retry: RetryPolicy | None = None,
    pacer: Pacer | None = None,
    base_url: str = BASE_URL,
    limits: HttpLimits | None = None,
) -> HttpClient:
    """An `HttpClient` for Pennylane: bearer token, 2026 header, paced at 25 requests / 5 s."""
    session = requests.Session()
    session.headers.update(HEADERS)
    return HttpClient(
        base_url,
        auth=BearerAuth(token),
        retry=retry,
        pacer=pacer or Pacer(*RATE_LIMIT),
        session=session,
        limits=limits,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _position_of(position: str | None) -> datetime | None:
    if position is None:
        return None
    try:
        value = json.loads(position)
        when = datetime.fromisoformat(value["processed_at"])
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable Pennylane position %r: reading everything again", position)
        return None
    if value.get("v") != POSITION_VERSION:
        log.info("Pennylane position of an earlier version: reading everything again")
        return None
    return when if when.tzinfo else None


def _position(when: datetime) -> str:
    return json.dumps({"processed_at": when.isoformat(), "v": POSITION_VERSION})


def _filter(*rules: tuple[str, str, Any]) -> str:
    return json.dumps([{"field": f, "operator": o, "value": v} for f, o, v in rules])


@dataclass
class _Reading:
    """What one read of invoices leaves to do once the list is read.

    `credits`: credit note id -> (credited invoice id, currency, amount), for every posted
    credit note seen that names an invoice. `to_settle`: posted invoices with something
    settled. `to_refund`: credit notes linked to nothing and used, with their item.
    `touched`: the customers of the documents read. `full`: a read of every document.
    """

    full: bool = False
    credits: dict[str, tuple[str, str, Decimal]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    to_settle: list[PlInvoice] = field(default_factory=list)
    to_refund: list[tuple[Any, PlInvoice]] = field(default_factory=list)

    def note(self, raw: PlInvoice) -> None:
        """Remember a posted credit note linked to an invoice (seen twice, counted once)."""
        if raw.is_credit_note and not raw.is_draft and raw.credited_invoice is not None:
            link = (str(raw.credited_invoice.id), raw.currency.upper(), raw.credits)
            self.credits[str(raw.id)] = link

    def credited(self, raw: PlInvoice) -> Decimal:
        """The total of the credit notes linked to `raw`, in its currency."""
        key = (str(raw.id), raw.currency.upper())
        return sum(
            (amount for invoice, cur, amount in self.credits.values() if (invoice, cur) == key),
            Decimal(0),
        )


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
        now: Callable[[], datetime] | None = None,
        base_url: str = BASE_URL,
        limits: HttpLimits | None = None,
    ) -> None:
        """Create the connector.

        Args:
            source: the source's name in the configuration.
            token: a company (or firm) API token with the `customers:readonly` and
                `customer_invoices:readonly` scopes (and, for the balance check,
                `trial_balance:readonly`, `ledger_accounts:readonly`, `fiscal_years:readonly`).
            currency: the company's currency.
            http: a client to use instead of `make_client(token)` (tests).
            base_url: the API's root (another only for a proxy or a test server).
            limits: the transport's bounds (`[limits]`).
            now: the clock, read once at the start of each pull (default: UTC now).
        """
        self.source = source
        self.currency = currency
        self._http = http or make_client(token, base_url=base_url, limits=limits)
        self._now = now or (lambda: _utc_now())
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
        latest, changed = self._changes(since)
        if self.deleted:
            log.info("%s: records deleted in Pennylane (%s): full read", self.source, self.deleted)
            return self._full(started)
        new_position = _position(min(latest, started))
        if not any(changed.values()):
            return Pull(
                records=iter(()),
                position=lambda: new_position,
                replace_all=False,
                unchanged=True,
            )
        reading = _Reading()
        accounts: dict[str, int] = {}
        records = chain(  # lazily, in order: the invoices say which customers they touch
            self._invoices(_batches(changed["customer_invoices"]), reading),
            self._touched_customers(changed["customers"], reading, accounts),
            self._balances(accounts, started.astimezone(UTC).date(), full=False),
        )
        return Pull(records=records, position=lambda: new_position, replace_all=False)

    # -- internals -----------------------------------------------------------------------------

    def _changes(self, since: datetime) -> tuple[datetime, dict[str, list[str]]]:
        """The latest `processed_at` and the ids changed, by stream; deletions to `deleted`."""
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
        return latest, changed

    def _full(self, started: datetime) -> Pull:
        new_position = _position(started)
        accounts: dict[str, int] = {}
        records = chain(
            self._customers([None], accounts),
            self._invoices([None], _Reading(full=True)),
            self._balances(accounts, started.astimezone(UTC).date(), full=True),
        )
        return Pull(records=records, position=lambda: new_position, replace_all=True)

    def _list(
        self, path: str, batches: Iterable[list[str] | None], *rules: tuple[str, str, Any]
    ) -> Iterator[Any]:
        for ids in batches:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            found = rules if ids is None else (("id", "in", ids), *rules)
            if found:  # the paginator resends the filter on every page
                params["filter"] = _filter(*found)
            yield from self._http.paginate(path, params=params, paginator=_PAGES, items="items")

    def _pages(self, path: str, **params: Any) -> Iterator[Any]:
        yield from self._http.paginate(
            path, params={"limit": PAGE_SIZE} | params, paginator=_PAGES, items="items"
        )

    def _customers(
        self, batches: Iterable[list[str] | None], accounts: dict[str, int]
    ) -> Iterator[SourceRecord | Rejected]:
        for item in self._list("/customers", batches):
            link = ledger_account_of(item)
            if link is not None:
                accounts[link[0]] = link[1]
            yield to_customer(self.source, item)

    def _touched_customers(
        self, changed: list[str], reading: _Reading, accounts: dict[str, int]
    ) -> Iterator[SourceRecord | Rejected]:
        """The changed customers; those of the changed documents are read for their account.

        Both in the same requests (100 ids a call); only the changed ones are yielded.
        """
        ids = list(dict.fromkeys([*changed, *sorted(reading.touched)]))
        wanted = set(changed)
        for record in self._customers(_batches(ids), accounts):
            if record.external_id in wanted:
                yield record

    def _invoices(
        self, batches: Iterable[list[str] | None], reading: _Reading
    ) -> Iterator[SourceRecord | Rejected]:
        """The documents as listed, then the refunds and payments that cost calls of their own."""
        for item in self._list("/customer_invoices", batches):
            yield from self._document(item, reading)
        if not reading.full and reading.to_settle:
            oldest = min(raw.date or date.max for raw in reading.to_settle)
            self._credit_notes_since(oldest, reading)
        yield from self._refunds(reading)
        yield from self._payments(reading)

    def _document(self, item: Any, reading: _Reading) -> Iterator[SourceRecord | Rejected]:
        raw = parse_invoice(self.source, item)
        if isinstance(raw, Rejected):
            yield raw
            return
        reading.note(raw)
        if raw.customer is not None:
            reading.touched.add(str(raw.customer.id))
        if refundable(raw) > 0:
            reading.to_refund.append((item, raw))
            return
        records = to_invoice_records(self.source, item, currency=self.currency)
        yield from records
        is_posted = any(isinstance(r, Invoice) and r.kind == InvoiceKind.INVOICE for r in records)
        if is_posted and paid_part(raw, Decimal(0)) > 0:
            reading.to_settle.append(raw)

    def _credit_notes_since(self, day: date, reading: _Reading) -> None:
        """Learn the credit notes dated from `day` on: one may credit a changed invoice."""
        rules = (("credit_note", "eq", "true"), ("date", "gteq", day.isoformat()))
        for item in self._list("/customer_invoices", [None], *rules):
            raw = parse_invoice(self.source, item)
            if not isinstance(raw, Rejected):
                reading.note(raw)

    def _refunds(self, reading: _Reading) -> Iterator[SourceRecord | Rejected]:
        for item, raw in reading.to_refund:
            found = self._pages(f"/customer_invoices/{raw.id}/matched_transactions")
            parts, _ = split(refundable(raw), transactions(found, raw.currency, outgoing=True))
            yield from to_invoice_records(self.source, item, currency=self.currency, refunds=parts)

    def _payments(self, reading: _Reading) -> Iterator[SourceRecord | Rejected]:
        for raw in reading.to_settle:
            paid = paid_part(raw, reading.credited(raw))
            if paid <= 0:
                continue
            path = f"/customer_invoices/{raw.id}"
            found = transactions(self._pages(f"{path}/matched_transactions"), raw.currency)
            if not covers(paid, found):
                found += payments(self._pages(f"{path}/payments"), raw.currency)
            yield from to_payments(
                self.source, raw, paid=paid, settlements=found, currency=self.currency
            )

    def _balances(
        self, accounts: dict[str, int], day: date, *, full: bool
    ) -> Iterator[SourceRecord]:
        """The trial balance of the customers in `accounts`, as of `day` (module docstring).

        A full read numbers every customer account (`411...`); an incremental one only those
        of `accounts`, by id, 100 a call.
        """
        if not accounts:
            return
        try:
            years = self._pages("/fiscal_years", limit=FISCAL_YEARS_PAGE_SIZE)
            period = fiscal_period(years, day)
            if period is None:
                log.warning("%s: no fiscal year holds %s: no balance check", self.source, day)
                return
            numbers = list(self._account_numbers(accounts, full=full))
            rows = list(
                self._pages(
                    "/trial_balance",
                    limit=LEDGER_PAGE_SIZE,
                    period_start=period[0].isoformat(),
                    period_end=period[1].isoformat(),
                    is_auxiliary="true",
                )
            )
        except AuthError as exc:
            if exc.status != 403:
                raise
            log.warning(
                "%s: the token may not read the trial balance (scopes trial_balance:readonly, "
                "ledger_accounts:readonly, fiscal_years:readonly): no balance check",
                self.source,
            )
            return
        yield from to_balances(
            self.source, accounts, numbers, rows, period=period, currency=self.currency
        )

    def _account_numbers(self, accounts: dict[str, int], *, full: bool) -> Iterator[Any]:
        if full:
            rule = ("number", "start_with", CUSTOMER_ACCOUNTS)
            yield from self._pages("/ledger_accounts", limit=LEDGER_PAGE_SIZE, filter=_filter(rule))
            return
        ids = sorted({str(account) for account in accounts.values()})
        yield from self._list("/ledger_accounts", _batches(ids))


def _batches(ids: list[str]) -> list[list[str] | None]:
    return [ids[i : i + ID_BATCH] for i in range(0, len(ids), ID_BATCH)]
