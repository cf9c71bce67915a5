"""`encours init` for Tryton: prompts, options, the file written, the keyring, the checks.

No Tryton server: `responses` answers the JSON-RPC calls that `check` makes, dispatching on
the JSON "method" of each POST (see connectors/tryton/rpc.py for the protocol).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from click.testing import CliRunner, Result
from keyring_memory import MemoryKeyring

from encours.cli import cli
from encours.connectors.declarations.tryton import TrytonSourceSettings, TrytonTargetSettings
from encours.demo.fecgen import FecSpec, write_fec
from encours.sync.config import load_settings

URL = "https://erp.example.fr"
DATABASE = "prod"
PASSWORD = "Tr0ub4dor-&3-s3cret"  # noqa: S105 - a test value


@dataclass
class FakeTryton:
    """One Tryton server with one database: what it accepts, and the calls it received."""

    password: str = PASSWORD
    module: bool = True
    calls: list[tuple[str, str, list[Any]]] = field(default_factory=list)

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        method, params = body["method"], body.get("params", [])
        path = request.path_url
        self.calls.append((path, method, params))
        if path == "/rpc/":
            return self._answer(body, "8.2" if method == "common.server.version" else None)
        if path != f"/{DATABASE}/rpc/":
            return 404, {}, "Not Found"
        if method == "common.db.login":
            login, secret = params[0], params[1].get("password")
            if (login, secret) != ("encours", self.password):
                return 401, {}, ""
            return self._answer(body, [7, "session-token-0123", None])
        if request.headers.get("Authorization", "").split(" ")[0] != "Session":
            return 401, {}, ""
        results: dict[str, Any] = {
            "model.res.user.get_preferences": {"company": 1, "language": "fr"},
            "model.company.company.read": [{"id": 1, "currency.": {"code": "EUR", "id": 1}}],
            "model.account.invoice.search_count": 0,
            "model.account.invoice.line.search_count": 0,
            "model.party.party.fields_get": (
                {
                    "name": {"type": "char"},
                    "encours_outstanding": {"type": "numeric"},
                    "encours_overdue": {"type": "numeric"},
                    "encours_as_of": {"type": "date"},
                    "encours_updated_at": {"type": "timestamp"},
                }
                if self.module
                else {"name": {"type": "char"}}
            ),
            "model.party.party.set_encours_indicators": 0,
        }
        if method not in results:
            return 403, {}, "Forbidden"
        return self._answer(body, results[method])

    def logins(self) -> list[list[Any]]:
        return [params for _, method, params in self.calls if method == "common.db.login"]

    @staticmethod
    def _answer(body: dict[str, Any], result: Any) -> tuple[int, dict[str, str], str]:
        payload = {"id": body.get("id"), "result": result}
        return 200, {"Content-Type": "application/json"}, json.dumps(payload)


@pytest.fixture
def tryton() -> Iterator[FakeTryton]:
    fake = FakeTryton()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(re.escape(URL) + r"/.*"), callback=fake)
        yield fake


@pytest.fixture
def books(tmp_path: Path) -> Path:
    with (tmp_path / "books.fec").open("w", encoding="utf-8", newline="\n") as out:
        write_fec(out, FecSpec(invoices=5, customers=2))
    return tmp_path / "books.fec"


def init(config: Path, *options: str, input: str | None = None) -> Result:  # noqa: A002
    return CliRunner().invoke(cli, ["--config", str(config), "init", *options], input=input)


def answers(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert "session-token-0123" not in text
    assert not re.search(r"^\s*(password|token)\s*=", text, re.M), text


# --- interactive -----------------------------------------------------------------------------


def test_tryton_to_tryton_asks_the_password_once(
    tmp_path: Path, tryton: FakeTryton, memory_keyring: MemoryKeyring
) -> None:
    config = tmp_path / "config.toml"
    result = init(
        config,
        input=answers(
            "",  # currency: EUR
            "",  # store
            "tryton",
            "erp",  # name of the source
            f"{URL}/",  # a trailing slash is dropped
            DATABASE,
            "",  # user: encours
            PASSWORD,
            "tryton",
            "",  # name of the target: tryton
            "",  # same server, database and user as the source
            "",
            "",
        ),
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password of Tryton user encours") == 1
    assert "party_encours" in result.output  # what the target needs, said before asking
    for line in ("ok      source erp", "ok      target tryton"):
        assert line in result.output
    assert_no_secret(result.output)

    text = config.read_text(encoding="utf-8")
    assert_no_secret(text)
    document = tomllib.loads(text)
    assert document["sources"]["erp"] == {
        "type": "tryton",
        "url": URL,
        "database": DATABASE,
        "user": "encours",
    }
    assert document["targets"]["tryton"] == {
        "type": "tryton",
        "url": URL,
        "database": DATABASE,
        "user": "encours",
        "batch_size": 100,
    }
    assert "encours secrets set erp password" in text
    assert "ENCOURS_TRYTON_PASSWORD" in text
    settings = load_settings(config)
    assert isinstance(settings.sources["erp"], TrytonSourceSettings)
    assert isinstance(settings.targets["tryton"], TrytonTargetSettings)
    assert config.stat().st_mode & 0o777 == 0o600

    assert memory_keyring.get_password("encours", "erp.password") == PASSWORD
    assert memory_keyring.get_password("encours", "tryton.password") == PASSWORD
    assert tryton.logins() == [["encours", {"password": PASSWORD}, "fr"]] * 2


def test_a_target_without_the_module_prints_how_to_install_it(
    tmp_path: Path, books: Path, tryton: FakeTryton, memory_keyring: MemoryKeyring
) -> None:
    tryton.module = False
    config = tmp_path / "config.toml"
    result = init(
        config,
        input=answers(
            "",
            "",
            "fec",
            "books",
            "books.fec",
            "30",
            "",
            "tryton",
            "crm",
            URL,
            DATABASE,
            "",
            PASSWORD,
        ),
    )
    assert result.exit_code == 78, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1, result.output
    assert failed[0].startswith("FAILED  target crm: the module party_encours is not active")
    assert "pip install ./tryton/party_encours" in failed[0]
    assert f"trytond-admin -c trytond.conf -d {DATABASE} -u party_encours" in failed[0]
    assert "restart trytond" in failed[0]
    assert "Next:" not in result.output
    assert_no_secret(result.output)
    assert_no_secret(config.read_text(encoding="utf-8"))
    assert memory_keyring.get_password("encours", "crm.password") == PASSWORD


def test_a_wrong_password_names_the_user_and_exits_78(
    tmp_path: Path, tryton: FakeTryton, memory_keyring: MemoryKeyring
) -> None:
    tryton.password = "the-right-one"  # noqa: S105 - a test value
    config = tmp_path / "config.toml"
    result = init(
        config,
        input=answers("", "", "tryton", "", URL, DATABASE, "", PASSWORD, "file", "", ""),
    )
    assert result.exit_code == 78, result.output
    assert (
        f"FAILED  source tryton: Tryton refused the login 'encours' on database '{DATABASE}': "
        "wrong user or password. Set it with `encours secrets set tryton password`."
    ) in result.output
    assert_no_secret(result.output)
    assert memory_keyring.get_password("encours", "tryton.password") == PASSWORD
    assert "Next:" not in result.output


def test_a_url_without_scheme_is_asked_again(
    tmp_path: Path, tryton: FakeTryton, memory_keyring: MemoryKeyring
) -> None:
    config = tmp_path / "config.toml"
    result = init(
        config,
        input=answers(
            "", "", "tryton", "", "erp.example.fr", URL, DATABASE, "", PASSWORD, "file", "", ""
        ),
    )
    assert result.exit_code == 0, result.output
    assert "http:// or https://" in result.output
    assert load_settings(config).sources["tryton"].url == URL  # type: ignore[union-attr]


def test_another_login_for_the_target_asks_its_own_password(
    tmp_path: Path, tryton: FakeTryton, memory_keyring: MemoryKeyring
) -> None:
    config = tmp_path / "config.toml"
    result = init(
        config,
        input=answers(
            "", "", "tryton", "", URL, DATABASE, "", PASSWORD, "tryton", "writer", "", "",
            "encours-sync", "other-secret",
        ),
    )  # fmt: skip
    # the fake server knows only the user encours: the target's login fails, as it should
    assert result.exit_code == 78, result.output
    assert result.output.count("Password of Tryton user") == 2
    assert "FAILED  target writer: Tryton refused the login 'encours-sync'" in result.output
    assert "ok      source tryton" in result.output
    assert "other-secret" not in result.output
    assert memory_keyring.get_password("encours", "writer.password") == "other-secret"
    assert tomllib.loads(config.read_text(encoding="utf-8"))["targets"]["writer"]["user"] == (
        "encours-sync"
    )


# --- non-interactive -------------------------------------------------------------------------


def test_non_interactive_with_the_password_in_the_environment(
    tmp_path: Path, tryton: FakeTryton, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCOURS_TRYTON_PASSWORD", PASSWORD)
    config = tmp_path / "config.toml"
    result = init(
        config,
        "--non-interactive",
        "--source-type",
        "tryton",
        "--target-type",
        "tryton",
        "--tryton-url",
        URL,
        "--tryton-database",
        DATABASE,
    )
    assert result.exit_code == 0, result.output
    assert "ok      source tryton" in result.output
    assert "ok      target tryton" in result.output
    assert_no_secret(result.output)
    settings = load_settings(config)
    for section in (settings.sources["tryton"], settings.targets["tryton"]):
        assert isinstance(section, TrytonSourceSettings | TrytonTargetSettings)
        assert (section.url, section.database, section.user) == (URL, DATABASE, "encours")


def test_non_interactive_with_a_missing_module_exits_78(
    tmp_path: Path, books: Path, tryton: FakeTryton, memory_keyring: MemoryKeyring
) -> None:
    tryton.module = False
    memory_keyring.set_password("encours", "tryton.password", PASSWORD)
    result = init(
        tmp_path / "config.toml",
        "--non-interactive",
        "--fec",
        "books.fec",
        "--target-type",
        "tryton",
        "--tryton-url",
        URL,
        "--tryton-database",
        DATABASE,
        "--tryton-user",
        "encours",
    )
    assert result.exit_code == 78, result.output
    assert "FAILED  target tryton: the module party_encours is not active" in result.output
    assert "-u party_encours" in result.output


def test_non_interactive_without_the_server_says_which_options(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    result = init(config, "--non-interactive", "--source-type", "tryton", "--tryton-url", URL)
    assert result.exit_code == 78, result.output
    assert "--tryton-url" in result.output
    assert "--tryton-database" in result.output
    assert not config.exists()


def test_non_interactive_refuses_an_address_without_scheme(tmp_path: Path) -> None:
    result = init(
        tmp_path / "config.toml",
        "--non-interactive",
        "--source-type",
        "tryton",
        "--tryton-url",
        "erp.example.fr",
        "--tryton-database",
        DATABASE,
    )
    assert result.exit_code == 78, result.output  # a configuration error, said before writing
    assert "--tryton-url erp.example.fr:" in result.output and "https://" in result.output
    assert not (tmp_path / "config.toml").exists()
