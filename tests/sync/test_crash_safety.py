"""A sync killed at any point (SIGKILL) loses nothing: the next run ends where an
uninterrupted one does, with no duplicate, no lost record and no cursor past unread data.

Each kill lands somewhere in pull, store, reconcile, snapshot or push (the delay is drawn
from a seeded generator, so a failure can be replayed). 50 runs; ENCOURS_CRASH_RUNS changes it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from encours.sync import demo as demo_setup

AS_OF = "2026-10-31"
RUNS = int(os.environ.get("ENCOURS_CRASH_RUNS", "50"))
TABLES = (
    "customers", "invoices", "due_lines", "credits", "sales", "allocations", "quarantine",
    "cursors", "snapshots", "pushed", "dirty_customers",
)  # fmt: skip


def sync(folder: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "encours.cli", "--config", str(folder / "config.toml")]
    return subprocess.Popen(
        [*command, "sync", "--as-of", AS_OF, "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def state(folder: Path) -> tuple[dict[str, list[tuple[object, ...]]], str]:
    """Every table but the run log (without run ids), and the target file."""
    with sqlite3.connect(folder / "encours.sqlite") as db:
        tables = {}
        for table in TABLES:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]  # noqa: S608
            kept = ", ".join(c for c in columns if c not in ("run_id", "first_run", "last_run"))
            tables[table] = sorted(db.execute(f"SELECT {kept} FROM {table}").fetchall(), key=repr)  # noqa: S608
    return tables, (folder / "indicators.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, float]:
    """An uninterrupted run: its folder, its final state, and how long it took."""
    folder = tmp_path_factory.mktemp("reference")
    demo_setup.prepare(folder)
    started = time.monotonic()
    assert sync(folder).wait() == 0
    return folder, state(folder), time.monotonic() - started


@pytest.mark.slow
def test_a_killed_sync_is_caught_up_by_the_next_one(
    reference: tuple[Path, object, float], tmp_path: Path
) -> None:
    source, expected, duration = reference
    draw = random.Random(2026)  # noqa: S311 - a replayable schedule, not a secret
    killed = 0
    for run in range(RUNS):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        for name in ("books.fec", "config.toml"):
            shutil.copy(source / name, folder / name)
        process = sync(folder)
        # Anywhere in the run, interpreter start-up included: a share of how long one took.
        time.sleep(draw.uniform(0.05, 0.85) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()
        assert sync(folder).wait() in (0, 3), f"run {run}: the catching-up sync failed"
        assert state(folder) == expected, f"run {run} differs from the uninterrupted one"
    assert killed >= RUNS // 2  # most runs were really cut short
