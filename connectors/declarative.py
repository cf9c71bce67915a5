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

Changelogs: an API whose lists cannot be filtered on the last change may list the ids that
changed (`Changelog`: Pennylane's changelogs, Stripe's events). Then an incremental read
asks each stream's changelog from the position less `overlap`, and reads the stream for the
changed ids only, `id_batch` ids a request (`by_ids`). A deletion turns the run into a full
read (only a full read lets sync forget records); nothing changed is an `unchanged` pull;
the new position is the latest change seen (never later than the run's start); a position
older than the changelog keeps (`retention`) reads everything.

Follow-ups: a record may need calls of its own (the payments of an invoice, the refund of a
credit note). `FollowUp` picks the items, names the calls (`Call`), and makes the records
once the stream's list is read, from what `note` kept of every item of the list (a credit
note may come after the invoice it credits). `touches` names the records of another stream
an item needs (its customer, for the customer's account): an incremental read asks them in
the same batches as that stream's changed ids, for their notes only. `after` reads last,
from every stream's notes (a trial balance, per noted account).

Auth: `BearerAuth` (connectors/http.py), requests' `HTTPBasicAuth`, `OAuth2RefreshAuth`
below for the vendors whose refresh tokens rotate, or `OAuth2ClientCredentialsAuth` for an
API client that asks for its access tokens with its own id and secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from encours.connectors.base import Pull
from encours.connectors.http import HttpClient, PageRequest, Paginator
from encours.errors import AuthError, TransientError
from encours.model import Rejected, SourceRecord

log = logging.getLogger("encours.declarative")

#: `to_records(source, item, currency)`: a vendor record -> the common model (or Rejected).
ToRecords = Callable[[str, Any, str], Iterable[SourceRecord | Rejected]]
#: What `Stream.note` kept of the items of one stream in this read: key -> value.
Notes = Mapping[str, Any]


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


class Change(NamedTuple):
    """One row of a changelog: which record, when the change was recorded, whether a deletion."""

    id: str
    at: datetime
    deleted: bool = False


@dataclass(frozen=True)
class Changelog:
    """Where the vendor lists the ids of a stream's records changed since a date.

    `to_change` reads one row (pure); `since_param` takes the start of the changes.

    >>> changes = Changelog("/changelogs/invoices", items="items", paginator=PagePaginator(),
    ...                     to_change=lambda row: Change(str(row["id"]), row["at"]))
    >>> changes.to_change({"id": 7, "at": datetime(2026, 3, 1, tzinfo=UTC)}).id
    '7'
    """

    path: str
    items: str
    paginator: Paginator
    to_change: Callable[[Any], Change]
    params: Mapping[str, Any] = field(default_factory=dict)
    since_param: str = "start_date"
    since_format: Callable[[datetime], str] = datetime.isoformat


def _always(item: Any, found: Mapping[str, list[Any]], notes: Notes) -> bool:
    return True


@dataclass(frozen=True)
class Call:
    """One request of a follow-up: `GET path(item)`, every page, when `when(...)` says so.

    `when(item, found, notes)` sees what the earlier calls of the same follow-up found
    (call name -> items): "the payments, only if the bank transactions do not explain it".
    """

    name: str
    path: Callable[[Any], str]
    items: str
    paginator: Paginator
    params: Mapping[str, Any] = field(default_factory=dict)
    when: Callable[[Any, Mapping[str, list[Any]], Notes], bool] = _always


@dataclass(frozen=True)
class FollowUp:
    """Items of a stream that need calls of their own before they are whole.

    `wants(item, records)` picks an item, given the records `to_records` made of it. Once
    the stream's list is read, each picked item gets its `calls` in order, and
    `to_records(source, item, found, notes, currency)` makes its further records (`found`:
    call name -> items; `notes`: the stream's). `notes_query(picked)`: in an incremental
    read, the params of one more read of the stream whose items are only noted (the credit
    notes that may credit a changed invoice without having changed), or None.

    Example: an invoice with something paid is picked; its bank transactions are asked
    (`Call("transactions", ...)`), and `to_records` spreads what was paid over them.
    """

    wants: Callable[[Any, Sequence[SourceRecord | Rejected]], bool]
    calls: tuple[Call, ...]
    to_records: Callable[
        [str, Any, Mapping[str, list[Any]], Notes, str], Iterable[SourceRecord | Rejected]
    ]
    notes_query: Callable[[Sequence[Any]], Mapping[str, Any] | None] | None = None


@dataclass(frozen=True)
class Stream:
    """One list endpoint: where its records are in a page, how to page, what they become.

    `since_param` is the query filter on the last change (None: the list cannot be filtered
    and is read whole every run); `since_format` writes the date as the vendor wants it.

    With a `changelog`, an incremental read asks the list for the changed ids only:
    `by_ids(ids)` gives the params that select them, `id_batch` ids a request; `key` is the
    item's id field. `name` names the stream in changelogs, notes and `touches`
    (default: its path). `note(item)` gives (key, value) pairs kept for the read;
    `touches(item)` the (stream name, id) of the records of another stream it needs;
    `follow_ups` the items that need calls of their own (module docstring).
    """

    path: str
    items: str
    paginator: Paginator
    to_records: ToRecords
    params: Mapping[str, Any] = field(default_factory=dict)
    since_param: str | None = None
    since_format: Callable[[datetime], str] = datetime.isoformat
    name: str = ""
    key: str = "id"
    changelog: Changelog | None = None
    by_ids: Callable[[list[str]], Mapping[str, Any]] | None = None
    id_batch: int = 100
    note: Callable[[Any], Iterable[tuple[str, Any]]] | None = None
    touches: Callable[[Any], Iterable[tuple[str, str]]] | None = None
    follow_ups: tuple[FollowUp, ...] = ()

    @property
    def label(self) -> str:
        """The stream's name, or its path."""
        return self.name or self.path


@dataclass
class Reading:
    """One read in progress: whether it is full, when it started, what the streams noted."""

    source: str
    currency: str
    full: bool
    started: datetime
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: dict[str, set[str]] = field(default_factory=dict)


#: `after(http, reading)`: the records read last, from what the streams noted.
After = Callable[[HttpClient, Reading], Iterable[SourceRecord | Rejected]]


@dataclass(frozen=True)
class HttpSourceSpec:
    """A whole source, as data.

    Its streams in reading order, the cheapest authenticated call to check it, the overlap
    of an incremental read, and the version of its records. `retention`: how far back the
    changelogs go (an older position reads everything); `position_key`: the position's date
    field; `after`: a last read (module docstring).
    """

    streams: tuple[Stream, ...]
    check_path: str
    overlap: timedelta = timedelta(hours=1)
    version: int = 1
    retention: timedelta | None = None
    position_key: str = "since"
    after: After | None = None


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
        #: Ids the last incremental pull saw deleted, by stream (they made it a full read).
        self.deleted: dict[str, list[str]] = {}

    def check(self) -> None:
        """Raise AuthError (or another EncoursError) if the API refuses the credentials."""
        self._http.get(self.spec.check_path)

    def pull(self, position: str | None) -> Pull:
        """Everything without a usable position, else what changed since it (less overlap)."""
        started = self._now()
        since = self._since(position)
        retention = self.spec.retention
        if since is not None and retention is not None and started - since > retention:
            log.info("%s: position %s is older than the changelogs keep", self.source, since)
            since = None
        self.deleted = {}
        if since is not None and any(stream.changelog for stream in self.spec.streams):
            return self._pull_changes(since, started)
        return self._pull(since, started)

    def _pull(self, since: datetime | None, started: datetime) -> Pull:
        new_position = self._position(started)
        start = None if since is None else since - self.spec.overlap
        reading = Reading(self.source, self.currency, full=since is None, started=started)
        reads = (self._read(stream, reading, start=start) for stream in self.spec.streams)
        records = chain(chain.from_iterable(reads), self._after(reading))
        return Pull(records=records, position=lambda: new_position, replace_all=since is None)

    def _pull_changes(self, since: datetime, started: datetime) -> Pull:
        """What the changelogs name; streams that touch others first, so those are asked once."""
        start = since - self.spec.overlap
        latest, changed = self._changes(start, since)
        if self.deleted:
            log.info("%s: records deleted at the source (%s): full read", self.source, self.deleted)
            return self._pull(None, started)
        new_position = self._position(min(latest, started))
        streams = self.spec.streams
        if all(stream.changelog for stream in streams) and not any(changed.values()):
            return Pull(
                records=iter(()), position=lambda: new_position, replace_all=False, unchanged=True
            )
        reading = Reading(self.source, self.currency, full=False, started=started)
        ordered = sorted(streams, key=lambda stream: stream.touches is None)
        reads = (
            self._read(stream, reading, start=start, ids=changed.get(stream.label))
            for stream in ordered
        )
        records = chain(chain.from_iterable(reads), self._after(reading))
        return Pull(records=records, position=lambda: new_position, replace_all=False)

    def _changes(self, start: datetime, since: datetime) -> tuple[datetime, dict[str, list[str]]]:
        """The latest change seen and the ids changed, by stream; deletions to `deleted`."""
        latest = since
        changed: dict[str, list[str]] = {}
        for stream in self.spec.streams:
            changelog = stream.changelog
            if changelog is None:
                continue
            ids: dict[str, None] = {}  # an ordered set
            params = {**changelog.params, changelog.since_param: changelog.since_format(start)}
            for row in self._http.paginate(
                changelog.path, params=params, paginator=changelog.paginator, items=changelog.items
            ):
                change = changelog.to_change(row)
                latest = max(latest, change.at)
                if change.deleted:
                    self.deleted.setdefault(stream.label, []).append(change.id)
                else:
                    ids[change.id] = None
            changed[stream.label] = list(ids)
        return latest, changed

    def _read(
        self,
        stream: Stream,
        reading: Reading,
        *,
        start: datetime | None = None,
        ids: list[str] | None = None,
    ) -> Iterator[SourceRecord | Rejected]:
        """The stream's records (all, changed since `start`, or of `ids`), then its follow-ups.

        An item read only because another stream touches it is noted, not yielded.
        """
        wanted = None if ids is None else set(ids)
        picked: list[list[Any]] = [[] for _ in stream.follow_ups]
        for item in self._items(stream, reading, start, ids):
            self._note(stream, item, reading)
            if wanted is not None and _key(stream, item) not in wanted:
                continue
            for name, ident in stream.touches(item) if stream.touches else ():
                reading.touched.setdefault(name, set()).add(ident)
            records = list(stream.to_records(self.source, item, self.currency))
            for follow_up, chosen in zip(stream.follow_ups, picked, strict=True):
                if follow_up.wants(item, records):
                    chosen.append(item)
            yield from records
        if stream.follow_ups:
            yield from self._follow(stream, reading, picked)

    def _items(
        self, stream: Stream, reading: Reading, start: datetime | None, ids: list[str] | None
    ) -> Iterator[Any]:
        """Every page of the list: filtered on `start`, or by `ids` and the touched, in batches."""
        read, items = self._http.paginate, stream.items
        if ids is None:
            params = dict(stream.params)
            if start is not None and stream.since_param is not None:
                params[stream.since_param] = stream.since_format(start)
            yield from read(stream.path, params=params, paginator=stream.paginator, items=items)
            return
        if stream.by_ids is None:
            raise ValueError(f"stream {stream.label} has a changelog but no by_ids")
        every = list(dict.fromkeys([*ids, *sorted(reading.touched.get(stream.label, ()))]))
        for at in range(0, len(every), stream.id_batch):
            params = {**stream.params, **stream.by_ids(every[at : at + stream.id_batch])}
            yield from read(stream.path, params=params, paginator=stream.paginator, items=items)

    def _follow(
        self, stream: Stream, reading: Reading, picked: list[list[Any]]
    ) -> Iterator[SourceRecord | Rejected]:
        """The notes queries (incremental reads), then each follow-up's calls, item by item."""
        notes = reading.notes.setdefault(stream.label, {})
        for follow_up, chosen in zip(stream.follow_ups, picked, strict=True):
            if reading.full or follow_up.notes_query is None or not chosen:
                continue
            query = follow_up.notes_query(chosen)
            if query is not None:
                params = {**stream.params, **query}
                for item in self._http.paginate(
                    stream.path, params=params, paginator=stream.paginator, items=stream.items
                ):
                    self._note(stream, item, reading)
        for follow_up, chosen in zip(stream.follow_ups, picked, strict=True):
            for item in chosen:
                found: dict[str, list[Any]] = {}
                for call in follow_up.calls:
                    if call.when(item, found, notes):
                        found[call.name] = list(
                            self._http.paginate(
                                call.path(item),
                                params=call.params,
                                paginator=call.paginator,
                                items=call.items,
                            )
                        )
                yield from follow_up.to_records(self.source, item, found, notes, self.currency)

    @staticmethod
    def _note(stream: Stream, item: Any, reading: Reading) -> None:
        if stream.note is not None:
            reading.notes.setdefault(stream.label, {}).update(stream.note(item))

    def _after(self, reading: Reading) -> Iterator[SourceRecord | Rejected]:
        if self.spec.after is not None:
            yield from self.spec.after(self._http, reading)

    def _position(self, when: datetime) -> str:
        return json.dumps({self.spec.position_key: when.isoformat(), "v": self.spec.version})

    def _since(self, position: str | None) -> datetime | None:
        if position is None:
            return None
        try:
            value = json.loads(position)
            since = datetime.fromisoformat(value[self.spec.position_key])
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable position %r: reading everything", self.source, position)
            return None
        if value.get("v") != self.spec.version or since.tzinfo is None:
            log.info("%s: position of another version: reading everything", self.source)
            return None
        return since


def _key(stream: Stream, item: Any) -> str:
    """The item's id, as changelogs name it."""
    return str(item.get(stream.key)) if isinstance(item, Mapping) else ""


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


class OAuth2ClientCredentialsAuth(AuthBase):
    """OAuth 2 access tokens for an API client's own id and secret (RFC 6749 §4.4).

    Before the first request, and when the access token is about to expire, a new one is
    asked at `token_url` (`grant_type=client_credentials`, the id and secret in the form, as
    Sellsy wants them). Nothing rotates, so nothing is saved. `on_secret` learns every access
    token, for redaction (`HttpClient.add_secret`).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 30.0,
    ) -> None:
        if not client_secret.strip():
            raise AuthError("the API client's secret is empty: set it with `encours secrets set`")
        self._token_url, self._secret = token_url, client_secret
        self._form = {"grant_type": "client_credentials", "client_id": client_id}
        self._session, self._clock, self._timeout = session or requests.Session(), clock, timeout
        self._access: str | None = None
        self._expires = 0.0
        self.on_secret: Callable[[str], None] = lambda _secret: None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What `redact` must hide for this auth (the access token is told to `on_secret`)."""
        return (self._secret,)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set `Authorization: Bearer`, asking for a new token first when needed."""
        if self._access is None or self._clock() >= self._expires:
            self._ask()
        request.headers["Authorization"] = f"Bearer {self._access}"
        return request

    def __repr__(self) -> str:
        return "OAuth2ClientCredentialsAuth(secret='***')"

    def _ask(self) -> None:
        data = {**self._form, "client_secret": self._secret}
        try:
            response = self._session.post(self._token_url, data=data, timeout=self._timeout)
        except requests.RequestException as exc:
            raise TransientError(
                f"the token endpoint did not answer ({type(exc).__name__}); run again later"
            ) from None
        if response.status_code in (400, 401):  # invalid_client
            raise AuthError(
                f"the token endpoint refused the API client ({response.status_code}): check "
                "its client id, and its secret with `encours secrets set`"
            )
        try:
            body = response.json() if response.status_code < 300 else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise TransientError(f"the token endpoint answered {response.status_code}")
        self._access = str(body["access_token"])
        self.on_secret(self._access)
        expires_in = float(body.get("expires_in", 3600))
        self._expires = self._clock() + max(0.0, expires_in - 60)  # a minute early
