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
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from encours.connectors import registry
from encours.connectors.settings import Section
from encours.errors import ConfigError
from encours.model import CURRENCY_EXPONENTS
from encours.sync.dunning_config import DunningSettings, PenaltySettings

SECRET_KEY_PATTERN = re.compile(r"(token|password|passwd|secret|api_?key|private_?key)", re.I)
DEFAULT_AGING_EDGES = (30, 60, 90)


class CompanySettings(Section):
    """`[company]`: whose receivables these are."""

    name: str | None = None
    currency: str = "EUR"
    as_of: Literal["today", "yesterday", "last-month-end"] = "today"
    #: The language of `status`, `report` and the exports; unset: the environment's (LANG).
    language: Literal["en", "fr"] | None = None

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENTS:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR)")
        return value


class StoreSettings(Section):
    """`[store]`: where the store lives: a DuckDB file (`path`) or a PostgreSQL database (`url`).

    One of the two. With `url` (`postgresql://user@host/database`), the folder of the
    configuration file keeps only what a run spools and its last summary. The password is
    never in the URL: the keyring (`store.password`, see `encours init`), the environment
    (ENCOURS_STORE_PASSWORD or PGPASSWORD) or a libpq service file give it.

    `schema` (with `url`): the PostgreSQL schema of this company's store, created on first
    use, so that a firm's companies share one database: `schema = "acme"` makes the url
    `...?options=-csearch_path%3Dacme` (libpq's own way to say it).
    """

    path: Path = Path("encours.duckdb")
    url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _schema_in_url(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "schema" not in data:
            return data
        values = dict(data)
        schema = values.pop("schema")
        if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
            raise ValueError(
                "[store] schema must be a lower-case PostgreSQL name (letters, digits, _; "
                '63 at most, not starting with a digit), e.g. schema = "acme"'
            )
        url = values.get("url")
        if not isinstance(url, str):
            raise ValueError("[store] schema goes with url (PostgreSQL): add url, or remove it")
        if "search_path" in url:
            raise ValueError("[store] url already sets search_path: remove schema, or that")
        values["url"] = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        return values

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("url must be a PostgreSQL URL: postgresql://user@host/database")
        if re.match(r"^[a-z]+://[^/@]*:[^/@]*@", value) or re.search(r"[?&]password=", value):
            raise ValueError(
                "the password never goes in the configuration file: remove it from the url "
                "and store it with `encours init` (keyring), or set ENCOURS_STORE_PASSWORD or "
                "PGPASSWORD in the environment, or use a libpq service file"
            )
        return value

    @model_validator(mode="after")
    def _one_of_two(self) -> StoreSettings:
        if self.url is not None and "path" in self.model_fields_set:
            raise ValueError(
                "[store] takes path (a DuckDB file) or url (PostgreSQL), not both: remove one"
            )
        return self


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


def _settings_of(role: str) -> Any:
    """The models of every registered source (or target), told apart by their `type`."""
    specs = [
        registry.source_spec(t) if role == "source" else registry.target_spec(t)
        for t in (registry.source_types() if role == "source" else registry.target_types())
    ]
    return Annotated[Union[tuple(spec.settings for spec in specs)], Field(discriminator="type")]  # noqa: UP007


SourceSettings = _settings_of("source")
TargetSettings = _settings_of("target")


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


class CreditSettings(Section):
    """`[credit]`: credit limits (plafonds d'encours) the sources do not give.

    `limits` maps a customer id (or `source:id` where two sources share ids) to its limit in
    the company currency, as text: `limits = { C0042 = "15000.00" }`. A limit the source
    gives (Tryton's) wins over this one.
    """

    limits: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("limits")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for customer, limit in value.items():
            if not limit.is_finite() or limit < 0:
                raise ValueError(f"the credit limit of {customer} must be an amount >= 0")
        return value


Steps = tuple[Decimal, Decimal, Decimal]


class RiskSettings(Section):
    """`[risk]`: where each measure of the risk grade reaches B, C and D (`metrics/risk.py`)."""

    payment_delay_days: Steps = (Decimal(10), Decimal(30), Decimal(60))
    late_beyond_60_share: Steps = (Decimal("0.10"), Decimal("0.25"), Decimal("0.50"))
    dso_rise_days: Steps = (Decimal(10), Decimal(20), Decimal(40))
    limit_usage: Steps = (Decimal("0.80"), Decimal("1.00"), Decimal("1.20"))

    @field_validator("payment_delay_days", "late_beyond_60_share", "dso_rise_days", "limit_usage")
    @classmethod
    def _ascending(cls, value: Steps) -> Steps:
        if list(value) != sorted(value):
            raise ValueError("give three ascending values: where grades B, C and D start")
        return value


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
    credit: CreditSettings = CreditSettings()
    risk: RiskSettings = RiskSettings()
    penalties: PenaltySettings = PenaltySettings()
    dunning: DunningSettings = DunningSettings()

    @model_validator(mode="after")
    def _limits_in_cents(self) -> Settings:
        """A credit limit has no more decimals than the company currency (no cent lost)."""
        exponent = CURRENCY_EXPONENTS[self.company.currency]
        for customer, limit in self.credit.limits.items():
            if limit != round(limit, exponent):
                raise ValueError(
                    f"credit.limits: the limit of {customer} ({limit}) has more decimals than "
                    f"{self.company.currency} allows ({exponent})"
                )
        return self


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


def read_toml(path: Path, what: str, to_write_one: str) -> tuple[str, dict[str, Any]]:
    """The text of a TOML file of settings and what it holds, refusing secrets in it.

    `what` names the file in messages ("configuration file"), `to_write_one` says what to
    do when there is none.

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or holds a secret.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no {what} at {path}: {to_write_one}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    refuse_secrets(data, where=str(path))
    return text, data


def load_settings(path: Path) -> Settings:
    """Read and validate the configuration file; relative paths resolve against its folder.

    Raises:
        ConfigError: the file is missing, is not TOML, holds a secret, or a setting is wrong;
            the message names the setting and what to write instead.
    """
    text, data = read_toml(
        path,
        "configuration file",
        "run `encours init` to write one, or pass --config / set ENCOURS_CONFIG",
    )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}, " + describe_validation_error(exc, text)) from None
    return resolve_paths(settings, path.resolve().parent)


#: Tables whose keys are data (customer codes), not setting names.
DATA_TABLES = frozenset({"payment_terms", "customers", "contacts"})


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


def describe_validation_error(exc: ValidationError, text: str | None = None) -> str:
    """One sentence per problem, with its line in `text` and the key likely meant.

    `line 12: [sources.books] default_paymnet_terms: unknown setting; did you mean
    default_payment_terms_days?` (see `config_errors.py`).
    """
    from encours.sync.config_errors import describe

    return describe(exc, Settings, text)


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
            "dunning": settings.dunning.resolved(base),
        }
    )
