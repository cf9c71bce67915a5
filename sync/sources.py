"""Which connector serves which `type` of source or target in the configuration.

The only place that hands connectors their secrets (from `sync/secrets.py`).
"""

from __future__ import annotations

from encours.connectors.base import Source, Target
from encours.connectors.fec import FecConnector
from encours.connectors.file import FileTarget
from encours.connectors.hubspot import HubSpotTarget
from encours.connectors.pennylane import PennylaneConnector
from encours.sync.config import (
    FecSourceSettings,
    FileTargetSettings,
    HubSpotTargetSettings,
    PennylaneSourceSettings,
    Settings,
)
from encours.sync.report import INDICATOR_LABELS, push_keys
from encours.sync.secrets import get_secret


def make_source(
    name: str, settings: FecSourceSettings | PennylaneSourceSettings, everything: Settings
) -> Source:
    """The connector for a `[sources.NAME]` section."""
    currency = everything.company.currency
    if isinstance(settings, PennylaneSourceSettings):
        return PennylaneConnector(name, get_secret(name, "token"), currency=currency)
    default_terms, terms = settings.terms_for()
    return FecConnector(
        name,
        settings.path,
        currency=currency,
        default_terms=default_terms,
        terms=terms,
        encoding=settings.encoding,
    )


def make_target(
    name: str, settings: FileTargetSettings | HubSpotTargetSettings, everything: Settings
) -> Target:
    """The connector for a `[targets.NAME]` section."""
    if isinstance(settings, HubSpotTargetSettings):
        return HubSpotTarget(
            get_secret(name, "token"),
            properties=hubspot_properties(settings, everything),
            group=settings.group,
            group_label=settings.group_label,
            siren_property=settings.siren_property,
            siret_property=settings.siret_property,
            vat_property=settings.vat_property,
            secret_name=name,
        )
    return FileTarget(settings.path, file_format=settings.resolved_format)


def field_names(
    settings: FileTargetSettings | HubSpotTargetSettings, everything: Settings
) -> dict[str, str]:
    """Indicator -> the field it is written to in this target.

    `[push.field_names]` first; a HubSpot property otherwise gets the target's prefix
    (`encours_outstanding`), since its internal names share one namespace with the portal's.
    """
    prefix = settings.property_prefix if isinstance(settings, HubSpotTargetSettings) else ""
    names = everything.push.field_names
    keys = push_keys(everything.push.indicators, everything.metrics.aging_edges)
    return {key: names.get(key, prefix + key) for key in keys}


def hubspot_properties(settings: HubSpotTargetSettings, everything: Settings) -> dict[str, str]:
    """The HubSpot properties to create: internal name -> label (French by default)."""
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
