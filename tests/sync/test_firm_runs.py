"""`encours sync --all` for real: child processes, fake Pennylane companies served over HTTP.

Every company has its own token on one local server (`fakes/pennylane_server.py`), which
enforces Pennylane's 25 requests per 5 s per token and checks every request against the
OpenAPI file. The runs are the real command in separate processes; their secrets come from
the environment (a child process cannot see the tests' in-memory keyring), and the system
keyring is never asked (`PYTHON_KEYRING_BACKEND` set to keyring's "fail" backend).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes.pennylane import SPEC_PATH
from fakes.pennylane_server import LIMIT, PennylaneServer, company_books
from firm_files import environment, firm_pass, store_of, table, token_of, write_firm
from postgres_server import PASSWORD, PostgresServer

from encours.cli import cli
from encours.connectors.shared_limits import FOLDER_VARIABLE
from encours.sync import lastrun
from encours.sync.firm_claim import last_success_of
from encours.sync.secrets import env_name

pytestmark = [
    pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent"),
    pytest.mark.slow,
]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[PennylaneServer]:
    names, invoices = request.param
    fakes = {token_of(name): company_books(token_of(name), invoices) for name in names}
    with PennylaneServer(fakes, lifetime=300) as served:
        yield served


def outstanding_of(server: PennylaneServer, name: str) -> str:
    fake = server.fakes[token_of(name)]
    return str(sum(Decimal(i["remaining_amount_with_tax"]) for i in fake.invoices.values()))


FOUR = ["c1", "c2", "c3", "c4"]


@pytest.mark.parametrize("server", [(FOUR, 150)], indirect=True)
def test_two_processes_share_the_companies_and_do_none_twice(
    server: PennylaneServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    firm = write_firm(tmp_path, server.base_url, FOUR)
    env = environment(FOUR)
    passes = [firm_pass(firm, env), firm_pass(firm, env)]
    outputs = [p.communicate(timeout=240) for p in passes]
    assert [p.returncode for p in passes] == [0, 0], outputs
    tables = [table(stdout) for stdout, _ in outputs]
    done = sorted(name for rows in tables for name, (status, _) in rows.items() if status == "ok")
    assert done == FOUR  # every company once, none twice
    for rows in tables:
        assert {status for status, _ in rows.values()} <= {"ok", "taken", "done today"}
    for name in FOUR:
        kept = lastrun.load(store_of(tmp_path, name))
        assert kept is not None and kept.run_id == 1  # one run in its store
        assert (tmp_path / "out" / f"{name}.json").exists()
    assert sum(server.throttled.values()) == 0

    # status --all reads each company's last run; the report has every company on one page.
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    status = runner.invoke(cli, ["status", "--all", "--json", "--firm", str(firm)])
    assert status.exit_code == 0, status.output
    lines = {line["company"]: line for line in json.loads(status.stdout)}
    assert {name: (lines[name]["status"], lines[name]["outstanding"]) for name in FOUR} == {
        name: ("synced today", outstanding_of(server, name)) for name in FOUR
    }
    page = tmp_path / "firm.html"
    report = runner.invoke(cli, ["report", "--html", str(page), "--all", "--firm", str(firm)])
    assert report.exit_code == 0, report.output
    html = page.read_text(encoding="utf-8")
    for name in FOUR:
        assert f'href="#company-{name}"' in html and f'id="company-{name}"' in html
    assert html.count('data-field="outstanding"') >= len(FOUR)

    # A later pass the same day finds every company done, and asks the vendor nothing.
    before = server.answered
    again = firm_pass(firm, env)
    stdout, _ = again.communicate(timeout=120)
    assert again.returncode == 0
    assert {status for status, _ in table(stdout).values()} == {"done today"}
    assert server.answered == before


@pytest.mark.parametrize("server", [(["good", "refused", "twin1", "twin2"], 60)], indirect=True)
def test_one_company_failing_leaves_the_others_done(
    server: PennylaneServer, tmp_path: Path
) -> None:
    names = ["broken", "good", "refused", "twin1", "twin2", "twin3"]
    # Stores may share a folder (twin1, twin2), not a file (twin3 names twin2's).
    twins = {name: f'[store]\npath = "../stores/shared/{name}.duckdb"\n' for name in names[3:5]}
    twins["twin3"] = '[store]\npath = "../stores/shared/twin2.duckdb"\n'
    firm = write_firm(
        tmp_path, server.base_url, names, broken="[sources.x]\ntype = 'nope'\n", **twins
    )
    with (tmp_path / "firm.toml").open("a", encoding="utf-8") as extra:
        extra.write('[[companies]]\nname = "missing"\nconfig = "gone/encours.toml"\n')
    env = environment(names)
    env[env_name("pl_refused", "token")] = "a-revoked-token"
    run = firm_pass(firm, env)
    stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 78, (stdout, stderr)  # a configuration to fix, said once
    assert table(stdout) == {
        "broken": ("failed", 78),
        "good": ("ok", 0),
        "missing": ("failed", 78),
        "refused": ("failed", 78),
        "twin1": ("ok", 0),
        "twin2": ("failed", 78),
        "twin3": ("failed", 78),
    }
    assert "twin2: its store is also the store of twin3" in stderr
    assert "missing: no configuration file at" in stderr
    assert "refused: source pl_refused: FAILED: GET" in stderr
    assert "-> 401: the credentials were refused" in stderr
    assert "a-revoked-token" not in stdout + stderr
    assert "(log: " in stderr
    assert (tmp_path / "out" / "good.json").exists()
    assert last_success_of(store_of(tmp_path, "refused")) is None


@pytest.mark.parametrize("server", [(["a", "b"], 100)], indirect=True)
def test_a_worker_killed_mid_run_leaves_its_company_to_the_next_pass(
    server: PennylaneServer, tmp_path: Path
) -> None:
    firm = write_firm(tmp_path, server.base_url, ["a", "b"])
    env = environment(["a", "b"])
    server.delay = 0.3  # each answer waits: the run of `a` lasts seconds
    worker = firm_pass(firm, env, workers=1)
    deadline = time.monotonic() + 60
    while not server.arrivals.get(token_of("a")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.arrivals.get(token_of("a")), "the run of a never reached the server"
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its company's run, mid-way
    worker.communicate(timeout=30)
    assert last_success_of(store_of(tmp_path, "a")) is None
    assert not store_of(tmp_path, "b").exists()

    server.delay = 0.0
    after = firm_pass(firm, env)
    stdout, stderr = after.communicate(timeout=240)
    assert after.returncode == 0, (stdout, stderr)
    assert table(stdout) == {"a": ("ok", 0), "b": ("ok", 0)}


REQUESTS = 20
SENDER = """
import sys
from encours.connectors import pennylane
client = pennylane.make_client(sys.argv[1], base_url=sys.argv[2])
for _ in range(int(sys.argv[3])):
    client.get("/me")
