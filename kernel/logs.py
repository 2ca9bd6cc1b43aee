"""The log context and the log format: fields bound for a stretch of work (a request's id, its
GraphQL operation and caller, a payout's id) put on every line logged within it, as JSON or text.

Fields live in one context variable, so a line gets them without threading arguments through:
`with log_scope(payout_id=7): ...` covers every line logged inside, and `bind_log(subject=...)`
adds to the innermost scope (the request's, which ends with the request).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from types import MappingProxyType

LogValue = str | int
_FIELDS: ContextVar[Mapping[str, LogValue]] = ContextVar(
    "diamonds_log_fields", default=MappingProxyType({})
)

FIELD_ORDER = ("request_id", "operation", "subject", "payout_id")
"""The context fields, in the order the text format prints them."""

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def log_fields() -> Mapping[str, LogValue]:
    """The fields bound now."""
    return _FIELDS.get()


@contextmanager
def log_scope(**fields: LogValue | None) -> Iterator[None]:
    """Bind `fields` (None ones are skipped) for the lines logged inside; on leaving, the fields
    are what they were before, including any `bind_log` made inside."""
    token = _FIELDS.set({**_FIELDS.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def unbound_context() -> Context:
    """The current context without log fields: for a task started inside a request that works
    for many (a gift batch, a shared live feed), whose lines would otherwise carry the id of
    whichever request happened to start it. `asyncio.create_task(coro, context=...)`."""
    context = copy_context()
    context.run(_FIELDS.set, MappingProxyType({}))
    return context


def bind_log(**fields: LogValue | None) -> None:
    """Add `fields` until the enclosing `log_scope` ends (None ones are skipped)."""
    _FIELDS.set({**_FIELDS.get(), **{k: v for k, v in fields.items() if v is not None}})


def _extra(record: logging.LogRecord) -> dict[str, object]:
    """What a call passed in `extra=`, beside the context fields."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, any `extra=`
    and the traceback (`exc`)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(log_fields())
        line.update(_extra(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The development format: time, level, logger, message, then the context fields as
    `key=value` (request_id first)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = log_fields()
        keys = [k for k in FIELD_ORDER if k in fields] + sorted(set(fields) - set(FIELD_ORDER))
        if not keys:
            return text
        head, newline, tail = text.partition("\n")
        return head + " [" + " ".join(f"{k}={fields[k]}" for k in keys) + "]" + newline + tail


class _DiamondsHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `install_log_handler` installs (and so may replace)."""


def install_log_handler(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send every log line to stderr in `log_format` ("json" or "text"), replacing the handler
    an earlier call installed. Like `logging.basicConfig`, it leaves a root logger that has
    handlers of someone else's alone (a test runner's capture, an embedding application's)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _DiamondsHandler)]
    if len(ours) != len(root.handlers):
        return
    for old in ours:
        root.removeHandler(old)
    handler = _DiamondsHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
