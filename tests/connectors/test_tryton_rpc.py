"""Tryton JSON-RPC session and target against a fake server mocked with `responses`.

The fake answers `POST <url>/<db>/rpc/` and `POST <url>/rpc/` as Tryton 8.2 does (TRYTON.md
§4): a login gives a token, a call needs `Authorization: Session base64(login:uid:token)`
else 401, an unknown database is 404, an unknown method 403, and errors come in the body
with HTTP 200. Retry policies never sleep.
"""

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import responses
from tenacity import wait_none

from encours.connectors.http import RetryPolicy
from encours.connectors.tryton.rpc import TrytonError, TrytonRpc, from_wire, to_wire
from encours.connectors.tryton.target import TrytonTarget
from encours.errors import ApiError, AuthError, ConfigError, DataError, TransientError

URL = "https://erp.example.test"
DB = "prod"
LOGIN = "encours"
PASSWORD = "Pa55-w0rd-never-shown"  # noqa: S105 - a fake password, the thing messages must hide
CONTEXT = {"company": 1, "language": "fr"}


@dataclass
class Call:
    """One request the fake received."""

    path: str
    method: str
    params: list[Any]
    authorization: str | None


class Fault:
    """A handler's answer that Tryton sends as an in-body error."""

    def __init__(self, kind: str, message: str) -> None:
        self.error = [kind, [message, "", None]]


@dataclass
class Reply:
    """A handler's answer sent as a bare HTTP status and body."""

    status: int
    body: str = ""


class FakeTryton:
    """A Tryton server of one database: sessions, handlers by method, scripted HTTP statuses.

    Handlers take the params as sent on the wire (typed objects) and return the result in
    wire form, a `Fault` or a `Reply`. `statuses[method]` lists HTTP statuses to answer that method
    with first, one per request.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.tokens: set[str] = set()
        self.logins = 0
        self.databases = [DB]
        self.statuses: dict[str, list[int]] = {}
        self.handlers: dict[str, Callable[[list[Any]], Any]] = {
            "common.db.login": self._login,
            "common.server.version": lambda params: "8.2",
            "common.db.list": lambda params: list(self.databases),
            "model.res.user.get_preferences": lambda params: {
                "company": 1,
                "companies": [1],
                "language": "fr",
            },
        }

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(
            responses.POST, re.compile(re.escape(URL) + r"/.*"), callback=self._answer
        )

    def expire(self) -> None:
        """Forget every session, as a server restart or a session timeout does."""
        self.tokens.clear()

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def _login(self, params: list[Any]) -> Any:
        login, parameters, _language = params
        if login != LOGIN or parameters.get("password") != PASSWORD:
            return Reply(401)
        self.logins += 1
        token = f"tok{self.logins}"
        self.tokens.add(token)
        return [7, token, None]

    def _session_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Session "):
            return False
        login, uid, token = base64.b64decode(header.split(" ", 1)[1]).decode().split(":", 2)
        return login == LOGIN and uid == "7" and token in self.tokens

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        path = urlsplit(request.url).path
        method, params = body["method"], body["params"]
        header = request.headers.get("Authorization")
        self.calls.append(Call(path, method, params, header))
        scripted = self.statuses.get(method)
        if scripted:
            return scripted.pop(0), {}, ""
        if path != "/rpc/":
            database = path.strip("/").split("/")[0]
            if database not in self.databases:
                return 404, {}, "Not Found"
            if method != "common.db.login" and not self._session_ok(header):
                return 401, {}, "Unauthorized"
        handler = self.handlers.get(method)
        if handler is None:
            return 403, {}, "Forbidden"
        result = handler(params)
        if isinstance(result, Reply):
            return result.status, {}, result.body
        if isinstance(result, Fault):
            return 200, {}, json.dumps({"id": body["id"], "error": result.error})
        return 200, {}, json.dumps({"id": body["id"], "result": result})


@pytest.fixture
def fake() -> Iterator[FakeTryton]:
    server = FakeTryton()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server.register(rsps)
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def session(sleeps: list[float], *, database: str = DB, password: str = PASSWORD) -> TrytonRpc:
    policy = RetryPolicy(attempts=2, wait=wait_none(), sleep=sleeps.append)
    return TrytonRpc(
        URL,
        database,
        LOGIN,
        password,
        secret_hint="set it with `encours secrets set erp password`",  # noqa: S106
        retry=policy,
    )


def decimal(text: str) -> dict[str, str]:
    return {"__class__": "Decimal", "decimal": text}


# -- typed values ------------------------------------------------------------------------------


def test_to_wire_writes_tryton_types() -> None:
    """Decimal, date and datetime become Tryton's typed objects, inside lists and dicts too."""
    value = {
        "amount": Decimal("12.50"),
        "on": date(2026, 1, 31),
        "domain": [("id", ">", 3), ["paid", "=", True]],
        "none": None,
    }
    assert to_wire(value) == {
        "amount": {"__class__": "Decimal", "decimal": "12.50"},
        "on": {"__class__": "date", "year": 2026, "month": 1, "day": 31},
        "domain": [["id", ">", 3], ["paid", "=", True]],
        "none": None,
    }


