"""A fake Stripe API (2023-08-16) for `responses`: customers, invoices, credit notes, events.

It behaves like the real one where our connector can go wrong (VENDORS.md §8): lists newest
first, `limit` from 1 to 100 (400 otherwise) and `starting_after`, `has_more`; events kept
30 days and filtered by `types[]` and `created[gte]`; 25 requests a second, then 429 (Stripe
documents no Retry-After: the client backs off); on demand 5xx answers, a revoked key (401
after N calls, the key masked in the message as Stripe does) and malformed objects.

The books move as Stripe moves them, each change with its events: `finalize` applies the
customer's balance (`starting_balance`, `ending_balance`, `amount_due`), `pay`, `credit`
(a credit note: before payment it lowers what is due; after it, it is refunded or credited
to the customer's balance), `adjust` (a customer balance transaction), `void`, `delete`.

Every request is checked against Stripe's published contract (`tests/contracts/stripe`):
the path and method, the `Stripe-Version` pinned, and every query parameter declared with a
value of its schema, `deepObject` ones (`created[gte]`, `types[]`) included: openapi-core
does not read Stripe's `deepObject` parameters, so the check reads the same operation's
parameters itself. Violations are collected in `violations` for the test to assert empty.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses
from fakes.pennylane import FakeClock
from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).parents[1] / "contracts" / "stripe" / "list-operations.json"
ORIGIN = "https://api.stripe.com"
API_VERSION = "2023-08-16"
LIMIT = 25
WINDOW = 1.0
RETENTION = timedelta(days=30)
LISTS = {"customers": "customer", "invoices": "invoice", "credit_notes": "credit_note"}


@cache
def _operations() -> dict[str, dict[str, Any]]:
    """Path -> the GET operation's query parameters by name."""
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return {
        path: {p["name"]: p for p in item["get"]["parameters"] if p["in"] == "query"}
        for path, item in spec["paths"].items()
    }


def _coerce(text: str, schema: dict[str, Any]) -> Any:
    """A query value as its schema's type, as Stripe's form decoding reads it."""
    kind = schema.get("type")
    if kind == "integer":
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def contract_violations(path: str, query: list[tuple[str, str]], headers: Any) -> list[str]:
    """What in one GET request the contract does not allow (empty: a valid request)."""
    declared = _operations().get(path)
    if declared is None:
        return [f"GET {path}: no such operation in Stripe's API"]
    found = []
    if headers.get("Stripe-Version") != API_VERSION:
        found.append(f"Stripe-Version {headers.get('Stripe-Version')!r}, not {API_VERSION}")
    if not headers.get("Authorization", "").startswith("Bearer "):
        found.append("no bearer key")
    names = [name for name, _ in query]
    for name, value in query:
        match = re.fullmatch(r"([a-z_]+)(?:\[([a-z_]*|\d+)\])?", name)
        param = declared.get(match[1]) if match else None
        if param is None:
            found.append(f"{path}: undeclared query parameter {name!r}")
            continue
        schema, key = param["schema"], match[2]
        if key is None and names.count(name) > 1:
            found.append(f"{path}: {name} sent twice")
        if param.get("style") == "deepObject":  # created[gte]=..., types[]=...
            branches = schema.get("anyOf", [schema])
            objects = [b for b in branches if b.get("type") == "object"]
            if schema.get("type") == "array" and key is not None and not key.isalpha():
                schema = schema["items"]
            elif objects and key in objects[0]["properties"]:
                schema = objects[0]["properties"][key]
            elif key is not None or not any(b.get("type") != "object" for b in branches):
                found.append(f"{path}: {name} does not fit {match[1]}'s schema")
                continue
            else:
                schema = next(b for b in branches if b.get("type") != "object")
        errors = list(OAS30Validator(schema).iter_errors(_coerce(value, schema)))
        found += [f"{path}: {name}={value!r}: {e.message}" for e in errors]
    return found


def _stamp(when: datetime) -> int:
    return int(when.timestamp())


def customer(ident: str, name: str, *, balance: int = 0, currency: str = "eur") -> dict[str, Any]:
    """A customer as `/v1/customers` lists it (the fields encours reads, and a few more)."""
    return {"id": ident, "object": "customer", "name": name, "email": f"billing@{ident}.example",
            "balance": balance, "currency": currency, "created": 1_700_000_000,
            "delinquent": False, "livemode": False, "metadata": {}}  # fmt: skip


