"""Every Prometheus metric the service exports at `/metrics`, defined once here so that each
layer counts what it does without knowing who serves them (docs/operations.md#metrics).

Counters and histograms are counted where the thing happens; gauges read from the database or
the bank outbox (`PAYOUTS`, `UNKNOWN_*`, `BANK_OUTBOX_*`) are set just before a scrape, in
"mostrecent" mode so that with `serve --workers N` the worker that answered the scrape wins.
With `PROMETHEUS_MULTIPROC_DIR` set (the shell sets it for N > 1) the processes' values are
summed through files in that folder (`render`).

`LEDGER_VERIFY` is a registry of its own, not served at `/metrics`: `diamonds ledger verify
--metrics-file` writes it for node_exporter's textfile collector (the alert rules in
ops/prometheus/alerts.yml read it).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Set before `prometheus_client` is imported, it puts the process in multi-process mode."""
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "diamonds_requests",
    "HTTP requests answered, by GraphQL operation name (else the route) and outcome.",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "diamonds_request_seconds",
    "Time to answer an HTTP request, by GraphQL operation name (else the route).",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GIFTS_BOOKED = Counter("diamonds_gifts_booked", "Gifts booked (replays not counted).")
GIFT_BATCH_SIZE = Histogram(
    "diamonds_gift_batch_size",
    "Gifts written together in one database transaction by the gift desk.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
PAYOUTS = Gauge(
    "diamonds_payouts",
    "Payouts in each status, by provider (read from the database at scrape time).",
    ["status", "provider"],
    multiprocess_mode="mostrecent",
)
UNKNOWN_WAITING = Gauge(
    "diamonds_payouts_unknown_waiting",
    "Payouts whose provider outcome is unknown (status UNKNOWN), waiting to be looked up.",
    multiprocess_mode="mostrecent",
)
UNKNOWN_WINDOW_SECONDS = Gauge(
    "diamonds_payouts_unknown_window_seconds",
    "How long an UNKNOWN payout may wait before an operator should look: the worker's longest "
    "backoff between tries, plus a lease and the lookup delay (from the payout policy).",
    multiprocess_mode="mostrecent",
)
UNKNOWN_OLDEST_SECONDS = Gauge(
    "diamonds_payouts_unknown_oldest_age_seconds",
    "Seconds since the longest-waiting UNKNOWN payout last changed (0: none waiting).",
    multiprocess_mode="mostrecent",
)
PROVIDER_CALL_SECONDS = Histogram(
    "diamonds_provider_call_seconds",
    "One attempt of a payout provider call (submit, lookup, cancel, records), whatever its "
    "outcome.",
    ["provider", "call"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PROVIDER_RETRIES = Counter(
    "diamonds_provider_retries",
    "Provider call attempts retried after a transient failure.",
    ["provider", "call"],
)
PROVIDER_FAULTS = Counter(
    "diamonds_provider_faults",
    "Provider call attempts that failed, by kind: transient, permanent, unknown (the outcome "
    "could not be told), config, other.",
    ["provider", "call", "kind"],
)
WEBHOOK_VERIFICATIONS_FAILED = Counter(
    "diamonds_webhook_verifications_failed",
    "Webhooks refused because their signature did not verify, by provider.",
    ["provider"],
)
BANK_OUTBOX_DEPTH = Gauge(
    "diamonds_bank_outbox_depth",
    "Bank payouts queued in the outbox and not yet written into a bank file, by rail.",
    ["rail"],
    multiprocess_mode="mostrecent",
)
BANK_OUTBOX_OLDEST_SECONDS = Gauge(
    "diamonds_bank_outbox_oldest_age_seconds",
    "Seconds the oldest payout still waiting in the bank outbox has waited, by rail (0: none).",
    ["rail"],
    multiprocess_mode="mostrecent",
)
SUBSCRIPTIONS_OPEN = Gauge(
    "diamonds_subscriptions_open",
    "GraphQL operations running on live (websocket) connections: subscriptions, in practice.",
    multiprocess_mode="livesum",
)
LIVE_EVENTS_DROPPED = Counter(
    "diamonds_live_events_dropped",
    "Live subscribers dropped because they fell behind (their queued events are lost), by where "
    "they overflowed: the event bus or a shared subscription's feed.",
    ["where"],
)

LEDGER_VERIFY = CollectorRegistry()
LEDGER_VIOLATIONS = Gauge(
    "diamonds_ledger_verify_violations",
    "Violations of the ledger's invariants the last completed `diamonds ledger verify` found.",
    registry=LEDGER_VERIFY,
)
LEDGER_VERIFIED_AT = Gauge(
    "diamonds_ledger_verify_completed_timestamp_seconds",
    "When the last `diamonds ledger verify` completed its checks (Unix time).",
    registry=LEDGER_VERIFY,
)


def multiprocess_dir() -> str | None:
    """The folder the processes share their values through, when in multi-process mode."""
    return os.environ.get(MULTIPROC_ENV) or None


def render() -> bytes:
    """The text exposition of every metric (all processes' in multi-process mode)."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
