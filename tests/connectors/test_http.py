"""The shared HTTP layer: status table, retries, Retry-After, pacing, pages, redaction.

HTTP is mocked with `responses`; every retry policy and pacer here records its sleeps, so
nothing really waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from email.utils import formatdate

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry
from tenacity import wait_none

from encours.connectors.http import (
    BearerAuth,
    CursorPaginator,
    HttpClient,
    Pacer,
    RetryPolicy,
    redact,
)
from encours.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DataError,
    NotFoundError,
    PaginationLoopError,
    RateLimitedError,
    TransientError,
)

BASE = "https://api.example.test/v2"
TOKEN = "s3cr3t-T0KEN-value"  # noqa: S105 - a fake token, the thing redaction must hide


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def ordered() -> Iterator[responses.RequestsMock]:
    """Responses served strictly in the order registered, to script retry sequences."""
    with responses.RequestsMock(
        registry=OrderedRegistry, assert_all_requests_are_fired=True
    ) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(sleeps: list[float], *, attempts: int = 5, **kwargs: object) -> HttpClient:
    policy = RetryPolicy(attempts=attempts, wait=wait_none(), sleep=sleeps.append)
    return HttpClient(BASE, auth=BearerAuth(TOKEN), retry=policy, **kwargs)


class FakeClock:
    """A monotonic and a wall clock that only move when something sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# --- status table --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (408, TransientError),
        (429, RateLimitedError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (400, ApiError),
        (409, ApiError),
        (422, ApiError),
    ],
)
def test_status_maps_to_error_type(rsps, sleeps, status, error):
    rsps.get(f"{BASE}/invoices", status=status, body="nope")
    with pytest.raises(error) as info:
        client(sleeps, attempts=1).get("/invoices", params={"limit": 10})
    assert type(info.value) is error
    message = str(info.value)
    assert f"GET {BASE}/invoices?limit=10 -> {status}" in message
    if isinstance(info.value, ApiError):
        assert info.value.status == status
        assert info.value.url == f"{BASE}/invoices?limit=10"


def test_auth_error_tells_what_to_do(rsps, sleeps):
    rsps.get(f"{BASE}/me", status=401)
    with pytest.raises(AuthError, match="encours secrets set"):
        client(sleeps).get("/me")


def test_sends_auth_user_agent_and_timeout(rsps, sleeps):
    rsps.get(
        f"{BASE}/me",
        json={"ok": True},
        match=[
            matchers.header_matcher(
                {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
            ),
            matchers.request_kwargs_matcher({"timeout": (5, 60)}),
        ],
    )
    assert client(sleeps).get("/me") == {"ok": True}
    assert rsps.calls[0].request.headers["User-Agent"].startswith("encours/")


# --- retries -------------------------------------------------------------------------------


def test_503_then_429_then_200_retries_and_honours_retry_after(ordered, sleeps):
    ordered.get(f"{BASE}/invoices", status=503)
    ordered.get(f"{BASE}/invoices", status=429, headers={"Retry-After": "7"})
    ordered.get(f"{BASE}/invoices", json={"items": []})
    assert client(sleeps).get("/invoices") == {"items": []}
    assert len(ordered.calls) == 3
    assert 7 in sleeps
    assert len(sleeps) == 2


def test_retry_after_as_http_date(ordered, sleeps):
    when = formatdate(time.time() + 30, usegmt=True)
    ordered.get(f"{BASE}/invoices", status=429, headers={"Retry-After": when})
    ordered.get(f"{BASE}/invoices", json={})
    client(sleeps).get("/invoices")
    assert len(sleeps) == 1
    assert 27 <= sleeps[0] <= 30


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"Retry-After": "12"}, 12, 12),
        ({"ratelimit-reset": "now+20"}, 17, 20),  # Pennylane: a Unix timestamp, made below
        ({"X-RateLimit-Reset": "9"}, 9, 9),  # seconds
    ],
)
def test_429_retry_after_from_headers(rsps, sleeps, headers, low, high):
    # A timestamp is made when the test runs, not when it is collected (the suite takes time).
    headers = {k: str(int(time.time()) + 20) if v == "now+20" else v for k, v in headers.items()}
    rsps.get(f"{BASE}/x", status=429, headers=headers)
    with pytest.raises(RateLimitedError) as info:
        client(sleeps, attempts=1).get("/x")
    assert low <= info.value.retry_after <= high


