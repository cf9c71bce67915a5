"""Sellsy API v2: invoices, credit notes and payments in; indicators into custom fields out.

How Sellsy books what a customer owes (VENDORS.md, "Sellsy (API v2) — from the saved spec"):

- an invoice (`amounts.total_incl_tax`, one `due_date`) is owed by the company or individual
  in its `related`; a draft is no receivable (`InvoiceKind.DRAFT`). A deposit invoice
  (`is_deposit`, facture d'acompte) is an invoice of its own, settled by its payment; the
  balance invoice of the same order (`parent`) is issued net of it (verify on an account);
- a payment (`type` credit) names the invoices it settles, for how much and on which day
  (`related_objects`); what it leaves unlinked (`amounts.remaining`) is unapplied money. A
  debit payment is money paid back, a debit on the account; rejected, failed and refunded
  payments moved no money;
- a credit note counts once, for its `total_incl_tax`; the list does not say which invoice
  it was set against, so reconciliation matches it. Drafts and cancelled ones count not.

Invoices, credit notes and payments have no "last changed" date to filter on, so every run
reads everything, `replace_all` (which also notices deletions, reported nowhere else), 100
a page, Sellsy's maximum: 4 000 invoices, 300 credit notes, 3 000 payments and 500
companies make 80 calls, 4 a second (Sellsy allows 5; `X-Quota-Remaining-By-*` is read).

The target writes one simple-text custom field per indicator, one
`PUT /companies/{id}/custom-fields` per company changed (no batch write exists). Sellsy's API
cannot create custom fields: `ensure_fields` checks they exist, and names those to create.
"""

from __future__ import annotations  # noqa: I001 - imports kept on few lines

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from encours.connectors.base import Pull
from encours.connectors.declarations.sellsy import BASE_URL, TOKEN_URL
from encours.connectors.declarative import (
    DeclarativeSource, HttpSourceSpec, OAuth2ClientCredentialsAuth, Stream,
)  # fmt: skip
from encours.connectors.http import HttpClient, HttpLimits, Pacer, PageRequest, RetryPolicy
from encours.errors import ApiError, ConfigError
from encours.model import (
    CURRENCY_EXPONENTS, CreditNote, Customer, DueLine, Invoice, InvoiceKind, Money, Party,
    Payment, Rejected, SourceAllocation, SourceRecord,
)  # fmt: skip

PAGE_SIZE = 100  # the most a Sellsy list returns
MAX_CALLS, PER_SECONDS = 4, 1.0  # under Sellsy's 5 requests a second


@dataclass(frozen=True)
class SeekPaginator:
    """Sellsy's "seek" pages: send back `pagination.offset`; a short page is the last."""

    size: int = PAGE_SIZE

    def first(self, request: PageRequest) -> PageRequest:
        """The first `size` records."""
        return request.with_value("limit", self.size)

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """After the last record of this page, unless it was short."""
        offset = (payload.get("pagination") or {}).get("offset")
        return None if count < self.size or not offset else request.with_value("offset", offset)


def make_client(
    client_id: str, client_secret: str, *, base_url: str = BASE_URL, token_url: str = TOKEN_URL,
    limits: HttpLimits | None = None, retry: RetryPolicy | None = None, pacer: Pacer | None = None,
) -> HttpClient:  # fmt: skip
    """An HTTP client to one Sellsy account, for its personal API client, paced."""
    auth = OAuth2ClientCredentialsAuth(token_url, client_id, client_secret)
    pacer = pacer or Pacer(MAX_CALLS, PER_SECONDS)
    http = HttpClient(base_url, auth=auth, pacer=pacer, retry=retry, limits=limits)
    auth.on_secret = http.add_secret
    return http


def _money(text: Any, currency: str) -> Money:
    """A Sellsy decimal string to exact Money: "2520.000" EUR is 2520.00."""
    amount = Decimal(str(text))
    exact = amount.quantize(Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(currency, 2)))
    return Money(amount=exact if exact == amount else amount, currency=currency)


