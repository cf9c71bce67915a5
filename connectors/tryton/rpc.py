"""Tryton's JSON-RPC over HTTP: typed values, a login session, errors, keyset pages.

    rpc = TrytonRpc("https://erp.example.fr", "prod", "encours", password)
    for invoice in rpc.search_pages("account.invoice", [("type", "=", "out")], ["number"]):
        ...

Every call is `POST <url>/<database>/rpc/` with `{"method": "model.<model>.<method>",
"params": [...]}`; the server's own root methods go to `<url>/rpc/`. Tryton writes its types
as objects: `{"__class__": "Decimal", "decimal": "12.50"}`, `{"__class__": "date", ...}`;
`to_wire` and `from_wire` convert them, so amounts stay `Decimal` both ways. Timestamps are
naive UTC on the server and aware UTC here.

Login (`common.db.login`) gives a session token sent as `Authorization: Session
base64(login:user_id:token)`: one password check per run, not one per call. A session that
expires during a long run is renewed once. An error comes back with HTTP 200 and
`{"error": [kind, [message, description, ...]]}`: `TrytonError`.

Pages are keyset pages: ordered by id, each page asks for ids above the last one seen, so a
record created or changed while we read cannot shift the pages. A stream of more than
`[limits] http_max_pages` full pages is a `DataError`, as in `HttpClient.paginate`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from encours.connectors.http import HttpClient, HttpLimits, RetryPolicy
from encours.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DataError,
    EncoursError,
    NotFoundError,
)

__all__ = ["PAGE_SIZE", "TrytonError", "TrytonRpc", "from_wire", "to_wire"]

log = logging.getLogger("encours.tryton")

#: Records per `search_read`. Tryton sets no limit; 500 rows with their dotted fields stay
#: well under a megabyte.
PAGE_SIZE = 500

Domain = Sequence[Any]


class TrytonError(ApiError):
    """Tryton refused a call (`UserError`, `AccessError`, ...); `kind` is Tryton's class."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def to_wire(value: Any) -> Any:
    """Python values to Tryton's JSON: Decimal, date and datetime become typed objects.

    >>> to_wire({"amount": Decimal("12.50"), "on": date(2026, 1, 31)})
    {'amount': {'__class__': 'Decimal', 'decimal': '12.50'}, \
'on': {'__class__': 'date', 'year': 2026, 'month': 1, 'day': 31}}
    """
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return {
            "__class__": "datetime",
            **{
                part: getattr(naive, part)
                for part in ("year", "month", "day", "hour", "minute", "second", "microsecond")
            },
        }
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, Mapping):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    return value


def from_wire(value: Any) -> Any:
    """Tryton's JSON to Python values: the inverse of `to_wire`; timestamps become aware UTC.

    >>> from_wire({"__class__": "Decimal", "decimal": "1200.00"})
    Decimal('1200.00')
    """
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__class__")
    if kind == "Decimal":
        return Decimal(value["decimal"])
    if kind == "date":
        return date(value["year"], value["month"], value["day"])
    if kind == "datetime":
        return datetime(
            value["year"],
            value["month"],
            value["day"],
            value.get("hour", 0),
            value.get("minute", 0),
            value.get("second", 0),
            value.get("microsecond", 0),
            tzinfo=UTC,
        )
    if kind is not None:
        raise ValueError(f"unknown Tryton value type {kind!r}")
    return {key: from_wire(item) for key, item in value.items()}


class _RpcClient(HttpClient):
    """`HttpClient` that turns Tryton's in-body errors into `TrytonError`."""

    def check_body(self, payload: Any) -> None:
        """Raise `TrytonError` for `{"error": [kind, [message, ...]]}`."""
        if not isinstance(payload, dict) or "error" not in payload:
            return
        error = payload["error"]
        kind, details = (error + [None])[:2] if isinstance(error, list) else (str(error), None)
        if isinstance(details, list):
            text = " ".join(str(part) for part in details[:2] if part)
        else:
            text = str(details or "")
        raise TrytonError(f"Tryton: {kind}: {text}".rstrip(": "), kind=str(kind))


