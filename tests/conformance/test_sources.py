"""Source conformance: the same scenarios against every HTTP source, through an adapter.

Each scenario is written once over `SourceAdapter`; a vendor joins the suite with one adapter
class (its fake server, how to seed, change, delete and break it) added to `ADAPTERS`. Every
scenario runs inside `adapter.serve()`, which asserts the fake saw no contract violation.
Retries and pacing sleep on the fake's clock: nothing really waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any, Protocol

import pytest
import responses
from fakes import dolibarr as fake_dolibarr
from fakes import sellsy as fake_sellsy
from fakes import stripe as stripe_fake
from fakes import xero as xero_fake
from fakes.pennylane import LIMIT, SPEC_PATH, WINDOW, FakePennylane, customer, invoice
from tenacity import wait_exponential, wait_none

from encours.connectors import dolibarr, pennylane, registry, sellsy, stripe, xero
from encours.connectors.base import Pull, Source
from encours.connectors.declarative import OAuth2RefreshAuth
from encours.connectors.http import Pacer, RetryPolicy
from encours.errors import ApiError, AuthError
from encours.model import Customer, Invoice, Rejected

Key = tuple[str, str]  # (record type, external id)


class SourceAdapter(Protocol):
    """What a scenario needs of a vendor: its fake, and how to seed, change and break it."""

    name: str
    token: str
    page_size: int
    incremental: bool  # False: the API cannot say what changed, every run reads it all

    def serve(self) -> AbstractContextManager[Any]: ...
    def make(self, fake: Any) -> Source: ...
    def seed(self, fake: Any, customers: Iterable[int], invoices: Mapping[int, int]) -> None: ...
    def change(self, fake: Any, ids: Iterable[int]) -> None: ...
    def delete(self, fake: Any, ident: int) -> None: ...
    def inject(self, fake: Any, what: int | str) -> float: ...
    def malformed(self, fake: Any) -> str: ...
    def calls(self, fake: Any) -> int: ...
    def advance(self, fake: Any, seconds: float) -> None: ...
    def sleeps(self, fake: Any) -> list[float]: ...


class PennylaneAdapter:
    """Pennylane v2 against `fakes.pennylane` (every request checked on the OpenAPI file)."""

    name = "pennylane"
    token = FakePennylane.token
    page_size = pennylane.PAGE_SIZE
    incremental = True

    @contextmanager
    def serve(self) -> Iterator[FakePennylane]:
        fake = FakePennylane()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: FakePennylane) -> Source:
        clock = fake.clock
        retry = RetryPolicy(wait=wait_none(), sleep=clock.sleep)
        pacer = Pacer(
            LIMIT, WINDOW, clock=clock.monotonic, sleep=clock.sleep, wall_clock=clock.time
        )
        http = pennylane.make_client(self.token, retry=retry, pacer=pacer)
        return pennylane.PennylaneConnector(
            "pl", self.token, currency="EUR", http=http, now=clock.now
        )

    def seed(self, fake: FakePennylane, customers: Iterable[int], invoices: Mapping[int, int]):
        fake.customers.update({c: customer(c, f"Client {c}") for c in customers})
        fake.invoices.update({i: invoice(i, c, "100.00") for i, c in invoices.items()})

    def change(self, fake: FakePennylane, ids: Iterable[int]) -> None:
        now = fake.clock.now()
        for ident in ids:
            stamp = now.isoformat().replace("+00:00", "Z")
            fake.invoices[ident] |= {"invoice_number": f"F-{ident}-bis", "updated_at": stamp}
            fake.add_change("customer_invoices", ident, "update", now)

    def delete(self, fake: FakePennylane, ident: int) -> None:
        del fake.invoices[ident]
        fake.add_change("customer_invoices", ident, "delete", fake.clock.now())

    def inject(self, fake: FakePennylane, what: int | str) -> float:
        if what == "expired":
            fake.expire_after = len(fake.calls)
        elif what == 429:  # fill the fake's rate window: it answers 429 with retry-after
            fake._sent.extend([fake.clock.monotonic()] * LIMIT)
            return WINDOW
        else:
            fake.fail_next.append(int(what))
        return 0.0

    def malformed(self, fake: FakePennylane) -> str:
        fake.invoices[9999] = invoice(9999, next(iter(fake.customers)), "not a number")
        return "9999"

    def calls(self, fake: FakePennylane) -> int:
        return len(fake.calls)

    def advance(self, fake: FakePennylane, seconds: float) -> None:
        fake.clock.elapsed += seconds

    def sleeps(self, fake: FakePennylane) -> list[float]:
        return fake.clock.sleeps


class StripeAdapter:
    """Stripe against `fakes.stripe` (every request checked on Stripe's own contract).

    Stripe's 429 names no wait: the client backs off (1 s first, on the fake's clock).
    """

    name = "stripe"
    token = stripe_fake.FakeStripe.token
    page_size = stripe.PAGE_SIZE
    incremental = True

    @contextmanager
    def serve(self) -> Iterator[stripe_fake.FakeStripe]:
        fake = stripe_fake.FakeStripe()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: stripe_fake.FakeStripe) -> Source:
        clock = fake.clock
        retry = RetryPolicy(wait=wait_exponential(min=1, max=8), sleep=clock.sleep)
        pacer = Pacer(*stripe.RATE_LIMIT, clock=clock.monotonic, sleep=clock.sleep)
        http = stripe.make_client(self.token, retry=retry, pacer=pacer)
        return stripe.StripeSource("st", http, currency="EUR", now=clock.now)

    def seed(
        self, fake: stripe_fake.FakeStripe, customers: Iterable[int], invoices: Mapping[int, int]
    ) -> None:
        long_ago = fake.clock.now() - timedelta(days=60)
        fake.customers.update(
            {str(c): stripe_fake.customer(str(c), f"Client {c}") for c in customers}
        )
        fake.invoices.update({
            str(i): stripe_fake.invoice(str(i), str(c), 10000, created=long_ago, status="open")
            for i, c in invoices.items()
        })  # fmt: skip

    def change(self, fake: stripe_fake.FakeStripe, ids: Iterable[int]) -> None:
        for ident in ids:
            fake.pay(str(ident), fake.clock.now())

    def delete(self, fake: stripe_fake.FakeStripe, ident: int) -> None:
        fake.void(str(ident), fake.clock.now())

    def inject(self, fake: stripe_fake.FakeStripe, what: int | str) -> float:
        if what == "expired":
            fake.expire_after = len(fake.calls)
        elif what == 429:  # fill the fake's window of a second
            fake._sent.extend([fake.clock.monotonic()] * stripe_fake.LIMIT)
            return stripe_fake.WINDOW
        else:
            fake.fail_next.append(int(what))
        return 0.0

    def malformed(self, fake: stripe_fake.FakeStripe) -> str:
        first = next(iter(fake.customers))
        bad = stripe_fake.invoice("9999", first, 100, created=fake.clock.now())
        fake.invoices["9999"] = bad | {"status": "open", "total": "not a number"}
        return "9999"

    def calls(self, fake: stripe_fake.FakeStripe) -> int:
        return len(fake.calls)

    def advance(self, fake: stripe_fake.FakeStripe, seconds: float) -> None:
        fake.clock.elapsed += seconds

    def sleeps(self, fake: stripe_fake.FakeStripe) -> list[float]:
        return fake.clock.sleeps


class XeroAdapter:
    """Xero against `fakes.xero` (every request checked on Xero's own contract).

    The token is the refresh token the run starts with (Xero rotates it); the 429 carries
    `Retry-After`, waited out on the fake's clock.
    """

    name = "xero"
    token = xero_fake.FakeXero.refresh_token
    page_size = xero.PAGE_SIZE
    incremental = True

    @contextmanager
    def serve(self) -> Iterator[xero_fake.FakeXero]:
        fake = xero_fake.FakeXero()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: xero_fake.FakeXero) -> Source:
        clock = fake.clock
        auth = OAuth2RefreshAuth(xero_fake.TOKEN_URL, fake.client_id, fake.client_secret,
                                 fake.refresh_token, save=lambda _token: None,
                                 clock=clock.monotonic)  # fmt: skip
        retry = RetryPolicy(wait=wait_exponential(min=1, max=8), sleep=clock.sleep)
        pacer = Pacer(*xero.RATE_LIMIT, clock=clock.monotonic, sleep=clock.sleep)
        http = xero.make_client(fake.tenant, auth, retry=retry, pacer=pacer)
        return xero.XeroSource("xe", http, currency="EUR", now=clock.now)

    def seed(
        self, fake: xero_fake.FakeXero, customers: Iterable[int], invoices: Mapping[int, int]
    ) -> None:
        long_ago = fake.clock.now() - timedelta(days=60)
        fake.add("Contacts", *(xero_fake.contact(str(c), f"Client {c}", updated=long_ago)
                               for c in customers))  # fmt: skip
        fake.add("Invoices", *(xero_fake.invoice(str(i), str(c), "100.00", on=long_ago)
                               for i, c in invoices.items()))  # fmt: skip

    def change(self, fake: xero_fake.FakeXero, ids: Iterable[int]) -> None:
        for ident in ids:
            fake.pay(str(ident), "100.00", fake.clock.now())

    def delete(self, fake: xero_fake.FakeXero, ident: int) -> None:
        fake.void("Invoices", str(ident), fake.clock.now())

    def inject(self, fake: xero_fake.FakeXero, what: int | str) -> float:
        if what == "expired":
            fake.expire_after = len(fake.calls)
        elif what == 429:  # fill the fake's minute: it answers 429 with Retry-After
            fake._sent.extend([fake.clock.monotonic()] * xero_fake.LIMIT)
            return xero_fake.WINDOW
        else:
            fake.fail_next.append(int(what))
        return 0.0

    def malformed(self, fake: xero_fake.FakeXero) -> str:
        first = next(iter(fake.lists["Contacts"]))
        bad = xero_fake.invoice("9999", first, "1.00", on=fake.clock.now())
        fake.add("Invoices", bad | {"Total": "not a number"})
        return "9999"

    def calls(self, fake: xero_fake.FakeXero) -> int:
        return len(fake.calls)

    def advance(self, fake: xero_fake.FakeXero, seconds: float) -> None:
        fake.clock.elapsed += seconds

    def sleeps(self, fake: xero_fake.FakeXero) -> list[float]:
        return fake.clock.sleeps


class DolibarrAdapter:
    """Dolibarr's REST API against `fakes.dolibarr` (paths and queries checked on its export)."""

    name = "dolibarr"
    token = fake_dolibarr.FakeDolibarr.api_key
    page_size = dolibarr.PAGE_SIZE
    incremental = True

    @contextmanager
    def serve(self) -> Iterator[fake_dolibarr.FakeDolibarr]:
        fake = fake_dolibarr.FakeDolibarr()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: fake_dolibarr.FakeDolibarr) -> Source:
        clock = fake.clock
        retry = RetryPolicy(wait=wait_none(), sleep=clock.sleep)
        pacer = Pacer(dolibarr.MAX_CALLS, dolibarr.PER_SECONDS, clock=clock.monotonic,
                      sleep=clock.sleep, wall_clock=clock.time)  # fmt: skip
        http = dolibarr.make_client(fake_dolibarr.URL, self.token, retry=retry, pacer=pacer)
        return dolibarr.DolibarrSource("doli", http, currency="EUR", now=clock.now)

    def seed(self, fake, customers: Iterable[int], invoices: Mapping[int, int]) -> None:
        fake.thirdparties.update({c: fake_dolibarr.thirdparty(c, f"Client {c}") for c in customers})
        fake.invoices.update(
            {i: fake_dolibarr.invoice(i, c, "100.00000000") for i, c in invoices.items()}
        )

    def change(self, fake: fake_dolibarr.FakeDolibarr, ids: Iterable[int]) -> None:
        for ident in ids:
            fake.touch(ident, ref=f"FA-{ident}-bis")

    def delete(self, fake: fake_dolibarr.FakeDolibarr, ident: int) -> None:
        del fake.invoices[ident]

    def inject(self, fake: fake_dolibarr.FakeDolibarr, what: int | str) -> float:
        if what == "expired":
            fake.api_key = "dolibarr-api-key-renewed"
            return 0.0
        fake.fail_next.append(int(what))
        return 2.0 if what == 429 else 0.0  # a proxy's Retry-After

    def malformed(self, fake: fake_dolibarr.FakeDolibarr) -> str:
        customer_id = next(iter(fake.thirdparties))
        fake.invoices[9999] = fake_dolibarr.invoice(9999, customer_id, "1.00", total_ttc="n/a")
        return "9999"

    def calls(self, fake: fake_dolibarr.FakeDolibarr) -> int:
        return len(fake.calls)

    def advance(self, fake: fake_dolibarr.FakeDolibarr, seconds: float) -> None:
        fake.clock.elapsed += seconds

    def sleeps(self, fake: fake_dolibarr.FakeDolibarr) -> list[float]:
        return fake.clock.sleeps


