"""`encours init` and `encours check`: write a configuration, and test what it names."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from encours.connectors.registry import source_spec, target_spec
from encours.errors import ConfigError, EncoursError
from encours.sync.config import Settings, describe_validation_error
from encours.sync.secrets import env_name
from encours.sync.sources import make_source, make_target
from encours.sync.store import Store


@dataclass(frozen=True)
class SectionAnswers:
    """One `[sources.NAME]` or `[targets.NAME]` as `init` writes it.

    `values`: setting -> answer, in the order asked; `secrets`: the keys of its secrets, only
    named in a comment (their values went to the keyring).
    """

    type: str
    name: str
    values: dict[str, str | int] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class InitAnswers:
    """What `init` asks for. No secret among them: those go to keyring or the environment."""

    currency: str
    store: str
    source: SectionAnswers
    target: SectionAnswers


def write_config(path: Path, answers: InitAnswers) -> None:
    """Write the configuration file, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source, target = source_spec(answers.source.type), target_spec(answers.target.type)
    text = f"""# Written by `encours init`. Every setting is explained in config.example.toml.
[company]
currency = {_toml_string(answers.currency)}

[store]
path = {_toml_string(answers.store)}

{_section("sources", answers.source, source.lines)}
{_section("targets", answers.target, target.lines)}"""
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


def _section(table: str, answers: SectionAnswers, lines: tuple[str, ...]) -> str:
    """A section: its type, its answers, the connector's own lines, where its secrets go.

    >>> print(_section("sources", SectionAnswers("acme", "books", {"days": 30}, ("token",)), ()))
    [sources.books]
    type = "acme"
    days = 30
    # token: `encours secrets set books token`, or ENCOURS_BOOKS_TOKEN in the environment
    <BLANKLINE>
    """
    written = [f"[{table}.{_toml_key(answers.name)}]", f"type = {_toml_string(answers.type)}"]
    written += [f"{key} = {_toml_value(value)}" for key, value in answers.values.items()]
    written += lines
    written += [
        f"# {key}: `encours secrets set {shlex.quote(answers.name)} {key}`, "
        f"or {env_name(answers.name, key)} in the environment"
        for key in answers.secrets
    ]
    return "\n".join(written) + "\n"


def _toml_value(value: str | int) -> str:
    return str(value) if isinstance(value, int) else _toml_string(value)


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
    """Create what each target needs (a CRM's custom fields), one line of report each."""
    reports: list[tuple[str, str]] = []
    for name, target in settings.targets.items():
        prepare = target_spec(target.type).prepare
        if prepare is not None:
            reports.append((name, prepare(make_target(name, target, settings))))
    return reports
