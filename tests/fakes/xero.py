"""A fake Xero Accounting API (2.0) and its token endpoint, for `responses`.

It behaves like the real one where our connector can go wrong (VENDORS.md §6): lists paged by
`page` and `pageSize` (at most 1000, else 400) with their `pagination` block, filtered by a
`where` clause (`Type=="ACCREC" AND ...`) and the `If-Modified-Since` header (voided and
deleted documents come back with their status); 60 calls a minute per organisation, then 429
with `Retry-After` and `X-Rate-Limit-Problem: minute`, and `X-MinLimit-Remaining` on every
answer; the `xero-tenant-id` header (403 without the right one); 30-minute access tokens from
a refresh token that rotates at each use (the old one is then refused: `invalid_grant`); on
demand 5xx answers, an access token refused (401) after N calls, malformed documents.

The books move as Xero moves them, each change stamping `UpdatedDateUTC`: `pay` an invoice,
`allocate` a credit note, prepayment or overpayment to an invoice, `refund` one, `void`,
`delete_payment`; the invoice's `AmountDue`, `AmountPaid`, `AmountCredited` and `Status`
follow. Amounts are Decimals, served as JSON numbers.

Every API request is checked against Xero's published contract (`tests/contracts/xero`, cut
from the official OpenAPI under MIT) with openapi-core: path, query parameters and headers
(the tenant id required, `If-Modified-Since` a date-time); undeclared query parameters and a
missing bearer token are violations too. They are collected in `violations`.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from base64 import b64decode
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import requests
import responses
from fakes.pennylane import FakeClock

SPEC_PATH = Path(__file__).parents[1] / "contracts" / "xero" / "operations.json"
ORIGIN = "https://api.xero.com"
PREFIX = "/api.xro/2.0"
TOKEN_URL = "https://identity.xero.com/connect/token"
LIMIT = 60
WINDOW = 60.0
MAX_PAGE_SIZE = 1000
TENANT = "a3c2f1e0-1b2c-4d5e-8f90-123456789abc"
#: list -> the id field of its documents
LISTS = {"Contacts": "ContactID", "Invoices": "InvoiceID", "CreditNotes": "CreditNoteID",
         "Prepayments": "PrepaymentID", "Overpayments": "OverpaymentID",
         "Payments": "PaymentID"}  # fmt: skip
#: list of credits -> their `Type` (the invoice lists what was allocated under the same name)
CREDITS = {"CreditNotes": "ACCRECCREDIT", "Prepayments": "RECEIVE-PREPAYMENT",
           "Overpayments": "RECEIVE-OVERPAYMENT"}  # fmt: skip


def ms(when: datetime | date) -> str:
    """Xero's JSON date: `/Date(<ms since 1970>+0000)/`; a day is its midnight UTC."""
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    return f"/Date({int(when.timestamp() * 1000)}+0000)/"


def from_ms(value: str) -> datetime:
    return datetime.fromtimestamp(int(re.findall(r"-?\d+", value)[0]) / 1000, UTC)


@cache
def _openapi() -> tuple[Any, dict[str, Any]]:
    from openapi_core import OpenAPI

    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return OpenAPI.from_dict(spec), spec