def test_aware_datetime_goes_on_the_wire_as_naive_utc() -> None:
    """10:30 at UTC+2 is sent as 08:30 with no zone: Tryton stores naive UTC."""
    moment = datetime(2026, 11, 23, 10, 30, 5, 120, tzinfo=timezone(timedelta(hours=2)))
    assert to_wire(moment) == {
        "__class__": "datetime",
        "year": 2026,
        "month": 11,
        "day": 23,
        "hour": 8,
        "minute": 30,
        "second": 5,
        "microsecond": 120,
    }


def test_from_wire_reads_tryton_types() -> None:
    """Typed objects become Decimal, date and aware UTC datetimes; other values stay."""
    wire = {
        "total": decimal("1200.00"),
        "lines.": [{"maturity_date": {"__class__": "date", "year": 2026, "month": 9, "day": 14}}],
        "write_date": {
            "__class__": "datetime",
            "year": 2026,
            "month": 11,
            "day": 23,
            "hour": 9,
            "minute": 19,
        },
        "number": "FA2026-1",
        "reconciliation": None,
    }
    assert from_wire(wire) == {
        "total": Decimal("1200.00"),
        "lines.": [{"maturity_date": date(2026, 9, 14)}],
        "write_date": datetime(2026, 11, 23, 9, 19, tzinfo=UTC),
        "number": "FA2026-1",
        "reconciliation": None,
    }
    assert str(from_wire(decimal("1200.00"))) == "1200.00"  # the scale is kept


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1200.00"),
        Decimal("-0.01"),
        date(2026, 2, 28),
        datetime(2026, 11, 23, 9, 19, 43, 890437, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=-5))),
        {"a": [Decimal("1"), {"b": date(2026, 1, 1)}]},
    ],
)
def test_round_trip_keeps_values(value: Any) -> None:
    """`from_wire(to_wire(v)) == v`, through real JSON text; a datetime keeps its instant."""
    back = from_wire(json.loads(json.dumps(to_wire(value))))
    assert back == value
    if isinstance(value, datetime):
        assert back.tzinfo == UTC


def test_unknown_wire_type_is_an_error() -> None:
    """A typed object encours does not know is refused rather than passed on as a dict."""
    with pytest.raises(ValueError, match="timedelta"):
        from_wire({"__class__": "timedelta", "seconds": 60})


# -- login and session -------------------------------------------------------------------------


def test_login_then_session_header(fake: FakeTryton, sleeps: list[float]) -> None:
    """`common.db.login` goes to /<db>/rpc/ with the password; then `Session b64(login:uid:tok)`."""
    fake.handlers["model.party.party.search_count"] = lambda params: 3
    rpc = session(sleeps)
    assert rpc.call("model.party.party.search_count", [], 0, None, {}) == 3

    login, call = fake.calls
    assert (login.path, login.method) == ("/prod/rpc/", "common.db.login")
    assert login.params == [LOGIN, {"password": PASSWORD}, "fr"]
    assert login.authorization is None
    assert call.path == "/prod/rpc/"
    assert call.authorization == "Session " + base64.b64encode(b"encours:7:tok1").decode()


