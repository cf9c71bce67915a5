"""What the figures read from the store, as of a date: set-based SQL, one scan a question.

Open means issued on or before the date and not settled by allocations dated on or before
it; the residual of a due line is its amount less those allocations. Every sum is in minor
units of the company currency.

Example: due line of 1 000.00 due 31 Jan, allocations of 400.00 on 10 Feb and 600.00 on
10 Mar: as of 28 Feb it is open for 600.00; as of 31 Mar it is settled.
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

import duckdb

from encours.model import Party


class OpenDueLine(NamedTuple):
    """A due line open as of a date, with what is left of it."""

    source: str
    customer_id: str
    kind: str
    due_on: date
    residual: int
    is_doubtful: bool


class UnmatchedCredit(NamedTuple):
    """A credit still (partly) unallocated as of a date, for a person to check."""

    source: str
    customer_id: str | None
    kind: str
    external_id: str
    reference: str
    left_over: int


class StatedBalance(NamedTuple):
    """What a source says a customer owes, as of its own date."""

    source: str
    customer_id: str
    as_of: date
    amount: int
    basis: str


class KnownCustomer(NamedTuple):
    """A customer as the figures name it."""

    source: str
    external_id: str
    name: str
    credit_limit: int | None


CustomerKey = tuple[str, str | None]

#: The due lines that can be open on a date (issued by then, not settled by then), and the
#: allocations up to that date of those lines alone: a settled line needs no residual.
_UNSETTLED_AND_PAID = (
    "unsettled AS (SELECT source, customer_id, invoice_id, seq, kind, due_on, amount, "
    "is_doubtful FROM due_lines WHERE issued_on <= $day "
    "AND (settled_on IS NULL OR settled_on > $day)), "
    "paid AS (SELECT a.source, a.invoice_id, a.due_seq, SUM(a.amount) AS amount "
    "FROM allocations a WHERE a.allocated_on <= $day AND EXISTS (SELECT 1 FROM unsettled u "
    "WHERE u.source = a.source AND u.invoice_id = a.invoice_id AND u.seq = a.due_seq) "
    "GROUP BY a.source, a.invoice_id, a.due_seq)"
)


class FigureQueries:
    """The reads of `sync/figures.py` (mixed into `Store`, which holds `db`)."""

    db: duckdb.DuckDBPyConnection

    def customers(self) -> list[KnownCustomer]:
        """Every customer described by its source, by source and id."""
        return [
            KnownCustomer(*row)
            for row in self.db.execute(
                "SELECT source, external_id, name, credit_limit FROM customers ORDER BY 1, 2"
            ).fetchall()
        ]

    def open_due_lines(self, as_of: date) -> Iterator[OpenDueLine]:
        """Due lines open as of a date (see the module docstring), ordered by customer."""
        result = self.db.execute(
            f"WITH {_UNSETTLED_AND_PAID} "
            "SELECT d.source, d.customer_id, d.kind, d.due_on, "
            "d.amount - COALESCE(p.amount, 0) AS residual, d.is_doubtful "
            "FROM unsettled d LEFT JOIN paid p ON p.source = d.source "
            "AND p.invoice_id = d.invoice_id AND p.due_seq = d.seq "
            "WHERE d.amount - COALESCE(p.amount, 0) <> 0 ORDER BY d.source, d.customer_id",
            {"day": as_of},
        )
        while rows := result.fetchmany(10_000):
            for row in rows:
                yield OpenDueLine(*row)

    def unapplied(self, as_of: date) -> dict[CustomerKey, int]:
        """Credits received on or before `as_of` and not allocated by then, per customer.

        Customer None: receipts not tied to any customer. An allocation is never dated
        before its credit, so both sums cover the same credits.
        """
        rows = self.db.execute(
            "SELECT source, customer_id, SUM(amount) FROM ("
            "SELECT source, customer_id, amount FROM credits WHERE on_date <= $day "
            "UNION ALL SELECT source, customer_id, -amount FROM allocations "
            "WHERE allocated_on <= $day) AS moves GROUP BY source, customer_id",
            {"day": as_of},
        ).fetchall()
        return {(source, customer): int(total) for source, customer, total in rows if total}

    def drafts(self, as_of: date) -> dict[tuple[str, str], int]:
        """Per customer, the total of the draft invoices dated on or before `as_of`."""
        rows = self.db.execute(
            "SELECT source, customer_id, SUM(total) FROM drafts WHERE issued_on <= ? "
            "GROUP BY source, customer_id",
            (as_of,),
        ).fetchall()
        return {(source, customer): int(total) for source, customer, total in rows}

    def dated_between(self, after: date, until: date) -> bool:
        """Whether an invoice was issued or a credit received after `after`, up to `until`."""
        row = self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM due_lines WHERE issued_on > $after "
            "AND issued_on <= $until) OR EXISTS (SELECT 1 FROM credits WHERE on_date > $after "
            "AND on_date <= $until)",
            {"after": after, "until": until},
        ).fetchone()
        return bool(row and row[0])

    def source_balances(self) -> list[StatedBalance]:
        """What each source says its customers owe."""
        return [
            StatedBalance(source, customer, day, int(units), basis)
            for source, customer, day, units, basis in self.db.execute(
                "SELECT source, customer_id, as_of, amount, basis FROM source_balances "
                "ORDER BY 1, 2"
            ).fetchall()
        ]

    def unmatched_credits(self, as_of: date) -> list[UnmatchedCredit]:
        """Credits still unallocated as of a date, by source, customer and reference."""
        rows = self.db.execute(
            "WITH used AS (SELECT source, credit_id, SUM(amount) AS amount FROM allocations "
            "WHERE allocated_on <= $day GROUP BY source, credit_id) "
            "SELECT c.source, c.customer_id, c.kind, c.external_id, COALESCE(c.reference, ''), "
            "c.amount - COALESCE(u.amount, 0) FROM credits c LEFT JOIN used u "
            "ON u.source = c.source AND u.credit_id = c.external_id "
            "WHERE c.on_date <= $day AND (c.used_on IS NULL OR c.used_on > $day) "
            "AND c.amount - COALESCE(u.amount, 0) > 0 ORDER BY 1, 2, 5",
            {"day": as_of},
        ).fetchall()
        return [UnmatchedCredit(*row) for row in rows]

    def due_dates_assumed(self) -> set[tuple[str, str]]:
        """Customers with at least one invoice whose due date came from default terms."""
        return {
            (source, customer)
            for source, customer in self.db.execute(
                "SELECT DISTINCT source, customer_id FROM invoices WHERE due_date_assumed"
            ).fetchall()
        }

    def customer_parties(self) -> list[Party]:
        """Every customer as matching sees it, keyed `source:external_id`."""
        return [
            Party(f"{source}:{external_id}", name, siren, siret, vat, domain)
            for source, external_id, name, siren, siret, vat, domain in self.db.execute(
                "SELECT source, external_id, name, siren, siret, vat_number, email_domain "
                "FROM customers ORDER BY 1, 2"
            ).fetchall()
        ]

    def quarantine_count(self) -> int:
        """How many records wait in quarantine."""
        row = self.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()
        return int(row[0]) if row else 0

    def quarantine(self) -> list[tuple[str, str, str, str]]:
        """Quarantined records: (source, stream, external_id, reason)."""
        return self.db.execute(
            "SELECT source, stream, external_id, reason FROM quarantine ORDER BY 1, 2, 3"
        ).fetchall()
