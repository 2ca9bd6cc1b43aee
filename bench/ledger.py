"""Benchmark 2, the ledger alone: `python -m bench.ledger [--quick]`.

Gifts into one hot creator through the economy's `send_gift` (stream and gift checks, the ledger
booking, the sent-gift row, events), with no HTTP and no GraphQL: on a scratch PostgreSQL
database and on a scratch SQLite file, with many gifts in flight (they are booked in groups,
see economy/gift_desk.py), and again one gift per transaction (DIAMONDS_GIFT_BATCH_SIZE=1) for
comparison. Checks the ledger after each run. Writes bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from typing import Any

from bench._common import (
    economy_on,
    machine_load,
    percentile,
    say,
    scratch_database,
    seed,
    write_results,
)
from economy.gifting import send_gift
from economy.users import User
from ledger import verify_ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--in-flight", type=int, default=512, help="gifts in flight at once")
    parser.add_argument("--viewers", type=int, help="funded viewers (10,000; 2,000 --quick)")
    parser.add_argument("--duration", type=float, help="measured seconds per run")
    args = parser.parse_args(argv)
    duration = args.duration or (3.0 if args.quick else 15.0)
    args.viewers = args.viewers or (2_000 if args.quick else 10_000)
    figures: dict[str, Any] = {
        "in_flight": args.in_flight,
        "viewers": args.viewers,
        "seconds_per_run": duration,
        "load_before": machine_load(),
    }
    say(
        f"ledger alone: {args.in_flight} gifts in flight, {duration:.0f} s per run; "
        f"load now: {figures['load_before']['uptime']}"
    )
    for kind in ("postgres", "sqlite"):
        with scratch_database(kind) as url:
            seeded = asyncio.run(_seed(url, args.viewers))
            for batch, label in ((None, ""), ("1", "_unbatched")):
                env = {"DIAMONDS_GIFT_BATCH_SIZE": batch} if batch else {}
                result = asyncio.run(_run(url, args, duration, env, seeded, label))
                for name, value in result.items():
                    figures[f"{kind}_{name}{label}"] = value
                say(
                    f"  {kind:8} {'one per transaction' if batch else 'batched':20} "
                    f"{result['hot_gifts_per_s']:>8,.0f} gifts/s   p50 {result['p50_ms']:.1f} ms"
                    f"   p99 {result['p99_ms']:.1f} ms   ledger verify: "
                    f"{'OK' if result['verify_ok'] else 'VIOLATIONS'}"
                )
    figures["load_after"] = machine_load()
    path = write_results("ledger", figures)
    say(f"load: {figures['load_before']['uptime']} -> {figures['load_after']['uptime']}")
    say(f"written to {path}")
    return 0


async def _seed(url: str, viewers: int) -> Any:
    async with economy_on(url) as eco:
        return await seed(eco, viewers=viewers, creators=1, coins_each=100_000)


async def _run(
    url: str,
    args: argparse.Namespace,
    duration: float,
    env: dict[str, str],
    seeded: Any,
    label: str,
) -> dict[str, Any]:
    warmup = 1.0
    async with economy_on(url, **env) as eco:
        viewers = [await eco.users.ensure(subject) for _, subject in seeded.viewers]
        stream, gift = seeded.streams[0], seeded.gift_id
        keys = itertools.count()
        latencies: list[float] = []
        done = 0
        started = time.perf_counter()
        measure_from, measure_to = started + warmup, started + warmup + duration

        async def sender(slot: int) -> None:
            nonlocal done
            mine: list[User] = viewers[slot :: args.in_flight] or [viewers[slot % len(viewers)]]
            for turn in itertools.count():
                if time.perf_counter() >= measure_to:
                    return
                viewer = mine[turn % len(mine)]
                t0 = time.perf_counter()
                await send_gift(
                    eco,
                    viewer,
                    stream_id=stream,
                    gift_id=gift,
                    quantity=1,
                    key=f"l{label}{next(keys)}",
                )
                t1 = time.perf_counter()
                if measure_from <= t1 < measure_to:
                    done += 1
                    latencies.append((t1 - t0) * 1000)

        await asyncio.gather(*(sender(n) for n in range(args.in_flight)))
        async with eco.db.read() as conn:
            violations = await verify_ledger(conn)
    return {
        "hot_gifts_per_s": round(done / duration, 1),
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "verify_ok": not violations,
    }


if __name__ == "__main__":
    raise SystemExit(main())
