"""The pilot sample: a stratified subset of a campaign's planned messages, sent before the rest is released.

Size is a share (rounded up per stratum) or an absolute count (allocated across strata in proportion, largest
remainder first); every stratum — a (segment, variant) pair — gets at least ``min_per_segment`` messages when
it has that many. Within a stratum the sample is the lowest ranks of a seeded hash of the message id, so the
same campaign always draws the same sample. Messages to internal test numbers (``is_test``) always belong to it.
"""

from __future__ import annotations

import math

import polars as pl

from dunning.strategy.model import Pilot

STRATUM = ("segment", "variant")


def pilot_quota(sizes: dict[tuple[str | None, str | None], int], pilot: Pilot) -> dict[tuple[str | None, str | None], int]:
    """How many messages of each stratum the pilot takes."""
    floor = pilot.min_per_segment
    share = pilot.effective_share
    if share is not None:
        return {k: min(n, max(math.ceil(n * share), floor)) for k, n in sizes.items()}
    total = sum(sizes.values())
    target = min(pilot.count or 0, total)
    if total == 0:
        return dict.fromkeys(sizes, 0)
    exact = {k: target * n / total for k, n in sizes.items()}
    quota = {k: math.floor(v) for k, v in exact.items()}
    left = target - sum(quota.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - quota[k]), str(k)))[:left]:
        quota[k] += 1
    return {k: min(sizes[k], max(q, floor)) for k, q in quota.items()}


def pilot_sample(planned: pl.DataFrame, pilot: Pilot, seed: int) -> pl.Series:
    """Ids of the pilot sample. ``planned`` has ``id``, ``segment``, ``variant`` and optionally ``is_test``."""
    is_test = pl.col("is_test") if "is_test" in planned.columns else pl.lit(False)
    tests = planned.filter(is_test)["id"]
    real = planned.filter(~is_test)
    if real.is_empty():
        return tests.rename("id")
    sizes = {(s, v): n for s, v, n in real.group_by(list(STRATUM)).len().iter_rows()}
    quota = pilot_quota(sizes, pilot)
    q = pl.DataFrame({"segment": [k[0] for k in quota], "variant": [k[1] for k in quota],
                      "_q": list(quota.values())}, schema={"segment": pl.Utf8, "variant": pl.Utf8, "_q": pl.Int64})
    picked = (
        real.join(q, on=list(STRATUM), how="left", nulls_equal=True)
        .with_columns(pl.col("id").hash(seed % 2**32).rank("ordinal").over(list(STRATUM)).alias("_r"))
        .filter(pl.col("_r") <= pl.col("_q"))["id"]
    )
    return pl.concat([picked, tests]).sort().rename("id")
