"""The Xero source against its fake: mapping, OAuth 2 rotation, If-Modified-Since, call counts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import responses
from fakes.xero import LIMIT, TENANT, TOKEN_URL, FakeXero, contact, contract_violations, credit
from fakes.xero import invoice as xero_invoice
from tenacity import wait_exponential

from encours.connectors import xero
from encours.connectors.declarations import xero as xero_declaration
from encours.connectors.declarative import OAuth2RefreshAuth
from encours.connectors.http import Pacer, RetryPolicy
from encours.connectors.registry import Context
from encours.errors import AuthError
from encours.model import (
    Advance,
    CreditNote,
    Customer,
    Invoice,
    InvoiceKind,
    Payment,
    Rejected,
    Sale,
)

LONG_AGO = datetime(2026, 1, 5, 12, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeXero]:
    fake = FakeXero()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        yield fake
    assert fake.violations == []


def source(fake: FakeXero) -> xero.XeroSource:
    """The source on the fake's clock: retries and pacing sleep on it."""
    clock = fake.clock
    auth = OAuth2RefreshAuth(TOKEN_URL, fake.client_id, fake.client_secret, fake.refresh_token,
                             save=lambda token: None, clock=clock.monotonic)  # fmt: skip
    retry = RetryPolicy(wait=wait_exponential(min=1, max=8), sleep=clock.sleep)
    pacer = Pacer(*xero.RATE_LIMIT, clock=clock.monotonic, sleep=clock.sleep)
    http = xero.make_client(fake.tenant, auth, retry=retry, pacer=pacer)
    return xero.XeroSource("xe", http, currency="EUR", now=clock.now)


def of(records: list[Any], kind: type) -> dict[str, Any]:
    return {r.external_id: r for r in records if type(r) is kind}


def ago(fake: FakeXero, **delta: float) -> datetime:
    return fake.clock.now() - timedelta(**delta)


def books(fake: FakeXero, count: int = 3) -> None:
    fake.add("Contacts", contact("c1", "Alpha", updated=LONG_AGO))
    made = [xero_invoice(f"i{n}", "c1", "100.00", on=LONG_AGO) for n in range(count)]
    fake.add("Invoices", *made)


# -- mapping ------------------------------------------------------------------------------


def test_dates_are_the_organisation_s_day_and_amounts_exact() -> None:
    assert xero.day("/Date(1767225600000+0000)/") == date(2026, 1, 1)
    assert xero.day("2026-01-01T00:00:00") == date(2026, 1, 1)
    assert xero.money(Decimal("1200.5"), "EUR").minor_units == 120050
    for bad in ("12.00", 1.5, True):
        with pytest.raises(ValueError, match="not a number"):
            xero.money(bad, "EUR")


def test_an_invoice_its_sale_and_payments_and_a_draft_is_a_draft() -> None:
    item = json.loads(json.dumps(xero_invoice("i1", "c1", "300.00", on=LONG_AGO), default=str),
                      parse_float=Decimal)  # fmt: skip
    item |= {
        "Total": Decimal("300.00"),
        "Payments": [
            {"PaymentID": "p1", "Date": "/Date(1768003200000+0000)/", "Amount": Decimal("120.00")}
        ],
    }
    inv, sale, paid = xero.guarded("Invoices", "InvoiceID", xero.to_invoice)("xe", item, "EUR")
    assert (inv.total.amount, inv.number) == (300, "INV-i1")
    assert inv.due_lines[0].due_on == date(2026, 2, 4)
    assert (sale.amount.amount, paid.amount.amount, paid.on) == (300, 120, date(2026, 1, 10))
    assert paid.allocations[0].invoice_id == "i1"
    [draft] = xero.to_invoice("xe", item | {"Status": "SUBMITTED", "Payments": []})
    assert draft.kind is InvoiceKind.DRAFT


def test_a_malformed_document_is_rejected_with_its_reason() -> None:
    item = {"InvoiceID": "i9", "Status": "AUTHORISED", "CurrencyCode": "EUR", "Total": "x",
            "Contact": {"ContactID": "c1"}, "Date": "/Date(1768003200000+0000)/"}  # fmt: skip
    [rejected] = xero.guarded("Invoices", "InvoiceID", xero.to_invoice)("xe", item, "EUR")
    assert isinstance(rejected, Rejected) and rejected.external_id == "i9"
    assert "not a number" in rejected.reason


