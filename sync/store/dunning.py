"""What dunning reads and writes in the store: open items, their settlements, steps sent, holds.

`DunningLog(store.db)` wraps the store's connection. A step sent for a due line is a row of
`dunning_sent`, keyed by (source, invoice, line, step): recording it twice is refused by the
key, which is the store's own guarantee that no step goes twice to the same due line.
"""

# ruff: noqa: S608 - table and column names come from this module's constants, values are bound

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import duckdb

from encours.metrics.dunning import Hold, LineKey, OpenItem, Reminder
from encours.metrics.penalties import DueLineHistory
from encours.metrics.terms import TermsBreach, latest_lawful_due_date

_PAID = (
    "SELECT source, invoice_id, due_seq, SUM(amount) AS amount FROM allocations "
    "WHERE allocated_on <= $day GROUP BY source, invoice_id, due_seq"
)


class DunningLog:
    """The dunning tables and the reads dunning needs, on one store connection."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self.db = db

    def open_items(self, as_of: date) -> list[OpenItem]:
        """Invoice due lines issued by `as_of` with something left to pay on that day."""
        rows = self.db.execute(
            f"WITH paid AS ({_PAID}) "
            "SELECT d.source, d.customer_id, d.invoice_id, d.seq, i.number, d.issued_on, "
            "d.due_on, d.amount, d.amount - COALESCE(p.amount, 0) "
            "FROM due_lines d JOIN invoices i ON i.source = d.source "
            "AND i.external_id = d.invoice_id "
            "LEFT JOIN paid p ON p.source = d.source AND p.invoice_id = d.invoice_id "
            "AND p.due_seq = d.seq "
            "WHERE d.kind = 'invoice' AND d.issued_on <= $day "
            "AND (d.settled_on IS NULL OR d.settled_on > $day) "
            "AND d.amount - COALESCE(p.amount, 0) > 0 "
            "ORDER BY d.source, d.customer_id, d.due_on, d.invoice_id, d.seq",
            {"day": as_of},
        ).fetchall()
        return [OpenItem(*row) for row in rows]

    def histories(self, items: Iterable[OpenItem], as_of: date) -> dict[LineKey, DueLineHistory]:
        """Every due line of the invoices of `items`, with its settlements up to `as_of`.

        All lines of those invoices, open or not: the indemnity is per late invoice.
        """
        invoices = sorted({(item.source, item.invoice_id) for item in items})
        if not invoices:
            return {}
        self.db.execute("CREATE OR REPLACE TEMP TABLE dunning_invoices (source TEXT, id TEXT)")
        self.db.executemany("INSERT INTO dunning_invoices VALUES (?, ?)", invoices)
        lines = self.db.execute(
            "SELECT d.source, d.invoice_id, d.seq, d.due_on, d.amount, d.settled_on "
            "FROM due_lines d JOIN dunning_invoices w ON w.source = d.source "
            "AND w.id = d.invoice_id ORDER BY 1, 2, 3"
        ).fetchall()
        payments: dict[LineKey, list[tuple[date, int]]] = {}
        for source, invoice_id, seq, day, units in self.db.execute(
            "SELECT a.source, a.invoice_id, a.due_seq, a.allocated_on, a.amount "
            "FROM allocations a JOIN dunning_invoices w ON w.source = a.source "
            "AND w.id = a.invoice_id WHERE a.allocated_on <= ? ORDER BY 4",
            (as_of,),
        ).fetchall():
            payments.setdefault((source, invoice_id, seq), []).append((day, int(units)))
        self.db.execute("DROP TABLE dunning_invoices")
        return {
            (source, invoice_id, seq): DueLineHistory(
                invoice_id,
                seq,
                due_on,
                int(amount),
                tuple(payments.get((source, invoice_id, seq), ())),
                settled_on,
            )
            for source, invoice_id, seq, due_on, amount, settled_on in lines
        }

    def terms_breaches(self, as_of: date) -> list[TermsBreach]:
        """Invoices issued by `as_of` whose last due date is past the L441-10 cap."""
        rows = self.db.execute(
            "SELECT d.source, d.customer_id, d.invoice_id, i.number, d.issued_on, "
            "MAX(d.due_on) FROM due_lines d JOIN invoices i ON i.source = d.source "
            "AND i.external_id = d.invoice_id WHERE d.kind = 'invoice' AND d.issued_on <= ? "
            "AND d.due_on > d.issued_on + INTERVAL '60 days' "
            "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 5, 3",
            (as_of,),
        ).fetchall()
        return [
            TermsBreach(*row)
            for row in rows
            if row[5] > latest_lawful_due_date(row[4])  # the SQL keeps the candidates only
        ]

    def sent_steps(self) -> dict[LineKey, int]:
        """Per due line, the days of the highest step sent for it."""
        return {
            (source, invoice_id, seq): int(days)
            for source, invoice_id, seq, days in self.db.execute(
                "SELECT source, invoice_id, seq, MAX(step_days) FROM dunning_sent GROUP BY 1, 2, 3"
            ).fetchall()
        }

    def record_sent(
        self, reminder: Reminder, *, sent_on: date, recipients: Iterable[str], subject: str
    ) -> None:
        """Record the new steps of a reminder just sent (in one transaction of the caller)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.db.executemany(
            "INSERT INTO dunning_sent VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    line.item.source,
                    line.item.invoice_id,
                    line.item.seq,
                    reminder.customer_key,
                    line.step.name,
                    line.step.days,
                    sent_on,
                    reminder.step.channel,
                    ", ".join(recipients),
                    subject,
                    line.item.residual,
                    now,
                )
                for line in reminder.new_lines
            ],
        )

    def sent_history(self, customer_key: str) -> list[tuple[date, str, str, str, int, str]]:
        """What was sent to a customer: (day, invoice, step, channel, residual, recipients)."""
        return self.db.execute(
            "SELECT sent_on, invoice_id, step, channel, residual, recipients FROM dunning_sent "
            "WHERE customer_key = ? ORDER BY sent_on, invoice_id, seq",
            (customer_key,),
        ).fetchall()

    def holds(self) -> list[Hold]:
        """Every hold recorded, oldest first."""
        return [
            Hold(customer_key, kind, since, until, invoice_id, reason)
            for customer_key, kind, since, until, invoice_id, reason in self.db.execute(
                "SELECT customer_key, kind, since, until_on, invoice_id, reason "
                "FROM dunning_holds ORDER BY id"
            ).fetchall()
        ]

    def add_hold(self, hold: Hold) -> None:
        """Record a hold (pause, promise, dispute)."""
        self.db.execute(
            "INSERT INTO dunning_holds (customer_key, kind, invoice_id, since, until_on, "
            "reason, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                hold.customer_key,
                hold.kind,
                hold.invoice_id,
                hold.since,
                hold.until,
                hold.reason,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )

    def end_holds(self, customer_key: str, day: date) -> int:
        """End every hold of a customer still active on `day`: it is dunned again from `day`."""
        before = date.fromordinal(day.toordinal() - 1)
        row = self.db.execute(
            "UPDATE dunning_holds SET until_on = ? WHERE customer_key = ? "
            "AND (until_on IS NULL OR until_on >= ?) RETURNING id",
            (before, customer_key, day),
        ).fetchall()
        return len(row)