def test_one_login_for_many_calls(fake: FakeTryton, sleeps: list[float]) -> None:
    """Many calls, one password check: the session is reused."""
    fake.handlers["model.party.party.search_count"] = lambda params: 3
    rpc = session(sleeps)
    for _ in range(4):
        assert rpc.model("party.party", "search_count", [], 0, None) == 3
    assert fake.logins == 1
    assert fake.methods().count("common.db.login") == 1
    assert fake.methods().count("model.res.user.get_preferences") == 1


def test_context_is_sent_as_last_parameter(fake: FakeTryton, sleeps: list[float]) -> None:
    """`model()` appends the user's company and language, read once from the preferences."""
    fake.handlers["model.party.party.read"] = lambda params: [{"id": 2, "name": "Alpha"}]
    rpc = session(sleeps)
    assert rpc.read("party.party", [2], ["name"]) == [{"id": 2, "name": "Alpha"}]
    preferences = fake.calls[1]
    assert preferences.method == "model.res.user.get_preferences"
    assert preferences.params == [True, {}]
    assert fake.calls[-1].params == [[2], ["name"], CONTEXT]


def test_user_without_company_is_a_config_error(fake: FakeTryton, sleeps: list[float]) -> None:
    """No current company: balances would read as zero, so refuse and say how to fix it."""
    fake.handlers["model.res.user.get_preferences"] = lambda params: {"language": "fr"}
    with pytest.raises(ConfigError, match="no current company"):
        session(sleeps).context  # noqa: B018 - the property makes the call


def test_expired_session_logs_in_again_once(fake: FakeTryton, sleeps: list[float]) -> None:
    """A 401 on a call (session gone) logs in again and repeats the call, once."""
    fake.handlers["model.party.party.search_count"] = lambda params: 5
    rpc = session(sleeps)
    assert rpc.model("party.party", "search_count", [], 0, None) == 5
    fake.expire()

    assert rpc.model("party.party", "search_count", [], 0, None) == 5

    assert fake.logins == 2
    assert fake.methods()[-3:] == [
        "model.party.party.search_count",
        "common.db.login",
        "model.party.party.search_count",
    ]
    assert fake.calls[-1].authorization == "Session " + base64.b64encode(b"encours:7:tok2").decode()
    assert sleeps == []


def test_session_refused_twice_is_an_auth_error(fake: FakeTryton, sleeps: list[float]) -> None:
    """A call still 401 after a fresh login is not retried again: AuthError."""
    rpc = session(sleeps)
    rpc.context  # noqa: B018 - log in
    fake.statuses["model.party.party.search_count"] = [401, 401]
    with pytest.raises(AuthError) as raised:
        rpc.model("party.party", "search_count", [], 0, None)
    assert raised.value.status == 401
    assert fake.logins == 2
    assert fake.methods().count("model.party.party.search_count") == 2


def test_forbidden_call_does_not_log_in_again(fake: FakeTryton, sleeps: list[float]) -> None:
    """403 (a method not offered) is no expired session: AuthError at once, no second login."""
    rpc = session(sleeps)
    with pytest.raises(AuthError) as raised:
        rpc.model("party.party", "no_such_method")
    assert raised.value.status == 403
    assert fake.logins == 1


def test_wrong_password_is_an_auth_error_without_the_password(sleeps: list[float]) -> None:
    """401 at login: AuthError (exit 78) naming user and database, never the password.

    The server here even echoes the password in its body: it must not come through.
    """
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{URL}/{DB}/rpc/", status=401, body=f"bad password {PASSWORD}")
        with pytest.raises(AuthError) as raised:
            session(sleeps).call("model.party.party.search_count", [], 0, None, {})
    error = raised.value
    text = str(error)
    assert error.exit_code == 78
    assert "'encours'" in text
    assert "'prod'" in text
    assert "encours secrets set erp password" in text
    for shown in (text, repr(error.args), str(error.__cause__), str(error.__context__)):
        assert PASSWORD not in shown
    assert sleeps == []


