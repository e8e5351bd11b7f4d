"""Allocation benchmark (issue #22): 1,000,000 accounts to 8 agencies across 20 strata.

    .venv/bin/python bench/allocation.py [--accounts 1000000] [--agencies 8] [--seed N] [--no-baseline]

Builds a synthetic lot (not timed): DPD over five bands, amounts in two bands, two regions = 20 strata; eight
agencies with uneven shares and one whose capacity binds. Times :func:`dunning.strategy.allocation.allocate`
(vectorised, Polars) and the per-row Python version of the same method (:func:`allocate_python`) on the same
accounts, and prints both with the largest deviation from the exact share in any stratum (≤ 1 account) and
whether any agency went over its capacity. Target: the vectorised run in ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from dunning.strategy.allocation import allocate, allocate_python, effective_shares  # noqa: E402


def lot(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dpd = rng.choice([20, 45, 75, 120, 240], n) + rng.integers(0, 10, n)
    return pl.DataFrame({"loan_id": pl.Series([f"L{i:08d}" for i in range(n)]), "dpd": dpd,
                         "amount_due_fen": rng.integers(10_000, 499_999, n),
                         "region": rng.choice(["广东", "浙江"], n)})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--agencies", type=int, default=8)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    n, k = args.accounts, args.agencies
    accounts = lot(n, args.seed)
    weights = np.arange(1, k + 1, dtype=float)
    shares = (weights / weights.sum()).tolist()
    capacity = [n] * k
    capacity[-1] = int(n * shares[-1] * 0.8)  # the largest agency's capacity binds
    agencies = pl.DataFrame({"agency_id": list(range(1, k + 1)), "share": shares, "capacity": capacity})
    print(f"accounts {n:,}  agencies {k}  cpu {os.cpu_count()}  load {os.getloadavg()[0]:.2f}")

    t0 = time.perf_counter()
    out = allocate(accounts, agencies, seed=args.seed)
    vec = time.perf_counter() - t0
    eff = effective_shares(agencies, n).select("agency_id", "eff_share", "capacity")
    per = out.group_by("stratum", "agency_id").len().join(out.group_by("stratum").len("n"), on="stratum").join(
        eff, on="agency_id")
    dev = per.select((pl.col("len") - pl.col("n") * pl.col("eff_share")).abs().max()).item()
    totals = out.group_by("agency_id").len().join(eff, on="agency_id")
    over = totals.filter(pl.col("len") > pl.col("capacity")).height
    strata = out["stratum"].n_unique()
    print(f"vectorised (Polars): {vec:6.2f} s   {n / vec:,.0f} accounts/s   strata {strata}   "
          f"max deviation from share per stratum {dev:.3f} accounts   agencies over capacity {over}   "
          f"{'OK ≤ 5 s' if vec <= 5 else 'OVER 5 s'}")
    if not args.no_baseline:
        rows = list(zip(accounts["loan_id"].to_list(), accounts["dpd"].to_list(),
                        accounts["amount_due_fen"].to_list(), accounts["region"].to_list(), strict=True))
        ag = list(zip(agencies["agency_id"].to_list(), shares, capacity, strict=True))
        t0 = time.perf_counter()
        base = allocate_python(rows, ag, seed=args.seed)
        py = time.perf_counter() - t0
        print(f"per-row Python:      {py:6.2f} s   {n / py:,.0f} accounts/s   allocated "
              f"{sum(v is not None for v in base.values()):,}   ({py / vec:.1f}× the vectorised time)")
    return 0 if vec <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