def test_429_without_hint_backs_off(ordered, sleeps):
    ordered.get(f"{BASE}/x", status=429)
    ordered.get(f"{BASE}/x", json={})
    client(sleeps).get("/x")
    assert sleeps == [0]


def test_retry_after_longer_than_a_run_waits_is_not_retried(rsps, sleeps):
    rsps.get(f"{BASE}/x", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitedError, match="asks to wait 3600 s") as info:
        client(sleeps).get("/x")
    assert info.value.retry_after == 3600
    assert sleeps == []
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(rsps, sleeps, status):
    rsps.get(f"{BASE}/x", status=status)
    with pytest.raises((ApiError, AuthError)):
        client(sleeps).get("/x")
    assert len(rsps.calls) == 1
    assert sleeps == []


def test_connection_error_then_success(ordered, sleeps):
    ordered.get(f"{BASE}/x", body=requests.ConnectionError("connection reset by peer"))
    ordered.get(f"{BASE}/x", json={"ok": 1})
    assert client(sleeps).get("/x") == {"ok": 1}
    assert len(ordered.calls) == 2


def test_timeout_is_transient_and_says_so(rsps, sleeps):
    rsps.get(f"{BASE}/x", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransientError, match=r"no answer within the timeout \(\(5, 60\)\)"):
        client(sleeps, attempts=1).get("/x")


@pytest.mark.parametrize("body", ['{"items": [1, 2', "<html>Bad gateway</html>"])
def test_invalid_json_is_transient_then_retried(ordered, sleeps, body):
    ordered.get(f"{BASE}/x", body=body, content_type="application/json")
    ordered.get(f"{BASE}/x", json={"items": [1, 2]})
    assert client(sleeps).get("/x") == {"items": [1, 2]}
    assert len(ordered.calls) == 2


def test_invalid_json_message(rsps, sleeps):
    rsps.get(f"{BASE}/x", body='{"items": [', content_type="application/json")
    with pytest.raises(TransientError, match=r"-> 200: the body is not valid JSON \(11 bytes"):
        client(sleeps, attempts=1).get("/x")


def test_retries_exhausted_says_how_many_attempts(rsps, sleeps):
    rsps.get(f"{BASE}/x", status=503)
    with pytest.raises(TransientError, match="gave up after 5 attempts") as info:
        client(sleeps).get("/x")
    assert type(info.value) is TransientError
    assert len(rsps.calls) == 5
    assert len(sleeps) == 4


def test_post_not_retried_without_idempotent(rsps, sleeps):
    rsps.post(f"{BASE}/payments", status=503)
    with pytest.raises(TransientError, match="not retried: the request is not idempotent"):
        client(sleeps).post("/payments", json={"amount": "1.00"})
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    ("kwargs"),
    [{"idempotent": True}, {"headers": {"Idempotency-Key": "k-1"}}],
)
def test_post_retried_when_idempotent(ordered, sleeps, kwargs):
    ordered.post(f"{BASE}/search", status=502)
    ordered.post(f"{BASE}/search", json={"results": []})
    assert client(sleeps).post("/search", json={}, **kwargs) == {"results": []}
    assert len(ordered.calls) == 2


def test_an_empty_body_after_a_retry_is_none(ordered, sleeps):
    ordered.post(f"{BASE}/companies/1", status=500)
    ordered.post(f"{BASE}/companies/1", status=204)
    assert client(sleeps).post("/companies/1", json={"x": "1"}, idempotent=True) is None
    assert len(ordered.calls) == 2


# --- parsing and hooks ---------------------------------------------------------------------


def test_json_numbers_are_decimal(rsps, sleeps):
    rsps.get(f"{BASE}/x", body='{"amount": 12.30, "n": 3}', content_type="application/json")
    payload = client(sleeps).get("/x")
    assert payload["amount"] == Decimal("12.30")
    assert str(payload["amount"]) == "12.30"
    assert payload["n"] == 3


