"""The migrations build exactly the tables the code declares: after `diamonds migrate`, Alembic's
comparison of the database with the metadata finds nothing to add, drop or change, on both
databases. A table or column added to the code without a migration fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kernel.tables import metadata


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_the_migrated_schema_is_the_schema_the_code_declares(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert found == []
