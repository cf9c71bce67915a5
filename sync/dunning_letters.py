"""Reminders and letters in French, from Jinja2 templates: the subject on the first line.

The built-in templates are in `sync/templates/dunning/`, one per step (`courtesy.txt`,
`friendly.txt`, `firm.txt`, `pre_formal.txt`, `formal_notice.txt`) and two parts they
include (`_items.txt`: the open items, penalties and indemnity; `_signature.txt`). A
`[dunning] templates_dir` folder replaces any of them by a file of the same name.

A template sees: `company`, `customer_name`, `as_of`, `items` (each with `number`,
`issued_on`, `due_on`, `amount`, `residual`, `days_late`, `penalty`, `step`),
`total_residual`, `penalties`, `indemnity`, `indemnity_each`, `late_invoices`,
`grand_total` (amounts in minor units), and two filters: `money` (1 234,56 €) and
`fr_date` (31/03/2026). An undefined name is an error, never an empty gap in a letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from encours.errors import ConfigError
from encours.model import CURRENCY_EXPONENTS, to_decimal

BUILT_IN = Path(__file__).parent / "templates" / "dunning"
SUBJECT_PREFIX = "Objet :"
_SYMBOLS = {"EUR": "€"}


@dataclass(frozen=True)
class Message:
    """A rendered reminder: its subject and its body (plain text)."""

    subject: str
    body: str


def money(units: int, currency: str) -> str:
    """Minor units in the French way: 123456789 EUR -> "1 234 567,89 €" (narrow spaces).

    >>> money(123456789, "EUR")
    '1\\u202f234\\u202f567,89\\xa0€'
    """
    value = to_decimal(units, currency)
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.{CURRENCY_EXPONENTS[currency]}f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = "\u202f".join(groups) + ("," + cents if cents else "")
    return f"{sign}{text}\xa0{_SYMBOLS.get(currency, currency)}"


def fr_date(day: date) -> str:
    """31/03/2026."""
    return day.strftime("%d/%m/%Y")


class LetterWriter:
    """Renders the steps' templates, with the company's currency for amounts."""

    def __init__(self, currency: str, templates_dir: Path | None = None) -> None:
        folders = [str(templates_dir)] if templates_dir else []
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*folders, str(BUILT_IN)], encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701 - plain-text e-mails and letters, never HTML
            keep_trailing_newline=True,
        )
        self.environment.filters["money"] = lambda units: money(units, currency)
        self.environment.filters["fr_date"] = fr_date

    def render(self, template: str, context: Mapping[str, Any]) -> Message:
        """The message of `template` with `context`; its first line is the subject.

        Raises:
            ConfigError: the template is missing, broken, or uses a name it is not given.
        """
        try:
            text = self.environment.get_template(template).render(context)
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(
                f"no dunning template {exc.name!r}: add it to [dunning] templates_dir, or "
                "name a built-in one (courtesy.txt, friendly.txt, firm.txt, pre_formal.txt, "
                "formal_notice.txt)"
            ) from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"dunning template {template!r}: {exc}") from None
        first, _, body = text.partition("\n")
        subject = first.removeprefix(SUBJECT_PREFIX).strip()
        return Message(subject=subject, body=body.lstrip("\n"))
