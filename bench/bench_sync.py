"""Benchmark: `encours sync` and `encours status` on generated FEC files, against DuckDB.

    python bench/bench_sync.py --sizes 10000,100000,1000000 [--keep] [--workdir DIR]
                               [--skip-encours] [--as-of 2026-11-01] [--repeat 3]

For each size N it writes `books.fec` with `encours.demo.fecgen` (N invoices, max(50, N // 200)
customers) and a config file into a fresh folder, then runs, each as its own child process,
`python -m encours.cli --config CFG sync --as-of D` and `... status --as-of D --json`, measuring
the wall time and the child's own peak RSS (`os.wait4`). The reference point is DuckDB reading
the same FEC and computing per customer the balance and the overdue / not-due split of the open
411 lines (due = PieceDate + 30 days), timed end to end (connect, read, compute, fetch), median
of `--repeat` runs, in this process with DuckDB's default threads.

Prints a table and writes it as JSON to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from encours.demo.fecgen import FecSpec, write_fec

OUT_DIR = Path(__file__).resolve().parent / "out"

CONFIG = """\
[company]
currency = "EUR"
[store]
path = "store.sqlite"
[sources.books]
type = "fec"
path = "books.fec"
default_payment_terms_days = 30
[targets.file]
type = "file"
path = "indicators.json"
"""

# Per customer (CompAuxNum) on 411/416/418/419: balance = debit - credit; open items = 411
# lines without a lettrage code or whose group (CompteNum, EcritureLet) does not balance;
# due = PieceDate + 30 days; overdue when due < as-of.
DUCKDB_QUERY = """
WITH lines AS (
    SELECT
        CompteNum AS account,
        CompAuxNum AS customer,
        coalesce(EcritureLet, '') AS let,
        strptime(PieceDate, '%Y%m%d')::DATE AS piece_on,
        coalesce(replace(Debit, ',', '.')::DECIMAL(18, 2), 0)
            - coalesce(replace(Credit, ',', '.')::DECIMAL(18, 2), 0) AS amount
    FROM read_csv($path, delim = '\t', header = true, all_varchar = true, quote = '')
    WHERE CompteNum LIKE '411%' OR CompteNum LIKE '416%'
       OR CompteNum LIKE '418%' OR CompteNum LIKE '419%'
),
balances AS (
    SELECT customer, sum(amount) AS balance FROM lines GROUP BY customer
),
groups AS (
    SELECT account, let, sum(amount) AS total
    FROM lines WHERE account LIKE '411%' AND let <> '' GROUP BY account, let
),
open_items AS (
    SELECT l.customer, l.amount, l.piece_on + 30 AS due_on
    FROM lines l LEFT JOIN groups g ON g.account = l.account AND g.let = l.let
    WHERE l.account LIKE '411%' AND (l.let = '' OR g.total <> 0)
)
SELECT
    b.customer,
    b.balance,
    coalesce(sum(o.amount) FILTER (WHERE o.due_on < $as_of), 0) AS overdue,
    coalesce(sum(o.amount) FILTER (WHERE o.due_on >= $as_of), 0) AS not_due
FROM balances b LEFT JOIN open_items o USING (customer)
GROUP BY b.customer, b.balance
ORDER BY b.customer
"""


def duckdb_reference(fec: Path, as_of: date) -> tuple[float, list[tuple]]:
    """One end-to-end DuckDB run: seconds and the rows."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    try:
        rows = con.execute(DUCKDB_QUERY, {"path": str(fec), "as_of": as_of}).fetchall()
    finally:
        con.close()
    return time.perf_counter() - started, rows


def run_child(name: str, args: list[str], cwd: Path, stdout_path: Path | None = None) -> dict:
    """Run one child process; its wall time, own peak RSS (MB) and exit code."""
    out = stdout_path.open("wb") if stdout_path else subprocess.DEVNULL
    err_path = cwd / f"{name}.stderr"
    try:
        with err_path.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=err)  # noqa: S603
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()
    tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss * scale / 1e6,
        "returncode": proc.returncode,
        "stderr_tail": tail if proc.returncode else "",
    }


