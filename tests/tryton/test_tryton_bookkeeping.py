"""What Tryton's own wizards book, read as the ledger has it, on a real trytond.

One customer a case, seeded by `scenario.py`: an overpayment (Delta), invoices cancelled
outright and by a credit note (Epsilon), credit notes put in invoices' payment lines (Zeta),
drafts (Eta), a write-off (Theta), refunds paid out of credit notes (Iota), one transfer for
two invoices (Kappa). Each test syncs with the real CLI and checks every figure of
`status --json` for the customer, with Tryton's own `party.receivable` as the oracle
(`tryton_figures`) and the balance check encours makes against it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from store_tables import read_only
from tryton_helpers import admin, encours, status, today, tryton_figures, tryton_today
from trytond_server import TrytonServer

DELTA, EPSILON, ZETA, ETA, THETA, IOTA, KAPPA, LAMBDA = (str(party) for party in range(6, 14))
BUCKETS = ("unapplied", "unbilled", "not_due", "1-30", "31-60", "61-90", "90+")


def _customer(config: Path, party: str) -> dict[str, Any]:
    return {c["id"]: c for c in status(config)["customers"]}[party]


def _expect(
    customer: dict[str, Any],
    *,
    overdue: dict[str, str] | None = None,
    not_due: str = "0.00",
    unapplied: str = "0.00",
    drafts: str = "0.00",
) -> None:
    """Every figure of the customer: its overdue by bucket, the rest, and their sums."""
    late = overdue or {}
    aging = {bucket: "0.00" for bucket in BUCKETS} | late
    aging.update({"unapplied": f"{-Decimal(unapplied):.2f}", "not_due": not_due})
    total_late = sum((Decimal(v) for v in late.values()), Decimal(0))
    outstanding = total_late + Decimal(not_due) - Decimal(unapplied)
    assert customer["aging"] == aging
    assert {key: customer[key] for key in ("overdue", "not_due", "unbilled", "unapplied")} == {
        "overdue": f"{total_late:.2f}",
        "not_due": not_due,
        "unbilled": "0.00",
        "unapplied": unapplied,
    }
    assert (customer["outstanding"], customer["drafts"]) == (f"{outstanding:.2f}", drafts)


def _agrees_with_tryton(tryton: TrytonServer, customer: dict[str, Any]) -> None:
    """Tryton's receivable (less deposits with VAT) and drafts; encours' own check agrees.

    The check is Tryton's balance as of Tryton's day, which is its company's (Europe/Paris)
    and so may already be tomorrow here.
    """
    rpc = admin(tryton)
    theirs = tryton_figures(rpc, today())[customer["id"]]
    assert Decimal(customer["outstanding"]) == theirs["outstanding"]
    assert Decimal(customer["overdue"]) == theirs["overdue"]
    assert Decimal(customer["drafts"]) == theirs["drafts"]
    check = customer["balance_check"]
    assert check["as_of"] == tryton_today(rpc).isoformat()
    assert (check["source_balance"], check["outstanding"], check["difference"]) == (
        customer["outstanding"],
        customer["outstanding"],
        "0.00",
    )


def _sync(config: Path) -> None:
    result = encours(config, "sync")
    assert result.exit_code == 0, result.output
    assert "balance check: 0 of" in result.output


def _credit_kinds(config: Path, party: str) -> list[tuple[str, int]]:
    with read_only(config.parent / "encours.duckdb") as db:
        return db.execute(
            "SELECT kind, amount FROM credits WHERE customer_id = ? ORDER BY amount", (party,)
        ).fetchall()


def test_an_overpayment_is_unapplied_money(tryton: TrytonServer, synced: Path) -> None:
    """Delta paid 1 500.00 for 1 200.00: 300.00 unapplied against the 600.00 not due."""
    delta = _customer(synced, DELTA)
    _expect(delta, not_due="600.00", unapplied="300.00")
    _agrees_with_tryton(tryton, delta)


def test_an_overpayment_applied_in_tryton_is_applied(tryton: TrytonServer, synced: Path) -> None:
    """The accountant puts the 300.00 in FA CMD-D2's payment lines: the next (incremental)
    sync applies it there, though only the invoice was written."""
    rpc = admin(tryton)
    (later,) = rpc.model("account.invoice", "search", [["reference", "=", "CMD-D2"]], 0, 1, None)
    (over,) = rpc.model(
        "account.move.line",
        "search",
        [
            ["party", "=", int(DELTA)],
            ["credit", "=", Decimal("300")],
            ["reconciliation", "=", None],
        ],
        0,
        1,
        None,
    )
    rpc.model("account.invoice", "write", [later], {"payment_lines": [["add", [over]]]})
    _sync(synced)
    delta = _customer(synced, DELTA)
    _expect(delta, not_due="300.00")
    _agrees_with_tryton(tryton, delta)


def test_cancelled_invoices_cancel_out(tryton: TrytonServer, synced: Path) -> None:
    """Epsilon: CMD-E1 cancelled outright and CMD-E3 credited with refund count for nothing;
    CMD-E2 (600.00, due 15 days ago) is all it owes, and no money is unapplied."""
    epsilon = _customer(synced, EPSILON)
    _expect(epsilon, overdue={"1-30": "600.00"})
    _agrees_with_tryton(tryton, epsilon)
    assert _credit_kinds(synced, EPSILON) == [("credit_note", 48000)]  # the refund's, applied


def test_a_posted_invoice_cancelled_after_a_sync(tryton: TrytonServer, synced: Path) -> None:
    """Kappa's open CMD-K3 (360.00) cancelled in Tryton: read again whole, it is gone, and
    its reversal is no payment."""
    rpc = admin(tryton)
    (open_one,) = rpc.model("account.invoice", "search", [["reference", "=", "CMD-K3"]], 0, 1, None)
    rpc.model("account.invoice", "cancel", [open_one])
    result = encours(synced, "sync")
    assert result.exit_code == 0, result.output
    assert "deleted" in result.output
    kappa = _customer(synced, KAPPA)
    _expect(kappa)
    _agrees_with_tryton(tryton, kappa)


def test_credit_notes_in_payment_lines_count_once(tryton: TrytonServer, synced: Path) -> None:
    """Zeta: AV-Z1 (300.00) applied to CMD-Z1 (1 800.00, 40 days late), AV-Z2 (120.00) to
    CMD-Z2 (120.00): 1 500.00 late, nothing unapplied."""
    zeta = _customer(synced, ZETA)
    _expect(zeta, overdue={"31-60": "1500.00"})
    _agrees_with_tryton(tryton, zeta)


def test_a_credit_note_put_in_payment_lines_after_a_sync(
    tryton: TrytonServer, synced: Path
) -> None:
    """Beta's open credit note AV-B1 (120.00) put in CMD-B1's payment lines: the next sync
    applies it to the first instalment (the credit note itself was not written)."""
    rpc = admin(tryton)
    (credit,) = rpc.model(
        "account.invoice", "search_read", [["reference", "=", "AV-B1"]], 0, 1, None,
        ["lines_to_pay"],
    )  # fmt: skip
    (project,) = rpc.model("account.invoice", "search", [["reference", "=", "CMD-B1"]], 0, 1, None)
    rpc.model(
        "account.invoice", "write", [project], {"payment_lines": [["add", credit["lines_to_pay"]]]}
    )
    _sync(synced)
    beta = _customer(synced, "3")
    _expect(beta, overdue={"1-30": "1680.00"}, not_due="1800.00", unapplied="300.00",
            drafts="840.00")  # fmt: skip
    _agrees_with_tryton(tryton, beta)


def test_drafts_are_beside_the_figures(tryton: TrytonServer, synced: Path) -> None:
    """Eta: an undated draft (120.00), a validated invoice (240.00), a draft credit note:
    drafts 360.00, every other figure zero, as Tryton's receivable."""
    eta = _customer(synced, ETA)
    _expect(eta, drafts="360.00")
    _agrees_with_tryton(tryton, eta)


