"""Which connectors exist, and what each one declares: the only list of vendors.

`REGISTERED` holds one line per connector: its `type` (as the configuration writes it), the
module that declares it, and whether it is a source, a target or both. The list is plain data:
no connector module, HTTP library or pydantic model is imported until a connector is used,
so `encours --help` stays fast.

The module named declares `SOURCE = SourceSpec(...)` and/or `TARGET = TargetSpec(...)`:

- `settings`: the pydantic model of its `[sources.NAME]` / `[targets.NAME]` table, with a
  `type: Literal["its-type"]` field (`connectors/settings.py` has the shared bases);
- `make`: the factory, given a `Context` (its name, settings, secrets, limits);
- `questions` and `lines`: what `encours init` asks for it and writes under its header;
- its capabilities: a source whose matching is the accountant's own (`complete_matching`),
  a target whose records are the customers of some sources (`own_records`), the field names
  it writes (`field_names`), and what `init` creates in it (`prepare`).

Adding a connector: write its module, add its line here (README, "Adding a connector").

    >>> [entry.type for entry in REGISTERED if entry.target]
    ['dolibarr', 'file', 'hubspot', 'sellsy', 'tryton']
    >>> source_spec("fec").default_name
    'books'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from encours.connectors.base import Source, Target
    from encours.connectors.http import HttpLimits


@dataclass(frozen=True)
class Entry:
    """One line of the list: a type, the module declaring it, and its roles."""

    type: str
    module: str
    source: bool = False
    target: bool = False


#: What `encours init` proposes: a ledger export file in, a file of indicators out.
DEFAULT_SOURCE = "fec"
DEFAULT_TARGET = "file"

#: In alphabetical order: `init` offers them in this order.
REGISTERED: tuple[Entry, ...] = (
    Entry("dolibarr", "encours.connectors.declarations.dolibarr", source=True, target=True),
    Entry("fec", "encours.connectors.declarations.fec", source=True),
    Entry("file", "encours.connectors.declarations.file", target=True),
    Entry("hubspot", "encours.connectors.declarations.hubspot", target=True),
    Entry("pennylane", "encours.connectors.declarations.pennylane", source=True),
    Entry("sellsy", "encours.connectors.declarations.sellsy", source=True, target=True),
    Entry("stripe", "encours.connectors.declarations.stripe", source=True),
    Entry("tryton", "encours.connectors.declarations.tryton", source=True, target=True),
    Entry("xero", "encours.connectors.declarations.xero", source=True),
)


@dataclass(frozen=True)
class Question:
    """One question `encours init` asks for a connector, and its command-line option.

    `key` is the setting the answer is written to, or the secret's key when `secret` (asked
    hidden, stored in the keyring, never written). `prompt` may name earlier answers of the
    same section: "Password of Tryton user {user}". A question without a default must be
    answered; `--non-interactive` then needs its `option`; `example` is an answer that fits
    (the tests drive `init` with it for every connector). `convert` checks and tidies an
    answer, raising ValueError with what to write instead (the question is asked again; with
    `--non-interactive`, `init` exits 78 saying why); when it returns a dict, the answer is
    written as those settings (`"45 fin de mois"` -> `default_payment_terms_days = 45`,
    `default_end_of_month = true`). `check_file` is for an answer naming a file: it gets the
    path as encours will read it (relative to the config file's folder) and raises ValueError
    when that file will not do. `current` turns the section's settings back into the answer
    they amount to, the default `init --edit` proposes (without it: the setting `key`).
    Sections of the same type share their options: one `--tryton-url` serves both roles.
    """

    key: str
    prompt: str
    default: str | int | None = None
    option: str | None = None
    metavar: str = "TEXT"
    help: str = ""
    secret: bool = False
    convert: Callable[[str], Any] | None = None
    example: str | None = None
    check_file: Callable[[Path], None] | None = None
    current: Callable[[Mapping[str, Any]], Any] | None = None


@dataclass(frozen=True)
class Context:
    """What a factory gets to build one configured source or target.

    `settings` is its own section, `everything` the whole configuration; `secret(key)` reads
    one of its secrets (keyring or environment), `save_secret(key, value)` stores one (a
    refresh token that rotated, `connectors/declarative.py`); `fields()` gives indicator ->
    field name and `labels()` field name -> label, for a target.
    """

    name: str
    settings: Any
    everything: Any
    secret: Callable[[str], str]
    save_secret: Callable[[str, str], None]
    fields: Callable[[], dict[str, str]] = dict
    labels: Callable[[], dict[str, str]] = dict

    @property
    def currency(self) -> str:
        """The company's currency."""
        return str(self.everything.company.currency)

    def http_limits(self) -> HttpLimits:
        """The transport's bounds: `[limits]` and the section's `allow_insecure_http`."""
        from encours.connectors.http import HttpLimits

        limits = self.everything.limits
        return HttpLimits(
            request_seconds=limits.http_request_seconds,
            total_seconds=limits.http_total_seconds,
            max_response_bytes=limits.http_max_response_bytes,
            max_pages=limits.http_max_pages,
            allow_insecure_http=getattr(self.settings, "allow_insecure_http", False),
        )


@dataclass(frozen=True)
class SourceSpec:
    """A source: its settings model, its factory, its `init` questions and template lines.

    `complete_matching`: the source's own matching (reconciliations, payment lines) is the
    accountant's and complete, so reconciliation guesses nothing more for it.
    `default_name`: the section's name `init` proposes.
    """

    settings: type
    make: Callable[[Context], Source]
    label: str = ""
    questions: tuple[Question, ...] = ()
    lines: tuple[str, ...] = ()
    default_name: str = "books"
    complete_matching: bool = False


def named_or_key(settings: Any, keys: Iterable[str], named: Mapping[str, str]) -> dict[str, str]:
    """Indicator -> field: `[push.field_names]` when it names one, else the indicator's key."""
    return {key: named.get(key, key) for key in keys}


@dataclass(frozen=True)
class TargetSpec:
    """A target: settings model, factory, `init` questions and lines, capabilities.

    `field_names(settings, keys, named)`: indicator -> the field it is written to, given
    `[push.field_names]` as `named`. `own_records(target_settings, source_settings)`: True when
    that source's customers are this target's own records (a database read and written), so
    they need no matching. `prepare(target)`: what `init` creates in the target (custom
    fields), as one line of report. `note`: said before its questions.
    """

    settings: type
    make: Callable[[Context], Target]
    label: str = ""
    questions: tuple[Question, ...] = ()
    lines: tuple[str, ...] = ()
    note: str = ""
    field_names: Callable[[Any, Iterable[str], Mapping[str, str]], dict[str, str]] = named_or_key
    own_records: Callable[[Any, Any], bool] | None = None
    prepare: Callable[[Any], str] | None = None


def source_types() -> list[str]:
    """The `type` of every registered source, without importing any."""
    return [entry.type for entry in REGISTERED if entry.source]


def target_types() -> list[str]:
    """The `type` of every registered target, without importing any."""
    return [entry.type for entry in REGISTERED if entry.target]


def source_spec(type_: str) -> SourceSpec:
    """The declaration of the source `type_` (its module is imported now)."""
    spec = _module(type_, "source").SOURCE
    assert isinstance(spec, SourceSpec)  # noqa: S101 - a declaration of the wrong kind is a bug
    return spec


def target_spec(type_: str) -> TargetSpec:
    """The declaration of the target `type_` (its module is imported now)."""
    spec = _module(type_, "target").TARGET
    assert isinstance(spec, TargetSpec)  # noqa: S101
    return spec


@cache
def _module(type_: str, role: str) -> Any:
    for entry in REGISTERED:
        if entry.type == type_ and getattr(entry, role):
            return import_module(entry.module)
    known = ", ".join(source_types() if role == "source" else target_types())
    raise KeyError(f"no {role} of type {type_!r}; the known ones: {known}")
