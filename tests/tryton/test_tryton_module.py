"""Our Tryton module `party_encours`, on a real trytond: fields, views, labels, rights."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from tryton_helpers import OTHER_LOGIN, OTHER_PASSWORD, SYNC_PASSWORD, admin
from trytond_server import MODULE_PARENT, TrytonServer

from encours.connectors.tryton.rpc import TrytonError, TrytonRpc

FIELDS = {
    "encours_outstanding": ("Encours client", "Outstanding"),
    "encours_overdue": ("Encours échu", "Overdue"),
    "encours_unapplied": ("Règlements non imputés", "Unapplied Receipts"),
    "encours_dso": ("DSO (jours)", "DSO (Days)"),
    "encours_on_hold": ("Blocage (plafond dépassé)", "On Hold (Credit Limit Exceeded)"),
    "encours_credit_limit": ("Plafond d'encours", "Credit Limit"),
    "encours_exposure": ("Engagement (encours + brouillons)", "Exposure (Outstanding + Drafts)"),
    "encours_risk_grade": ("Note de risque", "Risk Grade"),
    "encours_risk_reason": ("Motif de la note", "Main Risk Reason"),
    "encours_next_dunning_step": ("Prochaine relance", "Next Dunning Step"),
}


def _as(server: TrytonServer, login: str, password: str) -> TrytonRpc:
    return TrytonRpc(server.url, server.database, login, password)


def test_a_plain_write_is_refused(tryton: TrytonServer) -> None:
    """The fields are read-only: even the administrator cannot `write` them."""
    with pytest.raises(TrytonError, match="not allowed to modify the field"):
        admin(tryton).model("party.party", "write", [2], {"encours_outstanding": Decimal(1)})


def test_only_the_group_may_call_the_method(tryton: TrytonServer) -> None:
    """The sync user (in the group) writes; an accountant without the group is refused."""
    values = [[2, {"encours_outstanding": Decimal("12.34"), "encours_on_hold": True}]]
    with pytest.raises(TrytonError, match="Encours \\(synchronisation\\)"):
        _as(tryton, OTHER_LOGIN, OTHER_PASSWORD).model(
            "party.party", "set_encours_indicators", values
        )
    assert (
        _as(tryton, "encours", SYNC_PASSWORD).model("party.party", "set_encours_indicators", values)
        == 1
    )
    (party,) = admin(tryton).read(
        "party.party", [2], ["encours_outstanding", "encours_on_hold", "encours_updated_at"]
    )
    assert party["encours_outstanding"] == Decimal("12.34")
    assert party["encours_on_hold"]  # SQLite gives booleans back as 1
    assert party["encours_updated_at"] is not None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([[2, {"name": "Autre nom"}]], "non autorisés : name"),
        ([[2, {"encours_updated_at": None}]], "non autorisés : encours_updated_at"),
        ([[99999, {"encours_outstanding": Decimal(1)}]], "Tiers introuvable : 99999"),
    ],
)
def test_the_method_writes_indicators_of_existing_parties_only(
    tryton: TrytonServer, values: list, message: str
) -> None:
    """Another field, the update stamp or an unknown party: refused, nothing written."""
    rpc = _as(tryton, "encours", SYNC_PASSWORD)
    with pytest.raises(TrytonError, match=message):
        rpc.model("party.party", "set_encours_indicators", values)
    (party,) = admin(tryton).read("party.party", [2], ["name", "encours_outstanding"])
    assert party == {"id": 2, "name": "Alpha Industrie SARL", "encours_outstanding": None}


def test_a_nightly_write_is_no_user_edit(tryton: TrytonServer) -> None:
    """Writing indicators leaves the party's write date alone."""
    rpc = admin(tryton)
    (before,) = rpc.read("party.party", [3], ["write_date", "write_uid"])
    rpc.model("party.party", "set_encours_indicators", [[3, {"encours_dso": Decimal("41.5")}]])
    (after,) = rpc.read("party.party", [3], ["write_date", "write_uid"])
    assert after == before


def test_the_form_has_the_tab_and_the_list_the_columns(tryton: TrytonServer) -> None:
    rpc = admin(tryton)
    form = rpc.model("party.party", "fields_view_get", None, "form")
    assert 'id="encours"' in form["arch"]
    assert 'string="Encours &amp; risque"' in form["arch"] or "Receivables" in form["arch"]
    for name in FIELDS:
        assert f'name="{name}"' in form["arch"]
    tree = rpc.model("party.party", "fields_view_get", None, "tree")
    assert 'name="encours_outstanding"' in tree["arch"]
    assert 'name="encours_overdue"' in tree["arch"]


@pytest.mark.parametrize(("language", "column"), [("fr", 0), ("en", 1)])
def test_labels_in_french_with_an_english_translation(
    tryton: TrytonServer, language: str, column: int
) -> None:
    rpc = admin(tryton)
    described = rpc.call(
        "model.party.party.fields_get", list(FIELDS), {**rpc.context, "language": language}
    )
    assert {name: spec["string"] for name, spec in described.items()} == {
        name: labels[column] for name, labels in FIELDS.items()
    }


def test_the_module_builds_as_an_installable_package(tmp_path: Path) -> None:
    """`pip wheel` of tryton/party_encours gives trytond.modules.party_encours, with its
    tryton.cfg, views, translation and the entry point Tryton discovers it by."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--wheel-dir", str(tmp_path), str(MODULE_PARENT / "party_encours")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("trytond_party_encours-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("__init__.py", "party.py", "party.xml", "tryton.cfg", "view/party_form.xml",
                 "view/party_tree.xml", "locale/en.po"):  # fmt: skip
        assert f"trytond/modules/party_encours/{path}" in names
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "party_encours = trytond.modules.party_encours" in text
