"""The firm benchmark at a tiny size: it runs, and what it measures holds.

Every company is synced exactly once (its store has one finished run), also when one of the
two processes is killed mid-run: the next pass takes over what it left.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fakes.pennylane import SPEC_PATH

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_firm  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not SPEC_PATH.exists(), reason="Pennylane's OpenAPI file is absent"),
    pytest.mark.slow,
]


@pytest.mark.parametrize("kill_one", [False, True])
def test_every_company_exactly_once_none_twice(tmp_path: Path, kill_one: bool) -> None:
    result = bench_firm.run(
        companies=5, invoices=40, workers=2, processes=2, kill_one=kill_one, folder=tmp_path
    )
    assert result["completed_once"] == 5
    assert result["completed_twice_or_more"] == []
    assert result["not_completed"] == []
    assert result["reported_ok_twice"] == []
    assert result["throttled_429"] == 0
    assert result["most_requests_of_one_token_in_5_s"] <= bench_firm.LIMIT
    if kill_one:
        assert result["exit_codes"][0] == -9  # the killed process
        assert result["exit_codes"][1:] == [0, 0]  # the other, and the next pass
    else:
        assert result["exit_codes"] == [0, 0]
