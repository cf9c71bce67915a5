"""The message catalogs: French labels for the English ones, read from `locale/*.po`.

The catalogs are kept as `.po` text in the package and compiled in memory on first use
(Babel's reader and writer, a few milliseconds): an editable install, a wheel and CI all
read the same file, and no build step can leave a stale `.mo` behind.

To add a label: write it in English in the code through `Display._`, then its French in
`locale/fr/LC_MESSAGES/encours.po` (`msgid`/`msgstr`); `tests/test_i18n.py` fails when a
label used by the code has no French.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CATALOGS = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "encours"


def catalog_path(language: str) -> Path:
    """Where the `.po` catalog of a language is."""
    return CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The messages of a language; English (the keys themselves) when it has no catalog."""
    path = catalog_path(language)
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
