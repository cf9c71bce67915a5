"""The firm file: which companies an accounting firm syncs, each with its own configuration.

Every company keeps its own `encours.toml` (its store, sources, targets and the names of its
secrets: secrets themselves stay in the keyring or the environment, named by the source or
target, so give each company's sources their own names unless they share a token). The firm
file lists them, by name, or names a folder where every `*.toml` is a company named after
its file. Relative paths are relative to the firm file's folder. Example:

    # firm.toml
    [firm]
    name = "Cabinet Martin"
    state = "firm-state"            # shared rate-limit windows, logs (the default)
    companies_dir = "companies"     # companies/dupont.toml is the company "dupont"

    [[companies]]
    name = "boulangerie-leroy"
    config = "leroy/encours.toml"

A name is letters, digits, `.`, `_` and `-` (it names a log file); two companies of one name
are refused, whichever way they are listed. A company whose file is missing or wrong fails
alone when the firm runs (exit 78 for it), so one broken file does not stop the night.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from encours.connectors.settings import Section
from encours.errors import ConfigError
from encours.sync.config import read_toml
from encours.sync.config_errors import describe

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"


class FirmSection(Section):
    """`[firm]`: its name, its state folder, and a folder of company files."""

    name: str | None = None
    state: Path = Path("firm-state")
    companies_dir: Path | None = None


class CompanyEntry(Section):
    """`[[companies]]`: one company, by name and configuration file."""

    name: str
    config: Path

    @field_validator("name")
    @classmethod
    def _usable(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(
                f"{value!r} cannot name a company: use letters, digits, '.', '_' or '-', "
                "starting with a letter or a digit (it names the company's log file)"
            )
        return value


class FirmFile(Section):
    """The whole firm file."""

    firm: FirmSection = FirmSection()
    companies: list[CompanyEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Company:
    """A company of the firm: its name and the absolute path of its configuration."""

    name: str
    config: Path


@dataclass(frozen=True)
class Firm:
    """The firm file read: every company in name order, and where the run keeps its state."""

    name: str | None
    state: Path
    companies: tuple[Company, ...]


def load_firm(path: Path) -> Firm:
    """Read the firm file; the companies come sorted by name.

    Raises:
        ConfigError: the file is missing or not TOML, a setting is wrong, `companies_dir`
            is not a folder, two companies have one name, or there is no company at all;
            the message says what to change.
    """
    text, data = read_toml(
        path,
        "firm file",
        "write one listing the companies (README, For accounting firms), or pass --firm / "
        "set ENCOURS_FIRM",
    )
    try:
        parsed = FirmFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}, " + describe(exc, FirmFile, text)) from None
    base = path.resolve().parent
    listed = [Company(entry.name, base / entry.config) for entry in parsed.companies]
    if parsed.firm.companies_dir is not None:
        listed += _folder_companies(base / parsed.firm.companies_dir, path)
    _refuse_duplicates(listed, path)
    if not listed:
        raise ConfigError(
            f"{path} lists no company: add [[companies]] entries (name, config) or "
            "[firm] companies_dir, a folder of one .toml per company"
        )
    return Firm(
        name=parsed.firm.name,
        state=base / parsed.firm.state,
        companies=tuple(sorted(listed, key=lambda company: company.name)),
    )


def _folder_companies(folder: Path, firm_file: Path) -> list[Company]:
    """Every `*.toml` of the folder, named by its file name without `.toml`."""
    if not folder.is_dir():
        raise ConfigError(
            f"{firm_file}: [firm] companies_dir {folder} is not a folder: create it, or fix "
            "the path (relative to the firm file's folder)"
        )
    companies = []
    for config in sorted(folder.glob("*.toml")):
        try:
            CompanyEntry(name=config.stem, config=config)
        except ValidationError:
            raise ConfigError(
                f"{firm_file}: the company file {config.name} in {folder} gives no usable "
                "name: rename it with letters, digits, '.', '_' or '-' only"
            ) from None
        companies.append(Company(config.stem, config))
    return companies


def _refuse_duplicates(companies: list[Company], firm_file: Path) -> None:
    seen: dict[str, Company] = {}
    for company in companies:
        first = seen.setdefault(company.name, company)
        if first is not company:
            raise ConfigError(
                f"{firm_file}: two companies are named {company.name!r} ({first.config} and "
                f"{company.config}): rename one, in [[companies]] or its file in companies_dir"
            )
