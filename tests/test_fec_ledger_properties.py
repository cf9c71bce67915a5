"""Property: whatever shape a FEC ledger takes, the figures are the ledger's own balances.

Hypothesis writes small ledgers the way accounting programs export them: customers on
auxiliary accounts (`CompAuxNum`) or on sub-accounts (`411DUPONT`); sales invoices (411 /
70x / 4457x, sometimes one 411 line per instalment, now and then a free one at 0,00), some
customers on instalment terms in the config; credit notes; payments in full, in part or
more than was due, alone or in a remittance of several customers' cheques, sometimes
returned unpaid; lettered with what they settle (`EcritureLet` + `DateLet`: codes for full
and partial matches, in capitals and lower case, or only for full ones, or none; counted per
account or through the file); payments on account; money moved from one customer to
another; advances received on 4191, applied to an invoice by an entry debiting 4191 and
crediting 411 (the 4191 lines lettered together or not); unbilled revenue on 4181 and its
reversal; doubtful receivables moved to 416; bills receivable on 413. Each file then takes
one of the shapes the reader documents (`connectors/fec.py`):

- entry numbers unique per journal: lines in any order (shuffled, sorted by validation day
  with entries of one day interleaved, sorted by account, or entry by entry);
- numbers restarting at 1 each year: each year's lines together, in any order within it;
- numbers repeated (each year, or 0 on every line): every entry's lines adjacent, the
  entries in any order;

with every line end (LF, CRLF, CR, CR CR LF, last line ended or not), tab or `|`,
`Debit`/`Credit` or `Montant`/`Sens`, amounts with a comma, plain, zero- or space-padded or
in thousands, zeros written `0,00`, padded or empty, reversals in red ink (a negative amount
on the side they reverse) or not, codes and numbers padded with spaces or not, in UTF-8 (BOM
or not) or ISO-8859-15.

After `encours sync`, for every customer and for as-of dates before, inside and after the
ledger's dates, `encours status --json` must give:

a. `outstanding` = the customer's ledger balance, Σ(debit − credit) of its lines on 411,
   413, 416, 4181 and 4191 dated (`EcritureDate`) on or before the date, to the cent;
b. aging columns that add up to the outstanding;
c. overdue + not_due + unbilled − unapplied = outstanding;
d. a balance check that agrees with the ledger: difference 0.00 for every customer, none
   differing in total;
e. nothing quarantined (every generated entry balances);
f. unapplied ≥ 0, no aging column but `unapplied` negative, and no due line with a negative
   residual in the store the figures are read from.

Money is compared in integer cents or Decimal, never floats.

The second property, on the same ledgers, is marked as an expected failure: an advance
applied to an invoice stays open, aged like an overdue invoice, until the date its 4191
lines are lettered (see `ADVANCE_USED_IN_TWO_GOES`).
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from encours.cli import cli
from encours.model import InvoiceKind
from encours.sync.store import Store

# The project's hypothesis conventions (tests/test_properties.py). Each example runs a whole
# sync and five status reports through the CLI, 20-80 ms: about 5 s for the hundred.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: The 18 columns of the norm (article A47 A-1 of the LPF), and the Montant/Sens variant.
COLUMNS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)  # fmt: skip
COLUMNS_SIGNED = tuple({"Debit": "Montant", "Credit": "Sens"}.get(c, c) for c in COLUMNS)

RECEIVABLES = ("411", "413", "416", "4181", "4191")
GENERAL = {"411": "411000", "413": "413000", "416": "416000", "4181": "418100", "4191": "419100"}
ACCOUNT_LABELS = {
    "411": "Clients",
    "413": "Clients - Effets à recevoir",
    "416": "Clients douteux ou litigieux",
    "4181": "Clients - Factures à établir",
    "4191": "Clients - Avances et acomptes reçus",
    "44571": "TVA collectée",
    "44587": "TVA sur factures à établir",
    "512": "Banque",
    "706": "Prestations de services",
    "707": "Ventes de marchandises",
}
JOURNALS = {"VT": "Ventes", "BQ": "Banque", "OD": "Opérations diverses"}
NAMES = ("Dupont & Fils", "Société Étoile", "Müller SARL", "Bâtiments Œuvre", "Lefèvre")
TERMS = (None, None, 60, "45 fin de mois", "30% 0, 70% 60", "30% 0, 70% 60")
LINE_ENDS = ("\n", "\r\n", "\r", "\r\r\n")
VAT_RATES = (200, 200, 100, 55, 0)  # per mille: 20 %, 10 %, 5.5 %, none (exports)

START = date(2024, 11, 15)  # the ledger spans the turn of a year: numbers may restart
SPAN = 100  # days of first dates drawn; settlements follow up to LATER days after theirs
LATER = 75


def day(offset: int) -> date:
    return START + timedelta(days=offset)


# -- the ledger, as bookkeeping events --------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """A customer: on 411000 + CompAuxNum, or on its own sub-accounts (`411DUPONT`).

    With sub-accounts, its other receivable accounts are its own too (`4191DUPONT`) or the
    general ones without a `CompAuxNum` (`419100`): either way the reader's customer is the
    `CompAuxNum`, else the account.
    """

    code: str
    name: str
    sub: bool
    others_sub: bool
    terms: int | str | None

    def place(self, family: str) -> tuple[str, str, str, str]:
        """(CompteNum, CompteLib, CompAuxNum, CompAuxLib) of a line on an account family."""
        if not self.sub:
            return GENERAL[family], ACCOUNT_LABELS[family], self.code, self.name
        if family == "411" or self.others_sub:
            return family + self.code, self.name, "", ""
        return GENERAL[family], ACCOUNT_LABELS[family], "", ""

    @property
    def key(self) -> str:
        """The id of its 411 customer, which its terms are configured under."""
        return self.code if not self.sub else "411" + self.code


@dataclass(eq=False)
class Line:
    account: str
    account_label: str
    aux: str
    aux_label: str
    debit: int
    credit: int
    let: str = ""
    date_let: date | None = None
    red_ink: bool = False  # a reversal: may be written as a negative amount on the other side
    entry: Entry | None = field(default=None, repr=False)

    @property
    def customer(self) -> str | None:
        """The reader's customer of this line: CompAuxNum, else the account; None off 41x."""
        if not self.account.startswith(RECEIVABLES):
            return None
        return self.aux or self.account


