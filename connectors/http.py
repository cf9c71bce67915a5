"""The one HTTP layer of every HTTP connector: session, errors, retries, pacing, pages, redaction.

A vendor module declares a base URL, an auth, a `Pacer` sized to the vendor's published limit
and a paginator per endpoint; it never loops over pages, sleeps or retries itself.

    client = HttpClient(BASE_URL, auth=BearerAuth(token), pacer=Pacer(25, 5))
    pages = CursorPaginator("cursor", "next_cursor", has_more_path="has_more")
    for item in client.paginate("/customer_invoices", params={"limit": 100},
                                paginator=pages, items="items"):
        ...

Order of work for one request: pace -> send -> classify the status (a table) -> parse the
JSON with `Decimal` -> `check_body`. Only `TransientError` (5xx, 408, 429, network errors,
a truncated body, a deadline passed) is retried, by `RetryPolicy` on tenacity. Every URL and
message goes through `redact` (the whole text, before any cut) before it is logged or raised.

Transport rules, the same for every connector (`HttpLimits`, from `[limits]`):

- HTTPS for any host that is not this machine (loopback); plain HTTP elsewhere only with
  `allow_insecure_http`, for a lab: a password or token would cross the network in clear.
- A redirect is followed only to the same origin (scheme, host, port), at most
  `max_redirects` times, with the method and body only where HTTP keeps them (307, 308); a
  redirect to another origin is an `ApiError` naming both URLs, and nothing is sent there.
- Each request has a deadline from sending to its last byte (a server that drips one byte
  at a time cannot hold a run), and all the requests of one client (one source or target
  in one run) share a deadline: both are `TransientError`, the next run catches up.
- A response body larger than `max_response_bytes`, or a stream of more than `max_pages`
  pages, is a `DataError`: a server that never ends is broken, not slow.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import UTC
from decimal import Decimal
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, quote_plus, unquote_plus, urljoin, urlsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from requests.structures import CaseInsensitiveDict
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from encours.connectors import held_secrets, shared_limits
from encours.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DataError,
    EncoursError,
    NotFoundError,
    PaginationLoopError,
    RateLimitedError,
    TransientError,
)

__all__ = [
    "BearerAuth",
    "CursorPaginator",
    "HttpClient",
    "HttpLimits",
    "PageRequest",
    "Pacer",
    "Paginator",
    "RetryPolicy",
    "redact",
]

log = logging.getLogger("encours.http")

T = TypeVar("T")

try:
    _VERSION = version("encours")
except PackageNotFoundError:  # running from a bare checkout
    _VERSION = "0"

# What a run waits at most, in one go, for a retry or for a rate-limit window. A vendor that
# asks for longer (a daily quota, a Retry-After of an hour) gets a RateLimitedError at once:
# hammering it again would only burn quota (HubSpot "429 retry storms", VENDORS.md, checked
# 2026-11).
MAX_WAIT = 60.0

# Header values above this are Unix timestamps, below it delays in seconds: Pennylane's
# `ratelimit-reset` is a timestamp, others send seconds (VENDORS.md, checked 2026-11).
_EPOCH_THRESHOLD = 1_000_000_000

# A quota header at 0 -> how long that window lasts when no reset header says when it ends
# (None: use the reset headers, else the pacer's own window). Names per VENDORS.md, checked
# 2026-11: Pennylane `ratelimit-*`; HubSpot `X-HubSpot-RateLimit-*` (no reset header, the
# window is in `-Interval-Milliseconds`); Zoho `X-Rate-Limit-*`; Xero `X-MinLimit-Remaining`,
# `X-DayLimit-Remaining`; Sellsy `X-Quota-Remaining-By-*`.
_QUOTA_HEADERS: dict[str, float | None] = {
    "ratelimit-remaining": None,
    "x-ratelimit-remaining": None,
    "x-rate-limit-remaining": None,
    "x-hubspot-ratelimit-remaining": None,
    "x-hubspot-ratelimit-secondly-remaining": 1.0,
    "x-hubspot-ratelimit-daily-remaining": 86_400.0,
    "x-minlimit-remaining": 60.0,
    "x-daylimit-remaining": 86_400.0,
    "x-quota-remaining-by-second": 1.0,
    "x-quota-remaining-by-minute": 60.0,
}
_RESET_HEADERS = ("ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset")
_INTERVAL_MS_HEADER = "x-hubspot-ratelimit-interval-milliseconds"

# ---------------------------------------------------------------------------------------------
# Redaction


# Query parameters whose value is a credential, whatever the vendor calls them.
_SENSITIVE_NAME = re.compile(
    r"token|key|secret|passw(?:or)?d|signature|credential|authori[sz]ation|^sig$", re.I
)
_QUERY_PAIR = re.compile(r"([?&;])([^=&;#\s]+)=([^&;#\s'\"]*)")
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@", re.I)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide credentials in a message or URL.

    Every known secret (also percent-encoded) becomes `***`, as do the values of query
    parameters named like a credential (`access_token=`, `api_key=`, `signature=`, ...) and
    the password of a `user:password@host` URL.

    Args:
        text: a message, URL or response excerpt.
        secrets: the strings that must never be shown (tokens, keys, passwords).

    Returns:
        The text with every credential replaced by `***`.
    """
    variants = {v for s in secrets if s for v in (s, quote(s, safe=""), quote_plus(s))}
    for secret in sorted(variants, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, "***")

    def mask(match: re.Match[str]) -> str:
        name = unquote_plus(match[2])
        return f"{match[1]}{match[2]}=***" if _SENSITIVE_NAME.search(name) else match[0]

    text = _QUERY_PAIR.sub(mask, text)
    return _USERINFO.sub(r"\1***@", text)


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>`; its repr hides the token."""

    def __init__(self, token: str) -> None:
        if not token or not token.strip():
            raise AuthError("the API token is empty: set it with `encours secrets set`")
        self._token = token

    @property
    def secrets(self) -> tuple[str, ...]:
        """What `redact` must hide for this auth."""
        return (self._token,)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the header on an outgoing request."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


def _secrets_of(auth: AuthBase | None) -> tuple[str, ...]:
    if isinstance(auth, HTTPBasicAuth):
        return tuple(str(s) for s in (auth.password,) if s)
    return tuple(getattr(auth, "secrets", ()))


# ---------------------------------------------------------------------------------------------
# Header parsing


def _delay(value: str | None, now: float) -> float | None:
    """Seconds to wait from a header: delay-seconds, a Unix timestamp or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP dates are GMT by definition (RFC 9110 §5.6.7)
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    if not math.isfinite(number):
        return None
    return max(0.0, number - now if number > _EPOCH_THRESHOLD else number)


def _reset_delay(headers: Mapping[str, str], now: float) -> float | None:
    for name in _RESET_HEADERS:
        delay = _delay(headers.get(name), now)
        if delay is not None:
            return delay
    return None


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """What a 429 asks us to wait: `Retry-After`, else the vendor's reset header."""
    delay = _delay(headers.get("retry-after"), now)
    return delay if delay is not None else _reset_delay(headers, now)


# ---------------------------------------------------------------------------------------------
# Pacing


class Pacer:
    """Keep a run under a vendor's rate limit instead of bouncing off it.

    A sliding window: before each request, `wait()` sleeps until fewer than `max_calls`
    requests were sent in the last `per_seconds`. After each response, `observe()` reads the
    remaining-quota headers; when one reaches 0 the next `wait()` sleeps until the reset.
    Size it to the published limit, e.g. `Pacer(25, 5)` for Pennylane's 25 requests per
    5 s per token, `Pacer(100, 10)` for a HubSpot Starter private app (VENDORS.md, checked
    2026-11). One pacer per token: share it between clients that use the same token.
    """

    def __init__(
        self,
        max_calls: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        max_wait: float = MAX_WAIT,
    ) -> None:
        """Create a pacer.

        Args:
            max_calls: requests allowed in any window of `per_seconds`.
            per_seconds: the window's length.
            clock: a monotonic clock (injectable for tests).
            sleep: how to wait (injectable for tests).
            wall_clock: Unix time, to read reset headers given as timestamps.
            max_wait: a quota that resets later than this raises `RateLimitedError`.
        """
        if max_calls < 1 or per_seconds <= 0:
            raise ValueError("a pacer needs max_calls >= 1 and per_seconds > 0")
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._max_wait = max_wait
        self._sent: deque[float] = deque(maxlen=max_calls)  # send times of the last calls
        self._blocked_until = -math.inf  # on `clock`, set when a quota header hits 0

    def pause_left(self) -> float:
        """Seconds the next `wait()` still sleeps because a quota header reached 0."""
        return max(0.0, self._blocked_until - self._clock())

    def _delay(self, now: float) -> float:
        window = self._sent[0] + self.per_seconds - now if len(self._sent) == self.max_calls else 0
        return max(0.0, window, self._blocked_until - now)

    def wait(self) -> None:
        """Sleep until one more request stays under the limit, then count it.

        Raises:
            RateLimitedError: the quota resets later than `max_wait`; try again later.
        """
        now = self._clock()
        delay = self._delay(now)
        if delay > self._max_wait:
            raise RateLimitedError(
                f"the API quota is used up for the next {delay:.0f} s, longer than a run "
                f"waits ({self._max_wait:.0f} s). Try again later.",
                retry_after=delay,
            )
        while delay > 0:  # a loop, because float sums or a short sleep may leave a sliver
            log.debug("pacing: waiting %.2f s to stay under the rate limit", delay)
            self._sleep(delay)
            now = self._clock()
            delay = self._delay(now)
        self._sent.append(now)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read a response's quota headers; a quota at 0 blocks until its reset."""
        headers = CaseInsensitiveDict(headers)
        for name, window in _QUOTA_HEADERS.items():
            try:
                remaining = float(headers.get(name, "nan"))
            except ValueError:
                continue
            if not remaining <= 0:  # also skips a missing header (nan)
                continue
            delay = _reset_delay(headers, self._wall_clock()) if window is None else window
            if delay is None and _INTERVAL_MS_HEADER in headers:
                delay = _delay(headers[_INTERVAL_MS_HEADER], 0.0)
                delay = delay / 1000 if delay is not None else None
            if delay is None:
                delay = self.per_seconds
            self._blocked_until = max(self._blocked_until, self._clock() + delay)


# ---------------------------------------------------------------------------------------------
# Retries


def _default_wait() -> wait_base:
    return wait_exponential_jitter(initial=1, max=30, jitter=1)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry `TransientError` (and its `RateLimitedError`) with a capped, jittered backoff.

    The wait before a retry is `max(retry_after, backoff)`, capped at `max_wait`; a server
    that asks for more than `max_wait` is not retried at all (the error says when to come
    back). Tests pass `wait=wait_none()` and `sleep=list.append` so nothing sleeps.
    """

    attempts: int = 5
    wait: Callable[[RetryCallState], float] = field(default_factory=_default_wait)
    sleep: Callable[[float], None] = time.sleep
    max_wait: float = MAX_WAIT

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None) or 0.0
        return min(self.max_wait, max(hint, self.wait(state)))

    def _asks_too_long(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        return (getattr(error, "retry_after", None) or 0.0) > self.max_wait

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.info("retrying in %.1f s (attempt %d failed): %s", pause, state.attempt_number, error)

    def call(self, fn: Callable[[], T], *, retryable: bool = True) -> T:
        """Run `fn`, retrying it on `TransientError` while the policy allows.

        Args:
            fn: one attempt; it raises `TransientError` when another attempt may succeed.
            retryable: False for a request that must not be repeated (a POST without an
                idempotency key): one attempt only.

        Raises:
            TransientError: the last error, its message saying why no more attempts were made.
        """
        tries = 0

        def attempt() -> T:
            nonlocal tries
            tries += 1
            return fn()

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts if retryable else 1) | self._asks_too_long,  # type: ignore[operator]  # tenacity takes any callable
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            sleep=self.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except TransientError as error:
            retry_after = getattr(error, "retry_after", None) or 0.0
            if retry_after > self.max_wait:
                why = (
                    f"not retried: the server asks to wait {retry_after:.0f} s, longer than "
                    f"a run waits ({self.max_wait:.0f} s). Try again later."
                )
            elif not retryable:
                why = (
                    "not retried: the request is not idempotent (pass idempotent=True or an "
                    "Idempotency-Key header if repeating it is safe)."
                )
            else:
                why = f"gave up after {tries} attempt{'s' if tries > 1 else ''}. Try again later."
            error.args = (f"{error.args[0] if error.args else error} ({why})", *error.args[1:])
            raise


# ---------------------------------------------------------------------------------------------
# Pagination


@dataclass(frozen=True)
class PageRequest:
    """One page to fetch: a path or absolute URL, its query and (for POST searches) its body."""

    url: str
    params: Mapping[str, Any]
    json: Mapping[str, Any] | None = None

    def with_value(self, name: str, value: Any, *, in_body: bool = False) -> PageRequest:
        """The same request with one query (or body) value set; filters are kept."""
        if in_body:
            return replace(self, json={**(self.json or {}), name: value})
        return replace(self, params={**self.params, name: value})


class Paginator(Protocol):
    """How to get from one page to the next; stateless, so one instance serves many calls."""

    def first(self, request: PageRequest) -> PageRequest:
        """The request for the first page."""

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """The request for the page after `request` (which returned `count` items), or None."""


def _dig(payload: Any, path: str) -> Any:
    """`payload["a"]["b"]` for path "a.b"; None when any step is missing; payload for ""."""
    for key in filter(None, path.split(".")):
        if not isinstance(payload, Mapping):
            return None
        payload = payload.get(key)
    return payload


@dataclass(frozen=True)
class CursorPaginator:
    """An opaque cursor from each response, sent back as `cursor_param`.

    Pennylane v2: `CursorPaginator("cursor", "next_cursor", has_more_path="has_more")`, with
    `limit` in the params; the cursor does not carry the filter, which is why every page
    resends all params. HubSpot: `CursorPaginator("after", "paging.next.after")`, and with
    `in_body=True` for the POST searches (VENDORS.md, checked 2026-11).
    """

    cursor_param: str
    next_cursor_path: str
    has_more_path: str | None = None
    in_body: bool = False

    def first(self, request: PageRequest) -> PageRequest:
        """The first page is the caller's request as is."""
        return request

    def next(self, request: PageRequest, payload: Any, count: int) -> PageRequest | None:
        """Follow the cursor; stop when `has_more` is false or there is no cursor."""
        cursor = _dig(payload, self.next_cursor_path)
        has_more = _dig(payload, self.has_more_path) if self.has_more_path else None
        if self.has_more_path and not has_more:
            return None
        if cursor is None or cursor == "":
            if has_more:  # stopping here would silently drop the rest of the records
                raise ApiError(
                    f"the response says {self.has_more_path}=true but has no "
                    f"{self.next_cursor_path}; the vendor's pagination is broken"
                )
            return None
        return request.with_value(self.cursor_param, cursor, in_body=self.in_body)


# ---------------------------------------------------------------------------------------------
# Transport rules


@dataclass(frozen=True)
class HttpLimits:
    """The bounds of one client's HTTP work: `[limits]` of the configuration.

    Attributes:
        request_seconds: one request, from sending it to its last byte.
        total_seconds: every request of one client (a source or a target) in one run.
        max_response_bytes: one response body.
        max_pages: the pages of one stream.
        max_redirects: same-origin redirects followed for one request.
        allow_insecure_http: plain HTTP to a host that is not loopback (a lab only).
    """

    request_seconds: float = 300.0
    total_seconds: float = 7200.0
    max_response_bytes: int = 32 * 1024 * 1024
    max_pages: int = 20_000
    max_redirects: int = 5
    allow_insecure_http: bool = False


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(url: str, *, allow_insecure_http: bool = False) -> None:
    """ConfigError unless `url` is HTTPS, or plain HTTP to this machine (or allowed).

    >>> require_secure("https://erp.example.fr")
    >>> require_secure("http://127.0.0.1:8000")
    """
    scheme, host, _ = _origin(url)
    if scheme == "https" or (scheme == "http" and (_is_loopback(host) or allow_insecure_http)):
        return
    if scheme == "http":
        raise ConfigError(
            f"{redact(url)} is plain HTTP to another machine: the password or token would "
            "cross the network in clear. Use https://; for a lab only, set "
            "`allow_insecure_http = true` in that section."
        )
    raise ConfigError(f"{redact(url)} is not an http(s) URL")


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _json_int(text: str) -> int | Decimal:
    """A JSON integer: an int, or a Decimal past 30 digits (no amount or id is that long)."""
    return int(text) if len(text) <= 30 else Decimal(text)


class _TooLarge(Exception):
    """A body over the size limit (raised in the reading thread, turned into DataError)."""


# ---------------------------------------------------------------------------------------------
# The client

# status -> (error, what to tell the user); then by class of status (4xx, 5xx).
_STATUS_ERRORS: dict[int, tuple[type[EncoursError], str]] = {
    401: (
        AuthError,
        "the credentials were refused. Check the token or renew it (`encours secrets set`)",
    ),
    403: (AuthError, "access denied. The token lacks a permission or scope for this call"),
    404: (NotFoundError, "not found. Check the id or the base URL"),
    408: (TransientError, "the server timed out. This is usually temporary"),
    429: (RateLimitedError, "rate limited by the server"),
}
_CLASS_ERRORS: dict[int, tuple[type[EncoursError], str]] = {
    5: (TransientError, "the server failed. This is usually temporary"),
    4: (
        ApiError,
        "the request was refused. Check the configuration; if it is right, this is "
        "a bug in encours or an API change: please report it",
    ),
}
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class HttpClient:
    """One session to one API: timeouts, error table, retries, pacing, pages, redaction.

    Vendors whose errors come back in a 200 body override `check_body`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthBase | None,
        timeout: float | tuple[float, float] = (5, 60),
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        session: requests.Session | None = None,
        user_agent: str = f"encours/{_VERSION}",
        secrets: Iterable[str] = (),
        limits: HttpLimits | None = None,
    ) -> None:
        """Create a client.

        Args:
            base_url: the API root; relative paths are joined to it.
            auth: a requests auth (e.g. `BearerAuth(token)`), None for a header-key API.
            timeout: (connect, read) seconds; requests has no default and would wait forever.
            retry: the retry policy (tests pass one whose `sleep` records).
            pacer: the client-side rate limiter, None for no pacing; under `sync --all` it
                also waits on the token's window shared across processes.
            session: a `requests.Session` to reuse, else a new one.
            user_agent: the User-Agent header.
            secrets: more strings to redact, e.g. an API key sent in a custom header.
            limits: the transport's bounds (`HttpLimits`; its defaults when None).

        Raises:
            ConfigError: `base_url` is plain HTTP to another machine, and that is not allowed.
        """
        self.limits = limits or HttpLimits()
        require_secure(base_url, allow_insecure_http=self.limits.allow_insecure_http)
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._secrets = (*_secrets_of(auth), *secrets)
        # In a firm run, the token's limit is shared with the other processes (`shared_limits`).
        self._pacer = shared_limits.shared(pacer, self._secrets)
        held_secrets.hold(*self._secrets)
        self._origin = _origin(self.base_url)
        self._deadline: float | None = None  # for all requests: set by the first one
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encours-http")

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    def redact(self, text: str) -> str:
        """`redact` with this client's secrets."""
        return redact(text, self._secrets)

    def add_secret(self, secret: str) -> None:
        """Redact `secret` too from now on (a session token received at login)."""
        self._secrets = (*self._secrets, secret)
        held_secrets.hold(secret)

    # -- public calls --------------------------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """GET `path` and return its JSON (None for an empty body)."""
        return self._call("GET", path, params, json, headers, idempotent)

    def post(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """POST and return the JSON; retried only with `idempotent=True` or an Idempotency-Key."""
        return self._call("POST", path, params, json, headers, idempotent)

    def put(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """PUT and return the JSON (None for an empty body); retried, as PUT is idempotent."""
        return self._call("PUT", path, params, json, headers, None)

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        paginator: Paginator,
        items: str,
        method: str = "GET",
        json: Mapping[str, Any] | None = None,
    ) -> Iterator[Any]:
        """Yield the items of every page, one page in memory at a time.

        A page request is a read, so it is retried even when sent as a POST search.

        Args:
            path: the list endpoint.
            params: filters, resent on every page.
            paginator: how to go from one page to the next.
            items: dotted path of the list in each page ("items", "results", "data.rows").
            method: "GET", or "POST" for search endpoints.
            json: the body of a POST search (a body cursor is set by the paginator).

        Raises:
            PaginationLoopError: the server sent the same page token or link twice.
            DataError: a page has no list at `items`.
        """
        page: PageRequest | None = paginator.first(PageRequest(path, dict(params or {}), json))
        seen: set[tuple[str, str]] = set()
        while page is not None:
            if len(seen) >= self.limits.max_pages:
                raise DataError(
                    f"{method} {self.redact(self._full_url(path, params))}: more than "
                    f"{self.limits.max_pages:,} pages in one stream; a server that never ends "
                    "is broken. Report it to the vendor (or raise [limits] http_max_pages)."
                )
            key = (self._full_url(page.url, page.params), repr(page.json))
            if key in seen:
                raise PaginationLoopError(
                    f"{method} {self.redact(key[0])}: the server sent the same page token or "
                    "link twice; stopping instead of looping. The next run will try again; "
                    "if this comes back night after night, report it to the vendor."
                )
            seen.add(key)
            payload = self._call(method, page.url, page.params, page.json, None, True)
            rows = _dig(payload, items)
            if not isinstance(rows, list):
                found = sorted(payload) if isinstance(payload, Mapping) else type(payload).__name__
                raise DataError(
                    f"{method} {self.redact(key[0])}: expected a list at "
                    f"'{items}' in the response, found {found}"
                )
            yield from rows
            page = paginator.next(page, payload, len(rows))

    def check_body(self, payload: Any) -> None:
        """Raise an `EncoursError` for an error reported inside a 2xx body; no-op by default.

        Override for vendors such as QuickBooks (`Fault`). Raise `TransientError` to retry.
        The error's message may quote the body: the client redacts it.
        """

    # -- internals -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if "://" not in path:
            return f"{self.base_url}/{path.lstrip('/')}"
        if _origin(path) != self._origin:  # credentials go to our API host only
            raise ApiError(
                f"refusing to send credentials to {self.redact(path)}: it is not "
                f"on {self._origin[1]}. This is a vendor bug or a wrong base URL.",
                url=self.redact(path),
            )
        return path

    def _full_url(self, path: str, params: Mapping[str, Any] | None) -> str:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(self._url(path), params)
        return str(prepared.url)

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
    ) -> Any:
        url = self._url(path)
        shown = self.redact(self._full_url(url, params))
        sent_headers = {**self._headers, **(headers or {})}
        if idempotent is None:
            has_key = any(h.lower() == "idempotency-key" for h in sent_headers)
            idempotent = method in _IDEMPOTENT_METHODS or has_key

        def attempt() -> Any:
            if self._pacer is not None:
                self._pacer.wait()
            started = time.perf_counter()
            try:
                response = self._send(method, url, params, json, sent_headers, shown)
            except requests.exceptions.SSLError as exc:  # a certificate does not fix itself
                raise ConfigError(
                    f"{method} {shown}: TLS failed ({self._why(exc)}). Check "
                    "the base URL and the server's certificate."
                ) from self._safe_cause(exc)
            except _NETWORK_ERRORS as exc:
                log.debug(
                    "%s %s -> %s after %.3f s",
                    method,
                    shown,
                    type(exc).__name__,
                    time.perf_counter() - started,
                )
                raise self._network_error(method, shown, exc) from self._safe_cause(exc)
            log.debug(
                "%s %s -> %d in %.3f s",
                method,
                shown,
                response.status_code,
                time.perf_counter() - started,
            )
            if self._pacer is not None:
                self._pacer.observe(response.headers)
            self._raise_for_status(method, shown, response)
            payload = self._parse(method, shown, response)
            self._check_body(payload)
            return payload

        return self._retry.call(attempt, retryable=idempotent)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str],
        shown: str,
    ) -> requests.Response:
        """One request and its same-origin redirects, within the deadlines."""
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.limits.total_seconds
        if now >= self._deadline:
            raise TransientError(
                f"{method} {shown}: not sent, this run has spent the "
                f"{self.limits.total_seconds:.0f} s allowed for this source or target "
                "([limits] http_total_seconds); the next run goes on from where this one was."
            )
        deadline = min(now + self.limits.request_seconds, self._deadline)
        for _ in range(self.limits.max_redirects + 1):
            response = self._fetch(method, url, params, json, headers, deadline, shown)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            target = urljoin(response.url or url, location)
            if _origin(target) != self._origin:
                raise ApiError(
                    f"{method} {shown} was redirected to {self.redact(target)}, another origin: "
                    "not followed, so nothing was sent there. Check the URL in the "
                    "configuration (https, host, port, path).",
                    status=response.status_code,
                    url=shown,
                )
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, json = "GET", None
            url, params = target, None
        raise ApiError(
            f"{method} {shown}: more than {self.limits.max_redirects} redirects; the server "
            "redirects in a loop. Check the URL in the configuration.",
            url=shown,
        )

    def _fetch(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str],
        deadline: float,
        shown: str,
    ) -> requests.Response:
        """Send and read the whole body in a worker thread, given up at `deadline`."""
        future = self._reader.submit(self._receive, method, url, params, json, headers)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            # The reading thread is stuck on a socket: drop the connections it holds, and
            # read the next requests in a fresh thread.
            self._session.close()
            self._reader.shutdown(wait=False, cancel_futures=True)
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encours-http")
            raise TransientError(
                f"{method} {shown}: no complete answer within "
                f"{self.limits.request_seconds:.0f} s ([limits] http_request_seconds); the "
                "server is too slow or holds the connection. This is usually temporary."
            ) from None
        except _TooLarge:
            raise DataError(
                f"{method} {shown}: the answer is larger than "
                f"{self.limits.max_response_bytes:,} bytes, more than any page of this API "
                "should be; not read further. Report it to the vendor (or raise [limits] "
                "http_max_response_bytes)."
            ) from None

    def _receive(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> requests.Response:
        response = self._session.request(
            method,
            url,
            params=params,
            json=json,
            headers=headers,
            auth=self._auth,
            timeout=self._timeout,
            allow_redirects=False,
            stream=True,
        )
        try:
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body += chunk
                if len(body) > self.limits.max_response_bytes:
                    raise _TooLarge
            response._content = bytes(body)  # noqa: SLF001 - the documented way to preload
        finally:
            response.close()
        return response

    def _check_body(self, payload: Any) -> None:
        """`check_body`, its error redacted like every other: it quotes what the server said."""
        try:
            self.check_body(payload)
        except EncoursError as exc:
            exc.args = tuple(self.redact(a) if isinstance(a, str) else a for a in exc.args)
            raise

    def _safe_cause(self, exc: Exception) -> Exception | None:
        """`exc` to chain, or None when its text holds a secret (a URL with `?api_key=`)."""
        return exc if self.redact(str(exc)) == str(exc) else None

    def _why(self, exc: Exception) -> str:
        return self.redact(f"{type(exc).__name__}: {exc}")

    def _network_error(self, method: str, shown: str, exc: Exception) -> TransientError:
        if isinstance(exc, requests.ConnectTimeout):
            what = f"could not connect within the timeout ({self._timeout})"
        elif isinstance(exc, requests.Timeout):
            what = f"no answer within the timeout ({self._timeout})"
        else:
            what = "the connection failed"
        return TransientError(
            f"{method} {shown}: {what} ({self._why(exc)}). Check the "
            "network; this is usually temporary."
        )

    def _raise_for_status(self, method: str, shown: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        error_type, advice = _STATUS_ERRORS.get(status) or _CLASS_ERRORS.get(
            status // 100, _CLASS_ERRORS[4]
        )
        retry_after = _retry_after(response.headers, time.time()) if status == 429 else None
        if retry_after is not None:
            advice += f"; it asks to wait {retry_after:.0f} s"
        # The whole text is redacted before it is cut: a secret across the cut would survive.
        excerpt = " ".join(self.redact(response.text).split())[:300]
        message = f"{method} {shown} -> {status}: {advice}."
        if excerpt:
            message += f" The server said: {excerpt}"
        if issubclass(error_type, RateLimitedError):
            raise error_type(message, retry_after=retry_after)
        if issubclass(error_type, ApiError):
            raise error_type(message, status=status, url=shown)
        error = error_type(message)
        if isinstance(error, AuthError):
            error.status = status
        raise error

    def _parse(self, method: str, shown: str, response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            # Amounts stay exact: no float ever. An integer of absurd length (5 000 digits)
            # becomes a Decimal, which the model then refuses as no plausible amount, instead
            # of an error of Python's int conversion limit.
            return response.json(parse_float=Decimal, parse_int=_json_int)
        except ValueError as exc:
            raise TransientError(
                f"{method} {shown} -> {response.status_code}: the body is not valid JSON "
                f"({len(response.content)} bytes; {exc}). A truncated answer is usually "
                "temporary; if it persists the API may have changed."
            ) from exc
