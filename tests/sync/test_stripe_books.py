"""Stripe's books, end to end: `encours sync` twice, then `status --json` at 3 dates.

The fake Stripe moves its invoices, credit notes and customer balances as Stripe does (every
request checked on Stripe's contract). Amounts in cents of EUR. Three customers:

- Alpha: invoice A1 (1 200.00, 10 Jan, due 9 Feb) credited 300.00 before payment (20 Jan),
  the 900.00 left paid on 5 Feb; invoice A2 (500.00, 15 Feb, due 17 Mar) open.
- Beta: 400.00 of credit on its balance (5 Jan), applied by Stripe when B1 (1 000.00,
  15 Jan, due 14 Feb) was finalised: 600.00 due, paid on 4 Mar (after the first sync);
  250.00 more credit on 20 Feb, unapplied.
- Gamma: C1 (800.00, 20 Jan, charged at once) paid on 25 Jan, then credited 150.00 after
  payment, to the customer balance (15 Feb); a draft C2 (450.00, 25 Feb); C3 (100.00,
  6 Mar, after the first sync) paid by 100.00 of that credit, 50.00 left.

Stripe states a balance, not its history: the credit still unapplied is dated the day it is
read (Beta's 250.00 the 2 Mar, Gamma's 50.00 the 10 Mar), so as of 28 Feb neither is seen;
what a finalised invoice used is dated with it (Beta's 400.00 on 15 Jan, Gamma's 100.00 on
6 Mar). The second sync reads the events only.

Worked out by hand (outstanding = residuals - unapplied):

- 31 Jan: Alpha A1 1 200 - 300 = 900 not due (due 9 Feb); Beta B1 1 000 - 400 = 600 not due
  (due 14 Feb); Gamma C1 paid 25 Jan: 0.
- 28 Feb: Alpha A1 paid 5 Feb, A2 500 not due; Beta B1 600 overdue by 14 days (1-30);
  Gamma 0, the draft of 25 Feb beside it: 450.
- 10 Mar: Alpha A2 500 not due; Beta B1 paid 4 Mar, 250 unapplied: -250; Gamma C3 settled
  by the credit, 50 unapplied: -50, the draft 450.
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
from fakes.stripe import FakeStripe, customer, invoice

from encours.cli import cli
from encours.connectors import stripe as stripe_module

FIRST_SYNC = datetime(2026, 3, 2, 9, tzinfo=UTC)
SECOND_SYNC = datetime(2026, 3, 10, 9, tzinfo=UTC)
ZERO = "0.00"


def at(day: str) -> datetime:
    """Noon UTC of an ISO day."""
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def books_until_first_sync() -> FakeStripe:
    fake = FakeStripe(clock=FakeClock(start=FIRST_SYNC))
    names = {"cus_A": "Alpha SAS", "cus_B": "Beta SARL", "cus_C": "Gamma SA"}
    fake.customers = {ident: customer(ident, name) for ident, name in names.items()}
    fake.add_invoice(invoice("in_A1", "cus_A", 120000, created=at("2026-01-10")))
    fake.finalize("in_A1", at("2026-01-10"))
    fake.credit("cn_A1", "in_A1", 30000, at("2026-01-20"))
    fake.pay("in_A1", at("2026-02-05"))
    fake.add_invoice(invoice("in_A2", "cus_A", 50000, created=at("2026-02-15")))
    fake.finalize("in_A2", at("2026-02-15"))

    fake.adjust("cus_B", -40000, at("2026-01-05"))
    fake.add_invoice(invoice("in_B1", "cus_B", 100000, created=at("2026-01-15")))
    fake.finalize("in_B1", at("2026-01-15"))
    fake.adjust("cus_B", -25000, at("2026-02-20"))

    fake.add_invoice(invoice("in_C1", "cus_C", 80000, created=at("2026-01-20"), due_days=None))
    fake.finalize("in_C1", at("2026-01-20"))
    fake.pay("in_C1", at("2026-01-25"))
    fake.credit("cn_C1", "in_C1", 15000, at("2026-02-15"), to_balance=True)
    fake.add_invoice(invoice("in_C2", "cus_C", 45000, created=at("2026-02-25")))
    return fake


def books_until_second_sync(fake: FakeStripe) -> None:
    fake.clock.elapsed = (SECOND_SYNC - FIRST_SYNC).total_seconds()
    fake.pay("in_B1", at("2026-03-04"))
    fake.add_invoice(invoice("in_C3", "cus_C", 10000, created=at("2026-03-06"), due_days=None))
    fake.finalize("in_C3", at("2026-03-06"))


def figures(
    outstanding: str,
    *,
    overdue: str = ZERO,
    not_due: str = ZERO,
    unapplied: str = ZERO,
    drafts: str = ZERO,
    late_1_30: str = ZERO,
) -> dict[str, Any]:
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
        "cus_A": figures("900.00", not_due="900.00"),
        "cus_B": figures("600.00", not_due="600.00"),
        "cus_C": figures(ZERO),
    },
    "2026-02-28": {
        "cus_A": figures("500.00", not_due="500.00"),
        "cus_B": figures("600.00", overdue="600.00", late_1_30="600.00"),
        "cus_C": figures(ZERO, drafts="450.00"),
    },
    "2026-03-10": {
        "cus_A": figures("500.00", not_due="500.00"),
        "cus_B": figures("-250.00", unapplied="250.00"),
        "cus_C": figures("-50.00", unapplied="50.00", drafts="450.00"),
    },
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path: Path = tmp_path_factory.mktemp("stripe")
    fake = books_until_first_sync()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(stripe_module, "_utc_now", fake.clock.now)
        monkeypatch.setenv("ENCOURS_ST_API_KEY", fake.token)
        config = tmp_path / "config.toml"
        config.write_text('[store]\npath = "s.duckdb"\n[sources.st]\ntype = "stripe"\n',
                          encoding="utf-8")  # fmt: skip
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
        for day in EXPECTED:
            status = run.invoke(cli, ["--config", str(config), "status", "--json", "--as-of", day])
            assert status.exit_code == 0, status.output
            out[day] = json.loads(status.stdout)
    return out


@pytest.mark.parametrize("day", list(EXPECTED))
def test_every_figure_of_every_customer_to_the_cent(outcome: dict[str, Any], day: str) -> None:
    got = {c["id"]: {key: c[key] for key in figures(ZERO)} for c in outcome[day]["customers"]}
    assert got == EXPECTED[day]


def test_the_first_sync_reads_the_lists_and_the_second_the_events_only(
    outcome: dict[str, Any],
) -> None:
    first, second = outcome["calls"]
    assert first == ["/v1/customers", "/v1/invoices", "/v1/credit_notes"]  # one page each
    assert second == ["/v1/events"]


def test_the_totals_add_up(outcome: dict[str, Any]) -> None:
    total = outcome["2026-03-10"]["total"]
    assert (total["outstanding"], total["unapplied"], total["drafts"]) == (
        "200.00", "300.00", "450.00")  # fmt: skip
