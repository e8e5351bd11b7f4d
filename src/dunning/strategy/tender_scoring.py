"""Tender scoring maths: normalise, weight, rank, break ties, explain, flag evaluator disagreement. Pure Polars.

The documented method (also in the tender report):

* **Quantitative criteria** are normalised to 0–100 by *ratio to the best* among the lot's bidders:
  higher-is-better ``100 × value / max``; lower-is-better ``100 × min / value`` (a value of 0 is the best
  possible and scores 100). A missing value scores 0.
* **Qualitative criteria** are scored 0–100 by each evaluator independently; the bidder's score is the mean of
  the evaluators who scored it (a conflicted evaluator never scores). If the evaluators' scores for one
  criterion differ by more than :data:`SPREAD_FLAG` points (max − min), the criterion is flagged for that bid.
* **Weighted total** = Σ weight × normalised score / Σ weights (0–100, two decimals).
* **Rank** within the lot by total, highest first; ties are broken by the lower commission rate, then the higher
  qualitative mean, then the earlier bid. Every bid gets an explanation naming each criterion's contribution
  and, when a tie was broken, why it ranks where it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SPREAD_FLAG = 20.0


@dataclass(frozen=True)
class Criterion:
    key: str
    weight: float
    kind: str  # "quantitative" | "qualitative"
    lower_is_better: bool = False
    label_zh: str = ""


DEFAULT_CRITERIA: tuple[Criterion, ...] = (
    Criterion("commission_rate", 25, "quantitative", True, "佣金费率（越低越好）"),
    Criterion("past_recovery_rate", 20, "quantitative", False, "历史回收率"),
    Criterion("complaint_rate", 15, "quantitative", True, "投诉率（每万户，越低越好）"),
    Criterion("compliance_findings", 10, "quantitative", True, "合规问题数（越少越好）"),
    Criterion("capacity", 10, "quantitative", False, "承接能力（户数）"),
    Criterion("security", 10, "qualitative", False, "系统与数据安全"),
    Criterion("team", 10, "qualitative", False, "团队与培训"),
)


def normalise(bids: pl.DataFrame, criteria: tuple[Criterion, ...]) -> pl.DataFrame:
    """``bids`` has lot_id, bid_id and one column per quantitative criterion → ``n_<key>`` columns (0–100)."""
    exprs = []
    for c in criteria:
        if c.kind != "quantitative":
            continue
        v = pl.col(c.key).cast(pl.Float64)
        if c.lower_is_better:
            best = v.min().over("lot_id")
            score = pl.when(v.is_null()).then(0.0).when(v <= 0).then(100.0).otherwise(100.0 * best.clip(0) / v)
        else:
            best = v.max().over("lot_id")
            score = pl.when(v.is_null() | (best <= 0)).then(0.0).otherwise(100.0 * v / best)
        exprs.append(score.alias(f"n_{c.key}"))
    return bids.with_columns(exprs)


def qualitative(scores: pl.DataFrame, criteria: tuple[Criterion, ...]) -> pl.DataFrame:
    """``scores`` (bid_id, evaluator, criterion, score) → one row per bid: ``n_<key>`` (mean), ``spread_<key>``,
    ``evaluators_<key>`` and ``flags`` (criteria whose evaluators differ by more than :data:`SPREAD_FLAG`)."""
    keys = [c.key for c in criteria if c.kind == "qualitative"]
    base = scores.filter(pl.col("criterion").is_in(keys)).group_by("bid_id", "criterion").agg(
        pl.col("score").mean().alias("mean"), (pl.col("score").max() - pl.col("score").min()).alias("spread"),
        pl.col("evaluator").n_unique().alias("k"))
    out = base.select("bid_id").unique()
    for k in keys:
        part = base.filter(pl.col("criterion") == k).select(
            "bid_id", pl.col("mean").alias(f"n_{k}"), pl.col("spread").alias(f"spread_{k}"),
            pl.col("k").alias(f"evaluators_{k}"))
        out = out.join(part, on="bid_id", how="left")
    flag_exprs = [pl.when(pl.col(f"spread_{k}") > SPREAD_FLAG).then(pl.lit(k)) for k in keys]
    return out.with_columns(pl.concat_list(flag_exprs).list.drop_nulls().alias("flags") if keys
                            else pl.lit([], pl.List(pl.Utf8)).alias("flags"))


def score_bids(bids: pl.DataFrame, scores: pl.DataFrame, criteria: tuple[Criterion, ...]) -> pl.DataFrame:
    """Totals, ranks and explanations. ``bids``: lot_id, bid_id, agency, submitted_at and the quantitative
    columns; ``scores``: bid_id, evaluator, criterion, score. Returns one row per bid, sorted by lot and rank."""
    weights = sum(c.weight for c in criteria) or 1.0
    df = normalise(bids, criteria)
    qual = qualitative(scores, criteria)
    df = df.join(qual, on="bid_id", how="left")
    qkeys = [c.key for c in criteria if c.kind == "qualitative"]
    df = df.with_columns([pl.col(f"n_{c.key}").fill_null(0.0) for c in criteria]).with_columns(
        pl.col("flags").fill_null(pl.lit([], pl.List(pl.Utf8))))
    total = pl.sum_horizontal([pl.col(f"n_{c.key}") * c.weight for c in criteria]) / weights
    qmean = pl.mean_horizontal([pl.col(f"n_{k}") for k in qkeys]) if qkeys else pl.lit(0.0)
    df = df.with_columns(total.round(2).alias("total"), qmean.alias("_qmean"))
    df = df.sort("lot_id", pl.col("total"), pl.col("commission_rate"), pl.col("_qmean"), pl.col("submitted_at"),
                 descending=[False, True, False, True, False], nulls_last=True)
    df = df.with_columns(pl.int_range(1, pl.len() + 1).over("lot_id").alias("rank"),
                         (pl.col("total").count().over("lot_id", "total") > 1).alias("tied"))
    parts = [pl.format(f"{c.label_zh or c.key} {{}}×{c.weight:g}%", pl.col(f"n_{c.key}").round(1))
             for c in criteria]
    why = pl.concat_str(parts, separator="；")
    tie = pl.when(pl.col("tied")).then(
        pl.lit("。总分相同，依次按佣金费率低者、定性均分高者、投标时间早者排序")).otherwise(pl.lit(""))
    return df.with_columns(pl.concat_str([why, pl.format("；加权总分 {}", pl.col("total")), tie]).alias("explain"))


def evaluator_matrix(scores: pl.DataFrame) -> pl.DataFrame:
    """Each evaluator's score per bid and criterion, side by side (for the report)."""
    if scores.is_empty():
        return scores
    return scores.pivot(on="evaluator", index=["bid_id", "criterion"], values="score").sort("bid_id", "criterion")
