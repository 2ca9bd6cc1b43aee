"""The load generator, in a process of its own: an aiohttp client keeping a fixed number of
requests in flight (or a fixed rate), each a persisted query (APQ: the hash and the variables),
signed as one of the funded viewers in turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench import _gcwatch
from bench._cpu import CpuSample, sample

SEND_GIFT = (
    "mutation Send($input: SendGiftInput!) "
    "{ sendGift(input: $input) { replayed giftSend { id } errors { code } } }"
)
NOOP = "mutation Noop($input: NoopInput!) { benchNoop(input: $input) { replayed errors } }"
SIGN_IN = "query Me { me { subject } }"
QUERIES = {"gift": SEND_GIFT, "noop": NOOP, "sign-in": SIGN_IN}


@dataclass(frozen=True)
class LoadPlan:
    base_url: str
    operation: str
    """`gift` (sendGift), `noop` (the baseline) or `sign-in` (`me`: each viewer once)."""
    tokens: list[str]
    streams: list[str]
    """Global ids; request n goes to `streams[n % len(streams)]`."""
    gift: str
    concurrency: int = 64
    warmup: float = 2.0
    duration: float = 10.0
    rate: float | None = None
    """Requests a second at most (None: as fast as `concurrency` allows)."""
    key_prefix: str = "storm"
    total: int | None = None
    """Stop after this many requests (then `duration` is only a time limit)."""
    server_session: int | None = None
    """The servers' process session: their CPU time over the measured window is reported."""
    server_gc_dir: str | None = None
    """Where the servers time their garbage collections (`bench._gcwatch`): reported likewise."""


@dataclass
class LoadResult:
    requests: int = 0
    """Completed within the measured window."""
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    """(idempotency key, GiftSend id) of every gift booked, warm-up included."""
    unknown: list[str] = field(default_factory=list)
    """Keys whose outcome the client never learned (a transport error)."""
    cpu: CpuSample | None = None
    """CPU used over the measured window by the servers, PostgreSQL and this load generator."""
    gc: dict[str, Any] | None = None
    """The servers' garbage collections over the measured window (`bench._gcwatch.window`)."""
    sent_at: dict[str, float] = field(default_factory=dict)
    cpu: CpuSample | None = None
    """CPU used over the measured window by the servers, PostgreSQL and this load generator."""
    """Wall-clock time each accepted gift's response arrived (for the fan-out benchmark)."""


def run_in_process(plan: LoadPlan) -> LoadResult:
    """Run the load in a separate (spawned) process and return what it measured."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[LoadResult] = context.Queue()
    process = context.Process(target=_child, args=(plan, queue), name="bench-load")
    process.start()
    result = queue.get()
    process.join()
    return result


def start_in_process(plan: LoadPlan) -> tuple[Any, Any]:
    """Start the load in a separate process; `.get()` the queue for its result."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[LoadResult] = context.Queue()
    process = context.Process(target=_child, args=(plan, queue), name="bench-load")
    process.start()
    return process, queue


def _child(plan: LoadPlan, queue: multiprocessing.Queue[LoadResult]) -> None:
    from diamonds.workers import use_uvloop

    use_uvloop()
    queue.put(asyncio.run(generate(plan)))


