"""The store's side of reconciliation: which customers to redo, and redoing them in SQL.

Only dirty customers (records changed since their last reconciliation) are redone, all at
once, by the set-based rules of `reconcile_sql.py`; `sync/reconcile.py` is their reference,
one customer at a time in Python.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from encours.sync.store.reconcile_sql import reconcile_dirty_sql


class Reconciling:
    """Dirty customers and their reconciliation (mixed into `Store`)."""

    db: duckdb.DuckDBPyConnection

    def dirty_customers(self) -> list[tuple[str, str]]:
        """Customers whose records changed since their allocations were last computed."""
        return self.db.execute(
            "SELECT source, customer_id FROM dirty_customers ORDER BY 1, 2"
        ).fetchall()

    def mark_all_dirty(self) -> int:
        """Have every customer reconciled again (after a change of reconciliation settings).

        Every lettrage group is worked out again too. Returns how many customers are to be
        reconciled (none in an empty store).
        """
        self.db.execute("DELETE FROM closed_groups")
        self.db.execute(
            "INSERT INTO dirty_customers SELECT source, customer_id FROM due_lines "
            "UNION SELECT source, customer_id FROM credits WHERE customer_id IS NOT NULL "
            "ON CONFLICT DO NOTHING"
        )
        row = self.db.execute("SELECT COUNT(*) FROM dirty_customers").fetchone()
        return int(row[0]) if row else 0

    def reconcile_dirty(self, *, oldest_first: bool, complete_sources: Collection[str]) -> int:
        """Redo the allocations of every dirty customer, then clear the list; return how many.

        Sources in `complete_sources` guess nothing (see `reconcile_sql.reconcile_dirty_sql`).
        """
        count = reconcile_dirty_sql(
            self.db, oldest_first=oldest_first, complete_sources=complete_sources
        )
        self.db.execute("DELETE FROM dirty_customers")
        return count
