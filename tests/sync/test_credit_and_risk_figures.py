"""Credit limits and the risk grade in the figures: from the config, with drafts, on every
customer of `status --json` and in the values pushed to a target (a file, HubSpot's fake),
with the dunning plan's next step."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from fake_hubspot import FakeHubSpot
from fec_files import Line, write_fec

from encours.cli import cli
from encours.sync.config import load_settings
from encours.sync.init import create_target_fields
from encours.sync.report import INDICATOR_LABELS, push_keys

#: C1: an invoice of 1 200.00 on 15 January, due 14 February (30 days), never paid.
#: C2: 600.00 on 15 January paid on 16 March, 30 days late; 3 000.00 on 1 May, due 31 May.
LINES = [
    Line("VT", "1", "20260115", "411000", debit="1200,00", aux="C1", aux_label="Un", piece="F1"),
    Line("VT", "1", "20260115", "706000", credit="1200,00", piece="F1"),
    Line("VT", "2", "20260115", "411000", debit="600,00", aux="C2", aux_label="Deux", piece="F2",
         let="A", date_let="20260316"),
    Line("VT", "2", "20260115", "706000", credit="600,00", piece="F2"),
    Line("BQ", "1", "20260316", "512000", debit="600,00", piece="F2"),
    Line("BQ", "1", "20260316", "411000", credit="600,00", aux="C2", aux_label="Deux",
         piece="F2", let="A", date_let="20260316"),
    Line("VT", "3", "20260501", "411000", debit="3000,00", aux="C2", aux_label="Deux", piece="F3"),
    Line("VT", "3", "20260501", "706000", credit="3000,00", piece="F3"),
]  # fmt: skip

CONFIG = """[company]
currency = "EUR"
[store]
path = "encours.duckdb"
[sources.books]
type = "fec"
path = "books.fec"
default_payment_terms_days = 30
[targets.file]
type = "file"
path = "indicators.json"
[push]
indicators = ["outstanding", "credit_limit", "exposure", "credit_used", "on_hold",
              "risk_grade", "risk_reason"]
