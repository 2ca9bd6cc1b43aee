"""The test bench: every test that asks for `database_url` (or anything built on it: `settings`,
`economy`, `api`) runs once on SQLite and once on PostgreSQL.

- SQLite: the schema is migrated once into a template file; each test gets a fresh copy.
- PostgreSQL (`DIAMONDS_TEST_POSTGRES_URL`, e.g. postgresql://postgres@127.0.0.1:5432/test): one
  fresh database per session, migrated once, every table truncated before each test, dropped at
  the end. Unset, the postgres cases are skipped; set but unreachable, they fail.

Session-level work runs synchronously in a worker thread (Alembic and asyncpg want their own event
loop); async fixtures are function-scoped and run on the test's loop.

Helpers for tests are factory fixtures bound to the test's economy: `make_user`, `admin`,
`funded_viewer`, `live_stream`, `gift`, `balance_of`, `row_counts`, `sql`, and for HTTP tests
`api`, `token_for` and `graphql`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

import compliance.tables as _compliance_tables  # noqa: F401
import economy.purchases.tables as _purchase_tables  # noqa: F401
import economy.tables as _economy_tables  # noqa: F401  (puts the economy's tables on the metadata)
import kernel.audit as _audit_log  # noqa: F401
import ledger.tables as _ledger_tables  # noqa: F401
import payouts.reconciliation.tables as _reconciliation_tables  # noqa: F401
import payouts.tables as _payout_tables  # noqa: F401
from diamonds.migrate import upgrade
from economy.app import Economy
from economy.catalog import Gift, list_gifts, put_gift
from economy.grants import grant_coins
from economy.streams import Stream, start_stream
from economy.users import User
from kernel.tables import metadata
from ledger.accounts import read_balance
from settings.service import Settings, normalize_database_url

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient

POSTGRES_ENV = "DIAMONDS_TEST_POSTGRES_URL"
TEST_JWT_SECRET = "diamonds-test-secret-0123456789abcdefghijklmnopqrstuvwxyz"
"""At least 32 bytes: HS256 keys below that make PyJWT warn (and warnings are errors here)."""

ADMIN_SUBJECT = "admin:test"

T = TypeVar("T")

_postgres_url = os.environ.get(POSTGRES_ENV, "").strip()
_skip_postgres = pytest.mark.skipif(
    not _postgres_url,
    reason=f"{POSTGRES_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)",
)

TABLES = [t.name for t in metadata.sorted_tables if t.name != "alembic_version"]


def run_blocking(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in a worker thread, so that it neither
    needs nor disturbs the loop pytest-asyncio gives the tests."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def migrate(url: str) -> None:
    """`diamonds.migrate.upgrade` calls asyncio.run itself: give it a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upgrade, url).result()


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to the newest revision, copied for every test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


def _asyncpg_dsn(sqlalchemy_url: str) -> str:
    """asyncpg speaks plain postgresql:// URLs."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _admin_connection(admin_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    where = make_url(admin_url).render_as_string(hide_password=True)
    pytest.fail(
        f"{POSTGRES_ENV} is set but PostgreSQL at {where} is unreachable: {problem}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at its end."""
    if not _postgres_url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    admin_url = normalize_database_url(_postgres_url)
    if not admin_url.startswith("postgresql+asyncpg://"):
        pytest.fail(f"{POSTGRES_ENV} must be a postgresql:// URL", pytrace=False)
    name = f"diamonds_test_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await _admin_connection(admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            # A throw-away database need not wait for the disk at every commit.
            await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            # Deadlocks are bugs the tests look for: detect them in 0.1 s, not the default 1 s
            # (a superuser setting: without the privilege, keep the server's default).
            with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"ALTER DATABASE \"{name}\" SET deadlock_timeout = '100ms'")
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await _admin_connection(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_blocking(create)
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        run_blocking(drop)


def _truncate_all(url: str) -> None:
    async def truncate() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
        try:
            await conn.execute("SET lock_timeout = '10s'")
            tables = ", ".join(f'"{name}"' for name in TABLES)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    run_blocking(truncate)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=_skip_postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the parameter's kind, for this test alone."""
    if request.param == "sqlite":
        path = tmp_path / "diamonds.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_session_url")
    _truncate_all(url)
    return url


# --------------------------------------------------------------------------------------------
# Settings and the economy
# --------------------------------------------------------------------------------------------


def settings_for(database_url: str, **env: str) -> Settings:
    """Settings as the service would read them, pointed at `database_url`."""
    return Settings.from_env(
        {"DIAMONDS_DATABASE_URL": database_url, "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET, **env}
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
async def economy(settings: Settings) -> AsyncIterator[Economy]:
    eco = await Economy.start(settings)
    try:
        yield eco
    finally:
        await eco.close()


@pytest.fixture
async def start_economy(
    settings: Settings,
) -> AsyncIterator[Callable[..., Awaitable[Economy]]]:
    """Another economy on the test's database with some settings changed:
    `await start_economy(max_gift_quantity=5)`. Closed after the test."""
    started: list[Economy] = []

    async def start(**changes: Any) -> Economy:
        eco = await Economy.start(replace(settings, **changes))
        started.append(eco)
        return eco

    try:
        yield start
    finally:
        for eco in started:
            await eco.close()


# --------------------------------------------------------------------------------------------
# Helpers bound to the test's economy
# --------------------------------------------------------------------------------------------

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_serial)}"


