"""The firm's parts, each alone: its file, the claim of a company, the exit code, the shared limits.

The runs themselves (child processes, two workers, a worker killed) are in test_firm_runs.py.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_hubspot import FakeClock

from encours.cli import cli
from encours.connectors import shared_limits
from encours.connectors.http import Pacer
from encours.errors import ConfigError
from encours.sync.firm_claim import FileClaim, last_success_of
from encours.sync.firm_config import load_firm
from encours.sync.firm_run import CompanyOutcome, FirmSummary

TOKEN = "pl-firm-token-4242"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the firm file -------------------------------------------------------------------------------


def test_the_firm_file_lists_companies_by_name_and_by_folder(tmp_path: Path) -> None:
    write(tmp_path / "companies" / "dupont.toml", "")
    write(tmp_path / "companies" / "notes.txt", "not a company")
    firm = load_firm(
        write(
            tmp_path / "firm.toml",
            '[firm]\nname = "Cabinet Martin"\ncompanies_dir = "companies"\n'
            '[[companies]]\nname = "boulangerie-leroy"\nconfig = "leroy/encours.toml"\n',
        )
    )
    assert firm.name == "Cabinet Martin"
    assert firm.state == tmp_path / "firm-state"
    assert [(c.name, c.config) for c in firm.companies] == [
        ("boulangerie-leroy", tmp_path / "leroy" / "encours.toml"),
        ("dupont", tmp_path / "companies" / "dupont.toml"),
    ]


def test_two_companies_of_one_name_are_refused_naming_both_files(tmp_path: Path) -> None:
    write(tmp_path / "companies" / "dupont.toml", "")
    firm_file = write(
        tmp_path / "firm.toml",
        '[firm]\ncompanies_dir = "companies"\n'
        '[[companies]]\nname = "dupont"\nconfig = "other/dupont.toml"\n',
    )
    with pytest.raises(ConfigError, match="two companies are named 'dupont'") as caught:
        load_firm(firm_file)
    assert "rename one" in str(caught.value)
    assert "other/dupont.toml" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "lists no company: add \\[\\[companies\\]\\]"),
        ('[firm]\ncompanies_dir = "nowhere"\n', "is not a folder: create it, or fix the path"),
        ('[[companies]]\nname = "../etc"\nconfig = "a.toml"\n', "'../etc' cannot name a company"),
        ('[[companies]]\nname = "a"\nconfgi = "a.toml"\n', "\\[companies.0\\] confgi: unknown"),
        ('[firm]\napi_token = "x"\n', "`firm.api_token` looks like a secret"),
        ("[[companies]\n", "is not valid TOML"),
    ],
)
def test_a_wrong_firm_file_says_what_to_change(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_firm(write(tmp_path / "firm.toml", text))


def test_no_firm_file_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no firm file at .*pass --firm / set ENCOURS_FIRM"):
        load_firm(tmp_path / "firm.toml")


def test_a_company_file_with_an_unusable_name_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "companies" / "-odd.toml", "")
    firm_file = write(tmp_path / "firm.toml", '[firm]\ncompanies_dir = "companies"\n')
    with pytest.raises(ConfigError, match="-odd.toml .* rename it"):
        load_firm(firm_file)


# -- the claim -----------------------------------------------------------------------------------


def test_a_claim_is_held_by_one_worker_at_a_time_and_keeps_the_day(tmp_path: Path) -> None:
    store = tmp_path / "acme" / "encours.duckdb"
    first, second = FileClaim(store), FileClaim(store)
    assert first.acquire()
    assert not second.acquire()  # another open of the file: another worker
    assert first.last_success() is None
    first.record_success(date(2026, 12, 6))
    first.release()
    assert second.acquire()
    assert second.last_success() == date(2026, 12, 6)
    second.record_success(date(2026, 12, 7))
    assert last_success_of(store) == date(2026, 12, 7)
    second.release()
    kept = json.loads((tmp_path / "acme" / "encours.duckdb.claim").read_text())
    assert kept["last_success"] == "2026-12-07"


def test_a_claim_not_held_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not held"):
        FileClaim(tmp_path / "s.duckdb").record_success(date(2026, 12, 6))


# -- one exit code -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([("ok", 0), ("taken", 73), ("done today", 0)], 0),
        ([("ok", 0), ("quarantine", 3)], 3),
        ([("quarantine", 3), ("failed", 75), ("failed", 65)], 65),
        ([("failed", 75), ("failed", 78), ("failed", 65)], 78),
        ([("ok", 0), ("crashed", 70), ("failed", 75)], 70),
        ([("ok", 0), ("failed", 2)], 70),  # an unknown failure is an internal error
    ],
)
def test_the_firm_exit_code_is_the_most_serious_company_code(
    codes: list[tuple[str, int]], expected: int
) -> None:
    summary = FirmSummary([CompanyOutcome(f"c{i}", s, c) for i, (s, c) in enumerate(codes)])
    assert summary.exit_code == expected


# -- the limits shared by processes --------------------------------------------------------------


def unix_clock() -> FakeClock:
    """Unix time (the windows are kept in files) that moves only when slept."""
    return FakeClock(start=1_765_000_000.0)


def test_two_windows_of_one_token_share_its_limit(tmp_path: Path) -> None:
    clock = unix_clock()
    one, other = (
        shared_limits.SharedWindow(tmp_path, TOKEN, 24, 5.0, clock=clock, sleep=clock.sleep)
        for _ in range(2)
    )
    for n in range(24):
        (one if n % 2 else other).take()
        clock.now += 0.01
    assert clock.slept == []
    other.take()  # the 25th of the token within 5.1 s waits for the first to leave
    assert clock.slept == [pytest.approx(5.0 + shared_limits.MARGIN - 0.24)]
    elsewhere = shared_limits.SharedWindow(tmp_path, "another-token", 24, 5.0, clock=clock)
    elsewhere.take()  # another token has its own window
    assert len(clock.slept) == 1


def test_a_quota_at_zero_blocks_every_process_of_the_token(tmp_path: Path) -> None:
    clock = unix_clock()
    window = shared_limits.SharedWindow(tmp_path, TOKEN, 24, 5.0, clock=clock, sleep=clock.sleep)
    window.block(3.0)
    shared_limits.SharedWindow(tmp_path, TOKEN, 24, 5.0, clock=clock, sleep=clock.sleep).take()
    assert clock.slept == [3.0]


def test_the_window_file_is_named_by_a_digest_never_by_the_token(tmp_path: Path) -> None:
    window = shared_limits.SharedWindow(tmp_path / "limits", TOKEN, 24, 5.0)
    window.take()
    (path,) = (tmp_path / "limits").iterdir()
    assert TOKEN not in path.name and TOKEN not in path.read_text()
    assert path.name.endswith("-24-5.json")
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_client_shares_its_limit_only_in_a_firm_run(tmp_path: Path) -> None:
    pacer = Pacer(24, 5)
    assert shared_limits.shared(pacer, [TOKEN], environ={}) is pacer
    environ = {shared_limits.FOLDER_VARIABLE: str(tmp_path)}
    assert shared_limits.shared(None, [TOKEN], environ=environ) is None
    assert shared_limits.shared(pacer, [], environ=environ) is pacer  # nothing to key it by
    both = shared_limits.shared(pacer, [TOKEN], environ=environ)
    assert isinstance(both, shared_limits.SharedPacer)
    assert (both.max_calls, both.per_seconds) == (24, 5)


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["sync", "--all", "--dry-run"], "--dry-run cannot go with --all"),
        (["sync", "--all", "--source", "books"], "--source cannot go with --all"),
        (["status", "--all", "--customer", "C1"], "--customer cannot go with --all"),
    ],
)
def test_options_about_one_company_are_refused_with_all(
    tmp_path: Path, arguments: list[str], expected: str
) -> None:
    result = CliRunner().invoke(cli, [*arguments, "--firm", str(tmp_path / "firm.toml")])
    assert result.exit_code == 2
    assert expected in result.output


def test_status_all_without_a_firm_file_says_how_to_give_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--all", "--firm", str(tmp_path / "firm.toml")])
    assert result.exit_code == 78
    assert "no firm file at" in result.output
