"""Serve a benchmark app in N processes on one port, as `diamonds serve --workers N` does (with
no access log): `python -m bench._serve --database-url URL --port P --workers N --app M:F`.
"""

from __future__ import annotations

import argparse

from bench._common import settings_for
from diamonds.workers import serve_workers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--app", default="bench._apps:bench_app")
    args = parser.parse_args()
    import os

    settings = settings_for(
        args.database_url,
        **{
            k: v
            for k, v in os.environ.items()
            if k.startswith("DIAMONDS_") and k != "DIAMONDS_DATABASE_URL"
        },
    )
    return serve_workers(
        settings,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        payout_worker=False,
        announce=lambda: None,
        app_factory=args.app,
        access_log=False,
    )


if __name__ == "__main__":
    raise SystemExit(main())
