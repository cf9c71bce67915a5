"""The `encours` command end to end: demo, sync (idempotent, dry run, exit codes, lock),
status, quarantine, init and check, and every command's help."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from click.testing import CliRunner, Result
from fec_files import Line
from fec_files import write_fec as write_fec_lines
from store_tables import dump

from encours import demo as demo_setup
from encours.cli import cli
from encours.demo.fecgen import FecSpec, write_fec
from encours.sync.config import SECRET_KEY_PATTERN, load_settings
from encours.sync.lock import RunLock

AS_OF = "2026-10-31"  # the demo's last day
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
DAYS = re.compile(r"^-?\d+\.\d{2}$")
DAY = "20260115"  # the day of the hand-written FEC's entries


# --- helpers ---------------------------------------------------------------------------------


def run(*args: str | Path, expect: int | None = 0, input: str | None = None) -> Result:  # noqa: A002
    """Invoke `encours ARGS`; check the exit code when `expect` is given."""
    result = CliRunner().invoke(
        cli, [str(a) for a in args], input=input, catch_exceptions=expect not in (0, None)
    )
    if expect is not None:
        assert result.exit_code == expect, (result.output, result.exception)
    return result


def run_process(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m encours.cli ARGS` in a real process."""
    env = {k: v for k, v in os.environ.items() if k != "ENCOURS_CONFIG"}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "encours.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def dump_store(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table but `runs`, every row, in a fixed order."""
    return dump(path)


def status_json(config: Path, *extra: str) -> dict:
    return json.loads(run("--config", config, "status", "--json", *extra).stdout)


def write_small_fec(path: Path, *extra_lines: Line) -> Path:
    """A hand-written FEC, pipe-separated: one balanced sale of 1 200 TTC to C1, plus
    `extra_lines`."""
    lines = [
        Line(
            "VT", "1", DAY, "411000", debit="1200,00", aux="C1", aux_label="Client Un", piece="FA1"
        ),
        Line("VT", "1", DAY, "707000", credit="1000,00", piece="FA1"),
        Line("VT", "1", DAY, "445710", credit="200,00", piece="FA1"),
        *extra_lines,
    ]
    return write_fec_lines(path, lines, separator="|")


