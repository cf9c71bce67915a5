"""Benchmark: `encours sync` from and to a real trytond, by the number of invoices.

    python bench/bench_tryton.py --sizes 500,3000 [--workdir DIR]

For each size N: a French company on a fresh trytond database (the tests' scenario, company
only), N invoices seeded in bulk by `bench/tryton_seed.py` (a few minutes a thousand:
Tryton posts about five invoices a second here), then, each as its own child process,
`encours sync` three times (the first reads everything and pushes every customer; the
second, at once, re-reads the last hour of changes and writes nothing; the third after
one customer renamed) and `encours status --json`. Measured: wall time, the child's own peak
RSS, and the JSON-RPC calls the server logged, against the fewest the page sizes allow.

Prints a table and writes it as JSON to bench/out/tryton.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "tryton"))

from bench_sync import run_child  # noqa: E402
from scenario import SYNC_LOGIN, SYNC_PASSWORD  # noqa: E402
from trytond_server import MODULES, SCENARIO, TrytonHome, TrytonServer, _bin  # noqa: E402

from encours.connectors.tryton.rpc import PAGE_SIZE, TrytonRpc  # noqa: E402
from encours.connectors.tryton.source import OTHER_RECEIVABLE_LINES  # noqa: E402

OUT_DIR = HERE / "out"


def build(home: TrytonHome, count: int, today: date) -> Path:
    """A company with `count` invoices; returns its database file (a template)."""
    home.databases.mkdir(parents=True, exist_ok=True)
    database = home.databases / "bench.sqlite"
    database.touch()
    config = home.config()
    config.write_text(config.read_text() + "[queue]\nworker = True\n")  # no PDF rendering
    env = home.environment()
    steps = [
        [_bin("trytond-admin"), "-c", str(config), "-d", "bench", "--all", "--email", "a@b.fr"],
        [_bin("trytond-admin"), "-c", str(config), "-d", "bench", "-u", *MODULES,
         "--activate-dependencies"],
        [sys.executable, str(SCENARIO), "--company-only", "bench", str(config), today.isoformat()],
        [sys.executable, str(SCENARIO), "--grant", "bench", str(config)],
        [sys.executable, str(HERE / "tryton_seed.py"), "bench", str(config), str(count),
         today.isoformat()],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(step, env=env, check=True, capture_output=True)  # noqa: S603
    template = home.root / "seeded.sqlite"
    shutil.copyfile(database, template)
    return template


def rpc_calls(server: TrytonServer) -> int:
    """JSON-RPC calls to the database so far, from the server's log."""
    log = server.home.root / f"{server.database}.log"
    return log.read_text(errors="replace").count(f"POST /{server.database}/rpc/")


def bench_size(count: int, base: Path, today: date) -> dict:
    folder = base / f"tryton-{count}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    home = TrytonHome(folder / "tryton")
    home.root.mkdir()
    template = build(home, count, today)
    server = TrytonServer(home, template, "served").start()
    try:
        admin = TrytonRpc(server.url, server.database, SYNC_LOGIN, SYNC_PASSWORD)
        counts = {
            stream: admin.model(model, "search_count", domain, 0, None)
            for stream, model, domain in (
                ("invoices", "account.invoice", [["type", "=", "out"]]),
                ("lines", "account.move.line", OTHER_RECEIVABLE_LINES),
                ("payment_lines", "account.move.line", [["invoice_payment", "!=", None]]),
                ("parties", "party.party", []),
            )
        }  # fmt: skip
        config = folder / "config.toml"
        where = f'url = "{server.url}"\ndatabase = "{server.database}"\nuser = "{SYNC_LOGIN}"\n'
        config.write_text(
            f'[store]\npath = "store.sqlite"\n[sources.tryton]\ntype = "tryton"\n{where}'
            f'[targets.erp]\ntype = "tryton"\n{where}'
        )
        os.environ["ENCOURS_TRYTON_PASSWORD"] = SYNC_PASSWORD
        os.environ["ENCOURS_ERP_PASSWORD"] = SYNC_PASSWORD
        encours = [sys.executable, "-m", "encours.cli", "--config", str(config)]
        row: dict = {"invoices": count, **counts}
        for name in ("first", "again", "one_change"):
            if name == "one_change":
                (invoice,) = admin.model(
                    "account.invoice", "search_read", [], 0, 1, [["id", "DESC"]], ["party"]
                )
                admin.model("party.party", "write", [invoice["party"]], {"name": "Renommé SAS"})
            before = rpc_calls(server)
            run = run_child(f"sync-{name}", [*encours, "sync"], folder)
            row[f"{name}_s"] = run["seconds"]
            row[f"{name}_mb"] = run["peak_mb"]
            row[f"{name}_calls"] = rpc_calls(server) - before
            row[f"{name}_exit"] = run["returncode"]
        status = run_child(
            "status", [*encours, "status", "--json"], folder, stdout_path=folder / "status.out"
        )
        row["status_s"], row["status_mb"] = status["seconds"], status["peak_mb"]
        customers = len(json.loads((folder / "status.out").read_text())["customers"])
        row["customers"] = customers
        pages = (
            math.ceil(counts["invoices"] / (PAGE_SIZE // 2))
            + math.ceil(max(counts["lines"], 1) / PAGE_SIZE)
            + 1  # deposit lines: none here, one page
            + 1  # receivable lines of draft moves, for the balance check: none, one page
            + math.ceil(customers / PAGE_SIZE)
        )
        # source: login, context, the parties' fields, the server's date, the position's
        # count; target: login, context, its fields, and one write per 100 customers
        row["fewest_first_calls"] = pages + 5 + 3 + math.ceil(customers / 100)
        return row
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,3000")
    parser.add_argument("--workdir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    today = date.today()  # noqa: DTZ011 - the scenario counts from the local day
    rows = []
    for count in (int(size) for size in args.sizes.split(",")):
        print(f"building and measuring {count} invoices...", flush=True)
        rows.append(bench_size(count, args.workdir, today))
        print(json.dumps(rows[-1], indent=1), flush=True)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "tryton.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
