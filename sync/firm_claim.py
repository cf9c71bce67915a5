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

`CompanyClaim` is the interface; `claim_for` gives the one that fits a company's store:

- `FileClaim`, for a store in a file: an exclusive `flock` on `<store>.claim`, a small file
  beside the store that also keeps the date (JSON: `{"last_success": "2026-12-06", "pid":
  4242}`);
- `DatabaseClaim`, for a store on PostgreSQL: an advisory lock of the server, keyed by the
  company's schema, and the date in the store itself. It holds across every machine that
  shares the server.

Neither is the store's own run lock (`sync/lock.py`), which the company's run takes itself,
in its own process: the claim must also cover reading and writing the date, before and
after that run.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb

from encours.sync.lock import lock_key

if TYPE_CHECKING:
    from encours.sync.config import StoreSettings
    from encours.sync.store.postgres import PostgresConnection

#: The advisory lock of a company's claim: another key than its run's lock.
CLAIM_KEY_TEXT = "encours claim:"
#: The store's cursor (of no source) that keeps the day of its last successful firm pass.
LAST_SUCCESS = "firm-last-success"


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


class DatabaseClaim:
    """The claim of a store on PostgreSQL: an advisory lock keyed by its schema, the date inside.

    The lock is a session lock on a connection of its own, keyed by "encours claim:" and the
    schema (the run's own lock, `sync/lock.py`, has another key): it holds across the
    machines sharing the server, and dies with the worker's session. The date is the
    store's cursor ('', 'firm-last-success'), read and written while the claim is held.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: PostgresConnection | None = None

    def acquire(self) -> bool:
        """Take the claim without waiting; False when another worker holds it."""
        from encours.sync.store.postgres import connect, store_password

        connection = connect(self.url, store_password())
        row = connection.execute(
            f"SELECT pg_try_advisory_lock({lock_key(connection, CLAIM_KEY_TEXT)})"
        ).fetchone()
        if not row or not row[0]:
            connection.close()
            return False
        self._connection = connection
        return True

    def release(self) -> None:
        """Let go of the claim: closing the session drops the lock."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def last_success(self) -> date | None:
        """The date kept in the store; None before the first success (or a new store)."""
        try:
            row = (
                self._held()
                .execute(
                    "SELECT value FROM cursors WHERE source = '' AND stream = ?", (LAST_SUCCESS,)
                )
                .fetchone()
            )
        except duckdb.Error:  # no store yet in this schema: never run
            return None
        return None if row is None else date.fromisoformat(str(row[0]))

    def record_success(self, day: date) -> None:
        """Keep the date in the store (the company's run made its tables)."""
        self._held().execute(
            "INSERT INTO cursors VALUES ('', ?, ?, 0) ON CONFLICT (source, stream) "
            "DO UPDATE SET value = excluded.value",
            (LAST_SUCCESS, day.isoformat()),
        )

    def inherited(self) -> tuple[int, ...]:
        """Nothing to hand over: the server holds the lock for this worker's session."""
        return ()

    def _held(self) -> PostgresConnection:
        if self._connection is None:
            raise RuntimeError("the claim is not held")  # a bug of the caller
        return self._connection


def claim_for(store: StoreSettings) -> CompanyClaim:
    """The claim of a company whose store is `store`: on its file, or on its database."""
    return FileClaim(store.path) if store.url is None else DatabaseClaim(store.url)
