"""Which connector serves which `type` of source or target in the configuration."""

from __future__ import annotations

from encours.connectors.base import Source, Target
from encours.connectors.fec import FecConnector
from encours.connectors.file import FileTarget
from encours.sync.config import FecSourceSettings, FileTargetSettings, Settings


def make_source(name: str, settings: FecSourceSettings, everything: Settings) -> Source:
    """The connector for a `[sources.NAME]` section."""
    default_terms, terms = settings.terms_for()
    return FecConnector(
        name,
        settings.path,
        currency=everything.company.currency,
        default_terms=default_terms,
        terms=terms,
        encoding=settings.encoding,
    )


def make_target(name: str, settings: FileTargetSettings) -> Target:
    """The connector for a `[targets.NAME]` section."""
    return FileTarget(settings.path, file_format=settings.resolved_format)