def test_wrong_password_on_the_fake(fake: FakeTryton, sleeps: list[float]) -> None:
    """The fake refuses a wrong password with 401, as Tryton does: AuthError, nothing leaked."""
    with pytest.raises(AuthError, match="wrong user or password") as raised:
        session(sleeps, password="not-it-" + PASSWORD).call("common.server.version")
    assert PASSWORD not in str(raised.value)
    assert fake.methods() == ["common.db.login"]


def test_login_error_in_body_is_an_auth_error(fake: FakeTryton, sleeps: list[float]) -> None:
    """Tryton's in-body LoginException at login is an AuthError too."""
    fake.handlers["common.db.login"] = lambda params: Fault("LoginException", "password")
    with pytest.raises(AuthError, match="'encours' on database 'prod'"):
        session(sleeps).call("model.party.party.search_count", [], 0, None, {})


def test_empty_password_is_refused_before_any_request(sleeps: list[float]) -> None:
    """No password: AuthError with the hint, and nothing sent."""
    with responses.RequestsMock() as rsps:
        with pytest.raises(AuthError, match="encours secrets set erp password"):
            session(sleeps, password="")
        assert len(rsps.calls) == 0


def test_unknown_database_lists_the_databases(fake: FakeTryton, sleeps: list[float]) -> None:
    """404 at login: ConfigError naming the database, with the server's list when it gives one."""
    fake.databases = ["demo", "prod"]
    with pytest.raises(ConfigError) as raised:
        session(sleeps, database="prd").call("model.party.party.search_count", [], 0, None, {})
    text = str(raised.value)
    assert not isinstance(raised.value, AuthError)
    assert raised.value.exit_code == 78
    assert "'prd'" in text
    assert "(it has: demo, prod)" in text
    assert PASSWORD not in text
    listing = fake.calls[-1]
    assert (listing.path, listing.method) == ("/rpc/", "common.db.list")


def test_unknown_database_without_listing(fake: FakeTryton, sleeps: list[float]) -> None:
    """Listing disabled (403 on `common.db.list`): the ConfigError still names the database."""
    fake.statuses["common.db.list"] = [403]
    with pytest.raises(ConfigError, match="no database 'prd'") as raised:
        session(sleeps, database="prd").call("model.party.party.search_count", [], 0, None, {})
    assert "it has" not in str(raised.value)


def test_unknown_database_when_listing_fails(fake: FakeTryton, sleeps: list[float]) -> None:
    """`common.db.list` failing (503) only loses the hint: still a ConfigError, exit 78."""
    fake.statuses["common.db.list"] = [503, 503]
    with pytest.raises(ConfigError, match="no database 'prd'"):
        session(sleeps, database="prd").call("model.party.party.search_count", [], 0, None, {})


def test_in_body_error_is_a_tryton_error(fake: FakeTryton, sleeps: list[float]) -> None:
    """`{"error": ["UserError", ["msg", "", null]]}` with HTTP 200: TrytonError, not retried."""
    fake.handlers["model.account.invoice.post"] = lambda params: Fault("UserError", "msg")
    rpc = session(sleeps)
    with pytest.raises(TrytonError) as raised:
        rpc.call("model.account.invoice.post", [1], {})
    assert raised.value.kind == "UserError"
    assert str(raised.value) == "Tryton: UserError: msg"
    assert isinstance(raised.value, ApiError)
    assert fake.methods().count("model.account.invoice.post") == 1
    assert sleeps == []


def test_raw_in_body_error_from_the_wire(sleeps: list[float]) -> None:
    """The exact body Tryton sends for a UserError is read as a TrytonError."""
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST, f"{URL}/rpc/", json={"id": 1, "error": ["UserError", ["msg", "", None]]}
        )
        with pytest.raises(TrytonError, match="UserError: msg"):
            session(sleeps).server_version()


