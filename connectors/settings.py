"""What every connector's section of the configuration file shares.

A connector's settings model derives from `Section` (or `HttpSection` when it talks HTTP) and
has a `type: Literal["its-type"]` field: the configuration's `[sources.NAME]` and
`[targets.NAME]` tables are read with the model their `type` names (`sync/config.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from encours.model import PaymentTerms, TermLine

#: A base URL as the configuration gives it: a scheme and a host, then an optional path.
URL_PATTERN = r"^https?://[^\s/]+"


class Section(BaseModel):
    """A section of the file: unknown keys are refused, so a typo is caught, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSection(Section):
    """What every section that talks HTTP shares.

    `allow_insecure_http`: plain `http://` to a host that is not this machine. Off: a token
    or password would cross the network in clear. For a lab only; `check` says so loudly.
    """

    allow_insecure_http: bool = False


def base_url_field(default: str) -> str:
    """A `base_url` setting whose default is the vendor's API root.

    Another root is for a sandbox, a regional data centre, a proxy or a test server:

        class AcmeSettings(HttpSection):
            type: Literal["acme"]
            base_url: str = base_url_field("https://api.acme.example/v1")
    """
    return Field(default=default, pattern=URL_PATTERN)  # type: ignore[no-any-return]


_TERMS = re.compile(
    r"^\s*(?:(?P<share>\d+(?:[.,]\d+)?)\s*%\s*)?(?:à\s*|at\s*)?(?P<days>\d+)\s*(?:j|jours?|days?|d)?"
    r"\s*(?P<eom>fin de mois|fdm|end of month|eom)?\s*$",
    re.I,
)


def parse_terms(value: int | str) -> PaymentTerms:
    """Payment terms from the config: `30`, `"45 fin de mois"`, `"30% 0, 70% 60"`.

    Lines are separated by commas; every line but the last gives a share in percent; the last
    takes the rest (if it names a share, the shares must add up to 100 %).

    >>> [(t.share, t.days, t.end_of_month) for t in parse_terms("30% 0, 60 jours fdm").lines]
    [(Decimal('30'), 0, False), (None, 60, True)]
    """
    if isinstance(value, int):
        return PaymentTerms.net(value)
    parts = [p for p in value.split(",") if p.strip()]
    if not parts:
        raise ValueError("empty payment terms")
    lines: list[TermLine] = []
    for index, part in enumerate(parts):
        match = _TERMS.match(part)
        if not match:
            raise ValueError(
                f'cannot read {part.strip()!r}; write e.g. 30, "45 fin de mois" or "30% 0, 70% 60"'
            )
        is_last = index == len(parts) - 1
        share = match["share"]
        if not is_last and share is None:
            raise ValueError(
                f"{part.strip()!r} needs a share in percent (only the last may omit it)"
            )
        if is_last and share is not None:
            named = Decimal(share.replace(",", "."))
            given = sum((line.share or Decimal(0) for line in lines), named)
            if given != 100:
                raise ValueError(f"the shares add up to {given} %, not 100 %")
        lines.append(
            TermLine(
                share=None if is_last else Decimal(share.replace(",", ".")),
                days=int(match["days"]),
                end_of_month=bool(match["eom"]),
            )
        )
    return PaymentTerms(lines=tuple(lines))


def prefixed_field_names(
    prefix: str, keys: Iterable[str], named: Mapping[str, str]
) -> dict[str, str]:
    """A target's field per indicator: `[push.field_names]` first, else `prefix` + the key.

    >>> prefixed_field_names("encours_", ["outstanding", "dso"], {"dso": "delai"})
    {'outstanding': 'encours_outstanding', 'dso': 'delai'}
    """
    return {key: named.get(key, prefix + key) for key in keys}