class SellsyAdapter:
    """Sellsy v2 against `fakes.sellsy` (every request checked on Sellsy's OpenAPI file).

    Sellsy's documents have no "changed since": every run reads them all (`incremental`).
    """

    name = "sellsy"
    token = fake_sellsy.FakeSellsy.client_secret
    page_size = sellsy.PAGE_SIZE
    incremental = False

    @contextmanager
    def serve(self) -> Iterator[fake_sellsy.FakeSellsy]:
        fake = fake_sellsy.FakeSellsy()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: fake_sellsy.FakeSellsy) -> Source:
        clock = fake.clock
        retry = RetryPolicy(wait=wait_none(), sleep=clock.sleep)
        pacer = Pacer(sellsy.MAX_CALLS, sellsy.PER_SECONDS, clock=clock.monotonic,
                      sleep=clock.sleep, wall_clock=clock.time)  # fmt: skip
        http = sellsy.make_client(fake.client_id, self.token, retry=retry, pacer=pacer)
        return sellsy.SellsySource("sy", http, currency="EUR", now=clock.now)

    def seed(self, fake, customers: Iterable[int], invoices: Mapping[int, int]) -> None:
        fake.companies.update({c: fake_sellsy.company(c, f"Client {c}") for c in customers})
        fake.invoices.update({i: fake_sellsy.invoice(i, c, "100.00") for i, c in invoices.items()})

    def change(self, fake: fake_sellsy.FakeSellsy, ids: Iterable[int]) -> None:
        for ident in ids:
            fake.invoices[ident] |= {"number": f"F-{ident}-bis"}

    def delete(self, fake: fake_sellsy.FakeSellsy, ident: int) -> None:
        del fake.invoices[ident]

    def inject(self, fake: fake_sellsy.FakeSellsy, what: int | str) -> float:
        if what == "expired":
            fake.revoke()
        elif what == 429:
            fake.fill_window()
            return fake_sellsy.WINDOW
        else:
            fake.fail_next.append(int(what))
        return 0.0

    def malformed(self, fake: fake_sellsy.FakeSellsy) -> str:
        fake.invoices[9999] = fake_sellsy.invoice(9999, next(iter(fake.companies)), "not a number")
        return "9999"

    def calls(self, fake: fake_sellsy.FakeSellsy) -> int:
        return len(fake.calls)

    def advance(self, fake: fake_sellsy.FakeSellsy, seconds: float) -> None:
        fake.clock.elapsed += seconds

    def sleeps(self, fake: fake_sellsy.FakeSellsy) -> list[float]:
        return fake.clock.sleeps


