"""`encours init` and `encours check`: write a configuration, and test what it names."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from encours.connectors.hubspot import HubSpotTarget
from encours.errors import ConfigError, EncoursError
from encours.sync.config import Settings, describe_validation_error
from encours.sync.secrets import env_name
from encours.sync.sources import make_source, make_target
from encours.sync.store import Store


@dataclass(frozen=True)
class TrytonAnswers:
    """Where a Tryton database is, for a source or a target; its password is a secret."""

    url: str
    database: str
    user: str = "encours"


@dataclass(frozen=True)
class InitAnswers:
    """What `init` asks for. No secret among them: those go to keyring or the environment."""

    currency: str
    store: str
    source_name: str
    fec_path: str | None
    payment_terms_days: int
    target_file: str
    source_type: str = "fec"
    target_type: str = "file"
    target_name: str = "file"
    source_tryton: TrytonAnswers | None = None
    target_tryton: TrytonAnswers | None = None


def write_config(path: Path, answers: InitAnswers) -> None:
    """Write the configuration file, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"""# Written by `encours init`. Every setting is explained in config.example.toml.
[company]
currency = {_toml_string(answers.currency)}

[store]
path = {_toml_string(answers.store)}

{_source_section(answers)}
{_target_section(answers)}"""
    try:  # nothing is written that encours would refuse to read
        Settings.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"an answer cannot be written in TOML ({exc})") from None
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode of os.open applies only when the file is created
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _source_section(answers: InitAnswers) -> str:
    header = f"[sources.{_toml_key(answers.source_name)}]"
    if answers.source_type == "pennylane":
        hint = f"# token: encours secrets set {answers.source_name} token"
        return f'{header}\ntype = "pennylane"  {hint}\n'
    if answers.source_type == "tryton":
        return f'{header}\ntype = "tryton"\n' + _tryton_lines(
            answers.source_tryton, answers.source_name, "source"
        )
    return (
        f'{header}\ntype = "fec"\npath = {_toml_string(answers.fec_path or "")}\n'
        f"default_payment_terms_days = {answers.payment_terms_days}\n"
    )


def _target_section(answers: InitAnswers) -> str:
    header = f"[targets.{_toml_key(answers.target_name)}]"
    if answers.target_type == "hubspot":
        return (
            f'{header}\ntype = "hubspot"  # token: encours secrets set {answers.target_name} '
            "token\n"
            'mapping = "mapping.csv"  # customer,record lines to settle unmatched customers\n'
        )
    if answers.target_type == "tryton":
        return (
            f'{header}\ntype = "tryton"  # needs the Tryton module party_encours (see '
            "config.example.toml)\n"
            + _tryton_lines(answers.target_tryton, answers.target_name, "target")
            + "batch_size = 100  # parties written per call\n"
        )
    return f'{header}\ntype = "file"\npath = {_toml_string(answers.target_file)}\n'


def _tryton_lines(tryton: TrytonAnswers | None, name: str, role: str) -> str:
    """`url`, `database` and `user` of a Tryton section; the password is only named."""
    if tryton is None:
        raise ConfigError(
            f"a Tryton {role} needs the server's address and database: "
            "give --tryton-url URL and --tryton-database NAME"
        )
    return (
        f"url = {_toml_string(tryton.url)}\n"
        f"database = {_toml_string(tryton.database)}\n"
        f"user = {_toml_string(tryton.user)}\n"
        f"# password: `encours secrets set {shlex.quote(name)} password`, "
        f"or {env_name(name, 'password')} in the environment\n"
    )


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(value: str) -> str:
    """A bare TOML key when it can be one, else quoted (`my books`, `a.b` stay one key)."""
    return value if re.fullmatch(r"[A-Za-z0-9_-]+", value) else _toml_string(value)


class CheckResult(NamedTuple):
    """One line of `encours check`: what was tried, what is wrong (None: nothing), its code."""

    name: str
    error: str | None = None
    exit_code: int = 0


def check_everything(settings: Settings) -> list[CheckResult]:
    """Try the store (every page of it), every source and every target."""
    results: list[CheckResult] = []
    store_name = f"store {settings.store.path}"
    try:
        store = Store.open(settings.store.path)
        try:
            store.verify()
        finally:
            store.close()
        results.append(CheckResult(store_name))
    except EncoursError as exc:
        results.append(CheckResult(store_name, str(exc), exc.exit_code))
    except OSError as exc:
        results.append(CheckResult(store_name, str(exc), 74))
    for kind, name, connector in _connectors(settings):
        try:
            connector().check()
            results.append(CheckResult(f"{kind} {name}"))
        except EncoursError as exc:
            results.append(CheckResult(f"{kind} {name}", str(exc), exc.exit_code))
    return results


def insecure_sections(settings: Settings) -> list[str]:
    """The sections (`source NAME`, `target NAME`) that allow plain HTTP to other hosts."""
    sections = [("source", n, s) for n, s in settings.sources.items()]
    sections += [("target", n, s) for n, s in settings.targets.items()]
    return [
        f"{kind} {name}" for kind, name, s in sections if getattr(s, "allow_insecure_http", False)
    ]


def _connectors(settings: Settings) -> list[tuple[str, str, Callable[[], Any]]]:
    """("source" or "target", name, a function that builds it), for every one configured."""
    found: list[tuple[str, str, Callable[[], Any]]] = []
    for name, source in settings.sources.items():
        found.append(("source", name, partial(make_source, name, source, settings)))
    for name, target in settings.targets.items():
        found.append(("target", name, partial(make_target, name, target, settings)))
    return found


def create_target_fields(settings: Settings) -> list[tuple[str, str]]:
    """Create what each CRM target needs (HubSpot: property group and properties)."""
    reports: list[tuple[str, str]] = []
    for name, target in settings.targets.items():
        connector = make_target(name, target, settings)
        if isinstance(connector, HubSpotTarget):
            report = connector.ensure_properties()
            reports.append(
                (
                    name,
                    f"{len(report.created)} propert(ies) created, {len(report.reused)} reused"
                    + (", group created" if report.group_created else ""),
                )
            )
    return reports
