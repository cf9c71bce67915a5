"""The figures `status` shows: the last run's when they apply, else computed from the store.

Example: the nightly sync ran as of 2026-03-31; `status --as-of 2026-03-31` shows what it
computed without opening the store (and while tonight's sync holds it, with a note saying
so); `status --as-of 2026-02-28` computes that date from the store.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from encours.errors import NoFiguresError, StoreBusyError
from encours.sync import figures, lastrun
from encours.sync.config import Settings
from encours.sync.figures import Figures
from encours.sync.lock import sync_running
from encours.sync.store import Store
from encours.sync.store.review import RunRecord, run_history


def current_figures(settings: Settings, as_of: date) -> tuple[Figures, str | None]:
    """The figures as of `as_of`, and a note for the user when they may be outdated.

    Raises:
        NoFiguresError: no sync has finished on this store (none ran, or every one failed):
            an all-zero table would read as a real result.
        StoreBusyError: a sync holds the store and the last run's figures are of another
            date (or settings): there is nothing to show until it ends.
    """
    path = settings.store.path
    if settings.store.url is not None:  # PostgreSQL: a sync never blocks a reader
        with Store.reading(path, url=settings.store.url) as store:
            note = last_sync_note(settings.store.url, store.runs())
            return figures.compute_figures(store, settings, as_of), note
    kept = lastrun.load(path)
    if sync_running(path):
        if kept and kept.applies_while_running(settings, as_of):
            return kept.figures, (
                f"a sync is writing the store; these are the figures of the last run "
                f"(run {kept.run_id}, as of {as_of.isoformat()})"
            )
        hint = (
            f" (the last run's figures are as of {kept.figures.as_of.isoformat()}: "
            f"`encours status --as-of {kept.figures.as_of.isoformat()}` shows them now)"
            if kept
            else ""
        )
        raise StoreBusyError(f"a sync is writing the store {path}; try again when it ends{hint}")
    note = last_sync_note(path, run_history(path))
    if kept and kept.applies(path, settings, as_of):
        return kept.figures, note
    with Store.reading(path) as store:
        return figures.compute_figures(store, settings, as_of), note


def last_sync_note(path: Path | str, runs: list[RunRecord]) -> str | None:
    """None when the last sync gave figures; a note when an earlier one did.

    Raises:
        NoFiguresError: no sync gave figures yet, saying what happened instead.
    """
    good = next((run for run in runs if run.gave_figures), None)
    if good is None:
        failed = next((run for run in runs if run.status != "dry-run"), None)
        what = (
            f"no sync has run on the store {path} yet"
            if failed is None
            else f"no sync has finished on the store {path}: the last one (run "
            f"{failed.run_id}) {_ended(failed)}, reading no source"
        )
        raise NoFiguresError(f"{what}; there are no figures to show. Run `encours sync`")
    latest = next(run for run in runs if run.status != "dry-run")
    if latest is good:
        return None
    return (
        f"the last sync (run {latest.run_id}) {_ended(latest)}; these "
        f"figures rest on the records of run {good.run_id} (as of {good.as_of.isoformat()}), "
        "recomputed as of the date asked"
    )


def _ended(run: RunRecord) -> str:
    return "was interrupted" if run.exit_code is None else f"ended with exit {run.exit_code}"
