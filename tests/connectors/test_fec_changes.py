"""A FEC read again works out only what changed, and stores exactly what a whole read stores.

Each example edits a generated FEC the way a re-export changes it (lettrage set or cleared,
a customer renamed or moved, an amount corrected, entries added, cut, inserted, blanked or
left unbalanced, a date broken) and checks that storing the edited file after the original
gives the same tables, index included, as storing the edited file alone; or the same error.
"""

# ruff: noqa: S311 - random picks the edits, seeded, not secrets
from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_tables import dump

from encours.connectors import fec_changes
from encours.connectors.fec import FecConnector
from encours.demo.fecgen import FecSpec
from encours.demo.fecgen import write_fec as write_generated
from encours.errors import DataError, DestructiveReadError
from encours.model import PaymentTerms
from encours.sync.store import Store, WriteCounts
from encours.sync.store.ledger import with_raw

NOW = datetime(2026, 11, 1, 3, tzinfo=UTC)
HEADER_AND_BASE: list[str] = []
(ACCOUNT, AUX, AUX_LABEL, DEBIT, CREDIT, LET, DATE_LET, NUM, DAY) = (4, 6, 7, 11, 12, 13, 14, 2, 3)
EDITS = (
    "unletter",
    "letter",
    "rename",
    "move",
    "amount",
    "unbalance",
    "blank",
    "append",
    "truncate",
    "insert",
    "bad_date",
)


def base_lines() -> list[str]:
    """A generated ledger of 300 invoices and 12 customers, as text lines with the header."""
    if not HEADER_AND_BASE:
        import io

        text = io.StringIO()
        write_generated(text, FecSpec(invoices=300, customers=12, seed=3))
        HEADER_AND_BASE.extend(text.getvalue().split("\n")[:-1])
    return list(HEADER_AND_BASE)


def cents(text: str) -> int:
    units, _, fraction = text.partition(",")
    return int(units) * 100 + int(fraction or 0)


def money(value: int) -> str:
    return f"{value // 100},{value % 100:02d}"


def edit(lines: list[str], kind: str, rng: random.Random) -> None:
    """Apply one edit of `kind` to the ledger `lines` (header first), in place."""
    body = range(1, len(lines))
    cols = [line.split("\t") for line in lines]
    customer = [i for i in body if len(cols[i]) > ACCOUNT and cols[i][ACCOUNT].startswith("411")]
    at = rng.choice(customer)
    row = cols[at]
    if kind == "unletter":
        row[LET] = row[DATE_LET] = ""
    elif kind == "letter":
        row[LET], row[DATE_LET] = f"Z{rng.randrange(99)}", row[DAY]
    elif kind == "rename":
        row[AUX_LABEL] = f"Renamed {rng.randrange(9)}"
    elif kind == "move":
        other = cols[rng.choice(customer)]
        row[AUX], row[AUX_LABEL] = other[AUX], other[AUX_LABEL]
    elif kind == "amount" and cents(row[DEBIT]) and at + 1 < len(lines):
        delta = rng.randrange(1, 5000)
        row[DEBIT] = money(cents(row[DEBIT]) + delta)
        nxt = cols[at + 1]
        nxt[CREDIT] = money(cents(nxt[CREDIT]) + delta)
    elif kind == "unbalance":
        row[DEBIT] = money(cents(row[DEBIT]) + 1)
    elif kind == "bad_date":
        row[DAY] = "20261341"
    lines[:] = ["\t".join(c) for c in cols]
    if kind == "blank":
        lines[rng.choice(body)] = ""
    elif kind == "append":
        entry = [line for line in lines[at : at + 5] if line.split("\t")[NUM] == row[NUM]]
        fresh = f"{9000 + rng.randrange(900)}"
        lines.extend(_renumbered(entry, fresh))
    elif kind == "truncate":
        del lines[len(lines) - rng.randrange(1, 6) :]
    elif kind == "insert":
        where = len(lines) - rng.randrange(1, 40)
        while where < len(lines) and lines[where].split("\t")[ACCOUNT] != "411000":
            where += 1  # an entry starts with its customer line in this ledger
        lines[where:where] = _renumbered(lines[at : at + 3], f"{8000 + rng.randrange(900)}")


