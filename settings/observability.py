"""How the service is watched, read from `DIAMONDS_LOG_FORMAT`, `DIAMONDS_METRICS_TOKEN` and
`DIAMONDS_OTEL_*`: the log format, who may read `/metrics`, and where traces go (if anywhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from kernel.env import EnvReader

LOG_FORMATS = ("json", "text")
MIN_METRICS_TOKEN_BYTES = 16


@dataclass(frozen=True)
class ObservabilitySettings:
    """Logs, metrics and traces (docs/operations.md)."""

    log_format: str = "text"
    """"json" (one object a line) or "text"; json by default in production."""
    metrics_token: str | None = None
    """The bearer token `/metrics` asks for. Unset: `/metrics` is open in development and not
    served at all in production."""
    otel_endpoint: str | None = None
    """The OTLP/HTTP collector traces are sent to (`DIAMONDS_OTEL_ENDPOINT`, else the standard
    `OTEL_EXPORTER_OTLP_ENDPOINT`); None: no tracing, and nothing of OpenTelemetry is imported."""
    otel_service_name: str = "diamonds"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], problems: list[str], *, development: bool
    ) -> ObservabilitySettings:
        """Read and validate; every problem is appended to `problems`."""
        read = EnvReader(env, problems)
        token = read.raw("DIAMONDS_METRICS_TOKEN")
        if token is not None and len(token.encode()) < MIN_METRICS_TOKEN_BYTES:
            problems.append(
                f"DIAMONDS_METRICS_TOKEN: expected at least {MIN_METRICS_TOKEN_BYTES} bytes"
            )
        endpoint: str | None = None
        for key in ("DIAMONDS_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            endpoint = read.raw(key)
            if endpoint is not None:
                if not _http_url(endpoint):
                    read.refuse(key, endpoint, "an http:// or https:// URL")
                    endpoint = None
                break
        return cls(
            log_format=read_log_format(read, development=development),
            metrics_token=token,
            otel_endpoint=endpoint,
            otel_service_name=read.raw("DIAMONDS_OTEL_SERVICE_NAME")
            or read.raw("OTEL_SERVICE_NAME")
            or "diamonds",
        )


def read_log_format(read: EnvReader, *, development: bool) -> str:
    """`DIAMONDS_LOG_FORMAT`: text by default in development, json in production."""
    return read.choice("DIAMONDS_LOG_FORMAT", "text" if development else "json", LOG_FORMATS)


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
