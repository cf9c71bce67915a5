"""A fake HubSpot CRM v3 for `responses`: companies and properties in memory.

Endpoints: GET/POST /crm/v3/properties/companies, GET/POST .../companies/groups,
GET /crm/v3/objects/companies (`limit` <= 100, `after` cursor, `paging.next.after`) and
POST /crm/v3/objects/companies/batch/update (<= 100 inputs, else 400; unknown ids -> 207).
A rolling rate limit (100 requests per 10 s by default) runs on an injectable clock: past it,
429 with `Retry-After` and `X-HubSpot-RateLimit-*` headers, as HubSpot documents them.

Every request body is checked against the models of HubSpot's official Python client
(`hubspot-api-client`, Apache-2.0, a test-only dependency) with client-side validation on:
missing required fields, bad enum values, unknown keys and wrong JSON types become entries of
`violations`, which a test asserts empty. No HubSpot spec file is copied here.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections import Counter, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.companies import Configuration as _CompaniesConfig
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

BASE = "https://api.hubapi.com"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_STAMP = "2025-01-31T12:00:00.000Z"

Reply = tuple[int, dict[str, str], str]


class FakeClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# ---------------------------------------------------------------------------------------------
# Body validation with the official client's models

_CONFIG = _CompaniesConfig()
_CONFIG.client_side_validation = True
_SCALARS: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "float": (int, float),
    "object": object,
}


def validate(model: type, data: Any, where: str = "body") -> list[str]:
    """What is wrong with `data` as a JSON `model` of hubspot-api-client (empty: all good)."""
    problems: list[str] = []
    _build(model, data, where, problems)
    return problems


def _build(model: type, data: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(data, dict):
        problems.append(f"{where}: expected an object for {model.__name__}, got {data!r:.60}")
        return None
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        attr = by_json.get(key)
        if attr is None:
            problems.append(f"{where}: unknown field '{key}' for {model.__name__}")
            continue
        kwargs[attr] = _convert(model, model.openapi_types[attr], value, f"{where}.{key}", problems)
    try:
        return model(**kwargs, local_vars_configuration=_CONFIG)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where}: {model.__name__}: {exc}")
        return None


def _convert(owner: type, kind: str, value: Any, where: str, problems: list[str]) -> Any:
    if value is None:
        return None
    if kind.startswith("list["):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return None
        inner = kind[5:-1]
        return [_convert(owner, inner, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if kind.startswith(("dict(", "dict[")):  # the generator wrote both over the versions
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {type(value).__name__}")
            return None
        inner = kind[5:-1].split(",", 1)[1].strip()
        return {k: _convert(owner, inner, v, f"{where}.{k}", problems) for k, v in value.items()}
    if kind in _SCALARS:
        expected = _SCALARS[kind]
        if not isinstance(value, expected) or (kind == "int" and isinstance(value, bool)):
            problems.append(f"{where}: expected {kind}, got {type(value).__name__} {value!r:.40}")
        return value
    package = importlib.import_module(owner.__module__.rsplit(".", 1)[0])
    return _build(getattr(package, kind), value, where, problems)


# ---------------------------------------------------------------------------------------------


def _reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


def _error(status: int, category: str, message: str) -> Reply:
    return _reply(
        status,
        {"status": "error", "message": message, "category": category, "correlationId": "c0ffee"},
    )


class FakeHubSpot:
    """In-memory HubSpot: `companies` (id -> properties), `properties`, `groups`, `calls`."""

    def __init__(
        self,
        token: str,
        *,
        clock: Callable[[], float] | None = None,
        max_calls: int = 100,
        per_seconds: float = 10.0,
    ) -> None:
        self.token = token
        self.clock = clock or FakeClock()
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self.companies: dict[str, dict[str, str | None]] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()  # "METHOD /path" -> requests, 429s included
        self.throttled = 0  # how many 429 were sent
        self.violations: list[str] = []
        self._recent: deque[float] = deque()
        for name, label in (("name", "Company name"), ("domain", "Company domain name")):
            self.properties[name] = self._property(
                name, label, "string", "text", "companyinformation"
            )
            self.properties[name]["hubspotDefined"] = True

    # -- setup -----------------------------------------------------------------------------

    def add_company(self, company_id: str, **properties: str | None) -> None:
        """Add a company with some property values."""
        self.companies[company_id] = dict(properties)

    def add_property(self, name: str, *, type_: str = "string", field_type: str = "text") -> None:
        """Add a custom company property, as if a person had created it."""
        self.properties[name] = self._property(name, name, type_, field_type, "companyinformation")

    def install(self, rsps: responses.RequestsMock) -> None:
        """Register every endpoint on a `responses` mock."""
        routes = [
            ("GET", "/crm/v3/properties/companies", self._list_properties),
            ("POST", "/crm/v3/properties/companies", self._create_property),
            ("GET", "/crm/v3/properties/companies/groups", self._list_groups),
            ("POST", "/crm/v3/properties/companies/groups", self._create_group),
            ("GET", "/crm/v3/objects/companies", self._list_companies),
            ("POST", "/crm/v3/objects/companies/batch/update", self._batch_update),
        ]
        for method, path, handler in routes:
            pattern = re.compile(re.escape(BASE + path) + r"(\?.*)?$")
            rsps.add_callback(method, pattern, callback=self._guard(method, path, handler))

    # -- the gate every request goes through ------------------------------------------------

    def _guard(self, method: str, path: str, handler: Callable[..., Reply]) -> Callable[..., Reply]:
        def callback(request: Any) -> Reply:
            self.calls[f"{method} {path}"] += 1
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at https://developers.hubspot.com",
                )
            now = self.clock()
            while self._recent and self._recent[0] <= now - self.per_seconds:
                self._recent.popleft()
            if len(self._recent) >= self.max_calls:
                self.throttled += 1
                wait = math.ceil(self._recent[0] + self.per_seconds - now)
                status, headers, body = _reply(
                    429,
                    {
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "correlationId": "c0ffee",
                        "policyName": "TEN_SECONDLY_ROLLING",
                    },
                    {"Retry-After": str(max(wait, 1)), **self._limit_headers(0)},
                )
                return status, headers, body
            self._recent.append(now)
            query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}
            body = json.loads(request.body) if request.body else None
            status, headers, text = handler(query, body)
            remaining = self.max_calls - len(self._recent)
            return status, {**headers, **self._limit_headers(remaining)}, text

        return callback

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.max_calls),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.per_seconds * 1000)),
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249000",
        }

    # -- properties ----------------------------------------------------------------------------

    @staticmethod
    def _property(name: str, label: str, type_: str, field_type: str, group: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": type_,
            "fieldType": field_type,
            "groupName": group,
            "description": "",
            "options": [],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": False,
            "hidden": False,
            "hubspotDefined": False,
            "formField": True,
            "createdAt": _STAMP,
            "updatedAt": _STAMP,
            "archived": False,
        }

    def _list_properties(self, query: dict[str, str], body: Any) -> Reply:
        return _reply(200, {"results": list(self.properties.values())})

    def _create_property(self, query: dict[str, str], body: Any) -> Reply:
        problems = validate(PropertyCreate, body)
        self.violations += problems
        if problems:
            return _error(400, "VALIDATION_ERROR", "; ".join(problems))
        name = body["name"]
        if not _NAME.fullmatch(name):
            self.violations.append(f"property name {name!r} is not a valid internal name")
            return _error(400, "VALIDATION_ERROR", f"invalid property name {name}")
        if name in self.properties:
            return _error(
                409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."
            )
        if body["groupName"] not in self.groups:
            return _error(400, "VALIDATION_ERROR", f"group {body['groupName']} does not exist")
        created = self._property(
            name, body["label"], body["type"], body["fieldType"], body["groupName"]
        )
        created["description"] = body.get("description", "")
        self.properties[name] = created
        return _reply(201, created)

    def _list_groups(self, query: dict[str, str], body: Any) -> Reply:
        groups = [
            {
                "name": "companyinformation",
                "label": "Company information",
                "displayOrder": 0,
                "archived": False,
            }
        ]
        return _reply(200, {"results": groups + list(self.groups.values())})

    def _create_group(self, query: dict[str, str], body: Any) -> Reply:
        problems = validate(PropertyGroupCreate, body)
        self.violations += problems
        if problems:
            return _error(400, "VALIDATION_ERROR", "; ".join(problems))
        if body["name"] in self.groups:
            return _error(409, "OBJECT_ALREADY_EXISTS", f"group {body['name']} already exists")
        group = {
            "name": body["name"],
            "label": body["label"],
            "displayOrder": -1,
            "archived": False,
        }
        self.groups[body["name"]] = group
        return _reply(201, group)

    # -- companies -----------------------------------------------------------------------------

    def _company_json(self, company_id: str, wanted: list[str]) -> dict[str, Any]:
        values = self.companies[company_id]
        props: dict[str, Any] = {p: values.get(p) for p in wanted}
        props |= {"hs_object_id": company_id, "createdate": _STAMP, "hs_lastmodifieddate": _STAMP}
        return {
            "id": company_id,
            "properties": props,
            "createdAt": _STAMP,
            "updatedAt": _STAMP,
            "archived": False,
        }

    def _list_companies(self, query: dict[str, str], body: Any) -> Reply:
        try:
            limit = int(query.get("limit", "10"))
            start = int(query.get("after", "0"))
        except ValueError:
            self.violations.append(f"GET companies: bad limit/after {query}")
            return _error(400, "VALIDATION_ERROR", "limit and after must be integers")
        if not 1 <= limit <= 100:
            self.violations.append(f"GET companies: limit {limit} outside 1..100")
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
        wanted = [p for p in query.get("properties", "").split(",") if p]
        ids = sorted(self.companies, key=int)
        page = ids[start : start + limit]
        payload: dict[str, Any] = {"results": [self._company_json(i, wanted) for i in page]}
        if start + limit < len(ids):
            after = str(start + limit)
            payload["paging"] = {
                "next": {"after": after, "link": f"{BASE}/crm/v3/objects/companies?after={after}"}
            }
        return _reply(200, payload)

    def _batch_update(self, query: dict[str, str], body: Any) -> Reply:
        problems = validate(BatchInputSimplePublicObjectBatchInput, body)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if isinstance(inputs, list) and len(inputs) > 100:
            problems.append(f"batch/update with {len(inputs)} inputs (the maximum is 100)")
        if isinstance(inputs, list) and not inputs:
            problems.append("batch/update with no inputs")
        if not problems:
            ids = [i["id"] for i in inputs]
            if len(set(ids)) != len(ids):
                problems.append("batch/update with duplicate ids")
            unknown = {p for i in inputs for p in i["properties"] if p not in self.properties}
            if unknown:
                problems.append(f"batch/update of properties that do not exist: {sorted(unknown)}")
        self.violations += problems
        if problems:
            return _error(400, "VALIDATION_ERROR", "; ".join(problems))
        done, missing = [], []
        for item in inputs:
            if item["id"] in self.companies:
                self.companies[item["id"]].update(item["properties"])
                done.append(self._company_json(item["id"], list(item["properties"])))
            else:
                missing.append(item["id"])
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": done,
            "startedAt": _STAMP,
            "completedAt": _STAMP,
        }
        if not missing:
            return _reply(200, payload)
        payload |= {
            "numErrors": 1,
            "errors": [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some COMPANY objects, they may be deleted.",
                    "context": {"ids": missing},
                }
            ],
        }
        return _reply(207, payload)
