"""What a person reviews, read from the store: runs, one customer's items, money to check.

These reads serve `status` (has a sync finished?), `status --customer` (open items and the
settlements applied to each, with the rule that made them) and `unmatched`. Like
`queries.py`, "as of a date" means issued on or before it, and allocations dated on or
before it; amounts are minor units of the company currency.

Example: an invoice F1 of 1 000.00 with a payment P1 of 400.00 lettered to it on 10 Feb:
as of 28 Feb, `open_items` gives F1 with residual 600.00 and `settlements` gives
(F1, P1, 400.00, 10 Feb, "lettrage").
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from encours.sync.store.connection import connect

#: The invoices of one customer of one source.
_INVOICES = "SELECT invoice_id FROM due_lines WHERE source = $source AND customer_id = $customer"


class RunRecord(NamedTuple):
    """One sync as the runs table keeps it."""

    run_id: int
    as_of: date
    finished_at: str | None
    status: str  # running | done | dry-run | failed
    exit_code: int | None
    sources_read: int  # how many of its sources were read (or found unchanged)

    @property
    def gave_figures(self) -> bool:
        """Whether the run finished and read at least one source: its figures stand."""
        return self.status == "done" and self.sources_read > 0


class UnmatchedItem(NamedTuple):
    """A credit still (partly) unallocated as of a date, named and dated for a person."""

    source: str
    customer_id: str | None
    customer_name: str | None
    kind: str
    external_id: str
    reference: str
    on_date: date
    amount: int
    left_over: int


def run_history(path: Path) -> list[RunRecord]:
    """The runs of the store at `path`, latest first, read without verifying the whole file.

    `status` asks this before anything else; a store that does not exist has no runs.
    """
    if not path.exists():
        return []
    db = connect(path, read_only=True)
    try:
        return _runs(db)
    finally:
        db.close()


def _runs(db: duckdb.DuckDBPyConnection) -> list[RunRecord]:
    rows = db.execute(
        "SELECT id, as_of, finished_at, status, exit_code, summary FROM runs ORDER BY id DESC"
    ).fetchall()
    return [RunRecord(*row[:5], _sources_read(row[5])) for row in rows]


def _sources_read(summary: str | None) -> int:
    """How many sources a run's summary (`RunSummary.as_dict`) says were read."""
    try:
        sources = json.loads(summary or "{}").get("sources", [])
    except ValueError:
        return 0
    return sum(1 for source in sources if source.get("status") in ("ok", "unchanged"))


class OpenItem(NamedTuple):
    """A due line of one customer open as of a date: what it was, what is left of it."""

    invoice_id: str
    document: str  # the invoice's number, else its id
    seq: int
    kind: str
    issued_on: date
    due_on: date
    amount: int
    residual: int
    is_doubtful: bool


class Settlement(NamedTuple):
    """An allocation dated on or before a date: `amount` of a credit set against a due line."""

    invoice_id: str
    due_seq: int
    credit_id: str
    credit_kind: str | None
    reference: str
    amount: int
    allocated_on: date
    rule: str


class DraftItem(NamedTuple):
    """A draft invoice dated on or before a date (in no figure)."""

    external_id: str
    number: str
    issued_on: date
    total: int


