"""`diamonds serve` tunes the garbage collector once the service is built: start-up's objects
frozen and the generation-0 threshold raised, in one process and in each `--workers` process.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from diamonds.collector import prepare_collector
from settings.service import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.served_process import served_process

TUNED = re.compile(r"garbage collector: thresholds \((\d+), (\d+), (\d+)\), (\d+) start-up objects")


async def tuned_lines(
    sqlite_template: Path, tmp_path: Path, arguments: list[str], **env: str
) -> list[tuple[int, int]]:
    """Serve with `arguments` and `env` until healthy; each process's (gen-0 threshold, frozen)."""
    database = tmp_path / "serve.db"
    shutil.copyfile(sqlite_template, database)
    full_env = {**os.environ, "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET, **env}
    for name in ("DIAMONDS_GC_THRESHOLD", "DIAMONDS_GC_FREEZE"):
        if name not in env:
            full_env.pop(name, None)
    command = ["--no-migrate", "--no-worker", "--database-url", f"sqlite+aiosqlite:///{database}"]
    log = tmp_path / "server.log"
    async with served_process([*command, *arguments], full_env, log):
        pass
    found = TUNED.findall(log.read_text(errors="replace"))
    return [(int(gen0), int(frozen)) for gen0, _, _, frozen in found]


async def test_serve_freezes_start_up_and_raises_the_threshold(
    sqlite_template: Path, tmp_path: Path
) -> None:
    [(threshold, frozen)] = await tuned_lines(sqlite_template, tmp_path, [])
    assert threshold == 10_000
    assert frozen > 100_000  # the schema, the tables, the modules: ~190,000 objects


async def test_each_worker_applies_the_configured_collector_settings(
    sqlite_template: Path, tmp_path: Path
) -> None:
    tuned = await tuned_lines(
        sqlite_template,
        tmp_path,
        ["--workers", "2"],
        DIAMONDS_GC_THRESHOLD="2500",
        DIAMONDS_GC_FREEZE="false",
    )
    assert tuned == [(2_500, 0), (2_500, 0)]


@pytest.fixture
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_prepare_collector_sets_what_the_settings_say(collector_restored: None) -> None:
    older = gc.get_threshold()[1:]
    state = prepare_collector(Settings.from_env({"DIAMONDS_GC_THRESHOLD": "12345"}))
    assert gc.get_threshold() == (12_345, *older) == state.threshold
    assert state.frozen > 0
    assert gc.get_freeze_count() > 0
