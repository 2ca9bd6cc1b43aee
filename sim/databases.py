"""A fresh, migrated database for each simulated seed: an SQLite file in a temporary directory, or
a new database on the PostgreSQL server named by the URL, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from diamonds.migrate import upgrade
from settings.service import normalize_database_url


@contextmanager
def fresh_database(where: str) -> Iterator[str]:
    """`sqlite`, or a postgresql:// URL of a server (the database in it is only where to connect
    to create and drop the simulation's own)."""
    if where == "sqlite":
        with tempfile.TemporaryDirectory(prefix="diamonds-sim-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'sim.db'}"
            upgrade(url)
            yield url
        return
    admin = normalize_database_url(where)
    if not admin.startswith("postgresql+asyncpg://"):
        raise SystemExit(f"--database must be sqlite or a postgresql:// URL, not {where!r}")
    name = f"diamonds_sim_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    """CREATE and DROP DATABASE run outside a transaction."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()