class TrytonRpc:
    """A logged-in JSON-RPC session to one database of one Tryton server."""

    def __init__(
        self,
        url: str,
        database: str,
        login: str,
        password: str,
        *,
        secret_hint: str = "",
        retry: RetryPolicy | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        """Prepare the session; nothing is sent before the first call.

        Args:
            url: the server's address, e.g. `https://erp.example.fr` (no database in it).
            database: the database name.
            login: the Tryton user encours logs in as.
            password: that user's password (from the keyring or the environment).
            secret_hint: the command that sets the password, for error messages.
            retry: the retry policy (tests pass one that does not sleep).
            limits: the transport's bounds (`[limits]`, and whether plain HTTP to another
                machine is allowed: never by default, the login carries the password).
        """
        if not password:
            raise AuthError(f"no Tryton password for user {login!r}: {secret_hint}".rstrip(": "))
        self.url = url.rstrip("/")
        self.database = database
        self.login = login
        self._password = password
        self._hint = secret_hint
        self._http = _RpcClient(
            self.url,
            auth=None,
            retry=retry,
            secrets=(password,),
            timeout=(5, 300),
            limits=limits,
        )
        self._session: str | None = None
        self._context: dict[str, Any] | None = None
        self.calls = 0

    def __repr__(self) -> str:
        return f"TrytonRpc({self.url!r}, {self.database!r}, {self.login!r})"

    # -- calls ---------------------------------------------------------------------------------

    def server_version(self) -> str:
        """The server's series, e.g. "8.2" (no login needed)."""
        return str(self._post("/rpc/", "common.server.version", [], None))

    def call(self, method: str, *params: Any) -> Any:
        """Call `method` with `params` in the session; log in first, and again if it expired."""
        if self._session is None:
            self._log_in()
        try:
            return self._post(self._path, method, list(params), self._session)
        except AuthError as exc:
            if exc.status != 401:  # 403: a method this user or server does not offer
                raise
            log.info("Tryton session expired: logging in again")
            self._log_in()
            return self._post(self._path, method, list(params), self._session)

    @property
    def context(self) -> dict[str, Any]:
        """The user's context (company, language), sent as the last parameter of model calls."""
        if self._context is None:
            preferences = self.call("model.res.user.get_preferences", True, {})
            self._context = {
                key: preferences[key] for key in ("company", "language") if key in preferences
            }
            if not self._context.get("company"):
                raise ConfigError(
                    f"Tryton user {self.login!r} has no current company: set one on the user "
                    "(Administration > Users), or balances read as zero."
                )
        return self._context

    def model(self, model: str, method: str, *params: Any) -> Any:
        """`model.<model>.<method>(*params, context)`."""
        return self.call(f"model.{model}.{method}", *params, self.context)

    def search_pages(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching `domain`, by id, one page of `page_size` in memory at a time.

        Raises:
            DataError: more than `[limits] http_max_pages` full pages, as for every stream of
                pages (`HttpLimits`): a server whose pages never end is broken.
        """
        last = 0
        for _ in range(self._http.limits.max_pages):
            page = self.model(
                model,
                "search_read",
                [*domain, ["id", ">", last]],
                0,
                page_size,
                [["id", "ASC"]],
                list(fields),
            )
            yield from page
            if len(page) < page_size:
                return
            last = page[-1]["id"]
        raise DataError(
            f"Tryton {model}: more than {self._http.limits.max_pages:,} pages of {page_size} "
            f"records from {self.url}; a server whose pages never end is broken. Report it "
            "(or raise [limits] http_max_pages)."
        )

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        """`read` some records by id (at most a page's worth)."""
        return list(self.model(model, "read", list(ids), list(fields)))

    # -- internals -----------------------------------------------------------------------------

    @property
    def _path(self) -> str:
        return f"/{self.database}/rpc/"

    def _log_in(self) -> None:
        try:
            result = self._post(
                self._path,
                "common.db.login",
                [self.login, {"password": self._password}, "fr"],
                None,
            )
        except NotFoundError:
            raise ConfigError(
                f"the Tryton server at {self.url} has no database {self.database!r}: check "
                f"`database` in the configuration{self._databases_hint()}."
            ) from None
        except AuthError:
            raise AuthError(
                f"Tryton refused the login {self.login!r} on database {self.database!r}: "
                f"wrong user or password. {self._hint}".strip()
            ) from None
        except TrytonError as exc:
            raise AuthError(
                f"Tryton refused the login {self.login!r} on database {self.database!r}: {exc}"
            ) from None
        if not isinstance(result, list) or len(result) < 2:
            raise AuthError(
                f"Tryton refused the login {self.login!r} on database {self.database!r}: "
                f"wrong user or password. {self._hint}".strip()
            )
        user_id, token = result[0], result[1]
        pair = f"{self.login}:{user_id}:{token}".encode()
        self._session = "Session " + base64.b64encode(pair).decode("ascii")
        self._http.add_secret(token)
        self._http.add_secret(self._session.split(" ", 1)[1])

    def _databases_hint(self) -> str:
        try:
            names = self._post("/rpc/", "common.db.list", [], None)
        except EncoursError:  # listing is often disabled: no hint then
            return ""
        return f" (it has: {', '.join(names)})" if names else ""

    def _post(self, path: str, method: str, params: list[Any], session: str | None) -> Any:
        self.calls += 1
        headers = {"Content-Type": "application/json"}
        if session:
            headers["Authorization"] = session
        payload = self._http.post(
            path,
            json={"id": self.calls, "method": method, "params": to_wire(params)},
            headers=headers,
            idempotent=True,
        )
        if not isinstance(payload, dict) or "result" not in payload:
            raise ApiError(f"Tryton answered {method} without a result: is {self.url} Tryton?")
        return from_wire(payload["result"])