#: The adapter of every registered HTTP source: the suite runs for each registered source type.
BY_TYPE = {
    "dolibarr": pytest.param(
        DolibarrAdapter(),
        id="dolibarr",
        # Dolibarr's export carries no licence of its own (SOURCES.md): read from shared/ only.
        marks=pytest.mark.skipif(
            not fake_dolibarr.SPEC_PATH.exists(), reason="Dolibarr's OpenAPI is absent"
        ),
    ),
    "pennylane": pytest.param(
        PennylaneAdapter(),
        id="pennylane",
        # Pennylane's spec may not be redistributed (SOURCES.md): read from shared/ only.
        marks=pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI is absent"),
    ),
    "sellsy": pytest.param(
        SellsyAdapter(),
        id="sellsy",
        # Sellsy's spec carries no licence (SOURCES.md): read from shared/ only.
        marks=pytest.mark.skipif(
            not fake_sellsy.SPEC_PATH.exists(), reason="Sellsy's OpenAPI is absent"
        ),
    ),
    "stripe": pytest.param(StripeAdapter(), id="stripe"),  # its contract is copied (MIT)
    "xero": pytest.param(XeroAdapter(), id="xero"),  # its contract is copied (MIT)
}
#: Registered sources that serve no HTTP pages (no 429, no token): where their promises
#: (every record once, changes, deletions, a bad record quarantined) are tested instead.
NOT_HTTP = {
    "fec": "tests/connectors/test_fec.py, tests/safety/test_bad_data.py (a file, no server)",
    "tryton": "tests/tryton (a real Tryton server, JSON-RPC sessions)",
}
ADAPTERS = [BY_TYPE[type_] for type_ in registry.source_types() if type_ in BY_TYPE]


