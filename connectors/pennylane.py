"""Pennylane (public API v2): customers, invoices, credit notes, what is paid of them and when.

A declaration on the declarative source (`connectors/declarative.py`); what each document
becomes is in `connectors/pennylane_records.py` (drafts, credit notes counted once, payments
dated by the money, transfers paying several invoices). This module says what to read.

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
payments and matched transactions, contract checked 2026-12), so it costs calls (follow-ups),
and only for invoices with something paid (`remaining_amount_with_tax` below the total, less
the linked credit notes): one `GET /customer_invoices/{id}/matched_transactions`, and one
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict

from encours.connectors import pennylane_records as pl
from encours.connectors.declarations.pennylane import BASE_URL  # the setting's default
from encours.connectors.declarative import (
    Call,
    Change,
    Changelog,
    DeclarativeSource,
    FollowUp,
    HttpSourceSpec,
    Reading,
    Stream,
)
from encours.connectors.http import (
    BearerAuth,
    CursorPaginator,
    HttpClient,
    HttpLimits,
    Pacer,
    PageRequest,
    RetryPolicy,
)
from encours.connectors.pennylane_records import to_customer, to_invoice_records
from encours.errors import AuthError
from encours.model import SourceRecord

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


def _change(row: Any) -> Change:
    change = _Change.model_validate(row)
    return Change(str(change.id), change.processed_at, deleted=change.operation == "delete")


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


def _filter(*rules: tuple[str, str, Any]) -> str:
    return json.dumps([{"field": f, "operator": o, "value": v} for f, o, v in rules])


def _by_ids(ids: list[str]) -> dict[str, str]:
    return {"filter": _filter(("id", "in", ids))}


def _credit_notes_since(picked: Sequence[Any]) -> dict[str, str]:
    """The credit notes dated from the oldest picked invoice on: one may credit it."""
    oldest = min(pl.PlInvoice.model_validate(item).date or date.max for item in picked)
    return {"filter": _filter(("credit_note", "eq", "true"), ("date", "gteq", oldest.isoformat()))}


def _spec() -> HttpSourceSpec:
    """Pennylane, declared (module docstring); the sizes are read now: tests make them small."""
    pages = {"limit": PAGE_SIZE}

    def changelog(stream: str) -> Changelog:
        return Changelog(f"/changelogs/{stream}", items="items", paginator=_ChangelogPages(),
                         to_change=_change, params={"limit": CHANGELOG_PAGE_SIZE})  # fmt: skip

    def of_document(name: str, path: str, **when: Callable[..., bool]) -> Call:
        def url(item: Any) -> str:
            return f"/customer_invoices/{pl.PlInvoice.model_validate(item).id}/{path}"

        return Call(name, url, items="items", paginator=_PAGES, params=pages, **when)

    refunded_by = of_document("transactions", "matched_transactions")
    refunds = FollowUp(pl.wants_refund, (refunded_by,), pl.refund_records)
    paid = FollowUp(
        pl.wants_payments,
        (
            of_document("transactions", "matched_transactions", when=pl.something_paid),
            of_document("payments", "payments", when=pl.transactions_fall_short),
        ),
        pl.payment_records,
        notes_query=_credit_notes_since,
    )
    lists = {"items": "items", "paginator": _PAGES, "params": pages, "by_ids": _by_ids,
             "id_batch": ID_BATCH}  # fmt: skip
    customers = Stream("/customers", to_records=pl.customer_records, name="customers",
                       changelog=changelog("customers"), note=pl.account_note, **lists)  # fmt: skip
    invoices = Stream("/customer_invoices", to_records=pl.document_records,
                      name="customer_invoices", changelog=changelog("customer_invoices"),
                      note=pl.credit_note_link, touches=pl.customer_touched,
                      follow_ups=(refunds, paid), **lists)  # fmt: skip
    return HttpSourceSpec(streams=(customers, invoices), check_path="/me", overlap=OVERLAP,
                          version=POSITION_VERSION, retention=RETENTION - RETENTION_MARGIN,
                          position_key="processed_at", after=_balances)  # fmt: skip


# -- the source's own balance -------------------------------------------------------------------


def _pages(http: HttpClient, path: str, **params: Any) -> Iterator[Any]:
    params = {"limit": PAGE_SIZE} | params
    return http.paginate(path, params=params, paginator=_PAGES, items="items")


def _balances(http: HttpClient, reading: Reading) -> Iterator[SourceRecord]:
    """The trial balance of the customers read, as of the day of the read (module docstring).

    A full read numbers every customer account (`411...`); an incremental one only those
    of the customers read, by id, 100 a call.
    """
    accounts: dict[str, int] = dict(reading.notes.get("customers", {}))
    if not accounts:
        return
    day = reading.started.astimezone(UTC).date()
    try:
        period = pl.fiscal_period(_pages(http, "/fiscal_years", limit=FISCAL_YEARS_PAGE_SIZE), day)
        if period is None:
            log.warning("%s: no fiscal year holds %s: no balance check", reading.source, day)
            return
        if reading.full:
            rule = _filter(("number", "start_with", CUSTOMER_ACCOUNTS))
            numbers = list(_pages(http, "/ledger_accounts", limit=LEDGER_PAGE_SIZE, filter=rule))
        else:
            ids = sorted({str(account) for account in accounts.values()})
            numbers = [
                item
                for at in range(0, len(ids), ID_BATCH)
                for item in _pages(http, "/ledger_accounts", **_by_ids(ids[at : at + ID_BATCH]))
            ]
        start, end = period[0].isoformat(), period[1].isoformat()
        rows = list(
            _pages(http, "/trial_balance", limit=LEDGER_PAGE_SIZE, period_start=start,
                   period_end=end, is_auxiliary="true")
        )  # fmt: skip
    except AuthError as exc:
        if exc.status != 403:
            raise
        log.warning(
            "%s: the token may not read the trial balance (scopes trial_balance:readonly, "
            "ledger_accounts:readonly, fiscal_years:readonly): no balance check",
            reading.source,
        )
        return
    yield from pl.to_balances(
        reading.source, accounts, numbers, rows, period=period, currency=reading.currency
    )


class PennylaneConnector(DeclarativeSource):
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
        http = http or make_client(token, base_url=base_url, limits=limits)
        super().__init__(source, _spec(), http, currency=currency, now=now or (lambda: _utc_now()))

    def check(self) -> None:
        """Ask `/me`, the cheapest authenticated call.

        Raises:
            AuthError: the token was refused (expired or revoked) or lacks a scope.
        """
        try:
            super().check()
        except AuthError as exc:
            raise AuthError(
                f"Pennylane refused the token of source {self.source!r}: it has probably "
                "expired (tokens have an end date) or lacks the customers:readonly and "
                "customer_invoices:readonly scopes. Renew it: create a new token in Pennylane "
                "(Settings -> Connectivity -> Developers), then run "
                f"`encours secrets set {self.source} token`."
            ) from exc
