"""A fake Pennylane API v2 for `responses`: customers, customer invoices and their changelogs.

It behaves like the real one where our connector can go wrong (VENDORS.md §2): cursor pages
with `limit` <= 100 (400 above), a cursor that does not carry the filter (a page asked without
the filter is unfiltered), changelogs with 4-week retention (422 older) and `start_date`
exclusive with `cursor` (400), 25 requests per 5 s (429 with `retry-after`), and on demand
5xx answers, an expired token (401 after N calls) and malformed records.

Settlements, as the contract describes them: `GET /customer_invoices/{id}/matched_transactions`
(whole bank transactions: a transfer that pays two invoices is listed whole by each, empty for
a draft or archived invoice) and `GET /customer_invoices/{id}/payments` (amounts and statuses,
no settlement date; empty for a draft or a credit note), both cursor pages of at most 100.
`match`, `link_credit_note`, `add_payment`, `refund` and `relabel` change the books as
Pennylane does: the invoice's `remaining_amount_with_tax`, `status`, `paid` and `updated_at`
(the day it was *recorded*, not the day of the money), with a changelog entry.

The ledger view: `GET /fiscal_years`, `GET /ledger_accounts` (each customer has its account
411xxxxx; `number start_with` and `id in` filters) and `GET /trial_balance` (debits and
credits per account over `period_start`..`period_end`, auxiliary accounts when
`is_auxiliary=true`, pages of at most 1000), computed from the documents and the bank:
invoices debit, credit notes and bank receipts credit, refunds debit. An invoice marked paid
with no receipt (the older tests set `remaining_amount_with_tax` by hand) is credited its paid
part on its `updated_at` day. The fake has no opening entries: its books start in the fiscal
year.

Every request is checked against the saved OpenAPI file with openapi-core (method, path
template, query parameter types and required ones), plus a check that every query parameter
is declared; violations are collected in `violations` for the test to assert empty.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

SPEC_PATH = Path(__file__).parents[2] / ".." / "shared" / "specs" / "pennylane" / "openapi.json"
ORIGIN = "https://app.pennylane.com"
PREFIX = "/api/external/v2"
LIMIT = 25
WINDOW = 5.0
RETENTION = timedelta(weeks=4)


@cache
def _openapi() -> tuple[Any, dict[str, Any]]:
    """The parsed spec (slow to build, so once per session) and its raw dict."""
    from openapi_core import OpenAPI

    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return OpenAPI.from_dict(spec), spec


def _declared_query(spec: dict[str, Any], path: str, method: str) -> set[str] | None:
    """Names of the query parameters of the operation whose template matches `path`."""
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            params = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
            names = set()
            for param in params:
                if "$ref" in param:
                    ref = spec
                    for key in param["$ref"].lstrip("#/").split("/"):
                        ref = ref[key]
                    param = ref
                if param.get("in") == "query":
                    names.add(param["name"])
            return names
    return None


@dataclass
class FakeClock:
    """Monotonic seconds and the wall time they stand for; `sleep` only moves it forward."""

    start: datetime = datetime(2026, 3, 2, 9, tzinfo=UTC)
    elapsed: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.elapsed

    def time(self) -> float:
        return self.now().timestamp()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds


@dataclass
class FakePennylane:
    """In-memory Pennylane company served to `responses` callbacks."""

    clock: FakeClock = field(default_factory=FakeClock)
    token: str = "pl-secret-token"  # noqa: S105 (a fake token)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Bank transactions, by id (as `matched_transactions` lists them).
    transactions: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Invoice id -> [(transaction id, amount it gave that invoice)].
    matched: dict[int, list[tuple[int, Decimal]]] = field(default_factory=dict)
    #: Invoice id -> payments (as `/payments` lists them).
    payments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    fiscal_years: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": year,
                "start": f"{year}-01-01",
                "finish": f"{year}-12-31",
                "status": "open",
                "created_at": f"{year}-01-01T00:00:00Z",
                "updated_at": f"{year}-01-01T00:00:00Z",
            }
            for year in range(2020, 2031)
        ]
    )
    changes: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"customers": [], "customer_invoices": []}
    )
    #: Statuses to answer to the next requests, before anything else (e.g. [503]).
    fail_next: list[int] = field(default_factory=list)
    #: After this many calls the token has expired: 401.
    expire_after: int | None = None
    #: Paths the token has no scope for: 403, as Pennylane names the scope missing.
    forbidden: dict[str, str] = field(default_factory=dict)
    calls: list[requests.PreparedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _sent: deque[float] = field(default_factory=deque)
    _cursors: dict[str, int] = field(default_factory=dict)

    # -- set up --------------------------------------------------------------------------------

    def register(self, rsps: responses.RequestsMock) -> None:
        """Answer every GET to the Pennylane origin."""
        rsps.add_callback(responses.GET, re.compile(re.escape(ORIGIN) + r"/.*"), self._handle)

    def add_change(self, stream: str, ident: int, operation: str, processed_at: datetime) -> None:
        """Record a changelog entry (kept in `processed_at` order)."""
        iso = processed_at.isoformat().replace("+00:00", "Z")
        self.changes[stream].append(
            {
                "id": ident,
                "operation": operation,
                "processed_at": iso,
                "updated_at": iso,
                "created_at": iso,
            }
        )
        self.changes[stream].sort(key=lambda c: c["processed_at"])

    def paths(self) -> list[str]:
        """The path and query of every request received, in order."""
        return [str(c.path_url) for c in self.calls]

    # -- bookkeeping, as Pennylane does it -------------------------------------------------

    def match(
        self,
        invoice_id: int,
        tx_id: int,
        *,
        on: str,
        amount: str,
        applied: str | None = None,
        recorded_at: datetime,
    ) -> None:
        """Match bank transaction `tx_id` (created if new: `amount` received `on`) to an invoice.

        `applied` is what it gives this invoice (default: all of it); the same transaction
        may be matched to several invoices. Recorded at `recorded_at` (the invoice's
        `updated_at` and changelog entry), whatever the transaction's date.
        """
        self.transactions.setdefault(tx_id, transaction(tx_id, on, amount))
        part = Decimal(applied or amount)
        self.matched.setdefault(invoice_id, []).append((tx_id, part))
        self._recompute(invoice_id, recorded_at)

    def add_payment(
        self, invoice_id: int, payment_id: int, amount: str, status: str, *, at: datetime
    ) -> None:
        """A payment (GoCardless, payment link) of the invoice, last changed at `at`."""
        stamp = _stamp(at)
        self.payments.setdefault(invoice_id, []).append(
            {
                "id": payment_id,
                "label": f"Payment {payment_id}",
                "currency": self.invoices[invoice_id]["currency"],
                "currency_amount": amount,
                "status": status,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        self._recompute(invoice_id, at)

    def link_credit_note(self, note_id: int, invoice_id: int, *, at: datetime) -> None:
        """Link a credit note to the invoice it credits (`POST .../link_credit_note`)."""
        url = f"{ORIGIN}{PREFIX}/customer_invoices/{invoice_id}"
        self.invoices[note_id]["credited_invoice"] = {"id": invoice_id, "url": url}
        self._recompute(invoice_id, at)

    def refund(self, note_id: int, tx_id: int, *, on: str, amount: str, at: datetime) -> None:
        """Refund a credit note by an outgoing transfer of `amount` (positive) on `on`."""
        self.transactions.setdefault(tx_id, transaction(tx_id, on, f"-{amount}"))
        self.matched.setdefault(note_id, []).append((tx_id, Decimal(amount)))
        note = self.invoices[note_id]
        left = abs(Decimal(note["remaining_amount_with_tax"])) - Decimal(amount)
        self._touch(note_id, at, remaining_amount_with_tax=f"{-left:.2f}" if left else "0.00")

    def relabel(self, invoice_id: int, *, at: datetime) -> None:
        """Change the invoice's label: only `updated_at` moves."""
        self._touch(invoice_id, at, label=f"Relabelled {invoice_id}")

    def _touch(self, ident: int, at: datetime, **fields: Any) -> None:
        self.invoices[ident] |= fields | {"updated_at": _stamp(at)}
        self.add_change("customer_invoices", ident, "update", at)

    def _recompute(self, invoice_id: int, at: datetime) -> None:
        """Remaining, status and paid of an invoice after a receipt or a credit note."""
        item = self.invoices[invoice_id]
        total = Decimal(item["currency_amount"])
        paid = sum((part for _, part in self.matched.get(invoice_id, [])), Decimal(0))
        paid += sum((Decimal(p["currency_amount"]) for p in self._received(invoice_id)), Decimal(0))
        available = max(total - paid, Decimal(0))
        credited = Decimal(0)
        for note_id, note in sorted(self.invoices.items()):
            if (note.get("credited_invoice") or {}).get("id") != invoice_id:
                continue
            used = min(abs(Decimal(note["currency_amount"])), available)
            available -= used
            credited += used
            left = abs(Decimal(note["currency_amount"])) - used
            self._touch(note_id, at, remaining_amount_with_tax=f"{-left:.2f}" if left else "0.00")
        remaining = available
        if credited >= total:
            status = "cancelled"
        elif credited > 0:
            status = "partially_cancelled"
        elif remaining == 0:
            status = "paid"
        elif remaining < total:
            status = "partially_paid"
        else:
            status = item["status"]
        self._touch(
            invoice_id,
            at,
            remaining_amount_with_tax=f"{remaining:.2f}",
            status=status,
            paid=remaining == 0,
        )

    def _received(self, invoice_id: int) -> list[dict[str, Any]]:
        return [
            p for p in self.payments.get(invoice_id, []) if p["status"] in ("paid_out", "confirmed")
        ]

    # -- serving -------------------------------------------------------------------------------

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls.append(request)
        self._validate(request)
        url = urlsplit(str(request.url))
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if request.headers.get("X-Use-2026-API-Changes") != "true":
            self.violations.append(f"{request.path_url}: no X-Use-2026-API-Changes header")
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {}, json.dumps({"error": "injected failure"})
        if request.headers.get("Authorization") != f"Bearer {self.token}" or (
            self.expire_after is not None and len(self.calls) > self.expire_after
        ):
            return 401, {}, json.dumps({"error": "Unauthorized"})
        throttled = self._throttle()
        if throttled:
            return throttled
        path = url.path.removeprefix(PREFIX)
        if path in self.forbidden:
            error = f'Access to this resource requires scope "{self.forbidden[path]}".'
            return self._json({"error": error, "status": 403}, 403)
        if path == "/me":
            return self._json({"user": None, "company": {"id": 1, "name": "Fake"}, "scopes": []})
        if path in ("/customers", "/customer_invoices"):
            rows = self.customers if path == "/customers" else self.invoices
            return self._list(list(rows.values()), query, max_limit=100)
        if path.startswith("/changelogs/"):
            return self._changelog(path.removeprefix("/changelogs/"), query)
        found = re.fullmatch(r"/customer_invoices/(\d+)/(matched_transactions|payments)", path)
        if found:
            return self._settlements(int(found[1]), found[2], query)
        if path == "/fiscal_years":
            return self._page(sorted(self.fiscal_years, key=lambda y: -y["id"]), query, 100)
        if path == "/ledger_accounts":
            return self._list(self._accounts(), query, max_limit=1000)
        if path == "/trial_balance":
            return self._trial_balance(query)
        return 404, {}, json.dumps({"error": "Not found"})

    def _settlements(
        self, invoice_id: int, what: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], str]:
        item = self.invoices.get(invoice_id)
        if item is None:
            return self._json({"error": "Not Found", "status": 404}, 404)
        if item["draft"] or item.get("archived_at"):
            rows: list[dict[str, Any]] = []
        elif what == "payments":
            is_note = item["status"] == "credit_note"
            rows = [] if is_note else list(self.payments.get(invoice_id, []))
        else:
            ids = {tx for tx, _ in self.matched.get(invoice_id, [])}
            rows = [self.transactions[tx] for tx in sorted(ids, reverse=True)]
        return self._page(rows, query, max_limit=100)

    # -- the ledger ----------------------------------------------------------------------------

    def _accounts(self) -> list[dict[str, Any]]:
        accounts = [
            {"id": 1, "number": "512000", "label": "Banque"},
            {"id": 2, "number": "706000", "label": "Prestations de services"},
        ]
        for cust in self.customers.values():
            account = cust.get("ledger_account")
            if account:
                number = account_number(account["id"])
                accounts.append({"id": account["id"], "number": number, "label": cust["name"]})
        return [
            a
            | {
                "vat_rate": "any",
                "country_alpha2": "FR",
                "enabled": True,
                "type": "custom",
                "letterable": a["number"].startswith("411"),
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            }
            for a in accounts
        ]

    def _trial_balance(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if "period_start" not in query or "period_end" not in query:
            return self._json({"error": "period_start and period_end are required"}, 400)
        start = date.fromisoformat(query["period_start"])
        end = date.fromisoformat(query["period_end"])
        sums: dict[str, list[Decimal]] = {}
        for number, on, debit, credit in self._entries():
            if start <= on <= end:
                if number.startswith("411") and query.get("is_auxiliary") != "true":
                    number = "411000"
                row = sums.setdefault(number, [Decimal(0), Decimal(0)])
                row[0] += debit
                row[1] += credit
        rows = [
            {
                "number": number,
                "formatted_number": number.ljust(8, "0"),
                "label": number,
                "debits": f"{debits:.2f}",
                "credits": f"{credits:.2f}",
            }
            for number, (debits, credits) in sorted(sums.items())
        ]
        status, headers, body = self._page(rows, query, max_limit=1000)
        if status == 200:
            payload = json.loads(body)
            payload |= {"total_pages": None, "current_page": None, "total_items": None}
            body = json.dumps(payload | {"per_page": None})
        return status, headers, body

    def _entries(self) -> list[tuple[str, date, Decimal, Decimal]]:
        """(account number, day, debit, credit) of every ledger line the documents make.

        A record the tests made malformed (no customer, an amount that is no number) is in
        no ledger.
        """
        entries: list[tuple[str, date, Decimal, Decimal]] = []
        seen_tx: set[int] = set()
        seen: set[Any] = set()
        credited = {
            (n.get("credited_invoice") or {}).get("id")
            for n in self.invoices.values()
            if isinstance(n, dict)
        }
        for ident, item in sorted(self.invoices.items()):
            if item.get("id") in seen:  # a record the tests serve twice is one document
                continue
            seen.add(item.get("id"))
            try:
                entries.extend(self._entries_of(ident, item, seen_tx, credited))
            except (ArithmeticError, AttributeError, KeyError, TypeError, ValueError):
                continue
        return entries

    def _entries_of(
        self, ident: int, item: dict[str, Any], seen_tx: set[int], credited: set[Any]
    ) -> list[tuple[str, date, Decimal, Decimal]]:
        entries: list[tuple[str, date, Decimal, Decimal]] = []
        zero = Decimal(0)
        if item["draft"] or item.get("archived_at") or not item.get("customer"):
            return []
        account = self._customer_account(item["customer"]["id"])
        if account is None:
            return []
        amount = Decimal(item["amount"])
        on = date.fromisoformat(item["date"])
        if item["status"] == "credit_note" or amount < 0:
            entries.append((account, on, zero, abs(amount)))
            entries.append(("706000", on, abs(amount), zero))
        else:
            entries.append((account, on, amount, zero))
            entries.append(("706000", on, zero, amount))
        for tx_id, _ in self.matched.get(ident, []):
            tx = self.transactions[tx_id]
            if tx_id in seen_tx:
                continue
            seen_tx.add(tx_id)
            value = Decimal(tx["amount"])
            day = date.fromisoformat(tx["date"])
            if value >= 0:
                entries.append((account, day, zero, value))
            else:
                entries.append((account, day, -value, zero))
        for payment in [] if self.matched.get(ident) else self._received(ident):
            updated = datetime.fromisoformat(payment["updated_at"]).date()
            entries.append((account, updated, zero, Decimal(payment["currency_amount"])))
        if ident not in credited:
            entries.extend(self._marked_paid(ident, item, account))
        return entries

    def _marked_paid(
        self, ident: int, item: dict[str, Any], account: str
    ) -> list[tuple[str, date, Decimal, Decimal]]:
        """An invoice set paid by hand (no receipt, no credit note): its paid part, credited."""
        if self.matched.get(ident) or self.payments.get(ident) or item["status"] == "credit_note":
            return []
        remaining = item.get("remaining_amount_with_tax")
        gap = Decimal(item["currency_amount"]) - Decimal(remaining if remaining else "0")
        if remaining is None or gap <= 0 or Decimal(item["currency_amount"]) < 0:
            return []
        on = datetime.fromisoformat(item["updated_at"]).date()
        return [(account, on, Decimal(0), gap)]

    def _customer_account(self, customer_id: int) -> str | None:
        account = (self.customers.get(customer_id) or {}).get("ledger_account")
        return account_number(account["id"]) if account else None

    def _throttle(self) -> tuple[int, dict[str, str], str] | None:
        now = self.clock.monotonic()
        while self._sent and self._sent[0] <= now - WINDOW:
            self._sent.popleft()
        if len(self._sent) >= LIMIT:
            wait = math.ceil(self._sent[0] + WINDOW - now)
            headers = {
                "retry-after": str(wait),
                "ratelimit-limit": str(LIMIT),
                "ratelimit-remaining": "0",
            }
            return 429, headers, f"Rate limit exceeded. Please retry in {wait} seconds."
        self._sent.append(now)
        return None

    @staticmethod
    def _json(body: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _page(
        self, rows: list[Any], query: dict[str, str], max_limit: int
    ) -> tuple[int, dict[str, str], str]:
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            return self._json({"error": "limit must be an integer"}, 400)
        if not 1 <= limit <= max_limit:
            return self._json({"error": f"limit must be between 1 and {max_limit}"}, 400)
        start = 0
        if "cursor" in query:
            if query["cursor"] not in self._cursors:
                return self._json({"error": "invalid cursor"}, 400)
            start = self._cursors[query["cursor"]]
        chunk = rows[start : start + limit]
        has_more = start + limit < len(rows)
        cursor = None
        if has_more:  # the cursor holds an offset only: it forgets the filter (as Pennylane)
            cursor = f"c{len(self._cursors) + 1}"
            self._cursors[cursor] = start + limit
        return self._json({"items": chunk, "has_more": has_more, "next_cursor": cursor})

    def _list(
        self, rows: list[dict[str, Any]], query: dict[str, str], max_limit: int
    ) -> tuple[int, dict[str, str], str]:
        rows = sorted(rows, key=lambda r: -int(r.get("id", 0)))  # 2026 default sort: -id
        if "filter" in query:
            try:
                rules = json.loads(query["filter"])
            except ValueError:
                return self._json({"error": "filter is not JSON"}, 400)
            for rule in rules:
                rows = [r for r in rows if _matches(r, rule)]
        return self._page(rows, query, max_limit)

    def _changelog(self, stream: str, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if stream not in self.changes:
            return 404, {}, json.dumps({"error": "Not found"})
        if "start_date" in query and "cursor" in query:
            return self._json({"error": "start_date and cursor are mutually exclusive"}, 400)
        rows = self.changes[stream]
        if "start_date" in query:
            since = datetime.fromisoformat(query["start_date"])
            if since < self.clock.now() - RETENTION:
                return self._json({"error": "start_date is older than 4 weeks"}, 422)
            rows = [c for c in rows if datetime.fromisoformat(c["processed_at"]) >= since]
        return self._page(rows, query, max_limit=1000)

    # -- contract ------------------------------------------------------------------------------

    def _validate(self, request: requests.PreparedRequest) -> None:
        self.violations.extend(_verdict(str(request.method), str(request.url)))


@cache
def _verdict(method: str, url: str) -> tuple[str, ...]:
    """What the contract says of a request without body, by method and URL (once each)."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest

    api, spec = _openapi()
    request = requests.Request(method, url).prepare()
    with warnings.catch_warnings():  # oauth2 security is not checked by openapi-core
        warnings.simplefilter("ignore", UserWarning)
        result = api.unmarshal_request(RequestsOpenAPIRequest(request))
    found = []
    for error in result.errors:
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        found.append(f"{request.method} {request.path_url}: {error!r}{cause}")
    parts = urlsplit(url)
    declared = _declared_query(spec, parts.path, method)
    undeclared = set(parse_qs(parts.query, keep_blank_values=True)) - (declared or set())
    if declared is not None and undeclared:
        found.append(f"{request.method} {request.path_url}: undeclared query {sorted(undeclared)}")
    return tuple(found)


def _matches(row: dict[str, Any], rule: dict[str, Any]) -> bool:
    value = row.get(rule["field"])
    if rule["field"] == "customer_id":
        value = (row.get("customer") or {}).get("id")
    if rule["field"] == "credit_note":
        value = "true" if row.get("status") == "credit_note" else "false"
    if rule["field"] == "draft":
        value = str(bool(row.get("draft"))).lower()
    wanted = rule["value"]
    if rule["operator"] in ("gteq", "lteq"):
        if value is None:
            return False
        key = int if rule["field"] == "id" else str
        below = key(value) <= key(wanted)
        above = key(value) >= key(wanted)
        return above if rule["operator"] == "gteq" else below
    match rule["operator"]:
        case "eq":
            return str(value).lower() == str(wanted).lower()
        case "in":
            return str(value) in {str(w) for w in wanted}
        case "not_in":
            return str(value) not in {str(w) for w in wanted}
        case "start_with":
            return str(value).startswith(str(wanted))
    raise AssertionError(f"the fake does not support operator {rule['operator']!r}")


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def account_number(account_id: int) -> str:
    """The number of a customer's ledger account in the fake: 411 and the id on 5 digits."""
    return f"411{account_id:05d}"


# -- record builders ---------------------------------------------------------------------------


def customer(ident: int, name: str, **extra: Any) -> dict[str, Any]:
    """A customer as the API returns it (the fields the connector reads, and a few more)."""
    return {
        "id": ident,
        "name": name,
        "customer_type": "company",
        "vat_number": "",
        "reg_no": "",
        "payment_conditions": "30_days",
        "emails": [],
        "ledger_account": {"id": ident},
        "created_at": "2026-01-02T10:00:00Z",
        "updated_at": "2026-01-02T10:00:00Z",
        **extra,
    }


def invoice(
    ident: int,
    customer_id: int,
    total: str,
    *,
    remaining: str | None = None,
    currency: str = "EUR",
    exchange_rate: str = "1.0",
    **extra: Any,
) -> dict[str, Any]:
    """A customer invoice as the API returns it; amounts are strings, as Pennylane's are."""
    return {
        "id": ident,
        "invoice_number": f"F-{ident}",
        "currency": currency,
        "amount": total,
        "currency_amount": total,
        "exchange_rate": exchange_rate,
        "date": "2026-01-10",
        "deadline": "2026-02-09",
        "remaining_amount_with_tax": total if remaining is None else remaining,
        "status": "upcoming",
        "paid": False,
        "draft": False,
        "customer": {"id": customer_id, "url": f"{ORIGIN}{PREFIX}/customers/{customer_id}"},
        "credited_invoice": None,
        "created_at": "2026-01-10T08:00:00Z",
        "updated_at": "2026-01-12T08:00:00Z",
        **extra,
    }


def transaction(ident: int, on: str, amount: str, currency: str = "EUR") -> dict[str, Any]:
    """A bank transaction as `matched_transactions` lists it (negative: money out)."""
    return {
        "id": ident,
        "label": f"VIR SEPA {ident}",
        "attachment_required": False,
        "date": on,
        "outstanding_balance": "0.00",
        "created_at": f"{on}T12:00:00Z",
        "updated_at": f"{on}T12:00:00Z",
        "archived_at": None,
        "currency": currency,
        "currency_amount": amount,
        "amount": amount,
        "currency_fee": None,
        "fee": None,
        "journal": {"id": 1},
        "bank_account": {"id": 1, "url": f"{ORIGIN}{PREFIX}/bank_accounts/1"},
        "pro_account_expense": None,
        "customer": None,
        "categories": [],
    }
