"""Bad data: a corpus of malformed records, one at a time, through a real sync.

Each case adds one bad record (or two) to a small set of good ones and runs `encours sync`
through the CLI into a store in the test's folder. What we want, per case: the bad record is
in `encours quarantine` with a reason naming the field or the rule, the good records of the
same run are stored (`encours status` shows them), the run ends with exit 3 ("done, with
quarantine") and `encours status` says how many records wait in quarantine. Where the right
outcome is not a quarantine (a credit note larger than its invoice leaves an unapplied
credit; a record listed twice is one record), the case asserts that outcome and says why.

Sources: Pennylane through its fake server, and the FEC. The FEC has no "invoice whose due
lines do not add up" (its due lines are computed from payment terms, never read), no
currency, exchange rate or record id of its own to duplicate (an entry number appearing in
two places is one entry), so those cases are Pennylane's only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses
from click.testing import CliRunner, Result
from fakes.pennylane import SPEC_PATH, FakePennylane, customer, invoice
from fec_files import Line, receipt, sale, write_fec

from encours.cli import cli
from encours.connectors import pennylane as pennylane_module

AS_OF = "2026-03-01"
EXIT_OK, EXIT_QUARANTINE, EXIT_DATA = 0, 3, 65


def _invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


@dataclass(frozen=True)
class Outcome:
    sync: Result
    quarantine: Result
    status: Result
    status_json: Result
    unmatched: Result

    def quarantined(self) -> list[list[str]]:
        return [line.split("\t") for line in self.quarantine.stdout.splitlines()]


def _run_all(config: Path) -> Outcome:
    sync = _invoke(config, "sync", "--as-of", AS_OF)
    return Outcome(
        sync,
        _invoke(config, "quarantine"),
        _invoke(config, "status", "--as-of", AS_OF),
        _invoke(config, "status", "--as-of", AS_OF, "--json"),
        _invoke(config, "unmatched", "--as-of", AS_OF),
    )


def _assert_quarantined(outcome: Outcome, count: int, *reason_words: str) -> None:
    """The run completed with `count` record(s) in quarantine, each reason naming the rule."""
    assert outcome.sync.exit_code == EXIT_QUARANTINE, outcome.sync.stderr
    assert f"{count} quarantined" in outcome.sync.stderr
    assert f"{count} record(s) wait in quarantine" in outcome.sync.stderr
    rows = outcome.quarantined()
    assert len(rows) == count, outcome.quarantine.stdout
    for _, _, _, reason in rows:
        for word in reason_words:
            assert word in reason, reason
    assert outcome.quarantine.stderr.strip() == f"{count} record(s) in quarantine"
    assert outcome.status.exit_code == 0, outcome.status.output
    assert f"{count} record(s) wait in quarantine" in outcome.status.stdout


# ---------------------------------------------------------------------------------------------
# Pennylane

GOOD_INVOICES = {
    10: lambda: invoice(10, 1, "1200.00"),  # Dupont owes 1200.00
    11: lambda: invoice(11, 2, "240.00", remaining="40.00", status="partially_paid"),
}


@dataclass(frozen=True)
class Case:
    """Bad Pennylane data: extra customers and invoices (by dict key), what to expect."""

    customers: dict[int, dict[str, Any]]
    invoices: dict[int, dict[str, Any]]
    reason_words: tuple[str, ...] = ()  # empty: not quarantined, see `check`
    quarantined: int = 1
    check: Callable[[Outcome], None] | None = None
    page_size: int | None = None
    bug: str | None = None  # a known bug: the case is a strict xfail with this reason


def _assert_in_row(outcome: Outcome, customer: str, amount: str) -> None:
    assert amount in _row(outcome, customer)


def _unapplied(expected: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        assert outcome.sync.exit_code == EXIT_OK, outcome.sync.stderr
        assert outcome.quarantined() == []
        assert "record(s) wait in quarantine" not in outcome.status.stdout
        lines = [line for line in outcome.unmatched.stdout.splitlines() if "F-20" in line]
        assert len(lines) == 1 and lines[0].endswith(expected), outcome.unmatched.stdout

    return check


def _one_record_once(outcome: Outcome) -> None:
    assert outcome.sync.exit_code == EXIT_OK, outcome.sync.stderr
    assert outcome.quarantined() == []
    # Dupont: 1200.00 (invoice 10) + 300.00 (invoice 20, counted once).
    assert "€1,500.00" in _row(outcome, "(1)"), outcome.status.stdout


def _row(outcome: Outcome, key: str) -> str:
    return next(line for line in outcome.status.stdout.splitlines() if key in line)


CASES: dict[str, Case] = {
    "invoice without customer": Case(
        {}, {20: invoice(20, 1, "300.00", customer=None)}, ("no customer",)
    ),
    "invoice without date": Case({}, {20: invoice(20, 1, "300.00", date=None)}, ("no date",)),
    "amount not a number": Case(
        {}, {20: invoice(20, 1, "300.00", currency_amount="trois cents")}, ("currency_amount",)
    ),
    "amount of the wrong type": Case(
        {}, {20: invoice(20, 1, "300.00", currency_amount=[300])}, ("currency_amount",)
    ),
    "amount finer than a cent": Case(
        {}, {20: invoice(20, 1, "300.001")}, ("more decimals than EUR allows",)
    ),
    "amount absurdly large": Case(
        {},
        {20: invoice(20, 1, "1" + "0" * 30 + ".00")},
        ("amount",),
    ),
    "amount infinite": Case({}, {20: invoice(20, 1, "Infinity")}, ("finite",)),
    "unknown currency": Case(
        {}, {20: invoice(20, 1, "300.00", currency="XXX")}, ("unknown currency code 'XXX'",)
    ),
    "foreign currency without rate": Case(
        {}, {20: invoice(20, 1, "300.00", currency="USD", exchange_rate=None)}, ("exchange rate",)
    ),
    "negative exchange rate": Case(
        {}, {20: invoice(20, 1, "300.00", currency="USD", exchange_rate="-0.9")}, ("exchange_rate",)
    ),
    "date far in the past": Case(
        {},
        {20: invoice(20, 1, "300.00", date="0001-01-01")},
        ("date",),
    ),
    "deadline far in the future": Case(
        {},
        {20: invoice(20, 1, "300.00", deadline="9999-12-31")},
        ("deadline",),
    ),
    "date not a date": Case({}, {20: invoice(20, 1, "300.00", date="31/12/2025")}, ("date",)),
    # (An id of the wrong type, "vingt", cannot be served by the fake, which sorts by id.)
    "id missing": Case(
        {},
        {20: {k: v for k, v in invoice(20, 1, "300.00").items() if k != "id"}},
        ("id: Field required",),
    ),
    "amount large for the store": Case(
        {},
        {20: invoice(20, 1, "1" + "0" * 18 + ".00")},
        ("amount",),
    ),
    # The second invoice 20 and the sale it gives are both quarantined; the first is kept.
    "same id, two different records": Case(
        {},
        {20: invoice(20, 1, "300.00"), 1020: invoice(20, 1, "500.00")},
        page_size=1,
        check=lambda outcome: (
            _assert_quarantined(outcome, 2, "came twice in one read with different content"),
            _assert_in_row(outcome, "(1)", "€1,500.00"),  # 1 200.00 + the first invoice 20
        ),
    ),
    "customer without name": Case(
        {3: customer(3, "x") | {"name": None}}, {}, ("customer does not fit the model", "name")
    ),
    "customer with a bad updated_at": Case(
        {3: customer(3, "Trois", updated_at="yesterday")}, {}, ("updated_at",)
    ),
    # Pennylane writes credit notes with negative amounts: a negative amount *is* a credit
    # note (the connector reads it so), here one that credits no invoice: an unapplied credit
    # of 300.00 that `encours unmatched` shows for a person to settle. Not quarantined.
    "negative amount": Case(
        {}, {20: invoice(20, 1, "-300.00", status="credit_note")}, check=_unapplied("€300.00")
    ),
    # A credit note larger than its invoice: the invoice is settled, what is left (300.00)
    # stays an unapplied credit on the customer's account, as in the books. A legitimate
    # outcome (the customer may be refunded or keep a credit), so not quarantined.
    "credit note larger than its invoice": Case(
        {},
        {20: invoice(20, 1, "-1500.00", status="credit_note", credited_invoice={"id": 10})},
        check=_unapplied("€300.00"),
    ),
    # The same record on two pages (a page boundary that moved during the read): one record.
    "same record on two pages": Case(
        {},
        {20: invoice(20, 1, "300.00"), 1020: invoice(20, 1, "300.00")},
        check=_one_record_once,
        page_size=1,
    ),
}


def _pennylane_config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n[sources.pl]\ntype = "pennylane"\n'
        '[targets.out]\ntype = "file"\npath = "out.json"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent")
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=case.bug))
        if case.bug
        else name
        for name, case in CASES.items()
    ],
)
def test_pennylane_bad_record(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    pennylane = FakePennylane()
    pennylane.customers = {
        1: customer(1, "Boulangerie Dupont"),
        2: customer(2, "Garage Martin"),
        **case.customers,
    }
    pennylane.invoices = {key: make() for key, make in GOOD_INVOICES.items()} | case.invoices
    monkeypatch.setenv("ENCOURS_PL_TOKEN", pennylane.token)
    if case.page_size is not None:
        monkeypatch.setattr(pennylane_module, "PAGE_SIZE", case.page_size)
    config = _pennylane_config(tmp_path)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        outcome = _run_all(config)

    # Whatever the case, the good records of the run are stored and computed.
    assert outcome.status.exit_code == 0, outcome.status.output
    assert "Boulangerie Dupont (1)" in outcome.status.stdout
    assert "€40.00" in _row(outcome, "(2)")
    if case.check is not None:
        case.check(outcome)
    else:
        _assert_quarantined(outcome, case.quarantined, *case.reason_words)
        assert "€1,200.00" in _row(outcome, "(1)")  # the bad record counted for nothing
        assert all(row[0] == "pl" for row in outcome.quarantined())
    assert pennylane.violations == []


# ---------------------------------------------------------------------------------------------
# FEC


def _fec_config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        '[store]\npath = "s.sqlite"\n'
        '[sources.books]\ntype = "fec"\npath = "books.fec"\ndefault_payment_terms_days = 30\n'
        '[targets.out]\ntype = "file"\npath = "out.json"\n',
        encoding="utf-8",
    )
    return config


def _good_fec() -> list:  # type: ignore[type-arg]
    return [
        *sale("1", "20260110", "C001", "Dupont", "1000,00", "200,00", "1200,00"),
        *sale("2", "20260115", "C002", "Martin", "200,00", "40,00", "240,00"),
        *receipt("3", "20260201", "C002", "Martin", "200,00"),
    ]


def test_fec_unbalanced_entry_is_quarantined_and_the_rest_is_read(tmp_path: Path) -> None:
    bad = sale("4", "20260120", "C001", "Dupont", "500,00", "100,00", "650,00")  # 600 != 650
    write_fec(tmp_path / "books.fec", [*_good_fec(), *bad])

    outcome = _run_all(_fec_config(tmp_path))

    _assert_quarantined(outcome, 1, "does not balance", "debit 650.00", "credit 600.00")
    assert outcome.quarantined()[0][:2] == ["books", "entries"]
    assert "€1,200.00" in _row(outcome, "(C001)")
    assert "€40.00" in _row(outcome, "(C002)")


def test_fec_credit_note_larger_than_its_invoice_leaves_a_credit(tmp_path: Path) -> None:
    # A credit note of 1500.00 against an invoice of 1200.00: the account is in credit by
    # 300.00, as the books say; no rule is broken, so nothing is quarantined.
    credit_note = [
        Line(
            "VT",
            "4",
            "20260120",
            "411000",
            credit="1500,00",
            aux="C001",
            aux_label="Dupont",
            piece="A4",
        ),
        Line("VT", "4", "20260120", "706000", debit="1250,00", piece="A4"),
        Line("VT", "4", "20260120", "445710", debit="250,00", piece="A4"),
    ]
    write_fec(tmp_path / "books.fec", [*_good_fec(), *credit_note])

    outcome = _run_all(_fec_config(tmp_path))

    assert outcome.sync.exit_code == EXIT_OK, outcome.sync.stderr
    assert outcome.quarantined() == []
    # Not lettered to the invoice, the credit note stays whole in `unmatched`; the account
    # nets to -300.00.
    (line,) = [line for line in outcome.unmatched.stdout.splitlines() if " A4 " in line]
    assert "credit note" in line and line.endswith("€1,500.00    €1,500.00")
    assert "-€300.00" in _row(outcome, "(C001)")
    assert "€40.00" in _row(outcome, "(C002)")


def test_fec_line_that_cannot_be_read_fails_the_source_and_names_the_line(tmp_path: Path) -> None:
    # A FEC is a ledger: one unreadable line (an amount that is no number) makes every balance
    # wrong, so by design the whole file is refused (exit 65) with file, line and column, and
    # the store keeps what it had; this is not a record-level quarantine.
    lines = _good_fec()
    write_fec(tmp_path / "books.fec", lines)
    text = (tmp_path / "books.fec").read_text(encoding="utf-8").replace("1200,00", "12O0,00", 1)
    (tmp_path / "books.fec").write_text(text, encoding="utf-8")

    outcome = _run_all(_fec_config(tmp_path))

    assert outcome.sync.exit_code == EXIT_DATA, outcome.sync.stderr
    assert "source books: FAILED" in outcome.sync.stderr
    assert "line 2" in outcome.sync.stderr and "12O0,00" in outcome.sync.stderr
    assert outcome.quarantined() == []
