"""FEC (Fichier des Écritures Comptables): the French legal ledger export, read as a source.

Reads both column variants (`Debit`/`Credit`, or `Montant`/`Sens`), tab or pipe separated,
in UTF-8 (with or without BOM) or ISO-8859-15; amounts with a comma or a point, padded with
zeros or spaces; dates YYYYMMDD.

What it yields, entry by entry (an entry is every line with the same `JournalCode` and
`EcritureNum`, wherever its lines stand: see `_EntryReader`):

- a `Customer` the first time a customer account is seen: `CompAuxNum`/`CompAuxLib`, or the
  account itself (`411DUPONT`) when the software uses sub-accounts instead;
- a `LedgerLine` for every line on a customer account (411, 413, 416, 4181, 4191), its id
  `JournalCode/EcritureNum/L<line number>`: a debit is an invoice (kind `unbilled` on 4181,
  `advance_use` on 4191, `invoice` when the entry credits sales or on 416, `debit`
  otherwise; doubtful on 416), a credit is an `advance` on 4191, a `credit_note` when the
  entry debits sales (it reverses a sale), a `payment` otherwise. The lettrage code
  (`EcritureLet`, per account) becomes `match_ref` ("411000:AB") and `DateLet` `matched_on`;
- a `LedgerSale` for every entry that touches 70x: the 70x lines plus the VAT of the same
  entry (4457x, and 44587 on invoices to issue), so DSO sees sales including VAT, like the
  receivables it sits beside; its customer is the entry's one customer, if it has one;
- a `Rejected` entry when its debits and credits do not balance, listing all its lines;
- last, a `SourceBalance` per customer: the balance of its lines on the customer accounts
  (411, 413, 416, 4181 less 4191), every line of the file counted, rejected entries too, as
  of the file's last entry date. The figures are checked against it after every sync.

Example: `VT 1 411000 C1 debit 120,00` / `VT 2 411000 C2 debit 240,00` / `VT 1 706000 credit
120,00` / `VT 2 706000 credit 240,00` (entries interleaved) gives two invoices, 120.00 to C1
and 240.00 to C2, and balances of 120.00 and 240.00.

The FEC has no due date: each invoice falls due by the customer's payment terms from the
configuration (counted from `PieceDate`), else the default terms, and the line says so
(`due_date_assumed`).

A line that cannot be read (missing column, bad date, non-numeric amount) stops the file with
a `DataError` naming file, line and column: a ledger read in part would give wrong balances.

Lines end with LF, CRLF, CR CR LF or CR alone (all occur in real files).

A FEC has millions of lines, so this reader works on bytes (both encodings keep ASCII
separators as single bytes), decodes only the fields it keeps, and yields tuples rather than
pydantic records (see `model.LedgerLine`).

Incremental sync: a FEC is a whole export. Its position is its size, modification time and
a digest of its bytes ("70123456:1767225600000000000:9f2c..."): a file whose size and time
are the same is not even read; one whose digest is the same is not stored again; any other
is read whole and replaces what the store had from this source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from encours.connectors.base import Pull
from encours.errors import ConfigError, DataError
from encours.model import (
    MAX_AMOUNT,
    CreditKind,
    Customer,
    InvoiceKind,
    LedgerLine,
    LedgerSale,
    Money,
    PaymentTerms,
    Rejected,
    SourceBalance,
    plausible,
    to_decimal,
)

#: The 18 columns of a FEC (article A47 A-1 of the Livre des procédures fiscales), in order.
COLUMNS: tuple[str, ...] = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)  # fmt: skip
COLUMNS_COMMON = COLUMNS[:11]
COLUMNS_DEBIT_CREDIT = ("Debit", "Credit")
COLUMNS_AMOUNT_SIGN = ("Montant", "Sens")
COLUMNS_AFTER = ("EcritureLet", "DateLet", "ValidDate")
CUSTOMER_ACCOUNTS = (b"411", b"413", b"416", b"4181", b"4191")
SALES_PREFIX = b"70"
VAT_PREFIXES = (b"4457", b"44587")  # VAT collected; VAT on invoices to issue
SNIFF_BYTES = 1 << 20

MAX_CENTS = int(MAX_AMOUNT * 100)

#: What the balance check compares each customer's outstanding with.
LEDGER_BASIS = "FEC ledger balance of accounts 411, 413, 416 and 4181 less 4191"

#: One line as read: (line number, its bytes, its fields, debit cents, credit cents).
_Line = tuple[int, bytes, list[bytes], int, int]
_T = TypeVar("_T")

#: Every record the reader yields.
FecRecord = Customer | LedgerLine | LedgerSale | SourceBalance | Rejected


@dataclass(frozen=True)
class FecBounds:
    """How large a line, a field and an entry may be (`[limits]`): beyond, the file is broken.

    A real FEC line is a few hundred bytes and an entry a few hundred lines; a line of
    megabytes or an entry of millions of lines would only eat the memory of the machine.
    """

    line_bytes: int = 64 * 1024
    field_bytes: int = 4 * 1024
    entry_lines: int = 50_000


class FecConnector:
    """A FEC file as a source of customers, invoice and credit lines, and sales."""

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
        bounds: FecBounds | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.currency = currency
        self.default_terms = default_terms
        self.terms = dict(terms or {})
        self.encoding = encoding
        self.bounds = bounds or FecBounds()

    def check(self) -> None:
        """Read the whole file as `sync` reads it; raise ConfigError or DataError if unusable.

        The header first (a wrong file is said at once), then every line by the engine
        `sync` uses, into a throwaway in-memory database: a file cut short, a bad amount or
        a line over its bound fails `check` as it would fail the night's sync, naming the
        line. Nothing is kept.
        """
        import duckdb

        with _open(self.path) as handle:
            lines = _split_lines(handle, self.path, self.bounds.line_bytes)
            _Header.read(next(lines, b""), self.path, self._encoding())
        scratch = duckdb.connect()
        try:
            self.stage(scratch)
        finally:
            scratch.close()

    def pull(self, position: str | None) -> Pull:
        """The whole file, unless it is still the one `position` describes."""
        try:
            status = self.path.stat()
        except OSError:
            status = None  # reading says why
        stamp = f"{status.st_size}:{status.st_mtime_ns}:" if status else ""
        old_stamp, _, old_digest = (position or "").rpartition(":")
        if status and position and f"{old_stamp}:" == stamp:
            return Pull(
                records=iter(()), position=lambda: position, replace_all=False, unchanged=True
            )
        if status and old_stamp.partition(":")[0] != str(status.st_size):
            # Another size: changed for sure. Its digest is worked out while it is read.
            later = _in_background(self.fingerprint)
            return Pull(
                records=self.records(),
                position=lambda: stamp + later.result(),
                replace_all=True,
                stage=self.stage,
            )
        digest = self.fingerprint()
        if digest == old_digest:  # touched, not changed
            return Pull(
                records=iter(()), position=lambda: stamp + digest, replace_all=False, unchanged=True
            )
        return Pull(
            records=self.records(),
            position=lambda: stamp + digest,
            replace_all=True,
            stage=self.stage,
        )

    def stage(self, db: Any, previous: str | None = None) -> None:
        """The records of `records()`, read by the engine into tables of `db`.

        `db` is a DuckDB connection; `previous` the fingerprint of the index of the last
        read, which `db` shows (see `connectors/fec_engine.py` and `fec_changes.py`).
        """
        from encours.connectors.fec_engine import stage_fec

        stage_fec(db, self, previous)

    def fingerprint(self) -> str:
        """A digest of the file's bytes: sync reads the file again only when it changes."""
        digest = hashlib.sha256()
        with _open(self.path) as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        return digest.hexdigest()

    def records(self) -> Iterator[FecRecord]:
        """Every record of the file, entry by entry (see the module docstring)."""
        encoding = self._encoding()
        with _open(self.path) as handle:
            lines = _split_lines(handle, self.path, self.bounds.line_bytes)
            header = _Header.read(next(lines, b""), self.path, encoding)
            yield from _EntryReader(self, encoding, header).read(lines)

    def _encoding(self) -> str:
        return self.encoding if self.encoding != "auto" else _sniff_encoding(self.path)


