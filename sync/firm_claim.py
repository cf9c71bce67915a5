"""Who syncs a company now, and whether it was synced today: the claim of a firm run.

Several processes, on one machine or several sharing the companies' folders, run `encours
sync --all` on the same firm. Before a company's run a worker claims it, without waiting:

- the claim is taken: the company is done by another worker (or its run is under way);
- the claim says the company ran successfully today: there is nothing to do;
- else the worker runs it, records today's date on success, and lets go.

The date is read and written while the claim is held, so a company is never run twice in a
day by two workers: one that finishes records the date before letting go. A worker killed
mid-run records nothing, and the claim dies with it (an OS lock): the next pass runs the
company again.

`CompanyClaim` is the interface; `FileClaim` is the one for a store in a file: an exclusive
`flock` on `<store>.claim`, a small file beside the store that also keeps the date (JSON:
`{"last_success": "2026-12-06", "pid": 4242}`). It is not the store's own run lock
(`sync/lock.py`), which the company's run takes itself, in its own process: the claim must
also cover reading and writing the date, before and after that run. A store on a database
server would claim with that server's advisory lock and keep the date in a table.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import date
from pathlib import Path
from typing import Protocol


def claim_path(store: Path) -> Path:
    """`<store>.claim`, by the store's real path (as `sync/lock.py` names its lock)."""
    real = store.resolve()
    return real.with_name(real.name + ".claim")


class CompanyClaim(Protocol):
    """One company's claim, for one worker."""

    def acquire(self) -> bool:
        """Take the claim without waiting; False when another worker holds it."""

    def release(self) -> None:
        """Let go of the claim (a no-op when not held)."""

    def last_success(self) -> date | None:
        """The day of the company's last successful run of a firm pass (claim held)."""

    def record_success(self, day: date) -> None:
        """Remember that the company ran successfully on `day` (claim held)."""

    def inherited(self) -> tuple[int, ...]:
        """File descriptors to hand to the company's run: the claim lasts as long as it."""


class FileClaim:
    """The claim of a store in a file: `flock` on `<store>.claim`, the date inside.

    `FileClaim(Path("acme/encours.duckdb"))` claims `acme/encours.duckdb.claim`: `acquire()`
    is True, then `last_success()` is None until `record_success(date(2026, 12, 6))`; a
    second process's `acquire()` is False until `release()`.
    """

    def __init__(self, store: Path) -> None:
        self.path = claim_path(store)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the claim without waiting; False when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let go of the claim: closing the file drops the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def last_success(self) -> date | None:
        """The date kept in the claim file; None when there is none (or it is unreadable)."""
        try:
            kept = json.loads(os.pread(self._held(), 4096, 0) or b"{}")
            return date.fromisoformat(kept["last_success"])
        except (ValueError, KeyError, TypeError):
            return None

    def record_success(self, day: date) -> None:
        """Write the date into the claim file (it is small: one write, then the size)."""
        text = json.dumps({"last_success": day.isoformat(), "pid": os.getpid()}).encode()
        fd = self._held()
        os.pwrite(fd, text, 0)
        os.ftruncate(fd, len(text))

    def inherited(self) -> tuple[int, ...]:
        """The claim file's descriptor: a run left orphaned keeps the company claimed."""
        return (self._held(),)

    def _held(self) -> int:
        if self._fd is None:
            raise RuntimeError("the claim is not held")  # a bug of the caller
        return self._fd


def last_success_of(store: Path) -> date | None:
    """The date a store's claim file keeps, read without claiming (for `status --all`)."""
    try:
        kept = json.loads(claim_path(store).read_bytes() or b"{}")
        return date.fromisoformat(kept["last_success"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
