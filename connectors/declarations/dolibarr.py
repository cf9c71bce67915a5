"""Dolibarr (REST API), both ways: invoices read, indicators into third-party extra fields.

The reader and the writer are `connectors/dolibarr.py`. The API key is a Dolibarr user's
(Users > the user > "API key"; the REST API module must be on): a secret,
`encours secrets set NAME api_key`. It has that user's rights: reading invoices and third
parties; writing third parties, and creating extra fields (an admin) for `encours init`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from encours.connectors.base import Source, Target
from encours.connectors.registry import Context, Question, SourceSpec, TargetSpec
from encours.connectors.settings import URL_PATTERN, HttpSection, prefixed_field_names


class DolibarrSettings(HttpSection):
    """Where a Dolibarr is: its address (the API is under `/api/index.php`)."""

    url: str = Field(pattern=URL_PATTERN)


class DolibarrSourceSettings(DolibarrSettings):
    """`[sources.NAME]` with `type = "dolibarr"`: customer invoices, credit notes, deposits."""

    type: Literal["dolibarr"]


class DolibarrTargetSettings(DolibarrSettings):
    """`[targets.NAME]` with `type = "dolibarr"`: one extra field per indicator on third parties.

    A field's code is `field_prefix` + the indicator (`encours_outstanding`) unless
    `[push.field_names]` names it. A Dolibarr source of the same address reads the very
    third parties written; otherwise the `mapping` file, then SIREN, VAT number, domain, name.
    """

    type: Literal["dolibarr"]
    mapping: Path = Path("mapping.csv")
    field_prefix: str = Field(default="encours_", pattern=r"^[a-z][a-z0-9_]*$")


def api_root(value: str) -> str:
    """A Dolibarr address as written in the config: no trailing slash, no API path.

    >>> api_root("https://erp.example.fr/api/index.php/")
    'https://erp.example.fr'
    """
    url = value.strip().rstrip("/").removesuffix("/api/index.php")
    if not url.startswith(("https://", "http://")) or " " in url:
        raise ValueError(f"{value!r} is no address: write it like https://erp.example.fr")
    return url


def _client(context: Context) -> Any:
    from encours.connectors.dolibarr import make_client

    settings: DolibarrSettings = context.settings
    return make_client(settings.url, context.secret("api_key"), limits=context.http_limits())


def make_source(context: Context) -> Source:
    """The Dolibarr reader."""
    from encours.connectors.dolibarr import DolibarrSource

    return DolibarrSource(context.name, _client(context), currency=context.currency)


def make_target(context: Context) -> Target:
    """The Dolibarr writer, with the extra fields' codes and labels."""
    from encours.connectors.dolibarr import DolibarrTarget

    return DolibarrTarget(_client(context), fields=context.labels())


def field_names(
    settings: DolibarrTargetSettings, keys: Iterable[str], named: Mapping[str, str]
) -> dict[str, str]:
    """`[push.field_names]` first, else the prefix: `encours_outstanding`."""
    return prefixed_field_names(settings.field_prefix, keys, named)


def own_records(target: DolibarrTargetSettings, source: object) -> bool:
    """A Dolibarr source at the same address reads the third parties this target writes."""
    return isinstance(source, DolibarrSourceSettings) and api_root(source.url) == api_root(
        target.url
    )


def prepare(target: Any) -> str:
    """Create the extra fields missing on third parties: "2 created, 6 reused"."""
    created, reused = target.ensure_fields()
    return f"{len(created)} extra field(s) created, {len(reused)} reused"


_QUESTIONS = (
    Question("url", "Dolibarr address (e.g. https://erp.example.fr)", option="--dolibarr-url",
             metavar="URL", convert=api_root, example="https://erp.example.fr",
             help="Dolibarr address; its API key comes from the keyring "
             "(`encours secrets set NAME api_key`) or ENCOURS_<NAME>_API_KEY."),
    Question("api_key", "API key of the Dolibarr user encours uses", secret=True),
)  # fmt: skip

SOURCE = SourceSpec(
    settings=DolibarrSourceSettings,
    make=make_source,
    label="Dolibarr",
    questions=_QUESTIONS,
    default_name="dolibarr",
)
TARGET = TargetSpec(
    settings=DolibarrTargetSettings,
    make=make_target,
    label="Dolibarr third-party extra fields",
    questions=_QUESTIONS,
    lines=('mapping = "mapping.csv"  # customer,record lines to settle unmatched customers',),
    field_names=field_names,
    own_records=own_records,
    prepare=prepare,
)