def write_config(folder: Path, fec: str = "books.fec", extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""[company]
currency = "EUR"

[store]
path = "encours.duckdb"

[sources.books]
type = "fec"
path = "{fec}"
{extra}
[targets.file]
type = "file"
path = "indicators.json"
""",
        encoding="utf-8",
    )
    return config


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synced_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo folder after one sync as of its last day; tests copy it before changing it."""
    folder = tmp_path_factory.mktemp("demo")
    config, as_of = demo_setup.prepare(folder)
    assert as_of.isoformat() == AS_OF
    run("--config", config, "sync", "--as-of", AS_OF)
    return folder


@pytest.fixture
def demo_copy(synced_demo: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(synced_demo, folder)
    return folder


# --- demo ------------------------------------------------------------------------------------


def test_demo_prints_a_french_table_with_a_total_and_its_reports_path(tmp_path: Path) -> None:
    result = run("demo", "--dir", tmp_path / "d")
    assert "TOTAL" in result.stdout
    assert "DSO de l'entreprise (épuisement du CA)" in result.stdout
    assert "Company DSO" not in result.stdout
    assert (tmp_path / "d" / "indicators.json").exists()
    report = (tmp_path / "d" / "rapport.html").resolve()
    assert f"Rapport : {report}" in result.stderr
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    again = run("demo", "--dir", tmp_path / "d")  # the same FEC again: nothing new to sync
    assert "unchanged" in again.stderr
    assert again.stdout == result.stdout


def test_demo_json_has_the_documented_shape(tmp_path: Path) -> None:
    document = json.loads(run("demo", "--dir", tmp_path / "d", "--json").stdout)
    assert {"as_of", "currency", "total", "customers"} <= document.keys()
    assert document["as_of"] == AS_OF
    assert date.fromisoformat(document["as_of"]) == date(2026, 10, 31)
    assert document["currency"] == "EUR"
    assert document["customers"]
    for row in [document["total"], *document["customers"]]:
        for key in ("outstanding", "overdue", "not_due", "unbilled", "unapplied"):
            assert isinstance(row[key], str) and AMOUNT.match(row[key]), (key, row[key])
        assert row["aging"] and all(AMOUNT.match(v) for v in row["aging"].values()), row["aging"]
        assert row["dso"] is None or DAYS.match(row["dso"]), row["dso"]
        assert row["dso_method"] == "count-back"
        # the buckets add up to the outstanding, to the cent
        assert sum(Decimal(v) for v in row["aging"].values()) == Decimal(row["outstanding"])
    for customer in document["customers"]:
        assert {
            "id",
            "name",
            "outstanding",
            "overdue",
            "not_due",
            "unbilled",
            "unapplied",
            "aging",
            "dso",
            "dso_method",
        } <= customer.keys()
        assert customer["id"] and customer["name"]
    assert sum(Decimal(c["outstanding"]) for c in document["customers"]) == Decimal(
        document["total"]["outstanding"]
    )
    expected = write_fec(io.StringIO(), FecSpec()).receivable_cents
    assert Decimal(document["total"]["outstanding"]) == Decimal(expected) / 100


# --- sync ------------------------------------------------------------------------------------


def test_sync_twice_writes_nothing_the_second_time(tmp_path: Path) -> None:
    config, _ = demo_setup.prepare(tmp_path)
    target = tmp_path / "indicators.json"
    first = run("--config", config, "sync", "--as-of", AS_OF)
    assert target.exists()
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written and all(key.startswith("books:") for key in written)
    assert "target file:" in first.stderr
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))  # any rewrite would now show
    before_bytes, before_store = target.read_bytes(), dump_store(tmp_path / "encours.duckdb")
    second = run("--config", config, "sync", "--as-of", AS_OF)
    assert "unchanged" in second.stderr
    assert "target file: 0 customer(s) updated" in second.stderr
    assert target.read_bytes() == before_bytes
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert dump_store(tmp_path / "encours.duckdb") == before_store


def test_a_full_refresh_of_the_same_file_writes_nothing_either(demo_copy: Path) -> None:
    config = demo_copy / "config.toml"
    target = demo_copy / "indicators.json"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    before_store = dump_store(demo_copy / "encours.duckdb")

    result = run("--config", config, "sync", "--as-of", AS_OF, "--full-refresh")

    assert "source books: ok" in result.stderr  # read again, record by record
    assert "target file: 0 customer(s) updated" in result.stderr
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert dump_store(demo_copy / "encours.duckdb") == before_store


def test_a_changed_invoice_pushes_that_customer_only(demo_copy: Path) -> None:
    config = demo_copy / "config.toml"
    fec = demo_copy / "books.fec"
    lines = fec.read_text(encoding="utf-8").split("\n")
    # The last sales invoice of the file, still open on the last day: raise it by 10.00.
    index = max(
        i
        for i, line in enumerate(lines)
        if line.startswith("VT\t")
        and line.split("\t")[4] == "411000"
        and not line.split("\t")[13]
        and line.split("\t")[11] not in ("", "0,00")
    )
    entry = lines[index].split("\t")[2]
    customer = lines[index].split("\t")[6]
    for i, line in enumerate(lines):
        fields = line.split("\t")
        if len(fields) > 12 and fields[0] == "VT" and fields[2] == entry:
            for column in (11, 12):
                if fields[column] not in ("", "0,00"):
                    cents = int(fields[column].replace(",", "")) + (
                        1000 if fields[4] in ("411000", "706000", "707000") else 0
                    )
                    fields[column] = f"{cents // 100},{cents % 100:02d}"
            lines[i] = "\t".join(fields)
    fec.write_text("\n".join(lines), encoding="utf-8")
    before = json.loads((demo_copy / "indicators.json").read_text(encoding="utf-8"))

    result = run("--config", config, "sync", "--as-of", AS_OF)

    assert "target file: 1 customer(s) updated" in result.stderr
    after = json.loads((demo_copy / "indicators.json").read_text(encoding="utf-8"))
    changed = {key for key in after if after[key] != before.get(key)}
    assert changed == {f"books:{customer}"}
    old, new = before[f"books:{customer}"], after[f"books:{customer}"]
    assert Decimal(new["outstanding"]) - Decimal(old["outstanding"]) == Decimal("10.00")


