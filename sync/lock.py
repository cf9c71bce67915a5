"""One `encours sync` at a time per store: an exclusive lock on a file beside the store.

The lock is an OS file lock (`flock`), so it dies with its process: a run killed in the
night leaves no stale lock to block the next one. The file keeps the holder's pid for the
message a second run prints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from encours.errors import AlreadyRunningError


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
