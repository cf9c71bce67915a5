"""Tryton as a target: the indicators on the party form, through our module `party_encours`.

The module (tryton/party_encours) adds read-only fields `encours_<indicator>` to
`party.party`, a tab "Encours & risque" on its form, and one bulk method
`set_encours_indicators` that only its group "Encours (synchronisation)" may call. This
target sends only the changed values, `batch_size` parties per call, each value typed as the
field is (Decimal, integer, boolean, date); an empty value clears the field.

A customer read from the same Tryton database is its own party. A customer of another
source (a FEC, Pennylane) is matched to a party by `sync/identity.py` (SIREN, VAT number,
name), from `companies()`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from encours.connectors.tryton.records import identifiers
from encours.connectors.tryton.rpc import TrytonError, TrytonRpc
from encours.errors import AuthError, ConfigError, DataError
from encours.model import Party

__all__ = ["FIELD_PREFIX", "TrytonTarget", "install_hint"]

log = logging.getLogger("encours.tryton")

FIELD_PREFIX = "encours_"
MODULE = "party_encours"
METHOD = "set_encours_indicators"


def install_hint(database: str) -> str:
    """How to install and activate the module, in three commands."""
    return (
        f"install the Tryton module {MODULE} on the server "
        "(`pip install ./tryton/party_encours` from the encours sources), activate it "
        f"(`trytond-admin -c trytond.conf -d {database} -u {MODULE}`), then restart trytond"
    )


class TrytonTarget:
    """Write indicators onto parties of one Tryton database."""

    def __init__(self, rpc: TrytonRpc, *, batch_size: int = 100) -> None:
        """Create the target.

        Args:
            rpc: a session as a user of the group "Encours (synchronisation)".
            batch_size: parties written per call (one transaction each).
        """
        self.rpc = rpc
        self.batch_size = batch_size
        self._types: dict[str, str] | None = None
        self._skipped: set[str] = set()

    def check(self) -> None:
        """Log in, find the module's fields and make sure this user may call the method.

        Raises:
            AuthError: wrong user or password, or the user is not in the module's group.
            ConfigError: the module is missing, or the server was not restarted after it
                was activated.
            TransientError: the server cannot be reached.
        """
        self.field_types()
        try:
            self.rpc.model("party.party", METHOD, [])
        except AuthError as exc:
            if exc.status != 403:
                raise
            raise ConfigError(
                f"Tryton does not offer {METHOD} on database {self.rpc.database!r} although "
                f"the module's fields are there: restart trytond after activating {MODULE}"
            ) from None
        except TrytonError as exc:
            raise AuthError(
                f"Tryton user {self.rpc.login!r} may not write the indicators ({exc}): add "
                "the user to the group « Encours (synchronisation) » (Administration > Users)"
            ) from None

    def field_types(self) -> dict[str, str]:
        """The module's fields on `party.party` and their Tryton types, asked once."""
        if self._types is None:
            described = self.rpc.model("party.party", "fields_get", None)
            self._types = {
                name: spec.get("type", "char")
                for name, spec in described.items()
                if name.startswith(FIELD_PREFIX) and name != f"{FIELD_PREFIX}updated_at"
            }
            if not self._types:
                raise ConfigError(
                    f"the module {MODULE} is not active in Tryton database "
                    f"{self.rpc.database!r}: {install_hint(self.rpc.database)}"
                )
        return self._types

    def companies(self) -> Iterator[Party]:
        """Every party, as matching sees it (for customers of other sources)."""
        for item in self.rpc.search_pages(
            "party.party", [], ["name", "identifiers.type", "identifiers.code"]
        ):
            siren, siret, vat = identifiers(item)
            yield Party(
                key=str(item["id"]),
                name=item.get("name") or "",
                siren=siren,
                siret=siret,
                vat_number=vat,
            )

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Write party id -> field -> value, in one call (sync gives `batch_size` at most)."""
        types = self.field_types()
        values = []
        for party, fields in changes.items():
            typed = {}
            for name, value in fields.items():
                if name not in types:
                    if name not in self._skipped:
                        self._skipped.add(name)
                        log.warning("Tryton has no field %s for this indicator: not written", name)
                    continue
                typed[name] = _typed(types[name], value, name)
            if typed:
                values.append([int(party), typed])
        if values:
            self.rpc.model("party.party", METHOD, values)


def _typed(kind: str, value: str, name: str) -> Any:
    """A pushed value (always text) as the field's type; "" clears the field."""
    if value == "":
        return None
    try:
        if kind == "numeric":
            return Decimal(value)
        if kind == "integer":
            return int(value)
        if kind == "boolean":
            return value == "true"
        if kind == "date":
            return date.fromisoformat(value)
    except (ValueError, InvalidOperation):
        raise DataError(f"{value!r} is no {kind} for Tryton field {name}") from None
    return value
