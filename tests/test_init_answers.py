"""`encours init` checks each answer as it is given, asks the payment terms, edits one section.

Driven through the prompts as a person types (CliRunner input). A wrong answer is asked
again on the spot with the reason; with `--non-interactive` it exits 78 before writing. The
per-customer terms `init` writes are the ones `sync` then computes due dates from.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fec_files import Line, write_fec

from encours.cli import cli
from encours.sync.config import load_settings

DAY = "20260115"
CUSTOMER_TERMS = "C1=60 fin de mois, C3=30% 0, 70% 60"


@pytest.fixture
def books(tmp_path: Path) -> Path:
    """One sale of 1 200 TTC on 15 January 2026 to each of C1 (own terms) and C2 (none)."""
    lines = []
    for entry, customer in (("1", "C1"), ("2", "C2")):
        piece = f"FA{entry}"
        lines += [
            Line("VT", entry, DAY, "411000", debit="1200,00", aux=customer, piece=piece,
                 aux_label=f"Client {customer}"),
            Line("VT", entry, DAY, "707000", credit="1000,00", piece=piece),
            Line("VT", entry, DAY, "445710", credit="200,00", piece=piece),
        ]  # fmt: skip
    return write_fec(tmp_path / "books.fec", lines)


def init(config: Path, *options: str, typed: list[str] | None = None) -> Result:
    text = None if typed is None else "".join(f"{line}\n" for line in typed)
    return CliRunner().invoke(cli, ["--config", str(config), "init", *options], input=text)


def typed_for_fec(path: str = "books.fec", terms: str = "", customers: str = "") -> list[str]:
    """Currency, store, source type and name, the FEC's questions, then a file target."""
    return ["EUR", "encours.duckdb", "fec", "books", path, terms, customers, "file", "", ""]


# --- answers checked on the spot -------------------------------------------------------------