@dataclass(eq=False)
class Entry:
    journal: str
    day: date
    piece: str
    label: str
    lines: list[Line]
    piece_day: date
    valid_day: date
    number: str = ""


@dataclass(eq=False)
class Group:
    """Lines lettered together (or meant to be) on one account of one customer."""

    namespace: tuple[str, str]
    lines: list[Line] = field(default_factory=list)

    @property
    def balance(self) -> int:
        return sum(line.debit - line.credit for line in self.lines)


@dataclass(eq=False)
class Receivable:
    """An open debit settlements may target: an invoice, a 416 or 413 transfer, an advance
    (on 4191, a credit: `left` is what is still to use), unbilled revenue."""

    client: Client
    family: str
    day: date
    piece: str
    left: int
    group: Group
    ht: int = 0
    rate: int = 0


def vat_of(ht: int, rate: int) -> int:
    return (ht * rate + 500) // 1000


def other_line(account: str, debit: int = 0, credit: int = 0) -> Line:
    """A line off the customer accounts (bank, sales, VAT), labelled by its family."""
    family = next(f for f in (account[:5], account[:3]) if f in ACCOUNT_LABELS)
    return Line(account, ACCOUNT_LABELS[family], "", "", debit, credit)


class Book:
    """The entries drawn so far, and what settlements may still target."""

    def __init__(self, draw: st.DrawFn, clients: list[Client]) -> None:
        self.draw = draw
        self.clients = clients
        self.entries: list[Entry] = []
        self.groups: list[Group] = []
        self.invoices: list[Receivable] = []
        self.receivables: list[Receivable] = []  # invoices, 416 and 413 transfers
        self.advances: list[Receivable] = []
        self.unbilled: list[Receivable] = []
        self.paid: list[tuple[Line, Receivable]] = []  # payments a bank may still bounce
        self.pieces = 0

    # helpers

    def piece(self, prefix: str) -> str:
        self.pieces += 1
        return f"{prefix}{self.pieces:04d}"

    def later(self, *after: date) -> date:
        return max(after) + timedelta(days=self.draw(st.integers(0, LATER)))

    def entry(self, journal: str, on: date, piece: str, label: str, lines: list[Line]) -> Entry:
        back = self.draw(st.sampled_from([0, 0, 0, 1, 3]))  # a piece dated before its booking
        entry = Entry(
            journal,
            on,
            piece,
            label,
            lines,
            piece_day=on - timedelta(days=back),
            valid_day=on + timedelta(days=self.draw(st.sampled_from([0, 0, 1, 4]))),
        )
        for line in lines:
            line.entry = entry
        self.entries.append(entry)
        return entry

    def customer_line(self, client: Client, family: str, debit: int = 0, credit: int = 0) -> Line:
        account, label, aux, aux_label = client.place(family)
        return Line(account, label, aux, aux_label, debit, credit)

    def group(self, line: Line) -> Group:
        group = Group((line.account, line.aux))
        group.lines.append(line)
        self.groups.append(group)
        return group

    def letter(self, group: Group, line: Line, *, usually: bool = True) -> None:
        """Put `line` in `group`, unless this program left it without a code."""
        if self.draw(st.integers(0, 4)) < (4 if usually else 2):
            group.lines.append(line)

    def sales_lines(self, ht: int, rate: int, *, unbilled: bool, reverse: bool) -> list[Line]:
        vat = vat_of(ht, rate)
        split = self.draw(st.integers(0, ht)) if ht > 1 and self.draw(st.booleans()) else ht
        amounts = [("706000", split), ("707000", ht - split)]
        amounts.append(("445870" if unbilled else "445710", vat))
        lines = [
            other_line(account, debit=amount if reverse else 0, credit=0 if reverse else amount)
            for account, amount in amounts
            if amount
        ]
        for line in lines:
            line.red_ink = reverse
        return lines

    def open(self, pool: list[Receivable]) -> list[Receivable]:
        return [r for r in pool if r.left > 0]

    # events

    def invoice(self) -> None:
        client = self.draw(st.sampled_from(self.clients))
        on = day(self.draw(st.integers(0, SPAN)))
        ht = self.draw(st.sampled_from([0, None, None, None, None])) or self.draw(
            st.integers(1, 2_000_000)
        )  # now and then a free invoice, all its lines 0,00
        rate = self.draw(st.sampled_from(VAT_RATES))
        ttc = ht + vat_of(ht, rate)
        piece = self.piece("F")
        # Some programs write one 411 line per instalment (échéance) of the invoice.
        first = self.draw(st.integers(0, ttc)) if ttc > 1 and self.draw(st.booleans()) else ttc
        line = self.customer_line(client, "411", debit=first)
        own = [line]
        if first < ttc:
            own.append(self.customer_line(client, "411", debit=ttc - first))
        sales = self.sales_lines(ht, rate, unbilled=False, reverse=False) or [other_line("706000")]
        self.entry("VT", on, piece, f"Facture {piece} {client.name}", [*own, *sales])
        invoice = Receivable(client, "411", on, piece, ttc, self.group(line), ht, rate)
        invoice.group.lines.extend(own[1:])
        self.invoices.append(invoice)
        self.receivables.append(invoice)

    def payment(self) -> None:
        targets = self.open(self.receivables)
        if not targets:
            return self.on_account()
        target = self.draw(st.sampled_from(targets))
        amount = self.draw(st.sampled_from([target.left, target.left, None, -1])) or self.draw(
            st.integers(1, target.left)
        )
        if amount == -1:  # paid twice, or rounded up: more than is left
            amount = target.left + self.draw(st.integers(1, 100_000))
        on = self.later(target.day)
        piece = self.draw(st.sampled_from([target.piece, self.piece("VIR")]))
        line = self.customer_line(target.client, target.family, credit=amount)
        lines = [other_line("512000", debit=amount), line]
        self.entry("BQ", on, piece, f"Règlement {target.client.name}", lines)
        self.letter(target.group, line)
        target.left = max(target.left - amount, 0)
        self.paid.append((line, target))
        return None

    def remittance(self) -> None:
        """One bank entry for several customers' cheques: one 512 debit, a credit each."""
        targets = self.open(self.receivables)
        if len(targets) < 2:
            return self.payment()
        chosen = self.draw(st.lists(st.sampled_from(targets), min_size=2, max_size=3, unique=True))
        on = self.later(*(target.day for target in chosen))
        credits = []
        for target in chosen:
            amount = self.draw(st.sampled_from([target.left, None])) or self.draw(
                st.integers(1, target.left)
            )
            line = self.customer_line(target.client, target.family, credit=amount)
            self.letter(target.group, line)
            target.left -= amount
            self.paid.append((line, target))
            credits.append(line)
        bank = other_line("512000", debit=sum(line.credit for line in credits))
        lines = self.draw(st.permutations([bank, *credits]))
        self.entry("BQ", on, self.piece("REM"), "Remise de chèques", list(lines))
        return None

    def bounce(self) -> None:
        """A payment returned unpaid: debit the customer again; the accountant letters the
        payment with its return instead of with the invoice."""
        if not self.paid:
            return self.payment()
        paid, target = self.draw(st.sampled_from(self.paid))
        self.paid.remove((paid, target))
        assert paid.entry is not None
        on = self.later(paid.entry.day)
        back = self.customer_line(target.client, target.family, debit=paid.credit)
        lines = [back, other_line("512000", credit=paid.credit)]
        self.entry("BQ", on, self.piece("IMP"), f"Impayé {target.client.name}", lines)
        for group in self.groups:
            if paid in group.lines:
                group.lines.remove(paid)
        self.group(paid).lines.append(back)
        target.left += paid.credit
        return None

    def reclassify(self) -> None:
        """Money booked to the wrong customer moved to the right one (411 to 411)."""
        if len(self.clients) < 2:
            return self.on_account()
        wrong, right = self.draw(st.permutations(self.clients))[:2]
        amount = self.draw(st.integers(1, 500_000))
        on = day(self.draw(st.integers(0, SPAN)))
        lines = [
            self.customer_line(wrong, "411", debit=amount),
            self.customer_line(right, "411", credit=amount),
        ]
        self.entry("OD", on, self.piece("RCL"), f"Reclassement {wrong.name}", lines)
        targets = [r for r in self.open(self.invoices) if r.client == right and r.day <= on]
        if targets:
            target = self.draw(st.sampled_from(targets))
            self.letter(target.group, lines[1], usually=False)
            target.left -= min(amount, target.left)
        return None

    def on_account(self) -> None:
        client = self.draw(st.sampled_from(self.clients))
        amount = self.draw(st.integers(1, 1_000_000))
        on = day(self.draw(st.integers(0, SPAN)))
        line = self.customer_line(client, "411", credit=amount)
        lines = [other_line("512000", debit=amount), line]
        self.entry("BQ", on, self.piece("VIR"), f"Virement {client.name}", lines)

    def credit_note(self) -> None:
        targets = self.open(self.invoices)
        if not targets:
            return self.invoice()
        invoice = self.draw(st.sampled_from(targets))
        ht = self.draw(st.integers(1, max(invoice.ht, 1)))
        ttc = ht + vat_of(ht, invoice.rate)
        on = self.later(invoice.day)
        line = self.customer_line(invoice.client, "411", credit=ttc)
        line.red_ink = True
        lines = [*self.sales_lines(ht, invoice.rate, unbilled=False, reverse=True), line]
        piece = self.piece("AV")
        self.entry("VT", on, piece, f"Avoir {piece} sur {invoice.piece}", lines)
        self.letter(invoice.group, line, usually=False)
        invoice.left -= min(ttc, invoice.left)
        return None

    def advance(self) -> None:
        client = self.draw(st.sampled_from(self.clients))
        amount = self.draw(st.integers(1, 1_000_000))
        on = day(self.draw(st.integers(0, SPAN)))
        line = self.customer_line(client, "4191", credit=amount)
        piece = self.piece("AC")
        lines = [other_line("512000", debit=amount), line]
        self.entry("BQ", on, piece, f"Acompte {client.name}", lines)
        self.advances.append(Receivable(client, "4191", on, piece, amount, self.group(line)))

    def apply_advance(self) -> None:
        pairs = [
            (advance, invoice)
            for advance in self.open(self.advances)
            for invoice in self.open(self.invoices)
            if invoice.client == advance.client
        ]
        if not pairs:
            return self.advance()
        advance, invoice = self.draw(st.sampled_from(pairs))
        amount = self.draw(st.sampled_from([min(advance.left, invoice.left), None])) or (
            self.draw(st.integers(1, min(advance.left, invoice.left)))
        )
        on = self.later(advance.day, invoice.day)
        use = self.customer_line(advance.client, "4191", debit=amount)
        settles = self.customer_line(invoice.client, "411", credit=amount)
        self.entry("OD", on, invoice.piece, f"Imputation acompte {advance.piece}", [use, settles])
        self.letter(advance.group, use, usually=False)
        self.letter(invoice.group, settles)
        advance.left -= amount
        invoice.left -= amount
        return None

    def unbilled_revenue(self) -> None:
        client = self.draw(st.sampled_from(self.clients))
        on = day(self.draw(st.integers(0, SPAN)))
        ht = self.draw(st.integers(1, 1_000_000))
        rate = self.draw(st.sampled_from(VAT_RATES))
        ttc = ht + vat_of(ht, rate)
        line = self.customer_line(client, "4181", debit=ttc)
        piece = self.piece("FAE")
        lines = [line, *self.sales_lines(ht, rate, unbilled=True, reverse=False)]
        self.entry("OD", on, piece, f"Facture à établir {client.name}", lines)
        self.unbilled.append(Receivable(client, "4181", on, piece, ttc, self.group(line), ht, rate))

    def reverse_unbilled(self) -> None:
        targets = self.open(self.unbilled)
        if not targets:
            return self.unbilled_revenue()
        target = self.draw(st.sampled_from(targets))
        on = self.later(target.day)
        line = self.customer_line(target.client, "4181", credit=target.left)
        line.red_ink = True
        lines = [*self.sales_lines(target.ht, target.rate, unbilled=True, reverse=True), line]
        self.entry("OD", on, target.piece, f"Extourne {target.piece}", lines)
        self.letter(target.group, line, usually=False)
        target.left = 0
        return None

    def transfer(self, family: str) -> None:
        """The open rest of an invoice moved to 416 (doubtful) or 413 (a bill receivable)."""
        targets = self.open(self.invoices)
        if not targets:
            return self.invoice()
        invoice = self.draw(st.sampled_from(targets))
        on = self.later(invoice.day)
        moved = self.customer_line(invoice.client, family, debit=invoice.left)
        settles = self.customer_line(invoice.client, "411", credit=invoice.left)
        label = "Client douteux" if family == "416" else "Effet à recevoir"
        self.entry("OD", on, invoice.piece, f"{label} {invoice.piece}", [moved, settles])
        self.letter(invoice.group, settles)
        self.receivables.append(
            Receivable(invoice.client, family, on, invoice.piece, invoice.left, self.group(moved))
        )
        invoice.left = 0
        return None


