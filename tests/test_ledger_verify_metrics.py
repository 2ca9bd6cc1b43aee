"""`diamonds ledger verify --metrics-file`: the result as a node_exporter textfile the alert rules
read, written when the checks completed (violations or not), left as it was when they could not
run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from diamonds.cli import main


def read_metrics(path: Path) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }


async def test_a_sound_ledger_then_a_broken_one_are_written_for_the_alerts(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sql: Any,
    funded_viewer: Any,
) -> None:
    textfile = tmp_path / "diamonds_ledger.prom"
    argv = ["ledger", "verify", "--database-url", database_url, "--metrics-file", str(textfile)]
    viewer = await funded_viewer(50)
    started = time.time()

    sound = await asyncio.to_thread(main, argv)
    after_sound = read_metrics(textfile)
    await sql(
        "UPDATE ledger_balances SET balance = balance + 7 WHERE account_id = :a AND shard = 0",
        a=viewer.coin_account_id,
    )
    broken = await asyncio.to_thread(main, argv)
    after_broken = read_metrics(textfile)
    out = capsys.readouterr().out

    assert (sound, broken) == (0, 1), out
    assert after_sound["diamonds_ledger_verify_violations"] == 0
    assert after_broken["diamonds_ledger_verify_violations"] == 2  # the asset, the balance
    for written in (after_sound, after_broken):
        assert started - 1 <= written["diamonds_ledger_verify_completed_timestamp_seconds"]
        assert written["diamonds_ledger_verify_completed_timestamp_seconds"] <= time.time() + 1


def test_a_verify_that_cannot_run_leaves_the_last_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    textfile = tmp_path / "diamonds_ledger.prom"
    textfile.write_text("diamonds_ledger_verify_violations 0\n")
    missing = f"sqlite:///{tmp_path / 'nothing-here.db'}"

    code = main(["ledger", "verify", "--database-url", missing, "--metrics-file", str(textfile)])

    assert code == 1
    assert "no database at" in capsys.readouterr().err
    assert textfile.read_text() == "diamonds_ledger_verify_violations 0\n"