class ReviewQueries:
    """The reads of this module (mixed into `Store`, which holds `db`)."""

    db: duckdb.DuckDBPyConnection

    def runs(self) -> list[RunRecord]:
        """Every run, latest first."""
        return _runs(self.db)

    def snapshot_series(self, customer_key: str, until: date) -> list[tuple[date, dict[str, Any]]]:
        """A customer's stored figures at each snapshot up to `until`, oldest first.

        `customer_key` is `source:id`, or "" for the company's total; each snapshot is the
        `--json` figures a run computed for its as-of date.
        """
        rows = self.db.execute(
            "SELECT as_of, indicators FROM snapshots WHERE customer_key = ? AND as_of <= ? "
            "ORDER BY as_of",
            (customer_key, until),
        ).fetchall()
        return [(as_of, json.loads(indicators)) for as_of, indicators in rows]

    def unmatched_items(self, as_of: date) -> list[UnmatchedItem]:
        """Credits still unallocated as of a date, by source, customer name and date."""
        rows = self.db.execute(
            "WITH used AS (SELECT source, credit_id, SUM(amount) AS amount FROM allocations "
            "WHERE allocated_on <= $day GROUP BY source, credit_id) "
            "SELECT c.source, c.customer_id, k.name, c.kind, c.external_id, "
            "COALESCE(c.reference, ''), c.on_date, c.amount, "
            "c.amount - COALESCE(u.amount, 0) AS left_over FROM credits c "
            "LEFT JOIN used u ON u.source = c.source AND u.credit_id = c.external_id "
            "LEFT JOIN customers k ON k.source = c.source AND k.external_id = c.customer_id "
            "WHERE c.on_date <= $day AND (c.used_on IS NULL OR c.used_on > $day) "
            "AND c.amount - COALESCE(u.amount, 0) > 0 "
            "ORDER BY c.source, k.name NULLS LAST, c.customer_id, c.on_date, c.external_id",
            {"day": as_of},
        ).fetchall()
        return [UnmatchedItem(*row) for row in rows]

    def open_items(self, source: str, customer: str, as_of: date) -> list[OpenItem]:
        """The customer's due lines open as of a date, by due date (as `open_due_lines`)."""
        rows = self.db.execute(
            f"WITH paid AS (SELECT invoice_id, due_seq, SUM(amount) AS amount FROM allocations "
            f"WHERE source = $source AND invoice_id IN ({_INVOICES}) AND allocated_on <= $day "
            "GROUP BY invoice_id, due_seq) "
            "SELECT d.invoice_id, COALESCE(i.number, d.invoice_id), d.seq, d.kind, d.issued_on, "
            "d.due_on, d.amount, d.amount - COALESCE(p.amount, 0), d.is_doubtful "
            "FROM due_lines d LEFT JOIN paid p ON p.invoice_id = d.invoice_id "
            "AND p.due_seq = d.seq LEFT JOIN invoices i ON i.source = d.source "
            "AND i.external_id = d.invoice_id "
            "WHERE d.source = $source AND d.customer_id = $customer AND d.issued_on <= $day "
            "AND (d.settled_on IS NULL OR d.settled_on > $day) "
            "AND d.amount - COALESCE(p.amount, 0) <> 0 ORDER BY d.due_on, d.invoice_id, d.seq",
            {"source": source, "customer": customer, "day": as_of},
        ).fetchall()
        return [OpenItem(*row) for row in rows]

    def settlements(self, source: str, customer: str, as_of: date) -> list[Settlement]:
        """Every allocation of the customer dated on or before a date, by date."""
        rows = self.db.execute(
            "SELECT a.invoice_id, a.due_seq, a.credit_id, c.kind, "
            "COALESCE(c.reference, a.credit_id), a.amount, a.allocated_on, a.rule "
            "FROM allocations a LEFT JOIN credits c ON c.source = a.source "
            "AND c.external_id = a.credit_id WHERE a.source = $source "
            f"AND a.invoice_id IN ({_INVOICES}) AND a.allocated_on <= $day "
            "ORDER BY a.allocated_on, a.credit_id, a.invoice_id, a.due_seq",
            {"source": source, "customer": customer, "day": as_of},
        ).fetchall()
        return [Settlement(*row) for row in rows]

    def draft_items(self, source: str, customer: str, as_of: date) -> list[DraftItem]:
        """The customer's draft invoices dated on or before a date."""
        rows = self.db.execute(
            "SELECT external_id, COALESCE(number, external_id), issued_on, total FROM drafts "
            "WHERE source = ? AND customer_id = ? AND issued_on <= ? ORDER BY issued_on, 1",
            (source, customer, as_of),
        ).fetchall()
        return [DraftItem(*row) for row in rows]
