"""Deterministic generator of a French FEC export, for the demo, the tests and the benchmark.

`write_fec(out, spec)` streams a plausible *Fichier des Écritures Comptables* of a small French
company selling to `spec.customers` customers: 18 tab-separated columns with a header line,
dates `YYYYMMDD`, amounts with a comma decimal separator, one entry's lines contiguous and
balanced to the cent. The same spec always gives the same bytes (one seeded `random.Random`
per call, no global state).

Memory stays flat whatever the number of invoices: each invoice is written together with its
own settlement (advance transfer, credit note, payments, doubtful transfer) right away, so
payment entries follow their invoice in the file even though they are dated later. Entries are
therefore not in date order; each journal's `EcritureNum` still increases through the file.
Nothing is dated after `spec.end` (the export date): a payment that would fall later is simply
not there yet, which leaves the recent invoices open and not yet due.

Accounts and codes:

    411000 Clients                        invoices (D), payments / credit notes / transfers (C)
    416000 Clients douteux ou litigieux   doubtful transfer D 416000 / C 411000, 416 line open
    418100 Clients - Factures à établir   unbilled at `spec.end`: D 418100 TTC / C 706000 HT
                                          / C 445870 VAT
    419100 Clients - Avances et acomptes  advance D 512000 / C 419100, then at invoice time
                                          OD D 419100 / C 411000
    445710 TVA collectée · 445870 TVA sur factures à établir · 512000 Banque
    706000 Prestations de services · 707000 Ventes de marchandises
    Journals VT (ventes: invoices and credit notes), BQ (banque), OD (opérations diverses).

Every customer line (accounts 41x) carries `CompAuxNum` (`C0001`...) and `CompAuxLib`.
Lettrage codes are unique in the whole file, so the group key may be the code alone or
(account, code) or (account, customer, code). A full match uses an UPPERCASE code (`AAA`,
`AAB`, ..., then `BAAA`...) and its group balances to zero; a partial match uses a lowercase
code (drawn from the same counter, so never equal to a full code even ignoring case) and its
group does not balance. `DateLet` is the date of the last settlement of the group. Lines
without a code are open.

Amounts are integer cents; VAT is 20 % of HT rounded to the cent (HT / 5, never a tie).
"""

from __future__ import annotations

import argparse
import random
import sys
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from encours.connectors.fec import COLUMNS

CUSTOMERS = "411000"
DOUBTFUL = "416000"
UNBILLED = "418100"
ADVANCES = "419100"
SERVICES = "706000"
GOODS = "707000"
VAT = "445710"
VAT_UNBILLED = "445870"
BANK = "512000"

#: Account labels written in `CompteLib`.
ACCOUNT_LABELS: dict[str, str] = {
    CUSTOMERS: "Clients",
    DOUBTFUL: "Clients douteux ou litigieux",
    UNBILLED: "Clients - Factures à établir",
    ADVANCES: "Clients - Avances et acomptes reçus",
    SERVICES: "Prestations de services",
    GOODS: "Ventes de marchandises",
    VAT: "TVA collectée",
    VAT_UNBILLED: "TVA sur factures à établir",
    BANK: "Banque",
}

JOURNALS: dict[str, str] = {
    "VT": "Journal des ventes",
    "BQ": "Banque",
    "OD": "Opérations diverses",
}

PAYMENT_TERMS_DAYS: tuple[int, ...] = (30, 45, 60)

# Shares in basis points (1/10 000) of the invoices, besides `spec.open_share`.
_CREDIT_NOTE_BP = 400  # an avoir: partial and lettered, full cancellation, or left open
_ADVANCE_BP = 400  # an acompte received before the invoice
_TWO_PAYMENTS_BP = 300  # of the paid invoices: settled in two bank receipts
_PARTIAL_OF_OPEN_PCT = 35  # of the open invoices: partly paid
# One doubtful transfer per _DOUBTFUL_EVERY invoices, one unapplied payment per
# _UNAPPLIED_EVERY, one unbilled item per _UNBILLED_PER invoices (at least 3), one advance
# still waiting for its invoice per _WAITING_PER invoices (at least 2).
_DOUBTFUL_EVERY, _DOUBTFUL_AT = 500, 37
_UNAPPLIED_EVERY, _UNAPPLIED_AT = 250, 120
_UNBILLED_PER = 100
_WAITING_PER = 1000
_FLUSH_LINES = 8192