def test_answer_without_result_is_an_api_error(sleeps: list[float]) -> None:
    """A 200 that is not JSON-RPC (another server at that address): ApiError saying so."""
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{URL}/rpc/", json={"hello": "world"})
        with pytest.raises(ApiError, match="is https://erp.example.test Tryton"):
            session(sleeps).server_version()


def test_server_version_needs_no_login(fake: FakeTryton, sleeps: list[float]) -> None:
    """`common.server.version` goes to /rpc/ with no session and no login."""
    assert session(sleeps).server_version() == "8.2"
    (call,) = fake.calls
    assert (call.path, call.method, call.authorization) == ("/rpc/", "common.server.version", None)


def test_connection_refused_is_transient(sleeps: list[float]) -> None:
    """Connection refused: TransientError (exit 75) after the policy's attempts, no password."""
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{URL}/{DB}/rpc/",
            body=requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
        )
        with pytest.raises(TransientError) as raised:
            session(sleeps).call("model.party.party.search_count", [], 0, None, {})
        assert len(rsps.calls) == 2
    assert raised.value.exit_code == 75
    assert "gave up after 2 attempts" in str(raised.value)
    assert PASSWORD not in str(raised.value)
    assert sleeps == [0.0]


def test_server_error_is_retried_then_succeeds(fake: FakeTryton, sleeps: list[float]) -> None:
    """A 503 on a call is retried by the policy; the session is kept."""
    fake.handlers["model.party.party.search_count"] = lambda params: 1
    fake.statuses["model.party.party.search_count"] = [503]
    rpc = session(sleeps)
    assert rpc.model("party.party", "search_count", [], 0, None) == 1
    assert fake.logins == 1
    assert len(sleeps) == 1


def test_session_token_is_redacted_from_errors(fake: FakeTryton, sleeps: list[float]) -> None:
    """After login the token is a secret too: a server error echoing it does not show it."""
    token_b64 = base64.b64encode(b"encours:7:tok1").decode()
    fake.handlers["model.party.party.read"] = lambda params: Reply(
        400, f"bad request with Session {token_b64} and tok1"
    )
    with pytest.raises(ApiError) as raised:
        session(sleeps).read("party.party", [1], ["name"])
    assert raised.value.status == 400
    assert token_b64 not in str(raised.value)
    assert "tok1" not in str(raised.value)


# -- keyset pages ------------------------------------------------------------------------------


def serve_invoices(fake: FakeTryton, count: int) -> list[list[Any]]:
    """Answer `account.invoice.search_read` by keyset over ids 1..count; return the domains."""
    domains: list[list[Any]] = []

    def search_read(params: list[Any]) -> Any:
        domain, offset, limit, order, fields, context = params
        assert (offset, order, context) == (0, [["id", "ASC"]], CONTEXT)
        domains.append(domain)
        last = domain[-1][2]
        ids = [i for i in range(1, count + 1) if i > last][:limit]
        return [{"id": i, "number": f"FA-{i}", "total_amount": decimal("10.00")} for i in ids]

    fake.handlers["model.account.invoice.search_read"] = search_read
    return domains


def test_search_pages_are_keyset_pages(fake: FakeTryton, sleeps: list[float]) -> None:
    """Each page asks for ids above the last one seen, and a short page is the last."""
    domains = serve_invoices(fake, 5)
    since = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    rows = list(
        session(sleeps).search_pages(
            "account.invoice",
            [["type", "=", "out"], ["write_date", ">=", since]],
            ["number", "total_amount"],
            page_size=2,
        )
    )
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["total_amount"] == Decimal("10.00")
    moment = to_wire(since)
    assert domains == [
        [["type", "=", "out"], ["write_date", ">=", moment], ["id", ">", last]]
        for last in (0, 2, 4)
    ]
    page = next(c for c in fake.calls if c.method == "model.account.invoice.search_read")
    assert page.params[2] == 2
    assert page.params[4] == ["number", "total_amount"]