def test_credits_count_once_with_their_allocations_and_refunds(fake: FakeXero) -> None:
    books(fake)
    fake.add("CreditNotes", credit("CreditNotes", "cn1", "c1", "100.00", on=ago(fake, days=9)))
    fake.allocate("CreditNotes", "cn1", "i0", "60.00", ago(fake, days=8))
    fake.refund("CreditNotes", "cn1", "40.00", ago(fake, days=7))
    fake.add("Prepayments", credit("Prepayments", "pp1", "c1", "250.00", on=ago(fake, days=9)))
    fake.allocate("Prepayments", "pp1", "i1", "100.00", ago(fake, days=5))
    fake.add("Overpayments", credit("Overpayments", "op1", "c1", "30.00", on=ago(fake, days=3)))
    records = list(source(fake).pull(None).records)

    note = of(records, CreditNote)["cn1"]
    assert note.applies_to == "i0" and note.amount.amount == 100
    assert [(a.invoice_id, a.amount.amount) for a in note.allocations] == [
        ("i0", 60), ("refund-cn1-1", 40)]  # fmt: skip
    refund = of(records, Invoice)["refund-cn1-1"]
    assert refund.kind is InvoiceKind.DEBIT and refund.total.amount == 40
    assert of(records, Sale)["sale:cn1"].amount.amount == -100
    advance = of(records, Advance)["pp1"]
    assert advance.amount.amount == 250 and advance.allocations[0].invoice_id == "i1"
    assert of(records, Payment)["op1"].allocations == ()  # unapplied: 30.00
    assert not of(records, Payment).keys() - {"op1"}  # the invoice lists of credits: ignored
    assert {r.external_id for r in records if isinstance(r, Customer)} == {"c1"}


# -- OAuth 2 --------------------------------------------------------------------------------


def made(fake: FakeXero, refresh_token: str, saved: list[tuple[str, str, int]]) -> Any:
    """`make_source` as sync calls it; what it saves, with the API calls made before."""
    settings = xero_declaration.XeroSourceSettings(type="xero", tenant_id=fake.tenant,
                                       client_id=fake.client_id)  # fmt: skip
    limits = SimpleNamespace(http_request_seconds=30, http_total_seconds=60,
                             http_max_response_bytes=2**24, http_max_pages=100)  # fmt: skip
    everything = SimpleNamespace(company=SimpleNamespace(currency="EUR"), limits=limits)
    secrets = {"client_secret": fake.client_secret, "refresh_token": refresh_token}
    context = Context("xe", settings, everything, secret=secrets.__getitem__,
                      save_secret=lambda k, v: saved.append((k, v, len(fake.calls))))  # fmt: skip
    return xero_declaration.make_source(context)


def test_the_rotated_refresh_token_is_saved_before_the_first_call(fake: FakeXero) -> None:
    books(fake)
    saved: list[tuple[str, str, int]] = []
    first = fake.refresh_token
    reader = made(fake, first, saved)
    assert len(of(list(reader.pull(None).records), Invoice)) == 3
    assert saved == [("refresh_token", fake.refresh_token, 0)] and fake.refresh_token != first
    assert fake.token_calls == 1  # one exchange for the whole run
    with pytest.raises(AuthError, match="encours init") as error:
        made(fake, first, []).check()  # the old one is spent: invalid_grant
    assert first not in str(error.value) and fake.client_secret not in str(error.value)


# -- incremental ----------------------------------------------------------------------------


def position(when: datetime) -> str:
    return json.dumps({"since": when.isoformat(), "v": xero.VERSION})


def test_incremental_sends_if_modified_since_less_the_overlap(fake: FakeXero) -> None:
    books(fake)
    fake.pay("i0", "100.00", ago(fake, minutes=90))  # before the overlap: not read again
    fake.pay("i1", "40.00", ago(fake, minutes=30))  # inside it
    pull = source(fake).pull(position(ago(fake, minutes=20)))
    records = list(pull.records)

    assert pull.replace_all is False
    assert sorted(of(records, Invoice)) == ["i1"] and sorted(of(records, Payment)) == ["pay-i1-1"]
    sent = {c.headers.get("If-Modified-Since") for c in fake.calls}
    assert sent == {xero.stamp(ago(fake, minutes=20) - xero.OVERLAP)}
    assert "If-Modified-Since" not in fake.calls[0].url  # a header, not a query parameter
    assert fake.paths() == ["Contacts", "Invoices", "CreditNotes", "Prepayments",
                            "Overpayments", "Payments"]  # fmt: skip
    assert json.loads(pull.position())["since"] == fake.clock.now().isoformat()


