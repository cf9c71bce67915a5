"""FEC (Fichier des Écritures Comptables): the French legal ledger export, read as a source.

Reads both column variants (`Debit`/`Credit`, or `Montant`/`Sens`), tab or pipe separated,
in UTF-8 (with or without BOM) or ISO-8859-15; amounts with a comma or a point, padded with
zeros or spaces; dates YYYYMMDD.

What it yields, entry by entry (lines of one entry, same `JournalCode` + `EcritureNum`, are
contiguous in a FEC):

- a `Customer` the first time a customer account is seen: `CompAuxNum`/`CompAuxLib`, or the
  account itself (`411DUPONT`) when the software uses sub-accounts instead;
- for every line on a customer account (411, 413, 416, 4181, 4191):
  a debit is an `Invoice` (kind `unbilled` on 4181, `invoice` when the entry books a sale,
  `debit` otherwise; flagged doubtful on 416), a credit is an `Advance` on 4191, a
  `CreditNote` when the entry reverses a sale, a `Payment` otherwise. The lettrage code
  (`EcritureLet`, per account) becomes `match_ref` and `DateLet` becomes `matched_on`;
- a `Sale` for every entry that touches 70x: the 70x credit lines plus the VAT (4457x) of
  the same entry, so DSO sees sales including VAT, like the receivables it sits beside;
- a `Rejected` entry when its debits and credits do not balance.

The FEC has no due date: each invoice falls due by the customer's payment terms from the
configuration, else the default terms, and the invoice says so (`due_date_assumed`).

A line that cannot be read (missing column, bad date, non-numeric amount) stops the file with
a `DataError` naming file, line and column: a ledger read in part would give wrong balances.

Incremental sync: a FEC is a whole export; `fingerprint()` changes when the file does, and
sync reads it again only then, replacing what it had from this source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from encours.errors import ConfigError, DataError
from encours.model import (
    Advance,
    CreditNote,
    Customer,
    DueLine,
    Invoice,
    InvoiceKind,
    Money,
    PaymentTerms,
    Payment,
    Rejected,
    Sale,
    SourceRecord,
    to_decimal,
)

COLUMNS_COMMON = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib",
)
COLUMNS_DEBIT_CREDIT = ("Debit", "Credit")
COLUMNS_AMOUNT_SIGN = ("Montant", "Sens")
COLUMNS_AFTER = ("EcritureLet", "DateLet", "ValidDate")
CUSTOMER_ACCOUNTS = ("411", "413", "416", "4181", "4191")
SALES_PREFIX = "70"
VAT_COLLECTED_PREFIXES = ("4457", "44587")  # VAT collected; VAT on invoices to issue
SNIFF_BYTES = 1 << 20


@dataclass(slots=True)
class _Line:
    """One parsed FEC line: the fields encours uses, amounts in integer cents."""

    number: int
    journal: str
    entry: str
    booked_on: date
    account: str
    account_label: str
    aux: str
    aux_label: str
    piece_ref: str
    piece_on: date | None
    label: str
    debit: int
    credit: int
    match_code: str
    matched_on: date | None
    raw: str


class FecConnector:
    """A FEC file as a source of customers, invoices, credits and sales."""

    name = "fec"

    def __init__(
        self,
        source: str,
        path: Path,
        *,
        currency: str,
        default_terms: PaymentTerms,
        terms: Mapping[str, PaymentTerms] | None = None,
        encoding: str = "auto",
    ) -> None:
        self.source = source
        self.path = path
        self.currency = currency
        self.default_terms = default_terms
        self.terms = dict(terms or {})
        self.encoding = encoding

    def check(self) -> None:
        """Open the file and read its header; raise ConfigError or DataError if unusable."""
        with self._open() as (lines, _):
            _read_header(next(lines, ""), self.path)

    def fingerprint(self) -> str:
        """A digest of the file's bytes: sync reads the file again only when it changes."""
        digest = hashlib.sha256()
        try:
            with self.path.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
        except OSError as exc:
            raise ConfigError(f"cannot read FEC file {self.path}: {exc.strerror}") from None
        return digest.hexdigest()

    def records(self) -> Iterator[SourceRecord | Rejected]:
        """Every record of the file, entry by entry (see the module docstring)."""
        seen_customers: set[str] = set()
        with self._open() as (lines, encoding):
            header = _read_header(next(lines, ""), self.path)
            entry: list[_Line] = []
            for number, text in enumerate(lines, start=2):
                if not text.strip():
                    continue
                line = header.parse(text, number, self.path, encoding)
                if entry and (line.journal, line.entry) != (entry[0].journal, entry[0].entry):
                    yield from self._entry_records(entry, seen_customers)
                    entry = []
                entry.append(line)
            if entry:
                yield from self._entry_records(entry, seen_customers)

    def _open(self) -> _OpenFec:
        return _OpenFec(self.path, self.encoding)

    def _entry_records(
        self, lines: list[_Line], seen_customers: set[str]
    ) -> Iterator[SourceRecord | Rejected]:
        first = lines[0]
        entry_id = f"{first.journal}/{first.entry}"
        debit = sum(line.debit for line in lines)
        credit = sum(line.credit for line in lines)
        if debit != credit:
            yield Rejected(
                source=self.source,
                stream="entries",
                external_id=entry_id,
                reason=(
                    f"entry {entry_id} (lines {first.number}-{lines[-1].number}) does not "
                    f"balance: debit {to_decimal(debit, self.currency)}, credit "
                    f"{to_decimal(credit, self.currency)}; fix it in the accounting software and "
                    "export again"
                ),
                raw="\n".join(line.raw for line in lines),
            )
            return
        sales_net = sum(
            line.credit - line.debit for line in lines if line.account.startswith(SALES_PREFIX)
        )
        is_sale = any(line.account.startswith(SALES_PREFIX) for line in lines)
        customer_lines = [line for line in lines if line.account.startswith(CUSTOMER_ACCOUNTS)]
        customers = {_customer_id(line) for line in customer_lines}
        for line in customer_lines:
            customer_id = _customer_id(line)
            if customer_id not in seen_customers:
                seen_customers.add(customer_id)
                yield self._customer(line, customer_id)
        for index, line in enumerate(customer_lines):
            external_id = f"{entry_id}/{index}"
            yield from self._customer_line_records(line, external_id, is_sale)
        if is_sale:
            vat = sum(
                line.credit - line.debit
                for line in lines
                if line.account.startswith(VAT_COLLECTED_PREFIXES)
            )
            yield Sale(
                source=self.source,
                external_id=entry_id,
                customer_id=customers.pop() if len(customers) == 1 else None,
                booked_on=first.booked_on,
                amount=Money.from_minor(sales_net + vat, self.currency),
                raw="\n".join(line.raw for line in lines),
            )

    def _customer(self, line: _Line, customer_id: str) -> Customer:
        terms = self.terms.get(customer_id)
        days = terms.lines[-1].days if terms else None
        return Customer(
            source=self.source,
            external_id=customer_id,
            name=(line.aux_label if line.aux else line.account_label) or customer_id,
            payment_terms_days=days,
            terms_end_of_month=bool(terms and terms.lines[-1].end_of_month),
            raw=line.raw,
        )

    def _customer_line_records(
        self, line: _Line, external_id: str, is_sale: bool
    ) -> Iterator[SourceRecord]:
        customer_id = _customer_id(line)
        match_ref = f"{line.account}:{line.match_code}" if line.match_code else None
        amount = line.debit - line.credit
        if amount == 0:
            return
        common = {
            "source": self.source,
            "external_id": external_id,
            "customer_id": customer_id,
            "match_ref": match_ref,
            "matched_on": line.matched_on if match_ref else None,
            "raw": line.raw,
        }
        if amount > 0:
            yield self._debit(line, amount, common, is_sale)
            return
        credit = Money.from_minor(-amount, self.currency)
        reference = line.piece_ref or None
        if line.account.startswith("4191"):
            yield Advance(on=line.booked_on, amount=credit, reference=reference,
                          order_ref=reference, **common)
        elif is_sale:
            yield CreditNote(on=line.booked_on, amount=credit, reference=reference, **common)
        else:
            yield Payment(on=line.booked_on, amount=credit, reference=reference, **common)

    def _debit(self, line: _Line, amount: int, common: dict[str, object], is_sale: bool) -> Invoice:
        total = Money.from_minor(amount, self.currency)
        issued_on = line.booked_on
        if line.account.startswith("4181"):
            kind = InvoiceKind.UNBILLED
        elif is_sale or line.account.startswith("416"):
            kind = InvoiceKind.INVOICE
        else:
            kind = InvoiceKind.DEBIT
        if kind is InvoiceKind.UNBILLED or line.account.startswith("4191"):
            # Nothing is "due" on unbilled revenue or on an advance being used up.
            due_lines: tuple[DueLine, ...] = (DueLine(due_on=issued_on, amount=total),)
            assumed = False
        else:
            terms = self.terms.get(str(common["customer_id"]))
            due_lines = (terms or self.default_terms).due_lines(line.piece_on or issued_on, total)
            assumed = terms is None
        return Invoice(
            number=line.piece_ref or None,
            issued_on=issued_on,
            total=total,
            due_lines=due_lines,
            kind=kind,
            is_doubtful=line.account.startswith("416"),
            due_date_assumed=assumed,
            **common,  # type: ignore[arg-type]
        )


