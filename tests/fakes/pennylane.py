"""A fake Pennylane API v2 for `responses`: customers, customer invoices and their changelogs.

It behaves like the real one where our connector can go wrong (VENDORS.md §2): cursor pages
with `limit` <= 100 (400 above), a cursor that does not carry the filter (a page asked without
the filter is unfiltered), changelogs with 4-week retention (422 older) and `start_date`
exclusive with `cursor` (400), 25 requests per 5 s (429 with `retry-after`), and on demand
5xx answers, an expired token (401 after N calls) and malformed records.

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
from datetime import UTC, datetime, timedelta
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
    changes: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"customers": [], "customer_invoices": []}
    )
    #: Statuses to answer to the next requests, before anything else (e.g. [503]).
    fail_next: list[int] = field(default_factory=list)
    #: After this many calls the token has expired: 401.
    expire_after: int | None = None
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
        if path == "/me":
            return self._json({"user": None, "company": {"id": 1, "name": "Fake"}, "scopes": []})
        if path in ("/customers", "/customer_invoices"):
            rows = self.customers if path == "/customers" else self.invoices
            return self._list(list(rows.values()), query, max_limit=100)
        if path.startswith("/changelogs/"):
            return self._changelog(path.removeprefix("/changelogs/"), query)
        return 404, {}, json.dumps({"error": "Not found"})

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
        from openapi_core.contrib.requests import RequestsOpenAPIRequest

        api, spec = _openapi()
        with warnings.catch_warnings():  # oauth2 security is not checked by openapi-core
            warnings.simplefilter("ignore", UserWarning)
            result = api.unmarshal_request(RequestsOpenAPIRequest(request))
        for error in result.errors:
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            self.violations.append(f"{request.method} {request.path_url}: {error!r}{cause}")
        url = urlsplit(str(request.url))
        declared = _declared_query(spec, url.path, str(request.method))
        undeclared = set(parse_qs(url.query, keep_blank_values=True)) - (declared or set())
        if declared is not None and undeclared:
            self.violations.append(
                f"{request.method} {request.path_url}: undeclared query {sorted(undeclared)}"
            )


def _matches(row: dict[str, Any], rule: dict[str, Any]) -> bool:
    value = row.get(rule["field"])
    if rule["field"] == "customer_id":
        value = (row.get("customer") or {}).get("id")
    wanted = rule["value"]
    match rule["operator"]:
        case "eq":
            return str(value) == str(wanted)
        case "in":
            return str(value) in {str(w) for w in wanted}
        case "not_in":
            return str(value) not in {str(w) for w in wanted}
    raise AssertionError(f"the fake does not support operator {rule['operator']!r}")


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
