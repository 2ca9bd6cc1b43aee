"""The guide's example provider, `examples/acme-payouts`, as an integrator ships it: its own
conformance tests pass and the registry discovers it through the entry point its pyproject.toml
declares. tests/test_example_acme_payouts.py pays a creator through it.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from importlib.metadata import distribution

from providers.registry import ENTRY_POINT_GROUP, ProviderRegistry

from .acme_fixtures import ENV, EXAMPLE


def _load_example_tests() -> types.ModuleType:
    """The example's own test module, imported from its file with its source folder on the path
    (only while it is imported)."""
    path = EXAMPLE / "tests" / "test_conformance.py"
    spec = importlib.util.spec_from_file_location("acme_payouts_conformance", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    added = str(EXAMPLE) not in sys.path
    if added:
        sys.path.insert(0, str(EXAMPLE))
    try:
        spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(str(EXAMPLE))
    return module


_example_tests = _load_example_tests()


class TestExampleAcmeConformance(_example_tests.TestAcmeConformance):  # type: ignore[misc,name-defined]
    """The example package's conformance tests, exactly as it ships them."""


def test_the_registry_discovers_the_example_through_its_entry_point(
    acme_discoverable: None,
) -> None:
    declared = [
        ep for ep in distribution("acme-payouts").entry_points if ep.group == ENTRY_POINT_GROUP
    ]
    assert [(ep.name, ep.value) for ep in declared] == [
        ("acme", "acme_payouts.provider:AcmeProvider")
    ]
    registry = ProviderRegistry(ENV)
    assert "acme" in registry.slugs()
    assert [f.name for f in registry.contract("acme").payee_fields] == [
        "wallet",
        "email",
        "nickname",
    ]
    assert registry.status("acme").configured
    missing = ProviderRegistry({}).status("acme")
    assert missing.describe() == (
        "not configured: missing DIAMONDS_ACME_API_KEY, DIAMONDS_ACME_WEBHOOK_SECRET"
    )
