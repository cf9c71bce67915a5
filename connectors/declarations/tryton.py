"""Tryton, both ways: invoices and payments read, indicators on the party form.

The source is `connectors/tryton/source.py`, the target `connectors/tryton/target.py`; both
talk JSON-RPC through `connectors/tryton/rpc.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import Field

from encours.connectors.base import Source, Target
from encours.connectors.registry import Context, Question, SourceSpec, TargetSpec
from encours.connectors.settings import URL_PATTERN, HttpSection


class TrytonSettings(HttpSection):
    """Where a Tryton database is: server address, database name and the user encours uses.

    The user's password is a secret: `encours secrets set NAME password`, or the environment
    variable ENCOURS_<NAME>_PASSWORD.
    """

    url: str = Field(pattern=URL_PATTERN)
    database: str = Field(min_length=1)
    user: str = Field(default="encours", min_length=1)


class TrytonSourceSettings(TrytonSettings):
    """`[sources.NAME]` with `type = "tryton"`: customer invoices, payments and deposits.

    Tryton's reconciliations and payment lines are the accountant's own matching, so
    reconciliation takes them as they are and guesses nothing more for this source.
    """

    type: Literal["tryton"]


class TrytonTargetSettings(TrytonSettings):
    """`[targets.NAME]` with `type = "tryton"`: the indicators on the party form.

    Needs the Tryton module `party_encours` (tryton/party_encours in this repository) and a
    user in its group "Encours (synchronisation)".
    """

    type: Literal["tryton"]
    batch_size: int = Field(default=100, ge=1, le=1000)


def server_url(value: str) -> str:
    """A Tryton server address as written in the config (no trailing slash).

    >>> server_url("https://erp.example.fr/")
    'https://erp.example.fr'
    """
    url = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ValueError(
            f"{value!r} is no server address: write it with http:// or https://, "
            "e.g. https://erp.example.fr"
        )
    return url


def _rpc(context: Context):  # type: ignore[no-untyped-def]
    """A session to the database of a source or target, with its password."""
    from encours.connectors.tryton.rpc import TrytonRpc

    settings: TrytonSettings = context.settings
    return TrytonRpc(
        settings.url,
        settings.database,
        settings.user,
        context.secret("password"),
        secret_hint=f"Set it with `encours secrets set {context.name} password`.",
        limits=context.http_limits(),
    )


def make_source(context: Context) -> Source:
    """The Tryton reader."""
    from encours.connectors.tryton.source import TrytonSource

    return TrytonSource(context.name, _rpc(context), currency=context.currency)


def make_target(context: Context) -> Target:
    """The Tryton writer, `batch_size` parties a call."""
    from encours.connectors.tryton.target import TrytonTarget

    return TrytonTarget(_rpc(context), batch_size=context.settings.batch_size)


def field_names(
    settings: TrytonTargetSettings, keys: Iterable[str], named: Mapping[str, str]
) -> dict[str, str]:
    """The module's fields, whatever `[push.field_names]` says: `encours_<indicator>`."""
    from encours.connectors.tryton.target import FIELD_PREFIX

    return {key: FIELD_PREFIX + key for key in keys}


def own_records(target: TrytonTargetSettings, source: object) -> bool:
    """A Tryton source of the same database reads the very parties this target writes."""
    return isinstance(source, TrytonSourceSettings) and (
        (source.url.rstrip("/"), source.database) == (target.url.rstrip("/"), target.database)
    )


_QUESTIONS = (
    Question("url", "Tryton server address (e.g. https://erp.example.fr)", option="--tryton-url",
             metavar="URL", convert=server_url, example="https://erp.example.fr",
             help="Tryton server address, e.g. https://erp.example.fr (Tryton source or target)."),
    Question("database", "Tryton database name", option="--tryton-database", metavar="NAME",
             help="Tryton database name.", example="prod"),
    Question("user", "Tryton user for encours", default="encours", option="--tryton-user",
             help="Tryton user encours logs in as; its password comes from the keyring "
             "(`encours secrets set NAME password`) or ENCOURS_<NAME>_PASSWORD."),
    Question("password", "Password of Tryton user {user}", secret=True),
)  # fmt: skip

SOURCE = SourceSpec(
    settings=TrytonSourceSettings,
    make=make_source,
    label="a Tryton database",
    questions=_QUESTIONS,
    default_name="tryton",
    complete_matching=True,
)
TARGET = TargetSpec(
    settings=TrytonTargetSettings,
    make=make_target,
    label="the parties of a Tryton database",
    questions=_QUESTIONS,
    lines=(
        "batch_size = 100  # parties written per call",
        "# needs the Tryton module party_encours (see config.example.toml)",
    ),
    note="The Tryton target writes onto the parties through the module party_encours "
    "(tryton/party_encours in the encours sources), for a user in the group "
    "« Encours (synchronisation) ».",
    field_names=field_names,
    own_records=own_records,
)
