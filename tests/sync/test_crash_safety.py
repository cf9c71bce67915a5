"""A sync killed at any point (SIGKILL) loses nothing: the next run ends where an
uninterrupted one does, with no duplicate, no lost record and no cursor past unread data.

Each kill lands somewhere in pull, store, reconcile, snapshot or push (the delay is drawn
from a seeded generator, so a failure can be replayed). Only the kills that landed mid-run
count (the run was recorded as started in the store and not as finished): the test goes on
until 30 of them did (ENCOURS_CRASH_KILLS changes it), within 80 tries.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from store_tables import dump, read_only

from encours import demo as demo_setup
from encours.demo.fecgen import FecSpec

AS_OF = "2026-10-31"
#: Books large enough that a run lasts long enough to be cut at many points.
BOOKS = FecSpec(invoices=3000, customers=150)
KILLS = int(os.environ.get("ENCOURS_CRASH_KILLS", "30"))
TRIES = 80
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
    everything = dump(folder / "encours.duckdb", without=("run_id", "first_run", "last_run"))
    tables = {table: everything[table] for table in TABLES}
    return tables, (folder / "indicators.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, float]:
    """An uninterrupted run: its folder, its final state, and how long it took."""
    folder = tmp_path_factory.mktemp("reference")
    demo_setup.prepare(folder, BOOKS)
    process = sync(folder)
    started = _wait_for_the_run(folder, process)
    assert process.wait() == 0
    return folder, state(folder), time.monotonic() - started


def _wait_for_the_run(folder: Path, process: subprocess.Popen[bytes]) -> float:
    """When the sync took the store's lock (after the interpreter's start-up).

    DuckDB lets no one read the file while the run writes it: the lock file, which holds
    the run's pid, says when it started.
    """
    lock = folder / "encours.duckdb.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if lock.exists() and lock.read_text().strip() == str(process.pid):
            return time.monotonic()
        time.sleep(0.005)
    return time.monotonic()


@pytest.mark.slow
def test_a_killed_sync_is_caught_up_by_the_next_one(
    reference: tuple[Path, object, float], tmp_path: Path
) -> None:
    source, expected, duration = reference  # duration: from the run's start to its end
    draw = random.Random(2026)  # noqa: S311 - a replayable schedule, not a secret
    landed = 0
    for run in range(TRIES):
        if landed >= KILLS:
            break
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        for name in ("books.fec", "config.toml"):
            shutil.copy2(source / name, folder / name)  # the same file: same size and time
        process = sync(folder)
        _wait_for_the_run(folder, process)
        # Anywhere in the run: a share of how long one took from its start.
        time.sleep(draw.uniform(0.0, 0.95) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        landed += _cut_mid_run(folder)
        assert sync(folder).wait() in (0, 3), f"run {run}: the catching-up sync failed"
        assert state(folder) == expected, f"run {run} differs from the uninterrupted one"
    assert landed >= KILLS, f"only {landed} of {TRIES} kills landed mid-run"


def _cut_mid_run(folder: Path) -> bool:
    """Whether the store records a run that started and never finished."""
    if not (folder / "encours.duckdb").exists():
        return False
    try:
        with read_only(folder / "encours.duckdb") as db:
            row = db.execute("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL").fetchone()
    except duckdb.Error:  # killed before the schema was written
        return False
    return bool(row[0])