def _customer(related: Any) -> str:
    """The company ("12") or the individual ("individual-7") of `related` (a list or one)."""
    for item in related if isinstance(related, list) else [related]:
        if isinstance(item, dict) and item.get("type") in ("company", "individual"):
            return f"{'' if item['type'] == 'company' else 'individual-'}{item['id']}"
    raise ValueError("no company or individual in `related`")


def _digits(value: Any, length: int) -> str | None:
    text = "".join(ch for ch in str(value or "") if ch.isdigit())
    return text if len(text) == length else None


def to_party(item: Mapping[str, Any]) -> Party:
    """A Sellsy company as matching sees it: ids, and the domain of its e-mail or website."""
    legal = item.get("legal_france") or {}
    email, site = item.get("email") or "", item.get("website") or ""
    domain = email.partition("@")[2] or site.split("//")[-1].split("/")[0].removeprefix("www.")
    return Party(
        key=str(item["id"]), name=item.get("name") or "", siren=_digits(legal.get("siren"), 9),
        siret=_digits(legal.get("siret"), 14), vat_number=legal.get("vat") or None,
        email_domain=domain.lower() or None,
    )  # fmt: skip


def _companies(source: str, item: Any, currency: str) -> Iterator[Customer]:
    p = to_party(item)
    yield Customer(
        source=source, external_id=p.key, name=p.name or p.key, siren=p.siren, siret=p.siret,
        vat_number=p.vat_number, email_domain=p.email_domain,
    )  # fmt: skip


def _individuals(source: str, item: Any, currency: str) -> Iterator[Customer]:
    name = " ".join(filter(None, (item.get("first_name"), item.get("last_name"))))
    yield Customer(source=source, external_id=f"individual-{item['id']}", name=name or "?")


def _invoices(source: str, item: Any, currency: str) -> Iterator[Invoice]:
    total = _money(item["amounts"]["total_incl_tax"], currency)
    due_on = date.fromisoformat(item.get("due_date") or item["date"])
    parent = item.get("parent") or {}
    if total.amount:  # an invoice of nothing owes nothing
        yield Invoice(
            source=source, external_id=str(item["id"]), customer_id=_customer(item["related"]),
            number=item.get("number"), issued_on=date.fromisoformat(item["date"]), total=total,
            due_lines=(DueLine(due_on=due_on, amount=total),), raw=json.dumps(item),
            kind=InvoiceKind.DRAFT if item["status"] == "draft" else InvoiceKind.INVOICE,
            order_ref=f"{parent['type']}-{parent['id']}" if parent else None,
        )  # fmt: skip


def _credit_notes(source: str, item: Any, currency: str) -> Iterator[CreditNote]:
    if item["status"] not in ("draft", "cancelled"):
        yield CreditNote(
            source=source, external_id=f"credit-note-{item['id']}", reference=item.get("number"),
            customer_id=_customer(item["related"]), on=date.fromisoformat(item["date"]),
            amount=_money(item["amounts"]["total_incl_tax"], currency), raw=json.dumps(item),
        )  # fmt: skip


def _payments(source: str, item: Any, currency: str) -> Iterator[Payment | Invoice]:
    if item["status"] not in ("pending", "confirmed"):
        return
    amount = _money(item["amounts"]["total"], currency)
    on = datetime.fromisoformat(item["paid_at"]).date()
    common = {"source": source, "external_id": f"payment-{item['id']}", "raw": json.dumps(item)}
    if item["type"] == "debit":  # paid back to the customer
        due = (DueLine(due_on=on, amount=amount),)
        yield Invoice(**common, customer_id=_customer(item["related"]), issued_on=on,
                      total=amount, due_lines=due, kind=InvoiceKind.DEBIT)  # fmt: skip
        return
    links = tuple(
        SourceAllocation(invoice_id=str(link["id"]), amount=_money(link["amount_linked"], currency),
                         allocated_on=date.fromisoformat(link.get("linked_date") or on.isoformat()))
        for link in item.get("related_objects") or () if link["type"] == "invoice"
    )  # fmt: skip
    customer = _customer(item["related"]) if item.get("related") else None  # None: unidentified
    yield Payment(**common, customer_id=customer, on=on, amount=amount,
                  reference=item.get("number"), allocations=links)  # fmt: skip


