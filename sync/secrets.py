"""Where encours keeps tokens and passwords: the system keyring first, else the environment.

A secret is named by the source or target it belongs to and a key, e.g. `("books",
"token")`. It is stored in the keyring under service `encours` and user name
`books.token`; on a machine without a keyring (a headless server, a container, cron) it is
read from the environment variable `ENCOURS_BOOKS_TOKEN` instead (see `env_name`).

"No keyring" covers every way a backend can be unusable: `keyring` found none (its `fail`
backend, `NoKeyringError`), it was disabled (the `null` backend, which silently stores
nothing), or the backend fails when asked (a locked SecretService, no D-Bus session). Reading
then falls back to the environment and says so once per process, as a warning on the
`encours.secrets` logger; storing raises `ConfigError` naming the environment variable.

Secrets never appear in a message, a log record or an exception raised here. Every value
`get_secret` returns (and `set_secret` stores) is remembered in `known_secrets()`, so that the
code which prints errors and logs can blank them out with `redact` whatever their origin
(an HTTP library echoing a header, a remote API echoing a request).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from encours.connectors.held_secrets import session_secret_count, session_secrets
from encours.errors import ConfigError
from encours.model import Rejected

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "encours"
REDACTED = "***"

log = logging.getLogger("encours.secrets")

_known: set[str] = set()
T = TypeVar("T")
_warned = False  # the "no keyring" warning is given once per process
# The backend that failed last and why, so that reading many secrets pays a slow failure (a
# D-Bus timeout) once; storing, deleting and checking try it again, as does another backend.
_broken: tuple[KeyringBackend, str] | None = None


def env_name(name: str, key: str) -> str:
    """The environment variable that holds secret `key` of source or target `name`.

    Upper case, every character other than an ASCII letter or digit turned into `_`:
    `env_name("my-crm.eu", "token") == "ENCOURS_MY_CRM_EU_TOKEN"`.
    """
    _check_names(name, key)
    return "ENCOURS_" + re.sub(r"[^A-Z0-9]", "_", f"{name}_{key}".upper())


def keyring_available() -> tuple[bool, str]:
    """Whether the keyring can be used here: `(True, backend name)` or `(False, why not)`.

    For `encours check`. The backend is asked for an entry that does not exist, so a keyring
    that is present but locked or unreachable is reported as unusable, as reading would find.
    """
    backend, reason = _backend()
    if backend is None:
        return False, reason
    try:
        backend.get_password(SERVICE, "encours.check")
    except Exception as exc:  # any backend failure means "unusable"
        return False, _mark_broken(backend, exc)
    return True, reason


def get_secret(name: str, key: str, *, environ: Mapping[str, str] = os.environ) -> str:
    """The secret `key` of source or target `name`: from the keyring, else the environment.

    Never prompts. An empty value counts as missing.

    Raises:
        ConfigError: found in neither place; the message says how to provide it.
    """
    variable = env_name(name, key)
    backend, reason = _backend(remember_failure=True)
    if backend is not None:
        try:
            value = backend.get_password(SERVICE, _username(name, key))
        except Exception as exc:  # a broken backend is "no keyring", see module
            reason = _mark_broken(backend, exc)
            backend = None
        else:
            if value:
                log.debug("secret %s.%s read from the keyring (%s)", name, key, reason)
                return _remember(value)
    if backend is None:
        _warn_no_keyring(reason)
    value = environ.get(variable, "")
    if value:
        log.debug("secret %s.%s read from the environment (%s)", name, key, variable)
        return _remember(value)
    if backend is None:
        raise ConfigError(
            f"secret `{name}.{key}` not found: this machine has no usable keyring ({reason}), "
            f"so set {variable} in the environment of the cron job (or install a keyring "
            "backend and run `encours init`)"
        )
    raise ConfigError(
        f"secret `{name}.{key}` not found: run `encours init`, or set {variable} in the "
        "environment of the cron job"
    )


def set_secret(name: str, key: str, value: str) -> None:
    """Store secret `key` of source or target `name` in the keyring.

    Raises:
        ConfigError: the value is empty, or there is no usable keyring here; the message names
            the environment variable to set instead and never repeats the value.
    """
    variable = env_name(name, key)
    if not value:
        raise ConfigError(f"refusing to store an empty secret `{name}.{key}`")
    _remember(value)
    backend, reason = _backend()
    if backend is not None:
        try:
            backend.set_password(SERVICE, _username(name, key), value)
        except Exception as exc:  # any backend failure means "unusable"
            reason = _mark_broken(backend, exc)
        else:
            log.info("secret %s.%s stored in the keyring (%s)", name, key, reason)
            return
    raise ConfigError(
        f"cannot store secret `{name}.{key}`: this machine has no usable keyring ({reason}). "
        f"Set {variable} in the environment of the cron job instead."
    )


def known_secrets() -> frozenset[str]:
    """Every secret value this process holds, for redaction of messages, logs and the store.

    What was read from or stored in the keyring or the environment, and what an HTTP client
    received since (a session key given at login).
    """
    return frozenset(_known) | session_secrets()


def redact(text: str) -> str:
    """`text` with every known secret replaced by `***` (longest first, so none leaks in part)."""
    for value in sorted(known_secrets(), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def scrubbed(records: Iterable[T]) -> Iterator[T]:
    """The records of a source with every known secret masked in their text, to be stored.

    A server may echo a token into a record (a name, a label, the raw payload): nothing of it
    may reach the store. A record that no longer fits the model once masked is rejected.
    The secrets are taken again whenever one was added during the read (a session renewed
    after it expired); without any (a file source alone), the records pass untouched.
    """
    count, secrets = -1, []
    for record in records:
        if len(_known) + session_secret_count() != count:
            count = len(_known) + session_secret_count()
            secrets = sorted(known_secrets(), key=len, reverse=True)
        yield _scrub(record, secrets) if secrets else record


def _scrub(record: T, secrets: list[str]) -> T:
    if isinstance(record, tuple):  # the bulk records of a ledger (NamedTuple)
        if not any(s in f for f in record if isinstance(f, str) for s in secrets):
            return record
        return type(record)(*(_masked(f, secrets) for f in record))  # type: ignore[return-value]
    if not isinstance(record, BaseModel):
        return record
    if not any(s in record.model_dump_json() for s in secrets):
        return record
    try:
        return type(record).model_validate(_masked(record.model_dump(), secrets))
    except ValidationError:
        return Rejected(  # type: ignore[return-value]
            source=str(getattr(record, "source", "?")),
            stream=type(record).__name__.lower(),
            external_id=_masked(str(getattr(record, "external_id", "?")), secrets),
            reason=(
                "it carries a secret of this configuration (a token or password the server "
                "echoed), and masked it no longer fits; check this record in the source"
            ),
            raw=_masked(record.model_dump_json(), secrets),
        )


def _masked(value: Any, secrets: list[str]) -> Any:
    """Every string inside `value` (nested dicts, lists, tuples) with the secrets masked."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _masked(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(item, secrets) for item in value)
    return value