def test_a_write_off_is_no_receipt(tryton: TrytonServer, synced: Path) -> None:
    """Theta: CMD-T1 paid 590.00 and 10.00 written off, settled; CMD-T2 (300.00) not due.
    The write-off is a credit note, not cash."""
    theta = _customer(synced, THETA)
    _expect(theta, not_due="300.00")
    _agrees_with_tryton(tryton, theta)
    assert _credit_kinds(synced, THETA) == [("credit_note", 1000), ("payment", 59000)]


def test_refunds_paid_out_of_credit_notes(tryton: TrytonServer, synced: Path) -> None:
    """Iota: AV-I1 (240.00) paid back whole, AV-I2 (120.00) paid back 50.00: 70.00 of
    credit left, nothing late (the refunds are settled by their credit notes)."""
    iota = _customer(synced, IOTA)
    _expect(iota, unapplied="70.00")
    _agrees_with_tryton(tryton, iota)


def test_one_transfer_for_two_invoices(tryton: TrytonServer, synced: Path) -> None:
    """Kappa: one transfer of 360.00 reconciled with CMD-K1 and CMD-K2; CMD-K3 not due."""
    kappa = _customer(synced, KAPPA)
    _expect(kappa, not_due="360.00")
    _agrees_with_tryton(tryton, kappa)