def _renumbered(entry: list[str], number: str) -> list[str]:
    out = []
    for line in entry:
        fields = line.split("\t")
        fields[NUM] = number
        out.append("\t".join(fields))
    return out


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def store_files(
    folder: Path, *files: Path, max_deletion_share: float | None = None, encoding: str = "auto"
) -> tuple[dict[str, object], WriteCounts]:
    """Store each file in turn as a run does; the tables, and what the last read did."""
    folder.mkdir(exist_ok=True)
    store = Store.open(folder / "s.duckdb")
    counts = WriteCounts()
    try:
        for fec in files:
            source = FecConnector(
                "books", fec, currency="EUR", default_terms=PaymentTerms.net(30), encoding=encoding
            )
            ledger = store.read_ledger("books", source.stage)
            with store.transaction():
                run_id = store.start_run(date(2026, 11, 1), NOW)
                counts = store.write_ledger(
                    "books",
                    ledger,
                    company_currency="EUR",
                    run_id=run_id,
                    replace_all=True,
                    max_deletion_share=max_deletion_share,
                )
                store.reconcile_dirty(oldest_first=True, complete_sources=())
    finally:
        store.close()
    tables = dump(folder / "s.duckdb", without=("run_id", "first_run", "last_run"))
    return tables, counts


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kinds=st.lists(st.sampled_from(EDITS), min_size=1, max_size=4),
    seed=st.integers(0, 10_000),
)
def test_a_file_read_again_stores_what_a_whole_read_stores(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str], seed: int
) -> None:
    folder = tmp_path_factory.mktemp("changes")
    rng = random.Random(seed)
    lines = base_lines()
    before = write(folder / "before.fec", lines)
    for kind in kinds:
        edit(lines, kind, rng)
    after = write(folder / "after.fec", lines)

    try:
        whole, _ = store_files(folder / "whole", after)
    except DataError as exc:
        error = str(exc)
        with pytest.raises(DataError) as again:
            store_files(folder / "again", before, after)
        assert str(again.value) == error
        return
    again, _ = store_files(folder / "again", before, after)

    assert again == whole


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(st.integers(0, 3), max_size=30),
    after=st.lists(st.integers(0, 3), max_size=30),
    gaps=st.sets(st.integers(2, 31), max_size=3),
)
def test_lines_paired_by_position_or_else_by_number_give_every_change(
    before: list[int], after: list[int], gaps: set[int]
) -> None:
    """The last read's digests numbered 2, 3, ... (or with gaps); the file's lines likewise."""
    previous = {n: d for n, d in enumerate(before, start=2) if n not in gaps}
    now = dict(enumerate(after, start=2))
    expected = sorted(
        (n, n not in now, n not in previous)
        for n in previous.keys() | now.keys()
        if previous.get(n) != now.get(n)
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE fec_previous_lines (number BIGINT, digest BIGINT)")
    for number, digest in previous.items():
        con.execute("INSERT INTO fec_previous_lines VALUES (?, ?)", [number, digest])
    con.execute("CREATE TABLE file_lines (number BIGINT, line TEXT, digest BIGINT)")
    for number, digest in now.items():
        con.execute("INSERT INTO file_lines VALUES (?, ?, ?)", [number, f"line {number}", digest])
    lines = "SELECT * FROM file_lines ORDER BY number"

    con.execute(fec_changes.read_changes(lines))
    if not fec_changes.aligned(con):
        assert any(n < max(previous, default=0) for n in gaps)  # only a gap misaligns them
        con.execute(fec_changes.read_changes(lines, by_position=False))
    changed = "SELECT number, removed, added FROM fec_changed_text ORDER BY number"

    assert con.execute(changed).fetchall() == expected
    texts = "SELECT number, line FROM fec_changed_text WHERE NOT removed ORDER BY number"
    kept = [(n, f"line {n}") for n, gone, _ in expected if not gone]
    assert con.execute(texts).fetchall() == kept


def test_a_few_changed_lines_are_all_that_is_worked_out(tmp_path: Path) -> None:
    lines = base_lines()
    before = write(tmp_path / "before.fec", lines)
    rng = random.Random(1)
    for _ in range(3):
        edit(lines, "unletter", rng)
    after = write(tmp_path / "after.fec", lines)

    (tables, first) = store_files(tmp_path / "first", after)
    (again, counts) = store_files(tmp_path / "again", before, after)

    assert again == tables
    assert counts.lines == (3, len(lines) - 1)
    # Every record of the file is counted; updated are the three lines' records and those
    # that show their text (their sale, their customer's row if it was the first line).
    assert counts.written == first.written
    assert 3 <= counts.updated <= 9 and counts.new == 0 and counts.deleted == 0
    assert len(tables["ledger_lines"]) == len(lines) - 1


def test_records_that_keep_their_own_raw_text_are_read_again_narrowly(tmp_path: Path) -> None:
    """A store from before `ledger_text` (schema 3: each record held its raw text) goes on."""
    lines = base_lines()
    before = write(tmp_path / "before.fec", lines)
    rng = random.Random(2)
    for kind in ("unletter", "amount", "rename"):
        edit(lines, kind, rng)
    after = write(tmp_path / "after.fec", lines)
    store_files(tmp_path / "old", before)
    db = duckdb.connect(str(tmp_path / "old" / "s.duckdb"))
    for table in ("invoices", "credits", "sales"):  # the texts back into the records
        db.execute(f"CREATE TEMP TABLE kept AS {with_raw(table)}")  # noqa: S608
        db.execute(f"DELETE FROM {table}")  # noqa: S608
        db.execute(f"INSERT INTO {table} SELECT * FROM kept")  # noqa: S608
        db.execute("DROP TABLE kept")
    db.execute("DELETE FROM ledger_text")
    db.close()

    (again, counts) = store_files(tmp_path / "old", after)
    (whole, _) = store_files(tmp_path / "whole", after)

    assert counts.lines is not None and counts.lines[0] >= 3  # read narrowly
    kept = {name: rows for name, rows in again.items() if name != "ledger_text"}
    assert kept == {name: rows for name, rows in whole.items() if name != "ledger_text"}


@pytest.mark.parametrize("encoding", ["iso-8859-15", "cp1252"])
@pytest.mark.parametrize("edits", [3, 400])
def test_a_file_in_a_single_byte_encoding_is_read_again_as_a_whole_read_reads_it(
    tmp_path: Path, encoding: str, edits: int
) -> None:
    """Its unchanged lines come back from the store as the file has them (€, Œ: ISO-8859-15
    read as Latin-1 and translated; CP1252 read from a UTF-8 copy), and past the share of
    changes read narrowly, the whole file is read again."""
    lines = [line.split("\t") for line in base_lines()]
    for row in lines[1:]:
        if row[ACCOUNT].startswith("411"):
            row[AUX_LABEL] = f"Œuvres à 5 € {row[AUX]}"
    lines = ["\t".join(row) for row in lines]
    before = write(tmp_path / "before.fec", lines, encoding)
    rng = random.Random(5)
    for _ in range(edits):
        edit(lines, "unletter", rng)
    after = write(tmp_path / "after.fec", lines, encoding)
    read_as = encoding if encoding == "cp1252" else "auto"

    (whole, _) = store_files(tmp_path / "whole", after, encoding=read_as)
    (again, counts) = store_files(tmp_path / "again", before, after, encoding=read_as)

    assert again == whole
    assert "Œuvres à 5 €" in str(whole["customers"])
    assert (counts.lines is not None) == (edits == 3)  # narrowly, or as a whole


def test_a_file_that_is_not_simple_keeps_no_index(tmp_path: Path) -> None:
    lines = base_lines()
    edit(lines, "unbalance", random.Random(2))  # an entry that does not balance
    fec = write(tmp_path / "unbalanced.fec", lines)

    tables, _ = store_files(tmp_path / "store", fec)

    assert tables["ledger_lines"] == [] and tables["ledger_entries"] == []
    assert not [row for row in tables["cursors"] if row[1] == "ledger-index"]
    assert tables["quarantine"]


def test_an_export_cut_short_is_refused_as_a_whole_read_refuses_it(tmp_path: Path) -> None:
    lines = base_lines()
    before = write(tmp_path / "before.fec", lines)
    cut = len(lines) * 95 // 100
    while lines[cut].split("\t")[ACCOUNT] != "411000":
        cut += 1  # at the start of an entry: what is left balances, and is read again narrowly
    after = write(tmp_path / "after.fec", lines[:cut])

    with pytest.raises(DestructiveReadError, match="would delete") as again:
        store_files(tmp_path / "again", before, after, max_deletion_share=0.02)
    # With room for it, the same cut is taken in by the read of what changed.
    _, counts = store_files(tmp_path / "allowed", before, after, max_deletion_share=0.2)

    assert "allowed" in str(again.value)
    assert counts.lines is not None and counts.deleted > 0


def test_a_sync_says_how_many_lines_changed(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from encours.cli import cli

    lines = base_lines()
    fec = write(tmp_path / "books.fec", lines)
    config = tmp_path / "encours.toml"
    config.write_text(
        '[company]\ncurrency = "EUR"\n[sources.books]\ntype = "fec"\npath = "books.fec"\n'
        "default_payment_terms_days = 30\n",
        encoding="utf-8",
    )
    sync = ["--config", str(config), "sync", "--as-of", "2026-10-31"]
    assert CliRunner().invoke(cli, sync).exit_code == 0
    rng = random.Random(4)
    for _ in range(3):
        edit(lines, "unletter", rng)
    write(fec, lines)

    result = CliRunner().invoke(cli, sync)

    assert result.exit_code == 0, result.output
    assert f"source books: ok, 3 of {len(lines) - 1} line(s) changed since the last read, " in (
        result.output
    )
