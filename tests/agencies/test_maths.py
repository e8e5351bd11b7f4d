"""The pure maths of agencies: tender scoring against a hand calculation, allocation shares, capacity and
stickiness, next-period shares with floors and caps."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from dunning.strategy.allocation import allocate, shares_from_scores
from dunning.strategy.tender_scoring import Criterion, score_bids

CRIT = (
    Criterion("commission_rate", 40, "quantitative", True),
    Criterion("past_recovery_rate", 30, "quantitative", False),
    Criterion("security", 30, "qualitative"),
)


def _bids(rows: list[tuple[int, int, str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"lot_id": [r[0] for r in rows], "bid_id": [r[1] for r in rows], "agency": [r[2] for r in rows],
         "commission_rate": [r[3] for r in rows], "past_recovery_rate": [r[4] for r in rows],
         "submitted_at": [datetime(2026, 12, 1, 9, i, tzinfo=UTC) for i in range(len(rows))]})


def test_worked_example_matches_the_hand_calculation() -> None:
    # Hand calculation (ratio to the best; weights 40/30/30):
    #   A: commission 100×0.10/0.10 = 100;    recovery 100×0.30/0.36 = 83.333; security (80+90)/2 = 85
    #      total = (100×40 + 83.333×30 + 85×30)/100 = 90.50                                     → rank 1
    #   B: commission 100×0.10/0.12 = 83.333; recovery 100;                    security 70
    #      total = (83.333×40 + 100×30 + 70×30)/100 = 84.33                                      → rank 2
    #   C: commission 100×0.10/0.15 = 66.667; recovery 100×0.24/0.36 = 66.667; security (90+60)/2 = 75
    #      total = (66.667×40 + 66.667×30 + 75×30)/100 = 69.17; evaluators differ by 30 > 20: flagged → rank 3
    bids = _bids([(1, 11, "A", 0.10, 0.30), (1, 12, "B", 0.12, 0.36), (1, 13, "C", 0.15, 0.24)])
    scores = pl.DataFrame({"bid_id": [11, 11, 12, 12, 13, 13], "evaluator": ["e1", "e2"] * 3,
                           "criterion": ["security"] * 6, "score": [80.0, 90.0, 70.0, 70.0, 90.0, 60.0]})
    out = score_bids(bids, scores, CRIT)
    got = {r["agency"]: (r["total"], r["rank"], r["flags"]) for r in out.to_dicts()}
    assert got == {"A": (90.50, 1, []), "B": (84.33, 2, []), "C": (69.17, 3, ["security"])}
    assert "加权总分 90.5" in out.filter(pl.col("agency") == "A")["explain"][0]


def test_a_tie_is_broken_by_the_lower_commission_and_explained() -> None:
    crit = (Criterion("commission_rate", 50, "quantitative", True), Criterion("past_recovery_rate", 50, "quantitative"))
    # X: (100 + 50)/2 = 75; Y: (50 + 100)/2 = 75 — tied; X charges less, so X ranks first though Y bid first.
    bids = _bids([(2, 22, "Y", 0.20, 0.40), (2, 21, "X", 0.10, 0.20)])
    out = score_bids(bids, pl.DataFrame(schema={"bid_id": pl.Int64, "evaluator": pl.Utf8, "criterion": pl.Utf8,
                                                "score": pl.Float64}), crit)
    assert out["agency"].to_list() == ["X", "Y"] and out["total"].to_list() == [75.0, 75.0]
    assert all("总分相同" in e for e in out["explain"].to_list())


def _portfolio(n: int, seed: int = 7) -> pl.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    return pl.DataFrame({"loan_id": [f"L{i:07d}" for i in range(n)], "dpd": rng.integers(31, 400, n),
                         "amount_due_fen": rng.integers(10_000, 2_000_000, n),
                         "region": rng.choice(["广东", "浙江", "四川"], n)})


def test_allocation_respects_shares_within_one_account_per_stratum() -> None:
    accounts = _portfolio(5_000)
    agencies = pl.DataFrame({"agency_id": [1, 2, 3], "share": [0.5, 0.3, 0.2], "capacity": [10_000] * 3})
    out = allocate(accounts, agencies, seed=3)
    assert out.height == accounts.height and out["agency_id"].null_count() == 0
    assert out["loan_id"].n_unique() == accounts.height
    per = out.group_by("stratum", "agency_id").len().join(out.group_by("stratum").len("n"), on="stratum")
    per = per.join(agencies, on="agency_id").with_columns((pl.col("len") - pl.col("n") * pl.col("share")).abs()
                                                          .alias("off"))
    assert per["stratum"].n_unique() > 10
    assert per["off"].max() < 1.0  # every stratum: within ±1 account of its exact share


def test_allocation_never_exceeds_capacity_and_leaves_the_surplus_unallocated() -> None:
    accounts = _portfolio(3_000)
    agencies = pl.DataFrame({"agency_id": [1, 2], "share": [0.7, 0.3], "capacity": [1_000, 1_500]})
    out = allocate(accounts, agencies, seed=1)
    counts = dict(out.group_by("agency_id").len().iter_rows())
    assert counts[1] <= 1_000 and counts[2] <= 1_500
    assert counts[1] + counts[2] == 2_500 and counts[None] == 500


def test_capacity_moves_the_capped_agencys_share_to_the_others() -> None:
    accounts = _portfolio(2_000)
    agencies = pl.DataFrame({"agency_id": [1, 2, 3], "share": [0.6, 0.2, 0.2], "capacity": [500, 5_000, 5_000]})
    counts = dict(allocate(accounts, agencies, seed=1).group_by("agency_id").len().iter_rows())
    assert counts[1] == 500 and abs(counts[2] - 750) <= 20 and abs(counts[3] - 750) <= 20 and None not in counts


def test_allocated_accounts_stay_with_their_agency_next_period() -> None:
    accounts = _portfolio(2_000)
    agencies = pl.DataFrame({"agency_id": [1, 2], "share": [0.5, 0.5], "capacity": [5_000, 5_000]})
    first = allocate(accounts.head(1_500), agencies, seed=1)
    # Next period: the same 1,500 plus 500 new accounts, and the shares change.
    agencies2 = pl.DataFrame({"agency_id": [1, 2], "share": [0.2, 0.8], "capacity": [5_000, 5_000]})
    second = allocate(accounts, agencies2, previous=first.select("loan_id", "agency_id"), seed=99)
    both = first.join(second, on="loan_id", suffix="_next")
    assert both.height == 1_500 and (both["agency_id"] == both["agency_id_next"]).all()
    assert both["sticky_next"].all() and not second.filter(~pl.col("loan_id").is_in(first["loan_id"].implode()))[
        "sticky"].any()


@pytest.mark.parametrize(("scores", "want"), [
    ([80.0, 20.0], [0.6, 0.4]),          # proportional 0.8/0.2 → capped at 0.6, the rest to the other
    ([90.0, 9.0, 1.0], [0.6, 0.3, 0.1]),  # 0.9 capped at 0.6; 0.09/0.01 re-spread 0.36/0.04 → floor 0.1, 0.3 left
    ([50.0, 30.0, 20.0], [0.5, 0.3, 0.2]),  # inside the bounds: plain proportion
])
def test_next_period_shares_are_proportional_to_score_with_floor_and_cap(scores: list[float],
                                                                          want: list[float]) -> None:
    frame = pl.DataFrame({"agency_id": list(range(len(scores))), "score": scores})
    got = shares_from_scores(frame, floor=0.10, cap=0.60)["share"].to_list()
    assert got == pytest.approx(want) and sum(got) == pytest.approx(1.0)
