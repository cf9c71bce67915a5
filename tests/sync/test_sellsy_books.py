"""Sellsy's books, end to end: `encours sync` on 10 Mar, then `status --json` at 3 dates.

The fake Sellsy holds three companies (every request checked on Sellsy's OpenAPI file):

- Alpha: invoice 1001 (1 200.00, due 4 Feb) cancelled by credit note 3001 (1 200.00,
  20 Jan); invoice 1003 (1 000.00, due 9 Feb) paid on 5 Feb by payment 2001.
- Beta: invoice 1010 (2 000.00, due 14 Feb) paid 500.00 on 31 Jan and 800.00 on 20 Feb;
  invoice 1011 (600.00, due 3 Mar) unpaid; a draft 1012 (450.00, 10 Feb).
- Gamma: deposit invoice 1020 (300.00, due 20 Jan, order 77) paid on 25 Jan; the balance
  invoice 1021 of order 77, issued net of it (700.00, due 17 Mar); a payment of 400.00 on
  3 Mar linked to nothing; a draft credit note 3002 (50.00) and a rejected payment 2006
  (999.00), which count for nothing.

Worked by hand (outstanding = what is due, less what was received or credited by then):

- 31 Jan: Alpha 1 000.00 not due (1001 - 3001 = 0, 1003 due 9 Feb); Beta 2 000 - 500 =
  1 500.00 not due (1011 and the draft are later); Gamma 300 - 300 = 0.
- 28 Feb: Alpha 0 (1003 paid 5 Feb); Beta 1010: 2 000 - 500 - 800 = 700.00 overdue since
  14 Feb (1-30 days), 1011 600.00 not due, 1 300.00 in all, draft 450.00 beside it; Gamma
  1021 700.00 not due.
- 10 Mar: Beta 700.00 + 600.00 (due 3 Mar) = 1 300.00 overdue, 1-30 days; Gamma 700 - 400 =
  300.00: the payment on account goes to its only open invoice (oldest first), not due.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from click.testing import CliRunner
from fakes.pennylane import FakeClock
from fakes.sellsy import SPEC_PATH, FakeSellsy, company, credit_note, invoice, payment

from encours.cli import cli

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="Sellsy's OpenAPI file is absent")

SYNC = datetime(2026, 3, 10, 9, tzinfo=UTC)
ZERO = "0.00"


def books() -> FakeSellsy:
    fake = FakeSellsy(clock=FakeClock(start=SYNC))
    fake.companies = {1: company(1, "Alpha SAS"), 2: company(2, "Beta SARL"),
                      3: company(3, "Gamma SA")}  # fmt: skip
    order = {"parent": {"type": "order", "id": 77}}
    fake.invoices = {
        1001: invoice(1001, 1, "1200.00", on="2026-01-05", due="2026-02-04", status="cancelled"),
        1003: invoice(1003, 1, "1000.00", on="2026-01-10", due="2026-02-09", status="paid"),
        1010: invoice(1010, 2, "2000.000", on="2026-01-15", due="2026-02-14", status="late"),
        1011: invoice(1011, 2, "600.00", on="2026-02-01", due="2026-03-03", status="late"),
        1012: invoice(1012, 2, "450.00", on="2026-02-10", due="2026-03-12", status="draft"),
        1020: invoice(1020, 3, "300.00", on="2026-01-20", due="2026-01-20", status="paid",
                      is_deposit=True, **order),
        1021: invoice(1021, 3, "700.00", on="2026-02-15", due="2026-03-17", **order),
    }  # fmt: skip
    fake.credit_notes = {
        3001: credit_note(3001, 1, "1200.00", on="2026-01-20", status="spent"),
        3002: credit_note(3002, 3, "50.00", on="2026-02-01", status="draft"),
    }
    fake.payments = {
        2001: payment(2001, 1, "1000.00", on="2026-02-05", links=((1003, "1000", "2026-02-05"),)),
        2002: payment(2002, 2, "500.00", on="2026-01-31", links=((1010, "500.00", "2026-01-31"),)),
        2003: payment(2003, 2, "800.00", on="2026-02-20", links=((1010, "800", "2026-02-20"),)),
        2004: payment(2004, 3, "300.00", on="2026-01-25", links=((1020, "300.00", "2026-01-25"),)),
        2005: payment(2005, 3, "400.00", on="2026-03-03"),
        2006: payment(2006, 3, "999.00", on="2026-03-04", status="rejected"),
    }  # fmt: skip
    return fake


def figures(outstanding: str, *, overdue: str = ZERO, not_due: str = ZERO,
            unapplied: str = ZERO, drafts: str = ZERO) -> dict[str, str]:  # fmt: skip
    return {"outstanding": outstanding, "overdue": overdue, "not_due": not_due,
            "unapplied": unapplied, "drafts": drafts, "1-30": overdue}  # fmt: skip


EXPECTED = {
    "2026-01-31": {"1": figures("1000.00", not_due="1000.00"),
                   "2": figures("1500.00", not_due="1500.00"), "3": figures(ZERO)},
    "2026-02-28": {"1": figures(ZERO),
                   "2": figures("1300.00", overdue="700.00", not_due="600.00", drafts="450.00"),
                   "3": figures("700.00", not_due="700.00")},
    "2026-03-10": {"1": figures(ZERO),
                   "2": figures("1300.00", overdue="1300.00", drafts="450.00"),
                   "3": figures("300.00", not_due="300.00")},
}  # fmt: skip


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path: Path = tmp_path_factory.mktemp("sellsy")
    fake = books()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "s.duckdb"\n[sources.sy]\ntype = "sellsy"\n'
        f'client_id = "{fake.client_id}"\n'
        '[targets.out]\ntype = "file"\npath = "out.json"\n',
        encoding="utf-8",
    )
    run = CliRunner(env={"ENCOURS_SY_CLIENT_SECRET": fake.client_secret})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        synced = run.invoke(cli, ["--config", str(config), "sync", "--as-of", "2026-03-10"])
        assert synced.exit_code == 0, synced.output
    assert fake.violations == []
    out: dict[str, Any] = {"calls": [c.path_url for c in fake.calls], "tokens": fake.tokens_issued}
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


def test_a_run_reads_each_list_once_at_100_a_page(outcome: dict[str, Any]) -> None:
    lists = ["/v2/companies", "/v2/individuals", "/v2/invoices", "/v2/credit-notes", "/v2/payments"]
    assert outcome["calls"] == [f"{path}?limit=100" for path in lists]
    assert outcome["tokens"] == 1