def test_nothing_changed_is_unchanged(fake: FakeXero) -> None:
    books(fake)
    pull = source(fake).pull(position(ago(fake, hours=2)))
    assert pull.unchanged and list(pull.records) == []


@pytest.mark.parametrize("why", ["voided invoice", "voided credit note", "payment deleted"])
def test_what_vanished_turns_the_run_into_a_full_read(fake: FakeXero, why: str) -> None:
    books(fake)
    paid = fake.pay("i2", "10.00", LONG_AGO)
    fake.add("CreditNotes", credit("CreditNotes", "cn1", "c1", "5.00", on=LONG_AGO))
    if why == "voided invoice":
        fake.void("Invoices", "i1", ago(fake, minutes=30))
    elif why == "voided credit note":
        fake.void("CreditNotes", "cn1", ago(fake, minutes=30))
    else:
        fake.delete_payment(paid, ago(fake, minutes=30))
    pull = source(fake).pull(position(ago(fake, hours=2)))
    records = list(pull.records)
    assert pull.replace_all is True
    left = {"i0", "i2"} if why == "voided invoice" else {"i0", "i1", "i2"}
    assert set(of(records, Invoice)) == left
    assert ("cn1" in of(records, CreditNote)) is (why != "voided credit note")
    assert ("pay-i2-1" in of(records, Payment)) is (why != "payment deleted")


# -- calls and pacing -----------------------------------------------------------------------


def test_a_full_read_costs_one_call_per_page_of_1000(fake: FakeXero) -> None:
    fake.add("Contacts", *(contact(f"c{n:04}", f"C{n}", updated=LONG_AGO) for n in range(1000)))
    fake.add("Invoices", *(xero_invoice(f"i{n:04}", f"c{n % 1000:04}", "10.00", on=LONG_AGO)
                           for n in range(2500)))  # fmt: skip
    fake.add("Prepayments", credit("Prepayments", "pp1", "c0001", "5.00", on=LONG_AGO))
    records = list(source(fake).pull(None).records)

    assert len(of(records, Invoice)) == 2500 and len(of(records, Customer)) == 1000
    # 1000 contacts: one page, its pageCount says so (no empty page after a full one).
    minimum = math.ceil(1000 / 1000) + math.ceil(2500 / 1000) + 1 + 1 + 1
    assert len(fake.calls) == minimum == 7 and fake.token_calls == 1


def test_calls_are_paced_under_60_a_minute(fake: FakeXero) -> None:
    books(fake)
    reader = source(fake)
    for _ in range(2 * LIMIT):
        reader.check()
    # 58 a minute: the 59th waited for the first minute to pass, the 117th for the second.
    assert fake.throttled == 0 and fake.clock.elapsed >= 2 * xero.RATE_LIMIT[1]


def test_a_429_is_waited_out_as_retry_after_says(fake: FakeXero) -> None:
    books(fake)
    fake._sent.extend([fake.clock.monotonic()] * LIMIT)
    records = list(source(fake).pull(None).records)
    assert len(of(records, Invoice)) == 3 and fake.throttled == 1
    assert max(fake.clock.sleeps) == 60


def test_the_fake_holds_requests_to_xero_s_contract() -> None:
    base = "https://api.xero.com/api.xro/2.0"
    tenant = (("xero-tenant-id", TENANT),)
    assert contract_violations(f"{base}/Invoices?page=1&pageSize=1000", tenant) == ()
    assert contract_violations(f"{base}/Invoices?page=1", ())  # no tenant
    assert contract_violations(f"{base}/Invoices?page=one", tenant)
    assert contract_violations(f"{base}/Invoices?Type=ACCREC", tenant)  # undeclared
    assert contract_violations(f"{base}/Invoices", (*tenant, ("If-Modified-Since", "yesterday")))
    assert contract_violations(f"{base}/BankTransfers", tenant)
    assert TOKEN_URL.startswith("https://identity.xero.com/")
