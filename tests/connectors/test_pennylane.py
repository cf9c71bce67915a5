"""Pennylane connector against the fake Pennylane server, every request checked on the spec."""

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from fakes.pennylane import SPEC_PATH, FakePennylane, customer, invoice
from tenacity import wait_none

from encours.connectors import pennylane
from encours.connectors.http import Pacer, RetryPolicy
from encours.connectors.pennylane import PennylaneConnector, make_client, to_invoice_records
from encours.errors import AuthError
from encours.model import (
    CreditNote,
    Customer,
    Invoice,
    InvoiceKind,
    Money,
    Payment,
    Rejected,
    SourceAllocation,
)

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.exists(), reason="shared/specs/pennylane/openapi.json is not beside the clone"
)

ORIGIN = "https://app.pennylane.com/api/external/v2"


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


@pytest.fixture
def fake() -> Iterator[FakePennylane]:
    server = FakePennylane()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server
    assert server.violations == []


def connect(fake: FakePennylane, *, pace: bool = True, token: str | None = None):
    clock = fake.clock
    retry = RetryPolicy(wait=wait_none(), sleep=clock.sleep)
    pacer = Pacer(
        25 if pace else 10_000, 5, clock=clock.monotonic, sleep=clock.sleep, wall_clock=clock.time
    )
    token = token or fake.token
    http = make_client(token, retry=retry, pacer=pacer)
    return PennylaneConnector("pl", token, currency="EUR", http=http, now=clock.now)


def position(when: datetime) -> str:
    return json.dumps({"processed_at": when.isoformat()})


def queries(fake: FakePennylane, path: str) -> list[dict[str, str]]:
    found = []
    for call in fake.calls:
        url = urlsplit(call.url)
        if url.path == f"/api/external/v2{path}":
            found.append(dict(parse_qsl(url.query)))
    return found


def by_type(records, kind):
    return [r for r in records if isinstance(r, kind)]


# -- full read -------------------------------------------------------------------------------


def test_full_read_follows_three_pages(fake: FakePennylane) -> None:
    fake.customers = {i: customer(i, f"Client {i}") for i in (1, 2)}
    fake.invoices = {i: invoice(i, 1 + i % 2, "100.00") for i in range(1, 251)}

    pull = connect(fake).pull(None)
    records = list(pull.records)

    assert pull.replace_all is True
    assert len(by_type(records, Customer)) == 2
    assert sorted(int(r.external_id) for r in by_type(records, Invoice)) == list(range(1, 251))
    pages = queries(fake, "/customer_invoices")
    assert len(pages) == 3
    assert [q.get("cursor") is None for q in pages] == [True, False, False]
    assert all(q["limit"] == "100" for q in pages)
    assert json.loads(pull.position()) == {"processed_at": fake.clock.start.isoformat()}


def test_filter_is_resent_on_every_page(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pennylane, "PAGE_SIZE", 2)
    fake.invoices = {i: invoice(i, 1, "10.00") for i in range(1, 21)}
    changed = [3, 5, 7, 11, 13]
    for ident in changed:
        fake.add_change("customer_invoices", ident, "update", fake.clock.now() - timedelta(hours=1))

    pull = connect(fake).pull(position(fake.clock.now() - timedelta(days=1)))
    records = list(pull.records)

    assert sorted(int(r.external_id) for r in by_type(records, Invoice)) == changed
    pages = queries(fake, "/customer_invoices")
    assert len(pages) == 3
    for page in pages:
        rule = json.loads(page["filter"])
        assert rule == [{"field": "id", "operator": "in", "value": [str(i) for i in changed]}]


def test_fake_forgets_the_filter_when_a_page_does_not_resend_it(fake: FakePennylane) -> None:
    fake.invoices = {i: invoice(i, 1, "10.00") for i in range(1, 6)}
    flt = json.dumps([{"field": "id", "operator": "in", "value": ["1", "2", "3"]}])
    headers = {"Authorization": f"Bearer {fake.token}", "X-Use-2026-API-Changes": "true"}
    first = requests.get(
        f"{ORIGIN}/customer_invoices",
        params={"limit": 2, "filter": flt},
        headers=headers,
        timeout=5,
    ).json()
    second = requests.get(
        f"{ORIGIN}/customer_invoices",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=headers,
        timeout=5,
    ).json()
    assert [r["id"] for r in first["items"]] == [3, 2]
    assert [r["id"] for r in second["items"]] == [3, 2]  # offset 2 of the unfiltered list


# -- incremental -----------------------------------------------------------------------------


