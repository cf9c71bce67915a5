"""Dolibarr REST API: customer invoices in; indicators into third-party extra fields out.

How Dolibarr books what a customer owes (VENDORS.md §10; htdocs/compta/facture):

- an invoice (`type` 0 standard, 1 replacement) is owed for `total_ttc` by `socid`, due on
  `date_lim_reglement`; a draft (`status` 0) is no receivable. One closed (2 paid, 3
  abandoned) with something left (`remaintopay`, a write-off) was owed only what settled it;
- its payments (`GET /invoices/{id}/payments`: amount and day) settle it: asked only for an
  invoice with something paid (`totalpaid`), as no list gives their days;
- a credit note (`type` 2, negative) counts once, for its whole amount, on the invoice it
  corrects (`fk_facture_source`) when it says; money paid back on it is a debit;
- a deposit invoice (`type` 3, acompte) owes nothing until paid: what is paid on it is an
  advance, unapplied until used on a final invoice (its `totaldeposits`), on that invoice's
  day: the advance used up (`ADVANCE_USE`) and the invoice settled for as much.

Dates are Unix timestamps of midnight in the server's zone: read at noon UTC, the calendar
day is right for any zone. Incremental: `sqlfilters` on `t.tms` (last change, the server's
local time, hence a day of overlap); a deletion is noticed by a whole read. Lists of 100 (the
API's default) from page 0; Dolibarr is self-hosted, with no published limit: 10 requests a
second, kind to a shared host. Writes: one `PUT /thirdparties/{id}` per third party (no
batch), `array_options.options_<code>`; `init` creates the extra fields that are missing.
"""

from __future__ import annotations  # noqa: I001 - imports kept on few lines

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from pydantic import ValidationError
from requests.auth import AuthBase

from encours.connectors.declarative import DeclarativeSource, HttpSourceSpec, PagePaginator, Stream
from encours.connectors.http import HttpClient, HttpLimits, Pacer, RetryPolicy
from encours.errors import ApiError, AuthError, NotFoundError
from encours.model import (
    Advance, CreditNote, Customer, DueLine, Invoice, InvoiceKind, Money, Party, Payment, Rejected,
    SourceAllocation, SourceRecord,
)  # fmt: skip

PAGE_SIZE = 100
MAX_CALLS, PER_SECONDS = 10, 1.0
API_PATH = "/api/index.php"
PAGES = PagePaginator(size=PAGE_SIZE, page_param="page", size_param="limit", first_page=0)
STANDARD, REPLACEMENT, CREDIT_NOTE, DEPOSIT = 0, 1, 2, 3
DRAFT, PAID, ABANDONED = 0, 2, 3