def _customer_id(line: _Line) -> str:
    return line.aux or line.account


@dataclass(frozen=True)
class _Header:
    """Where each column is, for the variant this file uses."""

    separator: str
    width: int
    index: dict[str, int]
    signed: bool  # Montant/Sens variant

    def parse(self, text: str, number: int, path: Path, encoding: str) -> _Line:
        """Parse one line; raise DataError naming file, line and column if it cannot be read."""
        fields = text.rstrip("\r\n").split(self.separator)
        if len(fields) < self.width:
            raise DataError(
                f"{path}, line {number}: {len(fields)} columns where the header has "
                f"{self.width}; the file may be cut or use another separator"
            )
        at = self.index

        def field(name: str) -> str:
            return fields[at[name]].strip()

        def day(name: str, *, required: bool) -> date | None:
            return _parse_date(field(name), name, number, path, required=required)

        if self.signed:
            amount = _parse_amount(field("Montant"), "Montant", number, path)
            sign = field("Sens").upper()
            if sign in ("D", "+1", "1"):
                debit, credit = amount, 0
            elif sign in ("C", "-1"):
                debit, credit = 0, amount
            else:
                raise DataError(
                    f"{path}, line {number}, column Sens: {sign!r} is neither D nor C"
                )
        else:
            debit = _parse_amount(field("Debit"), "Debit", number, path)
            credit = _parse_amount(field("Credit"), "Credit", number, path)
        if debit < 0 or credit < 0:  # a negative debit is a credit, and the other way round
            debit, credit = max(debit, 0) - min(credit, 0), max(credit, 0) - min(debit, 0)
        booked_on = day("EcritureDate", required=True)
        assert booked_on is not None  # noqa: S101 - required=True never returns None
        return _Line(
            number=number,
            journal=field("JournalCode"),
            entry=field("EcritureNum"),
            booked_on=booked_on,
            account=field("CompteNum"),
            account_label=field("CompteLib"),
            aux=field("CompAuxNum"),
            aux_label=field("CompAuxLib"),
            piece_ref=field("PieceRef"),
            piece_on=day("PieceDate", required=False),
            label=field("EcritureLib"),
            debit=debit,
            credit=credit,
            match_code=field("EcritureLet"),
            matched_on=day("DateLet", required=False),
            raw=text.rstrip("\r\n"),
        )


