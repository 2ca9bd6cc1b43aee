"""Benchmark 1, the gift storm over HTTP: `python -m bench.gift_storm [--quick]`.

On a scratch PostgreSQL database, 2 server processes share one port (as `diamonds serve
--workers 2`); a load generator in a process of its own keeps 64 requests in flight. It runs,
one after the other: the baseline (`benchNoop`, a mutation that does nothing, served the same
way), `sendGift` from 10,000 funded viewers into one hot creator, and the same spread over 1,000
creators. Then it checks the ledger: every accepted gift booked once, no balance negative,
`diamonds ledger verify` clean. Writes bench/results/gift_storm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from bench._common import (
    economy_on,
    free_port,
    ledger_verify,
    machine_load,
    percentile,
    redis_available,
    say,
    scratch_database,
    seed,
    servers,
    settings_for,
    write_results,
)
from bench._load import LoadPlan, LoadResult, run_in_process
from economy.tables import gift_sends
from graph.auth import mint_token
from graph.global_ids import to_global_id
from ledger.accounts import read_balance
from ledger.verify import checked_accounts_below_zero, keys_per_kind

SIGN_IN_PASSES = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gift_storm", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--viewers", type=int, help="funded viewers (10,000; 2,000 --quick)")
    parser.add_argument("--creators", type=int, default=1_000)
    parser.add_argument("--duration", type=float, help="measured seconds per phase")
    args = parser.parse_args(argv)
    duration = args.duration or (6.0 if args.quick else 20.0)
    args.viewers = args.viewers or (2_000 if args.quick else 10_000)
    warmup = 1.5 if args.quick else 3.0
    load_before = machine_load()
    say(
        f"gift storm: {args.workers} server processes, {args.concurrency} in flight, "
        f"{duration:.0f} s per phase; load now: {load_before['uptime']}"
    )
    with scratch_database("postgres") as url:
        figures = run(url, args, duration, warmup)
    figures["load_before"] = load_before
    figures["load_after"] = machine_load()
    path = write_results("gift_storm", figures)
    report(figures)
    say(f"written to {path}")
    return 0


def run(url: str, args: argparse.Namespace, duration: float, warmup: float) -> dict[str, Any]:
    gifts_at_most = int(duration + warmup) * 6_000 * 2
    coins_each = max(10, gifts_at_most // args.viewers + 10)
    seeded = asyncio.run(_seed(url, args.viewers, args.creators, coins_each))
    settings = settings_for(url)
    tokens = [mint_token(settings, subject, ["VIEWER"]) for _, subject in seeded.viewers]
    streams = [str(to_global_id("LiveStream", s)) for s in seeded.streams]
    gift = str(to_global_id("Gift", seeded.gift_id))
    env = {
        "DIAMONDS_REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}",
        # A pool as large as the requests in flight, and no overflow: connections opened and
        # closed under load cost more than the gifts (see docs/performance.md).
        "DIAMONDS_DB_POOL_SIZE": "32",
        "DIAMONDS_DB_MAX_OVERFLOW": "0",
    }
    redis = redis_available()
    if redis:
        env["DIAMONDS_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    phases: dict[str, LoadResult] = {}
    with servers(url, free_port(), workers=args.workers, env=env) as running:
        base = running.base
        # The viewers are in the stream before the storm: each has signed in (`me`), so both
        # processes know them, as they would after a viewer's first request.
        say(f"  {SIGN_IN_PASSES} sign-in passes over {len(tokens):,} viewers ...")
        signed_in = run_in_process(
            LoadPlan(
                base_url=base,
                operation="sign-in",
                tokens=tokens,
                streams=streams[:1],
                gift=gift,
                concurrency=args.concurrency,
                warmup=0.0,
                duration=600.0,
                total=SIGN_IN_PASSES * len(tokens),
                key_prefix="sign-in",
            )
        )
        if signed_in.errors:
            raise RuntimeError(f"signing the viewers in failed: {signed_in.errors}")
        for name, operation, targets in (
            ("baseline", "noop", streams[:1]),
            ("hot", "gift", streams[:1]),
            ("spread", "gift", streams),
        ):
            say(f"  {name} ...")
            phases[name] = run_in_process(
                LoadPlan(
                    base_url=base,
                    operation=operation,
                    tokens=tokens,
                    streams=targets,
                    gift=gift,
                    concurrency=args.concurrency,
                    warmup=warmup,
                    duration=duration,
                    key_prefix=name,
                    server_session=running.session,
                    server_gc_dir=running.gc_dir,
                )
            )
    accepted = [pair for name in ("hot", "spread") for pair in phases[name].accepted]
    unknown = [key for name in ("hot", "spread") for key in phases[name].unknown]
    check = asyncio.run(_check_ledger(url, accepted, unknown))
    status, verify_line = ledger_verify(url)
    baseline, hot, spread = phases["baseline"], phases["hot"], phases["spread"]

    def rate(result: LoadResult) -> float:
        return round(result.requests / result.seconds, 1)

    return {
        "workers": args.workers,
        "concurrency": args.concurrency,
        "viewers": args.viewers,
        "creators": args.creators,
        "seconds_per_phase": duration,
        "warmup_seconds": warmup,
        "redis": redis,
        "baseline_req_per_s": rate(baseline),
        "baseline_p50_ms": round(percentile(baseline.latencies_ms, 0.50), 2),
        "baseline_p99_ms": round(percentile(baseline.latencies_ms, 0.99), 2),
        "baseline_errors": sum(baseline.errors.values()),
        "hot_gifts_per_s": rate(hot),
        "hot_p50_ms": round(percentile(hot.latencies_ms, 0.50), 2),
        "hot_p99_ms": round(percentile(hot.latencies_ms, 0.99), 2),
        "hot_errors": sum(hot.errors.values()),
        "spread_gifts_per_s": rate(spread),
        "spread_p50_ms": round(percentile(spread.latencies_ms, 0.50), 2),
        "spread_p99_ms": round(percentile(spread.latencies_ms, 0.99), 2),
        "spread_errors": sum(spread.errors.values()),
        "errors_by_kind": {n: r.errors for n, r in phases.items() if r.errors},
        "hot_vs_baseline": round(rate(hot) / rate(baseline), 3) if rate(baseline) else None,
        "hot_vs_spread": round(rate(hot) / rate(spread), 3) if rate(spread) else None,
        "cpu_ms_per_request": {name: cpu_per_request(r) for name, r in phases.items()},
        "gc": {name: gc_per_phase(r) for name, r in phases.items()},
        **check,
        "ledger_verify_ok": status == 0,
        "ledger_verify": verify_line,
    }


def cpu_per_request(result: LoadResult) -> dict[str, float] | None:
    """Milliseconds of CPU per completed request over the measured window, by who spent it."""
    if result.cpu is None or not result.requests:
        return None
    per = 1000 / result.requests
    return {
        "servers": round(result.cpu.servers * per, 3),
        "postgres": round(result.cpu.postgres * per, 3),
        "load_generator": round(result.cpu.client * per, 3),
    }


def gc_per_phase(result: LoadResult) -> dict[str, Any] | None:
    """The servers' collections over the measured window: per generation (0, 1, 2) how many and
    their pause and its CPU time in ms, the longest full one, and per request the pauses' and
    their CPU time's milliseconds."""
    if result.gc is None or not result.requests:
        return None
    return {
        **result.gc,
        "pause_ms_per_request": round(sum(result.gc["pause_ms"]) / result.requests, 4),
        "cpu_ms_per_request": round(sum(result.gc["cpu_ms"]) / result.requests, 4),
    }