def invoice(ident: str, customer_id: str, total: int, *, created: datetime,
            currency: str = "eur", due_days: int | None = 30, status: str = "draft",
            ) -> dict[str, Any]:  # fmt: skip
    """An invoice, a draft or (`status="open"`) finalized when created, no balance applied;
    `due_days` None: charged automatically (no due date)."""
    made = {"id": ident, "object": "invoice", "customer": customer_id, "currency": currency,
            "status": "draft", "number": None, "total": total, "subtotal": total,
            "amount_due": total, "amount_paid": 0, "amount_remaining": total,
            "starting_balance": 0, "ending_balance": None, "created": _stamp(created),
            "effective_at": None, "due_date": None, "due_days": due_days,
            "collection_method": "charge_automatically" if due_days is None else "send_invoice",
            "pre_payment_credit_notes_amount": 0, "post_payment_credit_notes_amount": 0,
            "status_transitions": {"finalized_at": None, "paid_at": None,
                                   "marked_uncollectible_at": None, "voided_at": None},
            "livemode": False, "metadata": {}}  # fmt: skip
    if status == "open":
        made |= {"status": "open", "number": f"N-{ident}", "ending_balance": 0,
                 "effective_at": made["created"]}  # fmt: skip
        made["status_transitions"]["finalized_at"] = made["created"]
        if due_days is not None:
            made["due_date"] = _stamp(created + timedelta(days=due_days))
    return made


