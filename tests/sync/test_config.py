"""The configuration file: the example runs as is, rules and refusals."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from encours.connectors.settings import parse_terms
from encours.demo.fecgen import FecSpec, write_fec
from encours.errors import ConfigError
from encours.sync.config import default_as_of, load_settings
from encours.sync.run import EXIT_OK, run_sync

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_the_example_config_loads_and_runs_beside_a_fec(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "config.toml")
    with (tmp_path / "books.fec").open("w", encoding="utf-8") as out:
        write_fec(out, FecSpec(invoices=40, customers=5))

    settings = load_settings(tmp_path / "config.toml")
    summary = run_sync(settings, as_of=date(2026, 10, 31), now=datetime.now(UTC))

    assert summary.exit_code == EXIT_OK
    assert settings.store.path == tmp_path / "encours.duckdb"  # relative to the config file
    assert (tmp_path / "indicators.json").exists()
    assert settings.push.field_names["outstanding"] == "encours"


@pytest.mark.parametrize(
    ("rule", "today", "expected"),
    [
        ("today", date(2026, 3, 1), date(2026, 3, 1)),
        ("yesterday", date(2026, 3, 1), date(2026, 2, 28)),
        ("yesterday", date(2024, 3, 1), date(2024, 2, 29)),
        ("last-month-end", date(2026, 1, 15), date(2025, 12, 31)),
        ("last-month-end", date(2026, 3, 31), date(2026, 2, 28)),
    ],
)
def test_default_as_of_rules(rule: str, today: date, expected: date) -> None:
    assert default_as_of(rule, today) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (30, [(None, 30, False)]),
        ("45 fin de mois", [(None, 45, True)]),
        ("60 jours", [(None, 60, False)]),
        ("30% 0, 70% 60", [(30, 0, False), (None, 60, False)]),
        ("50 % à 30 j, 50 % à 60 j fdm", [(50, 30, False), (None, 60, True)]),
    ],
)
def test_payment_terms_forms(text: int | str, expected: list[tuple[int | None, int, bool]]) -> None:
    terms = parse_terms(text)
    assert [
        (None if t.share is None else int(t.share), t.days, t.end_of_month) for t in terms.lines
    ] == expected


@pytest.mark.parametrize("text", ["", "soon", "30% 0", "70% 0, 40% 10, 30"])
def test_bad_payment_terms_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_terms(text)


def test_a_secret_in_the_config_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[targets.crm]\ntype = "file"\npath = "x.json"\napi_token = "s3cr3t"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(config)

    assert "targets.crm.api_token" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def test_customer_codes_under_payment_terms_are_data_not_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[sources.books]\ntype = "fec"\npath = "b.fec"\n'
        "[sources.books.payment_terms]\nTOKENSA = 45\n"
    )
    settings = load_settings(config)
    assert settings.sources["books"].payment_terms == {"TOKENSA": 45}


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ('type = "tryton"\nurl = "erp.example.fr"\ndatabase = "prod"\n', "url"),
        ('type = "tryton"\nurl = "https://erp.example.fr"\n', "database"),
        ('type = "tryton"\nurl = "https://erp.example.fr"\ndatabase = ""\n', "database"),
        ('type = "tryton"\nurl = "https://erp.example.fr"\ndatabase = "prod"\nport = 8000\n',
         "port"),
    ],
)  # fmt: skip
def test_a_bad_tryton_section_says_which_key(tmp_path: Path, section: str, named: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[sources.erp]\n{section}")
    with pytest.raises(ConfigError, match=f"sources.erp.*{named}"):
        load_settings(config)


def test_a_tryton_password_in_the_config_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[targets.erp]\ntype = "tryton"\nurl = "https://erp.example.fr"\ndatabase = "prod"\n'
        'password = "tryton-s3cr3t"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert "targets.erp.password" in str(raised.value)
    assert "tryton-s3cr3t" not in str(raised.value)


def test_the_example_penalty_rates_and_dunning_plan() -> None:
    settings = load_settings(EXAMPLE)
    table = settings.penalties.rate_table()
    assert table is not None
    assert [(str(r.starts_on), str(r.penalty)) for r in table.half_years] == [
        ("2024-07-01", "14.76"),  # 3 x 4.92 % is above 4.25 + 10
        ("2025-01-01", "13.15"),
        ("2025-07-01", "12.15"),
        ("2026-01-01", "12.15"),
    ]
    assert [(s.name, s.days, s.channel) for s in settings.dunning.plan()] == [
        ("courtesy", -7, "email"),
        ("friendly", 3, "email"),
        ("firm", 15, "email"),
        ("pre_formal", 30, "email"),
        ("formal_notice", 45, "letter"),
    ]
    assert settings.dunning.smtp is None  # sending is opt-in


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[penalties.rates]\n"2026-S1" = { ecb = 2.15, legal = 2.62 }\n', "2026-H1"),
        ('[dunning]\nsteps = [{ name = "a", days = 5 }, { name = "b", days = 3 }]\n', "increasing"),
        (
            '[dunning.smtp]\nhost = "smtp.example.fr"\nsecurity = "none"\nuser = "u"\n'
            'from_address = "r@example.fr"\n',
            "in clear",
        ),
    ],
)
def test_bad_penalty_and_dunning_settings_are_refused(
    tmp_path: Path, text: str, named: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_settings(config)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[credit]\nlimits = { C1 = "-5.00" }\n', "limit of C1 must be an amount >= 0"),
        ('[credit]\nlimits = { C1 = "1000.005" }\n', "more decimals than EUR allows"),
        ('[credit]\nlimits = { C1 = "lots" }\n', "credit.limits"),
        ('[risk]\ndso_rise_days = ["20", "10", "40"]\n', "three ascending values"),
        ('[risk]\nlimit_usage = ["0.8", "1.0"]\n', "risk.limit_usage"),
    ],
)
def test_bad_credit_limits_and_risk_thresholds_are_refused(
    tmp_path: Path, text: str, named: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_settings(config)
