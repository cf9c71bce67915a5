"""A real trytond for the tests: build the seeded databases once, serve copies of them.

The server runs from this test environment's own trytond (a test dependency) on 127.0.0.1
with SQLite. Our module `party_encours` (tryton/party_encours) is not installed: it is made
visible to trytond through `PYTHONPATH` and a minimal distribution record declaring its
`trytond.modules` entry point, which is how Tryton discovers an installed module. So the
tests always run the module's working copy.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
MODULE_PARENT = REPO / "tryton"
SCENARIO = Path(__file__).with_name("scenario.py")
ADMIN_PASSWORD = "admin-test-password"
TEMPLATE = "template"
MODULES = (
    "party",
    "company",
    "currency",
    "account",
    "account_invoice",
    "account_fr",
    "account_deposit",
    "account_dunning",
    "account_credit_limit",
    "party_encours",
)


def today() -> date:
    """The day the scenario counts from, and encours' default as-of: this machine's day.

    Tryton's own day (`ir.date.today`) is its company's, Europe/Paris in the scenario, and
    may already be the next one: compare Tryton's dated answers with `tryton_today`.
    """
    return date.today()  # noqa: DTZ011 - the local day is encours' default as-of


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TrytonHome:
    """A folder with a trytond configuration, its SQLite databases and a module shim."""

    root: Path

    @property
    def databases(self) -> Path:
        return self.root / "db"

    def config(self, port: int = 8000) -> Path:
        path = self.root / f"trytond-{port}.conf"
        path.write_text(
            "[database]\n"
            "uri = sqlite://\n"
            f"path = {self.databases}\n"
            "[web]\n"
            f"listen = 127.0.0.1:{port}\n"
            "[session]\n"
            "timeout = 3600\n",
            encoding="utf-8",
        )
        return path

    def environment(self) -> dict[str, str]:
        """The environment of every trytond process: the shim, the admin password file."""
        shim = self.root / "shim"
        info = shim / "trytond_party_encours-8.2.0.dist-info"
        if not info.exists():
            info.mkdir(parents=True)
            (info / "METADATA").write_text(
                "Metadata-Version: 2.1\nName: trytond-party-encours\nVersion: 8.2.0\n",
                encoding="utf-8",
            )
            (info / "entry_points.txt").write_text(
                "[trytond.modules]\nparty_encours = party_encours\n", encoding="utf-8"
            )
        password_file = self.root / "admin-password"
        password_file.write_text(ADMIN_PASSWORD, encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(shim), str(MODULE_PARENT), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        env["TRYTONPASSFILE"] = str(password_file)
        return env


@dataclass(frozen=True)
class Templates:
    """The seeded databases the tests copy: with our module active, and without it."""

    seeded: Path
    without_module: Path


def build_templates(home: TrytonHome, today: date) -> Templates:
    """Create, activate and seed the template databases (about a minute and a half).

    The scenario is seeded before our module is activated, so a copy of that stage is a
    real company whose Tryton lacks the module.
    """
    home.databases.mkdir(parents=True, exist_ok=True)
    database = home.databases / f"{TEMPLATE}.sqlite"
    for stale in home.databases.glob(f"{TEMPLATE}.sqlite*"):
        stale.unlink()
    database.touch()
    config = str(home.config())
    env = home.environment()

    def run(*args: str) -> None:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:4])} failed:\n{done.stdout}\n{done.stderr}")

    admin = _bin("trytond-admin")
    theirs = [m for m in MODULES if m != "party_encours"]
    run(admin, "-c", config, "-d", TEMPLATE, "--all", "--email", "admin@example.com")
    run(admin, "-c", config, "-d", TEMPLATE, "-u", *theirs, "--activate-dependencies")
    run(sys.executable, str(SCENARIO), TEMPLATE, config, today.isoformat())
    without_module = home.root / "without-module.sqlite"
    shutil.copyfile(database, without_module)
    run(admin, "-c", config, "-d", TEMPLATE, "-u", "party_encours")
    run(sys.executable, str(SCENARIO), "--grant", TEMPLATE, config)
    seeded = home.root / "seeded.sqlite"
    shutil.copyfile(database, seeded)
    return Templates(seeded=seeded, without_module=without_module)


class TrytonServer:
    """One trytond process serving one copy of the template, on a free port of 127.0.0.1."""

    def __init__(self, home: TrytonHome, template: Path, name: str) -> None:
        self.home = home
        self.database = name
        home.databases.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, home.databases / f"{name}.sqlite")  # before the start:
        # trytond does not serve a database that appears after it started (TRYTON.md)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> TrytonServer:
        config = self.home.config(self.port)
        log = (self.home.root / f"{self.database}.log").open("wb")
        self._process = subprocess.Popen(
            [_bin("trytond"), "-c", str(config), "-d", self.database],
            env=self.home.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"trytond stopped at start: see {log.name}")
            try:
                answer = requests.post(
                    f"{self.url}/rpc/",
                    json={"id": 0, "method": "common.server.version", "params": []},
                    timeout=1,
                )
                if answer.ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()  # a server that never answered must not outlive the test session
        raise RuntimeError(f"trytond did not answer within 30 s: see {log.name}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()