EVENTS = (
    "invoice", "invoice", "invoice", "payment", "payment", "payment", "credit_note",
    "on_account", "advance", "apply_advance", "apply_advance", "unbilled", "reverse_unbilled",
    "doubtful", "bill", "remittance", "bounce", "reclassify",
)  # fmt: skip


def play(book: Book, event: str) -> None:
    actions = {
        "invoice": book.invoice,
        "payment": book.payment,
        "credit_note": book.credit_note,
        "on_account": book.on_account,
        "advance": book.advance,
        "apply_advance": book.apply_advance,
        "unbilled": book.unbilled_revenue,
        "reverse_unbilled": book.reverse_unbilled,
        "doubtful": lambda: book.transfer("416"),
        "bill": lambda: book.transfer("413"),
        "remittance": book.remittance,
        "bounce": book.bounce,
        "reclassify": book.reclassify,
    }
    actions[event]()


# -- lettrage codes, numbers, order, bytes -----------------------------------------------------


def code(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ..."""
    text = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        text = chr(65 + rest) + text
    return text


def letter_groups(draw: st.DrawFn, book: Book) -> None:
    """Give each group its code the way this file's program does.

    `case`: full matches in capitals, partial ones in lower case; `same`: one code whatever;
    `full_only`: partial matches get no code. Codes count per account and customer, or
    through the whole file. `DateLet`: the last line's date (a full match possibly later),
    or left empty by some programs.
    """
    style = draw(st.sampled_from(["case", "same", "full_only"]))
    per_account = draw(st.booleans())
    date_let = draw(st.sampled_from(["dated", "dated", "empty", "mixed"]))
    counters: dict[tuple[str, str] | None, int] = defaultdict(int)
    for group in book.groups:
        if len(group.lines) < 2:
            continue
        full = group.balance == 0
        if style == "full_only" and not full:
            continue
        namespace = group.namespace if per_account else None
        text = code(counters[namespace])
        counters[namespace] += 1
        if style == "case" and not full:
            text = text.lower()
        last = max(line.entry.day for line in group.lines if line.entry)
        if full:
            last += timedelta(days=draw(st.sampled_from([0, 0, 2, 20])))
        empty = date_let == "empty" or (date_let == "mixed" and draw(st.booleans()))
        for line in group.lines:
            line.let = text
            line.date_let = None if empty else last


def number_entries(book: Book, numbering: str) -> None:
    """EcritureNum: one sequence per journal, or per journal and year, or 0 everywhere."""
    counters: dict[tuple[str, int], int] = defaultdict(int)
    for entry in sorted(book.entries, key=lambda e: e.day):  # stable: creation order in a day
        if numbering == "zero":
            entry.number = "0"
            continue
        key = (entry.journal, entry.day.year if numbering == "yearly" else 0)
        counters[key] += 1
        entry.number = str(counters[key])


def lay_out(draw: st.DrawFn, entries: list[Entry], layout: str) -> list[Line]:
    """The order lines are written in."""
    if layout == "by_date":
        return [line for e in sorted(entries, key=lambda e: e.day) for line in e.lines]
    if layout == "by_journal":
        ordered = sorted(entries, key=lambda e: (e.journal, e.day.year, int(e.number or 0)))
        return [line for e in ordered for line in e.lines]
    if layout == "entries_shuffled":
        ordered = draw(st.permutations(entries))
        return [line for e in ordered for line in e.lines]
    lines = [line for e in entries for line in e.lines]
    if layout == "shuffled":
        return list(draw(st.permutations(lines)))
    ties = draw(st.permutations(range(len(lines))))
    if layout == "by_validation":  # the norm's order: entries validated one day interleave
        rank = {
            id(line): (line.entry.valid_day, tie) for line, tie in zip(lines, ties, strict=True)
        }
    else:  # "by_account"
        rank = {
            id(line): (line.account, line.entry.day, tie)
            for line, tie in zip(lines, ties, strict=True)
        }
    return sorted(lines, key=lambda line: rank[id(line)])


FREE = ("shuffled", "by_validation", "by_account", "by_date", "by_journal", "entries_shuffled")
CONTIGUOUS = ("by_date", "by_journal", "entries_shuffled")


def order_lines(draw: st.DrawFn, book: Book, numbering: str) -> list[Line]:
    """Lines in an order the reader documents for this numbering (see the module docstring)."""
    if numbering == "unique":
        return lay_out(draw, book.entries, draw(st.sampled_from(FREE)))
    if numbering == "yearly" and draw(st.booleans()):
        layout = draw(st.sampled_from(FREE))
        years = sorted({e.day.year for e in book.entries})
        return [
            line
            for year in years
            for line in lay_out(draw, [e for e in book.entries if e.day.year == year], layout)
        ]
    return lay_out(draw, book.entries, draw(st.sampled_from(CONTIGUOUS)))


@dataclass(frozen=True)
class Shape:
    separator: str
    end: str
    final_end: bool
    signed: bool
    padding: str  # "plain", "zeros", "spaces", "thousands"
    zero: str  # how a zero amount is written in Debit/Credit
    encoding: str
    red_ink: bool  # reversals as negative amounts on the side they reverse
    padded_text: bool  # codes and numbers padded with spaces to a fixed width


shapes = st.builds(
    Shape,
    separator=st.sampled_from(["\t", "|"]),
    end=st.sampled_from(LINE_ENDS),
    final_end=st.booleans(),
    signed=st.booleans(),
    padding=st.sampled_from(["plain", "plain", "zeros", "spaces", "thousands"]),
    zero=st.sampled_from(["0,00", "", "000000000000000,00"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "iso-8859-15"]),
    red_ink=st.booleans(),
    padded_text=st.booleans(),
)


def amount_text(cents: int, shape: Shape) -> str:
    """1234,56 as this file writes it; negative amounts with a leading minus."""
    if cents == 0:
        return shape.zero
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    text = f"{units:,}".replace(",", " ") if shape.padding == "thousands" else str(units)
    text = f"{text},{hundredths:02d}"
    if shape.padding == "zeros":
        return sign + text.rjust(18, "0")
    if shape.padding == "spaces":
        return (sign + text).rjust(18)
    return sign + text


def fields(line: Line, shape: Shape) -> list[str]:
    entry = line.entry
    assert entry is not None
    debit, credit = line.debit, line.credit
    if shape.red_ink and line.red_ink:  # C 100 written as D -100, and the other way round
        debit, credit = -credit, -debit
    if shape.signed:
        amounts = [amount_text(debit or credit, shape), "D" if debit else "C"]
    else:
        amounts = [amount_text(debit, shape), amount_text(credit, shape)]
    pad = shape.padded_text
    return [
        entry.journal,
        JOURNALS[entry.journal],
        entry.number.rjust(8) if pad else entry.number,
        f"{entry.day:%Y%m%d}",
        line.account.ljust(12) if pad else line.account,
        line.account_label,
        line.aux.ljust(10) if pad else line.aux,
        line.aux_label,
        entry.piece,
        f"{entry.piece_day:%Y%m%d}",
        entry.label,
        *amounts,
        line.let.ljust(4) if pad else line.let,
        f"{line.date_let:%Y%m%d}" if line.date_let else "",
        f"{entry.valid_day:%Y%m%d}",
        "",
        "",
    ]


def fec_bytes(lines: list[Line], shape: Shape) -> bytes:
    header = shape.separator.join(COLUMNS_SIGNED if shape.signed else COLUMNS)
    rows = [header, *(shape.separator.join(fields(line, shape)) for line in lines)]
    text = shape.end.join(rows) + (shape.end if shape.final_end else "")
    return text.encode(shape.encoding)


# -- the whole case ---------------------------------------------------------------------------


class Case:
    """A ledger drawn, how it is written, and the dates to report it as of.

    Not a dataclass: a failing example is shown by `repr`, as the ledger's lines themselves
    (fields joined by `|` whatever the file's separator).
    """

    def __init__(
        self,
        clients: list[Client],
        entries: list[Entry],
        lines: list[Line],
        numbering: str,
        shape: Shape,
        as_of: list[date],
    ) -> None:
        self.clients = clients
        self.entries = entries
        self.lines = lines
        self.numbering = numbering
        self.shape = shape
        self.as_of = as_of  # before, inside, an entry's day, the last day, after

    def __repr__(self) -> str:
        rows = ["|".join(fields(line, self.shape)) for line in self.lines]
        terms = {c.key: c.terms for c in self.clients if c.terms is not None}
        return (
            f"Case(numbering={self.numbering!r}, shape={self.shape!r}, terms={terms!r}, "
            f"as_of={[d.isoformat() for d in self.as_of]!r}, ledger=\n  "
            + "\n  ".join(rows)
            + "\n)"
        )

    def balances(self, as_of: date) -> dict[str, int]:
        """Each customer's ledger balance (cents) from the lines dated on or before `as_of`."""
        balance: dict[str, int] = {}
        for line in self.lines:
            customer = line.customer
            if customer is None:
                continue
            balance.setdefault(customer, 0)
            if line.entry and line.entry.day <= as_of:
                balance[customer] += line.debit - line.credit
        return balance


@st.composite
def clients(draw: st.DrawFn) -> list[Client]:
    count = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=count, max_size=count, unique=True))
    result = []
    for n, name in enumerate(names):
        sub = draw(st.booleans())
        code_ = f"C{n + 1:03d}" if not sub else name.split()[0].upper()
        code_ = "".join(ch for ch in code_ if ch.isascii() and ch.isalnum()) or f"CLI{n}"
        result.append(
            Client(code_, name, sub, sub and draw(st.booleans()), draw(st.sampled_from(TERMS)))
        )
    return result


