"""The benchmarks themselves, run at a tiny size in seconds: a change that breaks one (or its
checks) fails here rather than on the day someone measures."""

from __future__ import annotations

import json
from pathlib import Path

from bench import reconcile


def test_the_reconciliation_benchmark_finds_what_it_injected_and_a_rerun_changes_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "reconcile.json"

    status = reconcile.main(["--payouts", "40", "--accounts", "10", "--out", str(out)])

    figures = json.loads(out.read_text())
    assert status == 0, figures["problems"]
    assert figures["classes"] == figures["injected"]
    assert figures["classes"]["AMOUNT_MISMATCH"] == 1
    assert figures["classes"]["MISSING_AT_PROVIDER"] == 1
    assert figures["classes"]["UNKNOWN_AT_PROVIDER"] == 1
    assert figures["rerun_changed_nothing"] is True
    assert figures["total_s"] >= figures["reading_provider_s"] > 0
    assert figures["commit"]
