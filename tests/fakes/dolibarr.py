"""A fake Dolibarr REST API for `responses`: third parties, invoices, payments, extra fields.

It behaves like a real instance where the connector can go wrong (VENDORS.md §10): the key in
the `DOLAPIKEY` header (401 without it); lists as plain JSON arrays, `limit` and 0-based
`page`, sorted on `sortfield`, filtered by `sqlfilters` on `t.tms` (the last change, the
server's local time; any other filter is a 400, as a bad one is on a real instance); an empty
list answered 404 "No ... found" when `legacy_404` (Dolibarr before 2024) or `[]`; dates as
Unix timestamps of midnight in the server's zone (Europe/Paris here); amounts as strings;
`GET /invoices/{id}/payments`; extra fields listed per element type and created one by one;
`PUT /thirdparties/{id}` merging `array_options`. No rate limit of its own (self-hosted); a
proxy's 429 with Retry-After on demand.

Every request is checked against the instance-exported OpenAPI file (read from ../shared/specs:
reference only) with openapi-core: method, path, query types; write bodies are not, as
Restler types them all `request_data: [string]` (VENDORS.md §1). Plus: every query parameter
declared. Violations are collected in `violations`.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests
import responses
from fakes.pennylane import FakeClock

SPEC_PATH = Path(__file__).parents[2] / ".." / "shared" / "specs" / "dolibarr" / "openapi.json"
URL = "https://erp.example.fr"
API = f"{URL}/api/index.php"
PARIS = ZoneInfo("Europe/Paris")
_TMS = re.compile(r"^\(t\.tms:>=:'(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)'\)$")


@cache
def _openapi() -> tuple[Any, dict[str, Any]]:
    """The parsed spec: its server is the fake's address, its key not checked (see below)."""
    from openapi_core import Config, OpenAPI

    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    spec["servers"] = [{"url": API}]
    for item in spec["paths"].values():  # api_key in the query there, DOLAPIKEY here
        for operation in item.values():
            operation.pop("security", None)
    spec.pop("security", None)
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None)), spec


def stamp(day: str) -> int:
    """The timestamp Dolibarr gives a date: midnight of that day in the server's zone."""
    return int(datetime.combine(date.fromisoformat(day), time(), PARIS).timestamp())