@st.composite
def cases(draw: st.DrawFn) -> Case:
    book = Book(draw, draw(clients()))
    for event in draw(st.lists(st.sampled_from(EVENTS), min_size=1, max_size=14)):
        play(book, event)
    letter_groups(draw, book)
    numbering = draw(st.sampled_from(["unique", "unique", "yearly", "zero"]))
    number_entries(book, numbering)
    lines = order_lines(draw, book, numbering)
    days = sorted(e.day for e in book.entries)
    first, last = days[0], days[-1]
    inside = st.integers(0, (last - first).days).map(lambda n: first + timedelta(days=n))
    as_of = [
        first - timedelta(days=draw(st.integers(1, 40))),
        draw(inside),
        draw(st.sampled_from(days)),
        last,
        last + timedelta(days=draw(st.integers(1, 400))),
    ]
    return Case(book.clients, book.entries, lines, numbering, draw(shapes), as_of)


# -- running it -------------------------------------------------------------------------------


def write(folder: Path, case: Case) -> Path:
    (folder / "books.fec").write_bytes(fec_bytes(case.lines, case.shape))
    terms = "".join(
        f"{c.key} = {json.dumps(c.terms)}\n" for c in case.clients if c.terms is not None
    )
    config = folder / "config.toml"
    config.write_text(
        '[company]\ncurrency = "EUR"\n\n[store]\npath = "encours.duckdb"\n\n'
        '[sources.books]\ntype = "fec"\npath = "books.fec"\ndefault_payment_terms_days = 30\n\n'
        f"[sources.books.payment_terms]\n{terms}\n"
        '[targets.file]\ntype = "file"\npath = "indicators.json"\n',
        encoding="utf-8",
    )
    return config


