"""The configuration file (TOML) turned into validated settings.

Relative paths resolve against the folder of the configuration file. Secrets never live here:
a key that looks like one (token, password, secret, api key) is refused with a message saying
where secrets go instead (`encours init`, keyring, or an environment variable).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from encours.errors import ConfigError
from encours.model import CURRENCY_EXPONENTS, PaymentTerms, TermLine

PENNYLANE_URL = "https://app.pennylane.com/api/external/v2"
HUBSPOT_URL = "https://api.hubapi.com"
SECRET_KEY_PATTERN = re.compile(r"(token|password|passwd|secret|api_?key|private_?key)", re.I)
DEFAULT_AGING_EDGES = (30, 60, 90)


class Section(BaseModel):
    """A section of the file: unknown keys are refused, so a typo is caught, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CompanySettings(Section):
    """`[company]`: whose receivables these are."""

    name: str | None = None
    currency: str = "EUR"
    as_of: Literal["today", "yesterday", "last-month-end"] = "today"

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENTS:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR)")
        return value


class StoreSettings(Section):
    """`[store]`: where the store's DuckDB file lives."""

    path: Path = Path("encours.duckdb")


class LimitsSettings(Section):
    """`[limits]`: the bounds that keep a broken or hostile input from doing harm.

    `max_deletion_share`: a full read of a source that would delete more than this share of
    its records is refused (exit 65) until `sync --accept-deletions`: an export cut short or
    empty reads as "everything was deleted".
    """

    max_deletion_share: float = Field(default=0.2, ge=0, le=1)
    #: One HTTP request, from sending to its last byte, and all of one source's or target's
    #: requests in one run (exit 75 past them: the next run goes on).
    http_request_seconds: float = Field(default=300, gt=0)
    http_total_seconds: float = Field(default=7200, gt=0)
    #: One response body, and the pages of one stream (exit 65 past them: a broken server).
    http_max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    http_max_pages: int = Field(default=20_000, ge=1)
    #: A FEC line, field or entry larger than these is a broken file (exit 65, naming where).
    fec_max_line_bytes: int = Field(default=64 * 1024, ge=1024)
    fec_max_field_bytes: int = Field(default=4 * 1024, ge=64)
    fec_max_entry_lines: int = Field(default=50_000, ge=100)


class ReconcileSettings(Section):
    """`[reconcile]`: how far reconciliation may guess."""

    oldest_first: bool = True