class ApiKeyAuth(AuthBase):
    """`DOLAPIKEY: <key>`; its repr hides the key."""

    def __init__(self, key: str) -> None:
        if not key.strip():
            raise AuthError("the Dolibarr API key is empty: `encours secrets set NAME api_key`")
        self.secrets = (key,)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the header on an outgoing request."""
        request.headers["DOLAPIKEY"] = self.secrets[0]
        return request

    def __repr__(self) -> str:
        return "ApiKeyAuth(key='***')"


class DolibarrClient(HttpClient):
    """Dolibarr before 2024 (PR #27261) answers an empty list with 404 "No ... found"."""

    def paginate(self, path: str, **kwargs: Any) -> Iterator[Any]:
        """`HttpClient.paginate`, an empty list's 404 being its end."""
        try:
            yield from super().paginate(path, **kwargs)
        except NotFoundError as error:
            if not _is_empty_list(error):
                raise


def _is_empty_list(error: NotFoundError) -> bool:
    return "No " in str(error) and "found" in str(error)


def make_client(
    url: str, api_key: str, *, limits: HttpLimits | None = None,
    retry: RetryPolicy | None = None, pacer: Pacer | None = None,
) -> HttpClient:  # fmt: skip
    """An HTTP client to the API of the Dolibarr at `url`, paced."""
    pacer = pacer or Pacer(MAX_CALLS, PER_SECONDS)
    root = url.rstrip("/").removesuffix(API_PATH) + API_PATH
    return DolibarrClient(root, auth=ApiKeyAuth(api_key), pacer=pacer, retry=retry, limits=limits)


def _money(text: Any, currency: str) -> Money:
    """A Dolibarr amount ("1200.00000000") to exact Money: 1200.00 EUR."""
    amount = Decimal(str(text))
    exact = amount.quantize(Decimal("0.01"))
    return Money(amount=exact if exact == amount else amount, currency=currency)


def _day(value: Any) -> date:
    """A timestamp of a midnight somewhere (or "2026-02-05 ..."): its calendar day."""
    if isinstance(value, int) or str(value).isdigit():
        return datetime.fromtimestamp(int(value) + 12 * 3600, UTC).date()
    return date.fromisoformat(str(value)[:10])


def _status(item: Mapping[str, Any]) -> int:
    return int(item.get("status", item.get("statut", DRAFT)))


def _since(moment: datetime) -> str:
    return f"(t.tms:>=:'{moment:%Y-%m-%d %H:%M:%S}')"


def _digits(value: Any, length: int) -> str | None:
    text = "".join(ch for ch in str(value or "") if ch.isdigit())
    return text if len(text) == length else None


def to_party(item: Mapping[str, Any]) -> Party:
    """A third party as matching sees it: SIREN (idprof1), SIRET (idprof2), VAT, domain."""
    email, site = item.get("email") or "", item.get("url") or ""
    domain = email.partition("@")[2] or site.split("//")[-1].split("/")[0].removeprefix("www.")
    return Party(
        key=str(item["id"]), name=item.get("name") or "", siren=_digits(item.get("idprof1"), 9),
        siret=_digits(item.get("idprof2"), 14), vat_number=item.get("tva_intra") or None,
        email_domain=domain.lower() or None,
    )  # fmt: skip


def _customers(source: str, item: Any, currency: str) -> Iterator[Customer]:
    p, limit = to_party(item), item.get("outstanding_limit")
    yield Customer(
        source=source, external_id=p.key, name=p.name or p.key, siren=p.siren, siret=p.siret,
        vat_number=p.vat_number, email_domain=p.email_domain,
        credit_limit=_money(limit, currency) if limit not in (None, "") else None,
    )  # fmt: skip


def _document(source: str, item: Any, currency: str) -> Iterator[SourceRecord]:
    kind, status = int(item["type"]), _status(item)
    amount, ident, on = Decimal(str(item["total_ttc"])), str(item["id"]), _day(item["date"])
    common = {"source": source, "customer_id": str(item["socid"]), "raw": json.dumps(item)}
    if kind == CREDIT_NOTE and status != DRAFT:
        corrected = str(item.get("fk_facture_source") or "") or None
        yield CreditNote(**common, external_id=f"credit-note-{ident}", on=on,
                         amount=_money(abs(amount), currency), reference=item.get("ref"),
                         applies_to=corrected)  # fmt: skip
    if kind not in (STANDARD, REPLACEMENT):
        return
    if status in (PAID, ABANDONED):  # what was left is written off
        amount -= Decimal(str(item.get("remaintopay") or 0))
    if amount > 0:
        total = _money(amount, currency)
        due = (DueLine(due_on=_day(item.get("date_lim_reglement") or item["date"]), amount=total),)
        draft = InvoiceKind.DRAFT if status == DRAFT else InvoiceKind.INVOICE
        yield Invoice(**common, external_id=ident, number=item.get("ref"), issued_on=on,
                      total=total, due_lines=due, kind=draft)  # fmt: skip
    deposits = _money(item.get("totaldeposits") or 0, currency)
    if deposits.amount > 0 and status != DRAFT:  # advances used on it, as the books say it:
        use = (DueLine(due_on=on, amount=deposits),)  # 4191 debited, this invoice credited
        yield Invoice(**common, external_id=f"deposit-use-{ident}", issued_on=on, total=deposits,
                      due_lines=use, kind=InvoiceKind.ADVANCE_USE)  # fmt: skip
        link = SourceAllocation(invoice_id=ident, amount=deposits, allocated_on=on)
        yield Payment(**common, external_id=f"deposit-use-{ident}", on=on, amount=deposits,
                      allocations=(link,))  # fmt: skip


def _paid(source: str, invoice: Any, pay: Any, currency: str) -> Iterator[SourceRecord]:
    """One payment of an invoice: a payment of it, an advance (deposit), a refund (credit note)."""
    amount, on, kind = _money(pay["amount"], currency), _day(pay["date"]), int(invoice["type"])
    ident = f"{pay.get('ref') or pay.get('num')}-{invoice['id']}"
    common = {"source": source, "customer_id": str(invoice["socid"]), "raw": json.dumps(pay)}
    if kind == CREDIT_NOTE:
        back = _money(abs(amount.amount), currency)
        due = (DueLine(due_on=on, amount=back),)
        yield Invoice(**common, external_id=f"refund-{ident}", issued_on=on, total=back,
                      due_lines=due, kind=InvoiceKind.DEBIT)  # fmt: skip
    elif kind == DEPOSIT:
        yield Advance(**common, external_id=f"advance-{ident}", on=on, amount=amount,
                      reference=invoice.get("ref"), is_on_order=False)  # fmt: skip
    elif amount.amount > 0:
        link = SourceAllocation(invoice_id=str(invoice["id"]), amount=amount, allocated_on=on)
        yield Payment(**common, external_id=f"payment-{ident}", on=on, amount=amount,
                      reference=pay.get("num") or pay.get("ref"), allocations=(link,))  # fmt: skip


def _stream(path: str, build: Callable[[str, Any, str], Iterable[SourceRecord]]) -> Stream:
    """A list by pages of 100, changed since `t.tms`; a record that does not fit is Rejected."""

    def to_records(source: str, item: Any, currency: str) -> Iterator[SourceRecord | Rejected]:
        try:
            yield from list(build(source, item, currency))
        except (KeyError, TypeError, ValueError, ArithmeticError, ValidationError) as exc:
            ident = str(item.get("id")) if isinstance(item, dict) else "?"
            raw = json.dumps(item, default=str)
            yield Rejected(source=source, stream=path, external_id=ident, reason=str(exc), raw=raw)

    params = {"sortfield": "t.rowid", "sortorder": "ASC"} | ({"mode": 1} if "third" in path else {})
    return Stream(path, items="", paginator=PAGES, to_records=to_records, params=params,
                  since_param="sqlfilters", since_format=_since)  # fmt: skip


class DolibarrSource(DeclarativeSource):
    """Dolibarr as a source: customers and invoices changed since the last run, a day earlier."""

    def __init__(self, source: str, http: HttpClient, *, currency: str, **kwargs: Any) -> None:
        streams = (_stream("/thirdparties", _customers), _stream("/invoices", self._documents))
        spec = HttpSourceSpec(streams=streams, check_path="/status", overlap=timedelta(days=1))
        super().__init__(source, spec, http, currency=currency, **kwargs)

    def _documents(self, source: str, item: Any, currency: str) -> Iterator[SourceRecord]:
        """The document, then its payments when something was paid on it."""
        yield from _document(source, item, currency)
        if _status(item) != DRAFT and Decimal(str(item.get("totalpaid") or 0)):
            for pay in self._http.get(f"/invoices/{item['id']}/payments") or ():
                yield from _paid(source, item, pay, currency)


class DolibarrTarget:
    """The extra fields of the third parties of one Dolibarr, one PUT per third party."""

    batch_size = 1

    def __init__(self, http: HttpClient, *, fields: Mapping[str, str]) -> None:
        self._http, self.fields = http, dict(fields)

    def check(self) -> None:
        """Raise AuthError if Dolibarr refuses the API key."""
        self._http.get("/status")

    def ensure_fields(self) -> tuple[list[str], list[str]]:
        """Create the missing extra fields (text, 255) on third parties: (created, reused)."""
        try:
            found = self._http.get("/setup/extrafields", params={"elementtype": "thirdparty"})
        except NotFoundError:
            found = {}
        existing = set((found or {}).get("thirdparty") or ())
        created = [code for code in self.fields if code not in existing]
        for rank, code in enumerate(created, start=100):
            body = {"label": self.fields[code], "type": "varchar", "size": "255", "pos": rank,
                    "list": "1", "alwayseditable": 1}  # fmt: skip
            self._http.post(f"/setup/extrafields/thirdparty/{code}", json=body)
        return created, [code for code in self.fields if code in existing]

    def companies(self) -> Iterator[Party]:
        """Every customer third party, for matching."""
        params = {"mode": 1, "sortfield": "t.rowid", "sortorder": "ASC"}
        return map(
            to_party, self._http.paginate("/thirdparties", params=params, paginator=PAGES, items="")
        )

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Write changed values: third party id -> field code -> value ("" clears it).

        Every third party is written even when one fails (deleted or merged in Dolibarr).
        """
        failed: list[str] = []
        for key, values in ((k, v) for k, v in changes.items() if v):
            options = {f"options_{code}": value for code, value in values.items()}
            try:
                self._http.put(f"/thirdparties/{key}", json={"array_options": options})
            except ApiError as error:
                failed.append(f"{key} ({error.status})")
        if failed:
            raise ApiError(
                f"Dolibarr did not update {len(failed)} third part(ies): {', '.join(failed)}. "
                "Check they still exist (or fix the mapping file), then sync again."
            )
