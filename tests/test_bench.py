"""The test bench itself: each test gets an empty database at the newest migration, and the
`api`/`graphql` fixtures serve the real application."""

from __future__ import annotations

from typing import Any

from diamonds.migrate import current_revision, head_revision
from economy.app import Economy


async def test_each_test_starts_on_an_empty_database_at_the_newest_migration(
    economy: Economy, row_counts: Any
) -> None:
    assert await current_revision(economy.db) == head_revision()
    money = await row_counts()
    catalog = await row_counts("users", "gifts", "streams", "coin_bundles", "coin_bundle_prices")
    assert set(money.values()) == {0}, money
    assert set(catalog.values()) == {0}, catalog
    accounts = await row_counts("ledger_accounts")
    assert accounts == {"ledger_accounts": 5}  # only the platform's own


async def test_the_api_serves_graphql_to_anonymous_and_signed_in_callers(
    graphql: Any, gift: Any
) -> None:
    await gift("Rose", 1)

    catalog = await graphql("{ giftCatalog { name } }")
    me = await graphql("{ me { subject } }", subject="viewer:ann", roles=["VIEWER"])

    assert (catalog.status, catalog.errors) == (200, [])
    assert catalog.data == {"giftCatalog": [{"name": "Rose"}]}
    assert (me.status, me.errors) == (200, [])
    assert me.data == {"me": {"subject": "viewer:ann"}}