_ACTIVITIES = (
    "Boulangerie",
    "Transports",
    "Menuiserie",
    "Garage",
    "Cabinet",
    "Imprimerie",
    "Pharmacie",
    "Hôtel",
    "Restaurant",
    "Plomberie",
    "Électricité",
    "Charpente",
    "Maçonnerie",
    "Librairie",
    "Fromagerie",
    "Laboratoires",
    "Ateliers",
    "Établissements",
    "Domaine",
    "Brasserie",
    "Conserverie",
    "Quincaillerie",
    "Serrurerie",
    "Carrosserie",
    "Pépinières",
    "Clinique",
    "Agence",
    "Studio",
    "Chocolaterie",
    "Tonnellerie",
    "Verrerie",
    "Scierie",
    "Coopérative",
    "Distillerie",
    "Salaisons",
    "Papeterie",
    "Jardinerie",
    "Métallerie",
    "Fonderie",
    "Lunetterie",
)
_SURNAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Sanchez",
    "Gérard",
    "Nguyen",
    "Boyer",
    "Denis",
    "Lemaire",
    "Duval",
    "Joly",
    "Gautier",
)
_PLACES = (
    "du Lac",
    "des Alpes",
    "de Provence",
    "du Vexin",
    "de l'Ouest",
    "du Rhône",
    "de Loire",
    "des Landes",
    "du Morvan",
    "de la Côte",
    "du Jura",
    "des Vosges",
    "de Bretagne",
    "du Périgord",
    "de Savoie",
    "d'Armor",
    "du Berry",
    "de Gascogne",
    "du Quercy",
    "des Flandres",
)
_FORMS = ("SARL", "SAS", "SA", "EURL", "SASU")


@dataclass(frozen=True)
class FecSpec:
    """What to generate.

    Attributes:
        invoices: Number of sales invoices; their dates are spread evenly over [start, end].
        customers: Number of customers (codes `C0001`...).
        start: First invoice date.
        end: Last invoice date and export date: nothing is dated after it.
        open_share: Share of the invoices deliberately left open or partly paid (exact
            Decimal, e.g. `Decimal("0.15")`). Invoices whose payment would fall after `end`
            are open too, on top of this share.
        seed: Seed of the generator; the same spec gives the same bytes.
    """

    invoices: int = 300
    customers: int = 36
    start: date = date(2026, 1, 1)
    end: date = date(2026, 10, 31)
    open_share: Decimal = Decimal("0.15")
    seed: int = 2026

    def __post_init__(self) -> None:
        if isinstance(self.open_share, float):
            raise TypeError("open_share must be a Decimal, never a float")
        if self.invoices < 0 or self.customers < 1:
            raise ValueError("need invoices >= 0 and customers >= 1")
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if not Decimal(0) <= Decimal(self.open_share) <= Decimal(1):
            raise ValueError("open_share must be between 0 and 1")


@dataclass(frozen=True)
class FecStats:
    """What `write_fec` wrote (counts of data lines, entries and business cases).

    `receivable_cents` is the closing balance of the customer accounts (411 + 416 + 4181 −
    4191, debit − credit) over the whole file: the total outstanding at `spec.end`.
    """

    lines: int
    entries: int
    invoices: int
    customers: int
    payments: int
    credit_notes: int
    advances: int
    advances_waiting: int
    open_invoices: int
    partly_paid_invoices: int
    open_credit_notes: int
    doubtful: int
    unapplied_payments: int
    unbilled: int
    receivable_cents: int


