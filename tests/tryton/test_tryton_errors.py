"""Tryton bad input: each failure says what to do, exits with its code, and loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tryton_helpers import SYNC_PASSWORD, admin, encours, status, store_digest, write_config
from trytond_server import TrytonServer


def _resync_with(
    tryton: TrytonServer, synced: Path, monkeypatch: pytest.MonkeyPatch, **config: str
) -> tuple[int, str]:
    """Sync the same store with another configuration; the store must come out unchanged."""
    store = synced.parent / "encours.duckdb"
    before = store_digest(store)
    write_config(synced.parent, tryton, monkeypatch, **config)
    result = encours(synced, "sync")
    assert store_digest(store) == before
    return result.exit_code, result.output


def test_a_wrong_password(tryton: TrytonServer, synced: Path, monkeypatch) -> None:
    code, output = _resync_with(tryton, synced, monkeypatch, password="not-the-password-42")
    assert code == 78
    assert "Tryton refused the login 'encours'" in output
    assert "encours secrets set tryton password" in output
    assert "not-the-password-42" not in output and SYNC_PASSWORD not in output


def test_a_wrong_database_name(tryton: TrytonServer, synced: Path, monkeypatch) -> None:
    code, output = _resync_with(tryton, synced, monkeypatch, database="compta")
    assert code == 78
    assert "has no database 'compta'" in output


def test_the_server_down(tryton: TrytonServer, synced: Path, monkeypatch) -> None:
    """Connection refused: retried, then a temporary failure (75); the next run catches up."""
    tryton.stop()
    code, output = _resync_with(tryton, synced, monkeypatch)
    assert code == 75
    assert "the connection failed" in output and tryton.url in output
    tryton.start()
    assert encours(synced, "sync").exit_code == 0


def test_the_module_not_installed(
    tryton_without_module: TrytonServer, tmp_path: Path, monkeypatch
) -> None:
    """`check` says how to install the module; `sync` still reads the source, then fails
    on the target with a configuration error."""
    config = write_config(tmp_path, tryton_without_module, monkeypatch)
    checked = encours(config, "check")
    assert checked.exit_code == 78
    assert "ok      source tryton" in checked.output
    assert "FAILED  target erp: the module party_encours is not active" in checked.output
    assert (
        "trytond-admin" in checked.output and "pip install ./tryton/party_encours" in checked.output
    )
    synced = encours(config, "sync")
    assert synced.exit_code == 78, synced.output
    assert {c["id"] for c in status(config)["customers"]} == {
        str(party) for party in (2, 3, 4, *range(6, 14))
    }


def test_a_record_that_fails_validation_is_quarantined(tryton: TrytonServer, synced: Path) -> None:
    """An absurd amount (two billion hours on Beta's draft) waits in quarantine with its
    reason; everything else is read, and the run says so (exit 3)."""
    rpc = admin(tryton)
    (draft,) = rpc.model(
        "account.invoice", "search_read", [["reference", "=", "CMD-B3"]], 0, 1, None, ["lines"]
    )
    rpc.model("account.invoice.line", "write", draft["lines"], {"quantity": 2_000_000_000})
    result = encours(synced, "sync")
    assert result.exit_code == 3, result.output
    assert "1 quarantined" in result.output
    quarantine = encours(synced, "quarantine")
    assert "account.invoice" in quarantine.output
    assert "not a plausible amount" in quarantine.output
    customers = {c["id"]: c for c in status(synced)["customers"]}
    assert customers["2"]["outstanding"] == "3200.00"  # the others are untouched
    assert customers["3"]["overdue"] == "1800.00"
