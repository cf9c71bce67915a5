"""`encours calc`: every worked example of DOMAIN.md, and bad input refused with exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from encours.cli import cli


def _calc(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["calc", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--invoice", "25000", "--advance", "5000"], "20000.00"),
        (
            ["--invoice", "2000", "--invoice", "1500", "--invoice", "1500", "--advance", "1000"],
            "4000.00",
        ),
        (["--invoice", "18200", "--advance", "3700"], "14500.00"),
        (["--invoice", "80000", "--advance", "20000"], "60000.00"),
    ],
    ids=["25000-5000", "2000+1500+1500-1000", "18200-3700", "80000-20000"],
)
def test_seed_outstanding_examples(args: list[str], expected: str) -> None:
    assert _calc("outstanding", *args) == {"outstanding": expected}


def test_outstanding_reads_french_amounts_and_unbilled() -> None:
    assert _calc("outstanding", "--invoice", "1 500,50", "--unbilled", "99,50") == {
        "outstanding": "1600.00"
    }


def test_count_back_example_76_71() -> None:
    assert _calc(
        "dso",
        "--outstanding",
        "150000",
        "--sales",
        "2026-01:70000",
        "--sales",
        "2026-02:50000",
        "--sales",
        "2026-03:60000",
    ) == {"dso": "76.71", "method": "count-back", "order": "recent-first"}


SEED_TABLE = ["--sales", "2021-10:50000", "--sales", "2021-11:80000", "--sales", "2021-12:90000"]


def test_seed_table_oldest_first_67_89() -> None:
    assert _calc("dso", "--outstanding", "150000", *SEED_TABLE, "--order", "oldest-first") == {
        "dso": "67.89",
        "method": "count-back",
        "order": "oldest-first",
    }


def test_seed_table_standard_walk_53_50() -> None:
    assert _calc("dso", "--outstanding", "150000", *SEED_TABLE) == {
        "dso": "53.50",
        "method": "count-back",
        "order": "recent-first",
    }


def test_sales_order_on_the_command_line_does_not_matter() -> None:
    shuffled = ["--sales", "2021-12:90000", "--sales", "2021-10:50000", "--sales", "2021-11:80000"]
    assert _calc("dso", "--outstanding", "150000", *shuffled)["dso"] == "53.50"


def test_accounting_method_45_days() -> None:
    # 31 + 28 + 31 = 90 days, sales 60 000 over them, outstanding 30 000.
    document = _calc(
        "dso",
        "--method",
        "accounting",
        "--outstanding",
        "30000",
        "--sales",
        "2026-01:20000",
        "--sales",
        "2026-02:20000",
        "--sales",
        "2026-03:20000",
    )
    assert document["dso"] == "45.00"
    assert document["method"] == "accounting"
    assert "order" in document


def test_no_sales_gives_null_not_an_error() -> None:
    assert _calc("dso", "--outstanding", "1000", "--sales", "2026-01:0")["dso"] is None


def test_text_output_states_the_method() -> None:
    result = CliRunner().invoke(
        cli, ["calc", "dso", "--outstanding", "150000", *SEED_TABLE], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert result.stdout.strip() == "53.50 days (count-back, recent-first)"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["outstanding", "--invoice", "abc"], "--invoice"),
        (["outstanding", "--invoice", "100", "--advance", "12x"], "--advance"),
        (["outstanding", "--unbilled", "nan"], "--unbilled"),
        (["outstanding", "--invoice", "1e999999999"], "--invoice"),
        (["dso", "--outstanding", "lots", "--sales", "2026-01:5"], "--outstanding"),
        (["dso", "--outstanding", "1e999999999", "--sales", "2026-01:5"], "--outstanding"),
        (["dso", "--outstanding", "100", "--sales", "2026-01:five"], "--sales"),
        (["dso", "--outstanding", "100", "--sales", "2026-13:5"], "--sales"),
        (["dso", "--outstanding", "100", "--sales", "202601:5"], "--sales"),
        (["dso", "--outstanding", "100", "--sales", "2026-01"], "--sales"),
        (
            ["dso", "--outstanding", "100", "--sales", "2026-01:5", "--sales", "2026-01:6"],
            "--sales",
        ),
        (
            ["dso", "--outstanding", "100", "--sales", "2026-01:5", "--sales", " 2026-01 :6"],
            "--sales",
        ),
        (
            ["dso", "--outstanding", "100", "--sales", "2026-01:5", "--sales", "2026-03:5"],
            "--sales",
        ),
    ],
    ids=[
        "non-numeric-invoice",
        "non-numeric-advance",
        "nan",
        "overflow-invoice",
        "non-numeric-outstanding",
        "overflow-outstanding",
        "non-numeric-sales",
        "month-13",
        "month-without-dash",
        "no-colon",
        "month-twice",
        "month-twice-spaced",
        "gap",
    ],
)
def test_bad_input_exits_2_naming_the_option(args: list[str], option: str) -> None:
    result = CliRunner().invoke(cli, ["calc", *args, "--json"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert option in result.stderr
    assert result.stdout == ""
