"""What is PostgreSQL's own in the store: the dialect rewritten, the connection, the lock, config.

The store's behaviour itself is tested on both engines by the store, reconciliation and
indicator tests (`store_url`); these are the parts only PostgreSQL has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from postgres_server import PASSWORD, PostgresServer

from encours.connectors.fec import FecConnector
from encours.demo.fecgen import FecSpec
from encours.demo.fecgen import write_fec as write_generated
from encours.errors import AlreadyRunningError, ConfigError, StoreBusyError
from encours.model import PaymentTerms
from encours.sync.config import load_settings
from encours.sync.lock import AdvisoryLock, RunLock, run_lock
from encours.sync.secrets import set_secret
from encours.sync.store import Store
from encours.sync.store.postgres import label, to_postgres


def test_the_module_docstring_example() -> None:
    assert to_postgres("SELECT amount // 100, '?' FROM t WHERE id = ?", with_parameters=True) == [
        "SELECT amount / 100, '?' FROM t WHERE id = %s"
    ]


def test_named_parameters_percent_and_temp_tables() -> None:
    sql = "CREATE OR REPLACE TEMP TABLE t AS SELECT x % 2, '$kept' FROM s WHERE a = $source"
    assert to_postgres(sql, with_parameters=True) == [
        "DROP TABLE IF EXISTS t",
        "CREATE TEMP TABLE t AS SELECT x %% 2, '$kept' FROM s WHERE a = %(source)s",
    ]


def test_without_parameters_only_division_and_temp_tables_change() -> None:
    sql = "SELECT x % 2, a // b -- what? $x\nFROM t"
    assert to_postgres(sql, with_parameters=False) == ["SELECT x % 2, a / b -- what? $x\nFROM t"]


def test_messages_name_the_url_without_a_password() -> None:
    assert label("postgresql://me:s3cret@db/books") == "postgresql://me@db/books"


def test_the_password_may_come_from_the_keyring(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PGPASSWORD")
    set_secret("store", "password", PASSWORD)
    store = Store.open(tmp_path / "s.duckdb", url=postgres_url)
    store.close()
    assert not (tmp_path / "s.duckdb").exists()  # nothing but the spools go beside it


def test_a_wrong_password_is_a_config_error_that_does_not_echo_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(ConfigError, match="refused the connection") as caught:
        Store.open(tmp_path / "s.duckdb", url=postgres_url)
    assert "not-the-password" not in str(caught.value)


def test_a_server_that_is_down_is_busy_not_a_traceback(tmp_path: Path) -> None:
    url = f"postgresql://encours@/db?host={tmp_path}"  # no server listens there
    with pytest.raises(StoreBusyError, match="cannot be reached"):
        Store.open(tmp_path / "s.duckdb", url=url)


def test_a_database_not_ordering_by_code_point_is_refused(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(postgres_server.url(), password=PASSWORD, autocommit=True) as admin:
        admin.execute(
            "CREATE DATABASE by_language TEMPLATE template0 LOCALE 'C' "
            "LOCALE_PROVIDER icu ICU_LOCALE 'fr-FR'"
        )
    with pytest.raises(ConfigError, match=r"C \(ICU\).*LC_COLLATE 'C'"):
        Store.open(tmp_path / "s.duckdb", url=postgres_server.url("by_language"))


def test_one_sync_at_a_time_per_store(postgres_url: str) -> None:
    with AdvisoryLock(postgres_url):
        with pytest.raises(AlreadyRunningError, match="encours sync pid"):
            AdvisoryLock(postgres_url).__enter__()
    with AdvisoryLock(postgres_url):  # released with its holder
        pass


def test_the_lock_follows_the_store(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{postgres_url}"\n', encoding="utf-8")
    assert isinstance(run_lock(load_settings(config).store), AdvisoryLock)
    config.write_text('[store]\npath = "s.duckdb"\n', encoding="utf-8")
    assert isinstance(run_lock(load_settings(config).store), RunLock)


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ('path = "s.duckdb"\nurl = "postgresql://me@db/books"', "not both"),
        ('url = "postgresql://me:pw@db/books"', "password never goes"),
        ('url = "postgresql://me@db/books?password=pw"', "password never goes"),
        ('url = "mysql://me@db/books"', "PostgreSQL URL"),
    ],
)
def test_bad_store_settings_are_refused(tmp_path: Path, store: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[store]\n{store}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(config)
    assert ":pw@" not in str(caught.value) and "password=pw" not in str(caught.value)


def test_a_fecs_lines_are_kept_in_postgresql_as_in_the_embedded_store(
    postgres_url: str, tmp_path: Path
) -> None:
    fec = tmp_path / "books.fec"
    with fec.open("w", encoding="utf-8", newline="") as out:
        write_generated(out, FecSpec(invoices=200, customers=8, seed=5))
    kept = {}
    for engine, url in (("duckdb", None), ("postgresql", postgres_url)):
        store = Store.open(tmp_path / engine / "s.duckdb", url=url)
        try:
            source = FecConnector("books", fec, currency="EUR", default_terms=PaymentTerms.net(30))
            ledger = store.read_ledger("books", source.stage)
            with store.transaction():
                run_id = store.start_run(date(2026, 11, 1), datetime(2026, 11, 1, tzinfo=UTC))
                store.write_ledger(
                    "books", ledger, company_currency="EUR", run_id=run_id, replace_all=True
                )
            kept[engine] = [
                store.db.execute(f"SELECT * FROM {table} ORDER BY number").fetchall()  # noqa: S608
                for table in ("ledger_text", "ledger_line_entries")
            ] + [store.db.execute("SELECT count(*) FROM sales WHERE raw IS NULL").fetchall()]
        finally:
            store.close()

    assert kept["postgresql"] == kept["duckdb"]
    lines, entries, sales = kept["duckdb"]
    assert len(lines) == fec.read_text(encoding="utf-8").count("\n") - 1  # all but the header
    assert entries and sales[0][0] > 0
