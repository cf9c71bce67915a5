"""The Pennylane source: one company of Pennylane, API v2 (`connectors/pennylane.py`)."""

from __future__ import annotations

from typing import Literal

from encours.connectors.base import Source
from encours.connectors.registry import Context, Question, SourceSpec
from encours.connectors.settings import HttpSection, base_url_field

BASE_URL = "https://app.pennylane.com/api/external/v2"


class PennylaneSourceSettings(HttpSection):
    """`[sources.NAME]` with `type = "pennylane"`: one company of Pennylane (API v2).

    The API token is a secret: `encours secrets set NAME token`, or the environment variable
    ENCOURS_<NAME>_TOKEN. Nothing else to set: the changelog position is kept in the store.
    `base_url` is for a proxy or a test server only.
    """

    type: Literal["pennylane"]
    base_url: str = base_url_field(BASE_URL)


def make_source(context: Context) -> Source:
    """The Pennylane reader, with the source's token."""
    from encours.connectors.pennylane import PennylaneConnector

    return PennylaneConnector(
        context.name,
        context.secret("token"),
        currency=context.currency,
        base_url=context.settings.base_url,
        limits=context.http_limits(),
    )


SOURCE = SourceSpec(
    settings=PennylaneSourceSettings,
    make=make_source,
    label="Pennylane",
    questions=(
        Question("token", "Pennylane API token (Settings > Connectivity > Developers)",
                 secret=True),
    ),
)  # fmt: skip
