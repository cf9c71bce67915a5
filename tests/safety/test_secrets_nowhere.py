"""Secrets: known fake tokens go through every command and come out nowhere.

The Pennylane token is read from the environment and the HubSpot token from the (in-memory)
keyring, as on a server and a desktop. Every command runs through click's CliRunner against
the fake servers, including a refused token (401) and a server error (500); then the tokens
are searched in stdout, stderr, every log record of the `encours` loggers, the exception
texts, and the bytes of every file under the test's folder (config, SQLite store and its
-wal/-shm, the indicators file). Config and store are created owner-only (0600), and a
hand-written config holding a secret-looking key is refused (exit 78) without echoing it.
"""

from __future__ import annotations

import logging
import stat
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner, Result
from fake_hubspot import FakeHubSpot
from fakes.pennylane import SPEC_PATH, FakePennylane, customer, invoice

from encours.cli import cli
from encours.connectors import pennylane as pennylane_module
from encours.connectors.http import RetryPolicy

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent")

PL_TOKEN = "pl-KNOWN-fake-token-7f3a9c"  # noqa: S105 - a fake token
HS_TOKEN = "hs-KNOWN-fake-token-b81e42"  # noqa: S105 - a fake token
TOKENS = (PL_TOKEN, HS_TOKEN)
AS_OF = "2026-03-01"

CONFIG = (
    '[store]\npath = "s.sqlite"\n'
    '[sources.pl]\ntype = "pennylane"\n'
    '[targets.crm]\ntype = "hubspot"\n'
    '[push]\nindicators = ["outstanding", "overdue", "not_due", "as_of"]\n'
)


@dataclass
class World:
    folder: Path
    config: Path
    pennylane: FakePennylane
    hubspot: FakeHubSpot
    caplog: pytest.LogCaptureFixture
    results: list[tuple[list[str], Result]] = field(default_factory=list)

    def run(self, *args: str, config: Path | None = None, input: str | None = None) -> Result:
        """One command through the CLI; the fake Pennylane's clock moves on past its window."""
        self.pennylane.clock.elapsed += 10.0
        argv = ["--config", str(config or self.config), *args]
        result = CliRunner().invoke(cli, argv, input=input)
        self.results.append((argv, result))
        return result


def _no_sleep_client(original):  # type: ignore[no-untyped-def]
    def make(token: str, **options: object):  # type: ignore[no-untyped-def]
        return original(token, retry=RetryPolicy(sleep=lambda _: None))

    return make


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring, caplog
) -> Iterator[World]:
    caplog.set_level(logging.DEBUG, logger="encours")
    pennylane = FakePennylane(token=PL_TOKEN)
    pennylane.customers = {
        1: customer(1, "Boulangerie Dupont", reg_no="345678901"),
        2: customer(2, "Garage Martin", emails=["compta@garage-martin.fr"]),
    }
    pennylane.invoices = {
        10: invoice(10, 1, "1200.00"),
        11: invoice(11, 2, "240.00", remaining="40.00", status="partially_paid"),
        12: invoice(12, 2, "-50.00", status="credit_note"),  # an unapplied credit
    }
    hubspot = FakeHubSpot(HS_TOKEN)
    hubspot.add_property("siren")
    hubspot.add_company("501", name="Dupont Boulangerie", siren="345678901")
    hubspot.add_company("502", name="Martin", domain="garage-martin.fr")
    monkeypatch.setenv("ENCOURS_PL_TOKEN", PL_TOKEN)  # the environment, as on a server
    memory_keyring.set_password("encours", "crm.token", HS_TOKEN)  # the keyring, as at a desk
    # Retries of a server error must not sleep for real.
    monkeypatch.setattr(
        pennylane_module, "make_client", _no_sleep_client(pennylane_module.make_client)
    )
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        hubspot.install(rsps)
        yield World(tmp_path, config, pennylane, hubspot, caplog)


