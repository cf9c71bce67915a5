"""Which connector serves which `type` of source or target in the configuration."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from encours.connectors.fec import FecConnector
from encours.connectors.file import FileTarget
from encours.model import Rejected, SourceRecord
from encours.sync.config import FecSourceSettings, FileTargetSettings, Settings


class Source(Protocol):
    """What sync needs of a source connector."""

    source: str
    currency: str

    def check(self) -> None:
        """Raise ConfigError, AuthError or DataError if the source cannot be read."""

    def fingerprint(self) -> str:
        """Changes whenever the source's content may have changed."""

    def records(self) -> Iterator[SourceRecord | Rejected]:
        """Every record of the source."""


class Target(Protocol):
    """What sync needs of a push target."""

    def check(self) -> None:
        """Raise ConfigError or AuthError if the target cannot be written."""

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Write changed values: customer key -> field -> value."""


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
