"""Secrets: keyring first, the environment as fallback, and no value ever in a message or log.

Every test runs against an in-memory keyring installed by an autouse fixture, so the real
system keyring is never asked for anything (nor even detected).
"""

from __future__ import annotations

import logging

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.core
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring_memory import MemoryKeyring

from encours.connectors.http import HttpClient
from encours.errors import ConfigError
from encours.model import Customer, LedgerLine
from encours.sync.secrets import (
    SERVICE,
    env_name,
    get_secret,
    keyring_available,
    known_secrets,
    redact,
    scrubbed,
    set_secret,
)

TOKEN = "pl-7f3a9c-SECRET-value"  # noqa: S105 - a fake token, looked for in every output
OTHER = "crm-b41d-OTHER-secret"  # noqa: S105


class RaisingKeyring(MemoryKeyring):
    """A keyring that fails whenever it is used, like a locked SecretService without D-Bus."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        # A careless backend that echoes what it was given: it must not leak through us.
        raise keyring.errors.PasswordSetError(f"could not store {password!r}")

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "encours.secrets" and r.levelno == logging.WARNING
    ]


# --- reading ------------------------------------------------------------------------------


def test_a_secret_in_the_keyring_is_read_from_it_before_the_environment(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    memory_keyring.store[(SERVICE, "pennylane.token")] = TOKEN

    value = get_secret("pennylane", "token", environ={"ENCOURS_PENNYLANE_TOKEN": OTHER})

    assert value == TOKEN
    assert not _warnings(caplog)


def test_set_then_get_round_trips_through_the_keyring(memory_keyring: MemoryKeyring) -> None:
    set_secret("pennylane", "token", TOKEN)

    assert memory_keyring.store == {(SERVICE, "pennylane.token"): TOKEN}
    assert get_secret("pennylane", "token", environ={}) == TOKEN


def test_the_environment_is_the_fallback_when_the_keyring_has_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert get_secret("pennylane", "token", environ={"ENCOURS_PENNYLANE_TOKEN": TOKEN}) == TOKEN
    assert not _warnings(caplog)  # the keyring works: nothing to warn about


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCOURS_PENNYLANE_TOKEN", TOKEN)

    assert get_secret("pennylane", "token") == TOKEN


def test_an_empty_environment_variable_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="ENCOURS_PENNYLANE_TOKEN"):
        get_secret("pennylane", "token", environ={"ENCOURS_PENNYLANE_TOKEN": ""})


@pytest.mark.parametrize(
    "backend",
    [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()],
    ids=["fail", "null"],
)
def test_without_a_keyring_backend_the_environment_is_read_and_that_is_said_once(
    backend: KeyringBackend, caplog: pytest.LogCaptureFixture
) -> None:
    keyring.set_keyring(backend)
    environ = {"ENCOURS_PENNYLANE_TOKEN": TOKEN, "ENCOURS_CRM_TOKEN": OTHER}

    assert get_secret("pennylane", "token", environ=environ) == TOKEN
    assert get_secret("crm", "token", environ=environ) == OTHER

    [warning] = _warnings(caplog)
    assert warning.getMessage().startswith("no keyring backend on this machine (")
    assert warning.getMessage().endswith("; reading secrets from the environment")
    assert keyring_available()[0] is False


@pytest.mark.parametrize(
    "backend",
    [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()],
    ids=["fail", "null"],
)
def test_without_a_keyring_backend_storing_names_the_environment_variable(
    backend: KeyringBackend,
) -> None:
    keyring.set_keyring(backend)

    with pytest.raises(ConfigError, match="ENCOURS_MY_CRM_EU_TOKEN") as caught:
        set_secret("my-crm.eu", "token", TOKEN)

    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        keyring.errors.KeyringLocked("Failed to unlock the collection!"),
        keyring.errors.KeyringError("boom"),
        RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown"),
        OSError("no D-Bus session bus"),
    ],
    ids=["locked", "keyring-error", "runtime-error", "os-error"],
)
def test_a_backend_that_fails_on_read_falls_back_to_the_environment(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    broken = RaisingKeyring(error)
    keyring.set_keyring(broken)
    environ = {"ENCOURS_PENNYLANE_TOKEN": TOKEN}

    assert get_secret("pennylane", "token", environ=environ) == TOKEN
    assert get_secret("pennylane", "token", environ=environ) == TOKEN

    assert broken.calls == 1  # a slow failure (a D-Bus timeout) is paid once
    [warning] = _warnings(caplog)
    assert type(error).__name__ in warning.getMessage()
    available, why = keyring_available()
    assert available is False
    assert type(error).__name__ in why


def test_missing_everywhere_says_both_ways_to_provide_it_and_no_secret(
    memory_keyring: MemoryKeyring,
) -> None:
    memory_keyring.store[(SERVICE, "crm.token")] = OTHER
    get_secret("crm", "token", environ={})  # a secret this process knows

    with pytest.raises(ConfigError) as caught:
        get_secret("pennylane", "token", environ={"ENCOURS_CRM_TOKEN": TOKEN})

    message = str(caught.value)
    assert "`encours init`" in message
    assert "set ENCOURS_PENNYLANE_TOKEN in the environment of the cron job" in message
    assert TOKEN not in message
    assert OTHER not in message
    assert caught.value.exit_code == 78


def test_missing_everywhere_without_a_keyring_says_to_use_the_environment() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())

    with pytest.raises(ConfigError, match="no usable keyring") as caught:
        get_secret("pennylane", "token", environ={})

    assert "set ENCOURS_PENNYLANE_TOKEN in the environment" in str(caught.value)


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "expected"),
    [
        ("pennylane", "token", "ENCOURS_PENNYLANE_TOKEN"),
        ("my-crm.eu", "token", "ENCOURS_MY_CRM_EU_TOKEN"),
        ("Sellsy 2", "client-secret", "ENCOURS_SELLSY_2_CLIENT_SECRET"),
        ("société", "api_key", "ENCOURS_SOCI_T__API_KEY"),
    ],
)
def test_env_names(name: str, key: str, expected: str) -> None:
    assert env_name(name, key) == expected


def test_odd_names_are_read_from_their_environment_variable() -> None:
    environ = {"ENCOURS_MY_CRM_EU_TOKEN": TOKEN}

    assert get_secret("my-crm.eu", "token", environ=environ) == TOKEN


def test_a_secret_needs_a_name_and_a_key() -> None:
    with pytest.raises(ValueError, match="name and a key"):
        env_name("", "token")


# --- storing and deleting -----------------------------------------------------------------


def test_an_empty_value_is_not_stored(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ConfigError, match="empty"):
        set_secret("pennylane", "token", "")

    assert memory_keyring.store == {}


def test_a_backend_that_fails_on_write_gives_a_config_error_without_the_value() -> None:
    keyring.set_keyring(RaisingKeyring(keyring.errors.KeyringLocked("locked")))

    with pytest.raises(ConfigError, match="ENCOURS_PENNYLANE_TOKEN") as caught:
        set_secret("pennylane", "token", TOKEN)

    assert TOKEN not in str(caught.value)
    assert "PasswordSetError: could not store '***'" in str(caught.value)  # echoed, blanked
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


# --- encours check ------------------------------------------------------------------------


def test_keyring_available_names_the_backend() -> None:
    assert keyring_available() == (True, "keyring_memory.MemoryKeyring")


def test_keyring_available_says_why_not_without_a_backend() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())

    assert keyring_available() == (False, "keyring found no backend")


# --- redaction ----------------------------------------------------------------------------


def test_every_value_read_or_stored_is_known_for_redaction(
    memory_keyring: MemoryKeyring,
) -> None:
    set_secret("crm", "token", OTHER)
    get_secret("pennylane", "token", environ={"ENCOURS_PENNYLANE_TOKEN": TOKEN})

    assert known_secrets() == {TOKEN, OTHER}
    assert redact(f"401 for Bearer {TOKEN} and {OTHER}") == "401 for Bearer *** and ***"


def test_redact_replaces_the_longest_secret_first() -> None:
    set_secret("a", "token", "abc")
    set_secret("b", "token", "abcdef")

    assert redact("x abcdef y") == "x *** y"


def test_no_value_ever_reaches_a_log_record_or_an_exception(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    set_secret("pennylane", "token", TOKEN)
    get_secret("pennylane", "token", environ={})
    get_secret("crm", "token", environ={"ENCOURS_CRM_TOKEN": TOKEN})  # not in the keyring
    keyring.set_keyring(RaisingKeyring(RuntimeError("no D-Bus")))
    get_secret("pennylane", "token", environ={"ENCOURS_PENNYLANE_TOKEN": TOKEN})
    for attempt in (
        lambda: set_secret("pennylane", "token", TOKEN),
        lambda: get_secret("pennylane", "token", environ={}),
    ):
        with pytest.raises(ConfigError) as caught:
            attempt()
        texts.append(str(caught.value))
        texts.append(repr(caught.value))

    texts.extend(record.getMessage() for record in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # logging did happen
    assert all(TOKEN not in text for text in texts)


def test_records_are_scrubbed_of_every_known_secret_before_they_are_stored() -> None:
    get_secret("pennylane", "token", environ={"ENCOURS_PENNYLANE_TOKEN": TOKEN})
    echoed = Customer(source="pl", external_id="1", name=f"ACME {TOKEN}", raw=f'{{"t": "{TOKEN}"}}')
    line = LedgerLine("books", "VT/1/L2", "C1", "invoice", "2026-01-10", None, 100, (),
                      False, False, None, None, f"VT\t{TOKEN}")  # fmt: skip
    unfit = Customer(source="pl", external_id="2", name="x", siren="123456789")

    clean, ledger, kept = scrubbed([echoed, line, unfit])

    assert TOKEN not in repr(clean) + repr(ledger)
    assert clean.name == "ACME ***" and clean.raw == '{"t": "***"}'
    assert ledger.raw == "VT\t***" and ledger.amount == 100
    assert kept is unfit  # nothing to mask: the very same record


def test_a_secret_added_during_the_read_is_scrubbed_from_the_next_records() -> None:
    client = HttpClient("https://erp.example.test", auth=None)
    first = Customer(source="t", external_id="1", name="before")
    echoed = Customer(source="t", external_id="2", name="session renewed-key-123")

    stream = scrubbed(iter([first, echoed]))
    assert next(stream) is first
    client.add_secret("renewed-key-123")  # a session renewed after a 401, mid-read

    assert next(stream).name == "session ***"
