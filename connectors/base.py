"""What every connector offers sync: the protocols of a source and a target, and a `Pull`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from encours.model import Party, Rejected, SourceRecord


def validation_reasons(exc: ValidationError) -> str:
    """Why a vendor record does not fit the model, one `field: reason` per problem.

    >>> from encours.model import Money
    >>> try:
    ...     Money(amount="1.001", currency="EUR")
    ... except ValidationError as exc:
    ...     print(validation_reasons(exc))
    record: Value error, 1.001 has more decimals than EUR allows (2)
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
    )


@dataclass
class Pull:
    """What a source hands over for one run.

    `records` are read lazily, page by page; `position()` is asked only after the last record
    was stored, and sync keeps it in the same transaction, so a run that stops half way
    starts again from the old position. `replace_all` says the records are the whole source:
    whatever the store has of it and did not see again was deleted at the source.
    `unchanged` says there is nothing to read since `position`. `stage`, when given, puts
    the same records into the store's engine itself, as tables (`sync/store/ledger.py`):
    the store then calls it instead of reading `records`, with the fingerprint of the index
    of the last read it keeps (`connectors/fec_changes.py`), or None.
    """

    records: Iterator[SourceRecord | Rejected]
    position: Callable[[], str]
    replace_all: bool
    unchanged: bool = False
    stage: Callable[[Any, str | None], None] | None = None


class Source(Protocol):
    """A tool encours reads from."""

    source: str
    currency: str

    def check(self) -> None:
        """Raise ConfigError, AuthError or DataError if the source cannot be read."""

    def pull(self, position: str | None) -> Pull:
        """What changed since `position` (everything when it is None)."""


class Target(Protocol):
    """A tool encours writes the indicators to.

    `batch_size`: how many records one write takes (None: any number). Sync pushes a batch
    at a time and remembers each one written, so an interrupted push resumes where it stopped.
    """

    batch_size: int | None

    def check(self) -> None:
        """Raise ConfigError or AuthError if the target cannot be written."""

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Write changed values: customer key -> field -> value."""


@runtime_checkable
class RecordTarget(Target, Protocol):
    """A target with records of its own (a CRM's companies), matched to customers first."""

    def companies(self) -> Iterator[Party]:
        """Every record, as matching sees it."""
