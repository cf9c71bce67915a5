"""The declarative HTTP source against a small fake API: pages, "changed since", OAuth 2.

The fake pages customers by offset and invoices by page number, filters invoices on
`updated_since`, and rotates the refresh token at every exchange (as Xero and Sellsy do):
a spent refresh token is refused with `invalid_grant`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from requests.auth import HTTPBasicAuth
from tenacity import wait_none

from encours.connectors.declarative import (
    DeclarativeSource,
    HttpSourceSpec,
    OAuth2RefreshAuth,
    OffsetPaginator,
    PagePaginator,
    Stream,
)
from encours.connectors.http import BearerAuth, HttpClient, RetryPolicy
from encours.errors import AuthError
from encours.model import Customer, Money, Rejected

API = "https://api.example.test/v1"
TOKEN_URL = "https://login.example.test/token"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def to_customer(source: str, item: Any, currency: str) -> list[Customer | Rejected]:
    return [Customer(source=source, external_id=str(item["id"]), name=item["name"])]


def to_invoice(source: str, item: Any, currency: str) -> list[Customer | Rejected]:
    """Invoices stand for any record here: their customer, named after the amount."""
    amount = Money(amount=Decimal(item["total"]), currency=currency)
    return [Customer(source=source, external_id=f"i{item['id']}", name=str(amount.amount))]


SPEC = HttpSourceSpec(
    streams=(
        Stream("/customers", items="data", paginator=OffsetPaginator(size=2),
               to_records=to_customer),
        Stream("/invoices", items="data", paginator=PagePaginator(size=2),
               to_records=to_invoice, since_param="updated_since"),
    ),
    check_path="/me",
)  # fmt: skip


class FakeApi:
    """Five customers, three invoices; OAuth 2 refresh tokens that rotate."""

    def __init__(self) -> None:
        self.customers = [{"id": i, "name": f"Client {i}"} for i in range(1, 6)]
        self.invoices = [
            {"id": 1, "total": "100.00", "updated_at": "2026-02-01T00:00:00+00:00"},
            {"id": 2, "total": "250.50", "updated_at": "2026-03-01T01:30:00+00:00"},
            {"id": 3, "total": "12.00", "updated_at": "2026-03-02T01:00:00+00:00"},
        ]
        self.refresh_token = "refresh-0"  # noqa: S105 - a fake token
        self.access_tokens: set[str] = set()
        self.events: list[str] = []

    def install(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.GET, f"{API}/customers", self._customers)
        rsps.add_callback(responses.GET, f"{API}/invoices", self._invoices)
        rsps.add_callback(responses.GET, f"{API}/me", lambda r: self._authed(r, {"ok": True}))
        rsps.add_callback(responses.POST, TOKEN_URL, self._token)

    def _authed(self, request: Any, body: Any) -> tuple[int, dict[str, str], str]:
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") not in self.access_tokens:
            return 401, {}, json.dumps({"error": "unauthorized"})
        self.events.append(f"GET {urlsplit(request.url).path}")
        return 200, {}, json.dumps(body)

    def _customers(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        offset, limit = int(query["offset"]), int(query["limit"])
        return self._authed(request, {"data": self.customers[offset : offset + limit]})

    def _invoices(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        rows = self.invoices
        if "updated_since" in query:
            since = datetime.fromisoformat(query["updated_since"])
            rows = [r for r in rows if datetime.fromisoformat(r["updated_at"]) >= since]
        page, size = int(query["page"]), int(query["per_page"])
        return self._authed(request, {"data": rows[(page - 1) * size : page * size]})

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        if form.get("refresh_token") != self.refresh_token:
            return 400, {}, json.dumps({"error": "invalid_grant"})
        number = len(self.access_tokens)
        self.refresh_token = f"refresh-{number + 1}"
        self.access_tokens.add(f"access-{number}")
        self.events.append("token")
        body = {"access_token": f"access-{number}", "refresh_token": self.refresh_token,
                "expires_in": 1800}  # fmt: skip
        return 200, {}, json.dumps(body)


@pytest.fixture
def api() -> Any:
    fake = FakeApi()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def source_with(auth: Any) -> DeclarativeSource:
    http = HttpClient(API, auth=auth, retry=RetryPolicy(wait=wait_none(), sleep=lambda _: None))
    return DeclarativeSource("books", SPEC, http, currency="EUR", now=lambda: NOW)


def oauth(api: FakeApi, saved: list[str]) -> OAuth2RefreshAuth:
    def save(token: str) -> None:
        saved.append(token)
        api.events.append(f"saved {token}")

    return OAuth2RefreshAuth(TOKEN_URL, "client", "client-secret", api.refresh_token, save=save)


def test_a_full_read_pages_every_stream_at_the_fewest_calls(api: FakeApi) -> None:
    api.access_tokens.add("static")
    pull = source_with(BearerAuth("static")).pull(None)
    records = list(pull.records)

    ids = [r.external_id for r in records]
    assert ids == ["1", "2", "3", "4", "5", "i1", "i2", "i3"]
    assert pull.replace_all is True
    assert json.loads(pull.position()) == {"since": NOW.isoformat(), "v": 1}
    # 5 customers by 2: 3 pages; 3 invoices by 2: 2 pages
    assert api.events == ["GET /v1/customers"] * 3 + ["GET /v1/invoices"] * 2
    assert records[-1].name == "12.00"


def test_an_incremental_read_asks_for_changes_since_the_position_less_the_overlap(
    api: FakeApi,
) -> None:
    api.access_tokens.add("static")
    last_run = NOW - timedelta(days=1)  # invoice 2 changed 30 min before it: the overlap
    position = json.dumps({"since": (last_run + timedelta(minutes=30)).isoformat(), "v": 1})
    pull = source_with(BearerAuth("static")).pull(position)

    ids = [r.external_id for r in pull.records]
    assert pull.replace_all is False
    assert [i for i in ids if i.startswith("i")] == ["i2", "i3"]
    assert ids[:5] == ["1", "2", "3", "4", "5"]  # no filter on customers: read whole


@pytest.mark.parametrize(
    "position", ['{"since": "2026-03-01T00:00:00+00:00", "v": 0}', "not json", '{"v": 1}']
)
def test_a_position_of_another_version_or_unreadable_reads_everything(
    api: FakeApi, position: str
) -> None:
    api.access_tokens.add("static")
    pull = source_with(BearerAuth("static")).pull(position)
    assert pull.replace_all is True
    assert len(list(pull.records)) == 8


def test_basic_auth_password_is_redacted(api: FakeApi) -> None:
    http = HttpClient(API, auth=HTTPBasicAuth("key", "basic-password"))
    assert http.redact(f"{API}/x?x=basic-password") == f"{API}/x?x=***"


def test_oauth_saves_the_rotated_refresh_token_before_using_the_access_token(
    api: FakeApi,
) -> None:
    saved: list[str] = []
    source = source_with(oauth(api, saved))
    source.check()
    list(source.pull(None).records)

    assert saved == ["refresh-1"]
    assert api.events[:3] == ["token", "saved refresh-1", "GET /v1/me"]
    assert api.events.count("token") == 1  # the access token serves the whole run


def test_oauth_refreshes_when_the_access_token_expires_with_the_new_refresh_token(
    api: FakeApi,
) -> None:
    saved: list[str] = []
    now = [0.0]
    auth = OAuth2RefreshAuth(
        TOKEN_URL, "client", "client-secret", api.refresh_token,
        save=saved.append, clock=lambda: now[0],
    )  # fmt: skip
    source = source_with(auth)
    source.check()
    now[0] = 1800.0  # past expiry (refreshed a minute early)
    source.check()
    assert saved == ["refresh-1", "refresh-2"]  # the second exchange used the rotated one


def test_a_spent_refresh_token_is_an_auth_error_that_says_what_to_do(api: FakeApi) -> None:
    auth = OAuth2RefreshAuth(TOKEN_URL, "client", "client-secret", "spent", save=print)
    with pytest.raises(AuthError) as error:
        source_with(auth).check()
    assert "encours init" in str(error.value)
    assert "spent" not in str(error.value)
    assert "spent" not in repr(auth) and "client-secret" not in repr(auth)
