"""Real Pennylane bookkeeping, end to end: `encours sync` twice, then `status --json` at 3 dates.

The fake Pennylane keeps its books as Pennylane does (remaining amounts, statuses and
`updated_at` move when a transaction is matched or a credit note linked; every request is
checked on the OpenAPI file). Three customers:

- Alpha: invoice 1001 (1 200.00) cancelled by credit note 1002; invoice 1003 (1 000.00)
  credited 300.00 by note 1004, the rest paid by a transfer of 5 Feb that was matched only on
  5 Mar, after the first sync.
- Beta: invoice 1010 (2 000.00) paid in three instalments (31 Jan, 20 Feb, 4 Mar); invoice
  1011 (600.00) relabelled on 6 Mar, nothing paid; a draft 1012 (450.00).
- Gamma: invoice 1020 (800.00) paid on 3 Mar; credit note 1021 (150.00) linked to nothing.

The first sync (2 Mar, a full read) and the second (10 Mar, from the changelogs) give the
figures as of 31 Jan, 28 Feb and 10 Mar, every one to the cent, and Pennylane's own trial
balance agrees with the outstanding of each customer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from click.testing import CliRunner
from fakes.pennylane import SPEC_PATH, FakeClock, FakePennylane, customer, invoice

from encours.cli import cli
from encours.connectors import pennylane as pennylane_module

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent")

FIRST_SYNC = datetime(2026, 3, 2, 9, tzinfo=UTC)
SECOND_SYNC = datetime(2026, 3, 10, 9, tzinfo=UTC)
ZERO = "0.00"


def at(day: str) -> datetime:
    """Noon UTC of an ISO day: when a change was recorded in Pennylane."""
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def books_until_first_sync() -> FakePennylane:
    fake = FakePennylane(clock=FakeClock(start=FIRST_SYNC))
    fake.customers = {
        1: customer(1, "Alpha SAS"),
        2: customer(2, "Beta SARL"),
        3: customer(3, "Gamma SA"),
    }
    fake.invoices = {
        1001: invoice(1001, 1, "1200.00", date="2026-01-05", deadline="2026-02-04"),
        1002: invoice(1002, 1, "-1200.00", status="credit_note", date="2026-01-20"),
        1003: invoice(1003, 1, "1000.00", date="2026-01-10", deadline="2026-02-09"),
        1004: invoice(1004, 1, "-300.00", status="credit_note", date="2026-01-25"),
        1010: invoice(1010, 2, "2000.00", date="2026-01-15", deadline="2026-02-14"),
        1011: invoice(1011, 2, "600.00", date="2026-02-01", deadline="2026-03-03"),
        1012: invoice(
            1012, 2, "450.00", date="2026-02-10", deadline="2026-03-12", draft=True, status="draft"
        ),
        1020: invoice(1020, 3, "800.00", date="2026-01-20", deadline="2026-02-19"),
        1021: invoice(1021, 3, "-150.00", status="credit_note", date="2026-02-15"),
    }
    fake.link_credit_note(1002, 1001, at=at("2026-01-20"))
    fake.link_credit_note(1004, 1003, at=at("2026-01-25"))
    fake.match(1010, 2002, on="2026-01-31", amount="500.00", recorded_at=at("2026-02-01"))
    fake.match(1010, 2003, on="2026-02-20", amount="800.00", recorded_at=at("2026-02-21"))
    return fake


def books_until_second_sync(fake: FakePennylane) -> None:
    fake.clock.elapsed = (SECOND_SYNC - FIRST_SYNC).total_seconds()
    # Paid on 5 Feb, matched only on 5 Mar: Pennylane's updated_at says 5 Mar.
    fake.match(1003, 2001, on="2026-02-05", amount="700.00", recorded_at=at("2026-03-05"))
    fake.match(1010, 2004, on="2026-03-04", amount="700.00", recorded_at=at("2026-03-04"))
    fake.match(1020, 2005, on="2026-03-03", amount="800.00", recorded_at=at("2026-03-03"))
    fake.relabel(1011, at=at("2026-03-06"))


def figures(
    outstanding: str,
    *,
    overdue: str = ZERO,
    not_due: str = ZERO,
    unapplied: str = ZERO,
    drafts: str = ZERO,
    late_1_30: str = ZERO,
) -> dict[str, Any]:
    """The figures of one customer, as `status --json` writes them (no 4181 in Pennylane)."""
    return {
        "outstanding": outstanding,
        "overdue": overdue,
        "not_due": not_due,
        "unbilled": ZERO,
        "unapplied": unapplied,
        "drafts": drafts,
        "aging": {
            "unapplied": f"-{unapplied}" if unapplied != ZERO else ZERO,
            "unbilled": ZERO,
            "not_due": not_due,
            "1-30": late_1_30,
            "31-60": ZERO,
            "61-90": ZERO,
            "90+": ZERO,
        },
    }


EXPECTED = {
    # 31 Jan: 1001 cancelled (20 Jan), 1003 credited 300.00; Beta's first instalment; Gamma's
    # credit note not issued yet; the draft is dated 10 Feb.
    "2026-01-31": {
        "1": figures("700.00", not_due="700.00"),
        "2": figures("1500.00", not_due="1500.00"),
        "3": figures("800.00", not_due="800.00"),
    },
    # 28 Feb: Alpha's transfer of 5 Feb counts though it was matched on 5 Mar; Beta's 700.00
    # of 4 Mar and Gamma's 800.00 of 3 Mar do not.
    "2026-02-28": {
        "1": figures(ZERO),
        "2": figures(
            "1300.00", overdue="700.00", not_due="600.00", drafts="450.00", late_1_30="700.00"
        ),
        "3": figures("650.00", overdue="800.00", unapplied="150.00", late_1_30="800.00"),
    },
    # 10 Mar: the relabel of 1011 paid nothing; Gamma keeps its unapplied credit.
    "2026-03-10": {
        "1": figures(ZERO),
        "2": figures("600.00", overdue="600.00", drafts="450.00", late_1_30="600.00"),
        "3": figures("-150.00", unapplied="150.00"),
    },
}


def sync_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    fake = books_until_first_sync()
    monkeypatch.setattr(pennylane_module, "_utc_now", fake.clock.now)
    monkeypatch.setenv("ENCOURS_PL_TOKEN", fake.token)
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n[sources.pl]\ntype = "pennylane"\n'
        '[targets.out]\ntype = "file"\npath = "out.json"\n',
        encoding="utf-8",
    )
    run = CliRunner()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        first = run.invoke(cli, ["--config", str(config), "sync", "--as-of", "2026-03-02"])
        assert first.exit_code == 0, first.output
        books_until_second_sync(fake)
        fake.calls.clear()
        second = run.invoke(cli, ["--config", str(config), "sync", "--as-of", "2026-03-10"])
        assert second.exit_code == 0, second.output
    assert fake.violations == []
    out: dict[str, Any] = {"calls": [str(c.path_url) for c in fake.calls]}
    for day in EXPECTED:
        status = run.invoke(cli, ["--config", str(config), "status", "--json", "--as-of", day])
        assert status.exit_code == 0, status.output
        out[day] = json.loads(status.stdout)
    return out


@pytest.fixture
def outcome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return sync_and_status(tmp_path, monkeypatch)


@pytest.mark.parametrize("day", list(EXPECTED))
def test_every_figure_of_every_customer_to_the_cent(outcome: dict[str, Any], day: str) -> None:
    got = {c["id"]: {key: c[key] for key in figures(ZERO)} for c in outcome[day]["customers"]}
    assert got == EXPECTED[day]


def test_the_totals_add_up_and_the_draft_is_beside_them(outcome: dict[str, Any]) -> None:
    total = outcome["2026-02-28"]["total"]
    assert (total["outstanding"], total["drafts"], total["unapplied"]) == (
        "1950.00",
        "450.00",
        "150.00",
    )


def test_pennylane_trial_balance_agrees_with_every_customer(outcome: dict[str, Any]) -> None:
    status = outcome["2026-03-10"]
    assert status["total"]["balance_check"] == {"checked": 3, "differ": 0}
    checks = {c["id"]: c["balance_check"] for c in status["customers"]}
    assert {k: (v["as_of"], v["source_balance"], v["difference"]) for k, v in checks.items()} == {
        "1": ("2026-03-10", "0.00", "0.00"),
        "2": ("2026-03-10", "600.00", "0.00"),
        "3": ("2026-03-10", "-150.00", "0.00"),
    }


def test_the_second_sync_dates_only_what_changed(outcome: dict[str, Any]) -> None:
    settled = sorted(
        path.split("?")[0].removeprefix("/api/external/v2")
        for path in outcome["calls"]
        if "/matched_transactions" in path or "/payments" in path
    )
    assert settled == [
        "/customer_invoices/1003/matched_transactions",
        "/customer_invoices/1010/matched_transactions",
        "/customer_invoices/1020/matched_transactions",
    ]  # 1011 (relabelled, nothing paid) costs nothing
    # 2 changelogs, the 5 changed documents (1 page: 1004 moved with 1003), the credit notes
    # dated since 10 Jan (1), 3 settlements, then for the balance: the 3 customers touched (1),
    # fiscal years (1), their accounts (1), the trial balance (1).
    assert len(outcome["calls"]) == 2 + 1 + 1 + 3 + 4


def test_a_night_with_nothing_changed_costs_the_two_changelogs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = books_until_first_sync()
    monkeypatch.setattr(pennylane_module, "_utc_now", fake.clock.now)
    monkeypatch.setenv("ENCOURS_PL_TOKEN", fake.token)
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n[sources.pl]\ntype = "pennylane"\n', encoding="utf-8"
    )
    made = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        for _ in range(2):
            before = len(fake.calls)
            result = CliRunner().invoke(cli, ["--config", str(config), "sync", "--no-push"])
            assert result.exit_code == 0, result.output
            made.append(len(fake.calls) - before)
            fake.clock.elapsed += timedelta(days=1).total_seconds()
    # The full read: customers, invoices (1 page each), 2 paid invoices' transactions (1003
    # is all credited, 1001 too), the balance (3).
    assert made == [1 + 1 + 1 + 3, 2]