def bench_size(n: int, base: Path, as_of: date, repeat: int, skip_encours: bool) -> dict:
    folder = base / f"n{n}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    fec = folder / "books.fec"
    spec = FecSpec(invoices=n, customers=max(50, n // 200))
    started = time.perf_counter()
    with fec.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        stats = write_fec(fh, spec)
    gen_s = time.perf_counter() - started
    cfg = folder / "encours.toml"
    cfg.write_text(CONFIG, encoding="utf-8")

    row: dict = {
        "n": n,
        "customers": spec.customers,
        "lines": stats.lines,
        "file_mb": fec.stat().st_size / 1e6,
        "gen_s": gen_s,
        "receivable_cents": stats.receivable_cents,
        "folder": str(folder),
    }
    if not skip_encours:
        cli = [sys.executable, "-m", "encours.cli", "--config", str(cfg)]
        sync = run_child("sync", [*cli, "sync", "--as-of", as_of.isoformat()], folder)
        status = run_child(
            "status",
            [*cli, "status", "--as-of", as_of.isoformat(), "--json"],
            folder,
            stdout_path=folder / "status.json",
        )
        row |= {
            "sync_s": sync["seconds"],
            "sync_peak_mb": sync["peak_mb"],
            "sync_rc": sync["returncode"],
            "status_s": status["seconds"],
            "status_peak_mb": status["peak_mb"],
            "status_rc": status["returncode"],
        }
        if not status["returncode"]:
            # The same money as the ledger: the total outstanding is the receivable balance.
            document = json.loads((folder / "status.json").read_text(encoding="utf-8"))
            outstanding = Decimal(document["total"]["outstanding"])
            row["encours_total_matches_generator"] = (
                int(outstanding * 100) == stats.receivable_cents
            )
        for name, child in (("sync", sync), ("status", status)):
            if child["returncode"]:
                print(f"  {name} failed for N={n} (exit {child['returncode']}):", file=sys.stderr)
                print(child["stderr_tail"], file=sys.stderr)

    times = []
    rows: list[tuple] = []
    for _ in range(repeat):
        seconds, rows = duckdb_reference(fec, as_of)
        times.append(seconds)
    total = sum(r[1] for r in rows)
    row |= {
        "duckdb_s": statistics.median(times),
        "duckdb_best_s": min(times),
        "duckdb_runs_s": times,
        "duckdb_customers": len(rows),
        "duckdb_balance_matches_generator": int(total * 100) == stats.receivable_cents,
    }
    if not row["duckdb_balance_matches_generator"]:
        print(
            f"  warning: DuckDB total {total} != generator {stats.receivable_cents}c",
            file=sys.stderr,
        )
    if "sync_s" in row and not row["sync_rc"] and not row["status_rc"]:
        row["ratio"] = (row["sync_s"] + row["status_s"]) / row["duckdb_s"]
    return row


def _fmt(value: object, spec: str) -> str:
    width = int(spec.split(".")[0])
    return "-".rjust(width) if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'N':>9} {'lines':>10} {'file MB':>8} {'gen s':>7} {'sync s':>8} {'sync MB':>8} "
        f"{'status s':>8} {'stat MB':>8} {'duckdb s':>8} {'ratio':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['n']:>9} {r['lines']:>10} {r['file_mb']:>8.1f} {r['gen_s']:>7.2f} "
            f"{_fmt(r.get('sync_s'), '8.2f')} {_fmt(r.get('sync_peak_mb'), '8.1f')} "
            f"{_fmt(r.get('status_s'), '8.2f')} {_fmt(r.get('status_peak_mb'), '8.1f')} "
            f"{r['duckdb_s']:>8.3f} {_fmt(r.get('ratio'), '7.1f')}"
            + ("  (encours failed)" if r.get("sync_rc") or r.get("status_rc") else "")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="comma-separated numbers of invoices"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--workdir", type=Path, help="where to create the folders (default: temp)")
    parser.add_argument(
        "--skip-encours", action="store_true", help="only generate and run the DuckDB reference"
    )
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--repeat", type=int, default=3, help="DuckDB runs per size (median)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="encours-bench-", dir=args.workdir))
    else:
        base = Path(tempfile.mkdtemp(prefix="encours-bench-"))
    results = []
    try:
        for n in sizes:
            print(f"N={n} ...", file=sys.stderr, flush=True)
            row = bench_size(n, base, args.as_of, args.repeat, args.skip_encours)
            results.append(row)
            if not args.keep:
                shutil.rmtree(row["folder"], ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}", file=sys.stderr)

    print_table(results)
    import duckdb

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report = {
        "as_of": args.as_of.isoformat(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    (OUT_DIR / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT_DIR / 'results.json'}", file=sys.stderr)
    failed = any(r.get("sync_rc") or r.get("status_rc") for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
