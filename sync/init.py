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
    values: dict[str, Any] = field(default_factory=dict)
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
    _validate(text)  # nothing is written that encours would refuse to read
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode of os.open applies only when the file is created
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


#: The sections `init --edit` takes besides `sources.NAME` and `targets.NAME`.
EDITABLE = ("company", "store")


def current_section(path: Path, section: str) -> dict[str, Any]:
    """The settings of `company`, `store`, `sources.NAME` or `targets.NAME`, as written.

    Paths stay as written (relative to the file's folder), as `init --edit` proposes them.
    """
    table, _, name = section.partition(".")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no configuration file at {path} to edit: run `encours init`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    found = data.get(table, {})
    if name:
        found = found.get(name) if isinstance(found, dict) else None
    named = table in ("sources", "targets")
    known = named or table in EDITABLE
    if not (known and isinstance(found, dict)) or named != bool(name):
        names = [f"{t}.{n}" for t in ("sources", "targets") for n in data.get(t, {})]
        raise ConfigError(
            f"{path} has no section {section!r}; the ones `init --edit` takes: "
            + ", ".join([*EDITABLE, *names])
        )
    return found


def edit_section(path: Path, section: str, values: dict[str, Any]) -> None:
    """Set `values` in one section of the file and leave every other byte of it as it was.

    A setting already there keeps its place and its end-of-line comment; a new one goes after
    the section's last setting. The file is parsed and written back by tomlkit, which keeps
    comments, order and spacing; nothing is written that encours would refuse to read.

    `edit_section(path, "sources.books", {"default_payment_terms_days": 45})` turns the
    line `default_payment_terms_days = 30  # ours` into `default_payment_terms_days = 45  # ours`
    and changes nothing else.
    """
    import tomlkit

    table, _, name = section.partition(".")
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    if table not in document:
        document[table] = tomlkit.table()
    edited = document[table][name] if name else document[table]
    for key, value in values.items():
        if isinstance(value, dict):
            if not isinstance(edited.get(key), dict):  # new: written inline
                edited[key] = tomlkit.inline_table()
            table = edited[key]  # inline or a [sub-table], it keeps its form
            for gone in [entry for entry in table if entry not in value]:
                del table[gone]
            table.update(value)
        else:
            edited[key] = value
    text = tomlkit.dumps(document)
    _validate(text)
    mode = path.stat().st_mode & 0o777
    replacement = path.with_name(f".{path.name}.edit")
    fd = os.open(replacement, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(replacement, path)


def _validate(text: str) -> None:
    """ConfigError unless encours can read `text` as its configuration."""
    try:
        Settings.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"an answer cannot be written in TOML ({exc})") from None
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


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


def _toml_value(value: str | int | bool | dict[str, Any]) -> str:
    """An answer in TOML: a string, a number, a boolean, or a table written inline.

    >>> _toml_value({"C0001": "45 fin de mois", "a.b": 60}), _toml_value(True)
    ('{C0001 = "45 fin de mois", "a.b" = 60}', 'true')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        pairs = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + pairs + "}"
    return _toml_string(value)


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
        store = Store.open(settings.store.path, url=settings.store.url)
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
