"""The configured sources and targets built by their registered connectors.

The only place that hands connectors their secrets (from `sync/secrets.py`). Which connector
serves which `type` is in `connectors/registry.py`; nothing here names one.
"""

from __future__ import annotations

from functools import partial

from encours.connectors.base import Source, Target
from encours.connectors.registry import Context, source_spec, target_spec
from encours.sync.config import Settings, SourceSettings, TargetSettings
from encours.sync.report import INDICATOR_LABELS, push_keys
from encours.sync.secrets import get_secret, set_secret


def make_source(name: str, settings: SourceSettings, everything: Settings) -> Source:
    """The connector for a `[sources.NAME]` section."""
    context = Context(
        name,
        settings,
        everything,
        secret=partial(get_secret, name),
        save_secret=partial(set_secret, name),
    )
    return source_spec(settings.type).make(context)


def make_target(name: str, settings: TargetSettings, everything: Settings) -> Target:
    """The connector for a `[targets.NAME]` section."""
    context = Context(
        name,
        settings,
        everything,
        secret=partial(get_secret, name),
        save_secret=partial(set_secret, name),
        fields=partial(field_names, settings, everything),
        labels=partial(field_labels, settings, everything),
    )
    return target_spec(settings.type).make(context)


def field_names(settings: TargetSettings, everything: Settings) -> dict[str, str]:
    """Indicator -> the field it is written to in this target.

    `[push.field_names]` first, unless the target's connector fixes its own names (a CRM's
    prefix when none is given, a module's fields whatever is given).
    """
    keys = push_keys(everything.push.indicators, everything.metrics.aging_edges)
    return target_spec(settings.type).field_names(settings, keys, everything.push.field_names)


def own_record_sources(target: TargetSettings, everything: Settings) -> set[str]:
    """The sources whose customers are this target's own records: no matching needed.

    A database read and written: its customers are the target's parties.
    """
    same = target_spec(target.type).own_records
    if same is None:
        return set()
    return {name for name, source in everything.sources.items() if same(target, source)}


def complete_matching_sources(everything: Settings) -> set[str]:
    """The sources whose own matching is complete: reconciliation guesses nothing for them."""
    return {
        name
        for name, source in everything.sources.items()
        if source_spec(source.type).complete_matching
    }


def field_labels(settings: TargetSettings, everything: Settings) -> dict[str, str]:
    """The fields a CRM target creates: field name -> label (French by default)."""
    labels = everything.push.labels
    return {
        field: labels.get(key, INDICATOR_LABELS.get(key, _aging_label(key)))
        for key, field in field_names(settings, everything).items()
    }


_AGING_COLUMN_LABELS = {"unapplied": "non imputé", "unbilled": "à facturer", "not_due": "non échu"}


def _aging_label(key: str) -> str:
    """`aging_31_60` -> "Balance âgée 31-60 j"; `aging_90_plus` -> "Balance âgée > 90 j"."""
    column = key.removeprefix("aging_")
    if column in _AGING_COLUMN_LABELS:
        return f"Balance âgée {_AGING_COLUMN_LABELS[column]}"
    if column.endswith("_plus"):
        return f"Balance âgée > {column.removesuffix('_plus')} j"
    return f"Balance âgée {column.replace('_', '-')} j"