@pytest.fixture
def make_user(economy: Economy) -> Callable[..., Awaitable[User]]:
    """`await make_user()` or `await make_user("viewer:ann")`: a user with empty wallets."""

    async def make(subject: str | None = None) -> User:
        return await economy.users.ensure(subject or unique("user"))

    return make


@pytest.fixture
async def admin(economy: Economy) -> User:
    return await economy.users.ensure(ADMIN_SUBJECT)


@pytest.fixture
def funded_viewer(economy: Economy, admin: User) -> Callable[..., Awaitable[User]]:
    """`await funded_viewer(500)`: a viewer holding exactly that many coins, granted by an admin."""

    async def make(coins: int, subject: str | None = None) -> User:
        viewer = await economy.users.ensure(subject or unique("viewer"))
        if coins:
            await grant_coins(
                economy,
                admin,
                subject=viewer.subject,
                coins=coins,
                reason="test funding",
                key=unique("fund"),
            )
        return viewer

    return make


@dataclass(frozen=True)
class Live:
    creator: User
    stream: Stream


@pytest.fixture
def live_stream(economy: Economy) -> Callable[..., Awaitable[Live]]:
    """`await live_stream()`: a new creator with a stream that has started."""

    async def make(creator: User | None = None, title: str = "Live now") -> Live:
        owner = creator or await economy.users.ensure(unique("creator"))
        return Live(creator=owner, stream=await start_stream(economy, owner, title))

    return make


@pytest.fixture
def gift(economy: Economy) -> Callable[..., Awaitable[Gift]]:
    """`await gift("Rose", 1)`: that gift in the catalog (added or repriced)."""

    async def make(name: str, coins: int, *, active: bool = True) -> Gift:
        async with economy.db.write() as conn:
            await put_gift(conn, name, coins, active=active)
        async with economy.db.read() as conn:
            found = [g for g in await list_gifts(conn, include_inactive=True) if g.name == name]
        assert len(found) == 1
        return found[0]

    return make


@pytest.fixture
def balance_of(economy: Economy) -> Callable[[int], Awaitable[int]]:
    """`await balance_of(user.coin_account_id)`: the account's balance over all its shards."""

    async def read(account_id: int) -> int:
        async with economy.db.read() as conn:
            return (await read_balance(conn, account_id)).balance

    return read


async def count_rows(eco: Economy, tables: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with eco.db.read() as conn:
        for name in tables:
            table = metadata.tables[name]
            counts[name] = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return counts


MONEY_TABLES = (
    "ledger_transactions",
    "ledger_transfers",
    "ledger_holds",
    "ledger_idempotency_keys",
    "gift_sends",
    "audit_log",
)


@pytest.fixture
def row_counts(economy: Economy) -> Callable[..., Awaitable[dict[str, int]]]:
    """`await row_counts()`: rows in each table that records money (or the tables named)."""

    async def count(*tables: str) -> dict[str, int]:
        return await count_rows(economy, tables or MONEY_TABLES)

    return count


@pytest.fixture
def sql(economy: Economy) -> Callable[..., Awaitable[list[Any]]]:
    """`await sql("UPDATE ... WHERE id = :id", id=3)`: run SQL behind the ledger's back (to prove
    that the checks notice) in its own transaction; returns the rows it returned, if any."""

    async def run(statement: str, **params: Any) -> list[Any]:
        async with economy.db.write() as conn:
            result = await conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    return run


# --------------------------------------------------------------------------------------------
# HTTP: the GraphQL API on a test server
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def api(economy: Economy) -> AsyncIterator[TestClient[Any, Any]]:
    """An aiohttp test client for `graph.server.create_app(economy)`, with the shell's
    migration check behind `/readyz`."""
    from aiohttp.test_utils import TestClient, TestServer

    from diamonds.app import migration_state
    from graph.server import create_app

    async with TestClient(TestServer(create_app(economy, schema_state=migration_state))) as client:
        yield client


@pytest.fixture
def token_for(settings: Settings) -> Callable[..., str]:
    """`token_for("viewer:ann", "VIEWER")`: a bearer token the API accepts."""
    from graph.auth import mint_token

    def mint(subject: str, *roles: str, ttl_seconds: int = 3600) -> str:
        return mint_token(settings, subject, roles, ttl_seconds=ttl_seconds)

    return mint


@dataclass(frozen=True)
class GraphQLResponse:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def error_codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


@pytest.fixture
def graphql(
    api: TestClient[Any, Any], token_for: Callable[..., str]
) -> Callable[..., Awaitable[GraphQLResponse]]:
    """`await graphql(query, {"id": 1}, subject="viewer:ann", roles=["VIEWER"])`: POST /graphql.
    Without `subject` (or `token`) the call is anonymous."""

    async def post(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        subject: str | None = None,
        roles: Sequence[str] = ("VIEWER",),
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> GraphQLResponse:
        sent = dict(headers or {})
        bearer = token or (token_for(subject, *roles) if subject else None)
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        response = await api.post("/graphql", json=payload, headers=sent)
        body = await response.json(content_type=None)
        return GraphQLResponse(status=response.status, body=body)

    return post
