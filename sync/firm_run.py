"""`encours sync --all`: every company of the firm, N at a time, each in its own process.

A company's run is the ordinary `encours sync` of its configuration, started as a child
process: a crash, a memory leak or a hung library of one company cannot touch another, the
memory of each run goes back to the system when it ends, and the run's exit code is the one
the README documents. Starting a process costs about a second; a company's run, paced under
its vendors' limits, costs far more. Each worker (a thread that waits on its child) goes
down the companies in name order:

0. a company whose store is another's too (the same file, or the same database and
   schema) fails at once (exit 78): their records would mix;
1. claim the company (`sync/firm_claim.py`); taken: another worker has it, skip it;
2. it ran successfully today: skip it ("done today");
3. run it, its output in `<state>/logs/<company>.log`, its HTTP clients pacing on the
   shared windows of `<state>/limits` (`connectors/shared_limits.py`);
4. exit 0 or 3: record today's date; let go of the claim.

Example: 3 companies, 2 workers: `alpha` and `beta` start at once, `gamma` when one ends;
`beta` fails (a source down, exit 75): the firm's exit is 75, and the next pass (cron again
an hour later) runs `beta` alone, the others being done today.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from encours.connectors.shared_limits import FOLDER_VARIABLE
from encours.errors import EncoursError
from encours.sync import lastrun
from encours.sync.config import load_settings
from encours.sync.firm_claim import claim_for
from encours.sync.firm_config import Company, Firm
from encours.sync.run import (
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_IO,
    EXIT_QUARANTINE,
    EXIT_REFUSED,
    EXIT_TEMPORARY,
)

EXIT_TAKEN = 73  # the company's own run lock was held: another sync is running on it
EXIT_INTERNAL = 70
#: A company's exit codes, most serious first; any other failure counts as internal (70).
SEVERITY = (EXIT_CONFIG, EXIT_DATA, EXIT_REFUSED, EXIT_IO, EXIT_TEMPORARY, EXIT_QUARANTINE)
#: Exit codes of a run that completed: the company is done for the day.
COMPLETED = (0, EXIT_QUARANTINE)

#: Called with each company's outcome as it ends; the CLI shows it on a terminal.
Progress = Callable[["CompanyOutcome"], None]


@dataclass(frozen=True)
class CompanyOutcome:
    """One company in a firm pass.

    `status`: ok, quarantine (done, records wait), failed, crashed (killed by a signal),
    taken (another worker has it), done today (nothing to do). `customers` and
    `outstanding` (minor units of `currency`) are its last run's, when that run completed.
    """

    name: str
    status: str
    exit_code: int
    seconds: float = 0.0
    customers: int | None = None
    outstanding: int | None = None
    currency: str | None = None
    message: str | None = None
    log: Path | None = None


@dataclass
class FirmSummary:
    """Every company's outcome, and the pass's one exit code."""

    outcomes: list[CompanyOutcome] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The most serious of the companies' codes (`SEVERITY`), else 0.

        A company taken by another worker, or already done today, counts as 0.
        """
        codes = {o.exit_code for o in self.outcomes if o.status not in ("taken", "done today")}
        codes -= {0}
        for code in SEVERITY:
            if code in codes:
                return code
        return EXIT_INTERNAL if codes else 0


@dataclass(frozen=True)
class RunOptions:
    """What the command line passes on to every company's `encours sync`."""

    today: date
    sync_arguments: Sequence[str] = ()


def run_firm(
    firm: Firm,
    options: RunOptions,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> FirmSummary:
    """One pass over the firm's companies with `workers` runs at a time (module docstring)."""
    summary = FirmSummary()
    said = threading.Lock()

    def one(company: Company) -> CompanyOutcome:
        try:
            outcome = run_company(company, firm.state, options)
        except Exception as exc:  # noqa: BLE001 - one company's failure stays its own
            outcome = CompanyOutcome(
                company.name, "failed", EXIT_INTERNAL, message=f"{type(exc).__name__}: {exc}"
            )
        with said:
            summary.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        return outcome

    crowded = _sharing_a_store(firm.companies)
    for name, message in sorted(crowded.items()):
        one_outcome = CompanyOutcome(name, "failed", EXIT_CONFIG, message=message)
        summary.outcomes.append(one_outcome)
        if progress is not None:
            progress(one_outcome)
    alone = [company for company in firm.companies if company.name not in crowded]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="firm") as pool:
        list(pool.map(one, alone))
    summary.outcomes.sort(key=lambda outcome: outcome.name)
    return summary


