"""What the benchmarks share: a scratch database (PostgreSQL or SQLite) made and dropped per run,
bulk-seeded viewers, creators and streams, the servers in their own processes, latency
figures, the machine's load, and the JSON results file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from bench._gcwatch import ENV as ENV_GC_DIR
from diamonds.migrate import upgrade
from economy.app import Economy
from economy.catalog import list_gifts, put_gift
from economy.tables import streams, users
from ledger import PLATFORM, Asset, BalancePolicy, Transfer, user_owner
from ledger.accounts import account_ids_of, open_new_accounts
from settings.service import Settings, normalize_database_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
JWT_SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - scratch only
FUNDING_CHUNK = 2_000


# --- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def machine_load() -> dict[str, Any]:
    """What else the machine was doing: `uptime`'s load averages and the core count."""
    try:
        uptime = subprocess.run(
            ["uptime"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        uptime = ""
    one, five, fifteen = os.getloadavg()
    return {
        "uptime": uptime,
        "load_1m": round(one, 2),
        "load_5m": round(five, 2),
        "load_15m": round(fifteen, 2),
        "cores": os.cpu_count(),
        "cpu_probe_ms": cpu_probe_ms(),
    }


def cpu_probe_ms() -> float:
    """CPU milliseconds a fixed pure-Python loop takes now (the best of 3). On a shared virtual
    machine this moves by 20% or more within minutes; figures from runs whose probes differ are
    not comparable as they stand."""
    best = math.inf
    for _ in range(3):
        started = time.process_time()
        total = 0
        for n in range(1_000_000):
            total += n
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def write_results(name: str, figures: dict[str, Any], path: Path | None = None) -> Path:
    """`figures` with when, on which Python and at which commit, as `results/<name>.json` (or
    `path`)."""
    path = path or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = {
        **figures,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "commit": _git_commit(),
    }
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def say(message: str) -> None:
    print(message, flush=True)


def raise_open_files_limit() -> None:
    """Thousands of websockets need thousands of descriptors: take the hard limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- scratch databases --------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(
    kind: str, folder: Path | None = None, admin_url: str | None = None
) -> Iterator[str]:
    """A new, migrated database for one run (`postgres` or `sqlite`), dropped afterwards; on
    PostgreSQL it is made on the server of `admin_url` (default `BENCH_POSTGRES_URL`)."""
    if kind == "sqlite":
        directory = folder or Path(os.environ.get("TMPDIR", "/tmp"))  # noqa: S108
        path = directory / f"diamonds_bench_{os.getpid()}_{secrets.token_hex(3)}.db"
        url = f"sqlite+aiosqlite:///{path}"
        try:
            upgrade(url)
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
        return
    admin = normalize_database_url(admin_url or POSTGRES_ADMIN_URL)
    if not admin.startswith("postgresql+asyncpg://"):
        raise SystemExit(f"not a postgresql:// URL: {admin_url or POSTGRES_ADMIN_URL!r}")
    name = f"diamonds_bench_{os.getpid()}_{secrets.token_hex(3)}"
    dsn = make_url(admin).set(drivername="postgresql", database="postgres")
    plain = dsn.render_as_string(hide_password=False)
    asyncio.run(_admin(plain, f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(plain, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def settings_for(url: str, **env: str) -> Settings:
    return Settings.from_env(
        {
            "DIAMONDS_DATABASE_URL": url,
            "DIAMONDS_JWT_SECRET": JWT_SECRET,
            "DIAMONDS_ENV": "production",
            **env,
        }
    )


def redis_available() -> bool:
    async def ping() -> bool:
        import redis.asyncio as redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    return asyncio.run(ping())


# --- seeding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    viewers: list[tuple[int, str]]
    """(user id, subject) of every funded viewer."""
    streams: list[int]
    """One live stream per creator; the first is the hot creator's."""
    creators: list[int]
    gift_id: int
    coins_each: int


async def seed(
    eco: Economy, *, viewers: int, creators: int, coins_each: int, prefix: str = "bench"
) -> Seeded:
    """Viewers funded with `coins_each` coins (granted by real ledger transactions), creators
    each with a live stream, and the 1-coin Rose. Users and accounts go in by bulk inserts,
    exactly as `UserDirectory` would make them."""
    async with eco.db.write() as conn:
        await put_gift(conn, "Rose", 1)
    async with eco.db.read() as conn:
        gift = next(g for g in await list_gifts(conn) if g.name == "Rose")
    viewer_rows = await bulk_users(eco, [f"{prefix}-viewer-{n}" for n in range(viewers)], 1)
    creator_rows = await bulk_users(
        eco,
        [f"{prefix}-creator-{n}" for n in range(creators)],
        eco.settings.diamond_wallet_shards,
    )
    async with eco.db.write() as conn:
        created = await conn.execute(
            insert(streams).returning(streams.c.id, sort_by_parameter_order=True),
            [{"creator_id": user_id, "title": "bench"} for user_id, _, _ in creator_rows],
        )
        stream_ids = [int(r[0]) for r in created]
    for start in range(0, len(viewer_rows), FUNDING_CHUNK):
        chunk = viewer_rows[start : start + FUNDING_CHUNK]
        async with eco.db.write() as conn:
            await eco.ledger.record(
                conn,
                "GRANT",
                [
                    Transfer(eco.platform.coin_promotions, coin_account, Asset.COIN, coins_each)
                    for _, _, coin_account in chunk
                ],
                details={"reason": "benchmark funding"},
            )
    return Seeded(
        viewers=[(user_id, subject) for user_id, subject, _ in viewer_rows],
        streams=stream_ids,
        creators=[user_id for user_id, _, _ in creator_rows],
        gift_id=gift.id,
        coins_each=coins_each,
    )


async def bulk_users(
    eco: Economy, subjects: list[str], diamond_shards: int
) -> list[tuple[int, str, int]]:
    """(user id, subject, coin account id) for new users with both wallets."""
    async with eco.db.write() as conn:
        made = await conn.execute(
            insert(users).returning(users.c.id, sort_by_parameter_order=True),
            [{"subject": s, "display_name": s[:64]} for s in subjects],
        )
        ids = [int(r[0]) for r in made]
        account_ids = await open_new_accounts(
            conn,
            [
                (user_owner(user_id), name, asset, BalancePolicy.NON_NEGATIVE, shards)
                for user_id in ids
                for name, asset, shards in (
                    ("coins", Asset.COIN, 1),
                    ("diamonds", Asset.DIAMOND, diamond_shards),
                )
            ],
        )
        coins, diamonds = account_ids[0::2], account_ids[1::2]
        from sqlalchemy import bindparam, update

        await conn.execute(
            update(users)
            .where(users.c.id == bindparam("uid"))
            .values(coin_account_id=bindparam("c"), diamond_account_id=bindparam("d")),
            [{"uid": u, "c": c, "d": d} for u, c, d in zip(ids, coins, diamonds, strict=True)],
        )
    return list(zip(ids, subjects, coins, strict=True))


async def platform_account_ids(eco: Economy) -> list[int]:
    async with eco.db.read() as conn:
        return await account_ids_of(conn, PLATFORM)


# --- servers in their own processes -------------------------------------------------------------


@dataclass(frozen=True)
class Servers:
    base: str
    """The URL they answer on."""
    session: int
    """Their process session (every server process is in it), for `bench._cpu`."""
    gc_dir: str
    """Where each server process times its garbage collections, for `bench._gcwatch`."""


@contextlib.contextmanager
def servers(
    url: str,
    port: int,
    *,
    workers: int,
    app: str = "bench._apps:bench_app",
    env: dict[str, str] | None = None,
) -> Iterator[Servers]:
    """`workers` server processes on one port (as `diamonds serve --workers`), stopped after.
    Yields them once they answer."""
    command = [sys.executable, "-m", "bench._serve", "--database-url", url, "--port", str(port)]
    command += ["--workers", str(workers), "--app", app]
    gc_dir = tempfile.mkdtemp(prefix="bench-gc-")
    full_env = {**os.environ, "DIAMONDS_JWT_SECRET": JWT_SECRET, ENV_GC_DIR: gc_dir, **(env or {})}
    process = subprocess.Popen(command, cwd=ROOT, env=full_env, start_new_session=True)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_wait_until_up(base, process, workers))
        yield Servers(base=base, session=process.pid, gc_dir=gc_dir)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(gc_dir, ignore_errors=True)


async def _wait_until_up(base: str, process: subprocess.Popen[bytes], workers: int) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the servers exited with status {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        # Every worker binds on its own: give the last ones a moment.
                        await asyncio.sleep(1.0 + 0.5 * workers)
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError("the servers did not come up within 60 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def economy_on(url: str, **env: str) -> AsyncIterator[Economy]:
    eco = await Economy.start(settings_for(url, **env))
    try:
        yield eco
    finally:
        await eco.close()


def ledger_verify(url: str) -> tuple[int, str]:
    """`diamonds ledger verify` on the database: (exit status, its last line)."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "diamonds.cli", "ledger", "verify", "--database-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "DIAMONDS_JWT_SECRET": JWT_SECRET},
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    return result.returncode, lines[-1] if lines else ""