def test_dry_run_keeps_nothing_and_prints_the_plan(tmp_path: Path) -> None:
    config, _ = demo_setup.prepare(tmp_path)
    run("--config", config, "sync", "--as-of", "2026-05-31")
    target, store = tmp_path / "indicators.json", tmp_path / "encours.duckdb"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    before_bytes, before_store = target.read_bytes(), dump_store(store)
    result = run("--config", config, "sync", "--as-of", AS_OF, "--dry-run")
    planned = json.loads(result.stdout)
    assert set(planned) == {"file"}
    assert planned["file"], "five months later, some figures must have changed"
    assert all(values["as_of"] == AS_OF for values in planned["file"].values())
    assert target.read_bytes() == before_bytes
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert dump_store(store) == before_store
    # the real run then writes what the dry run planned
    run("--config", config, "sync", "--as-of", AS_OF)
    written = json.loads(target.read_text(encoding="utf-8"))
    for customer, values in planned["file"].items():
        assert {k: written[customer][k] for k in values} == values


def test_a_rewritten_target_file_keeps_its_mode(demo_copy: Path) -> None:
    target = demo_copy / "indicators.json"
    target.chmod(0o644)
    before = target.read_bytes()
    run("--config", demo_copy / "config.toml", "sync", "--as-of", "2026-05-31")
    assert target.read_bytes() != before
    assert target.stat().st_mode & 0o777 == 0o644


def test_missing_config_exits_78_and_points_to_init(tmp_path: Path) -> None:
    for command in ("sync", "status", "check", "quarantine"):
        result = run("--config", tmp_path / "nowhere.toml", command, expect=78)
        assert "encours init" in result.stderr


def test_a_secret_in_the_config_exits_78_without_showing_it(tmp_path: Path) -> None:
    write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path, extra='api_token = "s3cr3t-T0ken-value"\n')
    for command in ("sync", "status", "check"):
        result = run("--config", config, command, expect=78)
        assert "api_token" in result.stderr
        assert "s3cr3t-T0ken-value" not in result.output


def test_an_unknown_key_exits_78_naming_it(tmp_path: Path) -> None:
    write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path, extra="default_paymnet_terms_days = 45\n")
    result = run("--config", config, "sync", expect=78)
    assert "default_paymnet_terms_days" in result.stderr
    config.write_text(config.read_text() + '\n[company2]\nname = "x"\n')
    assert "company2" in run("--config", config, "check", expect=78).stderr


def test_an_unbalanced_entry_goes_to_quarantine_exit_3(tmp_path: Path) -> None:
    write_small_fec(
        tmp_path / "books.fec",
        Line(
            "VT", "2", DAY, "411000", debit="600,00", aux="C2", aux_label="Client Deux", piece="FA2"
        ),
        Line("VT", "2", DAY, "707000", credit="400,00", piece="FA2"),
    )
    config = write_config(tmp_path)
    result = run("--config", config, "sync", "--as-of", "2026-01-31", expect=3)
    assert "quarantine" in result.stderr
    listed = run("--config", config, "quarantine")
    assert "VT/2" in listed.stdout and "does not balance" in listed.stdout
    assert "1 record(s) in quarantine" in listed.stderr
    status = run("--config", config, "status", "--as-of", "2026-01-31")
    assert "quarantine" in status.stdout
    assert status_json(config, "--as-of", "2026-01-31")["quarantined"] == 1
    # the balanced entry was taken in
    assert status_json(config, "--as-of", "2026-01-31")["total"]["outstanding"] == "1200.00"


