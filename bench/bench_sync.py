"""Benchmark: `encours sync` and `encours status` on generated FEC files, against DuckDB.

    python bench/bench_sync.py --sizes 10000,100000,1000000 [--keep] [--workdir DIR]
                               [--skip-encours] [--as-of 2026-11-01] [--repeat 3]

For each size N it writes `books.fec` with `encours.demo.fecgen` (N invoices, max(50, N // 200)
customers) and a config file (store `store.duckdb`) into a fresh folder, then runs, each as its
own child process (`python -m encours.cli --config CFG ...`), measuring the wall time and the
child's own peak RSS (`os.wait4`), in this order:

1. `sync --as-of D`: the first sync, into an empty store;
2. `status --as-of D --json`: the figures of the last run's date, alone; its total outstanding
   is checked against the ledger's receivable balance written by the generator;
3. `sync --as-of D` again on the same file, nothing changed;
4. `sync --as-of D` after a re-export with about 1 % of the customer-account lines changed:
   `books.fec` is rewritten from the original with the lettrage code (`EcritureLet`, `DateLet`)
   cleared on lettered 411 lines, as many as 1 % of the 41x lines, evenly spread through the
   file. Amounts are untouched, so every entry still balances and the receivable balance is
   the same; the matched invoices and payments concerned become open again. A `status` for D
   is then run (in the JSON only) to check the total outstanding again;
5. `status --as-of D2 --json` with D2 one month before D: not the last run's date, so
   computed from the store on demand;
6. `--help`, five times (median).

The reference point is DuckDB reading the same (original) FEC and computing per customer the
balance and the overdue / not-due split of the open 411 lines (due = PieceDate + 30 days),
timed end to end (connect, read, compute, fetch), median of `--repeat` runs, in this process
with DuckDB's default threads.

Columns of the table (times are wall seconds, memory is the child's peak RSS in MB):

    N            invoices generated
    lines        FEC data lines
    file MB      size of books.fec
    sync s, MB   first sync (1)
    status s, MB status --json for the last run's date (2)
    resync s     re-sync of the same file (3); `x1st` is resync / first sync
    1% sync s    sync after the 1 % re-export (4), rewriting the file not included; `x1st` is
                 that / first sync
    st-1m s      status --json one month before the as-of date, computed on demand (5)
    help s       `encours --help`, median of 5 (6)
    duckdb s     the DuckDB reference, median of --repeat
    vs duckdb    (first sync + status) / DuckDB reference

results.json (bench/out/) has every figure: also each step's peak RSS and exit code, each time
over the DuckDB reference (`*_vs_duckdb`), each sync's own summary lines, the rewrite time and
the number of lines changed, and whether each total checked equals the generator's.

A benchmark measures: no time is asserted. The exit code is 1 when an encours step failed.
"""

from __future__ import annotations

import argparse
import calendar
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
HELP_RUNS = 5
# `sync` exit codes after which the figures were computed: 0 done, 3 done with quarantine.
SYNC_DONE = (0, 3)

