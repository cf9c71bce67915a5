"""The project's error tree; each category maps to one exit code of `encours`.

    EncoursError                root
    ├── ConfigError             the user must fix config or secrets      -> exit 78
    │   └── AuthError           401/403, missing or expired credentials
    ├── TransientError          still failing after retries             -> exit 75
    │   ├── RateLimitedError    .retry_after in seconds, or None
    │   └── PaginationLoopError the server sent the same page twice
    ├── ApiError                a refusal that will not be retried      -> exit 70
    │   └── NotFoundError
    ├── DataError               input that does not fit the model       -> exit 65
    │   └── DestructiveReadError a full read would delete too much of a source
    ├── StateError              the store is corrupt or a migration failed -> exit 70
    ├── StorageError            a local file or the store cannot be written (full disk,
    │                           missing folder)                          -> exit 74
    └── AlreadyRunningError     another run holds the lock              -> exit 73

Messages say what to do next and never contain a secret.
"""

from __future__ import annotations


class EncoursError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 70


class ConfigError(EncoursError):
    """The configuration or a secret is wrong or missing: a person must fix it."""

    exit_code = 78  # EX_CONFIG


class AuthError(ConfigError):
    """The credentials were refused or are missing; `status` is the HTTP status, if any."""

    status: int | None = None


class TransientError(EncoursError):
    """A failure that may go away by itself (network, 5xx, rate limit): try again later."""

    exit_code = 75  # EX_TEMPFAIL


class RateLimitedError(TransientError):
    """The remote side asked us to slow down."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PaginationLoopError(TransientError):
    """The server sent the same page token or link twice: stop rather than loop.

    Usually a glitch of the server's paging that the next run does not meet; if it comes
    back night after night, it is a vendor bug to report.
    """


class ApiError(EncoursError):
    """A remote refusal that retrying will not fix (4xx other than auth and rate limit)."""

    exit_code = 70  # EX_SOFTWARE

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class NotFoundError(ApiError):
    """The remote resource does not exist."""


class DataError(EncoursError):
    """Input that does not fit the common model: a bad file, a record that fails validation."""

    exit_code = 65  # EX_DATAERR


class DestructiveReadError(DataError):
    """A full read would delete more of a source than the configured share: it is refused.

    An export cut short or empty reads as "everything was deleted"; only a person can say
    whether it was (`encours sync --accept-deletions`).
    """


class StateError(EncoursError):
    """The store is not in a state we can work with (corrupt, newer schema, failed migration)."""

    exit_code = 70


class StorageError(EncoursError):
    """A local file or the store could not be read or written: a full disk, a folder gone."""

    exit_code = 74  # EX_IOERR


class AlreadyRunningError(EncoursError):
    """Another `encours sync` holds the lock on this store."""

    exit_code = 73  # EX_CANTCREAT: the lock could not be taken


class StoreBusyError(AlreadyRunningError):
    """The store's file is held by a running sync: a reader cannot open it meanwhile."""


class NoFiguresError(EncoursError):
    """No sync has finished on this store yet: there are no figures to show."""

    exit_code = 66  # EX_NOINPUT: nothing to read yet
