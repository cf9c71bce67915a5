"""Customer matching: mapping, SIREN, VAT, domain, name; never a guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from encours.errors import ConfigError
from encours.model import Party
from encours.sync.identity import (
    domain_of,
    load_mapping,
    match_customers,
    normalised_name,
    siren_of,
)


def test_each_rule_in_order() -> None:
    customers = [
        Party("books:C1", "Boulangerie Dupont SARL", vat_number="FR12 345678901"),
        Party("books:C2", "Garage Martin", vat_number="BE0123456789"),
        Party("books:C3", "Studio Bleu", email_domain="studio-bleu.fr"),
        Party("books:C4", "Éts Leroy & Fils SAS"),
        Party("books:C5", "Chez Paul", email_domain="gmail.com"),
        Party("books:C6", "Mapped By Hand"),
    ]
    records = [
        Party("h1", "Dupont Boulangerie", siret="34567890100012"),
        Party("h2", "Martin Garage", vat_number="be 0123.456.789"),
        Party("h3", "Bleu", email_domain="www.studio-bleu.fr"),
        Party("h4", "LEROY"),
        Party("h5", "Paul", email_domain="gmail.com"),
        Party("h6", "Another Name"),
    ]

    result = match_customers(customers, records, {"books:C6": "h6"})

    assert result.matched == {
        "books:C1": ("h1", "siren"),
        "books:C2": ("h2", "vat"),
        "books:C3": ("h3", "domain"),
        "books:C4": ("h4", "name"),
        "books:C6": ("h6", "mapping"),
    }
    assert result.unmatched == ["books:C5"]  # a mail provider's domain says nothing
    assert result.ambiguous == {}


def test_two_records_that_fit_are_listed_not_guessed() -> None:
    result = match_customers(
        [Party("books:C1", "Dupont")], [Party("h1", "DUPONT SA"), Party("h2", "Dupont SARL")], {}
    )
    assert result.matched == {} and result.ambiguous == {"books:C1": ["h1", "h2"]}


def test_a_record_two_customers_claim_is_listed_for_both() -> None:
    result = match_customers(
        [Party("books:C1", "Dupont"), Party("books:C2", "DUPONT")], [Party("h1", "Dupont")], {}
    )
    assert result.matched == {}
    assert result.ambiguous == {"books:C1": ["h1"], "books:C2": ["h1"]}


def test_a_stronger_rule_wins_and_takes_the_record() -> None:
    customers = [Party("books:C1", "Dupont", siren="345678901"), Party("books:C2", "Dupont")]
    records = [Party("h1", "Dupont", siren="345678901")]

    result = match_customers(customers, records, {})

    assert result.matched == {"books:C1": ("h1", "siren")}
    assert result.unmatched == ["books:C2"]  # h1 is taken: the name rule cannot give it again


def test_mapping_never_and_stale_entries() -> None:
    customers = [Party("books:C1", "Dupont"), Party("books:C2", "Martin")]
    records = [Party("h1", "Dupont"), Party("h2", "Martin")]

    result = match_customers(customers, records, {"books:C1": "-", "books:C2": "gone"})

    assert result.excluded == ["books:C1"]
    assert result.unmatched == ["books:C2"]  # the person's choice is gone: ask, do not guess
    assert result.matched == {}


@pytest.mark.parametrize(
    ("party", "siren"),
    [
        (Party("x", siren="345 678 901"), "345678901"),
        (Party("x", siret="345 678 901 00012"), "345678901"),
        (Party("x", vat_number="FR 12 345678901"), "345678901"),
        (Party("x", vat_number="BE0123456789"), None),
        (Party("x", siret="123"), None),
    ],
)
def test_siren_sources(party: Party, siren: str | None) -> None:
    assert siren_of(party) == siren


def test_name_and_domain_normalisation() -> None:
    assert normalised_name(Party("x", "Éts Dupont & Fils, S.A.R.L.")) == "dupont"
    assert normalised_name(Party("x", "DUPONT SARL")) == "dupont"
    assert normalised_name(Party("x", "SARL")) is None
    assert domain_of(Party("x", email_domain="contact@Dupont.FR")) == "dupont.fr"
    assert domain_of(Party("x", email_domain="orange.fr")) is None


def test_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.csv"
    path.write_text("customer,record\n# a comment\nbooks:C1,123\nbooks:C2,-\n", encoding="utf-8")
    assert load_mapping(path) == {"books:C1": "123", "books:C2": "-"}
    assert load_mapping(tmp_path / "none.csv") == {}

    path.write_text("books:C1,123\nbooks:C1,456\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: books:C1 is mapped twice"):
        load_mapping(path)
    path.write_text("books:C1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 1: write `customer,record`"):
        load_mapping(path)