async def generate(plan: LoadPlan) -> LoadResult:
    query = QUERIES[plan.operation]
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    result = LoadResult()
    counter = itertools.count()
    prefix = f"{plan.key_prefix}-{os.getpid()}-{int(time.time() * 1000)}"
    connector = aiohttp.TCPConnector(limit=plan.concurrency, force_close=False)
    started = time.perf_counter()
    measure_from = started + plan.warmup
    measure_to = measure_from + plan.duration
    interval = 1.0 / plan.rate if plan.rate else 0.0

    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(n: int) -> None:
            key = f"{prefix}-{n}"
            variables = {
                "input": {
                    "streamId": plan.streams[n % len(plan.streams)],
                    "giftId": plan.gift,
                    "quantity": 1,
                    "idempotencyKey": key,
                }
            }
            headers = {
                "Authorization": f"Bearer {plan.tokens[n % len(plan.tokens)]}",
                "Content-Type": "application/json",
            }
            body: dict[str, Any] = {"extensions": extensions}
            if plan.operation != "sign-in":
                body["variables"] = variables
            t0 = time.perf_counter()
            try:
                data = await _post(session, plan.base_url, headers, body)
                if _not_found(data):  # this process has not seen the query yet: send it once
                    data = await _post(session, plan.base_url, headers, {**body, "query": query})
            except (aiohttp.ClientError, TimeoutError) as exc:
                if plan.operation == "gift":
                    result.unknown.append(key)
                _count(result, t0, measure_from, measure_to, f"transport: {type(exc).__name__}")
                return
            t1 = time.perf_counter()
            problem = _problem(data, plan.operation)
            if problem is None and plan.operation == "gift":
                result.accepted.append((key, data["data"]["sendGift"]["giftSend"]["id"]))
                result.sent_at[key] = time.time()
            if measure_from <= t1 < measure_to:
                result.requests += 1
                result.latencies_ms.append((t1 - t0) * 1000)
                if problem is not None:
                    result.errors[problem] = result.errors.get(problem, 0) + 1

        async def worker(first_slot: int) -> None:
            while True:
                n = next(counter)
                if plan.total is not None and n >= plan.total:
                    return
                if interval:
                    due = started + n * interval
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if time.perf_counter() >= measure_to:
                    return
                await one(n)

        async def watch_cpu() -> None:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            first = sample(plan.server_session)
            gc_first, since = _gcwatch.read(plan.server_gc_dir), time.monotonic_ns()
            await asyncio.sleep(max(0.0, measure_to - time.perf_counter()))
            result.cpu = sample(plan.server_session) - first
            gc_last = _gcwatch.read(plan.server_gc_dir)
            if gc_first is not None and gc_last is not None:
                result.gc = _gcwatch.window(gc_first, gc_last, since, time.monotonic_ns())

        watcher = asyncio.create_task(watch_cpu())
        await asyncio.gather(*(worker(i) for i in range(plan.concurrency)))
        if not watcher.done():
            watcher.cancel()
    result.seconds = min(plan.duration, max(1e-9, time.perf_counter() - measure_from))
    return result


async def _post(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    async with session.post(
        f"{base}/graphql", data=orjson.dumps(body), headers=headers
    ) as response:
        raw = await response.read()
        if response.status != 200:
            return {"status": response.status}
    data: dict[str, Any] = orjson.loads(raw)
    return data


def _not_found(data: dict[str, Any]) -> bool:
    errors = data.get("errors") or []
    return any(
        (e.get("extensions") or {}).get("code") == "PERSISTED_QUERY_NOT_FOUND" for e in errors
    )


def _problem(data: dict[str, Any], operation: str) -> str | None:
    if "status" in data:
        return f"http {data['status']}"
    if data.get("errors"):
        return "graphql: " + str(data["errors"][0].get("message"))[:80]
    if operation == "sign-in":
        return None if (data.get("data") or {}).get("me") else "no payload"
    payload = (data.get("data") or {}).get("sendGift" if operation == "gift" else "benchNoop")
    if payload is None:
        return "no payload"
    if payload["errors"]:
        first = payload["errors"][0]
        return "payload: " + (first["code"] if isinstance(first, dict) else str(first))
    if payload["replayed"]:
        return "replayed"
    return None


def _count(result: LoadResult, t0: float, start: float, end: float, problem: str) -> None:
    now = time.perf_counter()
    if start <= now < end:
        result.requests += 1
        result.latencies_ms.append((now - t0) * 1000)
        result.errors[problem] = result.errors.get(problem, 0) + 1
