"""A fake Sellsy API v2 for `responses`: companies, documents, payments, custom fields.

It behaves like the real one where the connector can go wrong (VENDORS.md, "Sellsy (API v2) —
from the saved spec"): OAuth 2 client credentials at the token URL (an access token the API
accepts until revoked); lists of at most 100 (`limit` above: 400) paged by the opaque "seek"
offset of the last record sent; 5 requests a second (429 with `X-Quota-Remaining-By-Second:
0`, no Retry-After, the quota headers on every answer); errors as `{"error": {...}}`; custom
fields that only the web interface creates (`add_field`), written with
`PUT /companies/{id}/custom-fields` (404 for a company that does not exist, 400 for a field
that is not on companies).

Every API request, body included, is checked against Sellsy's OpenAPI file (read from
../shared/specs: its licence does not let us copy it) with openapi-core, plus a check that
every query parameter is declared; violations are collected in `violations`. The file has
$refs that point *through* another $ref (VENDORS.md): they are rewritten before loading.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import responses
from fakes.pennylane import FakeClock

SPEC_PATH = Path(__file__).parents[2] / ".." / "shared" / "specs" / "sellsy" / "openapi.yaml"
API = "https://api.sellsy.com/v2"
TOKEN_URL = "https://login.sellsy.com/oauth2/access-tokens"
LIMIT, WINDOW = 5, 1.0  # requests a second


def _parts(ref: str) -> list[str]:
    return [unquote(p).replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def _pointer(parts: list[str]) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _repaired(spec: dict[str, Any]) -> dict[str, Any]:
    """Every $ref rewritten to a pointer that resolves without passing through another."""

    def canonical(ref: str) -> list[str]:
        done: list[str] = []
        node: Any = spec
        for part in _parts(ref):
            if isinstance(node, dict) and "$ref" in node and part not in node:
                done = canonical(node["$ref"])
                node = spec
                for step in done:
                    node = node[int(step)] if isinstance(node, list) else node[step]
            node = node[int(part)] if isinstance(node, list) else node[part]
            done = [*done, part]
        return done

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                node["$ref"] = _pointer(canonical(node["$ref"]))
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(spec)
    return spec


@cache
def _openapi() -> tuple[Any, dict[str, Any]]:
    """The parsed spec, once per session (its own examples break the spec validator: off)."""
    import yaml  # PyYAML comes with openapi-core
    from openapi_core import Config, OpenAPI

    spec = _repaired(yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None)), spec


def _declared_query(spec: dict[str, Any], path: str, method: str) -> set[str] | None:
    for template, item in spec["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path) and method in item:
            names = set()
            for param in [*item.get("parameters", []), *item[method].get("parameters", [])]:
                while "$ref" in param:
                    node: Any = spec
                    for part in _parts(param["$ref"]):
                        node = node[int(part)] if isinstance(node, list) else node[part]
                    param = node
                if param.get("in") == "query":
                    names.add(param["name"])
            return names
    return None


class WallClock(FakeClock):
    """Real seconds, for a fake serving a connector that paces itself on the real clock."""

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class FakeSellsy:
    """One Sellsy account served to `responses` callbacks."""

    clock: FakeClock = field(default_factory=FakeClock)
    client_id: str = "sellsy-client-0001"
    client_secret: str = "sellsy-client-secret-0001"  # noqa: S105 - a fake secret
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    individuals: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    payments: dict[int, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: (kind, record id) -> custom field id -> value, as written.
    values: dict[tuple[str, int], dict[int, Any]] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=set)
    tokens_issued: int = 0
    throttled: int = 0  # 429s answered
    calls: list[requests.PreparedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    sent: deque[float] = field(default_factory=deque)

    def register(self, rsps: responses.RequestsMock) -> None:
        """Answer the token URL and every GET and PUT to the API."""
        rsps.add_callback(responses.POST, TOKEN_URL, self._token)
        for method in (responses.GET, responses.PUT):
            rsps.add_callback(method, re.compile(re.escape(API) + r"/.*"), self._handle)

    def add_field(self, code: str, name: str, related: tuple[str, ...] = ("client", "prospect")):
        """A simple-text custom field, as someone creates it in Sellsy's settings."""
        ident = 100 + len(self.custom_fields)
        self.custom_fields[ident] = {
            "id": ident, "name": name, "code": code, "type": "simple-text", "mandatory": False,
            "rank": ident, "related_object": list(related), "description": "",
            "parameters": {"default_value": None, "char_min": 0, "char_max": 250},
        }  # fmt: skip
        return ident

    def value(self, key: str, code: str) -> Any:
        """What a company ("12") or individual ("individual-7") holds in field `code`."""
        kind = "individuals" if key.startswith("individual-") else "companies"
        ids = [i for i, f in self.custom_fields.items() if f["code"] == code]
        return self.values.get((kind, int(key.removeprefix("individual-"))), {}).get(ids[0])

    def revoke(self) -> None:
        """Every access token given so far is refused from now on (401)."""
        self.access_tokens.clear()

    def fill_window(self) -> None:
        """Spend this second's quota: the next request is answered 429."""
        self.sent.extend([self.clock.monotonic()] * LIMIT)

    # -- serving -------------------------------------------------------------------------------

    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        form = {k: v[0] for k, v in parse_qs(str(request.body)).items()}
        wanted = {"grant_type": "client_credentials", "client_id": self.client_id,
                  "client_secret": self.client_secret}  # fmt: skip
        if form != wanted:
            return 401, {}, json.dumps({"error": "invalid_client"})
        self.tokens_issued += 1
        token = f"access-{self.tokens_issued}"
        self.access_tokens.add(token)
        body = {"token_type": "Bearer", "expires_in": 86400, "access_token": token}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls.append(request)
        self.violations.extend(_verdict(str(request.method), str(request.url), request.body))
        url = urlsplit(str(request.url))
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if self.fail_next:
            return self._error(self.fail_next.pop(0), "injected failure")
        auth = str(request.headers.get("Authorization", ""))
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return self._error(401, "Invalid access token")
        if self._throttled():
            self.throttled += 1
            return 429, self._quota(0), json.dumps({"error": {"code": 429, "message": "quota"}})
        path = url.path.removeprefix(urlsplit(API).path)
        lists = {"/companies": self.companies, "/individuals": self.individuals,
                 "/invoices": self.invoices, "/credit-notes": self.credit_notes,
                 "/payments": self.payments, "/custom-fields": self.custom_fields}  # fmt: skip
        if request.method == "GET" and path in lists:
            return self._page(list(lists[path].values()), query)
        if request.method == "GET" and path == "/scopes":
            return self._json({"data": ["companies.read", "invoices.read"]})
        found = re.fullmatch(r"/(companies|individuals)/(\d+)/custom-fields", path)
        if request.method == "PUT" and found:
            return self._write(found[1], int(found[2]), json.loads(request.body or "null"))
        return self._error(404, "Not found")

    def _write(self, kind: str, ident: int, body: Any) -> tuple[int, dict[str, str], str]:
        if ident not in (self.companies if kind == "companies" else self.individuals):
            return self._error(404, f"{kind[:-1]} {ident} not found")
        row = self.values.setdefault((kind, ident), {})
        for item in body:
            known = self.custom_fields.get(item["id"])
            if known is None or not {"client", "prospect"} & set(known["related_object"]):
                return self._error(400, f"custom field {item['id']} is not on {kind}")
            row[item["id"]] = item["value"]
        return 200, self._quota(LIMIT - len(self.sent)), ""

    def _throttled(self) -> bool:
        now = self.clock.monotonic()
        while self.sent and self.sent[0] <= now - WINDOW:
            self.sent.popleft()
        if len(self.sent) >= LIMIT:
            return True
        self.sent.append(now)
        return False

    @staticmethod
    def _quota(second: int) -> dict[str, str]:
        return {
            "X-Quota-Remaining-By-Second": str(second),
            "X-Quota-Remaining-By-Minute": "250",
            "X-Quota-Remaining-By-Day": "400000",
            "Content-Type": "application/json",
        }

    def _json(self, body: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
        return status, self._quota(max(0, LIMIT - len(self.sent))), json.dumps(body)

    def _error(self, status: int, message: str) -> tuple[int, dict[str, str], str]:
        return self._json({"error": {"code": status, "message": message, "context": ""}}, status)

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str]):
        limit = int(query.get("limit", "25"))
        if not 0 <= limit <= 100:
            return self._error(400, "limit must be between 0 and 100")
        rows = sorted(rows, key=lambda r: int(r["id"]) if str(r.get("id")).isdigit() else math.inf)
        if "offset" in query:  # seek: the id of the last record sent
            last = json.loads(base64.b64decode(query["offset"]))[0]
            rows = [r for r in rows if str(r["id"]).isdigit() and int(r["id"]) > last]
        chunk = rows[:limit]
        offset = (
            base64.b64encode(json.dumps([chunk[-1]["id"]]).encode()).decode() if chunk else None
        )
        pagination = {"limit": limit, "count": len(chunk), "total": len(rows), "offset": offset}
        return self._json({"data": chunk, "pagination": pagination})


