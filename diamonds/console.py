"""What every `diamonds` subcommand shares: the exit codes, the error a user can act on, the
settings a command runs with (`--database-url` overriding the environment) and the log set-up.
"""

from __future__ import annotations

import getpass
import logging
import os

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from kernel.env import EnvReader
from kernel.logs import install_log_handler
from settings.observability import read_log_format
from settings.service import ConfigError, Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
"""Bad configuration or arguments, as argparse itself exits."""

_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class CommandError(Exception):
    """A failure the user can act on: printed as one message, without a traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def settings_for(database_url: str | None) -> Settings:
    """Settings from the environment; a `--database-url` replaces DIAMONDS_DATABASE_URL."""
    if database_url is None:
        return Settings.from_env()
    env = {k: v for k, v in os.environ.items() if k != "DIAMONDS_DATABASE_URL"}
    settings = Settings.from_env(env).with_database(database_url)
    if not settings.database_url.startswith(_SCHEMES):
        raise ConfigError(
            [f"--database-url {database_url!r}: expected a sqlite:/// or postgresql:// URL"]
        )
    return settings


def cli_actor() -> str:
    """Who to name in the audit log for a command run by hand: `cli:<login>`, else `cli`."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def safe_url(url: str) -> str:
    """The URL with its password masked, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr in `DIAMONDS_LOG_FORMAT`, read before the settings are (a bad value means
    the default here; the settings then refuse it)."""
    read = EnvReader(os.environ, [])
    development = read.choice("DIAMONDS_ENV", "development", ("development", "production"))
    log_format = read_log_format(read, development=development == "development")
    install_log_handler(log_format, level)