CONFIG = """\
[company]
currency = "EUR"
[store]
path = "store.duckdb"
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

# FEC column positions (order fixed by the format).
_COMPTE_NUM, _ECRITURE_LET, _DATE_LET = 4, 13, 14


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


def month_before(day: date) -> date:
    """The same day one month earlier, clamped to the end of that month."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rewrite_one_percent(src: Path, dst: Path) -> dict:
    """Write `dst` as `src` with the lettrage cleared on about 1 % of the customer lines.

    The lines changed are lettered 411 lines, as many as 1 % (rounded, at least 1) of the 41x
    lines, evenly spread among the lettered 411 lines. Only `EcritureLet` and `DateLet` are
    emptied: amounts, entries and their balance are unchanged.
    """
    customer_lines = lettered = 0
    with src.open(encoding="utf-8", newline="") as fh:
        next(fh)
        for line in fh:
            cols = line.split("\t", _DATE_LET + 1)
            if cols[_COMPTE_NUM].startswith("41"):
                customer_lines += 1
                if cols[_COMPTE_NUM].startswith("411") and cols[_ECRITURE_LET]:
                    lettered += 1
    target = min(lettered, max(1, round(customer_lines / 100)))
    changed = index = 0
    with (
        src.open(encoding="utf-8", newline="") as fin,
        dst.open("w", encoding="utf-8", newline="", buffering=1 << 20) as fout,
    ):
        fout.write(next(fin))
        for line in fin:
            cols = line.split("\t")
            if cols[_COMPTE_NUM].startswith("411") and cols[_ECRITURE_LET]:
                # Picks exactly `target` of the `lettered` lines, evenly spaced.
                if (index * target) // lettered != ((index + 1) * target) // lettered:
                    cols[_ECRITURE_LET] = cols[_DATE_LET] = ""
                    line = "\t".join(cols)
                    changed += 1
                index += 1
            fout.write(line)
    return {"customer_lines": customer_lines, "lettered_411_lines": lettered, "changed": changed}


def _total_cents(path: Path) -> int:
    """The total outstanding of a `status --json` output, in cents."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return int(Decimal(document["total"]["outstanding"]) * 100)


def run_encours(folder: Path, cfg: Path, as_of: date, receivable_cents: int) -> dict:
    """The six encours steps on `folder`; their figures, and the failures as (step, child)."""
    cli = [sys.executable, "-m", "encours.cli", "--config", str(cfg)]
    day = as_of.isoformat()
    other = month_before(as_of)
    row: dict = {"other_as_of": other.isoformat()}
    failures: list[tuple[str, dict]] = []

    def step(key: str, args: list[str], ok: tuple[int, ...], json_out: bool = False) -> dict:
        out = folder / f"{key}.json" if json_out else None
        child = run_child(key, [*cli, *args], folder, stdout_path=out)
        row[f"{key}_s"] = child["seconds"]
        row[f"{key}_peak_mb"] = child["peak_mb"]
        row[f"{key}_rc"] = child["returncode"]
        child["ok"] = child["returncode"] in ok
        if args[0] == "sync":
            # The run's own summary (what was read, changed, reconciled), for the record.
            text = (folder / f"{key}.stderr").read_text(encoding="utf-8", errors="replace")
            row[f"{key}_summary"] = text.strip().splitlines()[-6:]
        if not child["ok"]:
            failures.append((key, child))
        return child

    def check_total(key: str) -> None:
        if row[f"{key}_rc"] == 0:
            matches = _total_cents(folder / f"{key}.json") == receivable_cents
            row[f"{key}_total_matches_generator"] = matches
            if not matches:
                print(f"  warning: {key} total != generator total", file=sys.stderr)

    # 1. First sync; 2. status for the last run's date.
    step("sync", ["sync", "--as-of", day], SYNC_DONE)
    step("status", ["status", "--as-of", day, "--json"], (0,), json_out=True)
    check_total("status")
    # 3. Re-sync of the same file, nothing changed.
    step("resync", ["sync", "--as-of", day], SYNC_DONE)
    # 4. Re-export with about 1 % of the customer lines changed, then sync.
    fec = folder / "books.fec"
    original = folder / "books.original.fec"
    fec.rename(original)
    started = time.perf_counter()
    change = rewrite_one_percent(original, fec)
    row["change_rewrite_s"] = time.perf_counter() - started
    row["change_customer_lines"] = change["customer_lines"]
    row["change_lettered_411_lines"] = change["lettered_411_lines"]
    row["change_lines"] = change["changed"]
    step("changed_sync", ["sync", "--as-of", day], SYNC_DONE)
    # Same amounts, so the same total outstanding (stored figures of that run).
    step("changed_status", ["status", "--as-of", day, "--json"], (0,), json_out=True)
    check_total("changed_status")
    # 5. Status for another date: computed on demand.
    step("status_other", ["status", "--as-of", other.isoformat(), "--json"], (0,), json_out=True)
    if row["status_other_rc"] == 0:
        row["status_other_outstanding_cents"] = _total_cents(folder / "status_other.json")
    # 6. --help, median of HELP_RUNS.
    helps = [run_child("help", [*cli, "--help"], folder) for _ in range(HELP_RUNS)]
    row["help_s"] = statistics.median(h["seconds"] for h in helps)
    row["help_runs_s"] = [h["seconds"] for h in helps]
    row["help_peak_mb"] = max(h["peak_mb"] for h in helps)
    row["help_rc"] = max(h["returncode"] for h in helps)
    if row["help_rc"]:
        failures.append(("help", next(h for h in helps if h["returncode"])))
    # Put the original file back for the DuckDB reference.
    fec.replace(folder / "books.changed.fec")
    original.rename(fec)
    row["failed_steps"] = [key for key, _ in failures]
    for key, child in failures:
        print(f"  {key} failed (exit {child['returncode']}):", file=sys.stderr)
        print(child["stderr_tail"], file=sys.stderr)
    return row


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
        print(f"  encours steps for N={n} ...", file=sys.stderr, flush=True)
        row |= run_encours(folder, cfg, as_of, stats.receivable_cents)

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
    if not skip_encours:
        add_ratios(row)
    return row


def add_ratios(row: dict) -> None:
    """Each successful step's time over the DuckDB reference, and the re-syncs over the first."""
    failed = set(row["failed_steps"])
    ref = row["duckdb_s"]
    for key in ("sync", "status", "resync", "changed_sync", "status_other", "help"):
        if key not in failed:
            row[f"{key}_vs_duckdb"] = row[f"{key}_s"] / ref
    if not failed & {"sync", "status"}:
        row["ratio"] = (row["sync_s"] + row["status_s"]) / ref
    if "sync" not in failed:
        for key in ("resync", "changed_sync"):
            if key not in failed:
                row[f"{key}_vs_first"] = row[f"{key}_s"] / row["sync_s"]