@cache
def _verdict(method: str, url: str, body: bytes | str | None) -> tuple[str, ...]:
    """What the contract says of a request (once per distinct request)."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest

    api, spec = _openapi()
    headers = {"Content-Type": "application/json"} if body else {}
    request = requests.Request(method, url, data=body, headers=headers).prepare()
    with warnings.catch_warnings():  # oauth2 security is not checked by openapi-core
        warnings.simplefilter("ignore", UserWarning)
        result = api.unmarshal_request(RequestsOpenAPIRequest(request))
    found = [
        f"{method} {request.path_url}: {error!r} ({error.__cause__})" for error in result.errors
    ]
    parts = urlsplit(url)
    declared = _declared_query(spec, parts.path.removeprefix("/v2"), method.lower())
    undeclared = set(parse_qs(parts.query)) - (declared or set())
    if declared is not None and undeclared:
        found.append(f"{method} {request.path_url}: undeclared query {sorted(undeclared)}")
    return tuple(found)


# -- records as the API returns them (amounts are decimal strings) ------------------------------


def company(ident: int, name: str, **extra: Any) -> dict[str, Any]:
    """A company (a client)."""
    return {"id": ident, "type": "client", "name": name, "email": None, "website": None,
            "legal_france": {"siret": None, "siren": None, "vat": None},
            "created": "2026-01-02T10:00:00+01:00", "updated_at": "2026-01-02T10:00:00+01:00",
            "is_archived": False, **extra}  # fmt: skip


def _amounts(total: str, remaining: str) -> dict[str, str]:
    return {"total_raw_excl_tax": total, "total_excl_tax": total, "total_incl_tax": total,
            "total_remaining_due_incl_tax": remaining, "total_primes_incl_tax": "0.00"}  # fmt: skip


def invoice(
    ident: int, company_id: int, total: str, *, on: str = "2026-01-10", due: str = "2026-02-09",
    status: str = "due", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """An invoice to a company; `remaining` in `extra["amounts"]` when part is paid."""
    return {"id": ident, "number": f"F-{ident}", "status": status, "date": on, "due_date": due,
            "created": f"{on}T08:00:00+01:00", "currency": "EUR",
            "amounts": _amounts(total, "0.00" if status == "paid" else total),
            "related": [{"id": company_id, "type": "company"}], "parent": None,
            "is_deposit": False, **extra}  # fmt: skip


def credit_note(ident: int, company_id: int, total: str, *, on: str, status: str = "stored"):
    """A credit note (avoir) to a company, `stored` (not yet used) by default."""
    return {"id": ident, "number": f"AV-{ident}", "status": status, "date": on,
            "created": f"{on}T08:00:00+01:00", "currency": "EUR",
            "amounts": _amounts(total, total), "is_deposit": False,
            "related": [{"id": company_id, "type": "company"}]}  # fmt: skip


def payment(ident: int, company_id: int, total: str, *, on: str,
            links: tuple[tuple[int, str, str], ...] = (), type_: str = "credit",
            status: str = "confirmed") -> dict[str, Any]:  # fmt: skip
    """A payment received `on` a day, linked to invoices: (invoice id, amount, link day)."""
    linked = sum((Decimal(amount) for _, amount, _ in links), Decimal(0))
    return {"id": ident, "number": f"R-{ident}", "paid_at": f"{on}T12:00:00+01:00",
            "status": status, "type": type_, "payment_method_id": 1, "currency": "EUR",
            "amounts": {"total": total, "remaining": f"{Decimal(total) - linked:.2f}"},
            "related": {"id": company_id, "type": "company"}, "note": None,
            "related_objects": [{"id": i, "type": "invoice", "amount_linked": amount,
                                 "linked_date": day} for i, amount, day in links]}  # fmt: skip