"""


@pytest.mark.parametrize("server", [(["shared"], 0)], indirect=True)
@pytest.mark.parametrize("sharing", [True, False])
def test_two_processes_with_one_token_stay_under_its_limit_together(
    server: PennylaneServer, tmp_path: Path, sharing: bool
) -> None:
    env = environment([])
    if sharing:
        env[FOLDER_VARIABLE] = str(tmp_path / "limits")
    command = [sys.executable, "-c", SENDER, token_of("shared"), server.base_url, str(REQUESTS)]
    senders = [subprocess.Popen(command, env=env) for _ in range(2)]
    assert [s.wait(timeout=120) for s in senders] == [0, 0]
    token = token_of("shared")
    if sharing:
        assert server.throttled[token] == 0
        assert server.most_in_any_window(token) <= LIMIT
        assert len(server.arrivals[token]) == 2 * REQUESTS
        assert {p.name for p in (tmp_path / "limits").iterdir()} and not any(
            token in p.name for p in (tmp_path / "limits").iterdir()
        )
    else:  # each process alone keeps its own pace: together they go over, and get 429s
        assert server.throttled[token] > 0


THREE = ["p1", "p2", "p3"]


@pytest.mark.parametrize("server", [(THREE, 120)], indirect=True)
def test_two_processes_share_companies_on_one_postgresql_and_do_none_twice(
    server: PennylaneServer, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    firm = write_firm(tmp_path, server.base_url, THREE, postgres=postgres_server.database())
    env = {**environment(THREE), "ENCOURS_STORE_PASSWORD": PASSWORD}
    passes = [firm_pass(firm, env), firm_pass(firm, env)]
    outputs = [p.communicate(timeout=240) for p in passes]
    assert [p.returncode for p in passes] == [0, 0], outputs
    tables = [table(stdout) for stdout, _ in outputs]
    done = sorted(name for rows in tables for name, (status, _) in rows.items() if status == "ok")
    assert done == THREE  # every company once, none twice, with their claims on the server
    for name in THREE:
        config = tmp_path / "companies" / name / "encours.toml"
        result = CliRunner(env={"ENCOURS_STORE_PASSWORD": PASSWORD}).invoke(
            cli, ["--config", str(config), "status", "--json"]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["total"]["outstanding"] == outstanding_of(server, name)

    again = firm_pass(firm, env)
    stdout, _ = again.communicate(timeout=120)
    assert again.returncode == 0
    assert {status for status, _ in table(stdout).values()} == {"done today"}


def test_a_company_on_postgresql_is_claimed_once(postgres_url: str) -> None:
    from encours.sync.firm_claim import DatabaseClaim

    url = postgres_url + ("&" if "?" in postgres_url else "?") + "options=-csearch_path%3Dacme"
    first, second = DatabaseClaim(url), DatabaseClaim(url)

    assert first.acquire()
    assert not second.acquire()  # another worker, on this machine or another
    assert first.last_success() is None  # no store in the schema yet
    first.release()
    assert second.acquire()
    second.release()
