"""HubSpot CRM (REST v3) as a push target: the indicators as custom company properties.

Three calls make the whole target:

- `ensure_properties()` (run by `encours init`) creates a property group and one company
  property per indicator, reusing those that already exist;
- `companies()` reads every company with its identification properties, for
  `sync.identity.match_customers`;
- `push(changes)` writes values with `POST /crm/v3/objects/companies/batch/update`,
  100 companies per call (HubSpot's maximum, VENDORS.md §5, checked 2026-11).

Every indicator property is `type=string`, `fieldType=text`: encours hands targets strings
(`sync.report`: "1234.50", "53.50", "dso_median", ISO dates, and "" for a figure that cannot
be computed). A `number` property would refuse the text indicators (`dso_method`, `aging`)
and could not be cleared with "", and one type for every indicator keeps `init` simple. The
cost: HubSpot sorts and filters these as text, not as numbers.

SIREN, SIRET and VAT number are not HubSpot built-in properties: French portals usually add
them as custom company properties, under names each portal chooses. Their internal names are
constructor arguments (defaults `siren`, `siret`, `vat_number`); a property the portal does
not have simply comes back empty, and matching falls back to the domain and the name.

Rate limits (VENDORS.md §5, checked 2026-11): private apps on Free/Starter get 100 requests
per 10 s and 250 000 per day (Professional/Enterprise 190 per 10 s). The client paces itself
at `MAX_CALLS` per `PER_SECONDS`, a margin under the lowest tier for network jitter, and also
stops when an `X-HubSpot-RateLimit-*-Remaining` header reaches 0. A push of 5 000 companies
is 50 calls, far from the daily quota.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from encours.connectors.declarations.hubspot import BASE_URL  # the setting's default
from encours.connectors.http import BearerAuth, CursorPaginator, HttpClient, HttpLimits, Pacer
from encours.errors import ApiError, AuthError, ConfigError
from encours.model import Party

PAGE_SIZE = 100  # the most GET /crm/v3/objects/companies returns per page
BATCH_SIZE = 100  # the most inputs batch/update takes
MAX_CALLS = 90  # per PER_SECONDS: under the lowest published limit (100 / 10 s)
PER_SECONDS = 10.0

COMPANIES = "/crm/v3/objects/companies"
BATCH_UPDATE = "/crm/v3/objects/companies/batch/update"
PROPERTIES = "/crm/v3/properties/companies"
GROUPS = "/crm/v3/properties/companies/groups"

PROPERTY_TYPE = "string"
FIELD_TYPE = "text"
REUSABLE_FIELD_TYPES = frozenset({"text", "textarea"})  # a string property shown as text

# HubSpot internal names: lower-case letters, digits and underscores, starting with a letter.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
_SHOWN_IDS = 20  # failed ids listed in an error message; the rest are counted

__all__ = ["BASE_URL", "HubSpotTarget", "PropertiesReport"]


# ---------------------------------------------------------------------------------------------
# Wire models: HubSpot names, unknown fields ignored


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class _Company(_Wire):
    id: str
    properties: dict[str, str | None] = Field(default_factory=dict)


class _Property(_Wire):
    name: str
    type: str
    field_type: str = Field(alias="fieldType")
    hubspot_defined: bool = Field(False, alias="hubspotDefined")


class _Group(_Wire):
    name: str


class _BatchError(_Wire):
    category: str = ""
    context: dict[str, list[str]] = Field(default_factory=dict)


class _BatchResult(_Wire):
    results: list[_Company] = Field(default_factory=list)
    errors: list[_BatchError] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertiesReport:
    """What `ensure_properties` did: the group created or not, property names by outcome."""

    group_created: bool
    created: tuple[str, ...]
    reused: tuple[str, ...]


def to_party(raw: _Company, *, name: str, domain: str, siren: str, siret: str, vat: str) -> Party:
    """A HubSpot company as an identity `Party` keyed by its HubSpot id (pure)."""
    props = raw.properties

    def value(prop: str) -> str | None:
        text = (props.get(prop) or "").strip()
        return text or None

    return Party(
        key=raw.id,
        name=value(name) or "",
        siren=value(siren),
        siret=value(siret),
        vat_number=value(vat),
        email_domain=value(domain),
    )


class HubSpotTarget:
    """HubSpot companies as a target: one custom property per indicator, batch updates."""

    name = "hubspot"
    batch_size = BATCH_SIZE

    def __init__(
        self,
        token: str,
        *,
        properties: Mapping[str, str],
        group: str = "encours",
        group_label: str = "Encours & risque",
        name_property: str = "name",
        domain_property: str = "domain",
        siren_property: str = "siren",
        siret_property: str = "siret",
        vat_property: str = "vat_number",
        secret_name: str = "hubspot",  # noqa: S107 - the secret's name, not its value
        http: HttpClient | None = None,
        base_url: str = BASE_URL,
        limits: HttpLimits | None = None,
    ) -> None:
        """Create the target.

        Args:
            token: the private app's access token (scopes `crm.objects.companies.read`,
                `crm.objects.companies.write`, `crm.schemas.companies.read`,
                `crm.schemas.companies.write`). Unused when `http` is given.
            properties: internal property name -> label, for every indicator pushed.
            group: internal name of the property group holding them.
            group_label: the group's label in HubSpot.
            name_property: the company name property.
            domain_property: the company domain property.
            siren_property: the portal's SIREN property (usually custom).
            siret_property: the portal's SIRET property (usually custom).
            vat_property: the portal's VAT number property (usually custom).
            secret_name: the secret's name, for the `encours secrets set` advice.
            http: a ready client (tests pass one with a fake clock); else one is built.
            base_url: the API's root (another only for a proxy or a test server).
            limits: the transport's bounds (`[limits]`).

        Raises:
            ConfigError: a property or group name HubSpot would refuse.
        """
        for prop in (*properties, group):
            if not _NAME.fullmatch(prop):
                raise ConfigError(
                    f"'{prop}' is not a valid HubSpot internal name: use lower-case letters, "
                    "digits and underscores, starting with a letter (e.g. encours_outstanding)"
                )
        self.properties = dict(properties)
        self.group = group
        self.group_label = group_label
        self._identity = {
            "name": name_property,
            "domain": domain_property,
            "siren": siren_property,
            "siret": siret_property,
            "vat": vat_property,
        }
        self._secret_name = secret_name
        self._http = http or HttpClient(
            base_url, auth=BearerAuth(token), pacer=Pacer(MAX_CALLS, PER_SECONDS), limits=limits
        )

    def __repr__(self) -> str:
        return f"HubSpotTarget(group={self.group!r}, properties={sorted(self.properties)})"

    @contextmanager
    def _auth_advice(self) -> Iterator[None]:
        """Turn a refused token into advice that names HubSpot's private app."""
        try:
            yield
        except AuthError as exc:
            raise AuthError(
                f"HubSpot refused the token: {exc} Renew the private app token (HubSpot: "
                "Settings > Integrations > Private apps; scopes crm.objects.companies.read/"
                "write and crm.schemas.companies.read/write) and run "
                f"`encours secrets set {self._secret_name} token`."
            ) from None

    def check(self) -> None:
        """Read one company: proves the token is valid and may read companies.

        Raises:
            AuthError: 401/403, with what to renew.
        """
        with self._auth_advice():
            self._http.get(COMPANIES, params={"limit": 1})

    def ensure_properties(self) -> PropertiesReport:
        """Create the property group and the indicator properties that do not exist yet.

        Idempotent: what exists is read first and reused, so a second run sends no POST.
        Nothing is created when one property is unusable. A create is not retried (POST);
        when one fails half way, running it again creates only what is missing.

        Raises:
            ConfigError: a property exists with another type, or is a HubSpot built-in one.
            AuthError: the token lacks the `crm.schemas.companies.*` scopes.
        """
        with self._auth_advice():
            existing = {
                p.name: p
                for p in map(_Property.model_validate, self._results(self._http.get(PROPERTIES)))
            }
            problems = [
                self._unusable(existing[name]) for name in self.properties if name in existing
            ]
            problems = [p for p in problems if p]
            if problems:
                raise ConfigError(
                    "HubSpot company properties that encours cannot write: "
                    + "; ".join(problems)
                    + ". Delete or rename them in HubSpot (Settings > Properties), or give "
                    "these indicators other property names in the configuration."
                )
            groups = {_Group.model_validate(g).name for g in self._results(self._http.get(GROUPS))}
            group_created = self.group not in groups
            if group_created:
                self._http.post(GROUPS, json={"name": self.group, "label": self.group_label})
            created: list[str] = []
            for name, label in self.properties.items():
                if name in existing:
                    continue
                self._http.post(
                    PROPERTIES,
                    json={
                        "name": name,
                        "label": label,
                        "type": PROPERTY_TYPE,
                        "fieldType": FIELD_TYPE,
                        "groupName": self.group,
                        "description": "Written by encours; do not edit by hand.",
                    },
                )
                created.append(name)
        reused = tuple(name for name in self.properties if name in existing)
        return PropertiesReport(group_created, tuple(created), reused)

    @staticmethod
    def _unusable(prop: _Property) -> str | None:
        if prop.hubspot_defined:
            return f"'{prop.name}' is a HubSpot built-in property"
        if prop.type != PROPERTY_TYPE or prop.field_type not in REUSABLE_FIELD_TYPES:
            return (
                f"'{prop.name}' exists with type {prop.type}/{prop.field_type}, "
                f"encours writes {PROPERTY_TYPE}/{FIELD_TYPE}"
            )
        return None

    @staticmethod
    def _results(payload: object) -> list[object]:
        results = payload.get("results") if isinstance(payload, Mapping) else None
        if not isinstance(results, list):
            raise ApiError("HubSpot answered without a 'results' list; the API may have changed")
        return results

    def companies(self) -> Iterator[Party]:
        """Every (non-archived) company, keyed by its HubSpot id, page by page."""
        ids = self._identity
        params = {
            "limit": PAGE_SIZE,
            "properties": ",".join(dict.fromkeys(ids.values())),
        }
        pages = CursorPaginator("after", "paging.next.after")
        with self._auth_advice():
            for item in self._http.paginate(
                COMPANIES, params=params, paginator=pages, items="results"
            ):
                yield to_party(
                    _Company.model_validate(item),
                    name=ids["name"],
                    domain=ids["domain"],
                    siren=ids["siren"],
                    siret=ids["siret"],
                    vat=ids["vat"],
                )

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Write changed values: HubSpot company id -> property -> value.

        Sends batches of at most 100 companies. Batch update sets fixed values, so sending one
        twice is harmless and it is retried on 429/5xx. A value of None is sent as "", which
        clears the property. Every batch is sent even when one partly fails.

        Raises:
            ApiError: HubSpot refused some companies (e.g. deleted or merged), with their ids.
            AuthError: the token lacks `crm.objects.companies.write`.
        """
        inputs = [
            {
                "id": str(company),
                "properties": {k: "" if v is None else str(v) for k, v in values.items()},
            }
            for company, values in changes.items()
            if values
        ]
        failed: dict[str, str] = {}
        with self._auth_advice():
            for start in range(0, len(inputs), BATCH_SIZE):
                batch = inputs[start : start + BATCH_SIZE]
                payload = self._http.post(BATCH_UPDATE, json={"inputs": batch}, idempotent=True)
                failed.update(self._failures(batch, payload))
        if failed:
            shown = sorted(failed)[:_SHOWN_IDS]
            more = len(failed) - len(shown)
            reasons = sorted({self._http.redact(reason) for reason in failed.values()})
            raise ApiError(
                f"HubSpot did not update {len(failed)} of {len(inputs)} companies: "
                f"{', '.join(shown)}{f' and {more} more' if more else ''} "
                f"({'; '.join(reasons)}). A company may have been deleted or merged in "
                "HubSpot: fix the mapping file, then run the sync again.",
                status=207,
                url=f"{self._http.base_url}{BATCH_UPDATE}",
            )

    @staticmethod
    def _failures(batch: list[dict[str, object]], payload: object) -> dict[str, str]:
        """Failed id -> reason, from a 207 multi-status (or a 200 that carries errors)."""
        result = _BatchResult.model_validate(payload if isinstance(payload, Mapping) else {})
        if not result.errors:
            return {}
        failed: dict[str, str] = {}
        for error in result.errors:
            reason = error.category or "error"
            for company in error.context.get("ids", []):
                failed[company] = reason
        if not failed:  # errors without ids: every input not in the results failed
            done = {company.id for company in result.results}
            reason = result.errors[0].category or "error"
            failed = {str(i["id"]): reason for i in batch if str(i["id"]) not in done}
        return failed
