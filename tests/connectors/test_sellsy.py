"""The Sellsy connector against `fakes.sellsy`: calls, mapping, pacing, auth, custom fields."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import responses
from fakes import sellsy as fake_sellsy
from fakes.sellsy import FakeSellsy, company, credit_note, invoice, payment
from tenacity import wait_none

from encours.connectors import sellsy
from encours.connectors.http import Pacer, RetryPolicy
from encours.errors import ApiError, AuthError, ConfigError
from encours.model import CreditNote, Invoice, InvoiceKind, Payment, Rejected

pytestmark = pytest.mark.skipif(
    not fake_sellsy.SPEC_PATH.exists(), reason="Sellsy's OpenAPI file is absent"
)


@pytest.fixture
def fake() -> Iterator[FakeSellsy]:
    served = FakeSellsy()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        served.register(rsps)
        yield served
    assert served.violations == []


def client(fake: FakeSellsy, secret: str | None = None):  # type: ignore[no-untyped-def]
    clock = fake.clock
    pacer = Pacer(sellsy.MAX_CALLS, sellsy.PER_SECONDS, clock=clock.monotonic,
                  sleep=clock.sleep, wall_clock=clock.time)  # fmt: skip
    retry = RetryPolicy(wait=wait_none(), sleep=clock.sleep)
    secret = fake.client_secret if secret is None else secret
    return sellsy.make_client(fake.client_id, secret, retry=retry, pacer=pacer)


def pull(fake: FakeSellsy) -> list:  # type: ignore[type-arg]
    return list(sellsy.SellsySource("sy", client(fake), currency="EUR").pull(None).records)


@pytest.mark.parametrize(("invoices", "pages"), [(0, 1), (99, 1), (100, 2), (250, 3)])
def test_a_full_read_costs_one_page_per_100_records_and_a_short_page(
    fake: FakeSellsy, invoices: int, pages: int
) -> None:
    fake.companies = {1: company(1, "Alpha")}
    fake.invoices = {i: invoice(i, 1, "10.00") for i in range(1, invoices + 1)}
    records = pull(fake)
    assert sum(isinstance(r, Invoice) for r in records) == invoices
    # companies, individuals, credit notes, payments: one short page each
    assert len(fake.calls) == 4 + pages == 4 + invoices // sellsy.PAGE_SIZE + 1
    assert fake.tokens_issued == 1


def test_the_pace_stays_under_five_a_second(fake: FakeSellsy) -> None:
    fake.companies = {1: company(1, "Alpha")}
    fake.invoices = {i: invoice(i, 1, "10.00") for i in range(1, 2001)}
    pull(fake)
    assert len(fake.calls) == 25
    assert fake.throttled == 0
    assert fake.clock.elapsed >= (25 - sellsy.MAX_CALLS) / sellsy.MAX_CALLS  # it waited


def test_documents_map_as_sellsy_books_them(fake: FakeSellsy) -> None:
    legal = {"siren": "345 678 901", "siret": None, "vat": None}
    fake.companies = {1: company(1, "Alpha", email="compta@alpha.fr", legal_france=legal)}
    fake.individuals = {7: {"id": 7, "first_name": "Marie", "last_name": "Curie"}}
    person = {"related": [{"id": 7, "type": "individual"}]}
    fake.invoices = {
        1: invoice(1, 1, "2520.000"),
        2: invoice(2, 1, "80.00", status="draft"),
        3: invoice(3, 1, "15.00", **person),
        4: invoice(4, 1, "12.00", currency="USD"),
    }
    fake.credit_notes = {
        5: credit_note(5, 1, "20.00", on="2026-01-20"),
        6: credit_note(6, 1, "30.00", on="2026-01-21", status="cancelled"),
    }
    fake.payments = {
        8: payment(8, 1, "100.00", on="2026-01-30", links=((1, "60", "2026-02-01"),)),
        9: payment(9, 1, "20.00", on="2026-02-02", type_="debit"),
        10: payment(10, 1, "5.00", on="2026-02-03", status="failed"),
    }
    read = pull(fake)
    customers = {
        r.external_id: r
        for r in read
        if not isinstance(r, Invoice | CreditNote | Payment | Rejected)
    }
    records = {
        r.external_id: r for r in read if r.external_id not in customers or isinstance(r, Invoice)
    }

    assert customers["1"].siren == "345678901" and customers["1"].email_domain == "alpha.fr"
    assert customers["individual-7"].name == "Marie Curie"
    assert str(records["1"].total.amount) == "2520.00"  # "2520.000": exact, to the cent
    assert records["2"].kind == InvoiceKind.DRAFT
    assert records["3"].customer_id == "individual-7"
    assert isinstance(records["4"], Rejected) and "USD" in records["4"].reason
    assert isinstance(records["credit-note-5"], CreditNote) and "credit-note-6" not in records
    paid = records["payment-8"]
    assert isinstance(paid, Payment) and paid.amount.amount == Decimal("100.00")
    assert [(a.invoice_id, a.amount.amount, str(a.allocated_on)) for a in paid.allocations] == [
        ("1", Decimal("60.00"), "2026-02-01")
    ]  # the 40.00 left is unapplied money
    assert records["payment-9"].kind == InvoiceKind.DEBIT  # paid back: a debit
    assert "payment-10" not in records


def test_a_refused_client_is_an_auth_error_without_the_secret(fake: FakeSellsy) -> None:
    source = sellsy.SellsySource("sy", client(fake, "not-the-secret"), currency="EUR")
    with pytest.raises(AuthError) as error:
        source.check()
    assert "not-the-secret" not in str(error.value)
    assert fake.calls == []


def target(fake: FakeSellsy) -> sellsy.SellsyTarget:
    fields = {"encours_outstanding": "Encours", "encours_overdue": "Échu"}
    return sellsy.SellsyTarget(client(fake), fields=fields)


def test_missing_custom_fields_are_named_with_what_to_do(fake: FakeSellsy) -> None:
    fake.add_field("encours_outstanding", "Encours")
    fake.add_field("encours_overdue", "Échu", related=("supplier",))  # not on customers
    with pytest.raises(ConfigError) as error:
        target(fake).ensure_fields()
    assert "encours_overdue" in str(error.value) and "encours_outstanding" not in str(error.value)
    assert "Settings > Custom fields" in str(error.value)


def test_push_writes_each_record_and_names_those_it_could_not(fake: FakeSellsy) -> None:
    fake.add_field("encours_outstanding", "Encours")
    fake.add_field("encours_overdue", "Échu")
    fake.companies = {1: company(1, "Alpha"), 2: company(2, "Beta")}
    fake.individuals = {7: {"id": 7, "first_name": "Marie", "last_name": "Curie"}}
    changes = {
        "1": {"encours_outstanding": "1234.50", "encours_overdue": ""},
        "2": {},
        "3": {"encours_outstanding": "1.00"},  # deleted in Sellsy
        "individual-7": {"encours_outstanding": "15.00"},
    }
    with pytest.raises(ApiError) as error:
        target(fake).push(changes)
    assert "3 (404)" in str(error.value)
    assert fake.value("1", "encours_outstanding") == "1234.50"
    assert fake.value("1", "encours_overdue") is None  # "" clears the field
    assert fake.value("individual-7", "encours_outstanding") == "15.00"
    puts = [c.path_url for c in fake.calls if c.method == "PUT"]
    assert puts == [
        f"/v2/{p}/custom-fields" for p in ("companies/1", "companies/3", "individuals/7")
    ]
