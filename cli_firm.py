"""`encours sync --all`, `status --all` and `report --html --all`: the firm's companies at once.

Called by those commands in `cli.py` when `--all` is given. Like every command it parses,
calls `sync`, prints; the clock is read here (the day of the pass) and nowhere below.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from encours.cli import _as_of, echo
from encours.sync.display import Display, language_from
from encours.sync.firm_config import load_firm
from encours.sync.firm_run import CompanyOutcome, FirmSummary, RunOptions, run_firm


def _today() -> date:
    """The day of the pass, in local time: a company is done once per such day."""
    return datetime.now(UTC).astimezone().date()


def _display() -> Display:
    return Display.of(language_from(None, os.environ))


def sync_all(firm_path: Path, workers: int, sync_arguments: list[str], quiet: bool) -> None:
    """Run every company of the firm file (`sync/firm_run.py`); exit with the firm's code."""
    firm = load_firm(firm_path)
    display = _display()
    total = len(firm.companies)
    finished = 0
    showing = not quiet and sys.stderr.isatty()

    def progress(outcome: CompanyOutcome) -> None:
        nonlocal finished
        finished += 1
        if showing:
            echo(f"[{finished}/{total}] {outcome.name}: {outcome.status}", err=True)

    options = RunOptions(today=_today(), sync_arguments=sync_arguments)
    summary = run_firm(firm, options, workers=workers, progress=progress)
    for line in summary_lines(summary, display):
        echo(line)
    for outcome in summary.outcomes:
        if outcome.message:
            log = f" (log: {outcome.log})" if outcome.log else ""
            echo(f"{outcome.name}: {outcome.message}{log}", err=True)
    echo(f"{total} companies: exit {summary.exit_code}", err=True)
    sys.exit(summary.exit_code)


def summary_lines(summary: FirmSummary, display: Display) -> list[str]:
    """The table of a pass: company, status, exit code, customers, outstanding, duration.

    Example: a header `company  status  exit  customers  outstanding  duration`, then rows
    such as `alpha  ok  0  40  €12,345.67  3.2 s` and `beta  failed  75`, in aligned columns.
    """
    rows = [["company", "status", "exit", "customers", "outstanding", "duration"]]
    for o in summary.outcomes:
        amount = (
            display.money(o.outstanding, o.currency)
            if o.outstanding is not None and o.currency
            else ""
        )
        rows.append(
            [
                o.name,
                o.status,
                str(o.exit_code),
                "" if o.customers is None else display.number(o.customers),
                amount,
                f"{o.seconds:.1f} s" if o.seconds else "",
            ]
        )
    return _aligned(rows, left=2)


def status_all(firm_path: Path, as_json: bool) -> None:
    """One line per company from its last run's file (`sync/firm_status.py`)."""
    from encours.sync.firm_status import company_lines, status_json, status_text

    firm = load_firm(firm_path)
    lines = company_lines(firm, _today())
    if as_json:
        echo(json.dumps(status_json(lines), indent=1, ensure_ascii=False))
        return
    for text in status_text(lines, _display(), firm.name):
        echo(text)


def report_all(firm_path: Path, as_of_text: str | None, html_path: Path) -> None:
    """The firm's HTML page: a table of companies, then each company's report."""
    from encours.sync.config import load_settings
    from encours.sync.firm_report import render_firm

    firm = load_firm(firm_path)

    def as_of_of(config: Path) -> date:
        return _as_of(as_of_text, load_settings(config))

    html_path.write_text(render_firm(firm, as_of_of, _display()), encoding="utf-8")
    echo(f"Wrote {html_path}", err=True)


def _aligned(rows: list[list[str]], left: int) -> list[str]:
    """Columns as wide as their widest cell; the first `left` to the left, the rest right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def refuse_with_all(**given: object) -> None:
    """`sync --all` runs whole companies: options that pick a part of one are refused."""
    for option, value in given.items():
        if value:
            raise click.UsageError(f"--{option.replace('_', '-')} cannot go with --all")


def sync_arguments(
    as_of_text: str | None, no_push: bool, full_refresh: bool, accept_deletions: bool
) -> list[str]:
    """The options of `sync --all` that every company's `encours sync` is given too."""
    arguments = ["--as-of", as_of_text] if as_of_text else []
    flags = {"--no-push": no_push, "--full-refresh": full_refresh}
    flags["--accept-deletions"] = accept_deletions
    return arguments + [flag for flag, given in flags.items() if given]
