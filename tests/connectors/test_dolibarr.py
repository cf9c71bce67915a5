"""The Dolibarr connector against `fakes.dolibarr`: pages, changes, mapping, extra fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from fakes import dolibarr as fake_dolibarr
from fakes.dolibarr import FakeDolibarr, invoice, paid, thirdparty
from tenacity import wait_none

from encours.connectors import dolibarr
from encours.connectors.http import Pacer, RetryPolicy
from encours.errors import ApiError, NotFoundError
from encours.model import Advance, Customer, Invoice, InvoiceKind, Payment

pytestmark = pytest.mark.skipif(
    not fake_dolibarr.SPEC_PATH.exists(), reason="Dolibarr's export is absent"
)


@pytest.fixture
def fake() -> Iterator[FakeDolibarr]:
    served = FakeDolibarr()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        served.register(rsps)
        yield served
    assert served.violations == []


def client(fake: FakeDolibarr, url: str = fake_dolibarr.URL):  # type: ignore[no-untyped-def]
    clock = fake.clock
    pacer = Pacer(dolibarr.MAX_CALLS, dolibarr.PER_SECONDS, clock=clock.monotonic,
                  sleep=clock.sleep, wall_clock=clock.time)  # fmt: skip
    retry = RetryPolicy(wait=wait_none(), sleep=clock.sleep)
    return dolibarr.make_client(url, fake.api_key, retry=retry, pacer=pacer)


def source(fake: FakeDolibarr) -> dolibarr.DolibarrSource:
    return dolibarr.DolibarrSource("doli", client(fake), currency="EUR", now=fake.clock.now)


def queries(fake: FakeDolibarr) -> list[tuple[str, dict[str, str]]]:
    parts = [urlsplit(c.path_url) for c in fake.calls]
    return [(p.path.split("/")[-1], {k: v[0] for k, v in parse_qs(p.query).items()}) for p in parts]


@pytest.mark.parametrize("legacy_404", [False, True])
@pytest.mark.parametrize(("invoices", "pages"), [(0, 1), (100, 2), (250, 3)])
def test_a_full_read_costs_a_page_per_100_and_a_short_one(
    fake: FakeDolibarr, invoices: int, pages: int, legacy_404: bool
) -> None:
    fake.legacy_404 = legacy_404
    fake.thirdparties = {1: thirdparty(1, "Alpha")}
    fake.invoices = {i: invoice(i, 1, "10.00") for i in range(1, invoices + 1)}
    records = list(source(fake).pull(None).records)
    assert sum(isinstance(r, Invoice) for r in records) == invoices
    assert [q["page"] for what, q in queries(fake) if what == "invoices"] == [
        str(n) for n in range(pages)
    ]
    assert all(q["limit"] == "100" for _, q in queries(fake))
    assert len(fake.calls) == 1 + pages


def test_a_404_that_is_not_an_empty_list_is_an_error(fake: FakeDolibarr) -> None:
    with pytest.raises(NotFoundError):
        list(dolibarr.DolibarrSource("doli", client(fake, "https://erp.example.fr/erp"),
                                     currency="EUR").pull(None).records)  # fmt: skip


def test_incremental_asks_what_changed_a_day_before_the_last_run(fake: FakeDolibarr) -> None:
    fake.thirdparties = {1: thirdparty(1, "Alpha")}
    fake.invoices = {i: invoice(i, 1, "10.00", paid="10", status=2) for i in range(1, 6)}
    fake.payments = {i: [paid("10", "2026-02-01", f"PAY-{i}")] for i in range(1, 6)}
    first = source(fake).pull(None)
    list(first.records)
    fake.clock.elapsed += timedelta(hours=20).total_seconds()
    fake.touch(3, ref="FA-3-bis")
    fake.calls.clear()

    pull = source(fake).pull(first.position())
    ids = sorted(r.external_id for r in pull.records if isinstance(r, Invoice))

    assert (pull.replace_all, ids) == (False, ["3"])
    since = {what: q["sqlfilters"] for what, q in queries(fake) if "sqlfilters" in q}
    assert since == {w: "(t.tms:>=:'2026-03-01 09:00:00')" for w in ("thirdparties", "invoices")}
    assert [what for what, _ in queries(fake)] == ["thirdparties", "invoices", "payments"]


def test_documents_map_as_dolibarr_books_them(fake: FakeDolibarr) -> None:
    fake.thirdparties = {1: thirdparty(1, "Alpha", idprof1="345 678 901", email="a@alpha.fr",
                                       outstanding_limit="5000.00000000")}  # fmt: skip
    fake.invoices = {
        1: invoice(1, 1, "400.00", on="2026-03-29", due="2026-04-28", status=3, paid="100"),
        2: invoice(2, 1, "-50.00", type_=2, status=2, paid="-50"),
        3: invoice(3, 1, "300.00", type_=3, status=2, paid="300"),
    }
    fake.payments = {
        1: [paid("100", "2026-04-02", "PAY-1")],
        2: [paid("-50", "2026-02-03", "PAY-2")],
        3: [paid("300", "2026-01-25", "PAY-3")],
    }
    fake.invoices[1]["remaintopay"] = "300.00000000"  # abandoned: written off
    read = {(type(r).__name__, r.external_id): r for r in source(fake).pull(None).records}

    customer = read[("Customer", "1")]
    assert isinstance(customer, Customer) and customer.siren == "345678901"
    assert customer.credit_limit is not None and customer.credit_limit.amount == Decimal("5000")
    written_off = read[("Invoice", "1")]
    assert written_off.total.amount == Decimal("100.00")
    # midnight in Paris is the day before in UTC: the calendar day is kept, summer time too
    assert (written_off.issued_on, written_off.due_lines[0].due_on) == (
        date(2026, 3, 29),
        date(2026, 4, 28),
    )
    assert isinstance(read[("Payment", "payment-PAY-1-1")], Payment)
    assert read[("Invoice", "refund-PAY-2-2")].kind == InvoiceKind.DEBIT
    assert read[("CreditNote", "credit-note-2")].amount.amount == Decimal("50.00")
    advance = read[("Advance", "advance-PAY-3-3")]
    assert isinstance(advance, Advance) and advance.on == date(2026, 1, 25)
    assert ("Invoice", "3") not in read  # a deposit invoice owes nothing itself


def target(fake: FakeDolibarr) -> dolibarr.DolibarrTarget:
    fields = {"encours_outstanding": "Encours", "encours_overdue": "Échu"}
    return dolibarr.DolibarrTarget(client(fake), fields=fields)


def test_init_creates_the_missing_extra_fields_only(fake: FakeDolibarr) -> None:
    fake.extrafields["encours_outstanding"] = {"type": "varchar", "label": "Encours"}
    assert target(fake).ensure_fields() == (["encours_overdue"], ["encours_outstanding"])
    assert target(fake).ensure_fields() == ([], ["encours_outstanding", "encours_overdue"])
    posts = [c for c in fake.calls if c.method == "POST"]
    assert [json.loads(c.body)["type"] for c in posts] == ["varchar"]


def test_push_writes_each_third_party_and_names_those_it_could_not(fake: FakeDolibarr) -> None:
    fake.extrafields = {"encours_outstanding": {}, "encours_overdue": {}}
    fake.thirdparties = {1: thirdparty(1, "Alpha"), 2: thirdparty(2, "Beta")}
    changes = {"1": {"encours_outstanding": "1234.50", "encours_overdue": ""}, "2": {},
               "3": {"encours_outstanding": "1.00"}}  # fmt: skip
    with pytest.raises(ApiError) as error:
        target(fake).push(changes)
    assert "3 (404)" in str(error.value)
    assert fake.option("1", "encours_outstanding") == "1234.50"
    assert fake.option("1", "encours_overdue") == ""  # cleared
    assert [c.path_url for c in fake.calls] == [
        "/api/index.php/thirdparties/1", "/api/index.php/thirdparties/3"
    ]  # fmt: skip
