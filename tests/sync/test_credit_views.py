"""The credit position and the risk grade as a person reads them: `status --customer` in
English and French, the risk column of `status`, the reasons worded in each language."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from test_credit_and_risk_figures import CONFIG, _run, _setup

from encours.metrics.risk import RiskFinding, RiskGrade
from encours.sync.display import Display
from encours.sync.risk_text import main_reason, reason


@pytest.fixture
def synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    config = _setup(tmp_path)
    _run("--config", str(config), "sync", "--as-of", "2026-06-30")
    return config


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_status_customer_shows_limit_exposure_usage_hold_and_the_grades_reasons(
    synced: Path,
) -> None:
    text = _run("--config", str(synced), "status", "--customer", "C1", "--as-of", "2026-06-30")

    assert (
        "Credit limit €1,000.00; exposure (outstanding + drafts) €1,200.00: 120% used — "
        "ON HOLD: the exposure is over the limit"
    ) in text
    assert "Risk grade D:\n" in text
    assert "  - 100% of its open items are over 60 days late (D from 50%)\n" in text
    assert "  - uses 120% of its credit limit (D from 120%)\n" in text


def test_status_customer_in_french(synced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    text = plain(
        _run("--config", str(synced), "status", "--customer", "C2", "--as-of", "2026-06-30")
    )

    assert (
        "Plafond d’encours 10 000,00 € ; engagement (encours + brouillons) 3 000,00 € : "
        "30 % utilisé"
    ) in text
    assert "BLOQUÉ" not in text
    assert "Note de risque C :\n  - paie en moyenne 30 jours après l’échéance (C dès 30)" in text


def test_a_customer_without_limit_or_finding_says_so(synced: Path) -> None:
    Path(synced).write_text(
        CONFIG.replace('limits = { C1 = "1000.00", "books:C2" = "10000.00" }', ""),
        encoding="utf-8",
    )
    _run("--config", str(synced), "sync", "--as-of", "2026-02-28")
    text = _run("--config", str(synced), "status", "--customer", "C2", "--as-of", "2026-02-28")

    assert "Credit limit: none set; exposure (outstanding + drafts) €600.00" in text
    assert "Risk grade A: no measure past its thresholds" in text


def test_status_has_a_risk_column(synced: Path) -> None:
    text = _run("--config", str(synced), "status", "--as-of", "2026-06-30")
    lines = text.splitlines()

    header = lines[1].split()
    assert header[-1] == "risk"
    (c1,) = [line for line in lines if "(C1)" in line]
    (c2,) = [line for line in lines if "(C2)" in line]
    (total,) = [line for line in lines if line.startswith("TOTAL")]
    # the grade, then the mark of due dates from the default terms
    assert c1.split()[-2:] == ["D", "*"] and c2.split()[-2:] == ["C", "*"]
    assert re.fullmatch(r"[\d.,]+", total.split()[-1])  # the company has no grade: DSO last
    assert "risk: grade A (nothing stands out) to D" in text


@pytest.mark.parametrize(
    ("finding", "english", "french"),
    [
        (
            RiskFinding("payment_delay_days", Decimal("32.4"), Decimal(30), "C"),
            "pays 32 days late on average (C from 30)",
            "paie en moyenne 32 jours après l’échéance (C dès 30)",
        ),
        (
            RiskFinding("late_beyond_60_share", Decimal("0.2"), Decimal("0.1"), "B", 90),
            "20% of its open items are over 90 days late (B from 10%)",
            "20 % de ses créances ont plus de 90 jours de retard (B dès 10 %)",
        ),
        (
            RiskFinding("dso_rise_days", Decimal("1234"), Decimal(40), "D"),
            "DSO up 1,234 days in three months (D from 40)",
            "DSO en hausse de 1 234 jours en trois mois (D dès 40)",
        ),
        (
            RiskFinding("limit_usage", Decimal("1.05"), Decimal("1.00"), "C"),
            "uses 105% of its credit limit (C from 100%)",
            "utilise 105 % de son plafond d’encours (C dès 100 %)",
        ),
    ],
)
def test_each_finding_is_worded_in_both_languages(
    finding: RiskFinding, english: str, french: str
) -> None:
    assert reason(finding, Display.of("en")) == english
    assert plain(reason(finding, Display.of("fr"))) == french
    assert main_reason(RiskGrade(finding.grade, (finding,)), Display.of("en")) == english


def test_grade_a_reads_that_nothing_stands_out() -> None:
    assert main_reason(RiskGrade("A"), Display.of("fr")) == "aucune mesure au-delà de ses seuils"
