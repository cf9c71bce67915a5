"""The FEC generator: shape, balance, lettrage, determinism and flat memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from encours.demo.fecgen import COLUMNS, FecSpec, customer_terms, lettrage_code, write_fec


def _generate(spec: FecSpec) -> tuple[str, object]:
    buf = io.StringIO(newline="")
    stats = write_fec(buf, spec)
    return buf.getvalue(), stats


@pytest.fixture(scope="module")
def demo() -> tuple[list[dict[str, str]], object]:
    text, stats = _generate(FecSpec())
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows, stats


def _cents(text: str) -> int:
    units, _, frac = text.partition(",")
    assert len(frac) == 2, text
    return int(units) * 100 + int(frac)


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def test_header_has_the_18_columns_in_order() -> None:
    text, _ = _generate(FecSpec(invoices=5))
    header = next(csv.reader(io.StringIO(text), delimiter="\t"))
    assert header == list(COLUMNS)
    assert len(header) == 18


def test_every_line_parses_with_18_fields(demo) -> None:
    rows, stats = demo
    assert len(rows) == stats.lines
    for row in rows:
        assert None not in row, row  # no extra fields
        assert all(value is not None for value in row.values()), row  # no missing fields
        assert len(row["EcritureDate"]) == 8
        assert row["ValidDate"] == row["EcritureDate"]
        assert row["Montantdevise"] == row["Idevise"] == ""
        assert row["JournalCode"] in {"VT", "BQ", "OD"}


def test_every_entry_is_contiguous_and_balances_to_the_cent(demo) -> None:
    rows, stats = demo
    sums: dict[tuple[str, str], int] = defaultdict(int)
    seen: list[tuple[str, str]] = []
    for row in rows:
        key = (row["JournalCode"], row["EcritureNum"])
        if not seen or seen[-1] != key:
            assert key not in sums, f"entry {key} is not contiguous"
            seen.append(key)
        sums[key] += _cents(row["Debit"]) - _cents(row["Credit"])
    assert len(seen) == stats.entries
    assert all(total == 0 for total in sums.values()), {k: v for k, v in sums.items() if v}


def test_entry_numbers_increase_per_journal(demo) -> None:
    rows, _ = demo
    last: dict[str, int] = defaultdict(int)
    for row in rows:
        num = int(row["EcritureNum"])
        assert num >= last[row["JournalCode"]]
        last[row["JournalCode"]] = num


def test_customer_lines_carry_the_customer_and_nothing_is_after_the_end(demo) -> None:
    rows, _ = demo
    spec = FecSpec()
    terms = customer_terms(spec)
    for row in rows:
        if row["CompteNum"].startswith("41"):
            assert row["CompAuxNum"] in terms
            assert row["CompAuxLib"]
        else:
            assert row["CompAuxNum"] == row["CompAuxLib"] == ""
        assert spec.start.strftime("%Y%m%d") <= row["EcritureDate"] <= "20261031"
        assert row["DateLet"] <= "20261031"


def test_vat_is_twenty_percent_of_ht_rounded(demo) -> None:
    rows, _ = demo
    by_piece: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row["JournalCode"] == "VT" and row["PieceRef"].startswith("FA"):
            by_piece[row["PieceRef"]][row["CompteNum"][:3]] += _cents(row["Credit"])
    for piece, parts in by_piece.items():
        ht, vat = parts["706"] + parts["707"], parts["445"]
        expected = (Decimal(ht) * Decimal("0.20")).quantize(Decimal(1))
        assert vat == int(expected), piece
        assert 15_000 <= ht <= 2_500_000


def test_full_lettrage_groups_balance_and_partial_ones_do_not(demo) -> None:
    rows, _ = demo
    groups: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        if row["EcritureLet"]:
            assert row["CompteNum"].startswith("41"), row
            assert row["DateLet"], row
            groups[(row["CompteNum"], row["EcritureLet"])] += _cents(row["Debit"]) - _cents(
                row["Credit"]
            )
    full = {k: v for k, v in groups.items() if k[1].isupper()}
    partial = {k: v for k, v in groups.items() if k[1].islower()}
    assert len(full) + len(partial) == len(groups)
    assert any(k[0] == "411000" for k in full)
    assert any(k[0] == "419100" for k in full)  # advance receipt + transfer
    assert partial, "the demo needs partly paid invoices"
    assert all(v == 0 for v in full.values()), {k: v for k, v in full.items() if v}
    assert all(v > 0 for v in partial.values())
    codes = [k[1].upper() for k in groups]
    assert len(codes) == len(set(codes)), "codes are unique in the file, whatever the case"


def test_demo_covers_every_case(demo) -> None:
    rows, stats = demo
    assert stats.invoices == 300
    for name in (
        "payments",
        "credit_notes",
        "open_credit_notes",
        "advances",
        "advances_waiting",
        "open_invoices",
        "partly_paid_invoices",
        "doubtful",
        "unapplied_payments",
        "unbilled",
    ):
        assert getattr(stats, name) > 0, name
    accounts = {row["CompteNum"] for row in rows}
    assert {"411000", "416000", "418100", "419100", "445710", "512000"} <= accounts
    assert {"706000", "707000"} & accounts
    assert any(r["PieceRef"].startswith("AV2026-") for r in rows)
    # Some open invoice is more than 90 days past a 60-day term at the export date.
    old = [
        r
        for r in rows
        if r["CompteNum"] == "411000"
        and not r["EcritureLet"]
        and r["PieceRef"].startswith("FA")
        and (date(2026, 10, 31) - _day(r["PieceDate"])).days > 150
    ]
    assert old


def test_receivable_total_matches_the_customer_accounts(demo) -> None:
    rows, stats = demo
    total = sum(
        _cents(r["Debit"]) - _cents(r["Credit"]) for r in rows if r["CompteNum"][:2] == "41"
    )
    assert total == stats.receivable_cents


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first, _ = _generate(FecSpec())
    again, _ = _generate(FecSpec())
    other, _ = _generate(FecSpec(seed=7))
    assert first == again
    assert first != other


def test_customer_terms_are_deterministic_and_legal() -> None:
    terms = customer_terms(FecSpec())
    assert len(terms) == 36
    assert set(terms.values()) <= {30, 45, 60}
    assert terms == customer_terms(FecSpec())


def test_float_open_share_is_refused() -> None:
    with pytest.raises(TypeError):
        FecSpec(open_share=0.15)  # type: ignore[arg-type]


def test_lettrage_codes() -> None:
    assert [lettrage_code(k) for k in (0, 1, 25, 26, 17575, 17576)] == [
        "AAA",
        "AAB",
        "AAZ",
        "ABA",
        "ZZZ",
        "BAAA",
    ]


class _Sink:
    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def test_memory_stays_flat_for_20_000_invoices() -> None:
    sink = _Sink()
    tracemalloc.start()
    try:
        stats = write_fec(sink, FecSpec(invoices=20_000, customers=200))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.lines > 90_000
    assert sink.chars > 10_000_000
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
