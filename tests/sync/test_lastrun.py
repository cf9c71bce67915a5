"""The last run's file gives back exactly its figures; a run on unchanged books takes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from encours.demo import prepare
from encours.sync import lastrun
from encours.sync import run as run_module
from encours.sync.config import load_settings
from encours.sync.run import run_sync

NOW = datetime(2026, 11, 1, 3, tzinfo=UTC)


def test_the_last_runs_file_holds_the_runs_figures_exactly(tmp_path: Path) -> None:
    config, as_of = prepare(tmp_path / "demo")
    settings = load_settings(config)

    summary = run_sync(settings, as_of=as_of, now=NOW)

    kept = lastrun.load(settings.store.path)
    assert kept is not None and kept.run_id == summary.run_id
    assert summary.figures is not None and summary.figures.customers
    assert kept.figures == summary.figures


def test_a_run_on_unchanged_books_takes_the_last_runs_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, as_of = prepare(tmp_path / "demo")
    settings = load_settings(config)
    first = run_sync(settings, as_of=as_of, now=NOW)
    computed: list[date] = []
    compute = run_module.compute_figures

    def counted(store: object, settings: object, day: date) -> object:
        computed.append(day)
        return compute(store, settings, day)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "compute_figures", counted)

    again = run_sync(settings, as_of=as_of, now=NOW)
    kept = lastrun.load(settings.store.path)  # written again from the JSON it was read from
    assert kept is not None and kept.run_id == again.run_id and kept.figures == first.figures
    assert kept.applies(settings.store.path, settings, as_of)
    other_day = run_sync(settings, as_of=as_of - timedelta(days=1), now=NOW)
    (tmp_path / "demo" / "books.fec").touch()  # the same bytes: still unchanged
    touched = run_sync(settings, as_of=as_of - timedelta(days=1), now=NOW)

    assert [o.status for o in again.sources] == ["unchanged"]
    assert again.figures == first.figures and again.exit_code == first.exit_code
    assert computed == [as_of - timedelta(days=1)]  # the other day only
    assert touched.figures == other_day.figures
