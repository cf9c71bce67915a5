"""A source declared as data: endpoints, pages, a "changed since" filter, auth, a mapping.

Most accounting APIs are read the same way: a few list endpoints, paged, filtered on the
last change, behind a token. A connector for one of them declares that, and writes only the
pure functions that turn a vendor record into the common model (`model.py`):

    INVOICES = Stream("/invoices", items="data", paginator=PagePaginator(size=100),
                      to_records=to_invoice_records, since_param="updated_since")
    SPEC = HttpSourceSpec(streams=(CUSTOMERS, INVOICES), check_path="/me")
    source = DeclarativeSource("books", SPEC, client, currency="EUR")

Position: JSON `{"since": "<RFC 3339>", "v": version}`, the start of the last run. No
position (or one of another `version`, whose records followed other rules): every stream
is read whole, `replace_all=True`. Otherwise each stream with a `since_param` is asked for
what changed since the position minus `overlap` (a change recorded late is not missed;
reading a record twice is harmless, sync upserts), the others whole, `replace_all=False`.

Auth: `BearerAuth` (connectors/http.py), requests' `HTTPBasicAuth`, or `OAuth2RefreshAuth`
below for the vendors whose refresh tokens rotate.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from encours.connectors.base import Pull
from encours.connectors.http import HttpClient, PageRequest, Paginator
from encours.errors import AuthError, TransientError
from encours.model import Rejected, SourceRecord

log = logging.getLogger("encours.declarative")

#: `to_records(source, item, currency)`: a vendor record -> the common model (or Rejected).
ToRecords = Callable[[str, Any, str], Iterable[SourceRecord | Rejected]]


@dataclass(frozen=True)
class PagePaginator:
    """Numbered pages of `size` records; a shorter page is the last.

    >>> p = PagePaginator(size=2)
    >>> p.first(PageRequest("/x", {})).params
    {'page': 1, 'per_page': 2}
    >>> p.next(PageRequest("/x", {"page": 1, "per_page": 2}), {}, 2).params["page"]
    2
    >>> p.next(PageRequest("/x", {"page": 2, "per_page": 2}), {}, 1) is None
    True
    """

    size: int = 100
    page_param: str = "page"
    size_param: str = "per_page"
    first_page: int = 1

    def first(self, request: PageRequest) -> PageRequest:
        """Page one, with the page size."""
        return request.with_value(self.page_param, self.first_page).with_value(
            self.size_param, self.size
        )

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """The next number, unless this page was short."""
        if count < self.size:
            return None
        return request.with_value(self.page_param, int(request.params[self.page_param]) + 1)


@dataclass(frozen=True)
class OffsetPaginator:
    """`limit` records from `offset`; a shorter page is the last.

    >>> OffsetPaginator(size=50).next(PageRequest("/x", {"offset": 0, "limit": 50}), {}, 50).params
    {'offset': 50, 'limit': 50}
    """

    size: int = 100
    offset_param: str = "offset"
    size_param: str = "limit"

    def first(self, request: PageRequest) -> PageRequest:
        """From offset 0."""
        return request.with_value(self.offset_param, 0).with_value(self.size_param, self.size)

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """`count` further on, unless this page was short."""
        if count < self.size:
            return None
        offset = int(request.params[self.offset_param]) + count
        return request.with_value(self.offset_param, offset)


@dataclass(frozen=True)
class Stream:
    """One list endpoint: where its records are in a page, how to page, what they become.

    `since_param` is the query filter on the last change (None: the list cannot be filtered
    and is read whole every run); `since_format` writes the date as the vendor wants it.
    """

    path: str
    items: str
    paginator: Paginator
    to_records: ToRecords
    params: Mapping[str, Any] = field(default_factory=dict)
    since_param: str | None = None
    since_format: Callable[[datetime], str] = datetime.isoformat


@dataclass(frozen=True)
class HttpSourceSpec:
    """A whole source: its streams in reading order, the cheapest authenticated call to
    check it, the overlap of an incremental read, and the version of its records."""

    streams: tuple[Stream, ...]
    check_path: str
    overlap: timedelta = timedelta(hours=1)
    version: int = 1


class DeclarativeSource:
    """A `Source` that reads what an `HttpSourceSpec` declares (module docstring)."""

    def __init__(
        self,
        source: str,
        spec: HttpSourceSpec,
        http: HttpClient,
        *,
        currency: str,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.currency = currency
        self.spec = spec
        self._http = http
        self._now = now or (lambda: datetime.now(UTC))

    def check(self) -> None:
        """Raise AuthError (or another EncoursError) if the API refuses the credentials."""
        self._http.get(self.spec.check_path)

    def pull(self, position: str | None) -> Pull:
        """Everything without a usable position, else what changed since it (less overlap)."""
        started = self._now()
        since = self._since(position)
        new_position = json.dumps({"since": started.isoformat(), "v": self.spec.version})
        start = None if since is None else since - self.spec.overlap
        records = chain.from_iterable(self._read(stream, start) for stream in self.spec.streams)
        return Pull(records=records, position=lambda: new_position, replace_all=since is None)

    def _read(self, stream: Stream, start: datetime | None) -> Iterator[SourceRecord | Rejected]:
        params = dict(stream.params)
        if start is not None and stream.since_param is not None:
            params[stream.since_param] = stream.since_format(start)
        for item in self._http.paginate(
            stream.path, params=params, paginator=stream.paginator, items=stream.items
        ):
            yield from stream.to_records(self.source, item, self.currency)

    def _since(self, position: str | None) -> datetime | None:
        if position is None:
            return None
        try:
            value = json.loads(position)
            since = datetime.fromisoformat(value["since"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable position %r: reading everything", self.source, position)
            return None
        if value.get("v") != self.spec.version or since.tzinfo is None:
            log.info("%s: position of another version: reading everything", self.source)
            return None
        return since


class OAuth2RefreshAuth(AuthBase):
    """OAuth 2 access tokens from a refresh token that may rotate (RFC 6749 §6).

    Before the first request, and when the access token is about to expire, the refresh
    token is exchanged at `token_url` (client id and secret in HTTP Basic, §2.3.1). When the
    answer holds a new refresh token, the old one is dead: `save(new)` stores it (through
    `sync/secrets.py`) *before* the access token is used, so a run that stops right after
    loses nothing. The exchange is never retried: a retry after the server consumed the
    token would spend a dead one. `on_secret` learns every token, for redaction.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        save: Callable[[str], None],
        on_secret: Callable[[str], None] = lambda _secret: None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 30.0,
    ) -> None:
        if not refresh_token.strip():
            raise AuthError("the refresh token is empty: run `encours init` to connect again")
        self._token_url, self._client = token_url, HTTPBasicAuth(client_id, client_secret)
        self._refresh_token, self._save, self._on_secret = refresh_token, save, on_secret
        self._session, self._clock, self._timeout = session or requests.Session(), clock, timeout
        self._access: str | None = None
        self._expires = 0.0

    @property
    def secrets(self) -> tuple[str, ...]:
        """What `redact` must hide for this auth (the access token is told to `on_secret`)."""
        return (self._refresh_token, str(self._client.password))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set `Authorization: Bearer`, refreshing first when needed."""
        if self._access is None or self._clock() >= self._expires:
            self._refresh()
        request.headers["Authorization"] = f"Bearer {self._access}"
        return request

    def __repr__(self) -> str:
        return "OAuth2RefreshAuth(tokens='***')"

    def _refresh(self) -> None:
        data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        try:
            response = self._session.post(
                self._token_url, data=data, auth=self._client, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"the token endpoint did not answer ({type(exc).__name__}); run again later"
            ) from None
        if response.status_code in (400, 401):  # invalid_grant: revoked, expired or spent
            raise AuthError(
                f"the token endpoint refused the refresh token ({response.status_code}): "
                "connect again with `encours init` to get a new one"
            )
        if response.status_code >= 300:
            raise TransientError(f"the token endpoint answered {response.status_code}")
        body = response.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError("the token endpoint answered without an access token")
        rotated = body.get("refresh_token")
        if rotated and rotated != self._refresh_token:
            self._on_secret(rotated)
            self._save(rotated)  # before anything uses the new access token
            self._refresh_token = rotated
        self._access = str(body["access_token"])
        self._on_secret(self._access)
        expires_in = float(body.get("expires_in", 3600))
        self._expires = self._clock() + max(0.0, expires_in - 60)  # a minute early
