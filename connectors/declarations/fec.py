"""The FEC source: a French ledger export file (`connectors/fec.py` reads it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

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


def _readable_fec(path: Path) -> None:
    """ValueError unless `path` is a file that starts with a FEC's header."""
    from encours.connectors.fec import check_header
    from encours.errors import EncoursError

    try:
        check_header(path)
    except EncoursError as exc:
        raise ValueError(str(exc)) from None


def default_terms(answer: str) -> dict[str, int | bool]:
    """The default terms as the settings hold them: days, and whether at the end of month.

    >>> default_terms("45 fin de mois")
    {'default_payment_terms_days': 45, 'default_end_of_month': True}
    """
    lines = parse_terms(answer.strip()).lines
    if len(lines) > 1:
        raise ValueError(
            "the default terms are one due date (e.g. 30 or 45 fin de mois); "
            "split terms go to the customers that have them"
        )
    if not 0 <= lines[0].days <= 365:
        raise ValueError("payment terms are 0 to 365 days")
    days, end_of_month = lines[0].days, lines[0].end_of_month
    return {"default_payment_terms_days": days, "default_end_of_month": end_of_month}


def _default_terms_text(settings: Mapping[str, Any]) -> str:
    days = settings.get("default_payment_terms_days", 30)
    return f"{days} fin de mois" if settings.get("default_end_of_month") else str(days)


def customer_terms(answer: str) -> dict[str, dict[str, int | str]]:
    """Per-customer terms, `id=terms` separated by commas, as the `payment_terms` table.

    A comma followed by no `id=` belongs to split terms, so these read as two customers; a
    number of days is kept a number, as one writes it in the file:

    >>> customer_terms("C0001=45 fin de mois, C0002=30% 0, 70% 60, C0003=60")
    {'payment_terms': {'C0001': '45 fin de mois', 'C0002': '30% 0, 70% 60', 'C0003': 60}}
    >>> customer_terms("")
    {'payment_terms': {}}
    """
    terms: dict[str, int | str] = {}
    for part in re.split(r",(?=[^,=]+=)", answer):
        if not part.strip():
            continue
        customer, equals, value = (text.strip() for text in part.partition("="))
        if not (customer and equals):
            raise ValueError(
                f"{part.strip()!r}: write the customer's id, = and its terms, e.g. C0001=60"
            )
        try:
            parse_terms(value)
        except ValueError as exc:
            raise ValueError(f"terms of customer {customer}: {exc}") from None
        terms[customer] = int(value) if value.isdigit() else value
    return {"payment_terms": terms}


def _customer_terms_text(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{code}={terms}" for code, terms in settings.get("payment_terms", {}).items())


SOURCE = SourceSpec(
    settings=FecSourceSettings,
    make=make_source,
    label="a FEC export file",
    questions=(
        Question("path", "Path of the FEC file", option="--fec", metavar="PATH",
                 help="Path of the FEC export to read.", example="books.fec",
                 check_file=_readable_fec),
        Question("default_payment_terms_days",
                 'Default payment terms (days, e.g. 30 or "45 fin de mois")', default=30,
                 option="--payment-terms", metavar="TERMS", convert=default_terms,
                 current=_default_terms_text, example="45 fin de mois",
                 help='Terms of a customer with none of its own: 30, "45 fin de mois".'),
        Question("payment_terms",
                 "Customer-specific terms? (id=terms, comma separated; empty for none)",
                 default="", option="--customer-terms", metavar="ID=TERMS,...",
                 convert=customer_terms, current=_customer_terms_text,
                 example="C0001=60, C0002=30% 0, 70% 60",
                 help='Customers with their own terms: "C0001=60, C0002=45 fin de mois".'),
    ),
)  # fmt: skip
