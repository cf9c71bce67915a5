"""Which connector serves which `type` of source or target in the configuration.

The only place that hands connectors their secrets (from `sync/secrets.py`).
"""

from __future__ import annotations

from encours.connectors.base import Source, Target
from encours.connectors.fec import FecBounds, FecConnector
from encours.connectors.file import FileTarget
from encours.connectors.http import HttpLimits
from encours.connectors.hubspot import HubSpotTarget
from encours.connectors.pennylane import PennylaneConnector
from encours.connectors.tryton.rpc import TrytonRpc
from encours.connectors.tryton.source import TrytonSource
from encours.connectors.tryton.target import FIELD_PREFIX, TrytonTarget
from encours.sync.config import (
    HttpSection,
    HubSpotTargetSettings,
    PennylaneSourceSettings,
    Settings,
    SourceSettings,
    TargetSettings,
    TrytonSettings,
    TrytonSourceSettings,
    TrytonTargetSettings,
)
from encours.sync.report import INDICATOR_LABELS, push_keys
from encours.sync.secrets import get_secret


def make_source(name: str, settings: SourceSettings, everything: Settings) -> Source:
    """The connector for a `[sources.NAME]` section."""
    currency = everything.company.currency
    if isinstance(settings, PennylaneSourceSettings):
        return PennylaneConnector(
            name,
            get_secret(name, "token"),
            currency=currency,
            base_url=settings.base_url,
            limits=http_limits(settings, everything),
        )
    if isinstance(settings, TrytonSourceSettings):
        return TrytonSource(name, tryton_rpc(name, settings, everything), currency=currency)
    default_terms, terms = settings.terms_for()
    return FecConnector(
        name,
        settings.path,
        currency=currency,
        default_terms=default_terms,
        terms=terms,
        encoding=settings.encoding,
        bounds=FecBounds(
            line_bytes=everything.limits.fec_max_line_bytes,
            field_bytes=everything.limits.fec_max_field_bytes,
            entry_lines=everything.limits.fec_max_entry_lines,
        ),
    )


def http_limits(settings: HttpSection, everything: Settings) -> HttpLimits:
    """The transport's bounds for one source or target: `[limits]` and its own section."""
    limits = everything.limits
    return HttpLimits(
        request_seconds=limits.http_request_seconds,
        total_seconds=limits.http_total_seconds,
        max_response_bytes=limits.http_max_response_bytes,
        max_pages=limits.http_max_pages,
        allow_insecure_http=settings.allow_insecure_http,
    )


def tryton_rpc(name: str, settings: TrytonSettings, everything: Settings) -> TrytonRpc:
    """A session to the Tryton database of a source or target, with its password."""
    return TrytonRpc(
        settings.url,
        settings.database,
        settings.user,
        get_secret(name, "password"),
        secret_hint=f"Set it with `encours secrets set {name} password`.",
        limits=http_limits(settings, everything),
    )


def make_target(name: str, settings: TargetSettings, everything: Settings) -> Target:
    """The connector for a `[targets.NAME]` section."""
    if isinstance(settings, TrytonTargetSettings):
        return TrytonTarget(tryton_rpc(name, settings, everything), batch_size=settings.batch_size)
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
            base_url=settings.base_url,
            limits=http_limits(settings, everything),
        )
    return FileTarget(settings.path, file_format=settings.resolved_format)


def field_names(settings: TargetSettings, everything: Settings) -> dict[str, str]:
    """Indicator -> the field it is written to in this target.

    `[push.field_names]` first; a HubSpot property otherwise gets the target's prefix
    (`encours_outstanding`), since its internal names share one namespace with the portal's.
    Tryton's fields are the module's own: always `encours_<indicator>`.
    """
    keys = push_keys(everything.push.indicators, everything.metrics.aging_edges)
    if isinstance(settings, TrytonTargetSettings):
        return {key: FIELD_PREFIX + key for key in keys}
    prefix = settings.property_prefix if isinstance(settings, HubSpotTargetSettings) else ""
    names = everything.push.field_names
    return {key: names.get(key, prefix + key) for key in keys}


def same_database_sources(target: TrytonTargetSettings, everything: Settings) -> set[str]:
    """The Tryton sources that read the database this target writes to.

    Their customers are the target's own parties: no matching needed.
    """
    return {
        name
        for name, source in everything.sources.items()
        if isinstance(source, TrytonSourceSettings)
        and (source.url.rstrip("/"), source.database) == (target.url.rstrip("/"), target.database)
    }


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