def test_incremental_reads_the_changelogs_with_an_overlap(fake: FakePennylane) -> None:
    last = fake.clock.now() - timedelta(days=2)
    fake.customers = {1: customer(1, "Client 1"), 2: customer(2, "Client 2")}
    fake.invoices = {i: invoice(i, 1, "50.00") for i in (10, 11, 12, 13)}
    fake.add_change("customer_invoices", 10, "update", last - timedelta(hours=2))  # before
    fake.add_change("customer_invoices", 11, "update", last - timedelta(minutes=30))  # overlap
    fake.add_change("customer_invoices", 12, "insert", last + timedelta(hours=5))
    fake.add_change("customers", 2, "update", last + timedelta(hours=1))

    pull = connect(fake).pull(position(last))
    records = list(pull.records)

    assert pull.replace_all is False
    assert sorted(r.external_id for r in by_type(records, Invoice)) == ["11", "12"]
    assert [r.external_id for r in by_type(records, Customer)] == ["2"]
    logs = queries(fake, "/changelogs/customer_invoices")
    assert datetime.fromisoformat(logs[0]["start_date"]) == last - timedelta(hours=1)
    assert json.loads(pull.position()) == {"processed_at": (last + timedelta(hours=5)).isoformat()}


def test_changelog_pages_send_the_cursor_without_start_date(fake, monkeypatch) -> None:
    monkeypatch.setattr(pennylane, "CHANGELOG_PAGE_SIZE", 2)
    last = fake.clock.now() - timedelta(days=1)
    fake.invoices = {i: invoice(i, 1, "50.00") for i in range(1, 6)}
    for i in range(1, 6):
        fake.add_change("customer_invoices", i, "update", last + timedelta(minutes=i))

    records = list(connect(fake).pull(position(last)).records)

    assert len(by_type(records, Invoice)) == 5
    logs = queries(fake, "/changelogs/customer_invoices")
    assert ["start_date" in q for q in logs] == [True, False, False]
    assert all("cursor" in q for q in logs[1:])


def test_nothing_changed_is_unchanged_and_keeps_the_position(fake: FakePennylane) -> None:
    last = fake.clock.now() - timedelta(days=1)
    pull = connect(fake).pull(position(last))
    assert pull.unchanged is True
    assert list(pull.records) == []
    assert json.loads(pull.position()) == {"processed_at": last.isoformat()}


def test_position_never_later_than_the_run_start(fake: FakePennylane) -> None:
    last = fake.clock.now() - timedelta(days=1)
    fake.invoices = {1: invoice(1, 1, "5.00")}
    fake.add_change("customer_invoices", 1, "update", fake.clock.now() + timedelta(minutes=5))
    pull = connect(fake).pull(position(last))
    list(pull.records)
    assert json.loads(pull.position()) == {"processed_at": fake.clock.now().isoformat()}


@pytest.mark.parametrize("age", [timedelta(days=26), timedelta(weeks=6)])
def test_position_past_the_retention_means_a_full_read(fake, age: timedelta) -> None:
    fake.invoices = {1: invoice(1, 1, "5.00")}
    pull = connect(fake).pull(position(fake.clock.now() - age))
    assert pull.replace_all is True
    assert len(by_type(list(pull.records), Invoice)) == 1
    assert queries(fake, "/changelogs/customer_invoices") == []


def test_fake_refuses_a_start_date_past_the_retention(fake: FakePennylane) -> None:
    old = (fake.clock.now() - timedelta(weeks=5)).isoformat()
    answer = requests.get(
        f"{ORIGIN}/changelogs/customer_invoices",
        params={"start_date": old},
        headers={"Authorization": f"Bearer {fake.token}", "X-Use-2026-API-Changes": "true"},
        timeout=5,
    )
    assert answer.status_code == 422


def test_a_deletion_turns_the_run_into_a_full_read(fake: FakePennylane) -> None:
    last = fake.clock.now() - timedelta(days=1)
    fake.invoices = {1: invoice(1, 1, "5.00"), 2: invoice(2, 1, "6.00")}
    fake.add_change("customer_invoices", 3, "delete", last + timedelta(hours=1))
    connector = connect(fake)
    pull = connector.pull(position(last))
    assert pull.replace_all is True
    assert connector.deleted == {"customer_invoices": ["3"]}
    assert len(by_type(list(pull.records), Invoice)) == 2


# -- failures --------------------------------------------------------------------------------


def test_429_retry_after_is_honoured_without_sleeping(fake, monkeypatch) -> None:
    monkeypatch.setattr(pennylane, "PAGE_SIZE", 1)
    fake.customers = {i: customer(i, f"Client {i}") for i in range(1, 31)}

    records = list(connect(fake, pace=False).pull(None).records)

    assert len(by_type(records, Customer)) == 30
    assert 5 in fake.clock.sleeps  # the fake's retry-after for a full 5 s window
    assert len(fake.calls) == 32  # 30 pages of customers, 1 of invoices, 1 answered 429


def test_the_pacer_keeps_under_the_limit(fake, monkeypatch) -> None:
    monkeypatch.setattr(pennylane, "PAGE_SIZE", 1)
    fake.customers = {i: customer(i, f"Client {i}") for i in range(1, 61)}
    records = list(connect(fake).pull(None).records)
    assert len(records) == 60
    assert len(fake.calls) == 61  # never a 429: the pacer waited instead
    assert fake.clock.sleeps


