"""Benchmark 3, fan-out: `python -m bench.fanout [--quick]`.

One live stream with 5,000 websocket subscribers (`giftReceived`) spread over 2 server
processes on one port, which share events through Redis; a load generator in its own process
sends 500 gifts a second into the stream over HTTP. For every gift: the time from its commit to
its arrival at the last of the subscribers, p50 and p99, and how many subscribers missed it.
Subscribers run in 2 processes of their own. Writes bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import subprocess
import time
import uuid
from datetime import datetime
from typing import Any

import orjson

from bench._common import (
    REDIS_URL,
    economy_on,
    free_port,
    machine_load,
    percentile,
    raise_open_files_limit,
    redis_available,
    say,
    scratch_database,
    seed,
    servers,
    settings_for,
    write_results,
)
from bench._load import LoadPlan, start_in_process
from bench._wsclient import run_subscribers
from graph.auth import mint_token
from graph.global_ids import to_global_id

SUBSCRIPTION = (
    "subscription Gifts($stream: ID!) { giftReceived(streamId: $stream) { streamTotal "
    "gifts { id committedAt senderName quantity diamonds streamTotal gift { name } } } }"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--subscribers", type=int, default=5_000)
    parser.add_argument("--rate", type=float, default=500.0, help="gifts a second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--duration", type=float, help="measured seconds")
    parser.add_argument(
        "--tick-ms", type=int, default=100, help="DIAMONDS_LIVE_TICK_MS of the servers (100)"
    )
    args = parser.parse_args(argv)
    if not redis_available():
        say(f"the fan-out benchmark needs Redis at {REDIS_URL} (BENCH_REDIS_URL)")
        return 2
    raise_open_files_limit()
    duration = args.duration or (8.0 if args.quick else 20.0)
    load_before = machine_load()
    say(
        f"fan-out: {args.subscribers:,} subscribers over {args.workers} server processes, "
        f"{args.rate:.0f} gifts/s for {duration:.0f} s; load now: {load_before['uptime']}"
    )
    with scratch_database("postgres") as url:
        figures = run(url, args, duration)
    figures["load_before"] = load_before
    figures["load_after"] = machine_load()
    path = write_results("fanout", figures)
    report(figures)
    say(f"written to {path}")
    return 0


def run(url: str, args: argparse.Namespace, duration: float) -> dict[str, Any]:
    warmup = 2.0
    viewers = 2_000
    seeded = asyncio.run(_seed(url, viewers))
    settings = settings_for(url)
    tokens = [mint_token(settings, subject, ["VIEWER"]) for _, subject in seeded.viewers]
    stream = to_global_id("LiveStream", seeded.streams[0])
    port = free_port()
    env = {
        "DIAMONDS_REDIS_URL": REDIS_URL,
        "DIAMONDS_REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}",
        "DIAMONDS_DB_POOL_SIZE": "32",
        "DIAMONDS_DB_MAX_OVERFLOW": "0",
        "DIAMONDS_LIVE_TICK_MS": str(args.tick_ms),
    }
    context = multiprocessing.get_context("spawn")
    with servers(url, port, workers=args.workers, env=env) as running:
        base = running.base
        say("  connecting subscribers ...")
        started = time.monotonic()
        clients = []
        per_client = _split(args.subscribers, args.client_processes)
        for count in per_client:
            parent, child = context.Pipe()
            process = context.Process(
                target=run_subscribers,
                args=("127.0.0.1", port, SUBSCRIPTION, {"stream": stream}, count, child),
                name="bench-subscribers",
            )
            process.start()
            clients.append((process, parent))
        for _process, pipe in clients:
            status = pipe.recv()
            if status[0] != "ready":
                raise RuntimeError(f"subscribers could not connect: {status[1]}")
        connected_in = time.monotonic() - started
        per_server = _connections_per_server(port)
        say(f"  {args.subscribers:,} subscribed in {connected_in:.1f} s {per_server}; storm ...")
        load_process, results = start_in_process(
            LoadPlan(
                base_url=base,
                operation="gift",
                tokens=tokens,
                streams=[stream],
                gift=to_global_id("Gift", seeded.gift_id),
                concurrency=128,
                warmup=warmup,
                duration=duration,
                rate=args.rate,
                key_prefix="fanout",
            )
        )
        load = results.get()
        load_process.join()
        time.sleep(2.0)  # the last gifts' messages are on their way
        counts: dict[bytes, int] = {}
        lasts: dict[bytes, float] = {}
        closed = 0
        for process, pipe in clients:
            pipe.send("stop")
            _, count, last, lost = pipe.recv()
            process.join()
            closed += lost
            for message, n in count.items():
                counts[message] = counts.get(message, 0) + n
                lasts[message] = max(lasts.get(message, 0.0), last[message])
    return _figures(args, duration, connected_in, per_server, load, counts, lasts, closed)


def _figures(
    args: argparse.Namespace,
    duration: float,
    connected_in: float,
    per_server: dict[str, int],
    load: Any,
    counts: dict[bytes, int],
    lasts: dict[bytes, float],
    closed: int,
) -> dict[str, Any]:
    arrivals: dict[str, int] = {}
    last_arrival: dict[str, float] = {}
    committed: dict[str, float] = {}
    for message, n in counts.items():
        gifts = orjson.loads(message)["payload"]["data"]["giftReceived"]["gifts"]
        for gift in gifts:
            gift_id = gift["id"]
            arrivals[gift_id] = arrivals.get(gift_id, 0) + n
            last_arrival[gift_id] = max(last_arrival.get(gift_id, 0.0), lasts[message])
            committed[gift_id] = datetime.fromisoformat(gift["committedAt"]).timestamp()
    booked = [gift_id for _, gift_id in load.accepted]
    latencies = [(last_arrival[g] - committed[g]) * 1000 for g in booked if arrivals.get(g, 0) > 0]
    missed = sum(args.subscribers - arrivals.get(g, 0) for g in booked)
    return {
        "subscribers": args.subscribers,
        "server_processes": args.workers,
        "tick_ms": args.tick_ms,
        "connections_per_server": per_server,
        "subscribe_seconds": round(connected_in, 1),
        "target_gifts_per_s": args.rate,
        "gifts_per_s": round(load.requests / load.seconds, 1),
        "gifts": len(booked),
        "gift_errors": sum(load.errors.values()),
        "deliveries": sum(arrivals.get(g, 0) for g in booked),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1) if latencies else 0.0,
        "missed": missed,
        "subscribers_dropped": closed,
        "seconds": duration,
        "messages_distinct": len(counts),
    }


async def _seed(url: str, viewers: int) -> Any:
    async with economy_on(url) as eco:
        return await seed(eco, viewers=viewers, creators=1, coins_each=1_000)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def _connections_per_server(port: int) -> dict[str, int]:
    """Established connections on the port, per server process (from `ss`)."""
    try:
        out = subprocess.run(  # noqa: S603
            ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    per: dict[str, int] = {}
    for line in out.splitlines():
        if "pid=" in line:
            pid = line.split("pid=", 1)[1].split(",", 1)[0]
            per[pid] = per.get(pid, 0) + 1
    return per


def report(f: dict[str, Any]) -> None:
    say("")
    say(
        f"{f['subscribers']:,} subscribers on {f['server_processes']} server processes "
        f"{f['connections_per_server']}, {f['gifts_per_s']:.0f} gifts/s "
        f"({f['gifts']:,} gifts, {f['gift_errors']} errors)"
    )
    say(
        f"commit -> last subscriber: p50 {f['p50_ms']:.0f} ms   p99 {f['p99_ms']:.0f} ms   "
        f"max {f['max_ms']:.0f} ms   missed {f['missed']:,} of {f['gifts'] * f['subscribers']:,}"
        f"   dropped {f['subscribers_dropped']}"
    )
    say(f"load: {f['load_before']['uptime']} -> {f['load_after']['uptime']}")


if __name__ == "__main__":
    raise SystemExit(main())
