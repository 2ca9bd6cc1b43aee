"""The seeded simulation of the money paths (`sim/`, docs/simulation.md) in CI: a fixed set of
seeds, a bounded number of steps each, on SQLite and PostgreSQL; every invariant holds after
every step (a worker process killed once per seed among them), and a seed replays its trace.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from sim.run import simulate

from .conftest import _truncate_all

SEEDS = [int(s) for s in os.environ.get("DIAMONDS_SIM_SEEDS", "1,2,3").split(",")]
STEPS = int(os.environ.get("DIAMONDS_SIM_STEPS", "60"))


@pytest.fixture(autouse=True)
def _quiet_dropped_connections(caplog: pytest.LogCaptureFixture) -> None:
    """The pool logs each connection the simulation drops; that is the point, not news."""
    caplog.set_level(logging.CRITICAL, logger="sqlalchemy")


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_seed_keeps_every_invariant_after_every_step(database_url: str, seed: int) -> None:
    outcome = await simulate(database_url, seed, STEPS)
    assert outcome.ok, outcome.report()
    assert len(outcome.trace) > STEPS
    assert outcome.highlights()["worker processes killed"] <= 1, "one child worker per seed"
    print(outcome.report())


async def test_running_a_seed_again_replays_the_same_trace(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    first = await simulate(database_url, 7, 40)
    second = await simulate(_fresh(request, tmp_path, database_url, "again"), 7, 40)
    assert first.highlights()["worker processes killed"] == 1, first.report()
    assert first.trace == second.trace
    assert first.digest() == second.digest()
    different = await simulate(_fresh(request, tmp_path, database_url, "other"), 8, 10)
    assert different.trace[:10] != first.trace[:10], "another seed should take another path"


def _fresh(request: pytest.FixtureRequest, tmp_path: Path, database_url: str, name: str) -> str:
    """Another migrated, empty database of the same kind (ids start from one again)."""
    if database_url.startswith("sqlite"):
        path = tmp_path / f"{name}.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    _truncate_all(database_url)
    return database_url
