"""The offline demo: a generated FEC of a small French company and a config that reads it."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from encours.demo.fecgen import FecSpec


def prepare(folder: Path, spec: FecSpec | None = None) -> tuple[Path, date]:
    """Write `books.fec` and `config.toml` into `folder`.

    Returns the config path and the as-of date of the demo (the last day of the books).
    `spec` defaults to the generator's own defaults, the demo company.

    The FEC is the same bytes every time, so running the demo again syncs nothing new.
    """
    # Imported here, not above: `python -m encours.demo.fecgen` imports this package first,
    # and a package that has already imported the module being run gets a runpy warning.
    from encours.demo.fecgen import FecSpec, customer_terms, write_fec

    spec = spec or FecSpec()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "books.fec").open("w", encoding="utf-8", newline="\n") as out:
        write_fec(out, spec)
    terms = "\n".join(f"{code} = {days}" for code, days in customer_terms(spec).items())
    config = folder / "config.toml"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there before
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(
            f"""# The encours demo: a generated FEC of a small French company.
[company]
name = "Démo SARL"
currency = "EUR"

[store]
path = "encours.duckdb"

[sources.books]
type = "fec"
path = "books.fec"
default_payment_terms_days = 30

[sources.books.payment_terms]
{terms}

[targets.file]
type = "file"
path = "indicators.json"
"""
        )
    return config, spec.end


def history(as_of: date, months: int = 5) -> list[date]:
    """The last days of the `months` months before `as_of`'s, oldest first.

    The demo syncs as of each of them before `as_of`, as nightly runs would have, so its
    report has a DSO trend: `history(date(2026, 10, 31), 3)` is 31 Jul, 31 Aug, 30 Sep 2026.
    """
    ends: list[date] = []
    day = as_of.replace(day=1) - timedelta(days=1)
    for _ in range(months):
        ends.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return ends[::-1]
