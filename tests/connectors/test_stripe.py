"""The Stripe source against its fake: mapping, events with overlap and fallbacks, call counts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from fakes.stripe import LIMIT, FakeStripe, contract_violations, customer, invoice
from tenacity import wait_exponential

from encours.connectors import stripe
from encours.connectors.http import Pacer, RetryPolicy
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

TODAY = date(2026, 3, 2)


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        yield fake
    assert fake.violations == []


def source(fake: FakeStripe) -> stripe.StripeSource:
    clock = fake.clock
    retry = RetryPolicy(wait=wait_exponential(min=1, max=8), sleep=clock.sleep)
    pacer = Pacer(*stripe.RATE_LIMIT, clock=clock.monotonic, sleep=clock.sleep)
    http = stripe.make_client(fake.token, retry=retry, pacer=pacer)
    return stripe.StripeSource("st", http, currency="EUR", now=clock.now)


def of(records: list[object], kind: type) -> dict[str, object]:
    return {r.external_id: r for r in records if type(r) is kind}  # type: ignore[attr-defined]


def ago(fake: FakeStripe, **delta: float) -> datetime:
    return fake.clock.now() - timedelta(**delta)


# -- mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "currency", "amount"),
    [(1999, "eur", "19.99"), (500, "jpy", "500"), (12300, "isk", "123"), (5000, "mga", "5000")],
)
def test_minor_units_follow_stripe_s_exponents(units: int, currency: str, amount: str) -> None:
    money = stripe.money(units, currency)
    assert (money.amount, money.currency) == (Decimal(amount), currency.upper())


def test_a_fraction_of_a_krona_or_a_float_is_rejected_with_its_reason() -> None:
    made = datetime(2026, 1, 5, tzinfo=UTC)
    for total in (12345, 100.5):
        item = invoice("in_1", "cus_1", 100, created=made, currency="isk", status="open")
        [rejected] = stripe.to_records("invoice", TODAY)("st", item | {"total": total}, "EUR")
        assert isinstance(rejected, Rejected) and rejected.external_id == "in_1"
        assert "ISK" in rejected.reason or "integer" in rejected.reason


def test_the_customer_balance_is_unapplied_credit_or_unbilled_debt() -> None:
    credit = stripe.to_records("customer", TODAY)("st", customer("c1", "A", balance=-2500), "EUR")
    debt = stripe.to_records("customer", TODAY)("st", customer("c2", "B", balance=700), "EUR")
    assert [type(r) for r in credit] == [Customer, Advance]
    advance = credit[1]
    assert (advance.amount.amount, advance.on) == (Decimal("25.00"), TODAY)
    assert advance.is_on_order  # Stripe applies it to the next invoice: never guessed
    assert debt[1].kind is InvoiceKind.UNBILLED and debt[1].total.amount == Decimal("7.00")
    assert credit[0].email_domain == "c1.example"


def test_a_draft_is_a_draft_and_a_void_invoice_is_nothing(fake: FakeStripe) -> None:
    fake.customers["cus_1"] = customer("cus_1", "A")
    fake.add_invoice(invoice("in_d", "cus_1", 4500, created=ago(fake, days=3)))
    fake.add_invoice(invoice("in_v", "cus_1", 9900, created=ago(fake, days=3)))
    fake.finalize("in_v", ago(fake, days=2))
    fake.void("in_v", ago(fake, days=1))
    records = list(source(fake).pull(None).records)
    assert of(records, Invoice)["in_d"].kind is InvoiceKind.DRAFT
    assert "in_v" not in of(records, Invoice) and not of(records, Sale).get("sale:in_v")


def test_a_credit_note_counts_once_whichever_way_stripe_settles_it(fake: FakeStripe) -> None:
    fake.customers["cus_1"] = customer("cus_1", "A")
    for ident in ("in_1", "in_2", "in_3"):
        fake.add_invoice(invoice(ident, "cus_1", 10000, created=ago(fake, days=20)))
        fake.finalize(ident, ago(fake, days=20))
    fake.credit("cn_open", "in_1", 4000, ago(fake, days=10))  # before payment: less due
    fake.pay("in_2", ago(fake, days=9))
    fake.credit("cn_refund", "in_2", 3000, ago(fake, days=8))  # refunded
    fake.pay("in_3", ago(fake, days=9))
    fake.credit("cn_balance", "in_3", 2000, ago(fake, days=8), to_balance=True)
    records = list(source(fake).pull(None).records)

    [note] = of(records, CreditNote).values()
    assert (note.external_id, note.applies_to, note.amount.amount) == ("cn_open", "in_1", 40)
    assert [a.invoice_id for a in note.allocations] == ["in_1"]
    assert {k: s.amount.amount for k, s in of(records, Sale).items() if "cn" in k} == {
        "sale:cn_open": -40, "sale:cn_refund": -30, "sale:cn_balance": -20}  # fmt: skip
    assert of(records, Advance)["cus_1:credit"].amount.amount == 20  # in the balance, once
    assert set(of(records, Payment)) == {"in_2:paid", "in_3:paid"}


def test_credit_applied_at_finalisation_settles_the_invoice_on_its_date(fake) -> None:
    fake.customers["cus_1"] = customer("cus_1", "A", balance=-3000)
    fake.add_invoice(invoice("in_1", "cus_1", 10000, created=ago(fake, days=5)))
    fake.finalize("in_1", ago(fake, days=5))
    fake.customers["cus_2"] = customer("cus_2", "B", balance=1500)  # owed, carried over
    fake.add_invoice(invoice("in_2", "cus_2", 10000, created=ago(fake, days=4)))
    fake.finalize("in_2", ago(fake, days=4))
    fake.pay("in_2", ago(fake, days=1))
    records = list(source(fake).pull(None).records)

    used = of(records, Advance)["in_1:balance"]
    assert (used.amount.amount, used.allocations[0].invoice_id) == (30, "in_1")
    assert used.on == ago(fake, days=5).date() and "cus_1:credit" not in of(records, Advance)
    assert of(records, Invoice)["in_2"].total.amount == 115  # the debt moved into it
    assert of(records, Payment)["in_2:paid"].amount.amount == 115
    assert of(records, Sale)["sale:in_2"].amount.amount == 100  # the sale is the invoice's


def test_an_uncollectible_invoice_is_doubtful() -> None:
    made = datetime(2026, 1, 5, tzinfo=UTC)
    item = invoice("in_1", "cus_1", 5000, created=made, status="open")
    item["status"] = "uncollectible"
    [inv, _sale] = stripe.to_records("invoice", TODAY)("st", item, "EUR")
    assert inv.is_doubtful and inv.due_lines[0].due_on == date(2026, 2, 4)


# -- incremental ----------------------------------------------------------------------------


def seeded(fake: FakeStripe, count: int = 3) -> None:
    fake.customers["cus_1"] = customer("cus_1", "A")
    for n in range(count):
        fake.invoices[f"in_{n}"] = invoice(f"in_{n}", "cus_1", 1000, created=ago(fake, days=40),
                                           status="open")  # fmt: skip


def position(when: datetime) -> str:
    return json.dumps({"since": when.isoformat(), "v": stripe.VERSION})


def test_incremental_reads_the_events_from_the_position_less_the_overlap(fake) -> None:
    seeded(fake)
    fake.pay("in_0", ago(fake, minutes=90))  # before the overlap: not read again
    fake.pay("in_1", ago(fake, minutes=30))  # inside it
    fake.pay("in_1", ago(fake, minutes=10))  # two events, one record: the latest
    pull = source(fake).pull(position(ago(fake, minutes=20)))
    records = list(pull.records)

    assert pull.replace_all is False
    assert sorted(r.external_id for r in records if isinstance(r, Invoice)) == ["in_1"]
    [query] = [c.url for c in fake.calls]
    since = int((ago(fake, minutes=20) - stripe.OVERLAP).timestamp())
    assert f"created%5Bgte%5D={since}" in query and "types%5B%5D=invoice.paid" in query
    assert json.loads(pull.position())["since"] == fake.clock.now().isoformat()


def test_nothing_changed_is_unchanged(fake: FakeStripe) -> None:
    seeded(fake)
    pull = source(fake).pull(position(ago(fake, hours=2)))
    assert pull.unchanged and list(pull.records) == []


@pytest.mark.parametrize("why", ["retention", "void", "deleted draft", "balance used up"])
def test_what_events_cannot_say_turns_the_run_into_a_full_read(fake, why: str) -> None:
    seeded(fake)
    fake.customers["cus_2"] = customer("cus_2", "B", balance=-500)
    last = ago(fake, days=31) if why == "retention" else ago(fake, hours=2)
    if why == "void":
        fake.void("in_2", ago(fake, hours=1))
    elif why == "deleted draft":
        fake.add_invoice(invoice("in_d", "cus_1", 100, created=ago(fake, hours=1)))
        fake.delete("in_d", ago(fake, minutes=30))
    elif why == "balance used up":
        fake.adjust("cus_2", 500, ago(fake, hours=1))
    pull = source(fake).pull(position(last))
    records = list(pull.records)
    assert pull.replace_all is True
    assert {r.external_id for r in records if isinstance(r, Invoice)} == (
        {"in_0", "in_1"} if why == "void" else {"in_0", "in_1", "in_2"})  # fmt: skip


def test_a_position_of_another_version_or_unreadable_reads_everything(fake) -> None:
    seeded(fake)
    for bad in ('{"since": "2026-03-01T00:00:00+00:00", "v": 0}', "not json", '{"v": 1}'):
        assert source(fake).pull(bad).replace_all is True


# -- calls and pacing -----------------------------------------------------------------------


def test_a_full_read_costs_one_call_per_page_of_100_and_stays_under_the_limit(fake) -> None:
    fake.customers = {f"cus_{n}": customer(f"cus_{n}", f"C{n}") for n in range(150)}
    for n in range(2934):
        made = ago(fake, days=40, seconds=n)
        fake.invoices[f"in_{n}"] = invoice(f"in_{n}", f"cus_{n % 150}", 1000, created=made,
                                           status="open")  # fmt: skip
    records = list(source(fake).pull(None).records)

    assert len(of(records, Invoice)) == 2934 and len(of(records, Customer)) == 150
    minimum = math.ceil(150 / 100) + math.ceil(2934 / 100) + 1  # + an empty credit note page
    assert len(fake.calls) == minimum == 33
    # 25 a second: the 26th call waited for the first second to pass, and none bounced.
    assert fake.throttled == 0 and fake.clock.elapsed >= (minimum - 1) // LIMIT


def test_a_nightly_read_costs_its_pages_of_events(fake: FakeStripe) -> None:
    seeded(fake, count=120)
    for n in range(120):
        fake.pay(f"in_{n}", ago(fake, minutes=30))  # 2 events each: 240 events, 3 pages
    records = list(source(fake).pull(position(ago(fake, hours=1))).records)
    assert len(of(records, Invoice)) == 120
    assert fake.paths() == ["/v1/events"] * math.ceil(240 / 100)


def test_the_fake_holds_requests_to_stripe_s_contract(fake: FakeStripe) -> None:
    headers = {"Stripe-Version": stripe.API_VERSION, "Authorization": "Bearer x"}
    valid = [("created[gte]", "1"), ("types[]", "a"), ("limit", "100")]
    assert contract_violations("/v1/events", valid, headers) == []
    assert contract_violations("/v1/invoices", [("limit", "ten")], headers)
    assert contract_violations("/v1/invoices", [("updated[gte]", "1")], headers)
    assert contract_violations("/v1/events", [("created[since]", "1")], headers)
    assert contract_violations("/v1/invoices", [], {"Authorization": "Bearer x"})
    assert contract_violations("/v1/charges", [], headers)
