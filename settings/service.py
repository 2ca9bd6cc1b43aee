"""Settings read from `DIAMONDS_*` environment variables, validated once at start-up.

Every bad value is reported together in one `ConfigError`, naming the variable and what it expects.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from kernel.env import EnvReader, describe_problems, parse_fraction
from settings.compliance import ComplianceSettings
from settings.cors import CorsSettings
from settings.observability import ObservabilitySettings
from settings.payouts import PayoutPolicy
from settings.rates import CashRate, GiftRate

log = logging.getLogger(__name__)

INTROSPECTION_CHOICES = ("everyone", "signed-in", "staff", "nobody")
"""Who may introspect the schema, from the widest to none (`DIAMONDS_INTROSPECTION`)."""

DEFAULT_MAX_QUERY_COST = 10_000
"""The costliest operation served by default (`DIAMONDS_MAX_QUERY_COST`, `graph.cost`)."""

DEV_JWT_SECRET = "diamonds-development-secret-do-not-use-in-production"  # noqa: S105
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ConfigError(ValueError):
    """One or more `DIAMONDS_*` variables hold a value the service cannot run with."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(describe_problems(problems))


def hide_password(url: str) -> str:
    """A URL fit for messages and logs: any password replaced by ***."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def default_database_url(workdir: Path | None = None) -> str:
    """The embedded default: an SQLite file in the working folder."""
    folder = workdir or Path.cwd()
    return f"sqlite+aiosqlite:///{folder / 'diamonds.db'}"


def normalize_database_url(url: str) -> str:
    """Accept the plain scheme people type and pick the async driver we ship."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


