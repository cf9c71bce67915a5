"""Tryton end to end: a real trytond, the real CLI, figures checked against Tryton's own.

The seeded company is described in `scenario.py`: instalments, "45 jours fin de mois", a
partial and a full payment, an unallocated transfer, a deposit recalled and one not, a
credit note, a draft and a validated invoice, overdue items; and the customers of Tryton's
own bookkeeping, checked one by one in `test_tryton_bookkeeping.py`.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from store_tables import read_only
from tryton_helpers import (
    SYNC_PASSWORD,
    admin,
    encours,
    status,
    store_digest,
    today,
    tryton_figures,
    write_config,
)
from trytond_server import TrytonServer

from encours.connectors.tryton.rpc import TrytonRpc
from encours.connectors.tryton.source import OVERLAP, TrytonSource
from encours.model import SourceBalance

INDICATORS = ["encours_outstanding", "encours_overdue", "encours_not_due", "encours_unbilled",
              "encours_unapplied", "encours_oldest_overdue_days", "encours_dso", "encours_as_of",
              "encours_updated_at"]  # fmt: skip


def _parties(server: TrytonServer, fields: list[str] = INDICATORS) -> dict[str, dict]:
    rows = admin(server).model(
        "party.party", "search_read", [["id", "in", [2, 3, 4]]], 0, None, None, fields
    )
    return {str(row["id"]): row for row in rows}


def test_status_agrees_with_tryton_to_the_cent(tryton: TrytonServer, synced: Path) -> None:
    """Every customer's outstanding, overdue and drafts equal Tryton's (mapping in
    `tryton_figures`), and the balance check encours makes says so too."""
    document = status(synced)
    ours = {c["id"]: c for c in document["customers"]}
    theirs = tryton_figures(admin(tryton), today())
    assert set(ours) == set(theirs) == {str(party) for party in (2, 3, 4, *range(6, 14))}
    for party, figures in theirs.items():
        assert Decimal(ours[party]["outstanding"]) == figures["outstanding"], party
        assert Decimal(ours[party]["overdue"]) == figures["overdue"], party
        assert Decimal(ours[party]["drafts"]) == figures["drafts"], party
        assert ours[party]["balance_check"]["difference"] == "0.00", party
    assert document["total"]["balance_check"] == {"checked": 11, "differ": 0}
    # and the figures themselves, worked by hand from the scenario's table
    assert {p: (c["outstanding"], c["overdue"], c["unbilled"], c["unapplied"], c["drafts"])
            for p, c in ours.items() if p in ("2", "3", "4")} == {
        "2": ("3200.00", "2600.00", "0.00", "0.00", "360.00"),  # 1 200 + 1 400 late, 600
        "3": ("3180.00", "1800.00", "0.00", "420.00", "840.00"),  # instalment 1 late; −120 −300
        "4": ("4200.00", "0.00", "0.00", "600.00", "0.00"),  # 4 800 − the deposit not recalled
    }  # fmt: skip


def test_each_invoice_left_to_pay_is_trytons_amount_to_pay(
    tryton: TrytonServer, synced: Path
) -> None:
    """Per posted invoice: its due lines less what reconciliation allocated to them, in the
    store, equal Tryton's `amount_to_pay`."""
    theirs = admin(tryton).model(
        "account.invoice",
        "search_read",
        [["type", "=", "out"], ["state", "in", ["posted", "paid"]], ["total_amount", ">", 0]],
        0,
        None,
        None,
        ["amount_to_pay"],
    )
    with read_only(synced.parent / "encours.duckdb") as db:
        left = dict(
            db.execute(
                "SELECT d.invoice_id, SUM(d.amount) - COALESCE((SELECT SUM(a.amount) FROM "
                "allocations a WHERE a.invoice_id = d.invoice_id), 0) FROM due_lines d "
                "GROUP BY d.invoice_id"
            ).fetchall()
        )
    assert len(theirs) == 19
    for invoice in theirs:
        assert Decimal(left[str(invoice["id"])]) / 100 == invoice["amount_to_pay"], invoice


