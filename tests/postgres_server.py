"""A throw-away PostgreSQL server for the tests: Debian's binaries, a temporary folder, a socket.

`PostgresServer.start()` runs `initdb` (C collation and UTF-8: text ordered by code point, as
the store needs) with password authentication, then `pg_ctl start` listening on a Unix
socket only (no TCP port to collide with anything). `database()` creates a fresh database
and returns its URL; `stop()` stops the server and removes the folder.

`initdb` refuses to run as root: under root (CI runs so) the server runs as `nobody`, through
`setpriv`, its folder owned by `nobody`; the tests' own process, root, still reaches the socket.

`server_binaries()` finds `initdb` and `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin,
installing Debian's `postgresql` with apt-get when they are missing and this process may
(root, apt-get present), as `browser.py` does for chromium; otherwise it says why it cannot,
for the tests to skip with that reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: The password of the server's superuser `encours` (a throw-away server, on a socket only).
PASSWORD = "throwaway-test-password"  # noqa: S105
USER = "encours"


def server_binaries() -> tuple[Path | None, str]:
    """The folder holding `initdb` and `pg_ctl`, or None and why there is none."""
    found = _find()
    if found:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, "PostgreSQL is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return None, "PostgreSQL is not installed; as root: apt-get install postgresql"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    found = _find()
    if found:
        return found, ""
    lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
    return None, f"apt-get could not install postgresql: {lines[-1]}"


def _find() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


@dataclass
class PostgresServer:
    """One cluster in a temporary folder; `start()`, then `database()` per test, then `stop()`."""

    binaries: Path
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-")))
    databases: int = 0

    @property
    def socket_folder(self) -> Path:
        return self.folder / "socket"

    def _run(self, *command: str) -> None:
        """Run a server binary, as `nobody` when this process is root (initdb refuses root)."""
        prefix: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            prefix = [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                "--",
            ]
        subprocess.run(
            [*prefix, str(self.binaries / command[0]), *command[1:]],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.folder,
        )

    def start(self) -> None:
        """initdb, then start the server on a socket in the folder; wait until it answers."""
        self.socket_folder.mkdir()
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in (self.folder, self.socket_folder, password_file):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.folder / "data"),
            "--username",
            USER,
            "--pwfile",
            str(password_file),
            "--auth",
            "scram-sha-256",
            "--locale",
            "C",
            "--encoding",
            "UTF8",
        )
        options = f"-c listen_addresses='' -k {self.socket_folder} -c fsync=off"
        self._run(
            "pg_ctl",
            "--pgdata",
            str(self.folder / "data"),
            "--log",
            str(self.folder / "server.log"),
            "--options",
            options,
            "--wait",
            "start",
        )

    def url(self, database: str = "postgres") -> str:
        """The URL of a database of this server (the password is not in it)."""
        return f"postgresql://{USER}@/{database}?host={self.socket_folder}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        self.databases += 1
        name = f"test{self.databases}"
        with psycopg.connect(self.url(), password=PASSWORD, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        try:
            data = str(self.folder / "data")
            self._run("pg_ctl", "--pgdata", data, "--mode", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