def _sharing_a_store(companies: Sequence[Company]) -> dict[str, str]:
    """The companies whose store is another's too, and what to do.

    Two companies in one store would mix their records and their runs' positions: each
    needs a file of its own (`[store] path`), or a schema of its own on a shared
    PostgreSQL database (`[store] schema`). A store on PostgreSQL keeps its last run's
    figures and spooled rows beside its configuration (as `encours.duckdb.*`): two
    configurations in one folder would share those too. Stores may share a folder.
    """
    by_store: dict[str, list[str]] = {}
    for company in companies:
        try:
            store = load_settings(company.config).store
        except EncoursError:
            continue  # said when the company runs
        by_store.setdefault(str(store.path.resolve()), []).append(company.name)
        if store.url is not None:
            by_store.setdefault(store.url, []).append(company.name)
    crowded = {}
    for names in by_store.values():
        for name in names if len(names) > 1 else ():
            others = ", ".join(other for other in names if other != name)
            crowded.setdefault(
                name,
                f"its store is also the store of {others}: give each company a store of its "
                'own ([store] path = "stores/<company>.duckdb"; on PostgreSQL, [store] '
                'schema = "<company>" and each configuration in a folder of its own)',
            )
    return crowded


def run_company(company: Company, state: Path, options: RunOptions) -> CompanyOutcome:
    """Claim one company, run it unless done today, record the day if it completed."""
    try:
        settings = load_settings(company.config).store
        claim = claim_for(settings)
        if not claim.acquire():
            return CompanyOutcome(company.name, "taken", EXIT_TAKEN)
    except EncoursError as exc:
        return CompanyOutcome(company.name, "failed", exc.exit_code, message=str(exc))
    store = settings.path
    try:
        if claim.last_success() == options.today:
            return _with_figures(CompanyOutcome(company.name, "done today", 0), store)
        log = state / "logs" / f"{company.name}.log"
        started = time.monotonic()
        code = _run_child(company, state, options, log, claim.inherited())
        seconds = time.monotonic() - started
        if code in COMPLETED:
            claim.record_success(options.today)
            status = "ok" if code == 0 else "quarantine"
            done = CompanyOutcome(company.name, status, code, seconds, log=log)
            return _with_figures(done, store)
        if code == EXIT_TAKEN:
            return CompanyOutcome(company.name, "taken", code, seconds, log=log)
        if code < 0:  # killed by a signal: -9 for SIGKILL
            return CompanyOutcome(
                company.name, "crashed", EXIT_INTERNAL, seconds, log=log,
                message=f"the run was killed by signal {-code}",
            )  # fmt: skip
        return CompanyOutcome(
            company.name, "failed", code, seconds, message=_last_error(log), log=log
        )
    finally:
        claim.release()


def _run_child(
    company: Company, state: Path, options: RunOptions, log: Path, keep_open: tuple[int, ...]
) -> int:
    """`encours --config <company> sync --quiet ...` in a child process; its exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "encours.cli",
        "--config",
        str(company.config),
        "sync",
        "--quiet",
        *options.sync_arguments,
    ]
    environment = {**os.environ, FOLDER_VARIABLE: str(state / "limits")}
    with log.open("wb") as output:
        return subprocess.call(  # noqa: S603 - our own command, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            pass_fds=keep_open,
        )


def _with_figures(outcome: CompanyOutcome, store: Path) -> CompanyOutcome:
    """The outcome with the customers and outstanding of the store's last run, if kept."""
    kept = lastrun.load(store)
    if kept is None:
        return outcome
    figures = kept.figures
    return replace(
        outcome,
        customers=len(figures.customers),
        outstanding=figures.total.aged.outstanding,
        currency=figures.currency,
    )


def _last_error(log: Path) -> str | None:
    """What went wrong, from the run's log: its errors (`encours: ...`, `... FAILED: ...`).

    Several are joined by ` | `; a log without one gives its last line.
    """
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return None
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("encours:") or "FAILED:" in line]
    return " | ".join(errors) if errors else (lines[-1] if lines else None)