def _remember(value: str) -> str:
    _known.add(value)
    return value


def _check_names(name: str, key: str) -> None:
    if not name or not key:
        raise ValueError(f"a secret needs a name and a key, got {name!r} and {key!r}")


def _username(name: str, key: str) -> str:
    _check_names(name, key)
    return f"{name}.{key}"


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _backend(*, remember_failure: bool = False) -> tuple[KeyringBackend | None, str]:
    """The usable keyring backend and its name, or `(None, why there is none)`.

    With `remember_failure`, a backend that already failed in this process counts as none
    (for reads, which may be many); explicit actions (store, check) try it again.
    """
    import keyring  # here: a run that reads no secret does not load the keyring's backends
    import keyring.backends.fail
    import keyring.backends.null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # keyring's own configuration can fail to load
        return None, _describe(exc)
    if isinstance(backend, keyring.backends.fail.Keyring):
        return None, "keyring found no backend"
    if isinstance(backend, keyring.backends.null.Keyring):
        return None, "the keyring is disabled (null backend)"
    if remember_failure and _broken is not None and _broken[0] is backend:
        return None, _broken[1]
    return backend, _backend_name(backend)


def _mark_broken(backend: KeyringBackend, exc: Exception) -> str:
    global _broken
    reason = f"{_backend_name(backend)} failed: {_describe(exc)}"
    _broken = (backend, reason)
    return reason


def _describe(exc: Exception) -> str:
    """The exception as a short line, blanked of known secrets (a backend may echo its input)."""
    text = redact(" ".join(str(exc).split()))
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _warn_no_keyring(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "no keyring backend on this machine (%s); reading secrets from the environment",
            reason,
        )
