"""Fresh, empty stores made from the schema's migrations, one after another, on either engine.

The SQL tests (reconciliation, indicators) write each case into a new store. On DuckDB each
is a new in-memory database; on PostgreSQL (`url`) each empties the test's database (its
schema dropped and made again) and opens a new connection (no temporary table of the last
case left). `close()` closes what is still open.

Example: `stores = ScratchStores(None)`, then `con = stores.new()` for each case.
"""

from __future__ import annotations

from typing import Any

import duckdb

from encours.sync.store.postgres import PostgresConnection, connect
from encours.sync.store.schema import MIGRATIONS


class ScratchStores:
    """New migrated stores on DuckDB (`url` None) or in the PostgreSQL database at `url`."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._open: Any = None

    def new(self) -> duckdb.DuckDBPyConnection | PostgresConnection:
        """A new empty store, migrated; the one before it is closed."""
        self.close()
        if self.url is None:
            self._open = duckdb.connect(":memory:")
        else:
            self._open = connect(self.url)
            self._open.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        for script in MIGRATIONS:
            self._open.execute(script)
        return self._open

    def close(self) -> None:
        """Close the last store made, if any."""
        if self._open is not None:
            self._open.close()
            self._open = None
