"""Dolibarr's books, end to end: `encours sync` on 10 Mar, then `status --json` at 3 dates.

The fake Dolibarr holds three customers (every request checked on the instance's export):

- Alpha: invoice 1001 (1 200.00, due 4 Feb) corrected whole by credit note 1002 (20 Jan);
  invoice 1003 (1 000.00, due 9 Feb) paid on 5 Feb.
- Beta: invoice 1010 (2 000.00, due 14 Feb) paid 500.00 on 31 Jan and 800.00 on 20 Feb;
  invoice 1011 (600.00, due 3 Mar) unpaid; a draft 1012 (450.00, 10 Feb).
- Gamma: deposit invoice 1020 (300.00) paid on 25 Jan; the final invoice 1021 (1 000.00,
  15 Feb, due 17 Mar), the deposit used on it (`totaldeposits`), 700.00 left to pay.

Worked by hand (outstanding = what is due less what was received or credited by then):

- 31 Jan: Alpha 1 000.00 not due (1001 - 1002 = 0); Beta 2 000 - 500 = 1 500.00 not due;
  Gamma -300.00: the deposit received, nothing invoiced yet, unapplied.
- 28 Feb: Alpha 0 (1003 paid 5 Feb); Beta 1010: 2 000 - 1 300 = 700.00 overdue since 14 Feb
  (1-30 days), 1011 600.00 not due, draft 450.00 beside; Gamma 1 000 - 300 = 700.00 not due
  (the advance goes to the customer's only open invoice).
- 10 Mar: Beta 700.00 + 600.00 (due 3 Mar) = 1 300.00 overdue; Gamma 700.00 not due.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from click.testing import CliRunner
from fakes.dolibarr import SPEC_PATH, URL, FakeDolibarr, invoice, paid, thirdparty
from fakes.pennylane import FakeClock

from encours.cli import cli

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="Dolibarr's export is absent")

ZERO = "0.00"


def books() -> FakeDolibarr:
    fake = FakeDolibarr(clock=FakeClock(start=datetime(2026, 3, 10, 9, tzinfo=UTC)))
    fake.thirdparties = {1: thirdparty(1, "Alpha SAS"), 2: thirdparty(2, "Beta SARL"),
                         3: thirdparty(3, "Gamma SA")}  # fmt: skip
    fake.invoices = {
        1001: invoice(1001, 1, "1200.00000000", on="2026-01-05", due="2026-02-04", status=2,
                      totalcreditnotes="1200"),
        1002: invoice(1002, 1, "-1200.00000000", on="2026-01-20", due="2026-01-20", type_=2,
                      status=2, fk_facture_source="1001"),
        1003: invoice(1003, 1, "1000.00", on="2026-01-10", due="2026-02-09", status=2,
                      paid="1000"),
        1010: invoice(1010, 2, "2000.00", on="2026-01-15", due="2026-02-14", paid="1300"),
        1011: invoice(1011, 2, "600.00", on="2026-02-01", due="2026-03-03"),
        1012: invoice(1012, 2, "450.00", on="2026-02-10", due="2026-03-12", status=0),
        1020: invoice(1020, 3, "300.00", on="2026-01-20", due="2026-01-20", type_=3, status=2,
                      paid="300"),
        1021: invoice(1021, 3, "1000.00", on="2026-02-15", due="2026-03-17",
                      totaldeposits="300", remaintopay="700"),
    }  # fmt: skip
    fake.payments = {
        1003: [paid("1000.00000000", "2026-02-05", "PAY2602-0001")],
        1010: [paid("500", "2026-01-31", "PAY2601-02"), paid("800", "2026-02-20", "PAY2602-03")],
        1020: [paid("300", "2026-01-25", "PAY2601-0004")],
    }  # fmt: skip
    return fake


def figures(outstanding: str, *, overdue: str = ZERO, not_due: str = ZERO,
            unapplied: str = ZERO, drafts: str = ZERO) -> dict[str, str]:  # fmt: skip
    return {"outstanding": outstanding, "overdue": overdue, "not_due": not_due,
            "unapplied": unapplied, "drafts": drafts, "1-30": overdue}  # fmt: skip


EXPECTED = {
    "2026-01-31": {"1": figures("1000.00", not_due="1000.00"),
                   "2": figures("1500.00", not_due="1500.00"),
                   "3": figures("-300.00", unapplied="300.00")},
    "2026-02-28": {"1": figures(ZERO),
                   "2": figures("1300.00", overdue="700.00", not_due="600.00", drafts="450.00"),
                   "3": figures("700.00", not_due="700.00")},
    "2026-03-10": {"1": figures(ZERO),
                   "2": figures("1300.00", overdue="1300.00", drafts="450.00"),
                   "3": figures("700.00", not_due="700.00")},
}  # fmt: skip


@pytest.fixture(scope="module", params=[False, True], ids=["empty-list", "legacy-404"])
def outcome(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    tmp_path: Path = tmp_path_factory.mktemp("dolibarr")
    fake = books()
    fake.legacy_404 = request.param
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "s.duckdb"\n[sources.doli]\ntype = "dolibarr"\nurl = "{URL}"\n'
        '[targets.out]\ntype = "file"\npath = "out.json"\n',
        encoding="utf-8",
    )
    run = CliRunner(env={"ENCOURS_DOLI_API_KEY": fake.api_key})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        synced = run.invoke(cli, ["--config", str(config), "sync", "--as-of", "2026-03-10"])
        assert synced.exit_code == 0, synced.output
    assert fake.violations == []
    out: dict[str, Any] = {"calls": [c.path_url.split("?")[0] for c in fake.calls]}
    for day in EXPECTED:
        status = run.invoke(cli, ["--config", str(config), "status", "--json", "--as-of", day])
        assert status.exit_code == 0, status.output
        out[day] = json.loads(status.stdout)
    return out


@pytest.mark.parametrize("day", list(EXPECTED))
def test_every_figure_of_every_customer_to_the_cent(outcome: dict[str, Any], day: str) -> None:
    got = {
        c["id"]: {key: c["aging"][key] if key == "1-30" else c[key] for key in figures(ZERO)}
        for c in outcome[day]["customers"]
    }
    assert got == EXPECTED[day]


def test_a_run_reads_each_list_once_and_the_payments_of_paid_invoices(outcome) -> None:
    api = "/api/index.php"
    assert outcome["calls"] == [f"{api}/thirdparties", f"{api}/invoices"] + [
        f"{api}/invoices/{ident}/payments" for ident in (1003, 1010, 1020)
    ]
