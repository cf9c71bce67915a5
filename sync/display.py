"""How figures read for a person: amounts, dates and days in the reader's language.

Numbers, currencies and dates go through Babel (the CLDR's rules for each locale), so
`money(118439944, "EUR")` is « 1 184 399,44 € » in French and "€1,184,399.44" in English,
and a date is « 31/10/2026 » or "Oct 31, 2026". The `--json` output never comes here: it
stays locale-free (see `report.py`).

A figure that cannot be computed (DSO with no sales in the period) is `MISSING`, « — »,
and the text beside the table says why; it is never shown as `None` or as a zero.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from encours.metrics.dso import round_days
from encours.model import to_decimal

#: What a figure that cannot be computed shows.
MISSING = "—"
#: The languages encours speaks; anything else reads English.
LANGUAGES = ("en", "fr")
_LOCALES = {"en": "en_GB", "fr": "fr_FR"}


def language_from(configured: str | None, environ: Mapping[str, str]) -> str:
    """The language to speak: `[company] language` if set, else the environment's, else English.

    The environment is read as gettext does: `LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`,
    the first one set. `fr_FR.UTF-8`, `fr` and `fr_BE` all read French; `C` reads English.

    >>> language_from(None, {"LANG": "fr_FR.UTF-8"})
    'fr'
    >>> language_from("en", {"LANG": "fr_FR.UTF-8"})
    'en'
    """
    if configured:
        return configured
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:
            code = value.split(":")[0].split(".")[0].split("_")[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


@dataclass(frozen=True)
class Display:
    """The formatting of one language: `Display.of("fr").money(150, "EUR")` is « 1,50 € »."""

    language: str
    locale: Locale
    translations: gettext.NullTranslations = field(compare=False)

    @classmethod
    def of(cls, language: str) -> Display:
        """The display for a language of `LANGUAGES`, with its message catalog."""
        from encours.sync.i18n import translations

        return cls(language, Locale.parse(_LOCALES[language]), translations(language))

    def _(self, message: str) -> str:
        """The message in this language (the English text is the catalog's key)."""
        return self.translations.gettext(message)

    def money(self, units: int, currency: str) -> str:
        """Minor units as an amount with separators and the currency, exact to the cent."""
        return format_currency(to_decimal(units, currency), currency, locale=self.locale)

    def date(self, day: date) -> str:
        """A date the way the reader writes it: 31/10/2026, or 31 Oct 2026."""
        return format_date(day, "short" if self.language == "fr" else "medium", locale=self.locale)

    def days(self, value: Decimal | int | None) -> str:
        """Whole days as they are, a computed number of days with two decimals, or `MISSING`.

        `days(269)` is "269", `days(Decimal("53.5"))` "53.50" (« 53,50 » in French).
        """
        if value is None:
            return MISSING
        if isinstance(value, int):
            return format_decimal(value, format="#,##0", locale=self.locale)
        # Rounded as `--json` rounds it, so both say the same number.
        return format_decimal(round_days(value), format="#,##0.00", locale=self.locale)

    def number(self, value: Decimal | int) -> str:
        """A count or a number with the locale's separators."""
        return format_decimal(value, locale=self.locale)