def test_every_registered_source_is_in_the_suite() -> None:
    registered = set(registry.source_types())
    assert registered - NOT_HTTP.keys() == BY_TYPE.keys(), "add the new source's adapter"
    assert NOT_HTTP.keys() <= registered


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> SourceAdapter:
    return request.param


def keys(records: Iterable[Any]) -> list[Key]:
    """The seeded documents read; what a vendor derives from them (sales, payments) is not."""
    return [(type(r).__name__, r.external_id) for r in records if isinstance(r, Customer | Invoice)]


def expected(customers: Iterable[int], invoices: Iterable[int]) -> set[Key]:
    return {("Customer", str(c)) for c in customers} | {("Invoice", str(i)) for i in invoices}


def read(pull: Pull) -> list[Any]:
    return list(pull.records)


CUSTOMERS = (1, 2, 3)
SMALL = {10: 1, 11: 2, 12: 3, 13: 1}


# -- scenarios -------------------------------------------------------------------------------


def test_full_read_paginates_and_yields_every_record_once(adapter: SourceAdapter) -> None:
    invoices = {i: CUSTOMERS[i % 3] for i in range(1, 2 * adapter.page_size + 51)}
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, invoices)
        pull = adapter.make(fake).pull(None)
        got = keys(read(pull))
        assert pull.replace_all is True
        assert len(got) == len(set(got))  # each record once
        assert set(got) == expected(CUSTOMERS, invoices)
        assert adapter.calls(fake) >= 4  # the invoices alone take three pages


