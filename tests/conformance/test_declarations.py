"""Every registered connector declares itself whole.

Parametrised from `connectors/registry.py`: a connector added to the list is checked here
without a line of test written for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, get_args

import pytest

from encours.connectors import registry
from encours.connectors.settings import HttpSection, Section

ENTRIES = [pytest.param(entry, id=entry.type) for entry in registry.REGISTERED]


def specs(entry: registry.Entry) -> list[Any]:
    found = []
    if entry.source:
        found.append(registry.source_spec(entry.type))
    if entry.target:
        found.append(registry.target_spec(entry.type))
    return found


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_module_declares_what_the_list_says(entry: registry.Entry) -> None:
    module = import_module(entry.module)
    assert hasattr(module, "SOURCE") == entry.source
    assert hasattr(module, "TARGET") == entry.target
    for spec in specs(entry):
        assert issubclass(spec.settings, Section)  # unknown keys refused
        assert get_args(spec.settings.model_fields["type"].annotation) == (entry.type,)
        assert spec.label
        base_url = spec.settings.model_fields.get("base_url")
        if base_url is not None:  # a setting, with the vendor's own address as default
            assert base_url.default.startswith("https://")


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_question_answers_a_setting_or_names_a_secret(entry: registry.Entry) -> None:
    for spec in specs(entry):
        fields = spec.settings.model_fields
        for question in spec.questions:
            assert (question.key in fields) != question.secret, question.key
            if question.default is None and not question.secret:
                assert question.option and question.example, f"{question.key}: for scripts"


def test_an_option_belongs_to_one_connector() -> None:
    owners: dict[str, str] = {}
    for entry in registry.REGISTERED:
        for spec in specs(entry):
            for question in spec.questions:
                if question.option:
                    assert owners.setdefault(question.option, entry.type) == entry.type


def test_the_registry_imports_no_connector() -> None:
    import subprocess
    import sys

    code = (
        "import sys, encours.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('encours.connectors.', "
        "'pydantic', 'requests'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "['encours.connectors.registry']", result.stderr


def test_reading_a_config_imports_no_connector_nor_http() -> None:
    """Every declaration is read to know the config's types: none may pull in its connector
    (nor requests), or `status` would pay for every vendor's code on each call."""
    import subprocess
    import sys

    code = (
        "import sys; from encours.sync.config import Settings; "
        "from encours.connectors import registry; "
        "[registry.source_spec(e.type) for e in registry.REGISTERED if e.source]; "
        "[registry.target_spec(e.type) for e in registry.REGISTERED if e.target]; "
        "print(sorted(m for m in sys.modules if m == 'requests' or (m.startswith("
        "'encours.connectors.') and not m.startswith(('encours.connectors.declarations', "
        "'encours.connectors.registry', 'encours.connectors.settings', "
        "'encours.connectors.base')))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr or result.stdout


@pytest.mark.parametrize("entry", ENTRIES)
def test_an_http_connector_takes_its_address_from_the_settings(entry: registry.Entry) -> None:
    for spec in specs(entry):
        if issubclass(spec.settings, HttpSection):  # a sandbox, a data centre, a proxy
            assert {"base_url", "url"} & spec.settings.model_fields.keys()