@dataclass(frozen=True)
class _Customer:
    code: str
    name: str
    terms: int
    late_days: int
    weight: int


def _customers(spec: FecSpec) -> list[_Customer]:
    """The customers of `spec`; depends only on `seed` and `customers`."""
    # The seed string keeps the module's former name: a spec must keep giving the same bytes.
    rng = random.Random(f"encours.fecgen/customers/{spec.seed}")  # noqa: S311 (not crypto)
    width = max(4, len(str(spec.customers)))
    seen: set[str] = set()
    out: list[_Customer] = []
    for k in range(1, spec.customers + 1):
        name = ""
        for _ in range(20):
            pick = rng.randrange(10)
            if pick < 6:
                name = f"{rng.choice(_ACTIVITIES)} {rng.choice(_SURNAMES)}"
            elif pick < 8:
                name = f"{rng.choice(_ACTIVITIES)} {rng.choice(_PLACES)}"
            else:
                joiner = rng.choice(("& Fils", "et Associés", "Frères", "& Cie"))
                name = f"{rng.choice(_SURNAMES)} {joiner}"
            name = f"{name} {rng.choice(_FORMS)}"
            if name not in seen:
                break
        else:
            name = f"{name} {k}"
        seen.add(name)
        pick = rng.randrange(10)
        terms = PAYMENT_TERMS_DAYS[0 if pick < 5 else 1 if pick < 8 else 2]
        late = rng.choice((0, 0, 0, 2, 5, 8, 12, 20, 30))
        weight = rng.choice((1, 1, 1, 2, 2, 3, 5, 8, 13))
        out.append(_Customer(f"C{k:0{width}d}", name, terms, late, weight))
    return out


def customer_terms(spec: FecSpec) -> dict[str, int]:
    """Payment terms in days (30, 45 or 60) of each customer code of `spec`."""
    return {c.code: c.terms for c in _customers(spec)}


def lettrage_code(n: int) -> str:
    """The n-th full lettrage code: AAA, AAB, ..., ZZZ, BAAA, ... (base 26, at least 3)."""
    letters = []
    while True:
        n, r = divmod(n, 26)
        letters.append(chr(65 + r))
        if n == 0 and len(letters) >= 3:
            break
    return "".join(reversed(letters))


def _money(cents: int) -> str:
    """1234.56 as "1234,56" (cents >= 0)."""
    if cents == 0:
        return "0,00"
    return f"{cents // 100},{cents % 100:02d}"


def _vat(ht: int) -> int:
    """20 % of `ht` cents rounded to the cent (ht/5 has no .5 tie, so any rounding agrees)."""
    return (ht + 2) // 5


# A line as given to `_Writer.entry`: (account + aux prefix, debit cents, credit cents,
# lettrage code, DateLet).
_Line = tuple[str, int, int, str, str]


class _Writer:
    """Formats entries and writes them to `out` in chunks; keeps running counts."""

    def __init__(self, out: TextIO, first: date, last: date) -> None:
        self._out = out
        self._buf: list[str] = []
        self._nums = dict.fromkeys(JOURNALS, 0)
        self._heads = {code: f"{code}\t{label}\t" for code, label in JOURNALS.items()}
        self._base = first.toordinal()
        self._dates = [
            (first + timedelta(days=k)).strftime("%Y%m%d") for k in range((last - first).days + 1)
        ]
        self._codes = 0
        self.lines = 0
        self.entries = 0
        self.receivable = 0

    def date(self, ordinal: int) -> str:
        return self._dates[ordinal - self._base]

    def full_code(self) -> str:
        self._codes += 1
        return lettrage_code(self._codes)

    def partial_code(self) -> str:
        self._codes += 1
        return lettrage_code(self._codes).lower()

    def entry(self, journal: str, on: int, piece: str, lib: str, lines: Sequence[_Line]) -> None:
        """Write one balanced entry dated `on` (EcritureDate = PieceDate = ValidDate)."""
        self._nums[journal] += 1
        d = self._dates[on - self._base]
        head = f"{self._heads[journal]}{self._nums[journal]}\t{d}\t"
        mid = f"\t{piece}\t{d}\t{lib}\t"
        tail = f"\t{d}\t\t\n"
        buf = self._buf
        for account, debit, credit, let, date_let in lines:
            amounts = f"{_money(debit)}\t{_money(credit)}\t{let}\t{date_let}"
            buf.append(f"{head}{account}{mid}{amounts}{tail}")
            if account[1] == "1" and account[0] == "4":
                self.receivable += debit - credit
        self.lines += len(lines)
        self.entries += 1
        if len(buf) >= _FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._out.write("".join(self._buf))
            self._buf.clear()