def test_incremental_returns_only_changes_with_the_overlap(adapter: SourceAdapter) -> None:
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        source = adapter.make(fake)
        adapter.change(fake, [10])  # just before the position the first pull stores
        adapter.advance(fake, 60)
        first = source.pull(None)
        before = {(type(r).__name__, r.external_id): r for r in read(first)}
        position = first.position()
        adapter.advance(fake, 600)
        adapter.change(fake, [12])

        second = source.pull(position)
        records = read(second)

        if not adapter.incremental:  # read whole again, the changes with it
            assert second.replace_all is True
            assert set(keys(records)) == expected(CUSTOMERS, SMALL)
            changed = next(r for r in records if r.external_id == "12")
            assert changed != before[("Invoice", "12")]
            return
        assert second.replace_all is False
        assert sorted(keys(records)) == [("Invoice", "10"), ("Invoice", "12")]
        again = next(r for r in records if r.external_id == "10")
        assert again == before[("Invoice", "10")]  # seen again, identical: harmless upsert
        assert second.position() >= position


def test_429_with_retry_after_is_waited_out(adapter: SourceAdapter) -> None:
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        asked = adapter.inject(fake, 429)
        got = keys(read(adapter.make(fake).pull(None)))
        assert set(got) == expected(CUSTOMERS, SMALL)
        assert adapter.sleeps(fake) and max(adapter.sleeps(fake)) >= asked


def test_5xx_then_success(adapter: SourceAdapter) -> None:
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        read(adapter.make(fake).pull(None))
        baseline = adapter.calls(fake)
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        adapter.inject(fake, 503)
        got = keys(read(adapter.make(fake).pull(None)))
        assert set(got) == expected(CUSTOMERS, SMALL)
        assert adapter.calls(fake) == baseline + 1


@pytest.mark.parametrize("status", [400, 404])
def test_fatal_error_is_not_retried(adapter: SourceAdapter, status: int) -> None:
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        adapter.inject(fake, status)
        with pytest.raises(ApiError) as error:
            read(adapter.make(fake).pull(None))
        assert error.value.status == status
        assert adapter.calls(fake) == 1
        assert adapter.sleeps(fake) == []


def test_expired_token_is_an_auth_error_without_the_token(
    adapter: SourceAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        source = adapter.make(fake)
        source.check()
        adapter.inject(fake, "expired")
        with pytest.raises(AuthError) as error:
            read(source.pull(None))
        assert adapter.token not in str(error.value)
        assert adapter.token not in repr(error.value.args)
        assert adapter.token not in caplog.text


def test_malformed_record_is_rejected_and_the_rest_read(adapter: SourceAdapter) -> None:
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        bad = adapter.malformed(fake)
        records = read(adapter.make(fake).pull(None))
        rejected = [r for r in records if isinstance(r, Rejected)]
        assert [r.external_id for r in rejected] == [bad]
        assert rejected[0].reason and rejected[0].raw
        assert set(keys(records)) == expected(CUSTOMERS, SMALL)


def test_deletion_is_noticed_by_a_full_read(adapter: SourceAdapter) -> None:
    with adapter.serve() as fake:
        adapter.seed(fake, CUSTOMERS, SMALL)
        source = adapter.make(fake)
        first = source.pull(None)
        read(first)
        adapter.advance(fake, timedelta(hours=1).total_seconds())
        adapter.delete(fake, 11)

        pull = source.pull(first.position())
        if not pull.replace_all:  # a source whose changes do not report deletions
            read(pull)
            pull = source.pull(None)
        got = set(keys(read(pull)))

        assert pull.replace_all is True
        assert got == expected(CUSTOMERS, set(SMALL) - {11})