def test_check_body_hook_raises_on_error_in_a_200(rsps, sleeps):
    class FaultyClient(HttpClient):
        def check_body(self, payload):
            if isinstance(payload, dict) and "Fault" in payload:
                raise ApiError(f"the API reported: {payload['Fault']['Error']}")

    rsps.get(f"{BASE}/q", json={"Fault": {"Error": "bad query"}})
    faulty = FaultyClient(BASE, auth=None, retry=RetryPolicy(wait=wait_none(), sleep=sleeps.append))
    with pytest.raises(ApiError, match="bad query"):
        faulty.get("/q")


def test_tls_failure_is_a_config_error(rsps, sleeps):
    rsps.get(f"{BASE}/x", body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(ConfigError, match="TLS failed.*certificate verify failed"):
        client(sleeps).get("/x")
    assert len(rsps.calls) == 1


def test_absolute_url_on_another_host_is_refused(sleeps):
    with pytest.raises(ApiError, match="refusing to send credentials"):
        client(sleeps).get("https://evil.example.test/steal")


# --- paginators ----------------------------------------------------------------------------


def test_cursor_paginator_pennylane_resends_filters(rsps, sleeps):
    base = {"limit": "2", "filter": '[{"field":"date","operator":"gteq","value":"2026-01-01"}]'}
    url = f"{BASE}/customer_invoices"
    rsps.get(
        url,
        json={"items": [{"id": 1}, {"id": 2}], "has_more": True, "next_cursor": "c2"},
        match=[matchers.query_param_matcher(base)],
    )
    rsps.get(
        url,
        json={"items": [{"id": 3}, {"id": 4}], "has_more": True, "next_cursor": "c3"},
        match=[matchers.query_param_matcher(base | {"cursor": "c2"})],
    )
    rsps.get(
        url,
        json={"items": [{"id": 5}], "has_more": False, "next_cursor": None},
        match=[matchers.query_param_matcher(base | {"cursor": "c3"})],
    )
    pages = CursorPaginator("cursor", "next_cursor", has_more_path="has_more")
    rows = client(sleeps).paginate(
        "/customer_invoices", params=base, paginator=pages, items="items"
    )
    assert next(rows) == {"id": 1}
    assert len(rsps.calls) == 1  # streamed: the next page is fetched only when needed
    assert [r["id"] for r in rows] == [2, 3, 4, 5]
    assert len(rsps.calls) == 3


def test_cursor_paginator_hubspot_paging_next_after(rsps, sleeps):
    url = f"{BASE}/crm/v3/objects/companies"
    base = {"limit": "100", "properties": "name"}
    rsps.get(
        url,
        json={"results": [{"id": "1"}], "paging": {"next": {"after": "1"}}},
        match=[matchers.query_param_matcher(base)],
    )
    rsps.get(
        url,
        json={"results": [{"id": "2"}], "paging": {"next": {"after": "2"}}},
        match=[matchers.query_param_matcher(base | {"after": "1"})],
    )
    rsps.get(
        url,
        json={"results": [{"id": "3"}]},
        match=[matchers.query_param_matcher(base | {"after": "2"})],
    )
    pages = CursorPaginator("after", "paging.next.after")
    rows = client(sleeps).paginate(
        "/crm/v3/objects/companies", params=base, paginator=pages, items="results"
    )
    assert [r["id"] for r in rows] == ["1", "2", "3"]


def test_cursor_in_body_for_post_search(rsps, sleeps):
    url = f"{BASE}/crm/v3/objects/companies/search"
    body = {
        "filterGroups": [{"filters": [{"propertyName": "siren", "operator": "HAS_PROPERTY"}]}],
        "limit": 2,
    }
    rsps.post(
        url,
        json={"results": [{"id": "1"}], "paging": {"next": {"after": "2"}}},
        match=[matchers.json_params_matcher(body)],
    )
    rsps.post(
        url,
        json={"results": [{"id": "3"}]},
        match=[matchers.json_params_matcher(body | {"after": "2"})],
    )
    pages = CursorPaginator("after", "paging.next.after", in_body=True)
    rows = client(sleeps).paginate(
        "/crm/v3/objects/companies/search",
        paginator=pages,
        items="results",
        method="POST",
        json=body,
    )
    assert [r["id"] for r in rows] == ["1", "3"]


def test_cursor_paginator_has_more_without_cursor_raises(rsps, sleeps):
    rsps.get(f"{BASE}/x", json={"items": [{"id": 1}], "has_more": True, "next_cursor": None})
    pages = CursorPaginator("cursor", "next_cursor", has_more_path="has_more")
    with pytest.raises(ApiError, match="has_more=true but has no next_cursor"):
        list(client(sleeps).paginate("/x", paginator=pages, items="items"))


def test_repeated_cursor_raises(rsps, sleeps):
    rsps.get(
        f"{BASE}/x",
        json={"items": [1], "next_cursor": "c2"},
        match=[matchers.query_param_matcher({"q": "a"})],
    )
    rsps.get(
        f"{BASE}/x",
        json={"items": [2], "next_cursor": "c2"},
        match=[matchers.query_param_matcher({"q": "a", "cursor": "c2"})],
    )
    pages = CursorPaginator("cursor", "next_cursor")
    rows = client(sleeps).paginate("/x", params={"q": "a"}, paginator=pages, items="items")
    with pytest.raises(PaginationLoopError, match="same page token or link twice"):
        list(rows)
    assert len(rsps.calls) == 2


def test_missing_items_list_is_a_data_error(rsps, sleeps):
    rsps.get(f"{BASE}/x", json={"data": [], "meta": {}})
    pages = CursorPaginator("cursor", "next_cursor")
    rows = client(sleeps).paginate("/x", paginator=pages, items="items")
    with pytest.raises(
        DataError, match=r"expected a list at 'items' in the response, found \['data', 'meta'\]"
    ):
        list(rows)


# --- pacing --------------------------------------------------------------------------------


def test_pacer_never_exceeds_the_window():
    clock = FakeClock()
    pacer = Pacer(25, 5, clock=clock, sleep=clock.sleep, wall_clock=clock)
    sent = []
    for _ in range(60):
        pacer.wait()
        sent.append(clock.now)
    # any 26 consecutive calls span at least 5 s, i.e. no 5 s window holds more than 25
    assert all(sent[i + 25] - sent[i] >= 5 - 1e-9 for i in range(len(sent) - 25))
    assert sent[-1] - sent[0] == pytest.approx(10)  # and it does not wait more than needed


def test_pacer_waits_until_reset_when_remaining_is_zero():
    clock = FakeClock()
    pacer = Pacer(25, 5, clock=clock, sleep=clock.sleep, wall_clock=clock)
    pacer.wait()
    pacer.observe({"ratelimit-remaining": "0", "ratelimit-reset": str(int(clock.now) + 3)})
    pacer.wait()
    assert clock.slept == [pytest.approx(3)]


def test_pacer_hubspot_remaining_zero_waits_one_interval():
    clock = FakeClock()
    pacer = Pacer(100, 10, clock=clock, sleep=clock.sleep, wall_clock=clock)
    pacer.observe(
        {"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    )
    pacer.wait()
    assert clock.slept == [pytest.approx(10)]


def test_pacer_ignores_remaining_above_zero():
    clock = FakeClock()
    pacer = Pacer(25, 5, clock=clock, sleep=clock.sleep, wall_clock=clock)
    pacer.observe({"ratelimit-remaining": "3", "ratelimit-reset": str(int(clock.now) + 3)})
    pacer.wait()
    assert clock.slept == []


def test_pacer_quota_far_away_raises_instead_of_sleeping():
    clock = FakeClock()
    pacer = Pacer(100, 10, clock=clock, sleep=clock.sleep, wall_clock=clock)
    pacer.observe({"X-HubSpot-RateLimit-Daily-Remaining": "0"})
    with pytest.raises(RateLimitedError, match="quota is used up") as info:
        pacer.wait()
    assert info.value.retry_after == 86_400
    assert clock.slept == []


def test_client_paces_requests_and_reads_quota_headers(rsps, sleeps):
    clock = FakeClock()
    pacer = Pacer(3, 5, clock=clock, sleep=clock.sleep, wall_clock=clock)
    rsps.get(f"{BASE}/x", json={}, headers={"ratelimit-remaining": "9"})
    http = client(sleeps, pacer=pacer)
    for _ in range(4):
        http.get("/x")
    assert clock.slept == [pytest.approx(5)]  # the 4th call waits for the window
    rsps.replace(
        responses.GET,
        f"{BASE}/x",
        json={},
        headers={"ratelimit-remaining": "0", "ratelimit-reset": str(int(clock.now) + 2)},
    )
    http.get("/x")
    http.get("/x")
    assert clock.slept[1:] == [pytest.approx(2)]
    assert len(rsps.calls) == 6


# --- redaction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"GET https://h/x?access_token={TOKEN}&limit=2",
            "GET https://h/x?access_token=***&limit=2",
        ),
        ("https://h/x?api_key=abc&sig=zz&page=2", "https://h/x?api_key=***&sig=***&page=2"),
        ("https://h/x?client_secret=a&Signature=b", "https://h/x?client_secret=***&Signature=***"),
        ("https://user:pa55@h/x", "https://user:***@h/x"),
        (f"the token {TOKEN} was refused", "the token *** was refused"),
        ("https://h/x?page=2&limit=10", "https://h/x?page=2&limit=10"),
    ],
)
def test_redact(text, expected):
    assert redact(text, [TOKEN]) == expected


