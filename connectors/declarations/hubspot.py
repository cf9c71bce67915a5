"""The HubSpot target: custom company properties in a portal (`connectors/hubspot.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from encours.connectors.base import Target
from encours.connectors.registry import Context, Question, TargetSpec
from encours.connectors.settings import HttpSection, base_url_field, prefixed_field_names

BASE_URL = "https://api.hubapi.com"


class HubSpotTargetSettings(HttpSection):
    """`[targets.NAME]` with `type = "hubspot"`: custom company properties in a HubSpot portal.

    The private-app token is a secret: `encours secrets set NAME token`, or the environment
    variable ENCOURS_<NAME>_TOKEN. Which company is which customer: the `mapping` file first,
    then SIREN, VAT number, domain and name (see `sync/identity.py`).
    """

    type: Literal["hubspot"]
    base_url: str = base_url_field(BASE_URL)
    mapping: Path = Path("mapping.csv")
    property_prefix: str = Field(default="encours_", pattern=r"^[a-z][a-z0-9_]*$")
    group: str = "encours"
    group_label: str = "Encours & risque"
    siren_property: str = "siren"
    siret_property: str = "siret"
    vat_property: str = "vat_number"


def field_names(
    settings: HubSpotTargetSettings, keys: Iterable[str], named: Mapping[str, str]
) -> dict[str, str]:
    """`[push.field_names]` first, else the prefix (`encours_outstanding`).

    A property's internal name shares one namespace with the portal's own properties.
    """
    return prefixed_field_names(settings.property_prefix, keys, named)


def make_target(context: Context) -> Target:
    """The HubSpot writer, with the target's token and the properties to create."""
    from encours.connectors.hubspot import HubSpotTarget

    settings: HubSpotTargetSettings = context.settings
    return HubSpotTarget(
        context.secret("token"),
        properties=context.labels(),
        group=settings.group,
        group_label=settings.group_label,
        siren_property=settings.siren_property,
        siret_property=settings.siret_property,
        vat_property=settings.vat_property,
        secret_name=context.name,
        base_url=settings.base_url,
        limits=context.http_limits(),
    )


def prepare(target: Any) -> str:
    """Create the property group and properties: "8 propert(ies) created, 0 reused"."""
    report = target.ensure_properties()
    return f"{len(report.created)} propert(ies) created, {len(report.reused)} reused" + (
        ", group created" if report.group_created else ""
    )


TARGET = TargetSpec(
    settings=HubSpotTargetSettings,
    make=make_target,
    label="HubSpot",
    questions=(
        Question("token", "HubSpot private app token (crm.objects.companies scopes)",
                 secret=True),
    ),
    lines=('mapping = "mapping.csv"  # customer,record lines to settle unmatched customers',),
    field_names=field_names,
    prepare=prepare,
)  # fmt: skip