def check_header(path: Path, encoding: str = "auto") -> None:
    """Check that `path` can be opened and starts with a FEC's header, reading only that line.

    What `encours init` asks before it writes a path: ConfigError when the file is missing or
    unreadable, DataError when its first line is no FEC header (the message names the file and
    the columns missing). The rest of the file is `check`'s and `sync`'s to read.
    """
    with _open(path) as handle:
        first = next(_split_lines(handle, path, FecBounds().line_bytes), b"")
    _Header.read(first, path, encoding if encoding != "auto" else _sniff_encoding(path))


class _EntryReader:
    """Reads lines, gathers them into entries, and turns each entry into records.

    The loop over lines is the hot path of a whole sync (millions of lines): amounts in the
    usual form ("1234,56") are read inline, any other form through `_Header.amounts`, which
    checks it and says where it is wrong.

    How lines become entries, whatever order the program wrote them in:

    - a run of adjacent lines with the same `JournalCode`, `EcritureNum` and `EcritureDate`
      is a fragment; a fragment that balances is an entry of its own (so numbers repeated
      across days, years or blocks, or 0 on every line, still give every entry);
    - a fragment that does not balance waits for the other fragments of its `JournalCode` and
      `EcritureNum`, wherever they stand in the file, and becomes one entry with them as soon
      as they balance together (entries interleaved line by line);
    - what still does not balance at the end of the file is quarantined, one record per
      entry, with every one of its lines.

    Every line on a customer account also adds to that customer's ledger balance, whatever
    becomes of its entry: the balance the figures are checked against.
    """

    def __init__(self, connector: FecConnector, encoding: str, header: _Header) -> None:
        self.source = connector.source
        self.path = connector.path
        self.currency = connector.currency
        self.default_terms = connector.default_terms
        self.terms = connector.terms
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.header = header
        at = header.index
        self.i_account, self.i_aux, self.i_let = (
            at["CompteNum"],
            at["CompAuxNum"],
            at["EcritureLet"],
        )
        self.customers: dict[bytes, str] = {}
        self.ledger: dict[str, int] = {}  # customer id -> balance of its accounts, in cents
        self.dates: dict[bytes, str] = {}
        self.entry_days: set[bytes] = set()
        self.due: dict[tuple[int, str], tuple[str, ...]] = {}
        self.waiting: dict[tuple[bytes, bytes], tuple[int, list[_Line]]] = {}
        self.waiting_lines = 0
        self.bounds = connector.bounds

    def read(self, handle: Iterable[bytes]) -> Iterator[FecRecord]:
        """Every record of the lines after the header, then each customer's ledger balance."""
        header = self.header
        width, separator = header.width, header.separator
        i_journal, i_entry = header.index["JournalCode"], header.index["EcritureNum"]
        i_debit, i_credit, signed = header.debit_index, header.credit_index, header.signed
        i_date, entry_days = header.index["EcritureDate"], self.entry_days
        long_line = min(self.bounds.field_bytes, self.bounds.line_bytes)
        fragment: list[_Line] = []
        fragment_key: tuple[bytes, bytes, bytes] | None = None
        for number, text in enumerate(handle, start=2):
            fields = text.rstrip(b"\r\n").split(separator)
            if len(fields) < width:
                if not text.strip():
                    continue
                raise DataError(
                    f"{self.path}, line {number}: {len(fields)} columns where the header has "
                    f"{width}; the file may be cut or use another separator"
                )
            if len(text) > long_line:
                self._check_fields(fields, number)
            if fields[i_date] not in entry_days:  # every line's date is checked, once per day
                self._day(fields[i_date], "EcritureDate", number)
                entry_days.add(fields[i_date])
            debit_text, credit_text = fields[i_debit], fields[i_credit]
            if (
                not signed
                and debit_text[-3:-2] == b","
                and credit_text[-3:-2] == b","
                and debit_text[:-3].isdigit()
                and credit_text[:-3].isdigit()
                and debit_text[-2:].isdigit()
                and credit_text[-2:].isdigit()
            ):
                debit = int(debit_text[:-3]) * 100 + int(debit_text[-2:])
                credit = int(credit_text[:-3]) * 100 + int(credit_text[-2:])
            else:
                debit, credit = header.amounts(fields, number, self.path)
            if debit >= MAX_CENTS or credit >= MAX_CENTS:
                raise DataError(
                    f"{self.path}, line {number}: an amount of {max(debit, credit) // 100:,} is "
                    "not plausible; check the export"
                )
            key = (fields[i_journal], fields[i_entry], fields[i_date])
            if key != fragment_key:
                if fragment:
                    yield from self._decoded(self._fragment, fragment)
                fragment = []
                fragment_key = key
            elif len(fragment) >= self.bounds.entry_lines:
                self._too_large(fragment)
            fragment.append((number, text, fields, debit, credit))
        if fragment:
            yield from self._decoded(self._fragment, fragment)
        for _, lines in self.waiting.values():
            yield self._decoded(self._unbalanced, lines)
        yield from self._balances()

    def _fragment(self, lines: list[_Line]) -> list[FecRecord]:
        """Adjacent lines of one entry: an entry if they balance, else they wait (see above)."""
        records = self._customers_of(lines)
        balance = sum(line[3] - line[4] for line in lines)
        if balance == 0:
            return records + self._entry(lines)
        first = lines[0][2]
        key = (first[self.header.index["JournalCode"]], first[self.header.index["EcritureNum"]])
        waiting_balance, waiting = self.waiting.pop(key, (0, []))
        self.waiting_lines -= len(waiting)
        waiting.extend(lines)
        if waiting_balance + balance == 0:
            return records + self._entry(waiting)
        self.waiting[key] = (waiting_balance + balance, waiting)
        self.waiting_lines += len(waiting)
        bound = self.bounds.entry_lines
        if len(waiting) > bound or self.waiting_lines > 4 * bound:
            self._too_large(waiting)
        return records

    def _check_fields(self, fields: list[bytes], number: int) -> None:
        """DataError naming the first field longer than the bound."""
        names = {position: name for name, position in self.header.index.items()}
        for position, field in enumerate(fields):
            if len(field) > self.bounds.field_bytes:
                column = names.get(position, f"#{position + 1}")
                raise DataError(
                    f"{self.path}, line {number}, column {column}: {len(field):,} bytes, more "
                    f"than the {self.bounds.field_bytes:,} a FEC field may have here; the "
                    "export is broken (or raise [limits] fec_max_field_bytes)"
                )

    def _too_large(self, lines: list[_Line]) -> None:
        """DataError: an entry, or what waits for the rest of its entries, is too large."""
        raise DataError(
            f"{self.path}, line {lines[-1][0]}: more than {self.bounds.entry_lines:,} lines wait "
            f"to form balanced entries (the entry at line {lines[0][0]} among them); the export "
            "is broken (or raise [limits] fec_max_entry_lines)"
        )

    def _customers_of(self, lines: list[_Line]) -> list[FecRecord]:
        """A `Customer` for each customer account seen for the first time; ledger balances."""
        records: list[FecRecord] = []
        for line in lines:
            account = line[2][self.i_account].strip()
            if not account.startswith(CUSTOMER_ACCOUNTS):
                continue
            aux = line[2][self.i_aux].strip() or account
            customer_id = self.customers.get(aux)
            if customer_id is None:
                customer = self._customer(line, aux)
                self.customers[aux] = customer_id = customer.external_id
                records.append(customer)
            self.ledger[customer_id] = self.ledger.get(customer_id, 0) + line[3] - line[4]
        return records

    def _decoded(self, step: Callable[[list[_Line]], _T], lines: list[_Line]) -> _T:
        """`step(lines)`, with bytes that are not in the file's encoding reported where they are."""
        try:
            return step(lines)
        except UnicodeDecodeError:
            names = {position: name for name, position in self.header.index.items()}
            for number, _, fields, _, _ in lines:
                for position, field in enumerate(fields):
                    try:
                        field.decode(self.encoding)
                    except UnicodeDecodeError:
                        column = names.get(position, f"#{position + 1}")
                        raise DataError(
                            f"{self.path}, line {number}, column {column}: bytes that are not "
                            f'{self.encoding}; set `encoding = "iso-8859-15"` (or the '
                            "right one) in the source's settings"
                        ) from None
            raise

    def _entry(self, lines: list[_Line]) -> list[FecRecord]:
        """The records of one balanced entry.

        A debit on a customer account is an invoice when the entry credits sales (70x), a
        credit is a credit note when the entry debits them (it reverses a sale); see
        `_ledger_line` for the rest.
        """
        at = self.header.index
        first_number, _, first, _, _ = lines[0]
        entry_id = f"{self._text(first[at['JournalCode']])}/{self._text(first[at['EcritureNum']])}"
        i_account = self.i_account
        sells = reverses_sale = False
        sales = 0
        customer_lines = []
        for line in lines:
            account = line[2][i_account].strip()
            if account.startswith(SALES_PREFIX):
                sells = sells or line[4] > line[3]
                reverses_sale = reverses_sale or line[3] > line[4]
                sales += line[4] - line[3]
            elif account.startswith(VAT_PREFIXES):
                sales += line[4] - line[3]
            elif account.startswith(CUSTOMER_ACCOUNTS):
                customer_lines.append((line, account))
        records: list[FecRecord] = []
        customers = set()
        for line, account in customer_lines:
            customer_id = self.customers[line[2][self.i_aux].strip() or account]
            customers.add(customer_id)
            if line[3] != line[4]:
                records.append(
                    self._ledger_line(
                        f"{entry_id}/L{line[0]}",
                        line,
                        account,
                        customer_id,
                        sells=sells,
                        reverses_sale=reverses_sale,
                    )
                )
        if sells or reverses_sale:
            booked_on = self._day(first[at["EcritureDate"]], "EcritureDate", first_number)
            records.append(
                LedgerSale(
                    self.source,
                    f"{entry_id}/L{first_number}",
                    customers.pop() if len(customers) == 1 else None,
                    booked_on,
                    sales,
                    b"".join(line[1] for line in lines).decode(self.encoding).rstrip("\r\n"),
                )
            )
        return records

    def _ledger_line(
        self,
        external_id: str,
        line: _Line,
        account: bytes,
        customer_id: str,
        *,
        sells: bool,
        reverses_sale: bool,
    ) -> LedgerLine:
        """One line on a customer account.

        A debit is unbilled on 4181, the use of an advance on 4191 (it settles nothing: the
        411 credit of the same entry does), an invoice when the entry sells or on 416, else
        another debit. A credit is an advance on 4191, a credit note when the entry reverses
        a sale, else a payment.
        """
        at = self.header.index
        number, text, fields, debit, credit = line
        amount = debit - credit
        booked_on = self._day(fields[at["EcritureDate"]], "EcritureDate", number)
        code = fields[self.i_let].strip()
        match_ref = f"{account.decode('ascii', 'replace')}:{self._text(code)}" if code else None
        matched_on = self._optional_day(fields[at["DateLet"]], "DateLet", number) if code else None
        due_lines: tuple[tuple[str, int], ...] = ()
        assumed = False
        if amount > 0:
            if account.startswith(b"4181"):
                kind = InvoiceKind.UNBILLED.value
            elif account.startswith(b"4191"):
                kind = InvoiceKind.ADVANCE_USE.value
            elif sells or account.startswith(b"416"):
                kind = InvoiceKind.INVOICE.value
            else:
                kind = InvoiceKind.DEBIT.value
            if kind in (InvoiceKind.UNBILLED.value, InvoiceKind.ADVANCE_USE.value):
                # Nothing falls due on unbilled revenue or on an advance being used up.
                due_lines = ((booked_on, amount),)
            else:
                piece_on = self._optional_day(fields[at["PieceDate"]], "PieceDate", number)
                terms = self.terms.get(customer_id)
                assumed = terms is None
                due_lines = self._due_lines(
                    terms or self.default_terms, piece_on or booked_on, amount
                )
        elif account.startswith(b"4191"):
            kind = CreditKind.ADVANCE.value
        elif reverses_sale:
            kind = CreditKind.CREDIT_NOTE.value
        else:
            kind = CreditKind.PAYMENT.value
        return LedgerLine(
            self.source,
            external_id,
            customer_id,
            kind,
            booked_on,
            self._text(fields[at["PieceRef"]]) or None,
            abs(amount),
            due_lines,
            account.startswith(b"416"),
            assumed,
            match_ref,
            matched_on,
            text.decode(self.encoding).rstrip("\r\n"),
        )

    def _customer(self, line: _Line, aux: bytes) -> Customer:
        at = self.header.index
        fields = line[2]
        customer_id = self._text(aux)
        label = (
            fields[at["CompAuxLib"]]
            if fields[at["CompAuxNum"]].strip()
            else fields[at["CompteLib"]]
        )
        terms = self.terms.get(customer_id)
        return Customer(
            source=self.source,
            external_id=customer_id,
            name=self._text(label) or customer_id,
            payment_terms_days=terms.lines[-1].days if terms else None,
            terms_end_of_month=bool(terms and terms.lines[-1].end_of_month),
            raw=line[1].decode(self.encoding).rstrip("\r\n"),
        )

    def _unbalanced(self, lines: list[_Line]) -> Rejected:
        """An entry whose lines, gathered from the whole file, do not balance."""
        at = self.header.index
        first = lines[0][2]
        entry_id = f"{self._text(first[at['JournalCode']])}/{self._text(first[at['EcritureNum']])}"
        debit = sum(line[3] for line in lines)
        credit = sum(line[4] for line in lines)
        return Rejected(
            source=self.source,
            stream="entries",
            external_id=entry_id,
            reason=(
                f"entry {entry_id} ({_line_ranges([line[0] for line in lines])}) does not "
                f"balance: debit {to_decimal(debit, self.currency)}, credit "
                f"{to_decimal(credit, self.currency)}; its lines on customer accounts are "
                "left out of the figures. Fix it in the accounting software and export again"
            ),
            raw=b"".join(line[1].rstrip(b"\r\n") + b"\n" for line in lines)
            .decode(self.encoding)
            .rstrip("\n"),
        )

    def _balances(self) -> Iterator[SourceBalance]:
        """Each customer's ledger balance, as of the last entry date of the file."""
        if not self.entry_days:
            return
        as_of = max(self.dates[day] for day in self.entry_days)
        for customer_id, cents in self.ledger.items():
            yield SourceBalance(
                source=self.source,
                external_id=customer_id,
                as_of=date.fromisoformat(as_of),
                amount=Money.from_minor(cents, self.currency),
                basis=LEDGER_BASIS,
            )

    def _day(self, text: bytes, column: str, number: int) -> str:
        """YYYYMMDD (or YYYY-MM-DD) to ISO text, cached: a ledger repeats the same days."""
        day = self._optional_day(text, column, number)
        if day is None:
            raise DataError(f"{self.path}, line {number}, column {column}: the date is empty")
        return day

    def _optional_day(self, text: bytes, column: str, number: int) -> str | None:
        """Like `_day`, but an empty field is None."""
        day = self.dates.get(text)
        if day is not None:
            return day
        stripped = text.strip()
        if not stripped:
            return None
        digits = stripped.replace(b"-", b"") if len(stripped) == 10 else stripped
        try:
            if len(digits) != 8 or not digits.isdigit():
                raise ValueError
            day = plausible(date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))).isoformat()
        except ValueError:
            shown = stripped.decode("latin-1")
            raise DataError(
                f"{self.path}, line {number}, column {column}: {shown!r} is not a date in the "
                "form YYYYMMDD"
            ) from None
        self.dates[text] = day
        return day

    def _text(self, raw: bytes) -> str:
        return raw.decode(self.encoding).strip()

    def _due_lines(
        self, terms: PaymentTerms, issued_on: str, amount: int
    ) -> tuple[tuple[str, int], ...]:
        """The due lines of an invoice of `amount` dated `issued_on`, by `terms`."""
        key = (id(terms), issued_on)
        dates = self.due.get(key)
        if dates is None:
            dates = tuple(d.isoformat() for d in terms.due_dates(date.fromisoformat(issued_on)))
            self.due[key] = dates
        if len(dates) == 1:
            return ((dates[0], amount),)
        lines = tuple(
            (d, part) for d, part in zip(dates, terms.amounts(amount), strict=True) if part
        )
        return lines or ((dates[-1], amount),)


