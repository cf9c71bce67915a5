"""The Stripe source: one Stripe account, API version 2023-08-16 (`connectors/stripe.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from encours.connectors.registry import Context, Question, SourceSpec
from encours.connectors.settings import HttpSection, base_url_field

if TYPE_CHECKING:
    from encours.connectors.stripe import StripeSource

BASE_URL = "https://api.stripe.com"


class StripeSourceSettings(HttpSection):
    """`[sources.NAME]` with `type = "stripe"`: one Stripe account.

    The secret key (or a restricted key reading customers, invoices, credit notes and
    events) is a secret: `encours secrets set NAME api_key`, or ENCOURS_<NAME>_API_KEY.
    """

    type: Literal["stripe"]
    base_url: str = base_url_field(BASE_URL)


def make_source(context: Context) -> StripeSource:
    """The Stripe reader, with the source's key."""
    from encours.connectors.stripe import StripeSource, make_client

    client = make_client(context.secret("api_key"), base_url=context.settings.base_url,
                         limits=context.http_limits())  # fmt: skip
    return StripeSource(context.name, client, currency=context.currency)


SOURCE = SourceSpec(
    settings=StripeSourceSettings,
    make=make_source,
    label="Stripe",
    questions=(Question("api_key", "Stripe secret key, or a restricted key reading customers, "
                        "invoices, credit notes and events (sk_... or rk_...)", secret=True),),
    default_name="stripe",
)  # fmt: skip
