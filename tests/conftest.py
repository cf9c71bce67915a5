"""Shared test configuration.

This folder is not a package, so pytest puts it on `sys.path` while it loads this file:
test modules in sub-folders can then import the helpers beside it (`from fec_files import ...`).

Every test runs against an in-memory keyring (`keyring_memory.py`): the real system keyring
is never asked for anything. Every test speaks English unless it sets LANG itself: what a
developer's own locale says never changes a test's outcome.

`store_url` runs a test once on the embedded store (None) and once on a real PostgreSQL
server (`postgres_server.py`: started once for the session, a fresh database each test);
the PostgreSQL run skips, saying why, where the server cannot be had. `scratch_stores`
makes new empty stores on the engine `store_url` names, one a case (`scratch_stores.py`).
"""

from collections.abc import Iterator

import keyring
import keyring.core
import pytest
from keyring_memory import MemoryKeyring
from postgres_server import PASSWORD, PostgresServer, server_binaries
from scratch_stores import ScratchStores

from encours.connectors import held_secrets
from encours.sync import secrets


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """Install the in-memory keyring; monkeypatch restores whatever `keyring` held before."""
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    monkeypatch.setattr(secrets, "_warned", False)
    monkeypatch.setattr(secrets, "_broken", None)
    monkeypatch.setattr(secrets, "_known", set())
    monkeypatch.setattr(held_secrets, "_HELD", set())
    for variable in ("ENCOURS_PENNYLANE_TOKEN", "ENCOURS_MY_CRM_EU_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    return memory


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a machine with no locale set: `status` and the others in English."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server for the whole session."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (psycopg) is not installed")
    binaries, why = server_binaries()
    if binaries is None:
        pytest.skip(why)
    server = PostgresServer(binaries)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a new empty database; its password in PGPASSWORD, as libpq reads it."""
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    return postgres_server.database()


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None (the embedded DuckDB file), then the URL of a new PostgreSQL database."""
    if request.param == "duckdb":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def scratch_stores(store_url: str | None) -> Iterator[ScratchStores]:
    """New empty stores on DuckDB, then on PostgreSQL; the last one closed at the end."""
    stores = ScratchStores(store_url)
    yield stores
    stores.close()
