"""The figures `status` shows: the last run's when they apply, else computed from the store.

Example: the nightly sync ran as of 2026-03-31; `status --as-of 2026-03-31` shows what it
computed without opening the store (and while tonight's sync holds it, with a note saying
so); `status --as-of 2026-02-28` computes that date from the store.
"""

from __future__ import annotations

from datetime import date

from encours.errors import StoreBusyError
from encours.sync import figures, lastrun
from encours.sync.config import Settings
from encours.sync.figures import Figures
from encours.sync.lock import sync_running
from encours.sync.store import Store


def current_figures(settings: Settings, as_of: date) -> tuple[Figures, str | None]:
    """The figures as of `as_of`, and a note for the user when they may be outdated.

    Raises:
        StoreBusyError: a sync holds the store and the last run's figures are of another
            date (or settings): there is nothing to show until it ends.
    """
    path = settings.store.path
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
    if kept and kept.applies(path, settings, as_of):
        return kept.figures, None
    with Store.reading(path) as store:
        return figures.compute_figures(store, settings, as_of), None