def test_sync_writes_the_indicators_on_the_parties(tryton: TrytonServer, synced: Path) -> None:
    """Reading the parties back over RPC gives the pushed values, typed."""
    ours = {c["id"]: c for c in status(synced)["customers"]}
    for party, row in _parties(tryton).items():
        assert row["encours_outstanding"] == Decimal(ours[party]["outstanding"])
        assert row["encours_overdue"] == Decimal(ours[party]["overdue"])
        assert row["encours_unapplied"] == Decimal(ours[party]["unapplied"])
        assert row["encours_dso"] == Decimal(ours[party]["dso"])
        assert row["encours_as_of"] == today()
        assert row["encours_updated_at"] is not None
    assert _parties(tryton)["2"]["encours_oldest_overdue_days"] == 70


def test_a_second_sync_writes_nothing(tryton: TrytonServer, synced: Path) -> None:
    """No change in Tryton: no row of the store changes and no party is written."""
    store = synced.parent / "encours.duckdb"
    before, parties_before = store_digest(store), _parties(tryton)
    result = encours(synced, "sync")
    assert result.exit_code == 0, result.output
    assert re.search(r"0 new, 0 changed, \d+ unchanged, 0 quarantined; 0 deleted", result.output)
    assert "target erp: 0 customer(s) updated" in result.output
    assert store_digest(store) == before
    assert _parties(tryton) == parties_before  # encours_updated_at included


def test_one_changed_draft_changes_that_customer_drafts_only(
    tryton: TrytonServer, synced: Path
) -> None:
    """Beta's draft invoice doubles: Beta's drafts follow; no figure written on a party
    changes (a draft is in none of them), so nothing is pushed."""
    rpc = admin(tryton)
    (draft,) = rpc.model(
        "account.invoice", "search_read", [["reference", "=", "CMD-B3"]], 0, 1, None, ["lines"]
    )
    rpc.model("account.invoice.line", "write", draft["lines"], {"quantity": 2})
    (changed,) = rpc.read("account.invoice", [draft["id"]], ["total_amount"])
    assert changed["total_amount"] > Decimal("840.00")  # what Tryton now says it comes to
    before = _parties(tryton)
    result = encours(synced, "sync")
    assert result.exit_code == 0, result.output
    assert "target erp: 0 customer(s) updated" in result.output
    assert _parties(tryton) == before
    beta = {c["id"]: c for c in status(synced)["customers"]}["3"]
    assert Decimal(beta["drafts"]) == changed["total_amount"]
    assert (beta["outstanding"], beta["unbilled"]) == ("3180.00", "0.00")


def test_a_deleted_draft_is_noticed(tryton: TrytonServer, synced: Path) -> None:
    """Tryton keeps no trace of a deleted draft: the count of live invoices drops, and the
    next sync reads everything again and removes it."""
    rpc = admin(tryton)
    (draft,) = rpc.model("account.invoice", "search", [["reference", "=", "CMD-B3"]], 0, 1, None)
    rpc.model("account.invoice", "delete", [draft])
    result = encours(synced, "sync")
    assert result.exit_code == 0, result.output
    assert "1 deleted" in result.output
    beta = {c["id"]: c for c in status(synced)["customers"]}["3"]
    assert (beta["drafts"], beta["unbilled"], beta["outstanding"]) == ("0.00", "0.00", "3180.00")
    assert _parties(tryton)["3"]["encours_unbilled"] == Decimal("0.00")


def test_a_posted_invoice_moves_from_drafts_to_not_due(tryton: TrytonServer, synced: Path) -> None:
    """Posting Alpha's validated invoice: its 360.00 leaves the drafts for not due."""
    rpc = admin(tryton)
    (validated,) = rpc.model(
        "account.invoice", "search", [["reference", "=", "CMD-A4"]], 0, 1, None
    )
    rpc.call("model.account.invoice.post", [validated], {**rpc.context, "_skip_warnings": True})
    result = encours(synced, "sync")
    assert result.exit_code == 0, result.output
    alpha = {c["id"]: c for c in status(synced)["customers"]}["2"]
    assert (alpha["drafts"], alpha["not_due"], alpha["outstanding"]) == (
        "0.00", "960.00", "3560.00",
    )  # fmt: skip
    assert tryton_figures(rpc, today())["2"]["outstanding"] == Decimal("3560.00")
    assert alpha["balance_check"]["source_balance"] == "3560.00"


