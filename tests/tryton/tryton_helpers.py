"""What the Tryton tests share: a configuration for a server, the CLI, Tryton's own figures."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from scenario import OTHER_LOGIN, OTHER_PASSWORD, SYNC_LOGIN, SYNC_PASSWORD
from store_tables import dump
from trytond_server import ADMIN_PASSWORD, TrytonServer, today

from encours.cli import cli
from encours.connectors.tryton.rpc import TrytonRpc

__all__ = [
    "OTHER_LOGIN",
    "OTHER_PASSWORD",
    "SYNC_PASSWORD",
    "VAT_RATE",
    "admin",
    "encours",
    "status",
    "store_digest",
    "today",
    "tryton_figures",
    "tryton_today",
    "write_config",
]

#: The scenario's only VAT rate: Tryton's deposit balance is before tax.
VAT_RATE = Decimal("0.20")


def write_config(
    folder: Path,
    server: TrytonServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    database: str | None = None,
    password: str = SYNC_PASSWORD,
    target: bool = True,
) -> Path:
    """A configuration reading `server` (and writing to it); the password in the environment."""
    monkeypatch.setenv("ENCOURS_TRYTON_PASSWORD", password)
    monkeypatch.setenv("ENCOURS_ERP_PASSWORD", password)
    where = (
        f'url = "{server.url}"\ndatabase = "{database or server.database}"\nuser = "{SYNC_LOGIN}"\n'
    )
    text = f'[store]\npath = "encours.duckdb"\n[sources.tryton]\ntype = "tryton"\n{where}'
    if target:
        text += f'[targets.erp]\ntype = "tryton"\n{where}'
    config = folder / "config.toml"
    config.write_text(text, encoding="utf-8")
    return config


def encours(config: Path, *args: str) -> Result:
    """Run `encours --config CONFIG ARGS...` as a user would."""
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def status(config: Path) -> dict[str, Any]:
    """`encours status --json`, parsed."""
    result = encours(config, "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def admin(server: TrytonServer) -> TrytonRpc:
    """A session as Tryton's administrator, to read Tryton's own figures and change data."""
    return TrytonRpc(server.url, server.database, "admin", ADMIN_PASSWORD)


def store_digest(path: Path) -> dict[str, str]:
    """A digest of every table of the store but `runs` (which notes each run)."""
    return {
        table: hashlib.sha256(repr(rows).encode()).hexdigest() for table, rows in dump(path).items()
    }


def tryton_today(rpc: TrytonRpc) -> date:
    """Tryton's own day: the company's timezone (the scenario's is Europe/Paris), not this
    machine's, so between 22:00 and midnight UTC it is already tomorrow in Tryton."""
    return rpc.model("ir.date", "today")


def tryton_figures(rpc: TrytonRpc, as_of: date) -> dict[str, dict[str, Decimal]]:
    """Per customer, what Tryton itself says, in the terms of `encours status`.

    The mapping checked:

    - outstanding = `party.receivable` − the unapplied deposits with VAT (`party.deposit`,
      which Tryton keeps before tax, × 1.20); the scenario has no draft move;
    - drafts = the totals of the draft and validated invoices (credit notes aside), which
      are in no ledger and so in neither figure above;
    - overdue = what is left to pay of posted invoices on their lines to pay due before
      `as_of`: a line to pay reconciled is settled; each invoice's `amount_to_pay` is spread
      over the others, the paid part settling the earliest due first (Tryton leaves a
      partial payment unreconciled beside the invoice; `amount_to_pay` nets it).
    """
    figures: dict[str, dict[str, Decimal]] = {}
    invoices = rpc.model(
        "account.invoice",
        "search_read",
        [["type", "=", "out"], ["state", "in", ["draft", "validated", "posted", "paid"]]],
        0,
        None,
        [["id", "ASC"]],
        [
            "party",
            "state",
            "total_amount",
            "amount_to_pay",
            "lines_to_pay.maturity_date",
            "lines_to_pay.debit",
            "lines_to_pay.credit",
            "lines_to_pay.reconciliation",
        ],
    )
    parties = sorted({invoice["party"] for invoice in invoices})
    for party in rpc.read("party.party", parties, ["receivable", "deposit"]):
        figures[str(party["id"])] = {
            "outstanding": party["receivable"] - (party["deposit"] * (1 + VAT_RATE)),
            "overdue": Decimal(0),
            "drafts": Decimal(0),
        }
    for invoice in invoices:
        mine = figures[str(invoice["party"])]
        if invoice["state"] in ("draft", "validated"):
            mine["drafts"] += max(invoice["total_amount"], Decimal(0))
            continue
        if invoice["total_amount"] <= 0:
            continue
        lines = sorted(
            (line for line in invoice["lines_to_pay."] if not line["reconciliation"]),
            key=lambda line: line["maturity_date"],
        )
        paid = sum(line["debit"] - line["credit"] for line in lines) - invoice["amount_to_pay"]
        for line in lines:
            due = line["debit"] - line["credit"]
            settled = min(paid, due)
            paid -= settled
            if line["maturity_date"] < as_of:
                mine["overdue"] += due - settled
    return figures
