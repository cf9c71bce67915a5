"""Pennylane connector against the fake Pennylane server, every request checked on the spec."""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
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
    Sale,
    SourceAllocation,
    SourceBalance,
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
    return json.dumps({"processed_at": when.isoformat(), "v": pennylane.POSITION_VERSION})


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
    assert json.loads(pull.position()) == json.loads(position(fake.clock.start))


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
    assert json.loads(pull.position()) == json.loads(position(last + timedelta(hours=5)))


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
    assert json.loads(pull.position()) == json.loads(position(last))


def test_position_never_later_than_the_run_start(fake: FakePennylane) -> None:
    last = fake.clock.now() - timedelta(days=1)
    fake.invoices = {1: invoice(1, 1, "5.00")}
    fake.add_change("customer_invoices", 1, "update", fake.clock.now() + timedelta(minutes=5))
    pull = connect(fake).pull(position(last))
    list(pull.records)
    assert json.loads(pull.position()) == json.loads(position(fake.clock.now()))


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
    # 30 pages of customers, 1 of invoices, 3 for the balances (fiscal years, accounts, trial
    # balance), 1 answered 429.
    assert len(fake.calls) == 35


def test_the_pacer_keeps_under_the_limit(fake, monkeypatch) -> None:
    monkeypatch.setattr(pennylane, "PAGE_SIZE", 1)
    fake.customers = {i: customer(i, f"Client {i}") for i in range(1, 61)}
    records = list(connect(fake).pull(None).records)
    assert len(by_type(records, Customer)) == 60
    assert len(fake.calls) == 64  # never a 429: the pacer waited instead
    assert fake.clock.sleeps


def test_5xx_is_retried(fake: FakePennylane) -> None:
    fake.invoices = {1: invoice(1, 1, "5.00")}
    fake.fail_next = [503, 502]
    records = list(connect(fake).pull(None).records)
    assert len(by_type(records, Invoice)) == 1
    assert len(fake.calls) == 4  # 2 answered 5xx, 2 lists; no customer: no balance to read


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


def test_draft_is_a_draft_without_sale_or_payment(fake: FakePennylane) -> None:
    # Was kind UNBILLED (inside the outstanding): a draft is in no ledger (DOMAIN.md).
    fake.invoices = {10: invoice(10, 1, "80.00", remaining="0.00", draft=True, status="draft")}
    records = list(connect(fake).pull(None).records)
    (inv,) = by_type(records, Invoice)
    assert inv.kind is InvoiceKind.DRAFT
    assert inv.total == eur("80.00")
    assert by_type(records, Payment) == [] and by_type(records, Sale) == []
    assert queries(fake, "/customer_invoices/10/matched_transactions") == []


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
    (cust,) = by_type(list(connect(fake).pull(None).records), Customer)
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


# -- what is paid, and when ------------------------------------------------------------------

JAN_20 = datetime(2026, 1, 20, 9, tzinfo=UTC)
FEB_20 = datetime(2026, 2, 20, 9, tzinfo=UTC)
MAR_01 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def payments_by_id(records) -> dict[str, Payment]:
    return {p.external_id: p for p in by_type(records, Payment)}


def settlement_calls(fake: FakePennylane) -> list[str]:
    return [
        urlsplit(c.url).path.removeprefix("/api/external/v2")
        for c in fake.calls
        if urlsplit(c.url).path.endswith(("/matched_transactions", "/payments"))
    ]


def test_a_fully_credited_invoice_is_settled_by_its_credit_note_alone(fake) -> None:
    # Before: paid = total - remaining gave a payment of 1000.00 *and* the credit note applied:
    # 1000.00 too much, spilled over to other invoices or to unapplied.
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {
        20: invoice(20, 1, "1000.00"),
        21: invoice(21, 1, "-1000.00", status="credit_note", date="2026-01-15"),
    }
    fake.link_credit_note(21, 20, at=JAN_20)
    assert fake.invoices[20]["status"] == "cancelled"

    records = list(connect(fake).pull(None).records)

    assert payments_by_id(records) == {}
    (note,) = by_type(records, CreditNote)
    assert (note.amount, note.applies_to, note.allocations) == (eur("1000.00"), "20", ())
    assert settlement_calls(fake) == []  # nothing paid: nothing to date


