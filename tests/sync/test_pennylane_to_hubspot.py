"""The most common set-up end to end: invoices in Pennylane, salespeople in HubSpot.

A real SQLite store, the real `run_sync`, and the two fake servers (Pennylane's checks every
request against Pennylane's OpenAPI file; HubSpot's checks bodies with HubSpot's own client
models). Tokens come from the environment, as on a headless server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from fake_hubspot import FakeHubSpot
from fakes.pennylane import SPEC_PATH, FakePennylane, customer, invoice

from encours.cli import cli
from encours.sync.config import load_settings
from encours.sync.run import EXIT_OK, run_sync
from encours.sync.sources import make_target
from encours.sync.store import Store

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent")

HUBSPOT_TOKEN = "hs-private-app-token-0123"  # noqa: S105 - a fake token
AS_OF = date(2026, 3, 1)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pennylane = FakePennylane()
    pennylane.customers = {
        1: customer(1, "Boulangerie Dupont", reg_no="345678901"),
        2: customer(2, "Garage Martin", emails=["compta@garage-martin.fr"]),
        3: customer(3, "Inconnu SARL"),
    }
    pennylane.invoices = {
        10: invoice(10, 1, "1200.00"),  # open, due 9 Feb: overdue on 1 Mar
        11: invoice(11, 1, "600.00", remaining="0.00", status="paid", paid=True),
        12: invoice(12, 2, "240.00", remaining="40.00", status="partially_paid"),
        13: invoice(13, 3, "99.00"),
    }
    hubspot = FakeHubSpot(HUBSPOT_TOKEN)
    hubspot.add_property("siren")
    hubspot.add_company("501", name="Dupont Boulangerie", siren="345678901")
    hubspot.add_company("502", name="Martin", domain="garage-martin.fr")
    hubspot.add_company("503", name="Someone Else")
    monkeypatch.setenv("ENCOURS_PL_TOKEN", pennylane.token)
    monkeypatch.setenv("ENCOURS_CRM_TOKEN", HUBSPOT_TOKEN)
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n'
        '[sources.pl]\ntype = "pennylane"\n'
        '[targets.crm]\ntype = "hubspot"\n'
        '[push]\nindicators = ["outstanding", "overdue", "not_due", "as_of"]\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        hubspot.install(rsps)
        make_target("crm", settings.targets["crm"], settings).ensure_properties()
        yield settings, pennylane, hubspot
    assert pennylane.violations == [] and hubspot.violations == []


def test_pull_match_and_push_then_nothing_the_second_time(world) -> None:
    settings, pennylane, hubspot = world

    first = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 2, tzinfo=UTC))

    assert first.exit_code == EXIT_OK, first.as_dict()
    assert hubspot.companies["501"]["encours_outstanding"] == "1200.00"  # by SIREN
    assert hubspot.companies["501"]["encours_overdue"] == "1200.00"
    assert hubspot.companies["502"]["encours_outstanding"] == "40.00"  # by e-mail domain
    assert hubspot.companies["501"]["encours_as_of"] == "2026-03-01"
    assert "encours_outstanding" not in hubspot.companies["503"]  # matched to nobody
    # Only the properties encours created are written; the portal's own are left alone.
    assert hubspot.companies["501"]["name"] == "Dupont Boulangerie"
    assert hubspot.companies["501"]["siren"] == "345678901"
    assert hubspot.companies["502"]["domain"] == "garage-martin.fr"
    assert all(
        field in ("name", "siren", "domain") or field.startswith("encours_")
        for company in hubspot.companies.values()
        for field in company
    )
    store = Store.open(settings.store.path)
    try:
        statuses = {key: status for _, key, _, status, _ in store.matches("crm")}
    finally:
        store.close()
    assert statuses == {"pl:1": "matched", "pl:2": "matched", "pl:3": "unmatched"}

    batches = hubspot.calls["POST /crm/v3/objects/companies/batch/update"]
    second = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 3, tzinfo=UTC))

    assert second.exit_code == EXIT_OK
    assert hubspot.calls["POST /crm/v3/objects/companies/batch/update"] == batches  # nothing new


def test_customers_lists_what_a_person_must_settle(world) -> None:
    settings, _, _ = world
    run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 2, tzinfo=UTC))
    config = settings.store.path.parent / "config.toml"

    result = CliRunner().invoke(cli, ["--config", str(config), "customers", "--unmatched"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["crm\tpl:3\tunmatched\t-\t"]


def test_init_walks_a_new_user_through_pennylane_and_hubspot(
    tmp_path: Path, memory_keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    pennylane = FakePennylane()
    hubspot = FakeHubSpot(HUBSPOT_TOKEN)
    for variable in ("ENCOURS_PL_TOKEN", "ENCOURS_CRM_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    config = tmp_path / "config.toml"
    answers = "\n".join(
        ["EUR", "s.sqlite", "pennylane", "pl", pennylane.token, "hubspot", "crm", HUBSPOT_TOKEN]
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        hubspot.install(rsps)
        result = CliRunner().invoke(cli, ["--config", str(config), "init"], input=answers + "\n")

    assert result.exit_code == 0, result.output
    for prompt in ("Where are the invoices", "Pennylane API token", "HubSpot private app token"):
        assert prompt in result.output
    assert "ok      source pl" in result.output and "ok      target crm" in result.output
    assert "propert(ies) created" in result.output
    # The tokens went to the keyring, never to the file nor to the screen.
    assert memory_keyring.get_password("encours", "pl.token") == pennylane.token
    assert memory_keyring.get_password("encours", "crm.token") == HUBSPOT_TOKEN
    text = config.read_text(encoding="utf-8")
    for token in (pennylane.token, HUBSPOT_TOKEN):
        assert token not in text and token not in result.output
    assert "encours_outstanding" in hubspot.properties
    assert hubspot.groups and pennylane.violations == [] and hubspot.violations == []


def test_a_push_cut_short_resumes_without_writing_the_same_values_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pennylane = FakePennylane()
    hubspot = FakeHubSpot(HUBSPOT_TOKEN)
    hubspot.add_property("siren")
    for n in range(250):
        siren = f"{100000000 + n}"
        pennylane.customers[n + 1] = customer(n + 1, f"Client {n}", reg_no=siren)
        pennylane.invoices[1000 + n] = invoice(1000 + n, n + 1, f"{100 + n}.00")
        hubspot.add_company(str(5000 + n), name=f"Client {n}", siren=siren)
    monkeypatch.setenv("ENCOURS_PL_TOKEN", pennylane.token)
    monkeypatch.setenv("ENCOURS_CRM_TOKEN", HUBSPOT_TOKEN)
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n[sources.pl]\ntype = "pennylane"\n'
        '[targets.crm]\ntype = "hubspot"\n[push]\nindicators = ["outstanding"]\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    refuse_second_batch = {"on": True}
    original = hubspot._batch_update

    def second_batch_refused(query, body):  # noqa: ANN001, ANN202 - the fake's handler shape
        batches = hubspot.calls["POST /crm/v3/objects/companies/batch/update"]
        if refuse_second_batch["on"] and batches == 2:
            return 400, {}, '{"status": "error", "category": "VALIDATION_ERROR"}'
        return original(query, body)

    monkeypatch.setattr(hubspot, "_batch_update", second_batch_refused)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        hubspot.install(rsps)
        make_target("crm", settings.targets["crm"], settings).ensure_properties()

        first = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 2, tzinfo=UTC))
        assert first.exit_code != EXIT_OK and "100 of 250" in first.push_errors["crm"]
        written = [c for c in hubspot.companies.values() if "encours_outstanding" in c]
        assert len(written) == 100  # the first batch went through and was remembered

        refuse_second_batch["on"] = False
        before = hubspot.calls["POST /crm/v3/objects/companies/batch/update"]
        second = run_sync(settings, as_of=AS_OF, now=datetime(2026, 3, 1, 3, tzinfo=UTC))

    assert second.exit_code == EXIT_OK
    assert second.pushes["crm"] == 150  # only what the first run did not write
    assert hubspot.calls["POST /crm/v3/objects/companies/batch/update"] - before == 2
    assert all(c.get("encours_outstanding") for c in hubspot.companies.values())
