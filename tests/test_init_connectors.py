"""`encours init` offers every registered connector and asks it its own questions.

Parametrised from `connectors/registry.py`: each connector is chosen at the prompt, its
questions answered with their default or example, then the file written is read back and
the connector built from it. Trying the connection is tested per connector elsewhere.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from encours.cli import cli
from encours.connectors import registry
from encours.sync.config import load_settings
from encours.sync.sources import make_source, make_target

FEC_HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\t"
    "CompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\t"
    "ValidDate\tMontantdevise\tIdevise\n"
)
SECRET = "s3cr3t-conformance-value"  # noqa: S105 - a test value that must stay hidden
SOURCES = [pytest.param(t, id=t) for t in registry.source_types()]
TARGETS = [pytest.param(t, id=t) for t in registry.target_types()]


def answers(questions: tuple[registry.Question, ...]) -> tuple[list[str], dict[str, Any]]:
    """What a person types for each question, and what the file then holds."""
    typed: list[str] = []
    written: dict[str, Any] = {}
    for question in questions:
        if question.secret:
            typed.append(SECRET)
        elif question.example is not None:
            typed.append(question.example)
            converted = question.convert(question.example) if question.convert else None
            if isinstance(converted, dict):  # one answer, several settings
                written.update(converted)
            else:
                written[question.key] = converted or question.example
        else:
            typed.append("")  # the default
            written[question.key] = question.default
    return typed, written


@pytest.fixture(autouse=True)
def books(tmp_path: Path) -> Path:
    """The FEC the examples name: `init` reads its header before it takes the path."""
    path = tmp_path / "books.fec"
    path.write_text(FEC_HEADER, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """`init` tests what it wrote and creates a CRM's fields: no server here, nothing to try."""
    monkeypatch.setattr("encours.sync.init.check_everything", lambda settings: [])
    monkeypatch.setattr("encours.sync.init.create_target_fields", lambda settings: [])


def drive(config: Path, typed: list[str]) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), "init"], input="\n".join(typed) + "\n")


@pytest.mark.parametrize("type_", SOURCES)
def test_init_offers_and_asks_every_source(type_: str, tmp_path: Path, memory_keyring) -> None:
    spec = registry.source_spec(type_)
    own, written = answers(spec.questions)
    result = drive(
        tmp_path / "config.toml", ["EUR", "store.duckdb", type_, "src", *own, "file", "", ""]
    )

    assert result.exit_code == 0, result.output
    assert f"Where are the invoices ({', '.join(registry.source_types())})" in result.output
    for question in spec.questions:
        assert question.prompt.format_map(written) in result.output
    assert "Error" not in result.output  # every example is taken at once
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert SECRET not in text and SECRET not in result.output
    assert tomllib.loads(text)["sources"]["src"] == {"type": type_, **written}
    for question in spec.questions:
        if question.secret:
            assert memory_keyring.get_password("encours", f"src.{question.key}") == SECRET
    settings = load_settings(tmp_path / "config.toml")
    source = make_source("src", settings.sources["src"], settings)
    assert (source.source, source.currency) == ("src", "EUR")


@pytest.mark.parametrize("type_", TARGETS)
def test_init_offers_and_asks_every_target(type_: str, tmp_path: Path, memory_keyring) -> None:
    spec = registry.target_spec(type_)
    fec, _ = answers(registry.source_spec("fec").questions)
    own, written = answers(spec.questions)
    result = drive(
        tmp_path / "config.toml", ["EUR", "store.duckdb", "fec", "books", *fec, type_, "out", *own]
    )

    assert result.exit_code == 0, result.output
    assert f"Where do the indicators go ({', '.join(registry.target_types())})" in result.output
    if spec.note:
        assert spec.note in result.output
    for question in spec.questions:
        assert question.prompt.format_map(written) in result.output
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert SECRET not in text and SECRET not in result.output
    section = tomllib.loads(text)["targets"]["out"]
    assert section.items() >= {"type": type_, **written}.items()
    settings = load_settings(tmp_path / "config.toml")
    target = make_target("out", settings.targets["out"], settings)
    assert hasattr(target, "push") and hasattr(target, "check")
