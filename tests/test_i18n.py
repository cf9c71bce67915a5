"""French and English: LANG or `[company] language` chooses; labels come from the catalog,
amounts and dates from Babel; `--json` is the same in both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from test_cli import AS_OF, run

from encours import demo as demo_setup
from encours.sync import i18n
from encours.sync.display import Display, language_from
from encours.sync.review_text import KIND_NAMES, RULE_NAMES
from encours.sync.risk_text import NOTHING_STANDS_OUT, WORDINGS

HERE = Path(__file__).resolve().parent.parent
#: Where the labels a person reads are written.
LABELLED = (
    "sync/status_text.py",
    "sync/review_text.py",
    "sync/export.py",
    "sync/html_report.py",
    "sync/risk_text.py",
    "cli.py",
)


def plain(text: str) -> str:
    """French groups digits with a narrow no-break space and puts one before €."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    config, _ = demo_setup.prepare(folder)
    run("--config", config, "sync", "--as-of", AS_OF)
    return config


def test_every_label_of_the_code_has_its_french() -> None:
    used = {
        message
        for path in LABELLED
        for _, message, _, _ in extract_from_file("python", HERE / path, keywords={"_": None})
    }
    used |= set(KIND_NAMES.values()) | set(RULE_NAMES.values()) | {"count-back", "accounting"}
    used |= set(WORDINGS.values()) | {NOTHING_STANDS_OUT}
    assert len(used) > 50
    french = i18n.translations("fr")
    alike = ("TOTAL", "Total", "date", "lettrage", "DSO ({method})")
    missing = sorted(m for m in used if french.gettext(m) == m and m not in alike)
    assert missing == []


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        (None, {"LANG": "fr_FR.UTF-8"}, "fr"),
        (None, {"LANG": "fr_BE.UTF-8"}, "fr"),
        (None, {"LANGUAGE": "fr:en", "LANG": "C.UTF-8"}, "fr"),
        (None, {"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),
        (None, {"LANG": "de_DE.UTF-8"}, "en"),
        (None, {}, "en"),
        ("en", {"LANG": "fr_FR.UTF-8"}, "en"),
        ("fr", {"LANG": "C"}, "fr"),
    ],
)
def test_the_language_is_chosen_by_config_then_environment(configured, environ, expected) -> None:
    assert language_from(configured, environ) == expected


def test_babel_writes_amounts_and_dates_the_french_way() -> None:
    from datetime import date

    french = Display.of("fr")
    assert plain(french.money(118439944, "EUR")) == "1 184 399,44 €"
    assert french.date(date(2026, 10, 31)) == "31/10/2026"
    assert Display.of("en").money(118439944, "EUR") == "€1,184,399.44"


def test_status_in_french(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    text = plain(run("--config", demo, "status", "--as-of", AS_OF).stdout)
    lines = text.splitlines()
    assert lines[0] == "Encours clients de Démo SARL au 31/10/2026, du plus risqué au moins risqué"
    assert lines[1].split()[:4] == ["client", "encours", "échu", "non"]
    assert "retard (jours)" in lines[1] and "DSO (jours)" in lines[1]
    (total,) = [line for line in lines if line.startswith("TOTAL")]
    assert "413 602,88 €" in total and "77,62" in total
    assert "Balance âgée de l'entreprise : non imputé -5 397,16 €" in text
    assert "Contrôle des soldes : les 34 client(s) concordent" in text


def test_customer_view_and_unmatched_in_french(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    text = plain(run("--config", demo, "status", "--as-of", AS_OF, "--customer", "C0006").stdout)
    assert "Encours 69 846,12 € = échu 28 774,96 €" in text
    assert "Pièces ouvertes (11)" in text
    (settled,) = [line for line in text.splitlines() if "VIR2026-00045" in line]
    assert settled.split() == [
        "-",
        "règlement",
        "VIR2026-00045",
        "21/03/2026",
        "-215,00",
        "€",
        "lettrage",
    ]
    unmatched = plain(run("--config", demo, "unmatched", "--as-of", AS_OF).stdout).splitlines()
    assert unmatched[0].split() == [
        "client",
        "date",
        "nature",
        "référence",
        "montant",
        "non",
        "imputé",
    ]
    (advance,) = [line for line in unmatched if "AC2026-00247" in line]
    assert "28/09/2026" in advance and "acompte" in advance and advance.endswith("1 900,00 €")


def test_the_config_language_wins_over_lang(demo: Path, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        demo.read_text(encoding="utf-8")
        .replace('currency = "EUR"', 'currency = "EUR"\nlanguage = "en"')
        .replace('path = "', f'path = "{demo.parent}/'),
        encoding="utf-8",
    )
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert run("--config", config, "status", "--as-of", AS_OF).stdout.startswith("Receivables of")


@pytest.mark.parametrize("extra", [[], ["--customer", "C0006"]])
def test_json_is_the_same_in_both_languages(demo: Path, monkeypatch, extra) -> None:
    english = run("--config", demo, "status", "--as-of", AS_OF, "--json", *extra).stdout
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    french = run("--config", demo, "status", "--as-of", AS_OF, "--json", *extra).stdout
    assert french == english
    assert json.loads(french)["total"]["outstanding"] == "413602.88"