def encours(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def cents(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


ZERO = "0.00"


def check_report(document: dict, case: Case, as_of: date) -> None:
    expected = case.balances(as_of)
    rows = {row["id"]: row for row in document["customers"]}
    assert set(rows) == set(expected)
    assert document["quarantined"] == 0  # (e)
    for customer, balance in expected.items():
        row = rows[customer]
        context = (customer, as_of.isoformat(), row)
        # (a) the ledger balance as of the date, to the cent
        assert cents(row["outstanding"]) == balance, context
        # (b) the aging columns add up to it
        assert sum(cents(v) for v in row["aging"].values()) == balance, context
        # (c) the components do too
        parts = cents(row["overdue"]) + cents(row["not_due"]) + cents(row["unbilled"])
        assert parts - cents(row["unapplied"]) == balance, context
        # (f) unapplied is money held, shown negative in its column only
        assert cents(row["unapplied"]) >= 0, context
        assert cents(row["aging"]["unapplied"]) == -cents(row["unapplied"]), context
        assert all(cents(v) >= 0 for k, v in row["aging"].items() if k != "unapplied"), context
        # (d) the ledger's own balance, at its last date, agrees
        check = row["balance_check"]
        assert check is not None and check["difference"] == ZERO, context
        assert cents(check["source_balance"]) == case.balances(case.as_of[3])[customer], context
    assert cents(document["total"]["outstanding"]) == sum(expected.values())
    assert document["total"]["balance_check"] == {"checked": len(expected), "differ": 0}


def check_store(folder: Path, case: Case) -> None:
    """(f) in the store the figures are read from: no due line is settled beyond its amount,
    no customer's unapplied money is negative, on any of the dates."""
    store = Store.open(folder / "encours.duckdb")
    try:
        for as_of in case.as_of:
            for row in store.open_due_lines(as_of):
                assert row[4] >= 0, (as_of.isoformat(), row)
            for key, amount in store.unapplied(as_of).items():
                assert amount >= 0, (as_of.isoformat(), key, amount)
        assert store.quarantine_count() == 0
    finally:
        store.close()


@PROPERTY
@given(cases())
def test_every_figure_is_the_ledgers_own_balance(case: Case) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = write(folder, case)
        encours(config, "sync", "--as-of", case.as_of[3].isoformat())
        for as_of in case.as_of:
            report = encours(config, "status", "--json", "--as-of", as_of.isoformat())
            check_report(json.loads(report.stdout), case, as_of)
        check_store(folder, case)


# -- an advance applied is used up on the day of its application --------------------------------


def handmade(
    rows: list[tuple[str, str, str, str, str, int, int, str, str]], as_of: list[str]
) -> Case:
    """A case from lines written by hand: (JournalCode, EcritureNum, EcritureDate, CompteNum,
    CompAuxNum, debit cents, credit cents, EcritureLet, DateLet); dates YYYYMMDD."""

    def parse(text: str) -> date:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))

    entries: dict[tuple[str, str, str], Entry] = {}
    lines = []
    for journal, number, on, account, aux, debit, credit, let, date_let in rows:
        entry = entries.get((journal, number, on))
        if entry is None:
            piece = f"{journal}{number}"
            entry = Entry(journal, parse(on), piece, piece, [], parse(on), parse(on), number)
            entries[(journal, number, on)] = entry
        family = next(f for f in (account[:4], account[:5], account[:3]) if f in ACCOUNT_LABELS)
        line = Line(account, ACCOUNT_LABELS[family], aux, aux and f"Client {aux}", debit, credit)
        line.let, line.date_let, line.entry = let, parse(date_let) if date_let else None, entry
        entry.lines.append(line)
        lines.append(line)
    shape = Shape("\t", "\n", True, False, "plain", "0,00", "utf-8", False, False)
    return Case([], list(entries.values()), lines, "unique", shape, [parse(d) for d in as_of])


