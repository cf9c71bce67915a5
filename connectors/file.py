"""A local file as a push target: the indicators per customer, as JSON or CSV.

The file holds every customer's last pushed values. A push merges the changed values into it
and rewrites it atomically (a temporary file renamed over the old one), so a reader never
sees half a file, and a push with nothing changed does not touch it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from encours.errors import ConfigError, DataError, StorageError

CUSTOMER_COLUMN = "customer"


#: A cell that starts with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def inert(cell: str) -> str:
    """A CSV cell a spreadsheet will not evaluate: a leading quote before a formula.

    Numbers stay numbers: `inert("-300.00")` is "-300.00"; `inert("=HYPERLINK(...)")` is
    "'=HYPERLINK(...)".
    """
    if cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class FileTarget:
    """Indicators per customer in a JSON object (`{customer: {field: value}}`) or a CSV."""

    name = "file"
    batch_size = None  # one atomic rewrite of the file takes any number of customers

    def __init__(self, path: Path, *, file_format: str = "json") -> None:
        self.path = path
        self.format = file_format

    def check(self) -> None:
        """The folder exists and is writable, and an existing file can be read."""
        if not self.path.parent.is_dir():
            raise ConfigError(
                f"folder {self.path.parent} does not exist: create it or change `path`"
            )
        if not os.access(self.path.parent, os.W_OK):
            raise ConfigError(f"cannot write in {self.path.parent}: check its permissions")
        self.read()

    def read(self) -> dict[str, dict[str, str]]:
        """What the file holds now (empty when it does not exist yet)."""
        if not self.path.exists():
            return {}
        try:
            if self.format == "csv":
                with self.path.open(newline="", encoding="utf-8") as handle:
                    return {
                        row.pop(CUSTOMER_COLUMN): {k: v for k, v in row.items() if v != ""}
                        for row in csv.DictReader(handle)
                    }
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(
                f"target file {self.path} cannot be read ({exc}); move it away and sync again"
            ) from None
        if not isinstance(data, dict):
            raise DataError(f"target file {self.path} is not a JSON object; move it away")
        return data

    def push(self, changes: Mapping[str, Mapping[str, str]]) -> None:
        """Merge the changed values into the file; do nothing when there are none."""
        if not changes:
            return
        current = self.read()
        for customer, fields in changes.items():
            current.setdefault(customer, {}).update(fields)
        self._write(dict(sorted(current.items())))

    def _write(self, content: dict[str, dict[str, str]]) -> None:
        try:
            self._replace(content)
        except OSError as exc:
            raise StorageError(
                f"target file {self.path} cannot be written ({exc.strerror or exc}): check "
                "that its folder exists and the disk has room; the file is as it was"
            ) from None

    def _replace(self, content: dict[str, dict[str, str]]) -> None:
        """Write `content` to a temporary file beside the target, then rename it over."""
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                try:  # keep the mode of the file being replaced (mkstemp makes it 0o600)
                    os.fchmod(out.fileno(), stat.S_IMODE(self.path.stat().st_mode))
                except FileNotFoundError:
                    pass
                if self.format == "csv":
                    fields = sorted({field for values in content.values() for field in values})
                    writer = csv.DictWriter(out, fieldnames=[CUSTOMER_COLUMN, *fields])
                    writer.writeheader()
                    for customer, values in content.items():
                        row = {CUSTOMER_COLUMN: customer, **values}
                        writer.writerow({key: inert(value) for key, value in row.items()})
                else:
                    json.dump(content, out, indent=1, sort_keys=True, ensure_ascii=False)
                    out.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