@dataclass
class FakeDolibarr:
    """One Dolibarr instance served to `responses` callbacks."""

    clock: FakeClock = field(default_factory=FakeClock)
    api_key: str = "dolibarr-api-key-0001"
    thirdparties: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Invoice id -> its payments, as `GET /invoices/{id}/payments` lists them.
    payments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    extrafields: dict[str, dict[str, Any]] = field(default_factory=dict)
    legacy_404: bool = False
    fail_next: list[int] = field(default_factory=list)
    calls: list[requests.PreparedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def register(self, rsps: responses.RequestsMock) -> None:
        """Answer GET, POST and PUT under the API; the web server's 404 page elsewhere."""
        for method in (responses.GET, responses.POST, responses.PUT):
            rsps.add_callback(method, re.compile(re.escape(API) + r"/.*"), self._handle)
        page = "<html><body><h1>Not Found</h1></body></html>"
        elsewhere = re.compile(re.escape(URL) + r"/(?!api/index\.php/).*")
        rsps.add(responses.GET, elsewhere, body=page, status=404)

    def now_local(self) -> str:
        """The server's local time, as `tms` holds it."""
        return self.clock.now().astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")

    def touch(self, ident: int, **fields: Any) -> None:
        """Change an invoice now: its `tms` moves."""
        self.invoices[ident] |= fields | {"tms": self.now_local()}

    def option(self, key: str, code: str) -> Any:
        """The value of extra field `code` on third party `key`."""
        return (self.thirdparties[int(key)].get("array_options") or {}).get(f"options_{code}")

    # -- serving -------------------------------------------------------------------------------

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls.append(request)
        self.violations.extend(_verdict(str(request.method), str(request.url)))
        url = urlsplit(str(request.url))
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.removeprefix(urlsplit(API).path)
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers = {"Retry-After": "2"} if status == 429 else {}
            return status, headers, json.dumps({"error": {"code": status, "message": "injected"}})
        if request.headers.get("DOLAPIKEY") != self.api_key:
            return self._error(401, "Unauthorized: Access denied")
        body = json.loads(request.body or "null")
        if request.method == "GET" and path == "/status":
            return self._json({"success": {"code": 200, "dolibarr_version": "20.0.2"}})
        if request.method == "GET" and path in ("/thirdparties", "/invoices"):
            rows = self.thirdparties if path == "/thirdparties" else self.invoices
            return self._list(path[1:-1] if path == "/invoices" else "thirdparty", rows, query)
        found = re.fullmatch(r"/invoices/(\d+)/payments", path)
        if request.method == "GET" and found:
            rows = self.payments.get(int(found[1]), [])
            return self._json(rows) if rows else self._error(404, "Not Found: No payment found")
        if path == "/setup/extrafields" and request.method == "GET":
            return self._json({"thirdparty": self.extrafields} if self.extrafields else {})
        found = re.fullmatch(r"/setup/extrafields/thirdparty/([a-z0-9_]+)", path)
        if request.method == "POST" and found:
            if found[1] in self.extrafields:
                return self._error(409, f"Extrafield {found[1]} already exists")
            self.extrafields[found[1]] = {"type": body["type"], "label": body["label"]}
            return self._json(len(self.extrafields))
        found = re.fullmatch(r"/thirdparties/(\d+)", path)
        if request.method == "PUT" and found:
            return self._update(int(found[1]), body)
        return self._error(404, "Not Found")

    def _update(self, ident: int, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        party = self.thirdparties.get(ident)
        if party is None:
            return self._error(404, "Not Found: Thirdparty not found")
        options = body.get("array_options") or {}
        unknown = [k for k in options if k.removeprefix("options_") not in self.extrafields]
        if unknown:  # Dolibarr stores nothing for a field that does not exist
            return self._error(400, f"Unknown extra fields {unknown}")
        party["array_options"] = {**(party.get("array_options") or {}), **options}
        return self._json(party)

    def _list(self, what: str, rows: dict[int, dict[str, Any]], query: dict[str, str]):
        chosen = sorted(rows.values(), key=lambda r: int(r["id"]))
        if query.get("sortfield") != "t.rowid":
            self.violations.append(f"{what}: sorted on {query.get('sortfield')}, not t.rowid")
        if "sqlfilters" in query:
            since = _TMS.match(query["sqlfilters"])
            if since is None:
                return self._error(400, "Error when validating parameter sqlfilters")
            chosen = [r for r in chosen if r.get("tms", "") >= since[1]]
        if what == "thirdparty" and query.get("mode") == "1":
            chosen = [r for r in chosen if str(r.get("client")) in ("1", "3")]
        limit, page = int(query.get("limit", "100")), int(query.get("page", "0"))
        chunk = chosen[page * limit : (page + 1) * limit]
        if not chunk and self.legacy_404:
            return self._error(404, f"Not Found: No {what} found")
        return self._json(chunk)

    @staticmethod
    def _json(body: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _error(self, status: int, message: str) -> tuple[int, dict[str, str], str]:
        return self._json({"error": {"code": status, "message": message}}, status)


@cache
def _verdict(method: str, url: str) -> tuple[str, ...]:
    """What the contract says of a request's method, path and query (once each)."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest

    api, spec = _openapi()
    request = requests.Request(method, url).prepare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = api.unmarshal_request(RequestsOpenAPIRequest(request))
    found = [
        f"{method} {request.path_url}: {error!r} ({error.__cause__})"
        for error in result.errors
        if "RequestBody" not in type(error).__name__  # Restler's bodies: not checked
    ]
    parts = urlsplit(url)
    path = parts.path.removeprefix(urlsplit(API).path)
    for template, item in spec["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path) and method.lower() in item:
            declared = {p["name"] for p in item[method.lower()].get("parameters", [])}
            undeclared = set(parse_qs(parts.query)) - declared
            if undeclared:
                found.append(f"{method} {request.path_url}: undeclared query {sorted(undeclared)}")
    return tuple(found)


# -- records as the API returns them -----------------------------------------------------------


def thirdparty(ident: int, name: str, **extra: Any) -> dict[str, Any]:
    """A customer third party (`client` 1)."""
    return {"id": str(ident), "name": name, "client": "1", "fournisseur": "0", "email": None,
            "url": None, "idprof1": "", "idprof2": "", "tva_intra": "", "outstanding_limit": None,
            "array_options": {}, "tms": "2026-01-02 10:00:00", **extra}  # fmt: skip


def invoice(ident: int, socid: int, total: str, *, on: str = "2026-01-10",
            due: str = "2026-02-09", type_: int = 0, status: int = 1, paid: str = "0",
            **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A customer invoice (`type` 0), validated (`status` 1), `paid` so far."""
    remain = f"{Decimal(total) - Decimal(paid):.8f}" if status == 1 else "0"
    return {"id": str(ident), "ref": f"FA-{ident}", "socid": str(socid), "type": str(type_),
            "status": str(status), "statut": str(status), "date": stamp(on),
            "date_lim_reglement": stamp(due), "total_ht": total, "total_ttc": total,
            "totalpaid": paid, "totalcreditnotes": "0", "totaldeposits": "0",
            "remaintopay": remain, "fk_facture_source": None, "multicurrency_code": "EUR",
            "tms": f"{on} 08:00:00", **extra}  # fmt: skip


def paid(amount: str, on: str, ref: str) -> dict[str, Any]:
    """A payment line of `GET /invoices/{id}/payments`."""
    return {"amount": amount, "type": "VIR", "date": stamp(on), "num": "", "ref": ref,
            "fk_bank_line": "1"}  # fmt: skip
