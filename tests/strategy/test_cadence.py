"""Segments, cadence, payday alignment and the champion/challenger split, on plain frames."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl
import pytest

from dunning.domain.buckets import bucket_expr
from dunning.strategy import StrategySpec, assign_steps, load_bundled_strategy, parse_strategy


def frame(n: int, **cols: Sequence[object]) -> pl.DataFrame:
    base: dict[str, Sequence[object]] = {
        "loan_id": [f"L{i}" for i in range(n)], "dpd": [1] * n, "overdue_count": [2] * n,
        "amount_due_fen": [100000] * n, "product": ["p"] * n, "region": ["r"] * n, "payday": [None] * n,
    }
    base.update(cols)
    return pl.DataFrame(base, schema_overrides={"payday": pl.Int8}).with_columns(bucket_expr("dpd").alias("bucket"))


def all_accounts(*steps: str) -> StrategySpec:
    """A strategy of one segment ``all`` (every account) with these steps (YAML flow mappings)."""
    spec, _ = parse_strategy("name: t\nsegments:\n  - name: all\n    steps:\n" + "".join(f"      - {s}\n" for s in steps))
    return spec


def test_first_match_wins_and_unmatched_are_kept() -> None:
    spec, _ = parse_strategy("""
name: t
segments:
  - {name: big, when: {amount_min: 5000}, steps: [{dpd: [1], template: M1}]}
  - {name: m1, when: {bucket: [M1]}, steps: [{dpd: [1], template: M1}]}
""")
    df = frame(3, amount_due_fen=[600000, 1000, 1000], dpd=[1, 1, 40])
    out = assign_steps(df, spec, 1)
    assert out["segment"].to_list() == ["big", "m1", None]
    assert out.height == 3


def test_segment_conditions_over_every_account_field() -> None:
    spec, _ = parse_strategy("""
name: t
segments:
  - {name: first, when: {first_time_overdue: true}, steps: [{dpd: [1], template: M1}]}
  - {name: dpd_range, when: {dpd_min: 3, dpd_max: 5}, steps: [{dpd: [4], template: M1}]}
  - {name: small, when: {amount_max: 100}, steps: [{dpd: [1], template: M1}]}
  - {name: product, when: {product: [装修分期]}, steps: [{dpd: [1], template: M1}]}
  - {name: region, when: {region: [新疆, 西藏]}, steps: [{dpd: [1], template: M1}]}
""")
    df = frame(7, overdue_count=[0, 2, 2, 2, 2, 2, 0], dpd=[1, 4, 1, 1, 1, 6, -2],
               amount_due_fen=[100000, 100000, 9000, 100000, 100000, 100000, 100000],
               product=["p", "p", "p", "装修分期", "p", "p", "p"], region=["r", "r", "r", "r", "新疆", "r", "r"])
    out = assign_steps(df, spec, 1)
    # The last two: DPD 6 matches nothing; never overdue but not yet due is not "first-time overdue".
    assert out["segment"].to_list() == ["first", "dpd_range", "small", "product", "region", None, None]


def test_pre_due_dpd_and_every_steps_fire_on_their_days() -> None:
    spec = all_accounts("{name: pre, pre_due_days: [3, 0], template: pre_due_3}",
                        "{name: early, dpd: [1, 7], template: M1}",
                        "{name: late, every: 5, dpd_from: 31, dpd_to: 45, template: M2}")
    dpds = [-4, -3, -1, 0, 1, 2, 7, 30, 31, 36, 41, 46]
    out = assign_steps(frame(len(dpds), dpd=dpds), spec, 1)
    assert out["step"].to_list() == [None, "pre", None, "pre", "early", None, "early", None, "late", "late",
                                     "late", None]


def test_split_is_deterministic_stratified_and_holds_out() -> None:
    spec, _, _ = load_bundled_strategy()
    a = assign_steps(frame(2000), spec, seed=11)
    shuffled = frame(2000).sample(fraction=1.0, shuffle=True, seed=3)
    b = assign_steps(shuffled, spec, seed=11)
    # Same input → same split, whatever the row order.
    assert a.equals(assign_steps(frame(2000), spec, seed=11))
    assert dict(zip(a["loan_id"], a["variant"], strict=True)) == dict(zip(b["loan_id"], b["variant"], strict=True))
    assert dict(a.group_by("variant").len().iter_rows()) == {"holdout": 100, "champion": 950, "challenger": 950}
    assert a.filter(pl.col("holdout"))["template"].null_count() == 100
    c = assign_steps(frame(2000), spec, seed=12)
    assert not a["variant"].equals(c["variant"])


def test_split_is_exactly_proportional_within_each_segment_and_step() -> None:
    spec, _ = parse_strategy("""
