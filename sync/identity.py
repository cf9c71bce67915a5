"""Which record of a CRM is which accounting customer.

Rules, strongest first; a rule decides only when it points at exactly one record that no
other customer claims by the same rule:

1. `mapping`: the mapping file says so (a person decided; `-` means "never push this one");
2. `siren`: same SIREN, read from a SIREN, a SIRET (its first 9 digits) or a French VAT
   number (FRkk + SIREN);
3. `vat`: same VAT number (other countries);
4. `domain`: same e-mail domain, except the domains of mail providers (gmail.com,
   orange.fr, ...), which say nothing of the company;
5. `name`: same name once normalised (case, accents, punctuation and legal forms such as
   SARL or SAS removed).

Nothing is guessed: a customer two records fit, or a record two customers claim, is
ambiguous; one that nothing fits is unmatched. Both are listed for a person, who settles
them in the mapping file (`customer,record` lines), read again on every sync.

Example: accounting customer "Boulangerie Dupont SARL" with VAT FR12 345678901 matches
the CRM company with SIRET 34567890100012 by `siren`, whatever its name.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from encours.errors import ConfigError
from encours.model import Party

NEVER = "-"
LEGAL_FORMS = frozenset(
    "sa sas sasu sarl eurl sci snc scop scp selarl sel gie eirl ei ets etablissements "
    "et cie fils freres associes".split()
)
MAIL_PROVIDERS = frozenset(
    """gmail.com googlemail.com hotmail.com hotmail.fr outlook.com outlook.fr live.com live.fr
    msn.com yahoo.com yahoo.fr orange.fr wanadoo.fr free.fr sfr.fr neuf.fr laposte.net
    bbox.fr icloud.com me.com aol.com gmx.fr gmx.com protonmail.com proton.me""".split()
)


@dataclass
class Matching:
    """The outcome: customer key -> (record key, rule), and what a person must settle."""

    matched: dict[str, tuple[str, str]] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)


def match_customers(
    customers: Iterable[Party], records: Iterable[Party], mapping: Mapping[str, str]
) -> Matching:
    """Match accounting customers to CRM records (see the module docstring)."""
    records = list(records)
    known_records = {record.key for record in records}
    result = Matching()
    pending: list[Party] = []
    for customer in customers:
        decided = mapping.get(customer.key)
        if decided == NEVER:
            result.excluded.append(customer.key)
        elif decided is not None and decided in known_records:
            result.matched[customer.key] = (decided, "mapping")
        elif decided is not None:  # the person's record is gone: ask again, never guess over it
            result.unmatched.append(customer.key)
        else:
            pending.append(customer)
    taken = {record for record, _ in result.matched.values()}
    for rule, key_of in RULES:
        index: dict[str, list[str]] = defaultdict(list)
        for record in records:
            if record.key not in taken and (value := key_of(record)):
                index[value].append(record.key)
        claims: dict[str, list[Party]] = defaultdict(list)
        still: list[Party] = []
        for customer in pending:
            value = key_of(customer)
            candidates = index.get(value, []) if value else []
            if len(candidates) == 1:
                claims[candidates[0]].append(customer)
            elif len(candidates) > 1:
                result.ambiguous[customer.key] = sorted(candidates)
            else:
                still.append(customer)
        for record_key, claimants in claims.items():
            if len(claimants) == 1:
                result.matched[claimants[0].key] = (record_key, rule)
                taken.add(record_key)
            else:
                for customer in claimants:
                    result.ambiguous[customer.key] = [record_key]
        pending = [c for c in still if c.key not in result.ambiguous]
    result.unmatched = sorted([*result.unmatched, *(customer.key for customer in pending)])
    return result


def siren_of(party: Party) -> str | None:
    """The SIREN (9 digits) from a SIREN, a SIRET or a French VAT number."""
    for value, length in ((party.siren, 9), (party.siret, 14)):
        digits = _digits(value)
        if len(digits) == length:
            return digits[:9]
    vat = _compact(party.vat_number)
    if vat.startswith("FR") and len(vat) == 13 and vat[4:].isdigit():
        return vat[4:]
    return None


def vat_of(party: Party) -> str | None:
    """The VAT number, upper-case without spaces or dots."""
    return _compact(party.vat_number) or None


def domain_of(party: Party) -> str | None:
    """The e-mail domain, lower-case, unless it is a mail provider's."""
    domain = (party.email_domain or "").strip().lower().removeprefix("www.").split("@")[-1]
    return domain if domain and domain not in MAIL_PROVIDERS else None


def normalised_name(party: Party) -> str | None:
    """The name without case, accents, punctuation or legal forms.

    "Éts Dupont & Fils SARL" and "DUPONT" both give "dupont".
    """
    text = unicodedata.normalize("NFKD", party.name).encode("ascii", "ignore").decode()
    text = text.replace(".", "")  # S.A.R.L. is SARL
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in LEGAL_FORMS]
    return " ".join(words) or None


RULES: tuple[tuple[str, Callable[[Party], str | None]], ...] = (
    ("siren", siren_of),
    ("vat", vat_of),
    ("domain", domain_of),
    ("name", normalised_name),
)


def load_mapping(path: Path) -> dict[str, str]:
    """The mapping file: CSV lines `customer,record` (a header line is allowed).

    `customer` is the customer's key (`books:C0001`); `record` the CRM record's id, or `-`
    for a customer that must never be pushed. A missing file is an empty mapping.

    Raises:
        ConfigError: a line without two fields, or a customer given twice, with its line.
    """
    if not path.exists():
        return {}
    mapping: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].startswith("#") or (number == 1 and row[0] == "customer"):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise ConfigError(
                    f"{path}, line {number}: write `customer,record`, e.g. books:C0001,123"
                )
            customer, record = row[0].strip(), row[1].strip()
            if customer in mapping:
                raise ConfigError(f"{path}, line {number}: {customer} is mapped twice")
            mapping[customer] = record
    return mapping


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _compact(value: str | None) -> str:
    return re.sub(r"[\s.\-]", "", value or "").upper()
