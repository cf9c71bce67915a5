"""Sellsy (API v2), both ways: documents read, indicators into custom fields (`sellsy.py`).

Sellsy lets a script in through a *personal* API client (Sellsy: Settings > Developer portal
> API access > create a "personal" client) with OAuth 2 client credentials: its client id
is a setting, its client secret a secret (`encours secrets set NAME client_secret`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from encours.connectors.base import Source, Target
from encours.connectors.registry import Context, Question, SourceSpec, TargetSpec
from encours.connectors.settings import (
    URL_PATTERN,
    HttpSection,
    base_url_field,
    prefixed_field_names,
)

BASE_URL = "https://api.sellsy.com/v2"
TOKEN_URL = "https://login.sellsy.com/oauth2/access-tokens"  # noqa: S105 - a URL


class SellsySettings(HttpSection):
    """One Sellsy account, through a personal API client."""

    base_url: str = base_url_field(BASE_URL)
    token_url: str = Field(default=TOKEN_URL, pattern=URL_PATTERN)
    client_id: str = Field(min_length=1)


class SellsySourceSettings(SellsySettings):
    """`[sources.NAME]` with `type = "sellsy"`: invoices, credit notes and payments."""

    type: Literal["sellsy"]


class SellsyTargetSettings(SellsySettings):
    """`[targets.NAME]` with `type = "sellsy"`: one custom field per indicator on companies.

    A field's code is `field_prefix` + the indicator (`encours_outstanding`) unless
    `[push.field_names]` names it. Which company is which customer: the customers of a
    Sellsy source of the same account are its companies; otherwise the `mapping` file, then
    SIREN, VAT number, e-mail domain and name (`sync/identity.py`).
    """

    type: Literal["sellsy"]
    mapping: Path = Path("mapping.csv")
    field_prefix: str = Field(default="encours_", pattern=r"^[a-z][a-z0-9_-]*$")


def _client(context: Context) -> Any:
    from encours.connectors.sellsy import make_client

    settings: SellsySettings = context.settings
    return make_client(
        settings.client_id,
        context.secret("client_secret"),
        base_url=settings.base_url,
        token_url=settings.token_url,
        limits=context.http_limits(),
    )


def make_source(context: Context) -> Source:
    """The Sellsy reader."""
    from encours.connectors.sellsy import SellsySource

    return SellsySource(context.name, _client(context), currency=context.currency)


def make_target(context: Context) -> Target:
    """The Sellsy writer, with the custom fields' codes and labels."""
    from encours.connectors.sellsy import SellsyTarget

    return SellsyTarget(_client(context), fields=context.labels())


def field_names(
    settings: SellsyTargetSettings, keys: Iterable[str], named: Mapping[str, str]
) -> dict[str, str]:
    """`[push.field_names]` first, else the prefix: `encours_outstanding`."""
    return prefixed_field_names(settings.field_prefix, keys, named)


def own_records(target: SellsyTargetSettings, source: object) -> bool:
    """A Sellsy source of the same account reads the very companies this target writes."""
    return isinstance(source, SellsySourceSettings) and (
        (source.base_url, source.client_id) == (target.base_url, target.client_id)
    )


def prepare(target: Any) -> str:
    """Check the custom fields exist (Sellsy's API cannot create them): "8 field(s) found"."""
    return f"{len(target.ensure_fields())} custom field(s) found"


_QUESTIONS = (
    Question("client_id", "Sellsy personal API client id", option="--sellsy-client-id",
             example="0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
             help="Client id of a personal Sellsy API client; its secret comes from the "
             "keyring (`encours secrets set NAME client_secret`)."),
    Question("client_secret", "Secret of Sellsy API client {client_id}", secret=True),
)  # fmt: skip

SOURCE = SourceSpec(
    settings=SellsySourceSettings,
    make=make_source,
    label="Sellsy",
    questions=_QUESTIONS,
    default_name="sellsy",
)
TARGET = TargetSpec(
    settings=SellsyTargetSettings,
    make=make_target,
    label="Sellsy company custom fields",
    questions=_QUESTIONS,
    lines=('mapping = "mapping.csv"  # customer,record lines to settle unmatched customers',),
    note="Sellsy's API cannot create custom fields: create one simple-text field on companies "
    "per indicator (Settings > Custom fields), coded encours_outstanding, encours_overdue... "
    "`encours init` then checks they are all there.",
    field_names=field_names,
    own_records=own_records,
    prepare=prepare,
)