def test_search_pages_full_last_page_asks_once_more(fake: FakeTryton, sleeps: list[float]) -> None:
    """Four rows in pages of two: a third, empty page ends the read."""
    domains = serve_invoices(fake, 4)
    rows = list(session(sleeps).search_pages("account.invoice", [], ["number"], page_size=2))
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert [d[-1] for d in domains] == [["id", ">", 0], ["id", ">", 2], ["id", ">", 4]]


def test_search_pages_reads_lazily(fake: FakeTryton, sleeps: list[float]) -> None:
    """Nothing is asked before the first row is wanted, and one page at a time after."""
    domains = serve_invoices(fake, 5)
    pages = session(sleeps).search_pages("account.invoice", [], ["number"], page_size=2)
    assert domains == []
    assert next(pages)["id"] == 1
    assert len(domains) == 1


# -- TrytonTarget ------------------------------------------------------------------------------

FIELDS = {
    "name": {"type": "char"},
    "encours_outstanding": {"type": "numeric"},
    "encours_overdue": {"type": "numeric"},
    "encours_oldest_overdue_days": {"type": "integer"},
    "encours_on_hold": {"type": "boolean"},
    "encours_as_of": {"type": "date"},
    "encours_dso_method": {"type": "char"},
    "encours_updated_at": {"type": "timestamp"},
}


def target(fake: FakeTryton, sleeps: list[float], fields: dict[str, Any] = FIELDS) -> TrytonTarget:
    """A target whose server has these party fields and records every write."""
    fake.handlers["model.party.party.fields_get"] = lambda params: fields
    fake.handlers["model.party.party.set_encours_indicators"] = lambda params: len(params[0])
    return TrytonTarget(session(sleeps))


def writes(fake: FakeTryton) -> list[list[Any]]:
    return [c.params for c in fake.calls if c.method.endswith(".set_encours_indicators")]


def test_push_types_values_by_field(fake: FakeTryton, sleeps: list[float]) -> None:
    """Strings become Decimal, int, bool and date as `fields_get` types say; "" clears."""
    target(fake, sleeps).push(
        {
            "12": {
                "encours_outstanding": "3200.00",
                "encours_overdue": "",
                "encours_oldest_overdue_days": "17",
                "encours_on_hold": "true",
                "encours_as_of": "2026-11-30",
                "encours_dso_method": "countback",
            },
            "13": {"encours_on_hold": "false", "encours_outstanding": "-120.50"},
        }
    )
    (params,) = writes(fake)
    assert params == [
        [
            [
                12,
                {
                    "encours_outstanding": decimal("3200.00"),
                    "encours_overdue": None,
                    "encours_oldest_overdue_days": 17,
                    "encours_on_hold": True,
                    "encours_as_of": {"__class__": "date", "year": 2026, "month": 11, "day": 30},
                    "encours_dso_method": "countback",
                },
            ],
            [13, {"encours_on_hold": False, "encours_outstanding": decimal("-120.50")}],
        ],
        CONTEXT,
    ]
    get = next(c for c in fake.calls if c.method == "model.party.party.fields_get")
    assert get.params == [None, CONTEXT]


