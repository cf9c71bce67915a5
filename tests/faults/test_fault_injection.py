"""The nightly run survives faults: a seeded chaos harness over the real `run_sync`.

Issue "Prove the nightly run survives faults". For each of 200 seeds, a `random.Random(seed)`
decides, request by request, whether the fake Pennylane or the fake HubSpot answers with a
fault instead of (or in place of part of) its normal answer:

    429 with a short Retry-After (retried), 429 with a Retry-After longer than a run waits
    (not retried), 429 without Retry-After, 500, 502, 503, an outage (503 for as many
    consecutive requests as a run makes attempts), a connection reset, a read timeout, a
    truncated JSON body, an HTML body where JSON was expected, a token that expires in the
    middle of the run (every later request of that run gets 401), and a page that repeats
    (the server sends back the cursor it was just asked for).

Then either the run exits 0 and the store (every table but `runs`, without run ids) and every
HubSpot company's properties equal those of a fault-free run; or it exits with the code its
fatal fault calls for and the next run, with faults off (the token renewed), exits 0 and
reaches that identical state.

Exit codes observed (see `_FATAL_CODES`): a fault that outlasts the retries -> 75
(EX_TEMPFAIL); Pennylane's expired token -> 78 (EX_CONFIG); a repeated Pennylane page -> 70
(`ApiError`: the client's loop guard calls it a vendor bug). Every failure on the HubSpot side
ends as 75, even an expired token: `push_target` folds every target error into
EXIT_TEMPORARY; `test_expired_hubspot_token_is_a_config_error` keeps that as a known bug.

Nothing waits for real: the retry policy and both pacers sleep on one fake clock, which the
fake servers' rate limits also read, and the backoff has no jitter, so a seed replays exactly.
`pytest -s` prints a tally of the runs and the faults at the end of the module; only runs in
which at least one fault was injected count, and at least 200 of them must have run.
"""

from __future__ import annotations

import functools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from fake_hubspot import FakeHubSpot
from fakes.pennylane import SPEC_PATH, FakeClock, FakePennylane, customer, invoice
from store_tables import dump
from tenacity import wait_exponential

import encours.connectors.http as http_module
import encours.connectors.hubspot as hubspot_module
import encours.connectors.pennylane as pennylane_module
from encours.sync.config import Settings, load_settings
from encours.sync.run import EXIT_CONFIG, EXIT_OK, EXIT_REFUSED, EXIT_TEMPORARY, run_sync
from encours.sync.sources import make_target

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent")

SEEDS = range(205)  # at least 200 of them inject a fault (checked below)
FAULT_RATE = 0.15  # per request
ATTEMPTS = 5  # RetryPolicy's default; an outage lasts exactly that many requests
HUBSPOT_TOKEN = "hs-private-app-token-0123"  # noqa: S105 - a fake token
AS_OF = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
PULL_STARTED = FakeClock().now()  # what the Pennylane connector reads as "now"
RUN_COLUMNS = {"run_id", "first_run", "last_run"}

Reply = tuple[int, dict[str, str], str]

KINDS = (
    "429 Retry-After",
    "429 Retry-After too long",
    "429 no Retry-After",
    "500",
    "502",
    "503",
    "outage",
    "connection reset",
    "timeout",
    "truncated JSON",
    "invalid JSON",
    "expired token",
    "repeated page",
)

# The faults no retry absorbs, and the exit code each makes the run end with.
_FATAL_CODES: dict[tuple[str, str], int] = {
    ("pennylane", "429 Retry-After too long"): EXIT_TEMPORARY,
    ("pennylane", "outage"): EXIT_TEMPORARY,
    ("pennylane", "expired token"): EXIT_CONFIG,
    ("pennylane", "repeated page"): EXIT_TEMPORARY,
    ("hubspot", "429 Retry-After too long"): EXIT_TEMPORARY,
    ("hubspot", "outage"): EXIT_TEMPORARY,
    ("hubspot", "expired token"): EXIT_CONFIG,
    ("hubspot", "repeated page"): EXIT_TEMPORARY,
}

#: Accumulated over the module, printed at its end.
TALLY: Counter[str] = Counter()


# ---------------------------------------------------------------------------------------------
# The injector