def _read_header(text: str, path: Path) -> _Header:
    text = text.lstrip("\ufeff").rstrip("\r\n")
    if "\t" in text:
        separator = "\t"
    elif "|" in text:
        separator = "|"
    else:
        raise DataError(
            f"{path}, line 1: no tab or | separator in the header; a FEC starts with a line "
            "of column names (JournalCode, JournalLib, EcritureNum, ...)"
        )
    names = [name.strip() for name in text.split(separator)]
    index = {name.lower(): position for position, name in enumerate(names)}
    signed = "montant" in index and "debit" not in index
    required = COLUMNS_COMMON + (COLUMNS_AMOUNT_SIGN if signed else COLUMNS_DEBIT_CREDIT)
    missing = [name for name in required + COLUMNS_AFTER if name.lower() not in index]
    if missing:
        raise DataError(
            f"{path}, line 1: missing column(s) {', '.join(missing)}; a FEC has the 18 "
            "columns of article A47 A-1 of the Livre des procédures fiscales"
        )
    return _Header(
        separator=separator,
        width=len(names),
        index={name: index[name.lower()] for name in required + COLUMNS_AFTER},
        signed=signed,
    )


_DATES: dict[str, date] = {}


def _parse_date(text: str, column: str, number: int, path: Path, *, required: bool) -> date | None:
    """YYYYMMDD (or YYYY-MM-DD) to a date, cached: a ledger repeats the same days."""
    if not text:
        if required:
            raise DataError(f"{path}, line {number}, column {column}: the date is empty")
        return None
    cached = _DATES.get(text)
    if cached is not None:
        return cached
    digits = text.replace("-", "") if len(text) == 10 else text
    try:
        if len(digits) != 8 or not digits.isdigit():
            raise ValueError
        parsed = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise DataError(
            f"{path}, line {number}, column {column}: {text!r} is not a date in the form "
            "YYYYMMDD"
        ) from None
    if len(_DATES) < 100_000:
        _DATES[text] = parsed
    return parsed