@dataclass(frozen=True)
class Settings:
    """What the service needs to run; built by `Settings.from_env`."""

    database_url: str
    jwt_secret: str
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    development: bool = True
    gift_rate: GiftRate = field(default_factory=GiftRate)
    cash_rates: Mapping[str, CashRate] = field(
        default_factory=lambda: {"USD": CashRate(currency="USD", minor_per_diamond=(1, 2))}
    )
    max_gift_quantity: int = 10_000
    max_grant_coins: int = 100_000_000
    diamond_wallet_shards: int = 16
    redis_url: str | None = None
    """Redis for fanning live events out to every server process; None: in-process only."""
    redis_channel: str = "diamonds:events"
    """The pub/sub channel: deployments sharing one Redis each need their own."""
    live_queue_size: int = 1_000
    """Messages queued for one websocket subscriber before it is dropped as too slow."""
    live_event_buffer: int = 10_000
    """Events buffered for one subscription between two of its messages (a tick's worth)."""
    live_tick_ms: int = 100
    """Gifts and wallet changes landing within one tick reach a subscriber in one message."""
    leaderboard_throttle_ms: int = 1_000
    """A stream's leaderboard is sent to subscribers at most once per this interval."""
    max_subscriptions_per_connection: int = 20
    introspection: str = "everyone"
    """Who may introspect the schema (`__schema`, `__type`): `everyone`, `signed-in`, `staff`
    (FINANCE and ADMIN) or `nobody`; production's default is `signed-in`."""
    max_query_bytes: int = 100_000
    """The longest query text (UTF-8 bytes) an HTTP request may send; a longer one is a 413."""
    max_query_cost: int = DEFAULT_MAX_QUERY_COST
    """The costliest operation served: every field 1, a page of `first` items multiplying what
    each item asks for (`graph.cost`); a costlier one is refused with `QUERY_TOO_COSTLY`."""
    gift_batch_size: int = 256
    """Gifts booked together in one database transaction at most (1: one at a time)."""
    db_pool_size: int = 20
    """Database connections each process keeps open."""
    db_max_overflow: int | None = None
    """Connections opened beyond the pool under load, and closed after (None: the pool size)."""
    gc_threshold: int = 10_000
    """The cyclic garbage collector's generation-0 threshold in a `diamonds serve` process
    (allocations between young collections; Python's default is 700)."""
    gc_freeze: bool = True
    """Whether a `diamonds serve` process freezes what its start-up built (`gc.freeze()`), so
    that full collections no longer walk those ~190,000 long-lived objects."""

    cors: CorsSettings = field(default_factory=CorsSettings)
    """Browser origins allowed to call `/graphql` across origins (`settings.cors`)."""
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings)
    """Identity, tax, sanctions and reporting (`settings.compliance`)."""
    payouts: PayoutPolicy = field(default_factory=PayoutPolicy)
    """The payout minimum, caps, approval threshold and dispatch pacing
    (`settings.payouts`)."""
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    """The log format, `/metrics` access and tracing (`settings.observability`)."""

    @property
    def using_dev_secret(self) -> bool:
        return self.jwt_secret == DEV_JWT_SECRET

    def with_database(self, url: str | None) -> Settings:
        """A copy pointing at another database (a command line `--database-url`)."""
        return self if url is None else replace(self, database_url=normalize_database_url(url))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        problems: list[str] = []

        read = EnvReader(env, problems)

        database_url = normalize_database_url(
            env.get("DIAMONDS_DATABASE_URL") or default_database_url()
        )
        if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            problems.append(
                f"DIAMONDS_DATABASE_URL={hide_password(database_url)!r}: "
                "expected a sqlite:/// or postgresql:// URL"
            )

        environment = read.choice("DIAMONDS_ENV", "development", ("development", "production"))
        development = environment != "production"
        secret = env.get("DIAMONDS_JWT_SECRET") or ""
        if not secret:
            if development:
                secret = DEV_JWT_SECRET
            else:
                problems.append("DIAMONDS_JWT_SECRET: required when DIAMONDS_ENV=production")
        elif len(secret.encode()) < 32:
            problems.append("DIAMONDS_JWT_SECRET: expected at least 32 bytes (HS256, RFC 7518)")
        elif not development and secret == DEV_JWT_SECRET:
            problems.append(
                "DIAMONDS_JWT_SECRET: the public development secret cannot be used when "
                "DIAMONDS_ENV=production"
            )

        gift_rate = GiftRate(
            diamonds_per_coin=read.integer("DIAMONDS_DIAMONDS_PER_COIN", 2, 1, 1_000),
            creator_share_bps=read.integer("DIAMONDS_CREATOR_SHARE_BPS", 5_000, 0, 10_000),
        )
        cash_rates = _parse_cash_rates(read)

        settings = cls(
            database_url=database_url,
            jwt_secret=secret,
            jwt_issuer=env.get("DIAMONDS_JWT_ISSUER") or None,
            jwt_audience=env.get("DIAMONDS_JWT_AUDIENCE") or None,
            development=development,
            gift_rate=gift_rate,
            cash_rates=cash_rates,
            max_gift_quantity=read.integer("DIAMONDS_MAX_GIFT_QUANTITY", 10_000, 1, 1_000_000),
            max_grant_coins=read.integer("DIAMONDS_MAX_GRANT_COINS", 100_000_000, 1, 10**12),
            diamond_wallet_shards=read.integer("DIAMONDS_DIAMOND_WALLET_SHARDS", 16, 1, 256),
            redis_url=_redis_url(env.get("DIAMONDS_REDIS_URL", ""), problems),
            redis_channel=env.get("DIAMONDS_REDIS_CHANNEL") or "diamonds:events",
            live_queue_size=read.integer("DIAMONDS_LIVE_QUEUE_SIZE", 1_000, 16, 1_000_000),
            live_event_buffer=read.integer("DIAMONDS_LIVE_EVENT_BUFFER", 10_000, 16, 10_000_000),
            live_tick_ms=read.integer("DIAMONDS_LIVE_TICK_MS", 100, 0, 10_000),
            leaderboard_throttle_ms=read.integer(
                "DIAMONDS_LEADERBOARD_THROTTLE_MS", 1_000, 0, 60_000
            ),
            max_subscriptions_per_connection=read.integer(
                "DIAMONDS_MAX_SUBSCRIPTIONS", 20, 1, 1_000
            ),
            introspection=read.choice(
                "DIAMONDS_INTROSPECTION",
                "everyone" if development else "signed-in",
                INTROSPECTION_CHOICES,
            ),
            max_query_bytes=read.integer("DIAMONDS_MAX_QUERY_BYTES", 100_000, 1_000, 10_000_000),
            max_query_cost=read.integer(
                "DIAMONDS_MAX_QUERY_COST", DEFAULT_MAX_QUERY_COST, 100, 100_000_000
            ),
            gift_batch_size=read.integer("DIAMONDS_GIFT_BATCH_SIZE", 256, 1, 10_000),
            db_pool_size=read.integer("DIAMONDS_DB_POOL_SIZE", 20, 1, 1_000),
            db_max_overflow=read.optional_integer("DIAMONDS_DB_MAX_OVERFLOW", 0, 1_000),
            gc_threshold=read.integer("DIAMONDS_GC_THRESHOLD", 10_000, 100, 1_000_000),
            gc_freeze=read.boolean("DIAMONDS_GC_FREEZE", True),
            cors=CorsSettings.from_env(env, problems, development=development),
            compliance=ComplianceSettings.from_env(env, problems, development=development),
            payouts=PayoutPolicy.from_env(env, problems),
            observability=ObservabilitySettings.from_env(env, problems, development=development),
        )
        if problems:
            raise ConfigError(problems)
        return settings

    def warn_if_insecure(self) -> None:
        if self.using_dev_secret:
            log.warning(
                "!!! DIAMONDS_JWT_SECRET is not set: using the public DEVELOPMENT secret. "
                "Anyone can mint tokens. Never run like this with real money. !!!"
            )


def _parse_cash_rates(read: EnvReader) -> dict[str, CashRate]:
    """`USD=1/2,EUR=9/20`: minor units of the currency per diamond, as a fraction."""
    problems = read.problems
    rates: dict[str, CashRate] = {}
    items = read.items("DIAMONDS_CASH_RATES")
    for item in ["USD=1/2"] if items is None else items:
        currency, _, text = item.partition("=")
        currency = currency.strip().upper()
        fraction = parse_fraction(text)
        if not _CURRENCY.match(currency) or fraction is None:
            problems.append(
                f"DIAMONDS_CASH_RATES item {item!r}: expected CUR=N/D "
                "(minor units per diamond, e.g. USD=1/2)"
            )
            continue
        rates[currency] = CashRate(currency=currency, minor_per_diamond=fraction)
    if not rates and not problems:
        problems.append("DIAMONDS_CASH_RATES: expected at least one CUR=N/D rate")
    return rates


def _redis_url(raw: str, problems: list[str]) -> str | None:
    """`redis://host:port/db`, `rediss://...` or `unix:///path`; empty means no Redis."""
    url = raw.strip()
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        problems.append(
            f"DIAMONDS_REDIS_URL={hide_password(url)!r}: expected a redis://host:port URL "
            "(or rediss://, unix://)"
        )
        return None
    return url
