"""The store on a PostgreSQL server: a connection that speaks to the store's SQL as DuckDB does.

The store's statements are written in the dialect DuckDB and PostgreSQL share; the few
differences are rewritten here, statement by statement, before psycopg sends them
(`to_postgres`):

- parameters: DuckDB's `?` and `$name` become psycopg's `%s` and `%(name)s` (and a literal
  `%` becomes `%%`), only when the statement has parameters;
- `//` (DuckDB's integer division) becomes `/`, which divides integers exactly so in
  PostgreSQL;
- `CREATE OR REPLACE TEMP TABLE t ...` becomes `DROP TABLE IF EXISTS t` then
  `CREATE TEMP TABLE t ...`.

Text inside quotes and comments is never rewritten. Example: `SELECT amount // 100, '?'
FROM t WHERE id = ?` with one parameter is sent as `SELECT amount / 100, '?' FROM t WHERE id
= %s`.

`PostgresConnection` has the calls the store makes on a DuckDB connection (`execute`,
`executemany`, `close`), in autocommit mode so that the store's own `BEGIN TRANSACTION` and
`COMMIT` delimit its transactions as on DuckDB. The server's errors are raised as DuckDB's
exception classes (a full disk as `duckdb.IOException`, a cancelled statement as
`duckdb.InterruptException`, any other as `duckdb.Error`), so that every `except
duckdb.Error` of the store and of `sync` handles both engines alike.

Text ids must sort by code point (reconciliation's first-in-first-out order relies on it, see
`reconcile_sql.py`): the database must use the "C" collation, which `connect` checks.
"""

# ruff: noqa: S608 - table and column names come from this package's constants, values are bound

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from encours.errors import ConfigError, StoreBusyError
from encours.sync.store.connection import MEMORY_LIMIT

if TYPE_CHECKING:
    import psycopg

#: What the rewriting looks at: quoted text and comments (kept), or one of the rewritten tokens.
_TOKENS = re.compile(
    r"""(?P<kept>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*)"""
    r"|(?P<name>\$[A-Za-z_]\w*)|(?P<mark>\?)|(?P<percent>%)|(?P<division>//)"
)
_REPLACE_TEMP = re.compile(r"^\s*CREATE\s+OR\s+REPLACE\s+TEMP\s+TABLE\s+(\w+)", re.IGNORECASE)
#: Collations that order text by code point.
CODE_POINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})


def to_postgres(sql: str, *, with_parameters: bool) -> list[str]:
    """The statements to send PostgreSQL for one statement of the store (see the module).

    Example: `to_postgres("CREATE OR REPLACE TEMP TABLE t AS SELECT ? // 2",
    with_parameters=True)` is `["DROP TABLE IF EXISTS t", "CREATE TEMP TABLE t AS SELECT %s
    / 2"]`.
    """

    def rewrite(match: re.Match[str]) -> str:
        if match["kept"] is not None:
            return match["kept"]
        if match["division"] is not None:
            return "/"
        if not with_parameters:
            return match[0]
        if match["name"] is not None:
            return f"%({match['name'][1:]})s"
        return "%s" if match["mark"] is not None else "%%"

    statement = _TOKENS.sub(rewrite, sql)
    replaced = _REPLACE_TEMP.match(statement)
    if replaced is None:
        return [statement]
    table = replaced[1]
    create = f"CREATE TEMP TABLE {table}" + statement[replaced.end() :]
    return [f"DROP TABLE IF EXISTS {table}", create]


def engine_error(error: psycopg.Error) -> duckdb.Error:
    """The server's error as the DuckDB exception class the store handles (see the module)."""
    from psycopg import errors

    text = str(error).strip() or type(error).__name__
    if isinstance(error, errors.DiskFull | errors.IoError):
        return duckdb.IOException(text)
    if isinstance(error, errors.OutOfMemory):
        return duckdb.OutOfMemoryException(text)
    if isinstance(error, errors.QueryCanceled):
        return duckdb.InterruptException(text)
    return duckdb.Error(text)


@contextmanager
def _as_engine_errors() -> Iterator[None]:
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise engine_error(exc) from None


