"""The benchmarks themselves, run at a tiny size in seconds: a change that breaks one (or its
checks) fails here rather than on the day someone measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import _gcwatch, reconcile

ROOT = Path(__file__).resolve().parent.parent


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


def test_the_gift_storms_gc_watch_reads_each_server_processes_collections(tmp_path: Path) -> None:
    program = (
        "import gc, time\n"
        "from bench import _gcwatch\n"
        "_gcwatch.install()\n"
        "gc.collect(0)\n"
        "cycle = []; cycle.append(cycle); del cycle\n"
        "gc.collect()\n"
        "gc.collect()\n"
    )
    env = {**os.environ, _gcwatch.ENV: str(tmp_path)}
    since = time.monotonic_ns()
    before = _gcwatch.read(str(tmp_path))
    for _ in range(2):  # two server processes
        subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env, check=True)  # noqa: S603
    after = _gcwatch.read(str(tmp_path))
    assert before is not None
    assert after is not None
    seen = _gcwatch.window(before, after, since, time.monotonic_ns())
    assert seen["collections"][0] >= 2
    assert seen["collections"][2] >= 4
    assert seen["pause_ms"][2] > 0
    assert seen["full_max_ms"] > 0