@cache
def contract_violations(url: str, headers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """What the contract says of a GET (`headers` as sorted pairs); empty: a valid request."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest

    api, spec = _openapi()
    request = requests.Request("GET", url, headers=dict(headers)).prepare()
    with warnings.catch_warnings():  # OAuth 2 security is not checked by openapi-core
        warnings.simplefilter("ignore", UserWarning)
        result = api.unmarshal_request(RequestsOpenAPIRequest(request))
    found = [f"GET {request.path_url}: {e!r} ({e.__cause__})" for e in result.errors]
    path = urlsplit(url).path.removeprefix(PREFIX)
    operation = spec["paths"].get(path)
    if operation is not None:
        params = spec["components"]["parameters"]
        declared = {params[p["$ref"].split("/")[-1]]["name"] if "$ref" in p else p["name"]
                    for p in operation["get"].get("parameters", [])}  # fmt: skip
        undeclared = set(parse_qs(urlsplit(url).query)) - declared
        found += [f"GET {path}: undeclared query {sorted(undeclared)}"] if undeclared else []
    return tuple(found)


def contact(ident: str, name: str, *, updated: datetime) -> dict[str, Any]:
    """A contact as `/Contacts` lists it (the fields encours reads, and a few more)."""
    return {"ContactID": ident, "ContactStatus": "ACTIVE", "Name": name,
            "EmailAddress": f"compta@{ident}.example", "TaxNumber": f"FR00{ident}",
            "IsCustomer": True, "IsSupplier": False, "DefaultCurrency": "EUR",
            "UpdatedDateUTC": ms(updated), "HasAttachments": False}  # fmt: skip


def invoice(ident: str, contact_id: str, total: str, *, on: datetime, due_days: int = 30,
            status: str = "AUTHORISED", currency: str = "EUR") -> dict[str, Any]:  # fmt: skip
    """A sales invoice (`ACCREC`), issued `on` (also its last change), nothing paid."""
    amount = Decimal(total)
    return {"Type": "ACCREC", "InvoiceID": ident, "InvoiceNumber": f"INV-{ident}",
            "Reference": "", "Contact": {"ContactID": contact_id}, "Date": ms(on.date()),
            "DueDate": ms(on.date() + timedelta(days=due_days)), "Status": status,
            "LineAmountTypes": "Inclusive", "SubTotal": amount, "TotalTax": Decimal(0),
            "Total": amount, "AmountDue": amount, "AmountPaid": Decimal(0),
            "AmountCredited": Decimal(0), "CurrencyCode": currency, "CurrencyRate": Decimal(1),
            "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
            "UpdatedDateUTC": ms(on), "HasAttachments": False}  # fmt: skip


def credit(kind: str, ident: str, contact_id: str, total: str, *, on: datetime,
           status: str = "AUTHORISED") -> dict[str, Any]:  # fmt: skip
    """A credit note, prepayment or overpayment (`kind` is the list's name), unallocated."""
    amount = Decimal(total)
    made = {"Type": CREDITS[kind], LISTS[kind]: ident, "Contact": {"ContactID": contact_id},
            "Date": ms(on.date()), "Status": status, "LineAmountTypes": "Inclusive",
            "SubTotal": amount, "TotalTax": Decimal(0), "Total": amount,
            "RemainingCredit": amount, "AppliedAmount": Decimal(0), "CurrencyCode": "EUR",
            "CurrencyRate": Decimal(1), "Allocations": [], "Payments": [],
            "UpdatedDateUTC": ms(on), "HasAttachments": False}  # fmt: skip
    if kind == "CreditNotes":
        made["CreditNoteNumber"] = f"CN-{ident}"
    return made


@dataclass
class FakeXero:
    """One Xero organisation in memory, and Xero's token endpoint."""

    clock: FakeClock = field(default_factory=FakeClock)
    tenant: str = TENANT
    client_id: str = "CLIENT0123456789ABCDEF0123456789"
    client_secret: str = "xero-fake-client-secret-42"  # noqa: S105 (a fake secret)
    refresh_token: str = "xero-fake-refresh-token-0"  # noqa: S105
    access_token: str | None = None
    lists: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in LISTS}
    )
    fail_next: list[int] = field(default_factory=list)
    expire_after: int | None = None
    calls: list[requests.PreparedRequest] = field(default_factory=list)
    token_calls: int = 0
    violations: list[str] = field(default_factory=list)
    throttled: int = 0
    _sent: deque[float] = field(default_factory=deque)

    def register(self, rsps: responses.RequestsMock) -> None:
        """Answer the token endpoint and every GET to the API."""
        rsps.add_callback(responses.POST, TOKEN_URL, self._token)
        rsps.add_callback(responses.GET, re.compile(re.escape(ORIGIN + PREFIX) + r"/.*"),
                          self._handle)  # fmt: skip

    def paths(self) -> list[str]:
        """The list of every API request received, in order."""
        return [urlsplit(c.url).path.removeprefix(PREFIX + "/") for c in self.calls]

    def add(self, kind: str, *documents: dict[str, Any]) -> None:
        """Put documents in a list (`"Invoices"`, `"Contacts"`, ...)."""
        self.lists[kind].update({d[LISTS[kind]]: d for d in documents})

    # -- bookkeeping, as Xero does it ------------------------------------------------------

    def pay(self, invoice_id: str, amount: str, at: datetime, *, ident: str | None = None) -> str:
        """A payment received on an invoice (at most what it still owes, as Xero insists)."""
        inv, value = self.lists["Invoices"][invoice_id], Decimal(amount)
        assert value <= inv["AmountDue"], "Xero refuses a payment above the amount due"
        ident = ident or f"pay-{invoice_id}-{len(inv['Payments']) + 1}"
        line = {"PaymentID": ident, "Date": ms(at.date()), "Amount": value,
                "Reference": f"transfer {ident}", "CurrencyRate": Decimal(1)}  # fmt: skip
        inv["Payments"].append(line)
        self._settle(inv, value, at, paid=value)
        self.add("Payments", line | {"Status": "AUTHORISED", "PaymentType": "ACCRECPAYMENT",
                                     "Invoice": {"InvoiceID": invoice_id},
                                     "UpdatedDateUTC": ms(at)})  # fmt: skip
        return ident

    def delete_payment(self, payment_id: str, at: datetime) -> None:
        """Delete a payment: its invoice owes that again."""
        payment = self.lists["Payments"][payment_id]
        inv = self.lists["Invoices"][payment["Invoice"]["InvoiceID"]]
        inv["Payments"] = [p for p in inv["Payments"] if p["PaymentID"] != payment_id]
        self._settle(inv, -payment["Amount"], at, paid=-payment["Amount"])
        payment |= {"Status": "DELETED", "UpdatedDateUTC": ms(at)}

    def allocate(self, kind: str, credit_id: str, invoice_id: str, amount: str,
                 at: datetime) -> None:  # fmt: skip
        """Allocate part of a credit note, prepayment or overpayment to an invoice."""
        doc, inv = self.lists[kind][credit_id], self.lists["Invoices"][invoice_id]
        value = Decimal(amount)
        assert value <= min(doc["RemainingCredit"], inv["AmountDue"])
        doc["Allocations"].append({"AllocationID": f"alloc-{credit_id}-{invoice_id}",
                                   "Amount": value, "Date": ms(at.date()),
                                   "Invoice": {"InvoiceID": invoice_id,
                                               "InvoiceNumber": inv["InvoiceNumber"]}})  # fmt: skip
        self._use(doc, value, at)
        inv[kind].append({LISTS[kind]: credit_id, "AppliedAmount": value})
        self._settle(inv, value, at, credited=value if kind == "CreditNotes" else Decimal(0))

    def refund(self, kind: str, credit_id: str, amount: str, at: datetime) -> None:
        """Pay money back out of a credit note, prepayment or overpayment."""
        doc, value = self.lists[kind][credit_id], Decimal(amount)
        assert value <= doc["RemainingCredit"]
        ident = f"refund-{credit_id}-{len(doc['Payments']) + 1}"
        doc["Payments"].append({"PaymentID": ident, "Date": ms(at.date()), "Amount": value,
                                "Reference": "refund"})  # fmt: skip
        self._use(doc, value, at)

    def void(self, kind: str, ident: str, at: datetime) -> None:
        """Void an authorised document (Xero keeps it, as VOIDED)."""
        self.lists[kind][ident] |= {"Status": "VOIDED", "UpdatedDateUTC": ms(at)}

    def _use(self, doc: dict[str, Any], value: Decimal, at: datetime) -> None:
        doc["RemainingCredit"] -= value
        doc["AppliedAmount"] += value
        doc["Status"] = "PAID" if not doc["RemainingCredit"] else "AUTHORISED"
        doc["UpdatedDateUTC"] = ms(at)

    @staticmethod
    def _settle(inv: dict[str, Any], value: Decimal, at: datetime, *,
                paid: Decimal = Decimal(0), credited: Decimal = Decimal(0)) -> None:  # fmt: skip
        inv["AmountDue"] -= value
        inv["AmountPaid"] += paid
        inv["AmountCredited"] += credited
        inv["Status"] = "PAID" if not inv["AmountDue"] else "AUTHORISED"
        inv["UpdatedDateUTC"] = ms(at)
        if not inv["AmountDue"]:
            inv["FullyPaidOnDate"] = ms(at.date())

    # -- serving ---------------------------------------------------------------------------

    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.token_calls += 1
        form = dict(parse_qsl(str(request.body)))
        basic = request.headers.get("Authorization", "").removeprefix("Basic ")
        if b64decode(basic).decode() != f"{self.client_id}:{self.client_secret}":
            return 401, {}, json.dumps({"error": "invalid_client"})
        grant = (form.get("grant_type"), form.get("refresh_token"))
        if grant != ("refresh_token", self.refresh_token):
            return 400, {}, json.dumps({"error": "invalid_grant"})
        self.refresh_token = f"xero-fake-refresh-token-{self.token_calls}"
        self.access_token = f"xero-fake-access-token-{self.token_calls}"
        body = {"access_token": self.access_token, "expires_in": 1800, "token_type": "Bearer",
                "refresh_token": self.refresh_token, "scope": "offline_access"}  # fmt: skip
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls.append(request)
        checked = ("xero-tenant-id", "if-modified-since")
        headers = tuple(sorted((k, v) for k, v in request.headers.items() if k.lower() in checked))
        self.violations += contract_violations(str(request.url), headers)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            self.violations.append(f"{request.path_url}: no bearer token")
        now = self.clock.monotonic()
        while self._sent and self._sent[0] <= now - WINDOW:
            self._sent.popleft()
        if len(self._sent) >= LIMIT:
            self.throttled += 1
            wait = math.ceil(self._sent[0] + WINDOW - now)
            return 429, {"Retry-After": str(wait), "X-Rate-Limit-Problem": "minute"}, ""
        self._sent.append(now)
        quota = {"X-MinLimit-Remaining": str(LIMIT - len(self._sent)),
                 "X-DayLimit-Remaining": "4000", "X-AppMinLimit-Remaining": "9000"}  # fmt: skip
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, quota, json.dumps({"Title": "fake failure", "Status": status})
        if request.headers.get("Authorization") != f"Bearer {self.access_token}" or (
            self.expire_after is not None and len(self.calls) > self.expire_after
        ):
            body = {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"}
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, json.dumps(body)
        if request.headers.get("xero-tenant-id") != self.tenant:
            body = {"Title": "Forbidden", "Detail": "AuthorizationUnsuccessful"}
            return 403, quota, json.dumps(body)
        return self._list(request, quota)

    def _list(self, request: requests.PreparedRequest,
              quota: dict[str, str]) -> tuple[int, dict[str, str], str]:  # fmt: skip
        url = urlsplit(str(request.url))
        name, params = url.path.removeprefix(PREFIX + "/"), dict(parse_qsl(url.query))
        if name not in LISTS:
            return 404, quota, json.dumps({"Title": "Resource not found", "Status": 404})
        rows = sorted(self.lists[name].values(), key=lambda d: d[LISTS[name]])
        rows = [d for d in rows if _where(d, params.get("where", ""))]
        since = request.headers.get("If-Modified-Since")
        if since:
            start = datetime.fromisoformat(since.replace("Z", "+00:00"))
            rows = [d for d in rows if from_ms(d["UpdatedDateUTC"]) >= start]
        body: dict[str, Any] = {"Id": f"req-{len(self.calls)}", "Status": "OK",
                                "DateTimeUTC": ms(self.clock.now())}  # fmt: skip
        if "page" in params:
            page, size = int(params["page"]), int(params.get("pageSize", 100))
            if not 1 <= size <= MAX_PAGE_SIZE:
                error = {"Type": "ValidationException", "Message": "pageSize is 1 to 1000"}
                return 400, quota, json.dumps(error)
            body["pagination"] = {"page": page, "pageSize": size, "itemCount": len(rows),
                                  "pageCount": math.ceil(len(rows) / size)}  # fmt: skip
            rows = rows[(page - 1) * size : page * size]
        body[name] = rows
        # Decimals of at most 2 places and 15 digits go through a float exactly.
        return 200, quota | {"Content-Type": "application/json"}, json.dumps(body, default=float)


def _where(document: dict[str, Any], clause: str) -> bool:
    """Xero's `where` as encours writes it: `Field=="text"` conditions joined by AND."""
    for condition in filter(None, clause.split(" AND ")):
        match = re.fullmatch(r'\s*(\w+)\s*==\s*"([^"]*)"\s*', condition)
        assert match, f"the fake reads no such where clause: {condition!r}"
        if str(document.get(match[1])) != match[2]:
            return False
    return True