@dataclass
class FakeStripe:
    """One Stripe account in memory, served to `responses` callbacks."""

    clock: FakeClock = field(default_factory=FakeClock)
    token: str = "sk_test_fake_51Hsecretkey4242"  # noqa: S105 (a fake key)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    fail_next: list[int] = field(default_factory=list)
    expire_after: int | None = None
    calls: list[requests.PreparedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    throttled: int = 0
    _sent: deque[float] = field(default_factory=deque)

    def register(self, rsps: responses.RequestsMock) -> None:
        """Answer every GET to Stripe's origin."""
        rsps.add_callback(responses.GET, re.compile(re.escape(ORIGIN) + r"/.*"), self._handle)

    def paths(self) -> list[str]:
        """The path (without the query) of every request received, in order."""
        return [urlsplit(c.url).path for c in self.calls]

    # -- bookkeeping, as Stripe does it ---------------------------------------------------

    def event(self, kind: str, obj: dict[str, Any], at: datetime, **previous: Any) -> None:
        """Record an event carrying a copy of `obj` as it is now."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        self.events.append({"id": f"evt_{len(self.events) + 1}", "object": "event",
                            "type": kind, "created": _stamp(at), "data": data,
                            "api_version": API_VERSION, "livemode": False})  # fmt: skip

    def add_invoice(self, draft: dict[str, Any]) -> dict[str, Any]:
        """Create a draft invoice (`invoice.created`)."""
        self.invoices[draft["id"]] = draft
        self.event("invoice.created", draft, datetime.fromtimestamp(draft["created"], UTC))
        return draft

    def adjust(self, customer_id: str, amount: int, at: datetime) -> None:
        """A customer balance transaction: negative is credit given to the customer."""
        self._set_balance(customer_id, self.customers[customer_id]["balance"] + amount, at)

    def finalize(self, invoice_id: str, at: datetime) -> None:
        """Finalize: apply the customer balance, set the number and due date."""
        inv = self.invoices[invoice_id]
        cus = self.customers[inv["customer"]]
        start = cus["balance"]
        due_now = inv["total"] - inv["pre_payment_credit_notes_amount"] + start
        inv |= {"status": "open", "number": f"N-{invoice_id}", "starting_balance": start,
                "ending_balance": min(due_now, 0), "amount_due": max(due_now, 0),
                "amount_remaining": max(due_now, 0), "effective_at": _stamp(at)}  # fmt: skip
        if inv["due_days"] is not None:
            inv["due_date"] = _stamp(at + timedelta(days=inv["due_days"]))
        inv["status_transitions"]["finalized_at"] = _stamp(at)
        self.event("invoice.finalized", inv, at)
        if start:
            self._set_balance(cus["id"], min(due_now, 0), at)
        if not inv["amount_due"]:
            self.pay(invoice_id, at)

    def pay(self, invoice_id: str, at: datetime) -> None:
        """The rest of the invoice paid (a card charge, a transfer)."""
        inv = self.invoices[invoice_id]
        inv["amount_paid"] += inv["amount_remaining"]
        inv |= {"amount_remaining": 0, "status": "paid"}
        inv["status_transitions"]["paid_at"] = _stamp(at)
        self.event("invoice.paid", inv, at)
        self.event("invoice.updated", inv, at, status="open")

    def credit(self, cn_id: str, invoice_id: str, amount: int, at: datetime,
               *, to_balance: bool = False) -> dict[str, Any]:  # fmt: skip
        """A credit note: open invoice, less due; paid one, refunded or `to_balance`."""
        inv = self.invoices[invoice_id]
        kind = "pre_payment" if inv["status"] == "open" else "post_payment"
        note = {"id": cn_id, "object": "credit_note", "invoice": invoice_id, "amount": amount,
                "customer": inv["customer"], "currency": inv["currency"], "type": kind,
                "status": "issued", "created": _stamp(at), "effective_at": None,
                "number": f"CN-{cn_id}", "out_of_band_amount": None, "refund": None,
                "customer_balance_transaction": None, "livemode": False}  # fmt: skip
        self.credit_notes[cn_id] = note
        self.event("credit_note.created", note, at)
        if kind == "pre_payment":
            inv["pre_payment_credit_notes_amount"] += amount
            inv["amount_due"] -= amount
            inv["amount_remaining"] -= amount
            self.event("invoice.updated", inv, at, amount_due=inv["amount_due"] + amount)
            if not inv["amount_remaining"]:
                self.pay(invoice_id, at)
        else:
            inv["post_payment_credit_notes_amount"] += amount
            if to_balance:
                note["customer_balance_transaction"] = f"cbtxn_{cn_id}"
                self.adjust(inv["customer"], -amount, at)
            else:
                note["refund"] = f"re_{cn_id}"
        return note

    def void(self, invoice_id: str, at: datetime) -> None:
        """Void a finalized invoice."""
        self.invoices[invoice_id]["status"] = "void"
        self.event("invoice.voided", self.invoices[invoice_id], at)

    def delete(self, invoice_id: str, at: datetime) -> None:
        """Delete a draft (Stripe deletes drafts only)."""
        inv = self.invoices.pop(invoice_id)
        assert inv["status"] == "draft", "Stripe deletes drafts only"
        self.event("invoice.deleted", inv, at)

    def _set_balance(self, customer_id: str, balance: int, at: datetime) -> None:
        cus = self.customers[customer_id]
        before, cus["balance"] = cus["balance"], balance
        self.event("customer.updated", cus, at, balance=before)

    # -- serving ---------------------------------------------------------------------------

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls.append(request)
        url = urlsplit(str(request.url))
        query = parse_qsl(url.query, keep_blank_values=True)
        self.violations += contract_violations(url.path, query, request.headers)
        now = self.clock.monotonic()
        while self._sent and self._sent[0] <= now - WINDOW:
            self._sent.popleft()
        if len(self._sent) >= LIMIT:
            self.throttled += 1
            return _error(429, "rate_limit", "Too many requests hit the API too quickly.")
        self._sent.append(now)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return _error(status, "api_error", f"fake failure {status}")
        if request.headers.get("Authorization") != f"Bearer {self.token}" or (
            self.expire_after is not None and len(self.calls) > self.expire_after
        ):
            return _error(401, None, f"Invalid API Key provided: sk_test_****{self.token[-4:]}")
        return self._list(url.path.removeprefix("/v1/"), query)

    def _list(self, name: str, query: list[tuple[str, str]]) -> tuple[int, dict[str, str], str]:
        params = dict(query)
        limit = int(params.get("limit", "10"))
        if not 1 <= limit <= 100:
            return _error(400, "parameter_invalid_integer", "limit must be between 1 and 100")
        if name == "events":
            rows = self._events(params, [v for k, v in query if k.startswith("types[")])
        elif name in LISTS:
            rows = sorted(getattr(self, name).values(), key=lambda o: -o["created"])
        else:
            return _error(404, "resource_missing", f"Unrecognized request URL (GET: /v1/{name})")
        if "starting_after" in params:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(params["starting_after"]) + 1 :]
        page = {"object": "list", "url": f"/v1/{name}", "data": rows[:limit],
                "has_more": len(rows) > limit}  # fmt: skip
        return 200, {"Request-Id": f"req_{len(self.calls)}"}, json.dumps(page)

    def _events(self, params: dict[str, str], types: list[str]) -> list[dict[str, Any]]:
        oldest = _stamp(self.clock.now() - RETENTION)
        since = max(int(params.get("created[gte]", oldest)), oldest)
        return [e for e in reversed(self.events)
                if e["created"] >= since and (not types or e["type"] in types)]  # fmt: skip


def _error(status: int, code: str | None, message: str) -> tuple[int, dict[str, str], str]:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"type": kind, "message": message} | ({"code": code} if code else {})}
    return status, {"Content-Type": "application/json"}, json.dumps(body)