name: t
segments:
  - name: hi
    when: {amount_min: 1000}
    steps:
      - {name: s1, dpd: [1], holdout: 0.1, variants: [{name: a, template: M1, weight: 3}, {name: b, template: M1_b, weight: 1}]}
  - name: lo
    steps:
      - {name: s2, dpd: [1], holdout: 0.1, variants: [{name: a, template: M1, weight: 3}, {name: b, template: M1_b, weight: 1}]}
""")
    df = frame(1400, amount_due_fen=[200000] * 1000 + [100] * 400)
    out = assign_steps(df, spec, seed=5)
    got = {(s, v): n for s, v, n in out.group_by("segment", "variant").len().iter_rows()}
    assert got == {("hi", "holdout"): 100, ("hi", "a"): 675, ("hi", "b"): 225,
                   ("lo", "holdout"): 40, ("lo", "a"): 270, ("lo", "b"): 90}


# ------------------------------------------------------------------------------------------------ payday

def fires(as_of: date, nominal: date, payday: int | None, offset: int) -> bool:
    """Whether a step due at DPD 5 on ``nominal`` fires on ``as_of`` for an account with ``payday``."""
    spec = all_accounts(f"{{name: pay, dpd: [5], template: M1, payday_offset: {offset}}}")
    due = nominal - timedelta(days=5)
    df = frame(1, dpd=[(as_of - due).days], payday=[payday])
    return assign_steps(df, spec, 1, as_of=as_of)["step"][0] == "pay"


@pytest.mark.parametrize(("nominal", "payday", "offset", "moved_to"), [
    # Payday on the 1st of March, 3 days before: 26 February (not a leap year) — across the month end.
    (date(2026, 2, 25), 1, 3, date(2026, 2, 26)),
    # Payday 31 in a 28-day month is 28 February; 2 days before.
    (date(2026, 2, 20), 31, 2, date(2026, 2, 26)),
    # Payday 30, on the day itself (offset 0), in February: the 28th.
    (date(2026, 2, 21), 30, 0, date(2026, 2, 28)),
    # Across the year end: payday 1 January 2027, 2 days before.
    (date(2026, 12, 29), 1, 2, date(2026, 12, 30)),
    # Already N days before payday: stays.
    (date(2026, 3, 13), 15, 2, date(2026, 3, 13)),
    # The next payday is too far (more than payday_max_shift_days = 10): the step keeps its own day.
    (date(2026, 2, 14), 15, 2, date(2026, 2, 14)),
    # No payday known: its own day.
    (date(2026, 2, 25), None, 3, date(2026, 2, 25)),
])
def test_payday_alignment(nominal: date, payday: int | None, offset: int, moved_to: date) -> None:
    assert fires(moved_to, nominal, payday, offset)
    for other in (moved_to - timedelta(days=1), moved_to + timedelta(days=1), nominal):
        if other != moved_to:
            assert not fires(other, nominal, payday, offset), other


def test_several_cadence_days_moved_to_one_payday_make_one_message() -> None:
    spec = all_accounts("{name: pay, dpd: [3, 5, 7], template: M1, payday_offset: 1}")
    as_of = date(2026, 3, 9)  # payday 10 → 9 March; DPD 3, 5 and 7 fell on 2, 4 and 6 March
    df = frame(2, dpd=[10, 10], payday=[10, None])
    out = assign_steps(df, spec, 1, as_of=as_of)
    assert out["step"].to_list() == ["pay", None]


# ------------------------------------------------------------------------------------------------ holidays


def test_deferred_rest_days_fire_on_the_next_working_day() -> None:
    spec = all_accounts("{name: s, dpd: [3], template: M1}")
    as_of = date(2026, 10, 8)  # the first working day after National Day (1–7 October 2026)
    fire = [as_of - timedelta(days=k) for k in range(8)]
    df = frame(4, dpd=[3, 5, 10, 11])  # DPD 3 on 8, 6, 1 October and 30 September
    out = assign_steps(df, spec, 1, as_of=as_of, fire_days=fire)
    assert out["step"].to_list() == ["s", "s", "s", None]