def _plain(account: str) -> str:
    return f"{account}\t{ACCOUNT_LABELS[account]}\t\t"


def write_fec(out: TextIO, spec: FecSpec) -> FecStats:
    """Write the FEC described by `spec` to `out` (header line first) and say what was written.

    `out` is a text stream; open files with `encoding="utf-8", newline=""` (or "\\n") to get
    the exact bytes. Memory use does not depend on `spec.invoices`.
    """
    rng = random.Random(spec.seed)  # noqa: S311 (not crypto)
    customers = _customers(spec)
    cum: list[int] = []
    total_weight = 0
    for c in customers:
        total_weight += c.weight
        cum.append(total_weight)
    aux = {
        account: [f"{account}\t{ACCOUNT_LABELS[account]}\t{c.code}\t{c.name}" for c in customers]
        for account in (CUSTOMERS, DOUBTFUL, UNBILLED, ADVANCES)
    }
    c411, c416, c418, c419 = aux[CUSTOMERS], aux[DOUBTFUL], aux[UNBILLED], aux[ADVANCES]
    bank, vat_acc, vat_unbilled = _plain(BANK), _plain(VAT), _plain(VAT_UNBILLED)
    sales_acc = {SERVICES: _plain(SERVICES), GOODS: _plain(GOODS)}

    w = _Writer(out, spec.start, spec.end)
    out.write("\t".join(COLUMNS) + "\n")

    n = spec.invoices
    first, last = spec.start.toordinal(), spec.end.toordinal()
    span = last - first + 1
    open_bp = int(Decimal(spec.open_share) * 10000)
    piece_width = max(5, len(str(n)))
    used = bytearray(len(customers))
    randrange, randint = rng.randrange, rng.randint
    counts = dict.fromkeys(
        (
            "payments",
            "credit_notes",
            "advances",
            "advances_waiting",
            "open_invoices",
            "partly_paid_invoices",
            "open_credit_notes",
            "doubtful",
            "unapplied_payments",
            "unbilled",
        ),
        0,
    )
    receipts = 0
    avoirs = 0

    for i in range(n):
        ci = bisect_right(cum, randrange(total_weight))
        cust = customers[ci]
        used[ci] = 1
        acc411 = c411[ci]
        day = first + (i * span) // n
        d = w.date(day)
        year = d[:4]
        piece = f"FA{year}-{i + 1:0{piece_width}d}"
        lib = f"Facture {piece}"
        r = randrange(100)
        if r < 50:
            ht = randint(15_000, 100_000)
        elif r < 85:
            ht = randint(100_000, 500_000)
        else:
            ht = randint(500_000, 2_500_000)
        vat = _vat(ht)
        ttc = ht + vat
        sales = SERVICES if randrange(10) < 6 else GOODS
        delay = min(90, max(10, cust.terms + cust.late_days + randint(-10, 10)))

        # Settlement plan: (date, kind, amount TTC, amount HT for a credit note), credited on
        # 411 and lettered with the invoice.
        plan: list[tuple[int, str, int, int]] = []
        advance = 0
        adv_let = ""
        open_avoir: tuple[int, int, int] | None = None  # (date, TTC, HT)
        scenario = randrange(10000)
        if i % _DOUBTFUL_EVERY == _DOUBTFUL_AT:
            plan.append((day + randint(100, 150), "doubtful", ttc, 0))
        elif scenario < open_bp:
            if randrange(100) < _PARTIAL_OF_OPEN_PCT:
                part = ttc * randint(20, 70) // 100 // 100 * 100 or ttc // 2
                plan.append((day + delay, "pay", part, 0))
        elif scenario < open_bp + _CREDIT_NOTE_BP:
            kind = randrange(3)
            ht_av = ht if kind == 1 else max(100, ht * randint(5, 30) // 100)
            ttc_av = ht_av + _vat(ht_av)
            on = day + randint(3, 20)
            if kind == 0:  # commercial gesture, deducted from the payment
                plan.append((on, "avoir", ttc_av, ht_av))
                plan.append((max(on, day + delay), "pay", ttc - ttc_av, 0))
            elif kind == 1:  # full cancellation
                plan.append((on, "avoir", ttc_av, ht_av))
            else:  # credit note left open, invoice paid in full
                plan.append((day + delay, "pay", ttc, 0))
                open_avoir = (on, ttc_av, ht_av)
        elif scenario < open_bp + _CREDIT_NOTE_BP + _ADVANCE_BP and day - first >= 45:
            advance = ttc * 30 // 100 // 100 * 100
            plan.append((day, "transfer", advance, 0))
            plan.append((day + delay, "pay", ttc - advance, 0))
        elif randrange(10000) < _TWO_PAYMENTS_BP:
            half = ttc // 2 // 100 * 100
            plan.append((day + max(5, delay - randint(15, 30)), "pay", half, 0))
            plan.append((day + delay, "pay", ttc - half, 0))
        else:
            plan.append((day + delay, "pay", ttc, 0))

        plan = [p for p in plan if p[0] <= last]
        settled = sum(p[2] for p in plan)
        if settled == ttc:
            let, date_let = w.full_code(), w.date(max(p[0] for p in plan))
        elif plan:
            let, date_let = w.partial_code(), w.date(max(p[0] for p in plan))
            counts["partly_paid_invoices"] += 1
        else:
            let, date_let = "", ""
            counts["open_invoices"] += 1

        if advance:
            receipts += 1
            counts["advances"] += 1
            adv_let = w.full_code()
            w.entry(
                "BQ",
                day - randint(10, 40),
                f"AC{year}-{receipts:0{piece_width}d}",
                f"Acompte reçu commande {cust.name}",
                ((bank, advance, 0, "", ""), (c419[ci], 0, advance, adv_let, d)),
            )
        w.entry(
            "VT",
            day,
            piece,
            lib,
            (
                (acc411, ttc, 0, let, date_let),
                (sales_acc[sales], 0, ht, "", ""),
                (vat_acc, 0, vat, "", ""),
            ),
        )
        for on, kind, amount, ht_av in sorted(plan):
            if kind == "pay":
                receipts += 1
                counts["payments"] += 1
                w.entry(
                    "BQ",
                    on,
                    f"VIR{w.date(on)[:4]}-{receipts:0{piece_width}d}",
                    f"Règlement {piece}",
                    ((bank, amount, 0, "", ""), (acc411, 0, amount, let, date_let)),
                )
            elif kind == "transfer":
                w.entry(
                    "OD",
                    on,
                    piece,
                    f"Imputation acompte sur {piece}",
                    ((c419[ci], amount, 0, adv_let, d), (acc411, 0, amount, let, date_let)),
                )
            elif kind == "avoir":
                avoirs += 1
                counts["credit_notes"] += 1
                w.entry(
                    "VT",
                    on,
                    f"AV{year}-{avoirs:04d}",
                    f"Avoir sur {piece}",
                    (
                        (sales_acc[sales], ht_av, 0, "", ""),
                        (vat_acc, amount - ht_av, 0, "", ""),
                        (acc411, 0, amount, let, date_let),
                    ),
                )
            else:  # doubtful
                counts["doubtful"] += 1
                w.entry(
                    "OD",
                    on,
                    piece,
                    f"Transfert en douteux {piece}",
                    ((c416[ci], amount, 0, "", ""), (acc411, 0, amount, let, date_let)),
                )
        if open_avoir and open_avoir[0] <= last:
            on, ttc_av, ht_av = open_avoir
            avoirs += 1
            counts["credit_notes"] += 1
            counts["open_credit_notes"] += 1
            w.entry(
                "VT",
                on,
                f"AV{year}-{avoirs:04d}",
                f"Avoir sur {piece}",
                (
                    (sales_acc[sales], ht_av, 0, "", ""),
                    (vat_acc, ttc_av - ht_av, 0, "", ""),
                    (acc411, 0, ttc_av, "", ""),
                ),
            )
        if i % _UNAPPLIED_EVERY == _UNAPPLIED_AT:
            on = day + randint(1, 30)
            if on <= last:
                receipts += 1
                counts["unapplied_payments"] += 1
                amount = randint(5, 50) * 10_000
                w.entry(
                    "BQ",
                    on,
                    f"VIR{w.date(on)[:4]}-{receipts:0{piece_width}d}",
                    f"Virement reçu {cust.name} sans référence",
                    ((bank, amount, 0, "", ""), (acc411, 0, amount, "", "")),
                )

    # Advances still waiting for their invoice, then the unbilled items at the export date.
    for _ in range(max(2, n // _WAITING_PER)):
        ci = bisect_right(cum, randrange(total_weight))
        used[ci] = 1
        on = max(first, last - randint(3, 40))
        amount = randint(10, 100) * 10_000
        receipts += 1
        counts["advances"] += 1
        counts["advances_waiting"] += 1
        w.entry(
            "BQ",
            on,
            f"AC{w.date(on)[:4]}-{receipts:0{piece_width}d}",
            f"Acompte reçu commande {customers[ci].name}",
            ((bank, amount, 0, "", ""), (c419[ci], 0, amount, "", "")),
        )
    month = spec.end.strftime("%m/%Y")
    for k in range(max(3, n // _UNBILLED_PER)):
        ci = bisect_right(cum, randrange(total_weight))
        used[ci] = 1
        ht = randint(50_000, 800_000)
        vat = _vat(ht)
        counts["unbilled"] += 1
        w.entry(
            "OD",
            last,
            f"FAE{spec.end.year}-{k + 1:04d}",
            f"Prestations {month} à facturer",
            (
                (c418[ci], ht + vat, 0, "", ""),
                (sales_acc[SERVICES], 0, ht, "", ""),
                (vat_unbilled, 0, vat, "", ""),
            ),
        )
    w.flush()
    return FecStats(
        lines=w.lines,
        entries=w.entries,
        invoices=n,
        customers=sum(used),
        receivable_cents=w.receivable,
        **counts,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m encours.demo.fecgen OUT.fec [--invoices N] [--customers M] [--seed S]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="file to write ('-' for stdout)")
    defaults = FecSpec()
    parser.add_argument("--invoices", type=int, default=defaults.invoices)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--open-share", type=Decimal, default=defaults.open_share)
    args = parser.parse_args(argv)
    spec = FecSpec(
        invoices=args.invoices,
        customers=args.customers,
        seed=args.seed,
        open_share=args.open_share,
    )
    if str(args.out) == "-":
        stats = write_fec(sys.stdout, spec)
    else:
        with args.out.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
            stats = write_fec(fh, spec)
    summary = ", ".join(f"{f.name}={getattr(stats, f.name)}" for f in fields(stats))
    print(summary, file=sys.stderr)


if __name__ == "__main__":
    main()