async def _seed(url: str, viewers: int, creators: int, coins_each: int) -> Any:
    async with economy_on(url) as eco:
        return await seed(eco, viewers=viewers, creators=creators, coins_each=coins_each)


async def _check_ledger(
    url: str, accepted: list[tuple[str, str]], unknown: list[str]
) -> dict[str, Any]:
    """Every gift the clients were told was booked is booked once; nothing else was booked
    except, possibly, requests whose answer the client never got; no balance is negative."""
    async with economy_on(url) as eco, eco.db.read() as conn:
        rows = await conn.execute(select(gift_sends.c.id, gift_sends.c.transaction_id))
        booked = {to_global_id("GiftSend", int(i)): int(t) for i, t in rows}
        keys_per_gift = (await keys_per_kind(conn)).get("GIFT", 0)
        negative = len(await checked_accounts_below_zero(conn))
        spent = await conn.scalar(select(func.coalesce(func.sum(gift_sends.c.coins), 0)))
        coins_spent = (await read_balance(conn, eco.platform.coins_spent)).balance
    accepted_ids = [gift_id for _, gift_id in accepted]
    lost = len(set(accepted_ids) - booked.keys())
    doubled = (len(accepted_ids) - len(set(accepted_ids))) + max(
        0, len(booked) - len(accepted_ids) - len(unknown)
    )
    return {
        "accepted": len(accepted_ids),
        "booked": len(booked),
        "unacknowledged": len(booked) - len(set(accepted_ids) & booked.keys()),
        "transport_unknown": len(unknown),
        "lost": lost,
        "doubled": doubled,
        "gifts_without_one_key": len(booked) - int(keys_per_gift or 0),
        "negative_balances": int(negative or 0),
        "coins_spent_matches_gifts": int(spent or 0) == int(coins_spent or 0),
    }