def test_redact_percent_encoded_secret():
    secret = "a b/c+d"  # noqa: S105
    assert redact("q=a%20b%2Fc%2Bd and a+b%2Fc%2Bd", [secret]) == "q=*** and ***"


def test_bearer_auth_hides_token():
    auth = BearerAuth(TOKEN)
    assert TOKEN not in repr(auth)
    assert TOKEN not in str(auth)
    with pytest.raises(AuthError, match="empty"):
        BearerAuth(" ")


def test_token_never_in_errors_or_logs(rsps, sleeps, caplog):
    caplog.set_level(logging.DEBUG, logger="encours.http")
    leaky = f"/items?access_token={TOKEN}&page=1"
    rsps.get(
        f"{BASE}/items",
        body=requests.ConnectionError(f"Max retries exceeded with url: {leaky} (token {TOKEN})"),
    )
    rsps.get(f"{BASE}/me", status=401, body=f'{{"error": "invalid token {TOKEN}"}}')
    http = client(sleeps, attempts=2)
    errors = []
    with pytest.raises(TransientError) as network:
        http.get(leaky)
    errors.append(network.value)
    with pytest.raises(AuthError) as refused:
        http.get("/me")
    errors.append(refused.value)

    assert "access_token=***" in str(network.value)
    assert "invalid token ***" in str(refused.value)
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        cause = error.__cause__
        assert cause is None or TOKEN not in str(cause)
    assert TOKEN not in repr(http)
    debug_lines = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug_lines) == 3  # one per request: two attempts, then the 401
    assert "GET https://api.example.test/v2/me -> 401 in" in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    assert TOKEN not in caplog.text


def test_extra_secrets_are_redacted(rsps, sleeps):
    key = "dolibarr-key-123"
    rsps.get(f"{BASE}/x", status=400, body=f"bad key {key}")
    http = HttpClient(
        BASE, auth=None, secrets=[key], retry=RetryPolicy(wait=wait_none(), sleep=sleeps.append)
    )
    with pytest.raises(ApiError) as info:
        http.get("/x", headers={"DOLAPIKEY": key})
    assert key not in str(info.value)


@responses.activate
def test_an_integer_of_5000_digits_is_read_as_a_decimal_for_the_model_to_refuse() -> None:
    responses.add(responses.GET, f"{BASE}/x", body='{"amount": ' + "9" * 5000 + "}")
    client = HttpClient(BASE, auth=None, retry=RetryPolicy(attempts=1))

    payload = client.get("/x")

    assert payload["amount"] == Decimal("9" * 5000)