def test_api_calls_are_what_the_pages_need(tryton: TrytonServer) -> None:
    """A full read: one call per page of each stream, plus login, context, the parties'
    fields, the server's date, the draft moves and the position's count. Nothing changed
    since: four counts, no read."""
    rpc = TrytonRpc(tryton.url, tryton.database, "encours", SYNC_PASSWORD)
    source = TrytonSource("tryton", rpc, currency="EUR")
    pull = source.pull(None)
    records = list(pull.records)
    position = json.loads(pull.position())
    assert len(records) == 94
    assert sum(isinstance(record, SourceBalance) for record in records) == 11
    # login, get_preferences, invoices, other receivable lines, deposit lines, fields_get,
    # read of the 11 parties, the server's date, the draft moves' receivable lines,
    # search_count of live invoices for the position
    assert rpc.calls == 10
    assert position["live"] == 30  # the 32 customer invoices but the 2 cancelled
    rpc.calls = 0
    later = datetime.fromisoformat(position["since"]) + 2 * OVERLAP  # as if an idle night
    quiet = source.pull(json.dumps({"since": later.isoformat(), "live": 30}))
    assert quiet.unchanged
    assert rpc.calls == 4  # live invoices, then changed invoices, lines and parties


def test_the_password_goes_nowhere(
    tryton: TrytonServer, synced: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After syncs, status, check and a refused login: the password is in no output, log
    record or file of the run's folder (config, store and its -wal/-shm, none of them)."""
    caplog.set_level(logging.DEBUG, logger="encours")
    outputs = [encours(synced, *args).output for args in (["sync"], ["status"], ["check"])]
    for output in outputs:
        assert SYNC_PASSWORD not in output
    assert SYNC_PASSWORD not in caplog.text
    for path in synced.parent.rglob("*"):
        if path.is_file():
            assert SYNC_PASSWORD.encode() not in path.read_bytes(), path


def test_a_cancelled_invoice_is_noticed(tryton: TrytonServer, synced: Path) -> None:
    """Alpha's validated invoice cancelled: it leaves the live states, the next sync reads
    everything again and drops it."""
    rpc = admin(tryton)
    (validated,) = rpc.model(
        "account.invoice", "search", [["reference", "=", "CMD-A4"]], 0, 1, None
    )
    rpc.model("account.invoice", "cancel", [validated])
    result = encours(synced, "sync")
    assert result.exit_code == 0, result.output
    assert "1 deleted" in result.output
    alpha = {c["id"]: c for c in status(synced)["customers"]}["2"]
    assert (alpha["drafts"], alpha["outstanding"]) == ("0.00", "3200.00")


def test_credit_limits_come_from_tryton(
    tryton: TrytonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """account_credit_limit's limit gives the share of it used and the hold flag.

    The share is of the exposure: what is owed plus the invoices not yet posted, which the
    customer is about to owe (Alpha's validated 360, Beta's draft 840).
    """
    config = write_config(tmp_path, tryton, monkeypatch)
    with config.open("a", encoding="utf-8") as more:
        more.write('[push]\nindicators = ["outstanding", "credit_used", "on_hold"]\n')
    assert encours(config, "sync").exit_code == 0
    parties = _parties(tryton, ["encours_credit_used", "encours_on_hold"])
    assert parties["2"]["encours_credit_used"] == Decimal("0.7120")  # 3 200 + 360 of 5 000
    assert parties["3"]["encours_credit_used"] == Decimal("0.4020")  # 3 180 + 840 of 10 000
    assert parties["4"]["encours_credit_used"] is None  # Gamma has no limit
    assert not any(party["encours_on_hold"] for party in parties.values())


RISK_FIELDS = ["encours_credit_limit", "encours_exposure", "encours_credit_used",
               "encours_on_hold", "encours_risk_grade", "encours_risk_reason",
               "encours_next_dunning_step"]  # fmt: skip


def _risk(parties: dict[str, dict]) -> dict[str, tuple]:
    return {
        party: (
            row["encours_credit_limit"],
            row["encours_exposure"],
            row["encours_credit_used"],
            bool(row["encours_on_hold"]),  # SQLite gives booleans back as 0 and 1
            row["encours_risk_grade"],
            row["encours_risk_reason"],
            row["encours_next_dunning_step"],
        )
        for party, row in parties.items()
    }


def test_risk_credit_and_next_dunning_step_on_the_parties(
    tryton: TrytonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grade and its main reason, the limit's use, the hold and the dunning plan's next
    step, read back from the parties; then a reminder sent, a dispute and a lower limit.

    Default thresholds and plan (courtesy J−7, friendly J+3, firm J+15, pre_formal J+30,
    formal_notice J+45); T is today, the scenario's dates count from it.
    """
    config = write_config(tmp_path, tryton, monkeypatch)
    with config.open("a", encoding="utf-8") as more:
        more.write(
            '[push]\nindicators = ["credit_limit", "exposure", "credit_used", "on_hold", '
            '"risk_grade", "risk_reason", "next_dunning_step"]\n'
            "[penalties]\nbusiness = false\n"  # no penalty rates needed to send
        )
    assert encours(config, "sync").exit_code == 0
    day = today()

    def on(offset: int) -> str:
        return (day + timedelta(days=offset)).isoformat()

    no_reason = "no measure past its thresholds"
    assert _risk(_parties(tryton, RISK_FIELDS)) == {
        # Alpha: FA-1's 1 200 is 70 days late, 1 200 / (600 + 2 600) = 37.5 % > 25 %: C.
        # FA-1 (due T−70) reached its formal notice at T−25, never sent.
        "2": (Decimal("5000.00"), Decimal("3560.00"), Decimal("0.7120"), False, "C",
              "38 % of its open items are over 60 days late (C from 25 %)",
              f"formal_notice {on(-25)}"),
        # Beta: FA-5 paid 5 days late, nothing 60 days late. FA-4's first instalment (due
        # T−15) reaches its firm reminder today.
        "3": (Decimal("10000.00"), Decimal("4020.00"), Decimal("0.4020"), False, "A",
              no_reason, f"firm {on(0)}"),
        # Gamma: no limit; its deposits paid a day or two late. FA-6, due T+10: courtesy T+3.
        "4": (None, Decimal("4200.00"), None, False, "A", no_reason, f"courtesy {on(3)}"),
    }  # fmt: skip

    # Alpha's letter goes out, listing FA-1 (formal notice) and FA-3 (due T−20: firm); Beta
    # (no address) gets nothing, then disputes; Alpha's limit drops to 3 000.
    sent = encours(config, "dunning", "--send")
    assert sent.exit_code == 0, sent.output
    disputed = encours(config, "dunning", "dispute", "3", "--reason", "remise contestée")
    assert disputed.exit_code == 0, disputed.output
    admin(tryton).model("party.party", "write", [2], {"credit_limit_amount": Decimal(3000)})
    assert encours(config, "sync").exit_code == 0

    after = _risk(_parties(tryton, RISK_FIELDS))
    # Alpha: 3 560 / 3 000 = 118.67 %: on hold, C for the limit too (the lateness stays the
    # main reason, further past its threshold); FA-1 has had every step, FA-3's next is its
    # pre-formal reminder at T+10.
    assert after["2"] == (Decimal("3000.00"), Decimal("3560.00"), Decimal("1.1867"), True, "C",
                          "38 % of its open items are over 60 days late (C from 25 %)",
                          f"pre_formal {on(10)}")  # fmt: skip
    assert after["3"][-1] is None  # disputed: no step coming, the field cleared
    assert after["4"][-1] == f"courtesy {on(3)}"