def _stream(path: str, build: Callable[[str, Any, str], Iterable[SourceRecord]]) -> Stream:
    """A list read whole; a record in another currency, or that does not fit, is Rejected."""

    def to_records(source: str, item: Any, currency: str) -> Iterator[SourceRecord | Rejected]:
        try:
            if item.get("currency", currency) != currency:
                raise ValueError(f"in {item['currency']}, not {currency}: Sellsy gives no rate")
            yield from list(build(source, item, currency))
        except (KeyError, TypeError, ValueError, ArithmeticError, ValidationError) as exc:
            ident = str(item.get("id")) if isinstance(item, dict) else "?"
            raw = json.dumps(item, default=str)
            yield Rejected(source=source, stream=path, external_id=ident, reason=str(exc), raw=raw)

    return Stream(path, items="data", paginator=SeekPaginator(), to_records=to_records)


SPEC = HttpSourceSpec(
    streams=(
        _stream("/companies", _companies), _stream("/individuals", _individuals),
        _stream("/invoices", _invoices), _stream("/credit-notes", _credit_notes),
        _stream("/payments", _payments),
    ),
    check_path="/scopes",
)  # fmt: skip


class SellsySource(DeclarativeSource):
    """Sellsy as a source: every run reads the whole account."""

    def __init__(self, source: str, http: HttpClient, *, currency: str, **kwargs: Any) -> None:
        super().__init__(source, SPEC, http, currency=currency, **kwargs)

    def pull(self, position: str | None) -> Pull:
        """Everything, `replace_all`: nothing can be asked "since" (module docstring)."""
        return super().pull(None)


class SellsyTarget:
    """The custom fields of the companies (and individuals) of one Sellsy account."""

    batch_size = 1  # one PUT per record

    def __init__(self, http: HttpClient, *, fields: Mapping[str, str]) -> None:
        self._http, self.fields, self._ids = http, dict(fields), dict[str, int]()

    def check(self) -> None:
        """Raise AuthError if Sellsy refuses the API client."""
        self._http.get("/scopes")

    def ensure_fields(self) -> list[str]:
        """The indicator fields' codes, all found on companies (else ConfigError: create them)."""
        pages = self._http.paginate("/custom-fields", paginator=SeekPaginator(), items="data")
        on_companies = (f for f in pages if {"client", "prospect"} & set(f["related_object"]))
        found = {field["code"]: field["id"] for field in on_companies}
        missing = [f"{code} ({label})" for code, label in self.fields.items() if code not in found]
        if missing:
            raise ConfigError(
                f"Sellsy has no company custom field coded {', '.join(missing)}. Create them "
                "(Settings > Custom fields: simple text, on clients and prospects), then run "
                "`encours init` again."
            )
        self._ids = {code: found[code] for code in self.fields}
        return list(self._ids)

    def companies(self) -> Iterator[Party]:
        """Every company, for matching."""
        pages = self._http.paginate("/companies", paginator=SeekPaginator(), items="data")
        return map(to_party, pages)

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Write changed values: customer key -> field code -> value ("" clears the field).

        Every record is written even when one fails (deleted or merged in Sellsy).
        """
        failed: list[str] = []
        for key, values in ((k, v) for k, v in changes.items() if v):
            if not self._ids:
                self.ensure_fields()
            body = [
                {"id": self._ids[code], "value": value or None} for code, value in values.items()
            ]
            ident = key.removeprefix("individual-")
            kind = "individuals" if ident != key else "companies"
            try:
                self._http.put(f"/{kind}/{ident}/custom-fields", json=body)
            except ApiError as error:
                failed.append(f"{key} ({error.status})")
        if failed:
            raise ApiError(
                f"Sellsy did not update {len(failed)} record(s): {', '.join(failed)}. Check they "
                "still exist in Sellsy (or fix the mapping file), then sync again."
            )
