"""What the runs leave behind: log, positions, snapshots, pushed values and matches.

The run log, the sources' positions, the indicators computed for each date, the values
pushed to each target and the matches of customers to records.

Example: a run on 2026-03-31 writes a `runs` row (started, finished, exit code, summary),
moves the FEC source's position to the file's fingerprint, keeps every customer's
indicators under (2026-03-31, "fec:C1"), and remembers "encours_outstanding = 1200.00" as
pushed to HubSpot record 42, so the next run sends only what changed.
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from encours.sync.store.bulk import load_rows


class RunState:
    """Runs, cursors, snapshots, pushed values and matches (mixed into `Store`)."""

    db: duckdb.DuckDBPyConnection
    path: Path

    def start_run(self, as_of: date, started_at: datetime) -> int:
        """Record the start of a run and return its id."""
        row = self.db.execute(
            "INSERT INTO runs (started_at, as_of) VALUES (?, ?) RETURNING id",
            (started_at.isoformat(), as_of),
        ).fetchone()
        return int(row[0]) if row else 0

    def finish_run(
        self, run_id: int, *, status: str, exit_code: int, summary: dict[str, Any]
    ) -> None:
        """Record how a run ended."""
        self.db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(), status, exit_code, json.dumps(summary), run_id),
        )

    def cursor(self, source: str, stream: str) -> str | None:
        """The stored position of a stream, or None before its first complete read."""
        row = self.db.execute(
            "SELECT value FROM cursors WHERE source = ? AND stream = ?", (source, stream)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, source: str, stream: str, value: str, run_id: int) -> None:
        """Move a stream's position; call it inside the transaction that stored its records."""
        self.db.execute(
            "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT (source, stream) DO UPDATE "
            "SET value = excluded.value, run_id = excluded.run_id "
            "WHERE cursors.value <> excluded.value",
            (source, stream, value, run_id),
        )

    def save_snapshot(self, as_of: date, indicators: dict[str, dict[str, Any]], run_id: int) -> int:
        """Keep the indicators computed for a date (history for trends; `status` reads them).

        Returns how many customers' rows changed; rows whose indicators are unchanged are
        not rewritten.
        """
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE new_snapshot (customer_key TEXT, indicators TEXT)"
        )
        load_rows(
            self.db,
            self.path,
            "new_snapshot",
            ("customer_key", "indicators"),
            ((key, json.dumps(values, sort_keys=True)) for key, values in indicators.items()),
        )
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE changed_snapshot AS SELECT customer_key, indicators "
            "FROM new_snapshot EXCEPT SELECT customer_key, indicators FROM snapshots "
            "WHERE as_of = ?",
            (as_of,),
        )
        self.db.execute(
            "DELETE FROM snapshots WHERE as_of = ? AND customer_key IN "
            "(SELECT customer_key FROM changed_snapshot)",
            (as_of,),
        )
        self.db.execute(
            "INSERT INTO snapshots SELECT ?, customer_key, indicators, ? FROM changed_snapshot",
            (as_of, run_id),
        )
        row = self.db.execute("SELECT COUNT(*) FROM changed_snapshot").fetchone()
        return int(row[0]) if row else 0

    def snapshot_dso(self, on_or_before: date) -> dict[str, Decimal]:
        """Each customer's DSO in the last snapshot dated `on_or_before` or earlier.

        Customer key -> DSO in days, for the customers whose DSO could be computed then;
        empty when no snapshot is that old.
        """
        row = self.db.execute(
            "SELECT MAX(as_of) FROM snapshots WHERE as_of <= ?", (on_or_before,)
        ).fetchone()
        if row is None or row[0] is None:
            return {}
        dso: dict[str, Decimal] = {}
        for customer_key, indicators in self.db.execute(
            "SELECT customer_key, indicators FROM snapshots WHERE as_of = ? AND customer_key <> ''",
            (row[0],),
        ).fetchall():
            value = json.loads(indicators).get("dso")
            if value is not None:
                dso[customer_key] = Decimal(value)
        return dso

    def last_pushed(self, target: str) -> dict[str, dict[str, str]]:
        """What was last written to a target: customer key -> field -> value."""
        pushed: dict[str, dict[str, str]] = {}
        for customer_key, field, value in self.db.execute(
            "SELECT customer_key, field, value FROM pushed WHERE target = ?", (target,)
        ).fetchall():
            pushed.setdefault(customer_key, {})[field] = value
        return pushed

    def record_pushed(self, target: str, values: dict[str, dict[str, str]], run_id: int) -> None:
        """Remember values written to a target (call right after the write succeeded)."""
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE new_pushed (customer_key TEXT, field TEXT, value TEXT)"
        )
        load_rows(
            self.db,
            self.path,
            "new_pushed",
            ("customer_key", "field", "value"),
            (
                (customer_key, field, value)
                for customer_key, fields in values.items()
                for field, value in fields.items()
            ),
        )
        self.db.execute(
            "DELETE FROM pushed USING new_pushed n WHERE pushed.target = ? "
            "AND pushed.customer_key = n.customer_key AND pushed.field = n.field",
            (target,),
        )
        self.db.execute(
            "INSERT INTO pushed SELECT ?, customer_key, field, value, ? FROM new_pushed",
            (target, run_id),
        )

    def save_matches(self, target: str, rows: list[tuple[str, str | None, str, str]]) -> None:
        """Replace a target's matching: (customer key, record key, status, detail) rows."""
        self.db.execute("DELETE FROM matches WHERE target = ?", (target,))
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE new_matches (customer_key TEXT, record_key TEXT, "
            "status TEXT, detail TEXT)"
        )
        load_rows(
            self.db,
            self.path,
            "new_matches",
            ("customer_key", "record_key", "status", "detail"),
            rows,
        )
        self.db.execute("INSERT INTO matches SELECT ?, * FROM new_matches", (target,))

    def matches(self, target: str | None = None) -> list[tuple[str, str, str | None, str, str]]:
        """(target, customer key, record key, status, detail), by target and customer."""
        return self.db.execute(
            "SELECT target, customer_key, record_key, status, detail FROM matches "
            "WHERE $target IS NULL OR target = $target ORDER BY 1, 2",
            {"target": target},
        ).fetchall()
