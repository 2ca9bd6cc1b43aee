"""Settings come from `DIAMONDS_*` variables; every bad value is refused at start-up, all of them
at once, each naming its variable."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from graph.auth import mint_token, verify_token
from settings.rates import CashRate, GiftRate
from settings.service import DEV_JWT_SECRET, ConfigError, Settings, normalize_database_url

GOOD_SECRET = "a-production-secret-of-at-least-32-bytes!"


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith("invalid configuration:")
    for problem in caught.value.problems:
        assert problem in str(caught.value)
    return caught.value.problems


def test_the_defaults_run_a_development_service_on_a_local_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    assert settings.database_url == f"sqlite+aiosqlite:///{Path.cwd() / 'diamonds.db'}"
    assert settings.development
    assert settings.jwt_secret == DEV_JWT_SECRET
    assert settings.using_dev_secret
    assert (settings.jwt_issuer, settings.jwt_audience) == (None, None)
    assert settings.gift_rate == GiftRate(diamonds_per_coin=2, creator_share_bps=5_000)
    assert dict(settings.cash_rates) == {"USD": CashRate("USD", (1, 2))}
    assert settings.max_gift_quantity == 10_000
    assert settings.max_grant_coins == 100_000_000
    assert settings.diamond_wallet_shards == 16
    assert (settings.gc_threshold, settings.gc_freeze) == (10_000, True)


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DIAMONDS_DATABASE_URL": "postgresql://app@db:5432/diamonds",
            "DIAMONDS_ENV": "Production",
            "DIAMONDS_JWT_SECRET": GOOD_SECRET,
            "DIAMONDS_JWT_ISSUER": "https://auth.example",
            "DIAMONDS_JWT_AUDIENCE": "diamonds-api",
            "DIAMONDS_DIAMONDS_PER_COIN": "3",
            "DIAMONDS_CREATOR_SHARE_BPS": "7000",
            "DIAMONDS_CASH_RATES": "usd=1/2, EUR=9/20,JPY=1",
            "DIAMONDS_MAX_GIFT_QUANTITY": "99",
            "DIAMONDS_MAX_GRANT_COINS": "5000",
            "DIAMONDS_DIAMOND_WALLET_SHARDS": "4",
            "DIAMONDS_GC_THRESHOLD": "2500",
            "DIAMONDS_GC_FREEZE": "off",
        }
    )

    assert settings.database_url == "postgresql+asyncpg://app@db:5432/diamonds"
    assert not settings.development
    assert (settings.jwt_secret, settings.using_dev_secret) == (GOOD_SECRET, False)
    assert (settings.jwt_issuer, settings.jwt_audience) == ("https://auth.example", "diamonds-api")
    assert settings.gift_rate == GiftRate(diamonds_per_coin=3, creator_share_bps=7_000)
    assert dict(settings.cash_rates) == {
        "USD": CashRate("USD", (1, 2)),
        "EUR": CashRate("EUR", (9, 20)),
        "JPY": CashRate("JPY", (1, 1)),
    }
    assert (settings.max_gift_quantity, settings.max_grant_coins) == (99, 5_000)
    assert settings.diamond_wallet_shards == 4
    assert (settings.gc_threshold, settings.gc_freeze) == (2_500, False)


@pytest.mark.parametrize(
    ("typed", "driver"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///data/diamonds.db", "sqlite+aiosqlite:///data/diamonds.db"),
        ("postgresql+asyncpg://h/d", "postgresql+asyncpg://h/d"),
    ],
)
def test_plain_database_urls_get_the_async_driver(typed: str, driver: str) -> None:
    assert normalize_database_url(typed) == driver
    assert Settings.from_env({"DIAMONDS_DATABASE_URL": typed}).database_url == driver


def test_a_command_line_database_url_overrides_the_environment() -> None:
    settings = Settings.from_env({"DIAMONDS_DATABASE_URL": "sqlite:///a.db"})
    assert settings.with_database(None) is settings
    assert settings.with_database("postgres://h/d").database_url == "postgresql+asyncpg://h/d"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DIAMONDS_CREATOR_SHARE_BPS": "abc"}, "DIAMONDS_CREATOR_SHARE_BPS"),
        ({"DIAMONDS_CREATOR_SHARE_BPS": "20000"}, "DIAMONDS_CREATOR_SHARE_BPS"),
        ({"DIAMONDS_CREATOR_SHARE_BPS": "-1"}, "DIAMONDS_CREATOR_SHARE_BPS"),
        ({"DIAMONDS_DIAMONDS_PER_COIN": "0"}, "DIAMONDS_DIAMONDS_PER_COIN"),
        ({"DIAMONDS_MAX_GIFT_QUANTITY": "1.5"}, "DIAMONDS_MAX_GIFT_QUANTITY"),
        ({"DIAMONDS_MAX_GRANT_COINS": "0"}, "DIAMONDS_MAX_GRANT_COINS"),
        ({"DIAMONDS_DIAMOND_WALLET_SHARDS": "257"}, "DIAMONDS_DIAMOND_WALLET_SHARDS"),
        ({"DIAMONDS_MAX_QUERY_COST": "many"}, "DIAMONDS_MAX_QUERY_COST"),
        ({"DIAMONDS_MAX_QUERY_COST": "99"}, "DIAMONDS_MAX_QUERY_COST"),
        ({"DIAMONDS_GC_THRESHOLD": "50"}, "DIAMONDS_GC_THRESHOLD"),
        ({"DIAMONDS_GC_FREEZE": "sometimes"}, "DIAMONDS_GC_FREEZE"),
        ({"DIAMONDS_CASH_RATES": "garbage"}, "DIAMONDS_CASH_RATES"),
        ({"DIAMONDS_CASH_RATES": "USD=1/0"}, "DIAMONDS_CASH_RATES"),
        ({"DIAMONDS_CASH_RATES": "DOLLAR=1/2"}, "DIAMONDS_CASH_RATES"),
        ({"DIAMONDS_CASH_RATES": " , "}, "DIAMONDS_CASH_RATES"),
        ({"DIAMONDS_DATABASE_URL": "mysql://db/diamonds"}, "DIAMONDS_DATABASE_URL"),
        ({"DIAMONDS_JWT_SECRET": "too-short"}, "DIAMONDS_JWT_SECRET"),
        ({"DIAMONDS_ENV": "production"}, "DIAMONDS_JWT_SECRET"),
    ],
    ids=lambda value: (
        "-".join(f"{k[9:]}={v}" for k, v in value.items()) if isinstance(value, dict) else ""
    ),
)
def test_a_bad_value_is_refused_naming_its_variable(env: dict[str, str], variable: str) -> None:
    [problem] = problems_of(env)
    assert variable in problem


def test_all_problems_are_reported_together() -> None:
    problems = problems_of(
        {
            "DIAMONDS_ENV": "production",
            "DIAMONDS_DATABASE_URL": "mysql://db/diamonds",
            "DIAMONDS_CREATOR_SHARE_BPS": "abc",
            "DIAMONDS_CASH_RATES": "garbage",
            "DIAMONDS_DIAMOND_WALLET_SHARDS": "0",
        }
    )

    assert len(problems) == 5
    for variable in (
        "DIAMONDS_DATABASE_URL",
        "DIAMONDS_JWT_SECRET",
        "DIAMONDS_CREATOR_SHARE_BPS",
        "DIAMONDS_CASH_RATES",
        "DIAMONDS_DIAMOND_WALLET_SHARDS",
    ):
        assert sum(variable in p for p in problems) == 1, (variable, problems)


def test_production_with_its_own_secret_starts() -> None:
    settings = Settings.from_env({"DIAMONDS_ENV": "production", "DIAMONDS_JWT_SECRET": GOOD_SECRET})
    assert not settings.development
    assert not settings.using_dev_secret


def test_the_development_secret_is_announced_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="settings.service"):
        Settings.from_env({}).warn_if_insecure()
        Settings.from_env({"DIAMONDS_JWT_SECRET": GOOD_SECRET}).warn_if_insecure()

    [warning] = caplog.records
    assert "DIAMONDS_JWT_SECRET is not set" in warning.getMessage()


# --- Values the configuration accepts today but must not ---------------------------------------


def test_a_cash_rate_of_zero_is_refused() -> None:
    """`USD=0/1` is accepted, and `CashRate.diamonds_for` then divides by zero."""
    [problem] = problems_of({"DIAMONDS_CASH_RATES": "USD=0/1"})
    assert "DIAMONDS_CASH_RATES" in problem


@pytest.mark.parametrize("length", [16, 31])
def test_every_jwt_secret_the_configuration_accepts_signs_without_a_warning(length: int) -> None:
    """HS256 wants a key of at least 32 bytes (RFC 7518 section 3.2): PyJWT warns at every token
    minted or verified with a shorter one. The configuration must refuse such a secret instead."""
    try:
        settings = Settings.from_env({"DIAMONDS_JWT_SECRET": "s" * length})
    except ConfigError as refused:
        problems = refused.problems
    else:
        problems = []
    if problems:
        assert any("DIAMONDS_JWT_SECRET" in p for p in problems)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verify_token(settings, mint_token(settings, "viewer:ann", ["VIEWER"]))


def test_production_refuses_the_public_development_secret() -> None:
    """Anyone can mint an ADMIN token with the development secret: it is in the source."""
    [problem] = problems_of({"DIAMONDS_ENV": "production", "DIAMONDS_JWT_SECRET": DEV_JWT_SECRET})
    assert "DIAMONDS_JWT_SECRET" in problem


def test_a_refused_database_url_does_not_echo_its_password() -> None:
    """The problem is logged at start-up: the URL must not carry its password there."""
    [problem] = problems_of({"DIAMONDS_DATABASE_URL": "mysql://app:hunter2-secret@db/diamonds"})
    assert "DIAMONDS_DATABASE_URL" in problem
    assert "hunter2-secret" not in problem


def test_the_payout_policy_is_read_with_the_other_settings() -> None:
    settings = Settings.from_env(
        {"DIAMONDS_PAYOUT_MINIMUM_MINOR": "2500", "DIAMONDS_PAYOUT_LEASE_SECONDS": "60"}
    )
    assert (settings.payouts.minimum_minor, settings.payouts.lease_seconds) == (2_500, 60)
    assert Settings.from_env({}).payouts.daily_cap_minor == 100_000


def test_a_bad_payout_setting_is_reported_at_start_up_with_the_others() -> None:
    problems = problems_of(
        {"DIAMONDS_PAYOUT_MINIMUM_MINOR": "0", "DIAMONDS_CREATOR_SHARE_BPS": "abc"}
    )
    assert len(problems) == 2
    assert any("DIAMONDS_PAYOUT_MINIMUM_MINOR" in p for p in problems)
    assert any("DIAMONDS_CREATOR_SHARE_BPS" in p for p in problems)
