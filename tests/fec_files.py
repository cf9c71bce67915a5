"""Small FEC files for tests, written by hand from readable lines.

    lines = [
        Line("VT", "1", "20260110", "411000", debit="1200,00", aux="C001", aux_label="Dupont"),
        Line("VT", "1", "20260110", "706000", credit="1000,00"),
        Line("VT", "1", "20260110", "445710", credit="200,00"),
    ]
    write_fec(tmp_path / "books.fec", lines)

Amounts are strings, written as given, so a test controls their exact form ("3000,00",
"000000000003000,00", "  3000,00"). `signed=True` writes the `Montant`/`Sens` variant instead
of `Debit`/`Credit`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from encours.connectors.fec import COLUMNS

COLUMNS_DEBIT_CREDIT = COLUMNS
#: The variant that gives an amount and its sense (D or C) instead of a debit and a credit.
COLUMNS_AMOUNT_SIGN = tuple({"Debit": "Montant", "Credit": "Sens"}.get(c, c) for c in COLUMNS)

JOURNALS = {"VT": "Ventes", "BQ": "Banque", "OD": "Opérations diverses"}
ACCOUNTS = {
    "411": "Clients",
    "416": "Clients douteux",
    "4181": "Clients - Factures à établir",
    "4191": "Clients - Avances et acomptes",
    "44571": "TVA collectée",
    "44587": "TVA sur factures à établir",
    "512": "Banque",
    "706": "Prestations de services",
    "707": "Ventes de marchandises",
}


@dataclass(frozen=True)
class Line:
    """One FEC line; empty strings are written as empty fields."""

    journal: str
    entry: str
    day: str  # YYYYMMDD
    account: str
    debit: str = ""
    credit: str = ""
    aux: str = ""
    aux_label: str = ""
    piece: str = ""
    let: str = ""
    date_let: str = ""
    label: str = ""

    def fields(self, *, signed: bool) -> list[str]:
        """The line's 18 fields, in the order of the header."""
        if signed:
            is_debit = _is_nonzero(self.debit)
            amounts = [self.debit if is_debit else self.credit, "D" if is_debit else "C"]
        else:
            amounts = [self.debit or "0,00", self.credit or "0,00"]
        account_label = next(
            (
                label
                for prefix, label in sorted(ACCOUNTS.items(), key=lambda kv: -len(kv[0]))
                if self.account.startswith(prefix)
            ),
            "",
        )
        return [
            self.journal,
            JOURNALS.get(self.journal, self.journal),
            self.entry,
            self.day,
            self.account,
            account_label,
            self.aux,
            self.aux_label,
            self.piece,
            self.day if self.piece else "",
            self.label or self.piece,
            *amounts,
            self.let,
            self.date_let,
            self.day,
            "",
            "",
        ]


def _is_nonzero(amount: str) -> bool:
    return any(ch in "123456789" for ch in amount)


def fec_text(lines: Iterable[Line], *, separator: str = "\t", signed: bool = False) -> str:
    """The whole file as text: the header, then one row per line, CRLF-free, newline-ended."""
    header = COLUMNS_AMOUNT_SIGN if signed else COLUMNS_DEBIT_CREDIT
    rows = [separator.join(header)]
    rows += [separator.join(line.fields(signed=signed)) for line in lines]
    return "\n".join(rows) + "\n"


def write_fec(
    path: Path,
    lines: Iterable[Line],
    *,
    separator: str = "\t",
    signed: bool = False,
    encoding: str = "utf-8",
) -> Path:
    """Write a FEC file (`encoding` "utf-8-sig" adds a BOM) and return its path."""
    path.write_bytes(fec_text(lines, separator=separator, signed=signed).encode(encoding))
    return path


def sale(
    entry: str,
    day: str,
    customer: str,
    name: str,
    ht: str,
    vat: str,
    ttc: str,
    *,
    piece: str = "",
    account: str = "411000",
    let: str = "",
    date_let: str = "",
) -> list[Line]:
    """A sales invoice: D 411 TTC / C 706 HT / C 44571 VAT, in journal VT."""
    return [
        Line(
            "VT",
            entry,
            day,
            account,
            debit=ttc,
            aux=customer,
            aux_label=name,
            piece=piece or f"F{entry}",
            let=let,
            date_let=date_let,
        ),
        Line("VT", entry, day, "706000", credit=ht, piece=piece or f"F{entry}"),
        Line("VT", entry, day, "445710", credit=vat, piece=piece or f"F{entry}"),
    ]


def receipt(
    entry: str,
    day: str,
    customer: str,
    name: str,
    amount: str,
    *,
    account: str = "411000",
    piece: str = "",
    let: str = "",
    date_let: str = "",
) -> list[Line]:
    """Money received: D 512 / C customer account, in journal BQ."""
    return [
        Line("BQ", entry, day, "512000", debit=amount, piece=piece),
        Line(
            "BQ",
            entry,
            day,
            account,
            credit=amount,
            aux=customer,
            aux_label=name,
            piece=piece,
            let=let,
            date_let=date_let,
        ),
    ]
