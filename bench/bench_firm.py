"""Benchmark: an accounting firm's night, `encours sync --all` in several processes.

    python bench/bench_firm.py [--companies 500] [--invoices 2000] [--workers 4]
                               [--processes 2] [--kill-one] [--firm-token] [--postgres]

N fake Pennylane companies of M open invoices each (customers = M / 20), each with its own
token, served over HTTP on 127.0.0.1 by the tests' fake (tests/fakes/pennylane_server.py:
25 requests per 5 s per token, 429 with `retry-after` past it, every request checked against
the OpenAPI file). W workers in all, split over P separate `encours sync --all` processes
started together on the same firm file. With --kill-one, the first process is killed
(SIGKILL, its company runs with it) as soon as its first company reaches the server; once the
others end, one more pass runs, as the next cron line would. With --firm-token, every
company reads the same books with one token (a Pennylane firm token): the token's limit,
shared by every process, is then what bounds the night. With --postgres, the stores are
schemas of one database of a throw-away PostgreSQL server (Debian's binaries, as the tests
start it: tests/postgres_server.py), and the companies are claimed with its advisory locks.

It measures, it does not assert:

- completed runs per company, from each store's runs (a killed run stays "running"):
  every company once, none twice; and no company reported "ok" by two passes;
- the 429s sent, and the most requests of one token in any 5 s (at most 25 is "no storm");
- the wall time, against the least time the limits allow: R requests with one token go
  through in ceil(R / 25) - 1 windows of 5 s after the first burst; the floor
  (`limit_floor_s`) is the larger of that for the busiest token and, with a token per
  company, the sum of it over the companies spread over the W workers; the rest is the
  runs' own work (a process each: start, store, reconcile, push) and the server's.

Prints a table and writes it as JSON to bench/out/firm_results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fakes live with the tests (not a package)

from fakes import pennylane as pl_fake  # noqa: E402
from fakes.pennylane_server import LIMIT, WINDOW, PennylaneServer, company_books  # noqa: E402
from firm_files import (  # noqa: E402
    environment,
    firm_pass,
    store_of,
    table,
    token_of,
    write_firm,
)
from postgres_server import PASSWORD as PG_PASSWORD  # noqa: E402
from postgres_server import PostgresServer, server_binaries  # noqa: E402

from encours.sync.store.review import run_history  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"


def split(workers: int, processes: int) -> list[int]:
    """W workers over P processes, as even as can be: 4 over 2 -> [2, 2], 5 over 2 -> [3, 2]."""
    return [workers // processes + (i < workers % processes) for i in range(processes)]


def completed_runs(store: Path) -> int:
    """How many runs of the store finished (a run killed mid-way stays "running")."""
    return sum(1 for run in run_history(store) if run.status == "done")


def completed_runs_on(url: str, schema: str) -> int:
    """`completed_runs` of a store in a schema of the PostgreSQL database at `url`."""
    import psycopg

    with psycopg.connect(url, password=PG_PASSWORD) as connection:
        row = connection.execute(
            f"SELECT count(*) FROM {schema}.runs WHERE status = 'done'"  # noqa: S608 - our names
        ).fetchone()
    return int(row[0]) if row else 0


def limit_floor(per_company: list[int], per_token: list[int], workers: int) -> float:
    """The least wall time the per-token limits allow W workers (module docstring)."""

    def windows(requests: int) -> float:
        return max(0, math.ceil(requests / LIMIT) - 1) * WINDOW

    spread = sum(windows(r) for r in per_company) / workers
    return max(spread, max(windows(r) for r in per_token))


def run(
    companies: int,
    invoices: int,
    workers: int,
    processes: int,
    kill_one: bool,
    folder: Path,
    firm_token: bool = False,
    postgres: str | None = None,
) -> dict[str, Any]:
    """One night of the firm; the figures of the module docstring.

    `postgres`: the URL of a database whose schemas are the stores.
    """
    names = [f"c{n:04d}" for n in range(1, companies + 1)]
    one = token_of("firm") if firm_token else None
    tokens = {name: one or token_of(name) for name in names}
    fakes = {token: company_books(token, invoices) for token in set(tokens.values())}
    passes: list[dict[str, tuple[str, int]]] = []
    with PennylaneServer(fakes, lifetime=6 * 3600) as server:
        firm = write_firm(folder, server.base_url, names, postgres=postgres)
        env = environment(names, one)
        if postgres is not None:
            env["ENCOURS_STORE_PASSWORD"] = PG_PASSWORD
        started = time.monotonic()
        running = [firm_pass(firm, env, n) for n in split(workers, processes) if n]
        killed = None
        if kill_one:
            first = tokens[names[0]]  # both processes start with it: one runs it
            while not server.arrivals.get(first) and time.monotonic() - started < 300:
                time.sleep(0.05)
            killed = running[0]
            os.killpg(killed.pid, signal.SIGKILL)
        codes = []
        for process in running:
            stdout, _ = process.communicate()
            codes.append(process.returncode)
            if process is not killed:
                passes.append(table(stdout))
        wall = time.monotonic() - started
        next_pass_wall = None
        if kill_one:
            again = time.monotonic()
            process = firm_pass(firm, env, workers)
            stdout, _ = process.communicate()
            codes.append(process.returncode)
            passes.append(table(stdout))
            next_pass_wall = time.monotonic() - again
        per_token = [len(server.arrivals[token]) for token in fakes]
        requests = [len(server.arrivals[tokens[name]]) for name in names]
        if one:  # the companies' requests cannot be told apart: an even share each
            requests = [sum(per_token) // companies] * companies
        throttled = sum(server.throttled.values())
        busiest = max(server.most_in_any_window(token) for token in fakes)
    completed = {
        name: completed_runs(store_of(folder, name))
        if postgres is None
        else completed_runs_on(postgres, name)
        for name in names
    }
    reported = Counter(
        name for rows in passes for name, (status, _) in rows.items() if status == "ok"
    )
    floor = limit_floor(requests, per_token, workers)
    return {
        "companies": companies,
        "invoices_per_company": invoices,
        "workers": workers,
        "processes": processes,
        "killed_one": kill_one,
        "firm_token": firm_token,
        "store": "postgresql" if postgres else "duckdb",
        "exit_codes": codes,
        "completed_once": sum(1 for name in names if completed[name] == 1),
        "completed_twice_or_more": sorted(name for name in names if completed[name] > 1),
        "not_completed": sorted(name for name in names if completed[name] == 0),
        "reported_ok_twice": sorted(name for name in names if reported[name] > 1),
        "requests": sum(per_token),
        "requests_per_company": round(sum(per_token) / companies, 1),
        "throttled_429": throttled,
        "most_requests_of_one_token_in_5_s": busiest,
        "wall_s": round(wall, 1),
        "next_pass_wall_s": None if next_pass_wall is None else round(next_pass_wall, 1),
        "limit_floor_s": round(floor, 1),
        "wall_over_floor": round(wall / floor, 2) if floor else None,
        "seconds_per_company_per_worker": round(wall * workers / companies, 2),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
    }


def print_table(result: dict[str, Any]) -> None:
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key.ljust(width)}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4, help="in all, over the processes")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--kill-one", action="store_true", help="kill the first process")
    parser.add_argument("--firm-token", action="store_true", help="one token for all")
    parser.add_argument("--postgres", action="store_true", help="stores on one PostgreSQL")
    args = parser.parse_args()
    if not pl_fake.SPEC_PATH.exists():
        print(f"Pennylane's OpenAPI file is missing: {pl_fake.SPEC_PATH}", file=sys.stderr)
        return 2
    server = None
    if args.postgres:
        binaries, why = server_binaries()
        if binaries is None:
            print(f"no PostgreSQL server to start: {why}", file=sys.stderr)
            return 2
        server = PostgresServer(binaries)
        server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="encours-firm-bench-") as folder:
            result = run(
                args.companies, args.invoices, args.workers, args.processes, args.kill_one,
                Path(folder), args.firm_token, server.database() if server else None,
            )  # fmt: skip
    finally:
        if server is not None:
            server.stop()
    print_table(result)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "firm_results.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
