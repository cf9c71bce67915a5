"""Target conformance: the same scenarios against every CRM target, through an adapter.

Each scenario is written once over `TargetAdapter`; a CRM joins the suite with one adapter
class added to `ADAPTERS`. Every scenario runs inside `adapter.serve()`, which asserts the
fake saw no contract violation. Retries and pacing sleep on the fake's clock.

The diff-only rule is checked end to end: Pennylane (fake) -> real store and `run_sync` ->
the target's fake; a second run sends no batch, one changed invoice sends one batch of one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
import responses
from fake_hubspot import FakeClock, FakeHubSpot
from fakes import dolibarr as fake_dolibarr
from fakes import sellsy as fake_sellsy
from fakes.pennylane import SPEC_PATH, FakePennylane, customer, invoice
from tenacity import wait_none

from encours.connectors import dolibarr, hubspot, registry, sellsy
from encours.connectors.base import RecordTarget
from encours.connectors.http import BearerAuth, HttpClient, Pacer, RetryPolicy
from encours.errors import AuthError, ConfigError
from encours.sync.config import load_settings
from encours.sync.run import EXIT_OK, run_sync
from encours.sync.sources import make_target

FIELDS = {"encours_outstanding": "Encours client", "encours_dso": "DSO (jours)"}


class TargetAdapter(Protocol):
    """What a scenario needs of a CRM: its fake, and how to seed, count and break it."""

    name: str
    token: str
    secret: str  # the key of `token` among the target's secrets
    batch_size: int
    config: str  # the `[targets.crm]` section for the end-to-end run

    def serve(self) -> AbstractContextManager[Any]: ...
    def make(self, fake: Any) -> RecordTarget: ...
    def ensure(self, target: RecordTarget) -> None: ...
    def fields(self, fake: Any) -> set[str]: ...
    def creates(self, fake: Any) -> int: ...
    def add_records(self, fake: Any, count: int) -> list[str]: ...
    def value(self, fake: Any, key: str, field: str) -> str | None: ...
    def batch_calls(self, fake: Any) -> int: ...
    def calls(self, fake: Any) -> int: ...
    def inject(self, fake: Any, what: int | str) -> float: ...
    def sleeps(self, fake: Any) -> list[float]: ...
    # end to end
    def e2e_fake(self, records: dict[str, dict[str, str]]) -> Any: ...
    def install(self, fake: Any, rsps: responses.RequestsMock) -> None: ...
    def batch_sizes(self, rsps: responses.RequestsMock) -> list[int]: ...


class HubSpotAdapter:
    """HubSpot companies against `fake_hubspot` (bodies checked with HubSpot's client models)."""

    name = "hubspot"
    token = "pat-eu1-conformance-0000-secret"  # noqa: S105 - a fake token, must stay hidden
    secret = "token"  # noqa: S105 - its name
    batch_size = hubspot.BATCH_SIZE
    config = '[targets.crm]\ntype = "hubspot"\n'

    @contextmanager
    def serve(self) -> Iterator[FakeHubSpot]:
        fake = FakeHubSpot(self.token, clock=FakeClock())
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.install(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: FakeHubSpot) -> RecordTarget:
        clock = fake.clock
        retry = RetryPolicy(attempts=5, wait=wait_none(), sleep=clock.sleep)
        pacer = Pacer(
            hubspot.MAX_CALLS, hubspot.PER_SECONDS, clock=clock, sleep=clock.sleep, wall_clock=clock
        )
        http = HttpClient(hubspot.BASE_URL, auth=BearerAuth(self.token), retry=retry, pacer=pacer)
        return hubspot.HubSpotTarget(self.token, properties=FIELDS, http=http)

    def ensure(self, target: RecordTarget) -> None:
        assert isinstance(target, hubspot.HubSpotTarget)
        target.ensure_properties()

    def fields(self, fake: FakeHubSpot) -> set[str]:
        return {n for n, p in fake.properties.items() if not p["hubspotDefined"]}

    def creates(self, fake: FakeHubSpot) -> int:
        return sum(v for k, v in fake.calls.items() if k.startswith("POST /crm/v3/properties"))

    def add_records(self, fake: FakeHubSpot, count: int) -> list[str]:
        for name in FIELDS:
            if name not in fake.properties:
                fake.add_property(name)
        keys = [str(1000 + i) for i in range(count)]
        for key in keys:
            fake.add_company(key, name=f"Client {key}", domain=f"client{key}.fr")
        return keys

    def value(self, fake: FakeHubSpot, key: str, field: str) -> str | None:
        return fake.companies[key].get(field)

    def batch_calls(self, fake: FakeHubSpot) -> int:
        return fake.calls[f"POST {hubspot.BATCH_UPDATE}"]

    def calls(self, fake: FakeHubSpot) -> int:
        return sum(fake.calls.values())

    def inject(self, fake: FakeHubSpot, what: int | str) -> float:
        if what == "expired":
            fake.token = "pat-eu1-the-renewed-one"  # noqa: S105 - ours is refused from now on
            return 0.0
        assert what == 429  # fill the fake's rolling window: it answers 429 with Retry-After
        fake._recent.extend([fake.clock()] * fake.max_calls)
        return fake.per_seconds

    def sleeps(self, fake: FakeHubSpot) -> list[float]:
        return fake.clock.slept

    def e2e_fake(self, records: dict[str, dict[str, str]]) -> FakeHubSpot:
        fake = FakeHubSpot(self.token)
        fake.add_property("siren")
        for key, props in records.items():
            fake.add_company(key, **props)
        return fake

    def install(self, fake: FakeHubSpot, rsps: responses.RequestsMock) -> None:
        fake.install(rsps)

    def batch_sizes(self, rsps: responses.RequestsMock) -> list[int]:
        return [
            len(json.loads(call.request.body)["inputs"])
            for call in rsps.calls
            if call.request.url.endswith(hubspot.BATCH_UPDATE)
        ]


def put_runs(rsps: responses.RequestsMock) -> list[int]:
    """The PUTs of each push, for a target that writes one record a call: consecutive PUTs
    are one push (any other call parts them)."""
    sizes: list[int] = []
    previous_put = False
    for call in rsps.calls:
        is_put = call.request.method == "PUT"
        if is_put:
            sizes[-1:] = [sizes[-1] + 1] if previous_put else [*sizes[-1:], 1]
        previous_put = is_put
    return sizes


class DolibarrAdapter:
    """Third-party extra fields against `fakes.dolibarr` (paths and queries on its export).

    One PUT writes one third party: a "batch" is one record.
    """

    name = "dolibarr"
    token = fake_dolibarr.FakeDolibarr.api_key
    secret = "api_key"  # noqa: S105 - its name
    batch_size = dolibarr.DolibarrTarget.batch_size
    config = f'[targets.crm]\ntype = "dolibarr"\nurl = "{fake_dolibarr.URL}"\n'

    @contextmanager
    def serve(self) -> Iterator[fake_dolibarr.FakeDolibarr]:
        fake = fake_dolibarr.FakeDolibarr()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            yield fake
        assert fake.violations == []

    def make(self, fake: fake_dolibarr.FakeDolibarr) -> RecordTarget:
        clock = fake.clock
        retry = RetryPolicy(attempts=5, wait=wait_none(), sleep=clock.sleep)
        pacer = Pacer(dolibarr.MAX_CALLS, dolibarr.PER_SECONDS, clock=clock.monotonic,
                      sleep=clock.sleep, wall_clock=clock.time)  # fmt: skip
        http = dolibarr.make_client(fake_dolibarr.URL, self.token, retry=retry, pacer=pacer)
        return dolibarr.DolibarrTarget(http, fields=FIELDS)

    def ensure(self, target: RecordTarget) -> None:
        assert isinstance(target, dolibarr.DolibarrTarget)
        target.ensure_fields()

    def fields(self, fake: fake_dolibarr.FakeDolibarr) -> set[str]:
        return set(fake.extrafields)

    def creates(self, fake: fake_dolibarr.FakeDolibarr) -> int:
        return sum(call.method == "POST" for call in fake.calls)

    def add_records(self, fake: fake_dolibarr.FakeDolibarr, count: int) -> list[str]:
        for code, label in FIELDS.items():
            fake.extrafields.setdefault(code, {"type": "varchar", "label": label})
        keys = [str(1000 + i) for i in range(count)]
        for key in keys:
            fake.thirdparties[int(key)] = fake_dolibarr.thirdparty(
                int(key), f"Client {key}", email=f"contact@client{key}.fr"
            )
        return keys

    def value(self, fake: fake_dolibarr.FakeDolibarr, key: str, field: str) -> str | None:
        return fake.option(key, field)

    def batch_calls(self, fake: fake_dolibarr.FakeDolibarr) -> int:
        return sum(call.method == "PUT" for call in fake.calls)

    def calls(self, fake: fake_dolibarr.FakeDolibarr) -> int:
        return len(fake.calls)

    def inject(self, fake: fake_dolibarr.FakeDolibarr, what: int | str) -> float:
        if what == "expired":
            fake.api_key = "dolibarr-api-key-renewed"
            return 0.0
        assert what == 429  # a proxy in front of the instance
        fake.fail_next.append(429)
        return 2.0

    def sleeps(self, fake: fake_dolibarr.FakeDolibarr) -> list[float]:
        return fake.clock.sleeps

    def e2e_fake(self, records: dict[str, dict[str, str]]) -> fake_dolibarr.FakeDolibarr:
        fake = fake_dolibarr.FakeDolibarr()
        for key, props in records.items():
            fake.thirdparties[int(key)] = fake_dolibarr.thirdparty(
                int(key), props["name"], idprof1=props.get("siren", "")
            )
        return fake

    def install(self, fake: fake_dolibarr.FakeDolibarr, rsps: responses.RequestsMock) -> None:
        fake.register(rsps)

    def batch_sizes(self, rsps: responses.RequestsMock) -> list[int]:
        return put_runs(rsps)


class SellsyAdapter:
    """Sellsy company custom fields against `fakes.sellsy` (requests checked on its OpenAPI).

    Sellsy's API cannot create custom fields: `ensure` plays the person who creates, in
    Sellsy's settings, the fields `ensure_fields` reports missing, then checks again. One PUT
    writes one company: a "batch" is one record, and a push's batches are its run of PUTs.
    """

    name = "sellsy"
    token = fake_sellsy.FakeSellsy.client_secret
    secret = "client_secret"  # noqa: S105 - its name
    batch_size = sellsy.SellsyTarget.batch_size
    config = '[targets.crm]\ntype = "sellsy"\nclient_id = "sellsy-client-0001"\n'
    fake: fake_sellsy.FakeSellsy

    @contextmanager
    def serve(self) -> Iterator[fake_sellsy.FakeSellsy]:
        self.fake = fake_sellsy.FakeSellsy()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            self.fake.register(rsps)
            yield self.fake
        assert self.fake.violations == []

    def make(self, fake: fake_sellsy.FakeSellsy) -> RecordTarget:
        clock = fake.clock
        retry = RetryPolicy(attempts=5, wait=wait_none(), sleep=clock.sleep)
        pacer = Pacer(sellsy.MAX_CALLS, sellsy.PER_SECONDS, clock=clock.monotonic,
                      sleep=clock.sleep, wall_clock=clock.time)  # fmt: skip
        http = sellsy.make_client(fake.client_id, self.token, retry=retry, pacer=pacer)
        return sellsy.SellsyTarget(http, fields=FIELDS)

    def ensure(self, target: RecordTarget) -> None:
        assert isinstance(target, sellsy.SellsyTarget)
        missing = [code for code in target.fields if code not in self.fields(self.fake)]
        for code in missing:  # named by the error, then created by hand in Sellsy
            with pytest.raises(ConfigError, match=code):
                target.ensure_fields()
            self.fake.add_field(code, target.fields[code])
        assert target.ensure_fields() == list(target.fields)

    def fields(self, fake: fake_sellsy.FakeSellsy) -> set[str]:
        return {f["code"] for f in fake.custom_fields.values()}

    def creates(self, fake: fake_sellsy.FakeSellsy) -> int:
        return len(fake.custom_fields)

    def add_records(self, fake: fake_sellsy.FakeSellsy, count: int) -> list[str]:
        for code, label in FIELDS.items():
            if code not in self.fields(fake):
                fake.add_field(code, label)
        keys = [str(1000 + i) for i in range(count)]
        for key in keys:
            fake.companies[int(key)] = fake_sellsy.company(
                int(key), f"Client {key}", email=f"contact@client{key}.fr"
            )
        return keys

    def value(self, fake: fake_sellsy.FakeSellsy, key: str, field: str) -> str | None:
        return fake.value(key, field)

    def batch_calls(self, fake: fake_sellsy.FakeSellsy) -> int:
        return sum(call.method == "PUT" for call in fake.calls)

    def calls(self, fake: fake_sellsy.FakeSellsy) -> int:
        return len(fake.calls)

    def inject(self, fake: fake_sellsy.FakeSellsy, what: int | str) -> float:
        if what == "expired":
            fake.revoke()
            return 0.0
        assert what == 429
        fake.fill_window()
        return fake_sellsy.WINDOW

    def sleeps(self, fake: fake_sellsy.FakeSellsy) -> list[float]:
        return fake.clock.sleeps

    def e2e_fake(self, records: dict[str, dict[str, str]]) -> fake_sellsy.FakeSellsy:
        self.fake = fake_sellsy.FakeSellsy(clock=fake_sellsy.WallClock())  # sync paces for real
        for key, props in records.items():
            legal = {"siren": props.get("siren"), "siret": None, "vat": None}
            self.fake.companies[int(key)] = fake_sellsy.company(
                int(key), props["name"], legal_france=legal
            )
        return self.fake

    def install(self, fake: fake_sellsy.FakeSellsy, rsps: responses.RequestsMock) -> None:
        fake.register(rsps)

    def batch_sizes(self, rsps: responses.RequestsMock) -> list[int]:
        return put_runs(rsps)


#: The adapter of every registered CRM target: the suite runs for each registered target type.
BY_TYPE = {
    "dolibarr": pytest.param(
        DolibarrAdapter(),
        id="dolibarr",
        # Dolibarr's export carries no licence of its own (SOURCES.md): read from shared/ only.
        marks=pytest.mark.skipif(
            not fake_dolibarr.SPEC_PATH.exists(), reason="Dolibarr's OpenAPI is absent"
        ),
    ),
    "hubspot": pytest.param(HubSpotAdapter(), id="hubspot"),
    "sellsy": pytest.param(
        SellsyAdapter(),
        id="sellsy",
        # Sellsy's spec carries no licence (SOURCES.md): read from shared/ only.
        marks=pytest.mark.skipif(
            not fake_sellsy.SPEC_PATH.exists(), reason="Sellsy's OpenAPI is absent"
        ),
    ),
}
#: Registered targets without records of their own to match or custom fields to create, or
#: tested against a real server: where their promises are tested instead.
ELSEWHERE = {
    "file": "tests/test_cli.py, tests/safety (a local file: no records, no rate limit)",
    "tryton": "tests/tryton (a real Tryton server with the module party_encours)",
}
ADAPTERS = [BY_TYPE[type_] for type_ in registry.target_types() if type_ in BY_TYPE]


def test_every_registered_target_is_in_the_suite() -> None:
    registered = set(registry.target_types())
    assert registered - ELSEWHERE.keys() == BY_TYPE.keys(), "add the new target's adapter"
    assert ELSEWHERE.keys() <= registered


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> TargetAdapter:
    return request.param


def changes(keys: list[str]) -> dict[str, dict[str, str]]:
    return {
        k: {"encours_outstanding": f"{i}.50", "encours_dso": "45.00"} for i, k in enumerate(keys)
    }


# -- scenarios -------------------------------------------------------------------------------


def test_fields_are_created_once_then_reused(adapter: TargetAdapter) -> None:
    with adapter.serve() as fake:
        target = adapter.make(fake)
        adapter.ensure(target)
        assert adapter.fields(fake) >= set(FIELDS)
        created = adapter.creates(fake)
        assert created >= len(FIELDS)
        adapter.ensure(target)
        adapter.ensure(adapter.make(fake))
        assert adapter.creates(fake) == created  # idempotent: nothing created again


def test_records_are_listed_for_matching(adapter: TargetAdapter) -> None:
    with adapter.serve() as fake:
        keys = adapter.add_records(fake, 250)
        parties = list(adapter.make(fake).companies())
        assert sorted(p.key for p in parties) == sorted(keys)
        assert all(p.name for p in parties)
        assert {p.email_domain for p in parties} == {f"client{k}.fr" for k in keys}


def test_push_sends_the_minimum_number_of_batches(adapter: TargetAdapter) -> None:
    count = 2 * adapter.batch_size + 1
    with adapter.serve() as fake:
        keys = adapter.add_records(fake, count)
        adapter.make(fake).push(changes(keys))
        assert adapter.batch_calls(fake) == -(-count // adapter.batch_size)
        assert adapter.value(fake, keys[-1], "encours_outstanding") == f"{count - 1}.50"


def test_an_empty_change_set_sends_nothing(adapter: TargetAdapter) -> None:
    with adapter.serve() as fake:
        keys = adapter.add_records(fake, 3)
        target = adapter.make(fake)
        target.push({})
        target.push({k: {} for k in keys})
        assert adapter.calls(fake) == 0


def test_429_during_push_is_waited_out(adapter: TargetAdapter) -> None:
    with adapter.serve() as fake:
        keys = adapter.add_records(fake, adapter.batch_size + 1)
        target = adapter.make(fake)
        asked = adapter.inject(fake, 429)
        target.push(changes(keys))
        assert adapter.sleeps(fake) and max(adapter.sleeps(fake)) >= asked
        assert all(adapter.value(fake, k, "encours_dso") == "45.00" for k in keys)


def test_expired_token_is_an_auth_error_without_the_token(
    adapter: TargetAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with adapter.serve() as fake:
        keys = adapter.add_records(fake, 2)
        target = adapter.make(fake)
        target.check()
        adapter.inject(fake, "expired")
        for action in (lambda: target.push(changes(keys)), lambda: list(target.companies())):
            with pytest.raises(AuthError) as error:
                action()
            assert adapter.token not in str(error.value)
            assert adapter.token not in repr(error.value.args)
        assert adapter.token not in caplog.text


# -- diff-only, end to end -------------------------------------------------------------------

AS_OF = date(2026, 3, 1)


@pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent")
def test_only_what_changed_is_pushed(
    adapter: TargetAdapter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pennylane = FakePennylane()
    pennylane.customers = {
        1: customer(1, "Boulangerie Dupont", reg_no="345678901"),
        2: customer(2, "Garage Martin", reg_no="456789012"),
    }
    pennylane.invoices = {10: invoice(10, 1, "1200.00"), 11: invoice(11, 2, "300.00")}
    fake = adapter.e2e_fake(
        {
            "501": {"name": "Dupont Boulangerie", "siren": "345678901"},
            "502": {"name": "Martin", "siren": "456789012"},
        }
    )
    monkeypatch.setenv("ENCOURS_PL_TOKEN", pennylane.token)
    monkeypatch.setenv(f"ENCOURS_CRM_{adapter.secret.upper()}", adapter.token)
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n[sources.pl]\ntype = "pennylane"\n'
        + adapter.config
        + '[push]\nindicators = ["outstanding", "overdue", "not_due", "as_of"]\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        adapter.install(fake, rsps)
        adapter.ensure(make_target("crm", settings.targets["crm"], settings))

        first = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 2, tzinfo=UTC))
        assert first.exit_code == EXIT_OK, first.as_dict()
        assert adapter.batch_sizes(rsps) == [2]

        second = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 3, tzinfo=UTC))
        assert second.exit_code == EXIT_OK, second.as_dict()
        assert adapter.batch_sizes(rsps) == [2]  # nothing changed: no batch call

        # The connector's clock is the real one: the change is recorded now.
        changed_at = datetime.now(UTC)
        stamp = changed_at.isoformat().replace("+00:00", "Z")
        amounts = dict.fromkeys(
            ("amount", "currency_amount", "remaining_amount_with_tax"), "1500.00"
        )
        pennylane.invoices[10] |= amounts | {"updated_at": stamp}
        pennylane.add_change("customer_invoices", 10, "update", changed_at)
        third = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 4, tzinfo=UTC))
        assert third.exit_code == EXIT_OK, third.as_dict()
        assert adapter.batch_sizes(rsps) == [2, 1]  # one batch, one record
        assert adapter.value(fake, "501", "encours_outstanding") == "1500.00"
        assert adapter.value(fake, "502", "encours_outstanding") == "300.00"
    assert pennylane.violations == []
    assert getattr(fake, "violations", []) == []
