"""What ships: the `diamonds` wheel holds the product and no development tooling (the fake provider
servers are their own distribution, in fakes/), and every shipped module imports without it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SHIPPED = (
    "compliance",
    "consoles",
    "diamonds",
    "economy",
    "graph",
    "kernel",
    "ledger",
    "payouts",
    "providers",
    "settings",
)
"""The import packages of the `diamonds` distribution (`[tool.setuptools.packages.find]`)."""

DEVELOPMENT_ONLY = (
    "diamonds_fakes",
    "pytest",
    "_pytest",
    "pytest_asyncio",
    "hypothesis",
    "openapi_core",
    "mypy",
    "ruff",
    "playwright",
)
"""Import names of what the dev extra and `-e ./fakes` install, and a plain install does not."""

NOT_IMPORTABLE_ALONE = {
    "diamonds.migrations.env": "Alembic's env script: it runs inside Alembic's migration context",
}


def shipped_modules() -> list[str]:
    names: list[str] = []
    for package in SHIPPED:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.slow
def test_the_wheel_holds_the_product_and_no_fake_server(tmp_path: Path) -> None:
    """Builds the wheel as `pip wheel --no-deps .` does (offline: from a copy of the tree, with
    this environment's setuptools) and reads what it holds."""
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", "*.db*"
        ),
    )
    built = subprocess.run(  # noqa: S603 - pip on our own tree
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("diamonds-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()

    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert tops == set(SHIPPED)
    assert "providers/stripe.py" in names
    assert "providers/testing.py" in names
    # The consoles' templates, static files and operations are package data: nothing to build.
    for data in (
        "consoles/templates/base.html",
        "consoles/templates/console/payout_panel.html",
        "consoles/static/live.js",
        "consoles/static/console.css",
        "consoles/operations/PayoutDetail.graphql",
        "consoles/operations/fragments/ComplianceState.graphql",
    ):
        assert data in names, f"the wheel lacks {data}"
    fakes = [
        name
        for name in names
        if "fake" in name.lower() or name.endswith(("paypal_payouts_batch_v1.json", "LICENSE"))
    ]
    assert fakes == [], f"the wheel ships development tooling: {fakes}"
    assert "fake" not in scripts.lower()


def test_every_shipped_module_imports_without_the_development_packages() -> None:
    """In a fresh interpreter where the dev extra's packages and the fakes cannot be imported, as
    after `pip install .` without extras."""
    modules = [m for m in shipped_modules() if m not in NOT_IMPORTABLE_ALONE]
    assert set(NOT_IMPORTABLE_ALONE) <= set(shipped_modules())
    assert {"providers.testing", "diamonds.cli", "graph.schema"} <= set(modules)
    script = """
import importlib, importlib.abc, json, sys

blocked = set(json.loads(sys.argv[1]))
already = sorted(m for m in sys.modules if m.split(".")[0] in blocked)


class Uninstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed)", name=name)
        return None


sys.meta_path.insert(0, Uninstalled())
try:
    import pytest
    blocking = False
except ImportError:
    blocking = True
failed = {}
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except BaseException as exc:
        failed[module] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"already": already, "blocking": blocking, "failed": failed}))
"""
    done = subprocess.run(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-c", script, json.dumps(DEVELOPMENT_ONLY), json.dumps(modules)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["already"] == [], "imported before the blocker was in place"
    assert report["blocking"], "the blocker did not refuse pytest"
    assert report["failed"] == {}
