"""The demo's FEC, end to end on PostgreSQL: `encours sync` and `status --json`, as on DuckDB.

The same generated ledger (400 invoices, 12 customers, some left open) is synced by the CLI
into a DuckDB store and into a PostgreSQL database (`[store] url`, its password from
ENCOURS_STORE_PASSWORD); `status --json` at three dates must give the same document, every
figure of every customer to the cent. A second sync of the same file changes nothing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from postgres_server import PASSWORD, PostgresServer

from encours.cli import cli
from encours.demo.fecgen import FecSpec, write_fec

DAYS = ("2026-06-30", "2026-09-30", "2026-10-31")
SPEC = FecSpec(invoices=400, customers=12, open_share=Decimal("0.2"))


def synced(folder: Path, store: str, env: dict[str, str], spec: FecSpec = SPEC) -> dict[str, Any]:
    """Sync a generated ledger into `store` ([store] lines), then `status --json` at DAYS."""
    folder.mkdir()
    with (folder / "books.fec").open("w", encoding="utf-8", newline="") as out:
        write_fec(out, spec)
    config = folder / "config.toml"
    config.write_text(
        f'[company]\ncurrency = "EUR"\n\n[store]\n{store}\n\n'
        '[sources.books]\ntype = "fec"\npath = "books.fec"\ndefault_payment_terms_days = 30\n\n'
        '[targets.file]\ntype = "file"\npath = "indicators.json"\n',
        encoding="utf-8",
    )
    run = CliRunner(env=env)
    outcome: dict[str, Any] = {}
    for attempt in ("first", "again"):
        result = run.invoke(cli, ["--config", str(config), "sync", "--as-of", DAYS[-1]])
        assert result.exit_code == 0, (result.output, result.exception)
        outcome[attempt] = result.output
    for day in DAYS:
        result = run.invoke(cli, ["--config", str(config), "status", "--json", "--as-of", day])
        assert result.exit_code == 0, (result.output, result.exception)
        outcome[day] = json.loads(result.stdout)
    return outcome


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("books")
    url = postgres_server.database()
    return {
        "duckdb": synced(folder / "duckdb", 'path = "encours.duckdb"', {}),
        "postgresql": synced(
            folder / "postgresql", f'url = "{url}"', {"ENCOURS_STORE_PASSWORD": PASSWORD}
        ),
    }


@pytest.mark.parametrize("day", DAYS)
def test_every_figure_of_every_customer_is_the_same_to_the_cent(
    both: dict[str, dict[str, Any]], day: str
) -> None:
    on_duckdb, on_postgres = both["duckdb"][day], both["postgresql"][day]
    assert on_postgres == on_duckdb
    assert len(on_postgres["customers"]) == SPEC.customers
    assert any(Decimal(c["outstanding"]) > 0 for c in on_postgres["customers"])


def test_the_first_sync_says_the_same_and_the_second_changes_nothing(
    both: dict[str, dict[str, Any]],
) -> None:
    first = both["postgresql"]["first"]
    assert first == both["duckdb"]["first"]
    assert "reconciled 12 customer(s)" in first
    again = both["postgresql"]["again"]
    assert "0 new, 0 changed" in again
    assert "reconciled 0 customer(s)" in again
    assert "run 2 as of 2026-10-31: exit 0" in again


def test_two_companies_keep_their_own_schemas_of_one_database(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.database()
    env = {"ENCOURS_STORE_PASSWORD": PASSWORD}
    acme = synced(tmp_path / "acme", f'url = "{url}"\nschema = "acme"', env)
    other_spec = FecSpec(invoices=50, customers=3, seed=9)
    other = synced(tmp_path / "other", f'url = "{url}"\nschema = "other_co"', env, other_spec)

    assert len(other[DAYS[-1]]["customers"]) == other_spec.customers
    assert len(acme[DAYS[-1]]["customers"]) == SPEC.customers
    assert "run 1 as of" in acme["first"] and "run 1 as of" in other["first"]  # their own runs


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ('path = "x.duckdb"\nschema = "acme"', "schema goes with url"),
        ('url = "postgresql://u@h/db"\nschema = "Acme-1"', "lower-case PostgreSQL name"),
    ],
)
def test_a_schema_without_url_or_with_a_bad_name_is_refused(
    tmp_path: Path, store: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[company]\ncurrency = "EUR"\n\n[store]\n{store}\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(config), "status"])

    assert result.exit_code == 78, result.output
    assert message in result.output