def test_a_wrong_fec_path_is_asked_again_with_the_reason(tmp_path: Path, books: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a ledger\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    typed = typed_for_fec()
    typed[4:5] = ["missing.fec", "notes.txt", "books.fec"]

    result = init(config, typed=typed)

    assert result.exit_code == 0, result.output
    assert result.output.count("Path of the FEC file") == 3
    assert f"FEC file {tmp_path / 'missing.fec'} does not exist" in result.output
    assert f"{tmp_path / 'notes.txt'}, line 1: no tab or | separator" in result.output
    assert load_settings(config).sources["books"].path == books


def test_bad_terms_are_asked_again(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    typed = typed_for_fec()
    typed[5:7] = [
        "soon", "400", "30% 0, 70% 60", "45 fin de mois",  # default terms: the last one taken
        "C1", "C1=whenever", "C1=60",  # per-customer terms: the last one taken
    ]  # fmt: skip

    result = init(config, typed=typed)

    assert result.exit_code == 0, result.output
    assert "cannot read 'soon'" in result.output
    assert "payment terms are 0 to 365 days" in result.output
    assert "the default terms are one due date" in result.output
    assert "'C1': write the customer's id, = and its terms" in result.output
    assert "terms of customer C1: cannot read 'whenever'" in result.output
    source = tomllib.loads(config.read_text(encoding="utf-8"))["sources"]["books"]
    assert source["default_payment_terms_days"] == 45
    assert source["default_end_of_month"] is True
    assert source["payment_terms"] == {"C1": 60}


def test_a_wrong_currency_is_asked_again(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    typed = typed_for_fec()
    typed[0:1] = ["euros", "eur"]
    result = init(config, typed=typed)
    assert result.exit_code == 0, result.output
    assert "'euros' is not an ISO 4217 currency code" in result.output
    assert load_settings(config).company.currency == "EUR"


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--fec", "missing.fec"], "--fec missing.fec: FEC file"),
        (["--fec", "books.fec", "--payment-terms", "90 days later"], "--payment-terms 90 days"),
        (["--fec", "books.fec", "--customer-terms", "C1=never"], "terms of customer C1"),
        (["--fec", "books.fec", "--company-currency", "XYZ"], "--company-currency XYZ: 'XYZ'"),
    ],
    ids=["fec", "terms", "customer-terms", "currency"],
)
def test_non_interactive_a_bad_value_exits_78_without_writing(
    tmp_path: Path, books: Path, options: list[str], said: str
) -> None:
    config = tmp_path / "config.toml"
    result = init(config, "--non-interactive", *options)
    assert result.exit_code == 78, result.output
    assert said in result.stderr
    assert "?" not in result.stdout and "[" not in result.stdout, "nothing was asked"
    assert not config.exists()


# --- payment terms, written and used ---------------------------------------------------------


def test_customer_terms_written_by_init_give_the_due_dates_of_a_sync(
    tmp_path: Path, books: Path
) -> None:
    config = tmp_path / "config.toml"
    result = init(config, typed=typed_for_fec(terms="30", customers=CUSTOMER_TERMS))
    assert result.exit_code == 0, result.output
    source = tomllib.loads(config.read_text(encoding="utf-8"))["sources"]["books"]
    assert source["payment_terms"] == {"C1": "60 fin de mois", "C3": "30% 0, 70% 60"}

    synced = CliRunner().invoke(cli, ["--config", str(config), "sync", "--as-of", "2026-04-30"])
    assert synced.exit_code == 0, synced.output

    def customer(code: str) -> dict:
        shown = CliRunner().invoke(
            cli,
            ["--config", str(config), "status", "--json", "--customer", code,
             "--as-of", "2026-04-30"],
        )  # fmt: skip
        assert shown.exit_code == 0, shown.output
        return json.loads(shown.stdout)["customers"][0]

    own, default = customer("C1"), customer("C2")
    # C1: 15 January + 60 days = 16 March, then to the end of that month.
    assert [item["due_on"] for item in own["open_items"]] == ["2026-03-31"]
    assert own["due_dates_assumed"] is False
    # C2 has no terms of its own: the default 30 days, said to be assumed.
    assert [item["due_on"] for item in default["open_items"]] == ["2026-02-14"]
    assert default["due_dates_assumed"] is True


# --- init --edit -----------------------------------------------------------------------------


HAND_EDITED = """\
# Our receivables, by the finance team.
[company]
currency = "EUR"  # invoices are all in euros
name = "Fonderie Dupont"

[store]
path = "encours.duckdb"

# The ledger export, each night at 01:00.
[sources.books]
type = "fec"
path = "books.fec"  # from the accounting package
default_payment_terms_days = 30
encoding = "auto"

[targets.file]
type = "file"
path = "indicators.json"  # read by the CRM import
"""


def test_edit_rewrites_one_section_and_keeps_every_other_byte(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(HAND_EDITED, encoding="utf-8")
    config.chmod(0o600)

    result = init(config, "--edit", "sources.books", typed=["", "45 fin de mois", "C1=60"])

    assert result.exit_code == 0, result.output
    assert "exists" not in result.output, "editing asks no leave to overwrite"
    assert "Path of the FEC file [books.fec]" in result.output  # the current value proposed
    assert 'Default payment terms (days, e.g. 30 or "45 fin de mois") [30]' in result.output
    assert "Where are the invoices" not in result.output  # only this section's questions
    assert "Indicators file" not in result.output
    expected = HAND_EDITED.replace(
        'default_payment_terms_days = 30\nencoding = "auto"\n',
        'default_payment_terms_days = 45\nencoding = "auto"\n'
        "default_end_of_month = true\npayment_terms = {C1 = 60}\n",
    )
    assert config.read_text(encoding="utf-8") == expected
    assert config.stat().st_mode & 0o777 == 0o600
    assert load_settings(config).sources["books"].payment_terms == {"C1": 60}


def test_edit_proposes_the_current_terms_and_keeps_them_when_accepted(
    tmp_path: Path, books: Path
) -> None:
    config = tmp_path / "config.toml"
    first = init(config, typed=typed_for_fec(terms="45 fin de mois", customers="C1=60"))
    assert first.exit_code == 0, first.output
    written = config.read_text(encoding="utf-8")

    result = init(config, "--edit", "sources.books", typed=["", "", ""])

    assert result.exit_code == 0, result.output
    assert "[45 fin de mois]" in result.output and "[C1=60]" in result.output
    assert config.read_text(encoding="utf-8") == written


def test_edit_keeps_per_customer_terms_written_as_a_sub_table_in_that_form(
    tmp_path: Path, books: Path
) -> None:
    config = tmp_path / "config.toml"
    table = "[sources.books.payment_terms]  # as config.example.toml writes them\n"
    table += "C1 = 60\nC2 = 30\n"
    text = HAND_EDITED.replace('encoding = "auto"\n', f'encoding = "auto"\n{table}')
    config.write_text(text, encoding="utf-8")

    result = init(config, "--edit", "sources.books", typed=["", "", "C1=45 fin de mois"])

    assert result.exit_code == 0, result.output
    assert "[C1=60, C2=30]" in result.output
    assert config.read_text(encoding="utf-8") == text.replace(
        "C1 = 60\nC2 = 30\n", 'C1 = "45 fin de mois"\n'
    )


def test_edit_company_non_interactive_from_an_option(tmp_path: Path, books: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(HAND_EDITED, encoding="utf-8")
    result = init(config, "--non-interactive", "--edit", "company", "--company-currency", "chf")
    assert result.exit_code == 0, result.output
    assert config.read_text(encoding="utf-8") == HAND_EDITED.replace(
        'currency = "EUR"  # invoices', 'currency = "CHF"  # invoices'
    )


@pytest.mark.parametrize("section", ["sources.ledger", "sources", "limits", "company.name"])
def test_edit_an_unknown_section_names_the_ones_there(
    tmp_path: Path, books: Path, section: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(HAND_EDITED, encoding="utf-8")
    result = init(config, "--edit", section)
    assert result.exit_code == 78, result.output
    assert "company, store, sources.books, targets.file" in result.stderr
    assert config.read_text(encoding="utf-8") == HAND_EDITED


def test_edit_keeps_a_secret_left_empty_in_the_keyring(
    tmp_path: Path, books: Path, memory_keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("encours.sync.init.check_everything", lambda settings: [])  # no HubSpot
    monkeypatch.setattr("encours.sync.init.create_target_fields", lambda settings: [])
    config = tmp_path / "config.toml"
    config.write_text(
        HAND_EDITED.replace('[targets.file]\ntype = "file"\npath = "indicators.json"  # read by '
                            'the CRM import', '[targets.crm]\ntype = "hubspot"'),
        encoding="utf-8",
    )  # fmt: skip
    memory_keyring.set_password("encours", "crm.token", "pat-kept-0123")
    before = config.read_text(encoding="utf-8")

    kept = init(config, "--edit", "targets.crm", typed=[""])
    assert kept.exit_code == 0, kept.output
    assert "(empty: keep the one stored)" in kept.output
    assert memory_keyring.get_password("encours", "crm.token") == "pat-kept-0123"
    assert config.read_text(encoding="utf-8") == before

    changed = init(config, "--edit", "targets.crm", typed=["pat-new-4567"])
    assert changed.exit_code == 0, changed.output
    assert memory_keyring.get_password("encours", "crm.token") == "pat-new-4567"
    assert "pat-new-4567" not in changed.output + config.read_text(encoding="utf-8")
