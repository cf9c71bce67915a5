"""`[penalties]` and `[dunning]` of the configuration file: late-payment rates, the plan, SMTP.

Kept beside `config.py` (which names them in `Settings`) so that each part of the file has
a module of a readable size. Rates are percent per year, written as numbers or as text
(`3.15` or `"3.15"`); a number is read as the decimal text it was written with.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from encours.metrics.dunning import DEFAULT_STEPS, DunningStep
from encours.metrics.penalties import RECOVERY_INDEMNITY_EUR, HalfYearRates, RateTable

_HALF_YEAR = re.compile(r"^(?P<year>\d{4})-H(?P<half>[12])$")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _exact(value: object) -> object:
    """A TOML float as the decimal text it was written with (3.15, not 3.149999...)."""
    return str(value) if isinstance(value, float) else value


class HalfYearRateSettings(_Section):
    """One half-year: the ECB rate in force on its first day and the legal interest rate."""

    ecb: Decimal = Field(ge=-10, le=50)
    legal: Decimal = Field(ge=0, le=50)

    _decimal_text = field_validator("ecb", "legal", mode="before")(_exact)


class PenaltySettings(_Section):
    """`[penalties]`: late-payment penalties (L441-10) and the recovery indemnity (D441-5).

    `rates`: per half-year ("2026-H1"), the ECB main refinancing rate in force on 1 January
    or 1 July and the legal interest rate for professionals, in percent. `business`: whether
    customers are businesses by default; `customers` says otherwise per customer key
    (`books:C0005 = false` for a consumer, who owes neither penalties nor indemnity).
    `indemnity`: the fixed recovery indemnity per late invoice, in the company currency.
    """

    business: bool = True
    customers: dict[str, bool] = Field(default_factory=dict)
    indemnity: Decimal = Field(default=RECOVERY_INDEMNITY_EUR, ge=0)
    rates: dict[str, HalfYearRateSettings] = Field(default_factory=dict)

    _decimal_text = field_validator("indemnity", mode="before")(_exact)

    @field_validator("rates")
    @classmethod
    def _half_years(cls, value: dict[str, HalfYearRateSettings]) -> dict[str, HalfYearRateSettings]:
        for key in value:
            if not _HALF_YEAR.match(key):
                raise ValueError(f'{key!r} is not a half-year: write e.g. "2026-H1" or "2026-H2"')
        return value

    def is_business(self, customer_key: str) -> bool:
        """Whether `customer_key` (`source:id`) is a business, by its own line or the default."""
        return self.customers.get(customer_key, self.business)

    def rate_table(self) -> RateTable | None:
        """The rates as a table, oldest half-year first; None when none are configured."""
        if not self.rates:
            return None
        half_years = []
        for key, rates in self.rates.items():
            match = _HALF_YEAR.match(key)
            assert match  # noqa: S101 - checked by the validator
            starts_on = date(int(match["year"]), 1 if match["half"] == "1" else 7, 1)
            half_years.append(HalfYearRates(starts_on, ecb=rates.ecb, legal=rates.legal))
        return RateTable(tuple(sorted(half_years, key=lambda rates: rates.starts_on)))


class StepSettings(_Section):
    """One step of the plan: its name, days from the due date, channel and template."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    days: int = Field(ge=-90, le=365)
    channel: Literal["email", "letter"] = "email"
    template: str | None = None

    def step(self) -> DunningStep:
        """As the plan's own record."""
        return DunningStep(self.name, self.days, self.channel, self.template or f"{self.name}.txt")


class SmtpSettings(_Section):
    """`[dunning.smtp]`: the mail server reminders are sent through (opt-in).

    The password is a secret: `encours secrets set smtp password`, or ENCOURS_SMTP_PASSWORD.
    `security`: "starttls" (port 587), "ssl" (port 465), or "none" (a relay on this machine:
    refused with a `user` on another host, the password would cross the network in clear).
    """

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    reply_to: str | None = None
    timeout_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> SmtpSettings:
        if self.security == "none" and self.user and self.host not in LOCAL_HOSTS:
            raise ValueError(
                'security = "none" with a user would send the password in clear to '
                f'{self.host}: use "starttls" or "ssl"'
            )
        return self


class DunningSettings(_Section):
    """`[dunning]`: the reminder plan, who receives reminders, and how they are sent.

    `steps`: the plan, relative to each due line's due date (negative: before it).
    `contacts`: per customer key, the e-mail address(es) reminders go to (comma-separated).
    `templates_dir`: a folder of templates that replace the built-in ones of the same name.
    `letters_dir`: where the letters (channel "letter", e.g. the formal notice) are written.
    """

    steps: tuple[StepSettings, ...] = tuple(
        StepSettings(name=s.name, days=s.days, channel=s.channel, template=s.template)
        for s in DEFAULT_STEPS
    )
    contacts: dict[str, str] = Field(default_factory=dict)
    templates_dir: Path | None = None
    letters_dir: Path = Path("letters")
    smtp: SmtpSettings | None = None

    @field_validator("steps")
    @classmethod
    def _ordered(cls, value: tuple[StepSettings, ...]) -> tuple[StepSettings, ...]:
        days = [step.days for step in value]
        names = [step.name for step in value]
        if not value or days != sorted(set(days)) or len(set(names)) != len(names):
            raise ValueError("steps need distinct names and strictly increasing days")
        return value

    def plan(self) -> tuple[DunningStep, ...]:
        """The steps as the plan's records, in order."""
        return tuple(step.step() for step in self.steps)

    def recipients(self, customer_key: str) -> tuple[str, ...]:
        """The addresses of `customer_key`, or () when none is configured."""
        text = self.contacts.get(customer_key, "")
        return tuple(address.strip() for address in text.split(",") if address.strip())

    def resolved(self, base: Path) -> DunningSettings:
        """The folders made absolute against `base` (the configuration file's folder)."""

        def absolute(path: Path) -> Path:
            return path.expanduser() if path.expanduser().is_absolute() else base / path

        return self.model_copy(
            update={
                "letters_dir": absolute(self.letters_dir),
                "templates_dir": absolute(self.templates_dir) if self.templates_dir else None,
            }
        )