def test_a_transfer_reconciled_with_one_instalment_settles_that_one(
    tryton: TrytonServer, synced: Path
) -> None:
    """Lambda: of CMD-L1's two instalments of 600.00, the second (due in 15 days) was
    reconciled with a transfer; the first, due 15 days ago, is what is late."""
    lambda_ = _customer(synced, LAMBDA)
    _expect(lambda_, overdue={"1-30": "600.00"})
    check = lambda_["balance_check"]
    assert (check["source_balance"], check["difference"]) == ("600.00", "0.00")
    with read_only(synced.parent / "encours.duckdb") as db:
        rules = db.execute(
            "SELECT rule, due_seq, amount FROM allocations WHERE customer_id = ?", (LAMBDA,)
        ).fetchall()
    assert rules == [("match_group", 1, 60000)]


@pytest.mark.parametrize("party", [DELTA, EPSILON, ZETA, ETA, THETA, IOTA, KAPPA, LAMBDA])
def test_the_balance_check_names_its_basis(synced: Path, party: str) -> None:
    """Every customer's balance check says what Tryton figure it comes from."""
    check = _customer(synced, party)["balance_check"]
    assert "party.receivable" in check["basis"] and "TTC" in check["basis"]


def test_a_draft_move_is_in_tryton_receivable_not_in_the_check(
    tryton: TrytonServer, synced: Path
) -> None:
    """A draft move debiting Beta's 4111 by 150.00: `party.receivable` counts it, encours
    reads posted moves only, and the balance check takes it out: no difference."""
    rpc = admin(tryton)

    def account(code: str) -> int:
        (found,) = rpc.model("account.account", "search", [["code", "=", code]], 0, 1, None)
        return int(found)

    (journal,) = rpc.model("account.journal", "search", [["code", "=", "CASH"]], 0, 1, None)
    lines = [
        {"account": account("4111"), "party": 3, "debit": Decimal("150"), "credit": Decimal(0)},
        {"account": account("706"), "debit": Decimal(0), "credit": Decimal("150")},
    ]
    rpc.model(
        "account.move",
        "create",
        [{"journal": journal, "date": today(), "lines": [["create", lines]]}],
    )
    (beta,) = rpc.read("party.party", [3], ["receivable"])
    assert beta["receivable"] == Decimal("3330.00")
    result = encours(synced, "sync", "--full-refresh")
    assert result.exit_code == 0, result.output
    ours = _customer(synced, "3")
    assert ours["outstanding"] == "3180.00"
    assert ours["balance_check"]["source_balance"] == "3180.00"
    assert ours["balance_check"]["difference"] == "0.00"
