"""Xero's books, end to end: `encours sync` twice, then `status --json` at 3 dates.

The fake Xero moves its invoices, credit notes, prepayments and overpayments as Xero does
(every request checked on Xero's contract; tokens rotate and are saved in the keyring).
Amounts in EUR. Four customers:

- Alpha: invoice A1 (1 200.00, 10 Jan, due 9 Feb), credit note CN-A of 300.00 allocated to it
  on 20 Jan, the 900.00 left paid on 5 Feb; invoice A2 (500.00, 15 Feb, due 17 Mar) open.
- Beta: a prepayment (acompte) of 400.00 received on 5 Jan, allocated on 20 Jan to B1
  (1 000.00, 15 Jan, due 14 Feb): 600.00 due, paid on 4 Mar (after the first sync).
- Gamma: C1 (800.00, 20 Jan, due 19 Feb) paid on 25 Jan; a credit note CN-C of 150.00 on
  15 Feb, allocated to nothing; 100.00 of it refunded on 6 Mar (after the first sync); a
  draft C2 (450.00, 25 Feb).
- Delta: D1 (300.00, 1 Feb, due 3 Mar) paid on 26 Feb with 50.00 more, which Xero keeps as
  an overpayment; on 8 Mar (after the first sync) D2 (200.00, due 7 Apr), to which the
  overpayment is allocated the same day.

Worked out by hand (outstanding = residuals - unapplied):

- 31 Jan: Alpha A1 1 200 - 300 = 900 not due (due 9 Feb); Beta B1 1 000 - 400 = 600 not due
  (due 14 Feb); Gamma C1 paid 25 Jan: 0; Delta nothing issued yet: 0.
- 28 Feb: Alpha A1 paid 5 Feb, A2 500 not due; Beta B1 600 overdue by 14 days (1-30);
  Gamma CN-C 150 unapplied: -150, the draft 450 beside it; Delta D1 paid, the overpayment
  50 unapplied: -50.
- 10 Mar: Alpha A2 500 not due; Beta B1 paid 4 Mar: 0; Gamma 150 - 100 refunded = 50
  unapplied: -50, the draft 450; Delta D2 200 - 50 = 150 not due.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
import responses
from click.testing import CliRunner
from fakes.pennylane import FakeClock
from fakes.xero import FakeXero, contact, credit, invoice
from keyring_memory import MemoryKeyring

from encours.cli import cli
from encours.connectors import xero as xero_module

FIRST_SYNC = datetime(2026, 3, 2, 9, tzinfo=UTC)
SECOND_SYNC = datetime(2026, 3, 10, 9, tzinfo=UTC)
ZERO = "0.00"


def at(day: str) -> datetime:
    """Noon UTC of an ISO day."""
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def books_until_first_sync() -> FakeXero:
    fake = FakeXero(clock=FakeClock(start=FIRST_SYNC))
    names = {"cA": "Alpha SAS", "cB": "Beta SARL", "cC": "Gamma SA", "cD": "Delta SAS"}
    fake.add("Contacts", *(contact(i, name, updated=at("2025-12-01")) for i, name in names.items()))
    fake.add("Invoices", invoice("A1", "cA", "1200.00", on=at("2026-01-10")))
    fake.add("CreditNotes", credit("CreditNotes", "CN-A", "cA", "300.00", on=at("2026-01-20")))
    fake.allocate("CreditNotes", "CN-A", "A1", "300.00", at("2026-01-20"))
    fake.pay("A1", "900.00", at("2026-02-05"))
    fake.add("Invoices", invoice("A2", "cA", "500.00", on=at("2026-02-15")))

    fake.add("Prepayments", credit("Prepayments", "PB", "cB", "400.00", on=at("2026-01-05")))
    fake.add("Invoices", invoice("B1", "cB", "1000.00", on=at("2026-01-15")))
    fake.allocate("Prepayments", "PB", "B1", "400.00", at("2026-01-20"))

    fake.add("Invoices", invoice("C1", "cC", "800.00", on=at("2026-01-20")))
    fake.pay("C1", "800.00", at("2026-01-25"))
    fake.add("CreditNotes", credit("CreditNotes", "CN-C", "cC", "150.00", on=at("2026-02-15")))
    fake.add("Invoices", invoice("C2", "cC", "450.00", on=at("2026-02-25"), status="DRAFT"))

    fake.add("Invoices", invoice("D1", "cD", "300.00", on=at("2026-02-01"), due_days=30))
    fake.pay("D1", "300.00", at("2026-02-26"))
    fake.add("Overpayments", credit("Overpayments", "OD", "cD", "50.00", on=at("2026-02-26")))
    return fake


def books_until_second_sync(fake: FakeXero) -> None:
    fake.clock.elapsed = (SECOND_SYNC - FIRST_SYNC).total_seconds()
    fake.pay("B1", "600.00", at("2026-03-04"))
    fake.refund("CreditNotes", "CN-C", "100.00", at("2026-03-06"))
    fake.add("Invoices", invoice("D2", "cD", "200.00", on=at("2026-03-08")))
    fake.allocate("Overpayments", "OD", "D2", "50.00", at("2026-03-08"))


def figures(outstanding: str, *, overdue: str = ZERO, not_due: str = ZERO, unapplied: str = ZERO,
            drafts: str = ZERO, late_1_30: str = ZERO) -> dict[str, Any]:  # fmt: skip
    """The figures of one customer, as `status --json` writes them."""
    return {
        "outstanding": outstanding, "overdue": overdue, "not_due": not_due, "unbilled": ZERO,
        "unapplied": unapplied, "drafts": drafts,
        "aging": {"unapplied": f"-{unapplied}" if unapplied != ZERO else ZERO,
                  "unbilled": ZERO, "not_due": not_due, "1-30": late_1_30, "31-60": ZERO,
                  "61-90": ZERO, "90+": ZERO},
    }  # fmt: skip


EXPECTED = {
    "2026-01-31": {
        "cA": figures("900.00", not_due="900.00"),
        "cB": figures("600.00", not_due="600.00"),
        "cC": figures(ZERO),
        "cD": figures(ZERO),
    },
    "2026-02-28": {
        "cA": figures("500.00", not_due="500.00"),
        "cB": figures("600.00", overdue="600.00", late_1_30="600.00"),
        "cC": figures("-150.00", unapplied="150.00", drafts="450.00"),
        "cD": figures("-50.00", unapplied="50.00"),
    },
    "2026-03-10": {
        "cA": figures("500.00", not_due="500.00"),
        "cB": figures(ZERO),
        "cC": figures("-50.00", unapplied="50.00", drafts="450.00"),
        "cD": figures("150.00", not_due="150.00"),
    },
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path: Path = tmp_path_factory.mktemp("xero")
    fake = books_until_first_sync()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(xero_module, "_utc_now", fake.clock.now)
        monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
        memory = MemoryKeyring()
        keyring.set_keyring(memory)
        memory.set_password("encours", "xe.client_secret", fake.client_secret)
        memory.set_password("encours", "xe.refresh_token", fake.refresh_token)
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "s.duckdb"\n[sources.xe]\ntype = "xero"\n'
            f'tenant_id = "{fake.tenant}"\nclient_id = "{fake.client_id}"\n',
            encoding="utf-8",
        )
        run = CliRunner()
        out: dict[str, Any] = {"calls": []}
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake.register(rsps)
            for as_of, then in (("2026-03-02", books_until_second_sync), ("2026-03-10", None)):
                result = run.invoke(cli, ["--config", str(config), "sync", "--no-push",
                                          "--as-of", as_of])  # fmt: skip
                assert result.exit_code == 0, result.output
                out["calls"].append(fake.paths())
                fake.calls.clear()
                if then:
                    then(fake)
        assert fake.violations == []
        out["kept"] = memory.get_password("encours", "xe.refresh_token") == fake.refresh_token
        out["exchanges"] = fake.token_calls
        for day in EXPECTED:
            status = run.invoke(cli, ["--config", str(config), "status", "--json", "--as-of", day])
            assert status.exit_code == 0, status.output
            out[day] = json.loads(status.stdout)
    return out


@pytest.mark.parametrize("day", list(EXPECTED))
def test_every_figure_of_every_customer_to_the_cent(outcome: dict[str, Any], day: str) -> None:
    got = {c["id"]: {key: c[key] for key in figures(ZERO)} for c in outcome[day]["customers"]}
    assert got == EXPECTED[day]


def test_the_first_sync_reads_each_list_once_and_the_second_the_changes(
    outcome: dict[str, Any],
) -> None:
    lists = ["Contacts", "Invoices", "CreditNotes", "Prepayments", "Overpayments"]
    first, second = outcome["calls"]
    assert first == lists  # one page each
    assert second == [*lists, "Payments"]  # If-Modified-Since, and the deleted payments


def test_each_run_saved_the_refresh_token_xero_rotated(outcome: dict[str, Any]) -> None:
    assert outcome["kept"] and outcome["exchanges"] == 2


def test_the_totals_add_up(outcome: dict[str, Any]) -> None:
    total = outcome["2026-03-10"]["total"]
    assert (total["outstanding"], total["unapplied"], total["drafts"]) == (
        "600.00", "50.00", "450.00")  # fmt: skip
