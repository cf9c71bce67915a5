"""A firm of fake Pennylane companies on disk, and `encours sync --all` passes over it.

Shared by the firm's tests (tests/sync/test_firm_runs.py) and its benchmark
(bench/bench_firm.py). Company `c1` has `companies/c1.toml`: its store
`stores/c1/encours.duckdb`, a Pennylane source `pl_c1` at the served fake, a file target
`out/c1.json`; its token is `token_of("c1")`, given in the environment (a child process
cannot see the tests' in-memory keyring) with the system keyring turned off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from encours.connectors.shared_limits import FOLDER_VARIABLE
from encours.sync.secrets import env_name


def token_of(name: str) -> str:
    return f"pl-token-of-{name}"


def store_of(folder: Path, name: str) -> Path:
    """The store of company `name` of the firm in `folder`."""
    return folder / "stores" / name / "encours.duckdb"


def write_firm(
    folder: Path, base_url: str, names: list[str], postgres: str | None = None, **config_text: str
) -> Path:
    """The firm file over `companies/<name>.toml`; `config_text` replaces those it names.

    With `postgres` (a database's URL), every store is a schema of that database, named
    after the company, and each configuration is `companies/<name>/encours.toml`.
    """
    (folder / "companies").mkdir(parents=True, exist_ok=True)
    (folder / "out").mkdir(exist_ok=True)
    listed = ""
    for name in names:
        store, config, up = f'path = "../stores/{name}/encours.duckdb"', f"{name}.toml", "../"
        if postgres is not None:
            store, config, up = (
                f'url = "{postgres}"\nschema = "{name}"',
                f"{name}/encours.toml",
                "../../",
            )
            listed += f'[[companies]]\nname = "{name}"\nconfig = "companies/{config}"\n'
        text = config_text.get(name) or (
            f'[company]\nname = "Company {name}"\n[store]\n{store}\n'
            f'[sources.pl_{name}]\ntype = "pennylane"\nbase_url = "{base_url}"\n'
            f'[targets.out]\ntype = "file"\npath = "{up}out/{name}.json"\n'
        )
        (folder / "companies" / config).parent.mkdir(exist_ok=True)
        (folder / "companies" / config).write_text(text, encoding="utf-8")
    firm = folder / "firm.toml"
    companies = listed or 'companies_dir = "companies"\n'
    firm.write_text(f'[firm]\nname = "Cabinet Test"\n{companies}', "utf-8")
    return firm


def environment(names: list[str], firm_token: str | None = None) -> dict[str, str]:
    """The passes' environment: each company's token (or one firm token), no system keyring."""
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.update({env_name(f"pl_{n}", "token"): firm_token or token_of(n) for n in names})
    env.pop(FOLDER_VARIABLE, None)
    return env


def firm_pass(firm: Path, env: dict[str, str], workers: int = 2) -> subprocess.Popen[str]:
    """`encours sync --all` in a process of its own (its own session: it can be killed whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "encours.cli", "sync", "--all", "--workers", str(workers),
         "--firm", str(firm)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def table(stdout: str) -> dict[str, tuple[str, int]]:
    """Company -> (status, exit code), from the summary table of a pass."""
    rows: dict[str, tuple[str, int]] = {}
    for line in stdout.splitlines()[1:]:
        name, rest = line.split(maxsplit=1)
        status = "done today" if rest.startswith("done today") else rest.split()[0]
        code = rest.removeprefix(status).split()[0]
        rows[name] = (status, int(code))
    return rows