def test_5xx_is_retried(fake: FakePennylane) -> None:
    fake.invoices = {1: invoice(1, 1, "5.00")}
    fake.fail_next = [503, 502]
    records = list(connect(fake).pull(None).records)
    assert len(by_type(records, Invoice)) == 1
    assert len(fake.calls) == 4


def test_expired_token_is_an_auth_error_without_the_token(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake.customers = {1: customer(1, "Client 1")}
    fake.expire_after = 1
    connector = connect(fake)
    connector.check()
    with pytest.raises(AuthError) as error:
        list(connector.pull(None).records)
    assert "renew" in str(error.value)
    assert fake.token not in str(error.value)
    assert fake.token not in caplog.text


def test_check_with_a_refused_token_says_to_renew_it(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    refused = "wrong-token-123"  # noqa: S105 (a fake token)
    with pytest.raises(AuthError, match="Renew it") as error:
        connect(fake, token=refused).check()
    assert "wrong-token-123" not in str(error.value)
    assert "wrong-token-123" not in caplog.text
    assert queries(fake, "/me") == [{}]


# -- mapping ---------------------------------------------------------------------------------


def test_malformed_invoice_is_rejected_and_the_rest_read(fake: FakePennylane) -> None:
    fake.invoices = {
        1: invoice(1, 1, "5.00"),
        2: invoice(2, 1, "not a number"),
        3: invoice(3, 1, "7.00", customer=None),
        4: invoice(4, 1, "8.00"),
    }
    records = list(connect(fake).pull(None).records)
    assert sorted(r.external_id for r in by_type(records, Invoice)) == ["1", "4"]
    rejected = {r.external_id: r for r in by_type(records, Rejected)}
    assert sorted(rejected) == ["2", "3"]
    assert "currency_amount" in rejected["2"].reason
    assert "no customer" in rejected["3"].reason
    assert rejected["2"].stream == "customer_invoices"
    assert json.loads(rejected["2"].raw)["id"] == 2


def test_amounts_are_exact_and_paid_part_is_a_payment(fake: FakePennylane) -> None:
    fake.invoices = {7: invoice(7, 1, "1200.10", remaining="200.05")}
    records = list(connect(fake).pull(None).records)
    (inv,) = by_type(records, Invoice)
    (paid,) = by_type(records, Payment)
    assert inv.total == eur("1200.10")
    assert inv.due_lines[0].due_on == date(2026, 2, 9)
    assert inv.due_lines[0].amount == eur("1200.10")
    assert inv.exchange_rate is None
    assert paid.external_id == "paid:7"
    assert paid.amount == eur("1000.05")
    assert paid.on == date(2026, 1, 12)
    assert paid.allocations == (
        SourceAllocation(invoice_id="7", amount=eur("1000.05"), allocated_on=date(2026, 1, 12)),
    )


def test_foreign_currency_invoice_keeps_its_exchange_rate() -> None:
    item = invoice(8, 1, "500.00", currency="USD", exchange_rate="0.9150", amount="457.50")
    inv, sale = to_invoice_records("pl", item, currency="EUR")
    assert inv.total == Money(amount=Decimal("500.00"), currency="USD")
    assert inv.exchange_rate == Decimal("0.9150")
    assert sale.amount == eur("457.50")  # the sale for DSO, converted with the invoice's rate


def test_credit_note_applies_to_the_credited_invoice() -> None:
    item = invoice(9, 1, "-120.00", status="credit_note", credited_invoice={"id": 7, "url": "x"})
    note, sale = to_invoice_records("pl", item, currency="EUR")
    assert isinstance(note, CreditNote)
    assert note.amount == eur("120.00")
    assert note.applies_to == "7"
    assert sale.amount == eur("-120.00") and sale.external_id == "sale:9"


def test_draft_is_unbilled_without_payment() -> None:
    item = invoice(10, 1, "80.00", remaining="0.00", draft=True, status="draft")
    (inv,) = to_invoice_records("pl", item, currency="EUR")
    assert inv.kind is InvoiceKind.UNBILLED


def test_customer_reads_siren_and_terms(fake: FakePennylane) -> None:
    fake.customers = {
        5: customer(
            5,
            "Acme",
            reg_no="123456789",
            payment_conditions="45_days_end_of_month",
            emails=["Compta@Acme.fr"],
        ),
    }
    (cust,) = list(connect(fake).pull(None).records)
    assert cust.siren == "123456789"
    assert (cust.payment_terms_days, cust.terms_end_of_month) == (45, True)
    assert cust.email_domain == "acme.fr"


def test_fake_records_contract_violations(fake: FakePennylane) -> None:
    headers = {"Authorization": f"Bearer {fake.token}", "X-Use-2026-API-Changes": "true"}
    requests.get(
        f"{ORIGIN}/customer_invoices",
        params={"limit": "abc", "page": 1},
        headers=headers,
        timeout=5,
    )
    requests.get(f"{ORIGIN}/invoices", headers=headers, timeout=5)
    found, fake.violations = fake.violations, []
    assert any("limit" in v for v in found)
    assert any("undeclared query ['page']" in v for v in found)
    assert any("PathNotFound" in v for v in found)
