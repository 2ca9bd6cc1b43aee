"""Every query and mutation field of the schema, called over real HTTP by every role with hostile
arguments generated from the schema (tests/hostile_inputs.py): no answer is a 5xx, a body that is
not a JSON object, or "Unexpected error.", and the ledger still verifies afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from compliance.service import Compliance
from diamonds.app import migration_state
from graph.schema import schema
from graph.server import create_app

from .conftest import ADMIN_SUBJECT, Live
from .hostile_inputs import HostileCase, hostile_cases, what_went_wrong
from .payout_fixtures import Rig, ledger_is_clean

pytestmark = pytest.mark.slow

ROLES: dict[str, tuple[str, str] | None] = {
    "anonymous": None,
    "VIEWER": ("viewer:hostile", "VIEWER"),
    "CREATOR": ("creator:hostile", "CREATOR"),
    "FINANCE": ("finance:hostile", "FINANCE"),
    "ADMIN": (ADMIN_SUBJECT, "ADMIN"),
}

CASES = list(hostile_cases(schema._schema))


@pytest.fixture
async def service(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The API with the payout pipeline and compliance, as the service assembles it."""
    app = create_app(
        rig.eco,
        rig.svc,
        schema_state=migration_state,
        compliance=Compliance(rig.eco.db, rig.eco.settings),
    )
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def seeded(
    live_stream: Callable[..., Awaitable[Live]],
    funded_viewer: Callable[..., Awaitable[Any]],
    gift: Callable[..., Awaitable[Any]],
    make_user: Callable[..., Awaitable[Any]],
) -> None:
    """Objects for the ids to find: users, a live stream, a gift, coins."""
    await make_user("finance:hostile")
    await gift("Rose", 5)
    creator = await make_user("creator:hostile")
    await live_stream(creator)
    await funded_viewer(1_000, "viewer:hostile")


async def answer(
    client: TestClient[Any, Any], token: str | None, case: HostileCase, *, as_literals: bool
) -> str | None:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = case.body(as_literals=as_literals)
    async with client.post("/graphql", data=body, headers=headers) as response:
        return what_went_wrong(response.status, await response.text())


async def test_no_hostile_argument_reaches_an_unexpected_error(
    service: TestClient[Any, Any], token_for: Callable[..., str], seeded: None, rig: Rig
) -> None:
    """Each case once for each role; as variables for one half of the roles and as literals in
    the query text for the other, alternating case by case."""
    failures: list[str] = []
    for turn, (role, who) in enumerate(ROLES.items()):
        token = None if who is None else token_for(*who)
        for number, case in enumerate(CASES):
            as_literals = (number + turn) % 2 == 1
            problem = await answer(service, token, case, as_literals=as_literals)
            if problem is not None:
                how = "literal" if as_literals else "variable"
                failures.append(f"{case.label} as {role}, {how}: {problem}")
    assert not failures, f"{len(failures)} hostile calls went wrong:\n" + "\n".join(failures)
    await ledger_is_clean(rig.eco)
