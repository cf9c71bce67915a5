"""Every HTTP connector against a hostile server: documented exit codes, and no secret anywhere.

`encours sync` runs through click's CliRunner with a Pennylane source, a Tryton source and a
HubSpot target, all pointed at one `HostileServer` on 127.0.0.1 (plain HTTP is allowed to this
machine); a second instance is the "other origin" the redirects point to. For each behaviour
of the server (`tests/hostile_server.py`) and each connector it applies to, the run must end
with the exit code of the README's table and print no traceback; the secrets it holds (the
two tokens, the Tryton password, the session Tryton handed out), or any 8 characters of one,
must be in no output, no log record (every logger, DEBUG), no byte of any file of the folder
(the store and its -wal included), and the other origin must have received nothing at all.

The same behaviours are then met by each connector alone, without the CLI's last redaction:
its own error, with every chained cause, must hold no secret either. Plain HTTP to another
machine is refused (78) before any name lookup, and allowed by `allow_insecure_http`.

Retries do not sleep (`RetryPolicy` with no wait), Pennylane's pacer allows far more than
the server is asked, and `[limits]` are small, so the file runs in well under a minute.
"""

from __future__ import annotations

import base64
import functools
import logging
import socket
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from hostile_server import FILLER_CHARS, SESSION_TOKEN, HostileServer, Hostility, wait_until
from tenacity import wait_none

from encours.cli import cli
from encours.connectors import http as http_module
from encours.connectors import pennylane as pennylane_module
from encours.connectors.http import HttpClient, HttpLimits
from encours.connectors.hubspot import HubSpotTarget
from encours.connectors.pennylane import PennylaneConnector
from encours.connectors.tryton.rpc import TrytonRpc
from encours.connectors.tryton.source import TrytonSource
from encours.errors import ConfigError, EncoursError
from encours.sync.config import load_settings
from encours.sync.sources import make_source, make_target

PL_TOKEN = "plK7qW3zR8mX2vN5tB9cJ4"  # fake secrets, random enough that a piece of one
HS_TOKEN = "hsM4xP9wQ2kZ7rT5vL8dG6"  # is found only where it leaked
ERP_PASSWORD = "erpV6nJ3bY8qW1zX5cR7hF2"  # noqa: S105
SESSION = base64.b64encode(f"encours:1:{SESSION_TOKEN}".encode()).decode()
SECRETS = (PL_TOKEN, HS_TOKEN, ERP_PASSWORD, SESSION_TOKEN, SESSION)
PIECE = 8  # a leak of this many characters of a secret counts (a secret cut at 300)
AS_OF = "2026-03-01"

LIMITS = {
    "http_request_seconds": 3,
    "http_total_seconds": 20,
    "http_max_response_bytes": 1_000_000,
    "http_max_pages": 20,
}
# A drip: 2 s for the first attempt, then the run's deadline cuts the retries short.
DRIP_LIMITS = {**LIMITS, "http_request_seconds": 2, "http_total_seconds": 3}

CONFIG = """\
[store]
path = "s.sqlite"

[limits]
{limits}

[sources.pl]
type = "pennylane"
{extra}base_url = "{pl}"

[sources.erp]
type = "tryton"
{extra}url = "{tryton}"
database = "db"
user = "encours"

[targets.crm]
type = "hubspot"
{extra}base_url = "{hs}"

[push]
indicators = ["outstanding", "overdue", "not_due", "as_of"]
"""

# Which API each secret may be sent to: the token or password of one never goes to another.
OWN_API = {PL_TOKEN: "/pl/", HS_TOKEN: "/hs/", ERP_PASSWORD: "/tryton/", SESSION: "/tryton/"}


@dataclass
class World:
    folder: Path
    config: Path
    server: HostileServer
    other: HostileServer
    caplog: pytest.LogCaptureFixture
    results: list[Result] = field(default_factory=list)

    def write_config(
        self, limits: dict[str, float] = LIMITS, *, insecure: bool = False, **urls: str
    ) -> None:
        """The config, every connector on the hostile server unless `urls` says otherwise."""
        base = self.server.url
        where = {"pl": f"{base}/pl", "tryton": f"{base}/tryton", "hs": f"{base}/hs", **urls}
        lines = "\n".join(f"{key} = {value}" for key, value in limits.items())
        extra = "allow_insecure_http = true\n" if insecure else ""
        text = CONFIG.format(limits=lines, extra=extra, **where)
        self.config.write_text(text, encoding="utf-8")

    def sync(self) -> Result:
        result = CliRunner().invoke(cli, ["--config", str(self.config), "sync", "--as-of", AS_OF])
        self.results.append(result)
        return result