def test_a_partly_credited_invoice_is_paid_for_the_rest_only_on_the_transfer_day(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {
        30: invoice(30, 1, "1000.00"),
        31: invoice(31, 1, "-300.00", status="credit_note", date="2026-01-15"),
    }
    fake.link_credit_note(31, 30, at=JAN_20)
    fake.match(30, 501, on="2026-02-05", amount="700.00", recorded_at=MAR_01)
    assert fake.invoices[30]["status"] == "partially_cancelled"
    assert fake.invoices[30]["remaining_amount_with_tax"] == "0.00"

    records = list(connect(fake).pull(None).records)

    paid = payments_by_id(records)
    assert list(paid) == ["paid:30:tx:501"]
    assert paid["paid:30:tx:501"].amount == eur("700.00")
    assert paid["paid:30:tx:501"].on == date(2026, 2, 5)  # the money's day, not 1 March
    assert paid["paid:30:tx:501"].allocations == (
        SourceAllocation(invoice_id="30", amount=eur("700.00"), allocated_on=date(2026, 2, 5)),
    )
    (note,) = by_type(records, CreditNote)
    assert (note.amount, note.applies_to) == (eur("300.00"), "30")


def test_a_credit_note_larger_than_what_was_left_counts_for_what_it_took(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {
        40: invoice(40, 1, "1000.00"),
        41: invoice(41, 1, "-500.00", status="credit_note", date="2026-02-10"),
    }
    fake.match(40, 502, on="2026-02-01", amount="700.00", recorded_at=FEB_20)
    fake.link_credit_note(41, 40, at=FEB_20)  # takes 300.00; 200.00 of it is left
    assert fake.invoices[41]["remaining_amount_with_tax"] == "-200.00"

    records = list(connect(fake).pull(None).records)

    assert payments_by_id(records)["paid:40:tx:502"].amount == eur("700.00")
    (note,) = by_type(records, CreditNote)
    assert note.amount == eur("500.00")  # 300.00 for invoice 40, 200.00 left as a credit


def test_instalments_keep_their_own_dates_and_a_later_record_moves_nothing(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {50: invoice(50, 1, "1000.00")}
    fake.match(50, 503, on="2026-01-25", amount="300.00", recorded_at=JAN_20)
    fake.match(50, 504, on="2026-02-25", amount="700.00", recorded_at=MAR_01)

    records = list(connect(fake).pull(None).records)

    paid = payments_by_id(records)
    assert {k: (p.on, p.amount) for k, p in paid.items()} == {
        "paid:50:tx:503": (date(2026, 1, 25), eur("300.00")),
        "paid:50:tx:504": (date(2026, 2, 25), eur("700.00")),
    }
    assert settlement_calls(fake) == ["/customer_invoices/50/matched_transactions"]


def test_one_transfer_for_two_invoices_is_split_by_what_each_needed(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {60: invoice(60, 1, "600.00"), 61: invoice(61, 1, "500.00")}
    fake.match(60, 505, on="2026-02-12", amount="900.00", applied="600.00", recorded_at=FEB_20)
    fake.match(61, 505, on="2026-02-12", amount="900.00", applied="300.00", recorded_at=FEB_20)

    records = list(connect(fake).pull(None).records)

    paid = payments_by_id(records)
    assert {k: (p.on, p.amount) for k, p in paid.items()} == {
        "paid:60:tx:505": (date(2026, 2, 12), eur("600.00")),
        "paid:61:tx:505": (date(2026, 2, 12), eur("300.00")),
    }


def test_payments_date_what_no_transaction_explains_and_failed_ones_do_not(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {70: invoice(70, 1, "400.00")}
    fake.add_payment(70, 801, "400.00", "failed", at=datetime(2026, 2, 1, tzinfo=UTC))
    fake.add_payment(70, 802, "400.00", "paid_out", at=datetime(2026, 2, 9, 7, tzinfo=UTC))
    fake.relabel(70, at=MAR_01)

    records = list(connect(fake).pull(None).records)

    paid = payments_by_id(records)
    assert {k: (p.on, p.amount) for k, p in paid.items()} == {
        "paid:70:payment:802": (date(2026, 2, 9), eur("400.00"))
    }
    assert settlement_calls(fake) == [
        "/customer_invoices/70/matched_transactions",
        "/customer_invoices/70/payments",
    ]


def test_a_refunded_credit_note_is_settled_on_the_refund_day(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {90: invoice(90, 1, "-300.00", status="credit_note", date="2026-01-15")}
    fake.refund(90, 506, on="2026-02-15", amount="300.00", at=FEB_20)

    records = list(connect(fake).pull(None).records)

    (note,) = by_type(records, CreditNote)
    (debit,) = [r for r in by_type(records, Invoice) if r.kind is InvoiceKind.DEBIT]
    assert (debit.external_id, debit.issued_on, debit.total) == (
        "refund:90:tx:506",
        date(2026, 2, 15),
        eur("300.00"),
    )
    assert note.applies_to is None
    assert note.allocations == (
        SourceAllocation(
            invoice_id="refund:90:tx:506", amount=eur("300.00"), allocated_on=date(2026, 2, 15)
        ),
    )
    assert by_type(records, Sale)[0].amount == eur("-300.00")  # no sale for the refund


def test_a_foreign_invoice_paid_in_part_is_paid_in_its_currency(fake) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {
        95: invoice(95, 1, "500.00", currency="USD", exchange_rate="0.9150", amount="457.50")
    }
    fake.match(95, 507, on="2026-02-03", amount="183.00", applied="200.00", recorded_at=FEB_20)
    fake.transactions[507] |= {"currency": "EUR", "currency_amount": "183.00"}

    records = list(connect(fake).pull(None).records)

    (paid,) = by_type(records, Payment)
    assert (paid.external_id, paid.on) == ("paid:95:tx:507", date(2026, 2, 3))
    assert paid.amount == Money(amount=Decimal("200.00"), currency="USD")
    assert paid.exchange_rate == Decimal("0.9150")


def test_a_credit_note_of_another_customer_counts_once(fake) -> None:
    # Pennylane nets it into invoice 96 (customer 1); it is customer 2's document: it stays
    # customer 2's credit, as in the ledger, and invoice 96 gets no payment for it.
    fake.customers = {1: customer(1, "Client 1"), 2: customer(2, "Client 2")}
    fake.invoices = {
        96: invoice(96, 1, "800.00"),
        97: invoice(97, 2, "-800.00", status="credit_note", date="2026-01-15"),
    }
    fake.link_credit_note(97, 96, at=JAN_20)

    records = list(connect(fake).pull(None).records)

    assert by_type(records, Payment) == []
    (note,) = by_type(records, CreditNote)
    assert (note.customer_id, note.applies_to) == ("2", "96")


def test_incremental_dates_the_changed_invoices_only(fake: FakePennylane) -> None:
    fake.customers = {1: customer(1, "Client 1"), 2: customer(2, "Client 2")}
    fake.invoices = {
        100: invoice(100, 1, "1000.00"),
        101: invoice(101, 2, "500.00"),
        102: invoice(102, 1, "-200.00", status="credit_note", date="2026-01-12"),
    }
    fake.link_credit_note(102, 100, at=JAN_20)
    fake.match(101, 508, on="2026-01-30", amount="500.00", recorded_at=FEB_20)
    last = fake.clock.now() - timedelta(days=1)
    fake.match(100, 509, on="2026-02-27", amount="800.00", recorded_at=fake.clock.now())
    fake.calls.clear()

    records = list(connect(fake).pull(position(last)).records)

    paid = payments_by_id(records)
    assert {k: (p.on, p.amount) for k, p in paid.items()} == {
        "paid:100:tx:509": (date(2026, 2, 27), eur("800.00"))  # not 1000.00: the note is 200.00
    }
    assert settlement_calls(fake) == ["/customer_invoices/100/matched_transactions"]
    notes = [q for q in queries(fake, "/customer_invoices") if "credit_note" in q.get("filter", "")]
    assert json.loads(notes[0]["filter"]) == [
        {"field": "credit_note", "operator": "eq", "value": "true"},
        {"field": "date", "operator": "gteq", "value": "2026-01-10"},
    ]


def test_a_relabel_re_dates_nothing(fake: FakePennylane) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {110: invoice(110, 1, "300.00")}
    fake.match(110, 510, on="2026-01-28", amount="300.00", recorded_at=FEB_20)
    last = fake.clock.now() - timedelta(days=1)
    fake.relabel(110, at=fake.clock.now())

    records = list(connect(fake).pull(position(last)).records)

    ((ident, paid),) = payments_by_id(records).items()
    assert (ident, paid.on) == ("paid:110:tx:510", date(2026, 1, 28))


def test_an_open_invoice_costs_no_settlement_call(fake: FakePennylane) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {i: invoice(i, 1, "10.00") for i in range(1, 6)}
    list(connect(fake).pull(None).records)
    assert settlement_calls(fake) == []


def test_a_position_of_the_earlier_version_reads_everything(fake: FakePennylane) -> None:
    fake.invoices = {1: invoice(1, 1, "5.00")}
    old = json.dumps({"processed_at": (fake.clock.now() - timedelta(days=1)).isoformat()})
    pull = connect(fake).pull(old)
    assert pull.replace_all is True
    assert queries(fake, "/changelogs/customer_invoices") == []


# -- the source's own balance ----------------------------------------------------------------


def test_full_read_gives_each_customer_its_trial_balance(fake: FakePennylane) -> None:
    fake.customers = {1: customer(1, "Client 1"), 2: customer(2, "Client 2")}
    fake.invoices = {120: invoice(120, 1, "1000.00"), 121: invoice(121, 2, "50.00")}
    fake.match(120, 511, on="2026-02-01", amount="400.00", recorded_at=FEB_20)

    records = list(connect(fake).pull(None).records)

    balances = {b.external_id: b for b in by_type(records, SourceBalance)}
    assert {k: b.amount for k, b in balances.items()} == {"1": eur("600.00"), "2": eur("50.00")}
    assert balances["1"].as_of == fake.clock.now().date()
    assert balances["1"].basis == (
        "Pennylane trial balance: account 41100001, debits - credits, 2026-01-01 to 2026-03-02"
    )
    trial = queries(fake, "/trial_balance")
    assert trial == [
        {
            "limit": "1000",
            "period_start": "2026-01-01",
            "period_end": "2026-03-02",
            "is_auxiliary": "true",
        }
    ]


def test_incremental_read_gives_the_balance_of_the_customers_it_touched(fake) -> None:
    fake.customers = {1: customer(1, "Client 1"), 2: customer(2, "Client 2")}
    fake.invoices = {130: invoice(130, 1, "1000.00"), 131: invoice(131, 2, "50.00")}
    last = fake.clock.now() - timedelta(days=1)
    fake.match(130, 512, on="2026-03-01", amount="1000.00", recorded_at=fake.clock.now())

    records = list(connect(fake).pull(position(last)).records)

    assert by_type(records, Customer) == []  # customer 1 did not change: read for its account
    ((balance),) = by_type(records, SourceBalance)
    assert (balance.external_id, balance.amount) == ("1", eur("0.00"))
    assert [json.loads(q["filter"]) for q in queries(fake, "/ledger_accounts")] == [
        [{"field": "id", "operator": "in", "value": ["1"]}]
    ]


def test_a_token_without_the_ledger_scopes_reads_everything_but_the_balances(
    fake: FakePennylane, caplog: pytest.LogCaptureFixture
) -> None:
    fake.customers = {1: customer(1, "Client 1")}
    fake.invoices = {1: invoice(1, 1, "5.00")}
    fake.forbidden = {"/trial_balance": "trial_balance:readonly"}

    records = list(connect(fake).pull(None).records)

    assert len(by_type(records, Invoice)) == 1
    assert by_type(records, SourceBalance) == []
    assert "trial_balance:readonly" in caplog.text