def report(f: dict[str, Any]) -> None:
    say("")
    say(
        f"baseline (benchNoop, no-op):     {f['baseline_req_per_s']:>8,.0f} req/s   "
        f"p50 {f['baseline_p50_ms']:6.1f} ms   p99 {f['baseline_p99_ms']:6.1f} ms   "
        f"errors {f['baseline_errors']}"
    )
    say(
        f"hot creator (1 stream):          {f['hot_gifts_per_s']:>8,.0f} gifts/s "
        f"p50 {f['hot_p50_ms']:6.1f} ms   p99 {f['hot_p99_ms']:6.1f} ms   "
        f"errors {f['hot_errors']}"
    )
    say(
        f"spread (1,000 streams):          {f['spread_gifts_per_s']:>8,.0f} gifts/s "
        f"p50 {f['spread_p50_ms']:6.1f} ms   p99 {f['spread_p99_ms']:6.1f} ms   "
        f"errors {f['spread_errors']}"
    )
    say(f"hot / baseline = {f['hot_vs_baseline']}   hot / spread = {f['hot_vs_spread']}")
    say(
        f"ledger: {f['accepted']:,} accepted, {f['booked']:,} booked, lost {f['lost']}, "
        f"doubled {f['doubled']}, negative balances {f['negative_balances']}, "
        f"verify: {f['ledger_verify']}"
    )
    for name, cpu in f["cpu_ms_per_request"].items():
        if cpu is not None:
            say(
                f"CPU per request, {name + ':':9} servers {cpu['servers']:.2f} ms, "
                f"PostgreSQL {cpu['postgres']:.2f} ms, "
                f"load generator {cpu['load_generator']:.2f} ms"
            )
    for name, collections in f["gc"].items():
        if collections is not None:
            say(
                f"GC, {name + ':':9} collections per generation {collections['collections']}, "
                f"pauses {collections['pause_ms']} ms (CPU {collections['cpu_ms']}), longest "
                f"full {collections['full_max_ms']} ms; per request "
                f"{collections['pause_ms_per_request']:.3f} ms "
                f"(CPU {collections['cpu_ms_per_request']:.3f})"
            )
    if f.get("errors_by_kind"):
        say(f"errors: {f['errors_by_kind']}")
    say(f"load: {f['load_before']['uptime']} -> {f['load_after']['uptime']}")
    say(
        f"CPU probe (a fixed loop, ms): {f['load_before']['cpu_probe_ms']} before, "
        f"{f['load_after']['cpu_probe_ms']} after"
    )


if __name__ == "__main__":
    raise SystemExit(main())