@pytest.fixture
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    """The hostile server and another origin; both stop at the end, or by themselves."""
    with HostileServer(lifetime=90) as server, HostileServer(lifetime=90) as other:
        server.other_origin = other.url
        yield server, other


@pytest.fixture
def world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring,
    caplog: pytest.LogCaptureFixture,
    servers: tuple[HostileServer, HostileServer],
) -> World:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's too
    monkeypatch.setenv("ENCOURS_PL_TOKEN", PL_TOKEN)
    memory_keyring.set_password("encours", "crm.token", HS_TOKEN)
    memory_keyring.set_password("encours", "erp.password", ERP_PASSWORD)
    # Retries do not wait, and pacing never makes a stream of pages sleep.
    fast = functools.partial(http_module.RetryPolicy, wait=wait_none(), sleep=lambda _: None)
    monkeypatch.setattr(http_module, "RetryPolicy", fast)
    monkeypatch.setattr(pennylane_module, "RATE_LIMIT", (10_000, 1.0))
    server, other = servers
    world = World(tmp_path, tmp_path / "config.toml", server, other, caplog)
    world.write_config()
    return world


def _pieces(secret: str) -> set[str]:
    return {secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)}


def _found(text: str) -> list[str]:
    return [secret for secret in SECRETS if any(piece in text for piece in _pieces(secret))]


