"""HubSpot target against the in-memory fake (`fake_hubspot.py`).

Every request body is validated with hubspot-api-client's models; each test ends by asserting
the fake saw no violation. Retry policies and pacers record their sleeps on a fake clock, so
nothing really waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import responses
from fake_hubspot import FakeClock, FakeHubSpot, validate
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import PropertyCreate
from tenacity import wait_none

from encours.connectors.http import BearerAuth, HttpClient, Pacer, RetryPolicy
from encours.connectors.hubspot import BASE_URL, HubSpotTarget, PropertiesReport
from encours.errors import ApiError, AuthError, ConfigError
from encours.model import Party

TOKEN = "pat-eu1-11111111-2222-3333-4444-555555555555"  # noqa: S105 - fake, must stay hidden
PROPS = {"encours_outstanding": "Encours client", "encours_dso": "DSO (jours)"}
BATCH = "POST /crm/v3/objects/companies/batch/update"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeHubSpot]:
    hub = FakeHubSpot(TOKEN, clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        hub.install(rsps)
        yield hub
    assert hub.violations == []


def target(
    clock: FakeClock, *, token: str = TOKEN, pacer: bool = True, properties=PROPS
) -> HubSpotTarget:
    retry = RetryPolicy(attempts=5, wait=wait_none(), sleep=clock.sleep)
    pace = Pacer(90, 10.0, clock=clock, sleep=clock.sleep, wall_clock=clock) if pacer else None
    http = HttpClient(BASE_URL, auth=BearerAuth(token), retry=retry, pacer=pace)
    return HubSpotTarget(token, properties=properties, http=http)


def changes(count: int) -> dict[str, dict[str, str]]:
    return {
        str(i): {"encours_outstanding": f"{i}.50", "encours_dso": "45.00"} for i in range(count)
    }


def with_companies(fake: FakeHubSpot, count: int) -> None:
    for i in range(count):
        fake.add_company(str(i), name=f"Client {i}")
    for name in PROPS:
        fake.add_property(name)


# --- ensure_properties -----------------------------------------------------------------------


def test_ensure_properties_creates_once_then_reuses(fake, clock):
    hub = target(clock)
    first = hub.ensure_properties()
    assert first == PropertiesReport(True, tuple(PROPS), ())
    assert fake.groups["encours"]["label"] == "Encours & risque"
    for name, label in PROPS.items():
        prop = fake.properties[name]
        assert (prop["type"], prop["fieldType"], prop["groupName"]) == ("string", "text", "encours")
        assert prop["label"] == label
    posts = {k: v for k, v in fake.calls.items() if k.startswith("POST")}
    assert posts == {
        "POST /crm/v3/properties/companies/groups": 1,
        "POST /crm/v3/properties/companies": 2,
    }

    second = hub.ensure_properties()
    assert second == PropertiesReport(False, (), tuple(PROPS))
    assert {k: v for k, v in fake.calls.items() if k.startswith("POST")} == posts


def test_ensure_properties_reuses_a_text_property_made_by_hand(fake, clock):
    fake.add_property("encours_dso", field_type="textarea")
    report = target(clock).ensure_properties()
    assert report == PropertiesReport(True, ("encours_outstanding",), ("encours_dso",))


def test_wrong_typed_property_is_a_config_error_and_nothing_is_created(fake, clock):
    fake.add_property("encours_outstanding", type_="number", field_type="number")
    with pytest.raises(ConfigError) as info:
        target(clock).ensure_properties()
    message = str(info.value)
    assert "'encours_outstanding' exists with type number/number" in message
    assert "Delete or rename" in message
    assert not [k for k in fake.calls if k.startswith("POST")]


def test_builtin_property_is_refused(fake, clock):
    with pytest.raises(ConfigError, match="'name' is a HubSpot built-in property"):
        target(clock, properties={"name": "Nom"}).ensure_properties()


def test_invalid_property_name_is_refused_at_construction(clock):
    with pytest.raises(ConfigError, match="not a valid HubSpot internal name"):
        target(clock, properties={"Encours Client": "Encours"})


# --- companies -------------------------------------------------------------------------------


def test_companies_follows_three_pages(fake, clock):
    for i in range(1, 251):
        fake.add_company(str(i), name=f"Client {i}", domain=f"client{i}.fr")
    fake.add_company("300", name="Boulangerie Dupont", siret="34567890100012", vat_number=None)
    parties = list(target(clock).companies())
    assert len(parties) == 251
    assert fake.calls["GET /crm/v3/objects/companies"] == 3
    assert parties[0] == Party(key="1", name="Client 1", email_domain="client1.fr")
    assert parties[-1] == Party(key="300", name="Boulangerie Dupont", siret="34567890100012")


def test_companies_asks_for_the_identification_properties(clock):
    http = HttpClient(BASE_URL, auth=BearerAuth(TOKEN), retry=RetryPolicy(attempts=1))
    hub = HubSpotTarget(TOKEN, properties=PROPS, siren_property="siren_fr", http=http)
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{BASE_URL}/crm/v3/objects/companies",
            json={"results": [{"id": "7", "properties": {"name": "A", "siren_fr": "123456789"}}]},
            match=[
                responses.matchers.query_param_matcher(
                    {"limit": "100", "properties": "name,domain,siren_fr,siret,vat_number"}
                )
            ],
        )
        assert list(hub.companies()) == [Party(key="7", name="A", siren="123456789")]


# --- push ------------------------------------------------------------------------------------


def test_push_250_companies_makes_three_batches(fake, clock):
    with_companies(fake, 250)
    target(clock).push(changes(250))
    assert fake.calls[BATCH] == 3
    assert fake.companies["249"]["encours_outstanding"] == "249.50"
    assert all(c["encours_dso"] == "45.00" for c in fake.companies.values())


def test_push_nothing_makes_no_call(fake, clock):
    target(clock).push({})
    target(clock).push({"1": {}})
    assert sum(fake.calls.values()) == 0


def test_push_429_is_retried_after_the_wait_asked(clock):
    fake = FakeHubSpot(TOKEN, clock=clock, max_calls=2)
    with_companies(fake, 250)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        target(clock, pacer=False).push(changes(250))
    assert fake.throttled == 1
    assert fake.calls[BATCH] == 4  # 2 accepted, 1 refused (429), 1 retried
    assert clock.slept == [10.0]
    assert fake.companies["249"]["encours_outstanding"] == "249.50"
    assert fake.violations == []


def test_push_reports_companies_hubspot_did_not_update(fake, clock):
    with_companies(fake, 150)
    with pytest.raises(ApiError) as info:
        target(clock).push({**changes(150), "9001": {"encours_dso": "1.00"}})
    message = str(info.value)
    assert "did not update 1 of 151 companies: 9001 (OBJECT_NOT_FOUND)" in message
    assert "mapping file" in message
    assert fake.calls[BATCH] == 2  # the other batch was still sent
    assert fake.companies["149"]["encours_dso"] == "45.00"


def test_push_clears_a_value_that_is_none(fake, clock):
    with_companies(fake, 1)
    target(clock).push({"0": {"encours_dso": None}})
    assert fake.companies["0"]["encours_dso"] == ""


# --- check and auth --------------------------------------------------------------------------


def test_check_passes_with_a_good_token(fake, clock):
    target(clock).check()
    assert fake.calls["GET /crm/v3/objects/companies"] == 1


def test_401_is_an_auth_error_without_the_token(fake, clock, caplog):
    wrong = "pat-eu1-99999999-wrong-token-0000"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        target(clock, token=wrong).check()
    message = str(info.value)
    assert "-> 401" in message
    assert "renew the private app token" in message.lower()
    assert "`encours secrets set hubspot token`" in message
    assert wrong not in message
    assert wrong not in caplog.text
    with pytest.raises(AuthError):
        list(target(clock, token=wrong).companies())
    assert wrong not in caplog.text


# --- pacing (benchmark-style) ----------------------------------------------------------------


def test_push_5000_companies_is_50_calls_without_a_429(fake, clock):
    with_companies(fake, 5000)
    target(clock).push(changes(5000))
    assert fake.calls[BATCH] == 50
    assert fake.throttled == 0


def test_pacer_keeps_a_long_push_under_the_limit(fake, clock):
    with_companies(fake, 25_000)
    target(clock).push(changes(25_000))
    assert fake.calls[BATCH] == 250
    assert fake.throttled == 0
    assert clock.now - 1_000.0 >= 20.0  # 250 calls at <= 90 per 10 s take two full windows


def test_without_the_pacer_the_fake_does_throttle(clock):
    fake = FakeHubSpot(TOKEN, clock=clock)
    with_companies(fake, 25_000)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        target(clock, pacer=False).push(changes(25_000))
    assert fake.throttled > 0


# --- the validator itself --------------------------------------------------------------------


def test_validator_catches_bad_bodies():
    assert validate(PropertyCreate, {"name": "x", "label": "X", "type": "text"}) != []
    assert (
        validate(
            PropertyCreate,
            {"name": "x", "label": "X", "type": "string", "fieldType": "text", "groupName": "g"},
        )
        == []
    )
    assert validate(BatchInputSimplePublicObjectBatchInput, {"inputs": [{"id": "1"}]}) != []
    assert (
        validate(
            BatchInputSimplePublicObjectBatchInput,
            {"inputs": [{"id": "1", "properties": {"a": 1}}]},
        )
        != []
    )
    assert (
        validate(
            BatchInputSimplePublicObjectBatchInput,
            {"inputs": [{"id": "1", "properties": {"a": "1"}, "extra": True}]},
        )
        != []
    )
