"""The `--json` text: the same document as json.dumps, a customer per line."""

from __future__ import annotations

import doctest
import json

from encours.sync import report
from encours.sync.report import json_text


def test_the_text_reads_back_as_the_document() -> None:
    document = {
        "as_of": "2026-10-31",
        "total": {"outstanding": "1200.00", "aging": {"1-30": "0.00"}},
        "customers": [{"id": "C1", "name": "Zoé « Ltd »"}, {"id": "C2", "risk_reasons": []}],
        "empty": [],
        "quarantined": 0,
    }

    text = json_text(document)

    assert json.loads(text) == document
    assert '  {"id": "C1", "name": "Zoé « Ltd »"},' in text.splitlines()  # one line, unescaped


def test_the_docstring_example_holds() -> None:
    failed, attempted = doctest.testmod(report)
    assert attempted and not failed