def _fmt(value: object, spec: str) -> str:
    width = int(spec.split(".")[0])
    return "-".rjust(width) if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'N':>9} {'lines':>9} {'file MB':>7} {'sync s':>7} {'MB':>6} {'status s':>8} "
        f"{'MB':>6} {'resync s':>8} {'x1st':>5} {'1% sync s':>9} {'x1st':>5} "
        f"{'st-1m s':>7} {'help s':>6} {'duckdb s':>8} {'vs duckdb':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        ok = {k: k not in r.get("failed_steps", ()) for k in ("sync", "status")}
        print(
            f"{r['n']:>9} {r['lines']:>9} {r['file_mb']:>7.1f} "
            f"{_fmt(r.get('sync_s') if ok['sync'] else None, '7.2f')} "
            f"{_fmt(r.get('sync_peak_mb'), '6.0f')} "
            f"{_fmt(r.get('status_s') if ok['status'] else None, '8.2f')} "
            f"{_fmt(r.get('status_peak_mb'), '6.0f')} "
            f"{_fmt(r.get('resync_s'), '8.2f')} {_fmt(r.get('resync_vs_first'), '5.2f')} "
            f"{_fmt(r.get('changed_sync_s'), '9.2f')} "
            f"{_fmt(r.get('changed_sync_vs_first'), '5.2f')} "
            f"{_fmt(r.get('status_other_s'), '7.2f')} {_fmt(r.get('help_s'), '6.2f')} "
            f"{r['duckdb_s']:>8.3f} {_fmt(r.get('ratio'), '9.1f')}"
            + (f"  failed: {', '.join(r['failed_steps'])}" if r.get("failed_steps") else "")
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
    return 1 if any(r.get("failed_steps") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