#: An advance of 1 000.00 used up in two goes, 600.00 on 5 October and 400.00 on 25 October,
#: its three 4191 lines lettered AA when the last use completed the match (DateLet 25 Oct).
#: As of 20 October the first use has used 600.00 of the advance (DOMAIN.md, "FEC"): nothing
#: is overdue and 400.00 is unapplied. Found by the property below: encours shows 600.00
#: overdue (1-30 days: the 4191 debit aged like an invoice) and 1 000.00 unapplied, until
#: the 4191 DateLet. The outstanding (-400.00) is right; its columns are not.
ADVANCE_USED_IN_TWO_GOES = handmade(
    [
        ("BQ", "1", "20250901", "512000", "", 100000, 0, "", ""),
        ("BQ", "1", "20250901", "419100", "C1", 0, 100000, "AA", "20251025"),
        ("VT", "1", "20251005", "411000", "C1", 60000, 0, "B", "20251005"),
        ("VT", "1", "20251005", "706000", "", 0, 60000, "", ""),
        ("OD", "1", "20251005", "419100", "C1", 60000, 0, "AA", "20251025"),
        ("OD", "1", "20251005", "411000", "C1", 0, 60000, "B", "20251005"),
        ("VT", "2", "20251025", "411000", "C1", 40000, 0, "C", "20251025"),
        ("VT", "2", "20251025", "706000", "", 0, 40000, "", ""),
        ("OD", "2", "20251025", "419100", "C1", 40000, 0, "AA", "20251025"),
        ("OD", "2", "20251025", "411000", "C1", 0, 40000, "C", "20251025"),
    ],
    as_of=["20250831", "20251020", "20251005", "20251025", "20251031"],
)


@PROPERTY
@given(cases())
@example(ADVANCE_USED_IN_TWO_GOES)
def test_an_advance_applied_is_used_up_on_the_day_of_its_application(case: Case) -> None:
    # Every generated use draws on an advance of its customer received on or before it, so
    # on no date may a use be open: it is not a receivable, and nothing falls due on it.
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = write(folder, case)
        encours(config, "sync", "--as-of", case.as_of[3].isoformat())
        store = Store.open(folder / "encours.duckdb")
        try:
            for as_of in sorted({*case.as_of, *(e.day for e in case.entries)}):
                open_uses = [
                    row
                    for row in store.open_due_lines(as_of)
                    if row[2] == InvoiceKind.ADVANCE_USE.value
                ]
                assert open_uses == [], as_of.isoformat()
        finally:
            store.close()