def test_a_bad_amount_exits_65_naming_file_line_and_column(tmp_path: Path) -> None:
    fec = write_small_fec(tmp_path / "books.fec")
    config = write_config(tmp_path)
    run("--config", config, "sync", "--as-of", "2026-01-31")
    before = dump_store(tmp_path / "encours.duckdb")
    lines = fec.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("1000,00", "1O00,00")  # letter O for a zero, line 3
    fec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("--config", config, "sync", "--as-of", "2026-01-31", expect=65)
    assert str(fec) in result.stderr
    assert "line 3" in result.stderr
    assert "column Credit" in result.stderr
    assert dump_store(tmp_path / "encours.duckdb") == before, "a failed source changes nothing"


def test_a_second_concurrent_run_exits_73(demo_copy: Path) -> None:
    config, store = demo_copy / "config.toml", demo_copy / "encours.duckdb"
    with RunLock(store):
        blocked = run_process("--config", config, "sync", "--as-of", AS_OF)
    assert blocked.returncode == 73, blocked.stderr
    assert "another encours sync" in blocked.stderr
    assert f"pid {os.getpid()}" in blocked.stderr
    lock_file = store.with_name(store.name + ".lock")
    lock_file.write_text("999999")  # a stale lock file of a process long gone
    done = run_process("--config", config, "sync", "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr


# --- status ----------------------------------------------------------------------------------


def test_status_of_one_customer(synced_demo: Path) -> None:
    document = status_json(synced_demo / "config.toml", "--as-of", AS_OF, "--customer", "C0001")
    assert [c["id"] for c in document["customers"]] == ["C0001"]
    text = run(
        "--config", synced_demo / "config.toml", "status", "--as-of", AS_OF, "--customer", "C0001"
    ).stdout
    assert "(C0001, source books)" in text and "C0002" not in text and "TOTAL" not in text


def test_status_of_an_unknown_customer_exits_78(synced_demo: Path) -> None:
    result = run("--config", synced_demo / "config.toml", "status", "--customer", "NOPE", expect=78)
    assert "NOPE" in result.stderr


def test_status_as_of_past_dates(synced_demo: Path) -> None:
    config = synced_demo / "config.toml"
    october = status_json(config, "--as-of", AS_OF)
    may = status_json(config, "--as-of", "2026-05-31")
    assert may["as_of"] == "2026-05-31"
    assert may["total"] != october["total"]
    before = status_json(config, "--as-of", "2025-12-31")
    assert before["total"]["outstanding"] == "0.00"
    assert all(c["outstanding"] == "0.00" for c in before["customers"])


def test_status_with_a_bad_date_exits_2(synced_demo: Path) -> None:
    result = run(
        "--config", synced_demo / "config.toml", "status", "--as-of", "31/10/2026", expect=2
    )
    assert "--as-of" in result.stderr


def test_unmatched_lists_credits(synced_demo: Path) -> None:
    result = run("--config", synced_demo / "config.toml", "unmatched", "--as-of", AS_OF)
    assert re.search(r"\d+ unmatched credit\(s\)", result.stderr)


# --- init and check --------------------------------------------------------------------------


@pytest.fixture
def books(tmp_path: Path) -> Path:
    with (tmp_path / "books.fec").open("w", encoding="utf-8", newline="\n") as out:
        write_fec(out, FecSpec(invoices=20, customers=5))
    return tmp_path / "books.fec"


def test_init_non_interactive_then_check(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    result = run("--config", config, "init", "--non-interactive", "--fec", "books.fec")
    assert "Wrote" in result.stdout
    assert config.stat().st_mode & 0o777 == 0o600
    text = config.read_text(encoding="utf-8")
    assert not any(SECRET_KEY_PATTERN.search(line.split("=")[0]) for line in text.splitlines())
    settings = load_settings(config)
    assert settings.sources["books"].path == books
    checked = run("--config", config, "check")
    assert checked.stdout.count("ok ") == 4  # store, source, target, keyring
    run("--config", config, "sync", "--as-of", "2026-10-31")


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n")
    config.chmod(0o644)
    result = run("--config", config, "init", "--non-interactive", "--fec", "books.fec", expect=78)
    assert "--force" in result.stderr
    assert config.read_text() == "# mine\n"
    run("--config", config, "init", "--non-interactive", "--fec", "books.fec", "--force")
    assert config.stat().st_mode & 0o777 == 0o600, "an overwritten config is owner-only too"


def test_init_with_a_source_name_that_is_no_bare_toml_key(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    run(
        "--config",
        config,
        "init",
        "--non-interactive",
        "--fec",
        "books.fec",
        "--source-name",
        "books.2026",
    )
    assert list(load_settings(config).sources) == ["books.2026"]


def test_check_with_a_missing_fec_exits_78_naming_it(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    run("--config", config, "init", "--non-interactive", "--fec", "books.fec")
    books.unlink()
    result = run("--config", config, "check", expect=78)
    assert "FAILED  source books" in result.stdout
    assert str(books) in result.stdout
    written = config.read_text(encoding="utf-8")
    again = run(
        "--config", config, "init", "--non-interactive", "--fec", "other.fec", "--force", expect=78
    )
    assert "--fec other.fec: FEC file" in again.stderr and "does not exist" in again.stderr
    assert config.read_text(encoding="utf-8") == written, "nothing written with a wrong answer"


def test_init_interactive(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    answers = "eur\nstore.sqlite\nfec\nledger\nbooks.fec\n45\n\nfile\nfile\nout.csv\n"
    result = run("--config", config, "init", input=answers)
    for prompt in (
        "Company currency",
        "Store",
        "Where are the invoices",
        "Name of the source",
        "Path of the FEC file",
        "Default payment terms",
        "Where do the indicators go",
        "Indicators file",
    ):
        assert prompt in result.stdout
    settings = load_settings(config)
    assert settings.company.currency == "EUR"
    assert settings.store.path == tmp_path / "store.sqlite"
    assert settings.sources["ledger"].path == books
    assert settings.sources["ledger"].default_payment_terms_days == 45
    assert settings.targets["file"].resolved_format == "csv"
    assert config.stat().st_mode & 0o777 == 0o600
    # an existing file: the first question is whether to overwrite it
    refused = run("--config", config, "init", input="n\n", expect=78)
    assert "Overwrite" in refused.stdout
    run("--config", config, "init", input="y\n\n\n\n\nbooks.fec\n\n\n\n\n\n")
    assert list(load_settings(config).sources) == ["books"]


# --- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["sync"],
        ["status"],
        ["unmatched"],
        ["quarantine"],
        ["check"],
        ["init"],
        ["calc"],
        ["calc", "outstanding"],
        ["calc", "dso"],
    ],
    ids=lambda c: " ".join(c) or "encours",
)
def test_help_shows_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert "Usage: " in result.stdout
    assert "Example" in result.stdout


def test_secrets_set_stores_in_the_keyring_without_echoing(tmp_path, memory_keyring):
    result = CliRunner().invoke(
        cli,
        ["--config", str(tmp_path / "c.toml"), "secrets", "set", "pennylane", "token"],
        input="s3cr3t-value\n",
    )
    assert result.exit_code == 0, result.output
    assert memory_keyring.get_password("encours", "pennylane.token") == "s3cr3t-value"
    assert "s3cr3t-value" not in result.output


def test_secrets_set_without_a_keyring_names_the_environment_variable(tmp_path):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = CliRunner().invoke(
        cli,
        ["--config", str(tmp_path / "c.toml"), "secrets", "set", "pennylane", "token"],
        input="s3cr3t-value\n",
    )
    assert result.exit_code == 78
    assert "ENCOURS_PENNYLANE_TOKEN" in result.output
    assert "s3cr3t-value" not in result.output
