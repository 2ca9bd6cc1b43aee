"""Alembic's entry point: runs the migrations on the async engine of the configured URL.

The URL comes from the Alembic config's `sqlalchemy.url`, set by `diamonds.migrate`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import compliance.tables  # noqa: F401  (the compliance tables)
import economy.purchases.tables
import economy.tables  # noqa: F401  (registers the economy's tables on the metadata)
import kernel.audit  # noqa: F401  (the audit log)
import ledger.tables  # noqa: F401
import payouts.reconciliation.tables
import payouts.tables  # noqa: F401
from kernel.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "diamonds.migrate sets sqlalchemy.url"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_async(url))


run()
