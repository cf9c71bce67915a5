"""One `encours sync` at a time per store: an exclusive lock on a file beside the store.

The lock is an OS file lock (`flock`), so it dies with its process: a run killed in the
night leaves no stale lock to block the next one. The file keeps the holder's pid for the
message a second run prints.

A store on PostgreSQL is locked by the server instead (`AdvisoryLock`): a session advisory
lock, keyed by the store's schema, held on a connection of its own for the length of the
run. It too dies with its holder (the server ends the session of a process killed), and it
holds across machines sharing the server. `run_lock` gives the one that fits the settings.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from encours.errors import AlreadyRunningError

if TYPE_CHECKING:
    from encours.sync.config import StoreSettings
    from encours.sync.store.postgres import PostgresConnection


class RunLock:
    """Context manager: hold `<store>.lock` for the length of a run, or fail at once."""

    def __init__(self, store_path: Path) -> None:
        self.path = lock_path(store_path)
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunningError(
                f"another encours sync (pid {holder}) is running on this store; this one "
                "stops here. If that is a leftover, it ends by itself when that process does."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_path(store_path: Path) -> Path:
    """`<store>.lock`, keyed by the store's real path.

    The same file reached through a symbolic link, or by another relative path, is the same
    lock.
    """
    real = store_path.resolve()
    return real.with_name(real.name + ".lock")


def sync_running(store_path: Path) -> bool:
    """Whether a sync holds the lock of this store now (without waiting, without taking it)."""
    try:
        fd = os.open(lock_path(store_path), os.O_RDONLY)
    except OSError:  # no lock file: no sync ever ran here
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock taken, if any
    return False


def run_lock(store: StoreSettings) -> RunLock | AdvisoryLock:
    """The lock of a run on this store: on its file, or on its PostgreSQL database."""
    return RunLock(store.path) if store.url is None else AdvisoryLock(store.url)


#: The advisory lock's key: the first 8 bytes of a digest of this text and the schema's name.
_KEY_TEXT = "encours sync:"


class AdvisoryLock:
    """Context manager: hold the store's advisory lock on PostgreSQL for a run, or fail at once.

    The key is a 64-bit number from the digest of the schema's name (advisory locks are
    per database): two companies in two schemas of one database lock apart. Its connection
    is named `encours sync pid N`, which a second run's message repeats.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: PostgresConnection | None = None

    def __enter__(self) -> AdvisoryLock:
        from encours.sync.store.postgres import connect, store_password

        connection = connect(self.url, store_password())
        try:
            connection.execute(f"SET application_name = 'encours sync pid {os.getpid()}'")
            row = connection.execute(
                f"SELECT pg_try_advisory_lock({lock_key(connection)})"
            ).fetchone()
            if not row or not row[0]:
                holder = _holder(connection) or "?"
                raise AlreadyRunningError(
                    f"another encours sync ({holder}) is running on this store; this one "
                    "stops here. If that is a leftover, it ends by itself when that process "
                    "does."
                )
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            self._connection.close()  # the session's advisory locks end with it
            self._connection = None


def lock_key(connection: PostgresConnection, text: str = _KEY_TEXT) -> int:
    """An advisory lock's key for the store's schema (`AdvisoryLock`).

    `text` names the lock: the run's by default, the firm's claim (`sync/firm_claim.py`).
    """
    row = connection.execute("SELECT current_schema()").fetchone()
    digest = hashlib.blake2b(f"{text}{row[0] if row else ''}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _holder(connection: PostgresConnection) -> str | None:
    """Who holds the store's advisory lock, as its connection names itself; None: no one."""
    key = lock_key(connection)
    row = connection.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND (l.classid::bigint << 32) | l.objid::bigint = ?",
        (key,),
    ).fetchone()
    return None if row is None else str(row[0] or "?")