def test_push_skips_fields_the_module_lacks(
    fake: FakeTryton, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    """A field Tryton has not (an older module) is left out, with one warning for the run."""
    pusher = target(fake, sleeps)
    pusher.push({"12": {"encours_outstanding": "1.00", "encours_new_figure": "4"}})
    pusher.push({"13": {"encours_outstanding": "2.00", "encours_new_figure": "5"}})

    assert [p[0] for p in writes(fake)] == [
        [[12, {"encours_outstanding": decimal("1.00")}]],
        [[13, {"encours_outstanding": decimal("2.00")}]],
    ]
    warned = [r for r in caplog.records if "encours_new_figure" in r.getMessage()]
    assert len(warned) == 1
    assert fake.methods().count("model.party.party.fields_get") == 1


def test_push_one_call_per_push(fake: FakeTryton, sleeps: list[float]) -> None:
    """Fifty parties in one push: one `set_encours_indicators` call."""
    pusher = target(fake, sleeps)
    pusher.push({str(n): {"encours_outstanding": f"{n}.00"} for n in range(1, 51)})
    (params,) = writes(fake)
    assert [row[0] for row in params[0]] == list(range(1, 51))


def test_push_of_nothing_known_sends_nothing(fake: FakeTryton, sleeps: list[float]) -> None:
    """Only unknown fields: no write call at all."""
    target(fake, sleeps).push({"12": {"encours_unknown": "1"}})
    assert writes(fake) == []


def test_push_refuses_a_value_of_the_wrong_type(fake: FakeTryton, sleeps: list[float]) -> None:
    """A value that is no number for a numeric field: DataError naming the field, no write."""
    with pytest.raises(DataError, match="encours_outstanding"):
        target(fake, sleeps).push({"12": {"encours_outstanding": "n/a"}})
    assert writes(fake) == []


def test_check_without_the_module_says_how_to_install(
    fake: FakeTryton, sleeps: list[float]
) -> None:
    """No `encours_*` field on party.party: ConfigError naming party_encours and the commands."""
    pusher = target(fake, sleeps, fields={"name": {"type": "char"}, "encours_updated_at": {}})
    with pytest.raises(ConfigError) as raised:
        pusher.check()
    text = str(raised.value)
    assert not isinstance(raised.value, AuthError)
    assert "party_encours" in text
    assert "'prod'" in text
    assert "pip install ./tryton/party_encours" in text
    assert "trytond-admin -c trytond.conf -d prod -u party_encours" in text
    assert "restart trytond" in text
    assert writes(fake) == []


def test_check_user_outside_the_group_is_an_auth_error(
    fake: FakeTryton, sleeps: list[float]
) -> None:
    """The method's UserError (not in the group): AuthError naming the group and the user."""
    pusher = target(fake, sleeps)
    fake.handlers["model.party.party.set_encours_indicators"] = lambda params: Fault(
        "UserError", "Accès refusé : seul le groupe « Encours (synchronisation) » peut écrire"
    )
    with pytest.raises(AuthError) as raised:
        pusher.check()
    text = str(raised.value)
    assert "Encours (synchronisation)" in text
    assert "'encours'" in text
    assert "Administration > Users" in text
    assert writes(fake) == [[[], CONTEXT]]


def test_check_method_not_offered_means_restart(fake: FakeTryton, sleeps: list[float]) -> None:
    """Fields there but the method 403: the server was not restarted after activation."""
    pusher = target(fake, sleeps)
    del fake.handlers["model.party.party.set_encours_indicators"]
    with pytest.raises(ConfigError, match="restart trytond") as raised:
        pusher.check()
    assert not isinstance(raised.value, AuthError)


def test_check_passes_for_a_member_of_the_group(fake: FakeTryton, sleeps: list[float]) -> None:
    """Module active and user allowed: `check` writes nothing (an empty list) and passes."""
    pusher = target(fake, sleeps)
    pusher.check()
    assert writes(fake) == [[[], CONTEXT]]


def test_companies_read_identifiers(fake: FakeTryton, sleeps: list[float]) -> None:
    """`companies()` gives each party's SIREN without spaces and its VAT number."""
    fake.handlers["model.party.party.search_read"] = lambda params: [
        {
            "id": 2,
            "name": "Alpha Industrie SARL",
            "identifiers.": [
                {"id": 1, "type": "fr_siren", "code": "732 829 320"},
                {"id": 2, "type": "eu_vat", "code": "FR44732829320"},
            ],
        },
        {"id": 5, "name": "Fournitures Delta", "identifiers.": []},
    ]
    parties = list(target(fake, sleeps).companies())
    assert [(p.key, p.name, p.siren, p.vat_number) for p in parties] == [
        ("2", "Alpha Industrie SARL", "732829320", "FR44732829320"),
        ("5", "Fournitures Delta", None, None),
    ]
