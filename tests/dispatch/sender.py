"""A sender process: dispatch one campaign through the SMPP peer, as ``dunning campaign send`` would.

Used by the crash test (killed with SIGKILL at a random point, then started again) and the rate test (two of
them share one channel limiter). ``python -m tests.dispatch.sender --db URL --campaign ID --smpp HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from dunning.dispatch.ratelimit import LimiterStore, RedisLimiterStore
from tests.dispatch.support import dispatcher, make_ctx, smpp_settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--campaign", type=int, required=True)
    ap.add_argument("--smpp", required=True)
    ap.add_argument("--rate", type=float, default=100_000.0)
    ap.add_argument("--redis", default=None)
    ap.add_argument("--redis-prefix", default="dunning:rate:")
    ap.add_argument("--inflight", type=int, default=2)
    ap.add_argument("--data-dir", default=".")
    args = ap.parse_args(argv)
    host, port = args.smpp.rsplit(":", 1)
    ctx = make_ctx(Path(args.data_dir), {"smpp": smpp_settings((host, int(port)), rate=args.rate)},
                   database_url=args.db)
    store: LimiterStore | None = None
    if args.redis:
        store = RedisLimiterStore.from_url(args.redis, args.redis_prefix)

    async def go() -> dict[str, object]:
        try:
            d = dispatcher(ctx, "smpp", store=store, max_inflight=args.inflight, receipt_wait=1.0,
                           reconcile_grace=0.2)
            out = await d.run(args.campaign)
            p = out.progress
            return {"stopped": out.stopped, "submitted": p.submitted, "failed": p.failed, "held": p.held,
                    "reconciled": out.reconciled, "detail": out.detail}
        finally:
            await ctx.close_channels()

    result = asyncio.run(go())
    ctx.db.dispose()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