def _leaks(world: World) -> list[str]:
    """Where a token shows: every output, log record, exception text and file byte."""
    found: list[str] = []
    for argv, result in world.results:
        texts = {"stdout": result.stdout, "stderr": result.stderr}
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            texts["exception"] = "".join(traceback.format_exception(result.exception))
        for where, text in texts.items():
            found += [f"{argv[2:]} {where}" for token in TOKENS if token in text]
    for record in world.caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(record.exc_info[1]))
        found += [f"log {record.name}" for token in TOKENS if token in text]
    for path in sorted(world.folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [
                f"file {path.name}"
                for token in TOKENS
                for form in (token.encode(), token.encode("utf-16-le"))
                if form in data
            ]
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_command_keeps_the_tokens_to_itself(world: World) -> None:
    assert world.run("check").exit_code == 0, world.results[-1][1].output
    # init writes no token, whatever is in the environment and keyring, checks with them,
    # and creates HubSpot's properties (which the syncs below need).
    fresh = world.folder / "fresh" / "config.toml"
    init = world.run(
        "init",
        "--non-interactive",
        "--source-type",
        "pennylane",
        "--source-name",
        "pl",
        "--target-type",
        "hubspot",
        "--target-name",
        "crm",
        config=fresh,
    )
    assert init.exit_code == 0, init.output
    assert "ok      source pl" in init.stdout and "ok      target crm" in init.stdout
    assert _mode(fresh) == 0o600
    again = world.run("init", "--non-interactive", "--fec", "books.fec", config=fresh)
    assert again.exit_code == 78 and "--force" in again.stderr  # it exists: not overwritten
    written = fresh.read_text(encoding="utf-8")
    forced = world.run("init", "--non-interactive", "--fec", "books.fec", "--force", config=fresh)
    assert forced.exit_code == 78  # books.fec does not exist: said before anything is written
    assert "--fec books.fec: FEC file" in forced.stderr and "does not exist" in forced.stderr
    assert fresh.read_text(encoding="utf-8") == written and _mode(fresh) == 0o600

    first = world.run("sync", "--as-of", AS_OF)
    assert first.exit_code == 0, first.stderr
    assert world.hubspot.companies["501"].get("encours_outstanding") == "1200.00"
    assert world.run("sync", "--as-of", AS_OF, "--dry-run").exit_code == 0
    assert world.run("sync", "--as-of", AS_OF, "--full-refresh").exit_code == 0
    for command in (
        ["status", "--as-of", AS_OF, "--json"],
        ["status", "--as-of", AS_OF],
        ["customers"],
        ["quarantine"],
        ["unmatched", "--as-of", AS_OF],
    ):
        result = world.run(*command)
        assert result.exit_code == 0, (command, result.stderr)
    unapplied = world.results[-1][1]
    assert "F-12" in unapplied.stdout  # the commands did show data, not just nothing

    # The token refused: 401 from Pennylane, for check and for sync.
    world.pennylane.token = "another-token"  # noqa: S105
    refused = world.run("check")
    assert refused.exit_code == 78 and "FAILED  source pl" in refused.stdout
    failed = world.run("sync", "--as-of", AS_OF, "--full-refresh")
    assert failed.exit_code not in (0, 3), failed.stderr
    assert "source pl: FAILED" in failed.stderr
    world.pennylane.token = PL_TOKEN

    # A server error on every attempt: the run fails as temporary, tokens still hidden.
    world.pennylane.fail_next = [500] * 10
    broken = world.run("sync", "--as-of", AS_OF, "--full-refresh")
    assert broken.exit_code == 75, broken.stderr
    assert "source pl: FAILED" in broken.stderr

    # HubSpot refuses its token: the push fails, nothing echoes it.
    world.hubspot.token = "another-token"  # noqa: S105
    world.pennylane.fail_next = []
    push_refused = world.run("sync", "--as-of", AS_OF, "--full-refresh")
    assert push_refused.exit_code != 0 and "target crm: FAILED" in push_refused.stderr

    store = world.folder / "s.sqlite"
    assert store.exists()
    for path in world.folder.glob("s.sqlite*"):  # the store, and its -wal/-shm if left
        assert _mode(path) == 0o600, path.name
    assert world.caplog.records, "the encours loggers said nothing: the log check is void"
    assert _leaks(world) == []


@pytest.mark.parametrize(
    "secret_line",
    [
        '[sources.pl]\ntype = "pennylane"\ntoken = "{value}"\n',
        '[sources.pl]\ntype = "pennylane"\napi_key = "{value}"\n',
        '[targets.crm]\ntype = "hubspot"\nprivate_key = "{value}"\n',
        'hubspot_password = "{value}"\n',
    ],
    ids=["source-token", "api_key", "private_key", "top-level-password"],
)
def test_a_config_with_a_secret_is_refused_without_echoing_it(
    world: World, secret_line: str
) -> None:
    # A top-level key must come before the tables in TOML.
    head, _, _ = secret_line.partition("[")
    text = (
        secret_line.format(value=PL_TOKEN)
        if not head
        else secret_line.format(value=PL_TOKEN) + '[store]\npath = "s.sqlite"\n'
    )
    if not head:
        text = '[store]\npath = "s.sqlite"\n' + text
    world.config.write_text(text, encoding="utf-8")

    for command in (["check"], ["sync", "--as-of", AS_OF], ["status"], ["quarantine"]):
        result = world.run(*command)
        assert result.exit_code == 78, (command, result.output)
        assert "looks like a secret" in result.stderr
        assert "secrets never go in the configuration file" in result.stderr
    assert not (world.folder / "s.sqlite").exists()  # refused before anything was opened
    leaks = _leaks(world)
    assert "file config.toml" in leaks  # the search does find a token where one is
    assert [leak for leak in leaks if leak != "file config.toml"] == []


def test_init_over_a_config_with_a_secret_replaces_it_with_one_without(world: World) -> None:
    world.config.write_text(
        f'[sources.pl]\ntype = "pennylane"\ntoken = "{PL_TOKEN}"\n', encoding="utf-8"
    )
    world.config.chmod(0o644)

    kept = world.run(
        "init", "--non-interactive", "--source-type", "pennylane", "--source-name", "pl"
    )
    assert kept.exit_code == 78  # exists, no --force: left alone, and not echoed
    forced = world.run(
        "init",
        "--non-interactive",
        "--source-type",
        "pennylane",
        "--source-name",
        "pl",
        "--target-file",
        "out.json",
        "--force",
    )

    assert forced.exit_code == 0, forced.output
    assert "(no secret in it)" in forced.stdout
    assert PL_TOKEN not in world.config.read_text(encoding="utf-8")
    assert _mode(world.config) == 0o600  # an existing file is made owner-only too
    assert _leaks(world) == []


def test_secrets_set_stores_in_the_keyring_and_echoes_nothing(world: World, memory_keyring) -> None:
    result = world.run("secrets", "set", "pl", "token", input=PL_TOKEN + "\n")

    assert result.exit_code == 0, result.output
    assert memory_keyring.get_password("encours", "pl.token") == PL_TOKEN
    assert _leaks(world) == []
