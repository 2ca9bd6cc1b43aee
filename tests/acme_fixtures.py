"""The example provider package, `examples/acme-payouts`, made discoverable the real way (by
`importlib.metadata`) for the tests that pay through it, installed or not.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme-payouts"
ENV = {"DIAMONDS_ACME_API_KEY": "acme_test_key", "DIAMONDS_ACME_WEBHOOK_SECRET": "acme-secret"}


def _example_installed() -> bool:
    try:
        distribution("acme-payouts")
    except PackageNotFoundError:
        return False
    return True


@pytest.fixture
def acme_discoverable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example package importable and its entry points visible to importlib.metadata, as
    `pip install` would make them."""
    if _example_installed():
        yield
        return
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    dist = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
        for group, points in project["entry-points"].items()
    ]
    (dist / "entry_points.txt").write_text("\n".join(lines))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [m for m in sys.modules if m == "acme_payouts" or m.startswith("acme_payouts.")]:
        del sys.modules[name]
