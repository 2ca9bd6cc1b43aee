"""`python -m sim --seed N --steps K --database sqlite|postgresql://...`: run seeds of the money
simulation, each on a fresh database; exits 1 on the first seed that breaks an invariant.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter

from sim.databases import fresh_database
from sim.run import simulate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed")
    parser.add_argument("--steps", type=int, default=200, help="steps per seed (default 200)")
    parser.add_argument("--database", default="sqlite", help="sqlite or a postgresql:// URL")
    parser.add_argument(
        "--kills", type=int, default=1, help="crashes per seed that kill a worker process (1)"
    )
    parser.add_argument("--trace", action="store_true", help="print every step of each seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("sqlalchemy").setLevel(logging.CRITICAL + 1)
    started = time.monotonic()
    clean = 0
    seen: Counter[str] = Counter()
    for seed in range(args.seed, args.seed + args.seeds):
        with fresh_database(args.database) as url:
            outcome = asyncio.run(simulate(url, seed, args.steps, kills=args.kills))
        if args.trace:
            print("\n".join(outcome.trace))
        print(outcome.report(), flush=True)
        if not outcome.ok:
            return 1
        clean += 1
        seen.update(outcome.highlights())
    elapsed = time.monotonic() - started
    print(f"{clean} seed(s) x {args.steps} steps clean in {elapsed:.1f} s")
    print("reached: " + ", ".join(f"{name} {count}" for name, count in seen.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
