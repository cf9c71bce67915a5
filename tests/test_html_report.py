"""`encours report --html` and the demo's report, loaded in a real headless Chromium: no
console error, nothing fetched, the numbers shown equal `status --json`, a screenshot kept
in tests/artefacts/. Skipped, with the reason, where Chromium is missing and cannot be
installed (see `browser.chromium_path`)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import parse_decimal
from browser import Browser, Page, chromium_path
from test_cli import AS_OF, run

from encours import demo as demo_setup

ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
HOSTILE = "<script>console.error('owned')</script> & \"Co\" <img src=x onerror=alert(1)>"
TOTAL_FIELDS = ("outstanding", "overdue", "not_due", "unbilled", "unapplied", "doubtful", "drafts")
CUSTOMER_FIELDS = ("outstanding", "overdue", "oldest_overdue_days", "dso", "risk_grade")
LOCALES = {"en": "en_GB", "fr": "fr_FR"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable, why = chromium_path()
    if executable is None:
        pytest.skip(why)
    with Browser(executable) as running:
        yield running


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's books, one customer renamed to markup, synced as of the demo's last day."""
    folder = tmp_path_factory.mktemp("books")
    config, _ = demo_setup.prepare(folder)
    fec = folder / "books.fec"
    fec.write_text(
        fec.read_text(encoding="utf-8").replace("Bernard Frères SASU", HOSTILE), encoding="utf-8"
    )
    run("--config", config, "sync", "--as-of", AS_OF)
    return config


def shown(text: str, language: str) -> Decimal:
    """The number a person reads in a cell: "€61,588.69" or « 61 588,69 € » -> 61588.69."""
    number = re.sub(r"[^\d,.\-]", "", text.replace("\u2212", "-"))
    return parse_decimal(number, locale=LOCALES[language], strict=True)


def values(page: Page, customer: str, field: str) -> list[dict[str, Any]]:
    return [f for f in page.fields if f["customer"] == customer and f["field"] == field]


def assert_page_matches_json(page: Page, document: dict[str, Any], language: str) -> None:
    """The total's parts and the first five customers, as shown and as carried, equal JSON."""
    assert page.errors == []
    assert page.requests == []
    assert page.charts == 2  # the aged balance and the DSO trend, drawn
    for field in TOTAL_FIELDS:
        (cell,) = values(page, "", field)
        assert cell["value"] == document["total"][field], field
        assert shown(cell["text"], language) == Decimal(document["total"][field]), cell
    (as_of,) = [f for f in page.fields if f["field"] == "as_of"]
    assert as_of["value"] == document["as_of"]
    rows = [f["customer"] for f in page.fields if f["field"] == "outstanding" and f["customer"]]
    assert rows[:5] == [c["id"] for c in document["customers"][:5]]  # worst first, as JSON
    for customer in document["customers"][:5]:
        for field in CUSTOMER_FIELDS:
            (cell,) = values(page, customer["id"], field)
            expected = customer[field]
            if expected is None:
                assert (cell["value"], cell["text"]) == ("", "—"), (customer["id"], field)
            elif field == "risk_grade":
                assert cell["text"] == cell["value"] == expected
            else:
                assert cell["value"] == str(expected), (customer["id"], field)
                assert shown(cell["text"], language) == Decimal(str(expected)), cell
    (quarantined,) = [f for f in page.fields if f["field"] == "quarantined"]
    assert quarantined["value"] == str(document["quarantined"])
    (check,) = [f for f in page.fields if f["field"] == "balance_check"]
    counts = document["total"]["balance_check"]
    assert check["value"] == f"{counts['checked']}/{counts['differ']}"


def keep(page: Page, name: str) -> Path:
    """The screenshot as a test artefact (tests/artefacts/, ignored by git)."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / name
    path.write_bytes(page.screenshot)
    return path


@pytest.mark.parametrize("language", ["en", "fr"])
def test_report_in_chromium_shows_the_json_figures_and_nothing_else(
    browser: Browser, books: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8" if language == "fr" else "C.UTF-8")
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    html = tmp_path / "report.html"
    result = run("--config", books, "report", "--html", html, "--as-of", AS_OF)
    assert f"Wrote {html}" in result.stderr
    document = json.loads(run("--config", books, "status", "--json", "--as-of", AS_OF).stdout)

    page = browser.load(html)

    assert_page_matches_json(page, document, language)
    text = html.read_text(encoding="utf-8")
    assert f'<html lang="{language}">' in text
    assert "Démo SARL" in text
    assert ("Principaux débiteurs" in text) == (language == "fr")
    # The hostile name is text on the page, never markup: no script ran, nothing was fetched.
    assert "<script>" not in text and "&lt;script&gt;" in text
    names = [f for f in page.fields if f["field"] == "risk_grade"]
    assert len(names) == 10
    path = keep(page, f"report-{language}.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_the_demos_report_in_chromium_is_french_and_shows_the_json_figures(
    browser: Browser, tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    result = run("demo", "--dir", folder)
    report = (folder / "rapport.html").resolve()
    assert f"Rapport : {report}" in result.stderr
    assert "Encours clients de Démo SARL au 31/10/2026" in result.stdout
    config = folder / "config.toml"
    document = json.loads(run("--config", config, "status", "--json", "--as-of", AS_OF).stdout)

    page = browser.load(report)

    assert_page_matches_json(page, document, "fr")
    assert "Évolution du DSO" in report.read_text(encoding="utf-8")
    keep(page, "demo-report.png")


def test_the_browser_check_sees_console_errors_and_fetches(
    browser: Browser, tmp_path: Path
) -> None:
    """The harness itself: a page that logs an error and fetches an image is caught."""
    page_path = tmp_path / "bad.html"
    page_path.write_text(
        "<!DOCTYPE html><html><body><script>console.error('broken')</script>"
        '<img src="http://192.0.2.1/x.png"></body></html>',
        encoding="utf-8",
    )
    page = browser.load(page_path)
    assert any("broken" in error for error in page.errors)
    assert page.requests == ["http://192.0.2.1/x.png"]


def test_report_before_any_sync_exits_66(books: Path, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    shutil.copytree(books.parent, folder)
    (folder / "encours.duckdb").unlink()
    result = run(
        "--config", folder / "config.toml", "report", "--html", tmp_path / "r.html", expect=66
    )
    assert "no sync has run" in result.stderr
    assert not (tmp_path / "r.html").exists()