class _Header:
    """Where each column is, for the variant this file uses."""

    def __init__(self, separator: bytes, width: int, index: dict[str, int], signed: bool) -> None:
        self.separator = separator
        self.width = width
        self.index = index
        self.signed = signed
        self.debit_index = index["Montant" if signed else "Debit"]
        self.credit_index = index["Sens" if signed else "Credit"]

    @classmethod
    def read(cls, line: bytes, path: Path, encoding: str) -> _Header:
        """Find the separator and the columns; DataError when the header is not a FEC's."""
        text = line.decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r\n")
        if "\t" in text:
            separator = "\t"
        elif "|" in text:
            separator = "|"
        else:
            raise DataError(
                f"{path}, line 1: no tab or | separator in the header; a FEC starts with a "
                "line of column names (JournalCode, JournalLib, EcritureNum, ...)"
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
        return cls(
            separator.encode("ascii"),
            len(names),
            {name: index[name.lower()] for name in required + COLUMNS_AFTER},
            signed,
        )

    def amounts(self, fields: list[bytes], number: int, path: Path) -> tuple[int, int]:
        """(debit, credit) of a line in cents, both >= 0."""
        if self.signed:
            amount = _cents(fields[self.debit_index], "Montant", number, path)
            sign = fields[self.credit_index].strip().upper()
            if sign in (b"D", b"+1", b"1"):
                debit, credit = amount, 0
            elif sign in (b"C", b"-1"):
                debit, credit = 0, amount
            else:
                raise DataError(
                    f"{path}, line {number}, column Sens: {sign.decode('latin-1')!r} is "
                    "neither D nor C"
                )
        else:
            debit = _cents(fields[self.debit_index], "Debit", number, path)
            credit = _cents(fields[self.credit_index], "Credit", number, path)
        if debit < 0 or credit < 0:  # a negative debit is a credit, and the other way round
            debit, credit = max(debit, 0) - min(credit, 0), max(credit, 0) - min(debit, 0)
        return debit, credit


def _cents(text: bytes, column: str, number: int, path: Path) -> int:
    """A FEC amount to integer cents, exactly: b'000000001 234,50' -> 123450, b'-12.5' -> -1250."""
    # The common case first: digits, a comma, two digits.
    if len(text) > 3 and text[-3] == 44:  # b","
        head, tail = text[:-3], text[-2:]
        if head.isdigit() and tail.isdigit():
            return int(head) * 100 + int(tail)
    compact = text.replace(b" ", b"").replace(b"\xa0", b"")
    if not compact:
        return 0
    negative = compact[:1] == b"-"
    if compact[:1] in (b"+", b"-"):
        compact = compact[1:]
    units, _, fraction = compact.replace(b",", b".").partition(b".")
    if len(fraction) > 2:
        fraction = fraction.rstrip(b"0")
    if not units.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 2:
        raise DataError(
            f"{path}, line {number}, column {column}: {text.decode('latin-1').strip()!r} is "
            "not an amount; write it like 1234,56"
        )
    cents = int(units) * 100 + int(fraction.ljust(2, b"0"))
    return -cents if negative else cents


def _split_lines(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[bytes]:
    """The file's lines, whatever ends them: LF, CRLF, CR CR LF, or CR alone.

    The first three end with LF, which the reader's `rstrip` cleans; a file with no LF in its
    first megabyte but CRs is split on CR, a megabyte at a time. A line longer than
    `max_bytes` is a DataError naming it, read no further.
    """
    head = handle.read(SNIFF_BYTES)
    handle.seek(0)
    number = 0
    if b"\n" in head or b"\r" not in head:
        while line := handle.readline(max_bytes + 1):
            number += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                raise _line_too_long(path, number, max_bytes)
            yield line
        return
    rest = b""
    while chunk := handle.read(SNIFF_BYTES):
        lines = (rest + chunk).split(b"\r")
        rest = lines.pop()
        for line in lines:
            number += 1
            if len(line) > max_bytes:
                raise _line_too_long(path, number, max_bytes)
            yield line
        if len(rest) > max_bytes:
            raise _line_too_long(path, number + 1, max_bytes)
    if rest:
        yield rest


def _line_too_long(path: Path, number: int, max_bytes: int) -> DataError:
    return DataError(
        f"{path}, line {number}: longer than {max_bytes:,} bytes, which no FEC line is; the "
        "export is broken (or raise [limits] fec_max_line_bytes)"
    )


def _line_ranges(numbers: list[int]) -> str:
    """Line numbers as ranges: [5, 6, 7, 12] -> "lines 5-7, 12"; [3] -> "line 3"."""
    ranges: list[list[int]] = []
    for number in sorted(numbers):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)
    return f"line{'s' if len(numbers) > 1 else ''} {text}"


class _open:  # noqa: N801 - used like open()
    """Open the file in binary, turning OS errors into ConfigError with the path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> BinaryIO:
        try:
            self.handle = self.path.open("rb")
        except FileNotFoundError:
            raise ConfigError(
                f"FEC file {self.path} does not exist: check `path` in the source's settings"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read FEC file {self.path}: {exc.strerror}") from None
        return self.handle

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()


def _sniff_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8, or ISO-8859-15 (the encoding of the FEC rules), from the start."""
    with _open(path) as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # In a sample cut from a larger file, the last character may be cut in two.
        if len(head) < SNIFF_BYTES or exc.start < len(head) - 4:
            return "iso-8859-15"
    return "utf-8"


def _in_background(work: Callable[[], str]) -> Future[str]:
    """`work()` on a thread of its own (hashlib and file reads let other threads run)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encours-fec-digest")
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)
