"""The declarative HTTP source against a small fake API: pages, "changed since", OAuth 2.

The fake pages customers by offset and invoices by page number, filters invoices on
`updated_since`, and rotates the refresh token at every exchange (as Xero and Sellsy do):
a spent refresh token is refused with `invalid_grant`. A second fake (`ChangesApi`) lists
what changed in changelogs and answers per-invoice calls: changelog-driven incremental
reads, follow-up calls, notes, touched records and the last read.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from requests.auth import HTTPBasicAuth
from tenacity import wait_none

from encours.connectors.declarative import (
    Call,
    Change,
    Changelog,
    DeclarativeSource,
    FollowUp,
    HttpSourceSpec,
    OAuth2RefreshAuth,
    OffsetPaginator,
    PagePaginator,
    Reading,
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


# -- changelogs, follow-ups, notes, touched records, the last read -------------------------------
#
# A second small API: lists filtered by `ids`, changelogs of what changed since `since`, and
# per invoice its `payments` and `receipts`. An invoice's `paid` includes the credit notes
# that credit it (`credits`), as Pennylane's remaining amount does: what was paid in money is
# `paid` less those, so the credit notes must be known before the payments are read.


def change_of(row: Any) -> Change:
    return Change(str(row["id"]), datetime.fromisoformat(row["at"]), row["op"] == "delete")


def credit_link(item: Any) -> list[tuple[str, tuple[str, Decimal]]]:
    return (
        [(str(item["id"]), (str(item["credits"]), -Decimal(item["total"])))]
        if "credits" in item
        else []
    )


def money(item: Any, notes: Any) -> Decimal:
    credited = sum((a for i, a in notes.values() if i == str(item["id"])), Decimal(0))
    return Decimal(item["paid"]) - credited


def found_total(found: Any, name: str) -> Decimal:
    return sum((Decimal(row["amount"]) for row in found.get(name, [])), Decimal(0))


def paid_record(source: str, item: Any, found: Any, notes: Any, currency: str) -> list[Customer]:
    paid = found_total(found, "payments") + found_total(found, "receipts")
    return [
        Customer(
            source=source, external_id=f"paid{item['id']}", name=f"{paid}/{money(item, notes)}"
        )
    ]


def accounts(http: HttpClient, reading: Reading) -> list[Customer]:
    noted = reading.notes.get("customers", {})
    return [
        Customer(source=reading.source, external_id=f"acct{c}", name=a)
        for c, a in sorted(noted.items())
    ]


def details(name: str, **when: Any) -> Call:
    return Call(
        name,
        lambda item: f"/invoices/{item['id']}/{name}",
        items="data",
        paginator=PagePaginator(size=10),
        **when,
    )


PAID = FollowUp(
    wants=lambda item, records: Decimal(item["paid"]) > 0,
    calls=(
        details("payments", when=lambda item, found, notes: money(item, notes) > 0),
        details(
            "receipts",
            when=lambda item, found, notes: found_total(found, "payments") < money(item, notes),
        ),
    ),
    to_records=paid_record,
    notes_query=lambda picked: {"kind": "credit"},
)
CHANGES_SPEC = HttpSourceSpec(
    streams=(
        Stream("/customers", items="data", paginator=PagePaginator(size=10), name="customers",
               to_records=to_customer, by_ids=lambda ids: {"ids": ",".join(ids)},
               note=lambda item: [(str(item["id"]), item["account"])],
               changelog=Changelog("/changelogs/customers", items="data",
                                   paginator=PagePaginator(size=2), to_change=change_of,
                                   since_param="since")),
        Stream("/invoices", items="data", paginator=PagePaginator(size=10), name="invoices",
               to_records=to_invoice, by_ids=lambda ids: {"ids": ",".join(ids)}, id_batch=2,
               note=credit_link, touches=lambda item: [("customers", str(item["customer"]))],
               follow_ups=(PAID,),
               changelog=Changelog("/changelogs/invoices", items="data",
                                   paginator=PagePaginator(size=2), to_change=change_of,
                                   since_param="since")),
    ),
    check_path="/me",
    retention=timedelta(days=7),
    position_key="processed_at",
    after=accounts,
)  # fmt: skip


class ChangesApi:
    """Three customers, five invoices (14 credits 13), changelogs, payments and receipts."""

    def __init__(self) -> None:
        self.customers = [{"id": i, "name": f"Client {i}", "account": f"411{i}"} for i in (1, 2, 3)]
        self.invoices = [
            {"id": 10, "customer": 1, "total": "100.00", "paid": "100.00"},
            {"id": 11, "customer": 2, "total": "50.00", "paid": "0.00"},
            {"id": 12, "customer": 1, "total": "20.00", "paid": "0.00"},
            {"id": 13, "customer": 3, "total": "80.00", "paid": "80.00"},  # 30.00 by credit
            {"id": 14, "customer": 3, "total": "-30.00", "paid": "0.00", "credits": 13},
        ]
        self.settled = {"payments": {10: ["60.00"], 13: ["50.00"]}, "receipts": {10: ["40.00"]}}
        self.changes: dict[str, list[dict[str, Any]]] = {"customers": [], "invoices": []}
        self.calls: list[str] = []

    def change(self, stream: str, ident: int, at: datetime, op: str = "update") -> None:
        self.changes[stream].append({"id": ident, "at": at.isoformat(), "op": op})

    def install(self, rsps: responses.RequestsMock) -> None:
        for name in ("customers", "invoices"):
            rsps.add_callback(responses.GET, f"{API}/{name}", self._list(name))
            rsps.add_callback(responses.GET, f"{API}/changelogs/{name}", self._changelog(name))
        rsps.add_callback(responses.GET, re.compile(rf"{API}/invoices/\d+/\w+"), self._settled)

    def _answer(self, request: Any, rows: list[Any]) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        self.calls.append(f"{url.path.removeprefix('/v1')}?{url.query}")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        page, size = int(query.get("page", 1)), int(query.get("per_page", 10))
        return 200, {}, json.dumps({"data": rows[(page - 1) * size : page * size]})

    def _list(self, name: str) -> Any:
        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
            rows = getattr(self, name)
            if "ids" in query:
                rows = [r for r in rows if str(r["id"]) in query["ids"].split(",")]
            if query.get("kind") == "credit":
                rows = [r for r in rows if "credits" in r]
            return self._answer(request, rows)

        return answer

    def _changelog(self, name: str) -> Any:
        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
            since = datetime.fromisoformat(query["since"])
            rows = [r for r in self.changes[name] if datetime.fromisoformat(r["at"]) >= since]
            return self._answer(request, rows)

        return answer

    def _settled(self, request: Any) -> tuple[int, dict[str, str], str]:
        _, ident, kind = urlsplit(request.url).path.rsplit("/", 2)
        rows = [{"amount": a} for a in self.settled[kind].get(int(ident), [])]
        return self._answer(request, rows)


@pytest.fixture
def changes_api() -> Any:
    fake = ChangesApi()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def changes_source() -> DeclarativeSource:
    retry = RetryPolicy(wait=wait_none(), sleep=lambda _: None)
    http = HttpClient(API, auth=None, retry=retry)
    return DeclarativeSource("books", CHANGES_SPEC, http, currency="EUR", now=lambda: NOW)


def at(when: datetime) -> str:
    return json.dumps({"processed_at": when.isoformat(), "v": 1})


def names(records: list[Any]) -> dict[str, str]:
    return {r.external_id: r.name for r in records}


def test_a_full_read_makes_the_follow_up_calls_once_the_list_is_read(changes_api) -> None:
    pull = changes_source().pull(None)
    records = list(pull.records)

    assert pull.replace_all is True
    assert json.loads(pull.position()) == {"processed_at": NOW.isoformat(), "v": 1}
    # paid in money: 10 all of it (100 = 60 + 40), 13 its 80 less the 30 of credit note 14,
    # listed after it: the follow-ups wait for the end of the list
    assert names(records)["paid10"] == "100.00/100.00"
    assert names(records)["paid13"] == "50.00/50.00"
    assert [c.split("?")[0] for c in changes_api.calls] == [
        "/customers", "/invoices",
        "/invoices/10/payments", "/invoices/10/receipts",  # 60 of 100: receipts asked too
        "/invoices/13/payments",  # 50 of 50: `when` spares the receipts
    ]  # fmt: skip
    assert [r.external_id for r in records][-3:] == ["acct1", "acct2", "acct3"]  # `after`


def test_an_incremental_read_asks_only_the_changed_ids_in_batches(changes_api) -> None:
    last = NOW - timedelta(days=1)
    changes_api.change("invoices", 10, last - timedelta(minutes=30))  # in the overlap
    changes_api.change("invoices", 11, last + timedelta(hours=2))
    changes_api.change("invoices", 12, last + timedelta(hours=3))
    changes_api.change("invoices", 10, last + timedelta(hours=4))  # twice: asked once
    changes_api.change("invoices", 11, last - timedelta(hours=2))  # before the overlap

    pull = changes_source().pull(at(last))
    records = list(pull.records)

    assert pull.replace_all is False and pull.unchanged is False
    assert json.loads(pull.position()) == json.loads(at(last + timedelta(hours=4)))
    queries = [parse_qs(c.split("?")[1]) for c in changes_api.calls if c.startswith("/invoices?")]
    assert [q.get("ids") for q in queries] == [["10,11"], ["12"], None]  # id_batch 2
    assert queries[-1]["kind"] == ["credit"]  # the notes query: 10 was picked
    logs = [parse_qs(c.split("?")[1]) for c in changes_api.calls if c.startswith("/changelogs/")]
    assert {q["since"][0] for q in logs} == {(last - timedelta(hours=1)).isoformat()}
    assert sorted(r.external_id for r in records if r.external_id.startswith("i")) == [
        "i10", "i11", "i12"
    ]  # fmt: skip


def test_the_notes_query_finds_a_credit_note_that_did_not_change(changes_api) -> None:
    last = NOW - timedelta(days=1)
    changes_api.change("invoices", 13, last + timedelta(hours=1))
    changes_api.change("customers", 2, last + timedelta(hours=1))

    records = list(changes_source().pull(at(last)).records)

    # 14 did not change: without the notes query 13 would count 80.00 paid in money
    assert names(records)["paid13"] == "50.00/50.00"
    assert "i14" not in names(records)  # read for its note only
    assert "/invoices?kind=credit&page=1&per_page=10" in changes_api.calls
    # customer 2 changed; customer 3 is touched by invoice 13: one request for both, only 2
    # yielded, and both noted for the last read
    customer_lists = [c for c in changes_api.calls if c.startswith("/customers?")]
    assert [parse_qs(c.split("?")[1])["ids"] for c in customer_lists] == [["2,3"]]
    assert [
        r.external_id for r in records if isinstance(r, Customer) and r.external_id.isdigit()
    ] == ["2"]
    assert [r.external_id for r in records][-2:] == ["acct2", "acct3"]
    assert changes_api.calls.index(customer_lists[0]) > changes_api.calls.index(
        "/invoices/13/payments?page=1&per_page=10"
    )  # the stream that touches is read first


def test_a_deletion_in_a_changelog_makes_the_run_a_full_read(changes_api) -> None:
    last = NOW - timedelta(days=1)
    changes_api.change("invoices", 99, last + timedelta(hours=1), op="delete")
    source = changes_source()

    pull = source.pull(at(last))

    assert pull.replace_all is True
    assert source.deleted == {"invoices": ["99"]}
    assert len([r for r in pull.records if r.external_id.startswith("i")]) == 5
    assert json.loads(pull.position()) == json.loads(at(NOW))


def test_nothing_changed_is_an_unchanged_pull_that_keeps_the_position(changes_api) -> None:
    last = NOW - timedelta(days=1)
    pull = changes_source().pull(at(last))
    assert pull.unchanged is True
    assert list(pull.records) == []
    assert json.loads(pull.position()) == json.loads(at(last))
    assert [c.split("?")[0] for c in changes_api.calls] == [
        "/changelogs/customers", "/changelogs/invoices"
    ]  # fmt: skip


def test_a_change_recorded_after_the_start_keeps_the_position_at_the_start(changes_api) -> None:
    changes_api.change("invoices", 11, NOW + timedelta(minutes=5))
    pull = changes_source().pull(at(NOW - timedelta(days=1)))
    list(pull.records)
    assert json.loads(pull.position()) == json.loads(at(NOW))


def test_a_position_older_than_the_changelogs_keep_reads_everything(changes_api) -> None:
    pull = changes_source().pull(at(NOW - timedelta(days=8)))
    assert pull.replace_all is True
    assert len(list(pull.records)) > 5
    assert not any(c.startswith("/changelogs/") for c in changes_api.calls)