class FecSourceSettings(Section):
    """`[sources.NAME]` with `type = "fec"`: a FEC export file."""

    type: Literal["fec"]
    path: Path
    encoding: Literal["auto", "utf-8", "utf-8-sig", "iso-8859-15", "cp1252"] = "auto"
    default_payment_terms_days: int = Field(default=30, ge=0, le=365)
    default_end_of_month: bool = False
    payment_terms: dict[str, int | str] = Field(default_factory=dict)

    def terms_for(self) -> tuple[PaymentTerms, dict[str, PaymentTerms]]:
        """The default terms and the per-customer terms, parsed."""
        default = PaymentTerms.net(
            self.default_payment_terms_days, end_of_month=self.default_end_of_month
        )
        per_customer = {code: parse_terms(value) for code, value in self.payment_terms.items()}
        return default, per_customer

    @field_validator("payment_terms")
    @classmethod
    def _terms_parse(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        for code, terms in value.items():
            try:
                parse_terms(terms)
            except ValueError as exc:
                raise ValueError(f"payment terms of customer {code!r}: {exc}") from None
        return value


class FileTargetSettings(Section):
    """`[targets.NAME]` with `type = "file"`: indicators per customer to a JSON or CSV file."""

    type: Literal["file"]
    path: Path
    format: Literal["json", "csv"] | None = None

    @property
    def resolved_format(self) -> Literal["json", "csv"]:
        """The format given, else the one the file name says (`.csv` or JSON)."""
        return self.format or ("csv" if self.path.suffix.lower() == ".csv" else "json")


class HttpSection(Section):
    """What every section that talks HTTP shares.

    `allow_insecure_http`: plain `http://` to a host that is not this machine. Off: a token
    or password would cross the network in clear. For a lab only; `check` says so loudly.
    """

    allow_insecure_http: bool = False


class PennylaneSourceSettings(HttpSection):
    """`[sources.NAME]` with `type = "pennylane"`: one company of Pennylane (API v2).

    The API token is a secret: `encours secrets set NAME token`, or the environment variable
    ENCOURS_<NAME>_TOKEN. Nothing else to set: the changelog position is kept in the store.
    `base_url` is for a proxy or a test server only.
    """

    type: Literal["pennylane"]
    base_url: str = Field(default=PENNYLANE_URL, pattern=r"^https?://[^\s/]+")


class HubSpotTargetSettings(HttpSection):
    """`[targets.NAME]` with `type = "hubspot"`: custom company properties in a HubSpot portal.

    The private-app token is a secret: `encours secrets set NAME token`, or the environment
    variable ENCOURS_<NAME>_TOKEN. Which company is which customer: the `mapping` file first,
    then SIREN, VAT number, domain and name (see `sync/identity.py`).
    """

    type: Literal["hubspot"]
    base_url: str = Field(default=HUBSPOT_URL, pattern=r"^https?://[^\s/]+")
    mapping: Path = Path("mapping.csv")
    property_prefix: str = Field(default="encours_", pattern=r"^[a-z][a-z0-9_]*$")
    group: str = "encours"
    group_label: str = "Encours & risque"
    siren_property: str = "siren"
    siret_property: str = "siret"
    vat_property: str = "vat_number"


class TrytonSettings(HttpSection):
    """Where a Tryton database is: server address, database name and the user encours uses.

    The user's password is a secret: `encours secrets set NAME password`, or the environment
    variable ENCOURS_<NAME>_PASSWORD.
    """

    url: str = Field(pattern=r"^https?://[^\s/]+")
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


SourceSettings = Annotated[
    FecSourceSettings | PennylaneSourceSettings | TrytonSourceSettings,
    Field(discriminator="type"),
]
TargetSettings = Annotated[
    FileTargetSettings | HubSpotTargetSettings | TrytonTargetSettings,
    Field(discriminator="type"),
]


class MetricsSettings(Section):
    """`[metrics]`: ageing buckets and the DSO method."""

    aging_edges: tuple[int, ...] = DEFAULT_AGING_EDGES
    dso_method: Literal["count-back", "accounting"] = "count-back"
    dso_order: Literal["recent-first", "oldest-first"] = "recent-first"
    dso_months: int = Field(default=24, ge=1, le=120)
    dso_empty_month: Literal["count", "stop"] = "count"
    accounting_period: Literal["month", "quarter", "half-year", "year"] = "quarter"
    day_count: Literal["calendar", "360"] = "calendar"

    @field_validator("aging_edges")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(b <= a for a, b in zip(value, value[1:], strict=False)) or value[0] < 1:
            raise ValueError("aging_edges must be increasing whole days, e.g. [30, 60, 90]")
        return value


DEFAULT_INDICATORS = (
    "outstanding",
    "overdue",
    "not_due",
    "unbilled",
    "unapplied",
    "oldest_overdue_days",
    "dso",
    "as_of",
)


class PushSettings(Section):
    """`[push]`: which indicators are written, under which field names and labels."""

    indicators: tuple[str, ...] = DEFAULT_INDICATORS
    field_names: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class Settings(Section):
    """The whole configuration file."""

    company: CompanySettings = CompanySettings()
    store: StoreSettings = StoreSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    targets: dict[str, TargetSettings] = Field(default_factory=dict)
    metrics: MetricsSettings = MetricsSettings()
    push: PushSettings = PushSettings()
    limits: LimitsSettings = LimitsSettings()


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


def default_as_of(rule: str, today: date) -> date:
    """The as-of date when none is given: today, yesterday, or the last day of last month.

    A nightly run at 02:30 usually wants "yesterday": the day that just ended.

    >>> default_as_of("last-month-end", date(2026, 3, 15))
    datetime.date(2026, 2, 28)
    """
    if rule == "yesterday":
        return date.fromordinal(today.toordinal() - 1)
    if rule == "last-month-end":
        return date.fromordinal(today.replace(day=1).toordinal() - 1)
    return today


def load_settings(path: Path) -> Settings:
    """Read and validate the configuration file; relative paths resolve against its folder.

    Raises:
        ConfigError: the file is missing, is not TOML, holds a secret, or a setting is wrong;
            the message names the setting and what to write instead.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no configuration file at {path}: run `encours init` to write one, "
            "or pass --config / set ENCOURS_CONFIG"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    refuse_secrets(data, where=str(path))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + describe_validation_error(exc)) from None
    return resolve_paths(settings, path.resolve().parent)


#: Tables whose keys are data (customer codes), not setting names.
DATA_TABLES = frozenset({"payment_terms"})


def refuse_secrets(data: Mapping[str, Any], *, where: str, prefix: str = "") -> None:
    """Raise ConfigError if a key looks like a secret; the message never repeats its value."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key in DATA_TABLES:
            continue
        if isinstance(value, Mapping):
            refuse_secrets(value, where=where, prefix=dotted + ".")
        elif SECRET_KEY_PATTERN.search(key):
            raise ConfigError(
                f"{where}: `{dotted}` looks like a secret, and secrets never go in the "
                "configuration file. Remove it, then store it with `encours init` (keyring) "
                "or set it in the environment (see README, Secrets)."
            )


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `sources.books.path: Field required`."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(
            str(part) for part in error["loc"] if not str(part).startswith("function")
        )
        lines.append(f"{location}: {error['msg']}")
    return "; ".join(lines)


def resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make every relative path in the settings absolute against `base`."""

    def absolute(section: Section) -> Section:
        paths = {
            name: value.expanduser() if value.expanduser().is_absolute() else base / value
            for name, value in section
            if isinstance(value, Path)
        }
        return section.model_copy(update=paths)

    return settings.model_copy(
        update={
            "store": absolute(settings.store),
            "sources": {name: absolute(source) for name, source in settings.sources.items()},
            "targets": {name: absolute(target) for name, target in settings.targets.items()},
        }
    )
