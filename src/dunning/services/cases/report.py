"""The outcomes of hardship help: do borrowers who were helped (an instalment plan or a payment holiday agreed)
repay more often, within a window after their request, than those who were not (declined, or still open)?

One vectorised pass: hardship cases × their loans × payments (Polars joins), no loop over cases. A comparison of
two self-selected groups, not a controlled experiment: it says what happened, not what the help caused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import polars as pl

from dunning.db.bulk import read_frame
from dunning.db.frames import UTC_US, utc_times
from dunning.domain.cases import CaseType
from dunning.services.context import AppContext

HELPED = ("instalment_plan", "payment_holiday")


@dataclass
class HardshipGroup:
    group: str  # helped | not_helped
    cases: int
    repaid: int
    repaid_rate: float | None
    repaid_fen: int


@dataclass
class HardshipOutcomes:
    window_days: int
    groups: list[HardshipGroup]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hardship_outcomes(ctx: AppContext, *, window_days: int = 30) -> HardshipOutcomes:
    with ctx.db.transaction() as s:
        cases = read_frame(s, f"SELECT id, loan_ids, opened_at, outcome FROM cases WHERE type = "  # nosec B608  # a constant of code, values bound
                              f"'{CaseType.HARDSHIP.value}'")
        pays = read_frame(s, "SELECT loan_id, amount_fen, paid_at FROM payments")
    groups: list[HardshipGroup] = []
    if cases.is_empty():
        return HardshipOutcomes(window_days, [HardshipGroup(g, 0, 0, None, 0) for g in ("helped", "not_helped")])
    cases = cases.with_columns(
        pl.col("loan_ids").map_elements(lambda v: v if isinstance(v, list) else json.loads(v or "[]"),
                                        return_dtype=pl.List(pl.Utf8)).alias("loan_id"),
        utc_times("opened_at"),
        pl.when(pl.col("outcome").is_in(HELPED)).then(pl.lit("helped")).otherwise(pl.lit("not_helped")).alias("group"),
    ).explode("loan_id")
    if pays.is_empty():
        pays = pl.DataFrame(schema={"loan_id": pl.Utf8, "amount_fen": pl.Int64, "paid_at": UTC_US})
    else:
        pays = pays.with_columns(utc_times("paid_at"))
    window = timedelta(days=window_days)
    hits = (cases.join(pays, on="loan_id", how="inner")
            .filter((pl.col("paid_at") >= pl.col("opened_at")) & (pl.col("paid_at") < pl.col("opened_at") + window))
            .group_by("id").agg(pl.col("amount_fen").sum().alias("repaid_fen")))
    per_case = cases.unique("id").select("id", "group").join(hits, on="id", how="left")
    summary = per_case.group_by("group").agg(pl.len().alias("cases"), pl.col("repaid_fen").is_not_null().sum()
                                             .alias("repaid"), pl.col("repaid_fen").fill_null(0).sum().alias("fen"))
    found = {g: (int(n), int(r), int(f)) for g, n, r, f in summary.select("group", "cases", "repaid", "fen").iter_rows()}
    for g in ("helped", "not_helped"):
        n, r, f = found.get(g, (0, 0, 0))
        groups.append(HardshipGroup(g, n, r, r / n if n else None, f))
    return HardshipOutcomes(window_days, groups)
