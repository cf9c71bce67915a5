"""The FEC source: a French ledger export file (`connectors/fec.py` reads it)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from encours.connectors.base import Source
from encours.connectors.registry import Context, Question, SourceSpec
from encours.connectors.settings import Section, parse_terms
from encours.model import PaymentTerms


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


def make_source(context: Context) -> Source:
    """The FEC reader, with the terms and the bounds of `[limits]`."""
    from encours.connectors.fec import FecBounds, FecConnector

    settings: FecSourceSettings = context.settings
    limits = context.everything.limits
    default_terms, terms = settings.terms_for()
    return FecConnector(
        context.name,
        settings.path,
        currency=context.currency,
        default_terms=default_terms,
        terms=terms,
        encoding=settings.encoding,
        bounds=FecBounds(
            line_bytes=limits.fec_max_line_bytes,
            field_bytes=limits.fec_max_field_bytes,
            entry_lines=limits.fec_max_entry_lines,
        ),
    )


def _days(answer: str) -> int:
    days = int(answer)
    if not 0 <= days <= 365:
        raise ValueError("payment terms are 0 to 365 days")
    return days


SOURCE = SourceSpec(
    settings=FecSourceSettings,
    make=make_source,
    label="a FEC export file",
    questions=(
        Question("path", "Path of the FEC file", option="--fec", metavar="PATH",
                 help="Path of the FEC export to read.", example="books.fec"),
        Question("default_payment_terms_days", "Default payment terms (days)", default=30,
                 option="--payment-terms-days", metavar="DAYS", convert=_days,
                 help="Terms used when a customer has none in the config."),
    ),
)  # fmt: skip