@dataclass
class Injector:
    """Decides, per request, which fault (if any) a server answers with."""

    rng: random.Random
    rate: float = FAULT_RATE
    enabled: bool = False
    injected: list[tuple[str, str]] = field(default_factory=list)  # (server, kind), this run
    _expired: set[str] = field(default_factory=set)
    _expired_once: bool = False
    _outage: Counter[str] = field(default_factory=Counter)

    def decide(self, server: str, pageable: bool) -> str | None:
        """The fault for this request to `server`, or None for a normal answer."""
        if not self.enabled:
            return None
        if server in self._expired:
            return "expired token"  # it stays expired for the rest of the run
        if self._outage[server]:
            self._outage[server] -= 1
            return "outage"
        if self.rng.random() >= self.rate:
            return None
        kinds = [
            kind
            for kind in KINDS
            if (kind != "repeated page" or pageable)
            and (kind != "expired token" or not self._expired_once)
        ]
        kind = self.rng.choice(kinds)
        self.injected.append((server, kind))
        if kind == "expired token":
            self._expired.add(server)
            self._expired_once = True
        elif kind == "outage":
            self._outage[server] = ATTEMPTS - 1
        return kind

    def start_run(self, *, faults: bool) -> None:
        """A new run: the token is valid again, outages are over."""
        self.enabled = faults
        self.injected = []
        self._expired.clear()
        self._outage.clear()

    def expected_exit(self) -> int:
        """The exit code the faults injected in this run call for."""
        codes = {_FATAL_CODES.get(fault, EXIT_OK) for fault in self.injected}
        for code in (EXIT_CONFIG, EXIT_REFUSED, EXIT_TEMPORARY):
            if code in codes:
                return code
        return EXIT_OK

    def transient(self, kind: str, real: Callable[[], Reply]) -> Reply | Exception | None:
        """The reply of a fault both servers answer alike; None for a server-specific one."""
        body = json.dumps({"error": f"injected {kind}"})
        match kind:
            case "429 Retry-After":
                return 429, {"Retry-After": str(self.rng.choice([1, 2, 5]))}, body
            case "429 Retry-After too long":
                return 429, {"Retry-After": "3600"}, body
            case "429 no Retry-After":
                return 429, {}, body
            case "500" | "502" | "503":
                return int(kind), {}, body
            case "outage":
                return 503, {"Content-Type": "text/html"}, "<html>Service Unavailable</html>"
            case "connection reset":
                return requests.ConnectionError(
                    ConnectionResetError(104, "Connection reset by peer")
                )
            case "timeout":
                return requests.ReadTimeout("Read timed out. (read timeout=60)")
            case "truncated JSON":
                status, headers, text = real()  # the server did the work; the answer is cut
                return status, headers, text[: len(text) // 2]
            case "invalid JSON":
                return 200, {"Content-Type": "text/html"}, "<html><h1>502 Bad Gateway</h1>"
        return None


def _query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


class FaultyPennylane(FakePennylane):
    """The fake Pennylane, with the injector's faults in front of it."""

    injector: Injector

    def _handle(self, request: requests.PreparedRequest) -> Any:
        query = _query(request)
        kind = self.injector.decide("pennylane", pageable="cursor" in query)
        if kind is None:
            return super()._handle(request)
        reply = self.injector.transient(kind, lambda: super(FaultyPennylane, self)._handle(request))
        if reply is not None:
            return reply
        if kind == "expired token":
            return 401, {}, json.dumps({"error": "Unauthorized"})
        status, headers, text = super()._handle(request)  # "repeated page"
        if status != 200:
            return status, headers, text
        payload = json.loads(text)
        payload |= {"has_more": True, "next_cursor": query["cursor"]}
        return status, headers, json.dumps(payload)


class FaultyHubSpot(FakeHubSpot):
    """The fake HubSpot, with the injector's faults in front of every endpoint."""

    injector: Injector

    def _guard(self, method: str, path: str, handler: Callable[..., Reply]) -> Callable[..., Any]:
        inner = super()._guard(method, path, handler)

        def callback(request: requests.PreparedRequest) -> Any:
            query = _query(request)
            kind = self.injector.decide("hubspot", pageable="after" in query)
            if kind is None:
                return inner(request)
            reply = self.injector.transient(kind, lambda: inner(request))
            if reply is not None:
                return reply
            if kind == "expired token":
                body = {
                    "status": "error",
                    "message": "The OAuth token used to make this call expired 2 minute(s) ago.",
                    "category": "EXPIRED_AUTHENTICATION",
                    "correlationId": "c0ffee",
                }
                return 401, {"Content-Type": "application/json"}, json.dumps(body)
            status, headers, text = inner(request)  # "repeated page"
            if status != 200:
                return status, headers, text
            payload = json.loads(text)
            payload["paging"] = {"next": {"after": query["after"], "link": str(request.url)}}
            return status, headers, json.dumps(payload)

        return callback


# ---------------------------------------------------------------------------------------------
# The world


class _PullClock(datetime):
    """`datetime` whose `now` is fixed: the Pennylane position then replays exactly."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return PULL_STARTED


def _dataset(pennylane: FakePennylane, hubspot: FakeHubSpot) -> None:
    """3 customers, 250 invoices (3 pages of 100), 3 matchable companies and 150 others."""
    pennylane.customers = {
        1: customer(1, "Boulangerie Dupont", reg_no="345678901"),
        2: customer(2, "Garage Martin", emails=["compta@garage-martin.fr"]),
        3: customer(3, "Inconnu SARL"),
    }
    for ident in range(10, 260):
        total = f"{100 + ident}.00"
        extra: dict[str, Any] = {}
        if ident % 3 == 0:
            extra["deadline"] = "2026-04-30"  # not due yet on 1 March
        pennylane.invoices[ident] = invoice(ident, 1 + ident % 3, total, **extra)
        # Paid (every 5th) or paid but 40.00 (every 7th) by a transfer matched in Pennylane,
        # which the connector reads for its date (one call each).
        paid = total if ident % 5 == 0 else f"{60 + ident}.00" if ident % 7 == 0 else None
        if paid:
            recorded = datetime(2026, 2, 16, 9, tzinfo=UTC)
            pennylane.match(ident, 9000 + ident, on="2026-02-15", amount=paid, recorded_at=recorded)
    hubspot.add_property("siren")
    hubspot.add_company("501", name="Dupont Boulangerie", siren="345678901")
    hubspot.add_company("502", name="Martin", domain="garage-martin.fr")
    hubspot.add_company("503", name="Someone Else")
    for number in range(600, 750):  # a second page of companies
        hubspot.add_company(str(number), name=f"Prospect {number}")


@dataclass
class World:
    settings: Settings
    pennylane: FaultyPennylane
    hubspot: FaultyHubSpot
    injector: Injector
    clock: FakeClock


@pytest.fixture
def make_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[int, str], World]]:
    """Build fresh fakes, store and config for a seed; one `responses` mock for them all."""
    monkeypatch.setenv("ENCOURS_CRM_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setattr(pennylane_module, "datetime", _PullClock)
    clocks = [FakeClock()]  # the current world's clock is the last one

    def slept(seconds: float) -> None:  # retries and pacing only move the fake clock
        clocks[-1].sleep(seconds)

    pacer = functools.partial(
        http_module.Pacer,
        clock=lambda: clocks[-1].monotonic(),
        sleep=slept,
        wall_clock=lambda: clocks[-1].time(),
    )
    policy = functools.partial(
        http_module.RetryPolicy, wait=wait_exponential(multiplier=1, max=30), sleep=slept
    )
    monkeypatch.setattr(pennylane_module, "Pacer", pacer)
    monkeypatch.setattr(hubspot_module, "Pacer", pacer)
    monkeypatch.setattr(http_module, "RetryPolicy", policy)
    worlds: list[World] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:

        def build(seed: int, name: str) -> World:
            clock = FakeClock()
            clocks.append(clock)
            injector = Injector(random.Random(seed))  # noqa: S311 - reproducible, not secret
            pennylane = FaultyPennylane(clock=clock)
            pennylane.injector = injector
            hubspot = FaultyHubSpot(HUBSPOT_TOKEN, clock=clock.monotonic)
            hubspot.injector = injector
            _dataset(pennylane, hubspot)
            monkeypatch.setenv("ENCOURS_PL_TOKEN", pennylane.token)
            folder = tmp_path / name
            folder.mkdir()
            config = folder / "config.toml"
            config.write_text(
                '[store]\npath = "s.sqlite"\n'
                '[sources.pl]\ntype = "pennylane"\n'
                '[targets.crm]\ntype = "hubspot"\n'
                '[push]\nindicators = ["outstanding", "overdue", "not_due", "as_of"]\n',
                encoding="utf-8",
            )
            settings = load_settings(config)
            rsps.reset()  # only this world's fakes answer
            pennylane.register(rsps)
            hubspot.install(rsps)
            make_target("crm", settings.targets["crm"], settings).ensure_properties()
            world = World(settings, pennylane, hubspot, injector, clock)
            worlds.append(world)
            return world

        yield build
    for world in worlds:
        assert world.pennylane.violations == [] and world.hubspot.violations == []


def _run(world: World, *, faults: bool) -> int:
    world.injector.start_run(faults=faults)
    summary = run_sync(world.settings, as_of=AS_OF, now=NOW)
    world.injector.enabled = False
    return summary.exit_code


def _state(world: World) -> dict[str, Any]:
    """The store's tables (but `runs`, without run ids) and HubSpot's companies."""
    tables = dump(world.settings.store.path, without=RUN_COLUMNS)
    companies = {key: dict(values) for key, values in world.hubspot.companies.items()}
    return {"store": tables, "hubspot": companies}


_REFERENCE: dict[str, Any] = {}


def _reference(make_world: Callable[[int, str], World]) -> dict[str, Any]:
    """The state a fault-free run reaches (computed once per session)."""
    if not _REFERENCE:
        world = make_world(-1, "reference")
        assert _run(world, faults=False) == EXIT_OK
        _REFERENCE.update(_state(world))
    return _REFERENCE


@pytest.fixture(scope="module", autouse=True)
def _print_tally() -> Iterator[None]:
    yield
    if not TALLY:
        return
    lines = ["", "fault injection summary:"]
    lines += [f"  {key:<55} {TALLY[key]:>5}" for key in sorted(TALLY)]
    print("\n".join(lines))  # shown with `pytest -s`


# ---------------------------------------------------------------------------------------------
# Tests


def test_the_fault_free_reference_run_pushes_the_expected_indicators(make_world) -> None:
    reference = _reference(make_world)

    companies = reference["hubspot"]
    assert companies["501"]["encours_outstanding"] and companies["502"]["encours_outstanding"]
    assert companies["501"]["encours_as_of"] == "2026-03-01"
    assert "encours_outstanding" not in companies["503"]
    assert len(reference["store"]["invoices"]) == 250
    assert {row[1] for row in reference["store"]["matches"]} == {"pl:1", "pl:2", "pl:3"}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_run_under_faults_ends_as_a_clean_run_would(make_world, seed: int) -> None:
    reference = _reference(make_world)
    world = make_world(seed, f"seed{seed}")

    first = _run(world, faults=True)
    injected = list(world.injector.injected)
    TALLY.update(f"fault  {server:<9} {kind}" for server, kind in injected)
    TALLY["runs   seeded"] += 1
    if not injected:  # a run the dice spared proves nothing about faults: not counted
        TALLY["runs   without any fault (not counted)"] += 1
        pytest.skip(f"seed {seed} drew no fault")
    TALLY["runs   with at least one fault"] += 1

    assert first == world.injector.expected_exit(), injected
    if first == EXIT_OK:
        TALLY["runs   completed on the first run (faults absorbed)"] += 1
    else:
        TALLY[f"runs   exited {first}, completed on the next run"] += 1
        assert _run(world, faults=False) == EXIT_OK
    assert _state(world) == reference, injected


def test_the_tally_counts_only_runs_with_a_fault() -> None:
    if TALLY["runs   seeded"] < len(SEEDS):
        pytest.skip("only some seeds ran (-k): no tally to check")
    assert TALLY["runs   with at least one fault"] >= 200, TALLY
    assert (
        TALLY["runs   completed on the first run (faults absorbed)"]
        + sum(count for key, count in TALLY.items() if key.startswith("runs   exited"))
        == TALLY["runs   with at least one fault"]
    )


def test_a_seed_replays_the_same_faults_and_outcome(make_world) -> None:
    runs = []
    for attempt in range(2):
        world = make_world(7, f"replay{attempt}")
        code = _run(world, faults=True)
        runs.append((code, world.injector.injected, world.pennylane.paths(), world.clock.sleeps))

    assert runs[0] == runs[1]
    assert runs[0][1], "seed 7 injects at least one fault"


def test_expired_hubspot_token_is_a_config_error(make_world) -> None:
    world = make_world(0, "expired")
    world.injector.start_run(faults=True)
    world.injector.rate = 0.0
    world.injector._expired.add("hubspot")  # expired before the push begins

    summary = run_sync(world.settings, as_of=AS_OF, now=NOW)

    assert "crm" in summary.push_errors
    assert summary.exit_code == EXIT_CONFIG