class PostgresConnection:
    """A psycopg connection with the calls the store makes on DuckDB's (see the module)."""

    def __init__(self, connection: psycopg.Connection[Any], label: str) -> None:
        self.connection = connection
        #: The URL without its password: what messages name.
        self.label = label

    def execute(self, sql: str, parameters: Any = None) -> psycopg.Cursor[Any]:
        """Run one statement (or a script of several, without parameters); its cursor."""
        statements = to_postgres(sql, with_parameters=parameters is not None)
        cursor = self.connection.cursor()
        with _as_engine_errors():
            for statement in statements[:-1]:
                cursor.execute(statement)
            cursor.execute(statements[-1], parameters)  # type: ignore[arg-type]
        return cursor

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        """Run one statement for each row of parameters."""
        (statement,) = to_postgres(sql, with_parameters=True)
        with _as_engine_errors():
            self.connection.cursor().executemany(statement, rows)  # type: ignore[arg-type]

    def copy_json_lines(self, table: str, columns: Sequence[str], path: Path) -> None:
        """COPY the rows of a JSON-lines file (one array a line, `bulk.Spool`) into `table`.

        Each value goes as text and the server casts it to its column's type (dates as ISO
        text, booleans, integers of any size); rows are streamed, memory stays flat.
        """
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with (
            _as_engine_errors(),
            self.connection.cursor().copy(statement) as copy,  # type: ignore[arg-type]
            path.open(encoding="utf-8") as lines,
        ):
            for line in lines:
                copy.write_row(json.loads(line))

    def copy_from_duckdb(self, source: duckdb.DuckDBPyConnection, table: str) -> int:
        """Copy every row of DuckDB's `table` into the same-named table here; return how many.

        The columns are those of DuckDB's table, by name; rows stream in batches.
        """
        result = source.execute(f"SELECT * FROM {table}")
        columns = [column[0] for column in result.description or ()]
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        count = 0
        cursor = self.connection.cursor()
        with _as_engine_errors(), cursor.copy(statement) as copy:  # type: ignore[arg-type]
            while batch := result.fetchmany(10_000):
                for row in batch:
                    copy.write_row(row)
                count += len(batch)
        return count

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        self.connection.close()


def is_postgres(db: object) -> bool:
    """Whether `db` is a connection to PostgreSQL (else DuckDB's)."""
    return isinstance(db, PostgresConnection)


def label(url: str) -> str:
    """The URL as messages show it: without a password, should one be in it."""
    return re.sub(r"(://[^/:@]*):[^/@]*@", r"\1@", url)


def connect(url: str, password: str | None = None) -> PostgresConnection:
    """A connection to the database at `url`, checked to order text by code point.

    The password is `password` when given, else what libpq finds itself (`PGPASSWORD`, the
    password file, a service file).

    Raises:
        StoreBusyError: the server cannot be reached (down, restarting, too many clients).
        ConfigError: the server refused us (wrong user, password or database), or the
            database orders text by another collation.
    """
    import psycopg

    where = label(url)
    try:
        connection = psycopg.connect(
            url, autocommit=True, **({"password": password} if password else {})
        )
    except psycopg.OperationalError as exc:
        reason = _reason(str(exc))
        if "authentication" in reason or "does not exist" in reason or "password" in reason:
            raise ConfigError(
                f"the store's PostgreSQL at {where} refused the connection ({reason}): check "
                "the user and database in [store] url, and the password (keyring "
                "`store.password` via `encours init`, or ENCOURS_STORE_PASSWORD, PGPASSWORD or "
                "a libpq service file)"
            ) from None
        raise StoreBusyError(
            f"the store's PostgreSQL at {where} cannot be reached ({reason}); try again when "
            "it is up"
        ) from None
    # datlocprovider (PostgreSQL 15 on): 'i' for ICU, whose collations never are code point.
    row = connection.execute(
        "SELECT datcollate, coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') "
        "FROM pg_database d WHERE datname = current_database()"
    ).fetchone()
    if row is None or row[1] != "c" or row[0] not in CODE_POINT_COLLATIONS:
        connection.close()
        collation = f"{row[0]} ({'ICU' if row[1] == 'i' else 'libc'})" if row else "?"
        raise ConfigError(
            f"the database of {where} orders text by the collation {collation}; "
            "encours needs code-point order: create it with CREATE DATABASE ... TEMPLATE "
            "template0 LC_COLLATE 'C' LC_CTYPE 'C' ENCODING 'UTF8'"
        )
    _create_schema(connection)
    return PostgresConnection(connection, where)


def _create_schema(connection: psycopg.Connection[Any]) -> None:
    """Create the first schema of the search path when it does not exist yet.

    A firm's companies each have a schema of one database (`[store] schema`): the first
    run of a company creates its own. Two processes doing it at once both succeed.
    """
    import psycopg

    row = connection.execute("SELECT current_schema(), current_setting('search_path')").fetchone()
    if row is None or row[0] is not None:
        return
    first = row[1].split(",")[0].strip().strip('"')
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", first):
        return  # '$user' and other forms: the server says what is missing when it is used
    try:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{first}"')
    except psycopg.errors.UniqueViolation:
        pass  # another process created it meanwhile


def _reason(text: str) -> str:
    """The last line of libpq's message: the server's own reason."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


def store_password() -> str | None:
    """The store's password from the keyring (`store.password`) or ENCOURS_STORE_PASSWORD.

    None when neither has it: libpq then looks itself (PGPASSWORD, the password file, a
    service file), or the server needs none.
    """
    from encours.sync.secrets import get_secret

    try:
        return get_secret("store", "password")
    except ConfigError:
        return None


def scratch_engine(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for the FEC reader, with the store's memory ceiling.

    Past the ceiling it spills into a temporary folder inside `folder`.
    """
    config = {"memory_limit": MEMORY_LIMIT, "temp_directory": str(folder / ".encours-scratch.tmp")}
    return duckdb.connect(config=config)
