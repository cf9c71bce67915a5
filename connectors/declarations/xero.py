"""The Xero source: one organisation (tenant), Accounting API 2.0 (`connectors/xero.py`)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from encours.connectors.registry import Context, Question, SourceSpec
from encours.connectors.settings import HttpSection, base_url_field

if TYPE_CHECKING:
    from encours.connectors.xero import XeroSource

BASE_URL = "https://api.xero.com/api.xro/2.0"
TOKEN_URL = "https://identity.xero.com/connect/token"  # noqa: S105 - an address


class XeroSourceSettings(HttpSection):
    """`[sources.NAME]` with `type = "xero"`: one Xero organisation (tenant).

    The app's client secret and the refresh token are secrets: `encours secrets set NAME
    client_secret` and `refresh_token` (or ENCOURS_<NAME>_CLIENT_SECRET, ..._REFRESH_TOKEN).
    Xero rotates the refresh token at each use: encours saves the new one before using it.
    """

    type: Literal["xero"]
    tenant_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    client_id: str = Field(min_length=1)
    base_url: str = base_url_field(BASE_URL)
    token_url: str = base_url_field(TOKEN_URL)


def make_source(context: Context) -> XeroSource:
    """The Xero reader, with the app's secret and the organisation's refresh token."""
    from encours.connectors.declarative import OAuth2RefreshAuth
    from encours.connectors.xero import XeroSource, make_client

    settings = context.settings
    auth = OAuth2RefreshAuth(settings.token_url, settings.client_id,
                             context.secret("client_secret"), context.secret("refresh_token"),
                             save=partial(context.save_secret, "refresh_token"),
                             on_secret=lambda token: client.add_secret(token))  # fmt: skip
    client = make_client(settings.tenant_id, auth, base_url=settings.base_url,
                         limits=context.http_limits())  # fmt: skip
    return XeroSource(context.name, client, currency=context.currency)


SOURCE = SourceSpec(
    settings=XeroSourceSettings,
    make=make_source,
    label="Xero",
    questions=(
        Question("client_id", "Client id of your Xero app (developer.xero.com > My Apps)",
                 option="--xero-client-id", example="0A1B2C3D4E5F60718293A4B5C6D7E8F9",
                 help="Client id of the Xero app encours connects with."),
        Question("client_secret", "Client secret of that Xero app", secret=True),
        Question("refresh_token", "Refresh token of the app's connection (offline_access, "
                 "reading contacts, invoices, credit notes and payments)", secret=True),
        Question("tenant_id", "Tenant id of the organisation (GET /connections: tenantId)",
                 option="--xero-tenant-id", example="a3c2f1e0-1b2c-4d5e-8f90-123456789abc",
                 help="Xero tenant id of the organisation to read."),
    ),
    default_name="xero",
    complete_matching=True,
)  # fmt: skip