def _parse_amount(text: str, column: str, number: int, path: Path) -> int:
    """A FEC amount to integer cents, exactly: '000000001 234,50' -> 123450, '-12.5' -> -1250."""
    compact = text.replace(" ", "").replace("\u00a0", "")
    if not compact:
        return 0
    negative = compact.startswith("-")
    if compact[0] in "+-":
        compact = compact[1:]
    units, _, fraction = compact.replace(",", ".").partition(".")
    fraction = fraction.rstrip("0") if len(fraction) > 2 else fraction
    if not units.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 2:
        raise DataError(
            f"{path}, line {number}, column {column}: {text!r} is not an amount; write it "
            "like 1234,56"
        )
    cents = int(units) * 100 + int(fraction.ljust(2, "0"))
    return -cents if negative else cents


class _OpenFec:
    """Context manager: the file's text lines, decoded with the right encoding."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = encoding

    def __enter__(self) -> tuple[Iterator[str], str]:
        try:
            encoding = self.encoding if self.encoding != "auto" else _sniff_encoding(self.path)
            self._handle = self.path.open("r", encoding=encoding, newline="")
        except FileNotFoundError:
            raise ConfigError(
                f"FEC file {self.path} does not exist: check `path` in the source's settings"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read FEC file {self.path}: {exc.strerror}") from None
        return self._lines(encoding), encoding

    def _lines(self, encoding: str) -> Iterator[str]:
        number = 0
        try:
            for number, text in enumerate(self._handle, start=1):  # noqa: B007 - used below
                yield text
        except UnicodeDecodeError:
            raise DataError(
                f"{self.path}, after line {number}: bytes that are not {encoding}; set "
                "`encoding = \"iso-8859-15\"` (or the right one) in the source's settings"
            ) from None

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()


def _sniff_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8, or ISO-8859-15 (the encoding of the FEC rules), from the start."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "iso-8859-15"
    return "utf-8"