def leaks(world: World) -> list[str]:
    """Where a secret (or 8 characters of one) shows: outputs, logs, files, the other origin."""
    found: list[str] = []
    for result in world.results:
        texts = {"stdout": result.stdout, "stderr": result.stderr}
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            texts["exception"] = "".join(traceback.format_exception(result.exception))
        found += [f"{where}: {s}" for where, text in texts.items() for s in _found(text)]
    for record in world.caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(record.exc_info[1]))
        found += [f"log {record.name}: {s}" for s in _found(text)]
    for path in sorted(world.folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for form in ("utf-8", "utf-16-le"):
                text = data.decode(form, errors="replace")
                found += [f"file {path.name} ({form}): {s}" for s in _found(text)]
    for request in world.other.received:
        found += [f"other origin {request.path}: {s}" for s in _found(request.as_text())]
    for request in world.server.received:  # each secret goes to its own API only
        found += [
            f"{request.path} was sent the secret of {own}"
            for secret, own in OWN_API.items()
            if secret in request.as_text() and not request.path.startswith(own)
        ]
    return found


def assert_clean(world: World, result: Result, code: int) -> None:
    """The documented code, a message and no traceback, nothing sent elsewhere, no leak."""
    output = result.stdout + result.stderr
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output and "internal error" not in output, output
    assert world.other.received == [], "the other origin was contacted"
    assert world.caplog.records, "nothing was logged: the log check is void"
    assert leaks(world) == []


# (api, mode, after, exit code): `after` requests of that API are answered well first.
CASES = [
    # Pennylane: every request (the first is the customers' list).
    ("pl", "error_500", 0, 75),
    ("pl", "error_400", 0, 70),
    ("pl", "error_401", 0, 78),
    ("pl", "error_in_body", 0, 65),  # a 200 without the list: the page is unreadable
    ("pl", "header_echo", 0, 0),
    ("pl", "record_echo", 0, 0),
    ("pl", "redirect_301", 0, 70),
    ("pl", "redirect_302", 0, 70),
    ("pl", "redirect_307", 0, 70),
    ("pl", "redirect_308", 0, 70),
    ("pl", "redirect_ftp", 0, 70),
    ("pl", "redirect_loop", 0, 70),
    ("pl", "drip", 0, 75),
    ("pl", "endless", 0, 65),
    ("pl", "oversized", 0, 65),
    ("pl", "truncated", 0, 75),
    # HubSpot: the companies' list; then (after=1) the batch update, a POST.
    ("hs", "error_500", 0, 75),
    ("hs", "error_400", 0, 70),
    ("hs", "error_401", 0, 78),
    ("hs", "header_echo", 0, 0),
    ("hs", "record_echo", 0, 0),
    ("hs", "redirect_301", 0, 70),
    ("hs", "redirect_302", 0, 70),
    ("hs", "redirect_307", 0, 70),
    ("hs", "redirect_308", 0, 70),
    ("hs", "redirect_ftp", 0, 70),
    ("hs", "redirect_loop", 0, 70),
    ("hs", "drip", 0, 75),
    ("hs", "endless", 0, 65),
    ("hs", "oversized", 0, 65),
    ("hs", "truncated", 0, 75),
    ("hs", "error_500", 1, 75),
    ("hs", "error_401", 1, 78),
    ("hs", "error_in_body", 1, 70),  # a 207 whose error echoes the token
    ("hs", "redirect_307", 1, 70),
    ("hs", "redirect_308", 1, 70),
    ("hs", "truncated", 1, 75),
    # Tryton: the login (the password in its body); then (after=1) the session's calls.
    ("tryton", "error_500", 0, 75),
    ("tryton", "error_400", 0, 70),
    ("tryton", "error_401", 0, 78),
    ("tryton", "error_in_body", 0, 78),  # Tryton's own error format: a refused login
    ("tryton", "header_echo", 0, 0),
    ("tryton", "record_echo", 0, 0),
    ("tryton", "redirect_301", 0, 70),
    ("tryton", "redirect_302", 0, 70),
    ("tryton", "redirect_307", 0, 70),
    ("tryton", "redirect_308", 0, 70),
    ("tryton", "redirect_ftp", 0, 70),
    ("tryton", "redirect_loop", 0, 70),
    ("tryton", "drip", 0, 75),
    ("tryton", "endless", 0, 65),
    ("tryton", "oversized", 0, 65),
    ("tryton", "truncated", 0, 75),
    ("tryton", "error_500", 1, 75),
    ("tryton", "error_401", 1, 78),  # the session refused: one new login, refused too
    ("tryton", "error_in_body", 1, 70),
    ("tryton", "redirect_307", 1, 70),
]


@pytest.mark.parametrize(
    ("api", "mode", "after", "code"),
    CASES,
    ids=[f"{api}-{mode}{'-later' if after else ''}" for api, mode, after, _ in CASES],
)
def test_a_hostile_server_gets_the_documented_exit_and_no_secret(
    world: World, api: str, mode: str, after: int, code: int
) -> None:
    if mode == "drip":
        world.write_config(DRIP_LIMITS)
    world.server.hostility = Hostility(api, mode, after)

    result = world.sync()

    assert_clean(world, result, code)
    name = {"pl": "source pl", "tryton": "source erp", "hs": "target crm"}[api]
    if code:
        assert f"{name}: FAILED" in result.stderr, result.stderr
    hit = [r for r in world.server.received if r.path.startswith(f"/{api}/")]
    assert len(hit) > after, "the hostile behaviour was never met"
    if mode == "record_echo" and api != "hs":  # HubSpot's companies are not stored
        store = (world.folder / "s.sqlite").read_bytes()
        assert b"token=***" in store  # the echo was stored, masked: the search is not void


def test_the_well_behaved_server_syncs_and_pushes(world: World) -> None:
    """The control: with no hostility, every connector works and the push arrives."""
    result = world.sync()

    assert_clean(world, result, 0)
    pushed = [r for r in world.server.received if r.path.endswith("/batch/update")]
    assert len(pushed) == 1 and b'"501"' in pushed[0].body
    logins = [r for r in world.server.received if b"common.db.login" in r.body]
    assert len(logins) == 1 and ERP_PASSWORD.encode() in logins[0].body  # it was planted


def test_an_error_body_is_cut_after_redaction(world: World) -> None:
    """The secret starts at character 290 of a 500's body: the excerpt shows `token=***`."""
    world.server.hostility = Hostility("pl", "error_500")

    result = world.sync()

    assert_clean(world, result, 75)
    assert f"{'x' * FILLER_CHARS} token=***" in " ".join(result.stderr.split())


def test_a_redirect_to_another_origin_names_both_urls_and_sends_nothing(world: World) -> None:
    world.server.hostility = Hostility("pl", "redirect_307")

    result = world.sync()

    assert_clean(world, result, 70)
    message = " ".join(result.stderr.split())
    assert f"{world.server.url}/pl/customers" in message
    assert f"{world.other.url}/***/pl/customers?access_token=***" in message


def test_a_drip_is_cut_by_the_deadlines(world: World) -> None:
    world.write_config(DRIP_LIMITS)
    world.server.hostility = Hostility("tryton", "drip")

    result = world.sync()

    assert_clean(world, result, 75)
    assert "[limits] http_" in result.stderr


# ---------------------------------------------------------------------------------------------
# Plain HTTP to another machine


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Refuse (and record) any name lookup or connection that is not to this machine."""
    tried: list[object] = []
    lookup, connect = socket.getaddrinfo, socket.create_connection

    def loopback(host: object) -> bool:
        return str(host) in ("127.0.0.1", "::1", "localhost") or str(host).startswith("127.")

    def guarded_lookup(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not loopback(host):
            tried.append(host)
            raise OSError(f"test: no lookup of {host}")
        return lookup(host, *args, **kwargs)

    def guarded_connect(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not loopback(address[0]):
            tried.append(address)
            raise OSError(f"test: no connection to {address}")
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    monkeypatch.setattr(socket, "create_connection", guarded_connect)
    return tried


@pytest.mark.parametrize("api", ["pl", "tryton", "hs"])
def test_plain_http_to_another_machine_is_refused_before_any_request(
    world: World, no_network: list[object], api: str
) -> None:
    world.write_config(**{api: "http://erp.example.fr"})

    result = world.sync()

    assert_clean(world, result, 78)
    assert "plain HTTP to another machine" in result.stderr
    assert "allow_insecure_http" in result.stderr
    assert no_network == []  # not even a name lookup


def test_allow_insecure_http_lifts_the_refusal_without_sending_anything(
    world: World, no_network: list[object]
) -> None:
    with pytest.raises(ConfigError):
        HttpClient("http://erp.example.fr", auth=None)
    HttpClient("http://erp.example.fr", auth=None, limits=HttpLimits(allow_insecure_http=True))
    far = "http://erp.example.fr"
    world.write_config(insecure=True, pl=far, tryton=far, hs=far)
    settings = load_settings(world.config)
    assert {
        s.allow_insecure_http for s in (*settings.sources.values(), *settings.targets.values())
    } == {True}

    for name, section in settings.sources.items():
        make_source(name, section, settings)  # no ConfigError: built, nothing sent
    make_target("crm", settings.targets["crm"], settings)

    assert no_network == []
    assert world.server.received == [] and world.other.received == []


# ---------------------------------------------------------------------------------------------
# The connectors themselves, without the CLI's last redaction


LAYER_CASES = [
    (api, mode, after)
    for api in ("pl", "hs", "tryton")
    for mode in (
        "error_500",
        "error_400",
        "error_401",
        "error_in_body",
        "redirect_302",
        "redirect_308",
        "redirect_ftp",
        "redirect_loop",
        "endless",
        "oversized",
        "truncated",
    )
    for after in ((0, 1) if api in ("hs", "tryton") else (0,))
    if not (api == "hs" and after and mode == "endless")  # the push is no list
]


def _use(api: str, url: str) -> None:
    """What `sync` does with each connector, to the first error."""
    limits = HttpLimits(
        request_seconds=3, total_seconds=20, max_response_bytes=1_000_000, max_pages=20
    )
    if api == "pl":
        source = PennylaneConnector(
            "pl", PL_TOKEN, currency="EUR", base_url=f"{url}/pl", limits=limits
        )
        list(source.pull(None).records)
    elif api == "hs":
        target = HubSpotTarget(
            HS_TOKEN,
            properties={"encours_outstanding": "Encours"},
            base_url=f"{url}/hs",
            limits=limits,
        )
        list(target.companies())
        target.push({"501": {"encours_outstanding": "1200.00"}})
    else:
        rpc = TrytonRpc(f"{url}/tryton", "db", "encours", ERP_PASSWORD, limits=limits)
        list(TrytonSource("erp", rpc, currency="EUR").pull(None).records)


@pytest.mark.parametrize(
    ("api", "mode", "after"), LAYER_CASES, ids=[f"{a}-{m}-{n}" for a, m, n in LAYER_CASES]
)
def test_the_connectors_own_errors_hold_no_secret(
    world: World, api: str, mode: str, after: int
) -> None:
    world.server.hostility = Hostility(api, mode, after)

    with pytest.raises(EncoursError) as raised:
        _use(api, world.server.url)

    text = "".join(traceback.format_exception(raised.value))  # with every chained cause
    assert _found(text) == [], text
    assert world.other.received == []


# ---------------------------------------------------------------------------------------------
# The server's own bounds


def test_the_server_answers_a_bounded_number_of_requests_and_stops_by_itself() -> None:
    with HostileServer(max_requests=2, lifetime=1.0) as server:
        url = f"{server.url}/pl/me"
        assert [requests.get(url, timeout=2).status_code for _ in range(2)] == [200, 200]
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)  # the third: cut off unanswered
        assert len(server.received) == 3
        assert wait_until(lambda: _refused(url), seconds=3)  # stopped after its lifetime


def _refused(url: str) -> bool:
    try:
        requests.get(url, timeout=0.5)
    except requests.ConnectionError:
        return True
    return False
