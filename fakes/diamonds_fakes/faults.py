"""Fault injection shared by the fake provider servers: latency, 429 with Retry-After, 5xx, hangs
(client timeouts) and dropped connections, applied by an aiohttp middleware and driven by JSON.

Admin routes, under `/__fake__` on every fake: `POST /__fake__/faults` (one fault or a list),
`GET /__fake__/faults` (active faults and hit counts), `DELETE /__fake__/faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

ADMIN_PREFIX = "/__fake__"

DEFAULT_HANG_SECONDS = 30.0


class FaultKind(enum.StrEnum):
    LATENCY = "latency"
    """Wait `seconds`, then answer normally."""
    RATE_LIMIT = "rate_limit"
    """Answer 429 with `Retry-After: retry_after`; nothing happens."""
    SERVER_ERROR = "server_error"
    """Answer `status` (500 by default); nothing happens."""
    TIMEOUT = "timeout"
    """Hang for `seconds` (or until the server stops) without answering: the client times out.
    With `after_effect` (the default) the request takes effect first, the dangerous case."""
    DROP = "drop"
    """Close the connection without an answer; with `after_effect` (the default) the request
    takes effect first."""


@dataclass
class Fault:
    """One fault rule: which requests it hits and what it does to them."""

    kind: FaultKind
    method: str | None = None
    """Only requests with this HTTP method (`POST`); None hits any."""
    path: str | None = None
    """Only requests whose path starts with this (`/v1/payouts`); None hits any API path. Admin
    paths (`/__fake__/...`) are never hit."""
    times: int | None = 1
    """How many requests it hits before it expires; None keeps it until cleared."""
    probability: float = 1.0
    """The chance that a matching request is hit (e.g. 0.05 with `times: null` for 5% faults)."""
    seconds: float = 0.0
    """LATENCY: the delay. TIMEOUT: how long to hang (default 30)."""
    retry_after: int = 1
    """RATE_LIMIT: the Retry-After header, in whole seconds."""
    status: int = 500
    """SERVER_ERROR: the status to answer (500 to 599)."""
    after_effect: bool = True
    """TIMEOUT and DROP: let the request take effect before hanging or dropping."""
    hits: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if self.method is not None:
            self.method = self.method.upper()
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be at least 1 (or null for no limit), got {self.times}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be from 0 to 1, got {self.probability}")
        if not (math.isfinite(self.seconds) and 0.0 <= self.seconds <= 3600.0):
            raise ValueError(f"seconds must be from 0 to 3600, got {self.seconds}")
        if self.kind is FaultKind.TIMEOUT and self.seconds == 0.0:
            self.seconds = DEFAULT_HANG_SECONDS
        if not 0 <= self.retry_after <= 86_400:
            raise ValueError(f"retry_after must be from 0 to 86400, got {self.retry_after}")
        if not 500 <= self.status <= 599:
            raise ValueError(f"status must be a 5xx status, got {self.status}")

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """A fault from its JSON form; raises ValueError naming what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError('a fault is a JSON object such as {"kind": "server_error"}')
        known = {f for f in cls.__dataclass_fields__ if f != "hits"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        if data.get("kind") not in {k.value for k in FaultKind}:
            kinds = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"kind must be one of {kinds}, got {data.get('kind')!r}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and (
            self.path is None or path.startswith(self.path)
        )


class FaultInjector:
    """The active faults of one fake server. `seed` makes probabilistic faults repeatable."""

    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._random = random.Random(seed)  # noqa: S311 - test faults, not cryptography
        self._released = asyncio.Event()
        self.hits: Counter[FaultKind] = Counter()

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def active(self) -> list[Fault]:
        return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that hits this request, if any, counting one use of it."""
        if path.startswith(ADMIN_PREFIX):
            return None
        for fault in self._faults:
            if not fault.matches(method, path):
                continue
            if fault.probability < 1.0 and self._random.random() >= fault.probability:
                continue
            fault.hits += 1
            self.hits[fault.kind] += 1
            if fault.times is not None and fault.hits >= fault.times:
                self._faults.remove(fault)
            return fault
        return None

    async def hang(self, seconds: float) -> None:
        """Wait `seconds`, or less if the server is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), timeout=seconds)

    def release(self) -> None:
        """End every hang now (the server is stopping)."""
        self._released.set()


ErrorRenderer = Callable[[Fault], web.StreamResponse]
"""Builds the provider-shaped error answer for a RATE_LIMIT or SERVER_ERROR fault."""


def fault_middleware(injector: FaultInjector, render_error: ErrorRenderer) -> Any:
    """An aiohttp middleware applying `injector`'s faults to API requests. `render_error` gives
    each fake its provider's error shape."""

    @web.middleware
    async def middleware(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        fault = injector.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.kind is FaultKind.LATENCY:
            await asyncio.sleep(fault.seconds)
            return await handler(request)
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR):
            return render_error(fault)
        response = await handler(request) if fault.after_effect else None
        if fault.kind is FaultKind.TIMEOUT:
            await injector.hang(fault.seconds)
        _drop(request)
        return response or web.Response(status=500)

    return middleware


def _drop(request: web.Request) -> None:
    """Close the client's connection with nothing written."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def add_fault_routes(app: web.Application, injector: FaultInjector) -> None:
    """The JSON admin API for faults, under `/__fake__/faults`."""

    async def add(request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            return admin_error("the body must be JSON: a fault object or a list of them")
        items = data if isinstance(data, list) else [data]
        try:
            faults = [Fault.from_json(item) for item in items]
        except ValueError as exc:
            return admin_error(str(exc))
        for fault in faults:
            injector.add(fault)
        return web.json_response({"faults": [f.to_json() for f in injector.active()]}, status=201)

    async def show(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "faults": [f.to_json() for f in injector.active()],
                "hits": {kind.value: injector.hits[kind] for kind in FaultKind},
            }
        )

    async def clear(_request: web.Request) -> web.Response:
        injector.clear()
        return web.json_response({"faults": []})

    app.router.add_post(f"{ADMIN_PREFIX}/faults", add)
    app.router.add_get(f"{ADMIN_PREFIX}/faults", show)
    app.router.add_delete(f"{ADMIN_PREFIX}/faults", clear)


def admin_error(message: str, status: int = 400) -> web.Response:
    """An admin API error: `{"error": message}`."""
    return web.json_response({"error": message}, status=status)
