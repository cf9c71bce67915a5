"""The last run's figures, kept in a small file beside the store: `<store>.last-run.json`.

`status` for the last run's date reads them instead of computing (a few milliseconds for
thousands of customers, against a pass over every table), and can still show them while a
sync holds the store, which DuckDB lets no one else open. The sync writes the file after it
committed, atomically (a reader sees the previous file or the new one), with the run's id
and a digest of the settings the figures depend on: figures of another run, or computed
under other settings, are not used.

Values keep their exact types: amounts as integers of minor units, ratios and days as
Decimal text, dates as ISO text. Example: `{"as_of": "2026-03-31", "run_id": 7, ...,
"figures": {"currency": "EUR", "total": {"aged": {"buckets": [["unapplied", 0], ...]}}}}`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import types
import typing
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from encours.sync.config import Settings
from encours.sync.figures import Figures


class LastRun(NamedTuple):
    """The figures of a run, with what says whether they still apply.

    `store_stat` is the store file's (size, modification time in ns) when the run closed
    it: a store written since (another run, a restored backup, damage) no longer matches.
    """

    run_id: int
    settings_digest: str
    store_stat: tuple[int, int]
    figures: Figures

    def applies(
        self,
        store: Path,
        settings: Settings,
        as_of: date,
        store_stat: tuple[int, int] | None = None,
    ) -> bool:
        """Whether these are the figures of `store` now, as of `as_of`, under `settings`.

        `store_stat` (of `stat_of`) stands for the store as it was when taken, if not now.
        """
        return (
            self.figures.as_of == as_of
            and self.settings_digest == settings_digest(settings)
            and self.store_stat == (store_stat or stat_of(store))
        )

    def applies_while_running(self, settings: Settings, as_of: date) -> bool:
        """Whether they answer for `as_of` while a sync rewrites the store."""
        return self.figures.as_of == as_of and self.settings_digest == settings_digest(settings)


#: The figures `load` gave last, and their JSON as read: a run that keeps them (nothing
#: changed) saves that JSON again rather than encoding the same figures anew.
_loaded: tuple[Figures, Any] | None = None


def path_of(store: Path) -> Path:
    """Where the last run's figures of a store are kept."""
    return store.with_name(store.name + ".last-run.json")


def settings_digest(settings: Settings) -> str:
    """A digest of what the figures depend on beyond the records: company and metrics."""
    text = json.dumps(
        [settings.company.model_dump(mode="json"), settings.metrics.model_dump(mode="json")],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stat_of(store: Path) -> tuple[int, int]:
    """The store file's (size, modification time in ns), what a last run's figures stand on."""
    try:
        status = store.stat()
    except OSError:
        return (-1, -1)
    return (status.st_size, status.st_mtime_ns)


def save(store: Path, run_id: int, settings: Settings, figures: Figures) -> None:
    """Replace the file atomically with these figures (call it once the store is closed)."""
    kept = _loaded[1] if _loaded is not None and _loaded[0] is figures else None
    document = {
        "run_id": run_id,
        "settings_digest": settings_digest(settings),
        "store_stat": list(stat_of(store)),
        "figures": figures if kept is None else kept,
    }
    target = path_of(store)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # dumps, not dump: only a one-shot dump runs the C encoder (2 s -> 0.2 s at
            # 5 000 customers), which calls `_plain` for what it cannot encode itself.
            handle.write(json.dumps(document, separators=(",", ":"), default=_plain))
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def load(store: Path) -> LastRun | None:
    """The last run's figures, or None when there is no readable file."""
    global _loaded  # noqa: PLW0603 - the memo of the figures read last, see `_loaded`
    try:
        document = json.loads(path_of(store).read_text(encoding="utf-8"))
        size, mtime = document["store_stat"]
        figures = _decode(Figures, document["figures"])
        _loaded = (figures, document["figures"])
        return LastRun(
            int(document["run_id"]),
            str(document["settings_digest"]),
            (int(size), int(mtime)),
            figures,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _plain(value: Any) -> Any:
    """A value the JSON encoder has no form for, in plain values: its `default`.

    A dataclass becomes an object of its fields, in order; Decimal and dates become text.
    The encoder writes tuples as lists and encodes what this returns in turn.
    """
    names = _field_names(type(value))
    if names:
        return {name: getattr(value, name) for name in names}
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not kept in the last run's file")


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    """The fields of a dataclass, in order; none for another type."""
    if not dataclasses.is_dataclass(kind):
        return ()
    return tuple(field.name for field in dataclasses.fields(kind))


def _decode(kind: Any, value: Any) -> Any:
    """The inverse of `_plain`, led by the type hints of the dataclasses."""
    return _decoder(kind)(value)


@functools.cache
def _decoder(kind: Any) -> Callable[[Any], Any]:
    """A function that rebuilds a value of type `kind` from its JSON (made once per type)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        (option,) = [option for option in typing.get_args(kind) if option is not type(None)]
        inner = _decoder(option)
        return lambda value: None if value is None else inner(value)
    if origin is tuple:
        arguments = typing.get_args(kind)
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            item = _decoder(arguments[0])
            return lambda value: tuple(item(element) for element in value)
        items = [_decoder(argument) for argument in arguments]
        return lambda value: tuple(
            item(element) for item, element in zip(items, value, strict=True)
        )
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(kind) if f.init]
        return lambda value: kind(**{name: field(value[name]) for name, field in fields})
    if kind is Decimal:
        return Decimal
    if kind is date:
        return date.fromisoformat
    if kind in (int, str, bool):
        return kind  # type: ignore[no-any-return]
    return lambda value: value
