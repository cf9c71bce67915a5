"""The last run's file gives back exactly the figures the run computed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from encours.demo import prepare
from encours.sync import lastrun
from encours.sync.config import load_settings
from encours.sync.run import run_sync


def test_the_last_runs_file_holds_the_runs_figures_exactly(tmp_path: Path) -> None:
    config, as_of = prepare(tmp_path / "demo")
    settings = load_settings(config)

    summary = run_sync(settings, as_of=as_of, now=datetime(2026, 11, 1, 3, tzinfo=UTC))

    kept = lastrun.load(settings.store.path)
    assert kept is not None and kept.run_id == summary.run_id
    assert summary.figures is not None and summary.figures.customers
    assert kept.figures == summary.figures