[credit]
limits = { C1 = "1000.00", "books:C2" = "10000.00" }
"""


def _setup(folder: Path) -> Path:
    write_fec(folder / "books.fec", LINES, separator="|")
    config = folder / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _customers(config: Path, as_of: str) -> dict[str, dict]:
    document = json.loads(_run("--config", str(config), "status", "--as-of", as_of, "--json"))
    return {c["id"]: c for c in document["customers"]}


def test_limits_from_the_config_give_usage_hold_and_grade(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")

    customers = _customers(config, "2026-06-30")
    c1, c2 = customers["C1"], customers["C2"]

    # C1: 1 200.00 owed on a 1 000.00 limit, all of it 136 days late.
    assert (c1["credit_limit"], c1["exposure"], c1["credit_used"], c1["on_hold"]) == (
        "1000.00",
        "1200.00",
        "1.2000",
        True,
    )
    assert c1["risk_grade"] == "D"
    assert c1["risk_reasons"] == [
        "100 % of its open items are over 60 days late (D from 50 %)",
        "uses 120 % of its credit limit (D from 120 %)",
    ]
    # C2 (its limit given as books:C2): 3 000.00 of 10 000.00, 30 days late; paid 30 days late.
    assert (c2["credit_limit"], c2["credit_used"], c2["on_hold"]) == ("10000.00", "0.3000", False)
    assert (c2["risk_grade"], c2["risk_reasons"]) == (
        "C",
        ["pays 30 days late on average (C from 30)"],
    )


def test_the_target_receives_the_grade_and_its_main_reason(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")

    pushed = json.loads((tmp_path / "indicators.json").read_text(encoding="utf-8"))
    text = json.dumps(pushed, ensure_ascii=False)

    assert "pays 30 days late on average (C from 30)" in text
    assert "100 % of its open items are over 60 days late (D from 50 %)" in text
    assert '"on_hold": "true"' in text


def test_drafts_count_in_the_exposure_and_nothing_without_a_limit(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    config.write_text(CONFIG.replace('limits = { C1 = "1000.00", "books:C2" = "10000.00" }', ""))
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")

    c1 = _customers(config, "2026-06-30")["C1"]

    assert (c1["credit_limit"], c1["credit_used"], c1["on_hold"]) == (None, None, False)
    assert c1["exposure"] == "1200.00"  # no draft in a FEC: the outstanding alone


def test_the_dso_trend_compares_with_the_snapshot_three_months_back(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    _run("--config", str(config), "sync", "--as-of", "2026-03-31")
    before = _customers(config, "2026-03-31")
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")
    after = _customers(config, "2026-06-30")

    # C1's DSO at the end of March counts back to its January sale (31 + 28 + 31 days);
    # three months later the same unpaid invoice reaches 91 days further back.
    assert Decimal(after["C1"]["dso"]) - Decimal(before["C1"]["dso"]) == 91
    # Furthest past its threshold first: 91 / 40, then 100 % / 50 %, then 120 % / 120 %.
    assert after["C1"]["risk_reasons"] == [
        "DSO up 91 days in three months (D from 40)",
        "100 % of its open items are over 60 days late (D from 50 %)",
        "uses 120 % of its credit limit (D from 120 %)",
    ]
    # C2 owed nothing on 31 March (DSO 0): its DSO of 61 days now is new business, no trend.
    assert Decimal(before["C2"]["dso"]) == 0
    assert not [r for r in after["C2"]["risk_reasons"] if r.startswith("DSO")]
    # A month on, the last snapshot three months back is still the one of 31 March.
    assert _customers(config, "2026-07-31")["C1"]["risk_reasons"][0].startswith("DSO up 122 ")


def test_the_target_receives_the_next_dunning_step_until_sent_or_held(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    text = CONFIG.replace('"risk_reason"]', '"risk_reason", "next_dunning_step"]')
    config.write_text(text + "[penalties]\nbusiness = false\n", encoding="utf-8")
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")

    def pushed() -> dict[str, str]:
        document = json.loads((tmp_path / "indicators.json").read_text(encoding="utf-8"))
        return {key: values["next_dunning_step"] for key, values in document.items()}

    # C1's F1, due 14 February, reached the formal notice (J+45) on 31 March, not sent yet;
    # C2's F3, due 31 May, reaches the pre-formal reminder (J+30) that very day.
    assert pushed() == {
        "books:C1": "formal_notice 2026-03-31",
        "books:C2": "pre_formal 2026-06-30",
    }

    # The formal notice is a letter: written and recorded. C2 (no address) gets nothing, and
    # then disputes its invoice.
    _run("--config", str(config), "dunning", "--date", "2026-06-30", "--send")
    _run("--config", str(config), "dunning", "--date", "2026-06-30", "dispute", "books:C2",
         "--reason", "livraison contestée")  # fmt: skip
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")

    # C1 has had the last step of the plan; C2 is held: the fields are cleared.
    assert pushed() == {"books:C1": "", "books:C2": ""}


HUBSPOT_TOKEN = "hs-private-app-token-risk"  # noqa: S105 - a fake token


def test_hubspot_gets_the_properties_then_the_grade_usage_hold_and_next_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`init`'s field creation, then two syncs into the HubSpot fake, read back per company."""
    config = _setup(tmp_path)
    text = CONFIG.replace('"risk_reason"]', '"risk_reason", "next_dunning_step"]').replace(
        '[targets.file]\ntype = "file"\npath = "indicators.json"\n',
        '[targets.crm]\ntype = "hubspot"\nmapping = "mapping.csv"\n',
    )
    config.write_text(text + "[penalties]\nbusiness = false\n", encoding="utf-8")
    (tmp_path / "mapping.csv").write_text("books:C1,701\nbooks:C2,702\n", encoding="utf-8")
    monkeypatch.setenv("ENCOURS_CRM_TOKEN", HUBSPOT_TOKEN)
    hubspot = FakeHubSpot(HUBSPOT_TOKEN)
    hubspot.add_company("701", name="Un SARL")
    hubspot.add_company("702", name="Deux SA")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        hubspot.install(rsps)
        assert create_target_fields(load_settings(config)) == [
            ("crm", "8 propert(ies) created, 0 reused, group created")
        ]
        _run("--config", str(config), "sync", "--as-of", "2026-06-30")
        first = {key: dict(hubspot.companies[key]) for key in ("701", "702")}
        _run("--config", str(config), "dunning", "--date", "2026-06-30", "--send")
        _run("--config", str(config), "dunning", "--date", "2026-06-30", "dispute", "C2",
             "--reason", "livraison contestée")  # fmt: skip
        _run("--config", str(config), "sync", "--as-of", "2026-06-30")
    assert hubspot.violations == []

    created = {
        name: (prop["label"], prop["type"], prop["groupName"])
        for name, prop in hubspot.properties.items()
        if name.startswith("encours_")
    }
    assert created == {
        "encours_outstanding": ("Encours client", "string", "encours"),
        "encours_credit_limit": ("Plafond d'encours", "string", "encours"),
        "encours_exposure": ("Engagement (encours + brouillons)", "string", "encours"),
        "encours_credit_used": ("Utilisation du plafond", "string", "encours"),
        "encours_on_hold": ("Blocage (plafond dépassé)", "string", "encours"),
        "encours_risk_grade": ("Note de risque", "string", "encours"),
        "encours_risk_reason": ("Motif de la note", "string", "encours"),
        "encours_next_dunning_step": ("Prochaine relance", "string", "encours"),
    }
    # C1: 1 200.00 on a 1 000.00 limit, 136 days late, its formal notice due since 31 March.
    assert first["701"] == {
        "name": "Un SARL",
        "encours_outstanding": "1200.00",
        "encours_credit_limit": "1000.00",
        "encours_exposure": "1200.00",
        "encours_credit_used": "1.2000",
        "encours_on_hold": "true",
        "encours_risk_grade": "D",
        "encours_risk_reason": "100 % of its open items are over 60 days late (D from 50 %)",
        "encours_next_dunning_step": "formal_notice 2026-03-31",
    }
    # C2: 3 000.00 of 10 000.00; paid 30 days late; F3, due 31 May, at its J+30 today.
    assert first["702"] == {
        "name": "Deux SA",
        "encours_outstanding": "3000.00",
        "encours_credit_limit": "10000.00",
        "encours_exposure": "3000.00",
        "encours_credit_used": "0.3000",
        "encours_on_hold": "false",
        "encours_risk_grade": "C",
        "encours_risk_reason": "pays 30 days late on average (C from 30)",
        "encours_next_dunning_step": "pre_formal 2026-06-30",
    }
    # The formal notice was written and recorded, C2 disputes: only that field changes.
    assert hubspot.companies["701"] == first["701"] | {"encours_next_dunning_step": ""}
    assert hubspot.companies["702"] == first["702"] | {"encours_next_dunning_step": ""}


def test_every_indicator_with_a_label_can_be_pushed(tmp_path: Path) -> None:
    """Each name of INDICATOR_LABELS is a push indicator that gives a value for a customer."""
    config = _setup(tmp_path)
    everything = ", ".join(f'"{name}"' for name in INDICATOR_LABELS)
    text = re.sub(r"indicators = \[[^]]*\]", f"indicators = [{everything}]", CONFIG)
    config.write_text(text, encoding="utf-8")
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")

    pushed = json.loads((tmp_path / "indicators.json").read_text(encoding="utf-8"))

    expected = set(push_keys(tuple(INDICATOR_LABELS), (30, 60, 90)))
    assert "next_dunning_step" in expected and "aging_90_plus" in expected
    assert {key: set(values) for key, values in pushed.items()} == {
        "books:C1": expected,
        "books:C2": expected,
    }
