"""The file target: the indicators per customer in a JSON or CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from encours.connectors.base import Target
from encours.connectors.registry import Context, Question, TargetSpec
from encours.connectors.settings import Section


class FileTargetSettings(Section):
    """`[targets.NAME]` with `type = "file"`: indicators per customer to a JSON or CSV file."""

    type: Literal["file"]
    path: Path
    format: Literal["json", "csv"] | None = None

    @property
    def resolved_format(self) -> Literal["json", "csv"]:
        """The format given, else the one the file name says (`.csv` or JSON)."""
        return self.format or ("csv" if self.path.suffix.lower() == ".csv" else "json")


def make_target(context: Context) -> Target:
    """The file writer."""
    from encours.connectors.file import FileTarget

    settings: FileTargetSettings = context.settings
    return FileTarget(settings.path, file_format=settings.resolved_format)


TARGET = TargetSpec(
    settings=FileTargetSettings,
    make=make_target,
    label="a JSON or CSV file",
    questions=(
        Question("path", "Indicators file (.json or .csv)", default="indicators.json",
                 option="--target-file", metavar="PATH",
                 help="Where the indicators per customer are written (.json or .csv)."),
    ),
)  # fmt: skip
