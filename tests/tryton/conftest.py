"""A real trytond for the Tryton tests: seeded once per session, a fresh copy per test.

Building the seeded database takes about a minute and a half (module activation and the
scenario); each test then copies the file and starts its own server on a free port of
127.0.0.1 in about a second. The seeded files are kept in pytest's cache, keyed by the
scenario, the module, trytond's version and the day (the scenario's dates are relative to
today), so a second local run starts at once.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pytest

trytond = pytest.importorskip(
    "trytond", reason="trytond is a test dependency: pip install -e '.[test]'"
)

from tryton_helpers import encours, write_config  # noqa: E402
from trytond_server import (  # noqa: E402 - only once trytond is known to be there
    MODULE_PARENT,
    SCENARIO,
    Templates,
    TrytonHome,
    TrytonServer,
    build_templates,
    today,
)


def _fingerprint(day: date) -> str:
    digest = hashlib.sha256(day.isoformat().encode())
    digest.update(version("trytond").encode())
    for path in sorted([SCENARIO, Path(__file__).with_name("trytond_server.py")]) + sorted(
        p
        for p in (MODULE_PARENT / "party_encours").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def tryton_home(tmp_path_factory: pytest.TempPathFactory) -> TrytonHome:
    return TrytonHome(tmp_path_factory.mktemp("tryton"))


@pytest.fixture(scope="session")
def tryton_templates(request: pytest.FixtureRequest, tryton_home: TrytonHome) -> Templates:
    day = today()
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return build_templates(tryton_home, day)
    kept = Path(cache.mkdir("tryton-templates")) / _fingerprint(day)
    templates = Templates(kept / "seeded.sqlite", kept / "without-module.sqlite")
    if not templates.seeded.exists():
        for stale in kept.parent.iterdir():  # another day's or another scenario's
            shutil.rmtree(stale)
        built = build_templates(tryton_home, day)
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built.without_module, templates.without_module)
        shutil.copyfile(built.seeded, templates.seeded)
    return templates


def _serve(home: TrytonHome, template: Path) -> Iterator[TrytonServer]:
    server = TrytonServer(home, template, f"t{uuid.uuid4().hex[:10]}").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tryton(tryton_home: TrytonHome, tryton_templates: Templates) -> Iterator[TrytonServer]:
    """A running trytond with the seeded French company and our module."""
    yield from _serve(tryton_home, tryton_templates.seeded)


@pytest.fixture
def tryton_without_module(
    tryton_home: TrytonHome, tryton_templates: Templates
) -> Iterator[TrytonServer]:
    """The same company on a Tryton where party_encours was never activated."""
    yield from _serve(tryton_home, tryton_templates.without_module)


@pytest.fixture
def synced(tryton: TrytonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The configuration of a store that `encours sync` filled from `tryton` (and pushed to it)."""
    config = write_config(tmp_path, tryton, monkeypatch)
    result = encours(config, "sync")
    assert result.exit_code == 0, result.output
    return config
