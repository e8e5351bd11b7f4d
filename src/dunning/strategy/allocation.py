"""Allocation (分案) maths: a lot's accounts to the awarded agencies by share and capacity, stratified, sticky.

Pure and vectorised (Polars); no I/O. The method, in order:

1. **Effective shares.** Each agency's share is capped by what its capacity can take (``capacity / N``); what a
   capped agency cannot take goes to the others in proportion to their shares (water-filling), so the shares
   still add up to 1 while any capacity is left. When the total capacity is below ``N`` the surplus stays
   unallocated (reported, never forced onto a full agency).
2. **Stickiness.** An account already with an agency that is still awarded stays with it for the period (up to
   that agency's capacity; beyond it, the newest-to-lose by the random key are released).
3. **Strata.** Accounts are grouped by DPD band × amount band × region (:func:`stratum_expr`). In each stratum,
   every agency's quota is ``n_s × share`` rounded by largest remainder (so within ±1 of exact); the +1s are
   rotated between agencies from stratum to stratum so no agency always gets the rounding up; a quota that would
   overrun an agency's capacity hands its +1 to an agency with room.
4. **Assignment.** In each stratum, the free accounts in a seeded random order fill the agencies' remaining
   quotas in turn: an as-of join of each account's position onto the quota intervals. One pass, no row loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

DPD_BANDS: tuple[int, ...] = (30, 60, 90, 180)  # upper bounds (inclusive) of the DPD bands; beyond: last band
AMOUNT_BANDS_FEN: tuple[int, ...] = (100_000, 500_000)  # < 1,000 yuan, < 5,000 yuan, 5,000 yuan and more


def _band(col: str, bounds: Sequence[int], *, inclusive: bool) -> pl.Expr:
    expr: pl.Expr = pl.lit(len(bounds), pl.Int32)
    for i, b in reversed(list(enumerate(bounds))):
        cond = pl.col(col) <= b if inclusive else pl.col(col) < b
        expr = pl.when(cond).then(pl.lit(i, pl.Int32)).otherwise(expr)
    return expr


def stratum_expr(*, region: bool = True) -> pl.Expr:
    """``"d<dpd band>|a<amount band>|<region>"``: the stratum an account belongs to."""
    parts = [pl.lit("d"), _band("dpd", DPD_BANDS, inclusive=True).cast(pl.Utf8), pl.lit("|a"),
             _band("amount_due_fen", AMOUNT_BANDS_FEN, inclusive=False).cast(pl.Utf8)]
    if region:
        parts += [pl.lit("|"), pl.col("region").fill_null("?")]
    return pl.concat_str(parts)


def effective_shares(agencies: pl.DataFrame, n_accounts: int) -> pl.DataFrame:
    """``agencies`` (agency_id, share, capacity) → the same with ``eff_share``: shares capped by capacity and
    re-spread over the agencies with room (water-filling; at most one round per agency)."""
    ids = agencies["agency_id"].to_list()
    want = dict(zip(ids, agencies["share"].cast(pl.Float64).to_list(), strict=True))
    cap = {a: (c / n_accounts if n_accounts else 0.0)
           for a, c in zip(ids, agencies["capacity"].to_list(), strict=True)}
    total = sum(want.values()) or 1.0
    want = {a: w / total for a, w in want.items()}
    eff: dict[object, float] = {}
    free = dict(want)
    left = 1.0
    for _ in range(len(ids) + 1):  # one agency per round at most becomes capped
        if not free:
            break
        wsum = sum(free.values()) or 1.0
        capped = [a for a, w in free.items() if left * w / wsum >= cap[a]]
        if not capped:
            for a, w in free.items():
                eff[a] = left * w / wsum
            break
        for a in capped:
            eff[a] = cap[a]
            left -= cap[a]
            free.pop(a)
    for a in ids:
        eff.setdefault(a, 0.0)
    return agencies.with_columns(pl.col("agency_id").replace_strict(eff, return_dtype=pl.Float64).alias("eff_share"))


def stratum_quotas(counts: pl.DataFrame, agencies: pl.DataFrame) -> pl.DataFrame:
    """Per stratum × agency quota: ``counts`` (stratum, n), ``agencies`` (agency_id, eff_share, capacity).

    Largest remainder within each stratum (every quota within ±1 of ``n × share``), with the rounding-up rotated
    between agencies; then +1s that would overrun an agency's capacity move to an agency with room in the same
    stratum. Returns (stratum, agency_id, quota)."""
    n_ag = agencies.height
    strata = counts.sort("stratum").with_row_index("_s")
    ag = agencies.select("agency_id", "eff_share", "capacity").with_row_index("_a")
    q = strata.join(ag, how="cross").with_columns((pl.col("n") * pl.col("eff_share")).alias("_exact"))
    q = q.with_columns(pl.col("_exact").floor().cast(pl.Int64).alias("_base"))
    q = q.with_columns(
        (pl.col("_exact") - pl.col("_base")
         + ((pl.col("_a").cast(pl.Int64) + pl.col("_s").cast(pl.Int64)) % max(n_ag, 1)) * 1e-9).alias("_rem"),
        pl.col("_exact").sum().over("_s").alias("_sx"),
    )
    # Seats left for rounding: the stratum's accounts the agencies' shares can take (all of them unless capacity
    # is short overall, when the shares sum to less than 1 — then counted cumulatively over the strata so the
    # fractions lost to rounding in one stratum are seated in the next, and the total is exact).
    sx = q.select("_s", "_sx").unique().sort("_s").with_columns(
        pl.col("_sx").cum_sum().round(6).floor().cast(pl.Int64).alias("_cum"))
    sx = sx.with_columns((pl.col("_cum") - pl.col("_cum").shift(1, fill_value=0)).alias("_take"))
    q = q.join(sx.select("_s", "_take"), on="_s").with_columns(
        (pl.col("_take") - pl.col("_base").sum().over("_s")).alias("_seats"))
    q = q.with_columns(pl.col("_rem").rank("ordinal", descending=True).over("_s").alias("_r"))
    q = q.with_columns((pl.col("_base") + (pl.col("_r") <= pl.col("_seats")).cast(pl.Int64)).alias("quota"))
    return _respect_capacity(q.select("stratum", "_s", "agency_id", "_exact", "quota", "capacity"))


def _respect_capacity(q: pl.DataFrame) -> pl.DataFrame:
    """Balance the rounding over the whole lot: each agency's total is brought to its own largest-remainder
    target of ``Σ n_s × share`` (never above capacity) by moving +1s from agencies over it to agencies under it,
    inside strata where the giver was rounded up — so every stratum stays within ±1. A loop over strata ×
    agencies only (a few hundred rows), never over accounts."""
    exact = q.group_by("agency_id").agg(pl.col("_exact").sum(), pl.col("quota").sum().alias("total"),
                                        pl.col("capacity").first()).sort("agency_id")
    seats = int(exact["total"].sum())
    base = {a: int(x) for a, x in zip(exact["agency_id"], exact["_exact"], strict=True)}
    rem = sorted(exact["agency_id"], key=lambda a: -(float(exact.filter(pl.col("agency_id") == a)["_exact"][0])
                                                      - base[a]))
    for a in rem[:max(0, seats - sum(base.values()))]:
        base[a] += 1
    cap = dict(zip(exact["agency_id"], exact["capacity"], strict=True))
    target = {a: min(base[a], int(cap[a])) for a in base}
    total = dict(zip(exact["agency_id"], exact["total"], strict=True))
    over = {a: int(total[a] - target[a]) for a in base if total[a] > target[a]}
    if not over:
        return q.select("stratum", "agency_id", "quota")
    rows = q.sort("_s", "agency_id").to_dicts()
    by_stratum: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_stratum.setdefault(int(r["_s"]), []).append(r)
    room = {a: int(target[a] - total[a]) for a in base}
    for a, excess in over.items():
        for group in by_stratum.values():
            if excess <= 0:
                break
            mine = next(r for r in group if r["agency_id"] == a)
            if int(mine["quota"]) <= int(float(mine["_exact"])):
                continue  # no rounding-up here to give back
            taker = max((r for r in group if r["agency_id"] != a and room.get(r["agency_id"], 0) > 0
                         and int(r["quota"]) <= int(float(r["_exact"]))),
                        key=lambda r: float(r["_exact"]) - int(r["quota"]), default=None)
            if taker is None and total[a] - (over[a] - excess) <= int(cap[a]):
                continue  # nobody here to take it, and the agency is within capacity: keep the seat
            mine["quota"] = int(mine["quota"]) - 1
            excess -= 1
            if taker is not None:
                taker["quota"] = int(taker["quota"]) + 1
                room[taker["agency_id"]] -= 1
    return pl.DataFrame(rows).select("stratum", "agency_id", pl.col("quota").cast(pl.Int64))


def allocate(accounts: pl.DataFrame, agencies: pl.DataFrame, *, previous: pl.DataFrame | None = None,
             seed: int = 0, region: bool = True) -> pl.DataFrame:
    """Allocate ``accounts`` (loan_id, dpd, amount_due_fen, region) to ``agencies`` (agency_id, share, capacity).

    ``previous`` (loan_id, agency_id) keeps accounts with the agency they had (stickiness). Returns
    (loan_id, stratum, agency_id, sticky) with ``agency_id`` null for accounts no capacity was left for."""
    n = accounts.height
    ag = effective_shares(agencies, n)
    ids_dtype = ag.schema["agency_id"]
    df = accounts.select("loan_id", stratum_expr(region=region).alias("stratum")).with_columns(
        pl.col("loan_id").hash(seed).alias("_key"))
    if previous is not None and previous.height:
        prev = previous.select("loan_id", pl.col("agency_id").cast(ids_dtype).alias("_prev"))
        prev = prev.filter(pl.col("_prev").is_in(ag["agency_id"].implode()))
        df = df.join(prev, on="loan_id", how="left")
        # Keep an agency's sticky accounts up to its capacity (by the seeded key).
        df = df.with_columns(pl.col("_key").rank("ordinal").over("_prev").alias("_pr")).join(
            ag.select(pl.col("agency_id").alias("_prev"), pl.col("capacity").alias("_pcap")), on="_prev", how="left")
        df = df.with_columns(pl.when(pl.col("_pr") <= pl.col("_pcap")).then(pl.col("_prev")).alias("_prev"))
    else:
        df = df.with_columns(pl.lit(None, ids_dtype).alias("_prev"))
    counts = df.group_by("stratum").len("n")
    quotas = stratum_quotas(counts, ag)
    sticky_counts = df.filter(pl.col("_prev").is_not_null()).group_by("stratum", "_prev").len("_held").rename(
        {"_prev": "agency_id"})
    remaining = quotas.join(sticky_counts, on=["stratum", "agency_id"], how="left").with_columns(
        (pl.col("quota") - pl.col("_held").fill_null(0)).clip(lower_bound=0).alias("_left"))
    # Capacity left after sticky accounts bounds the free quota overall.
    held_total = sticky_counts.group_by("agency_id").agg(pl.col("_held").sum().alias("_held_all"))
    remaining = remaining.join(ag.select("agency_id", "capacity"), on="agency_id", how="left", suffix="_c").join(
        held_total, on="agency_id", how="left").sort("stratum", "agency_id")
    remaining = remaining.with_columns(
        pl.col("_left").cum_sum().over("agency_id").alias("_cum"),
        (pl.col("capacity") - pl.col("_held_all").fill_null(0)).clip(lower_bound=0).alias("_room"),
    ).with_columns(
        (pl.min_horizontal(pl.col("_cum"), pl.col("_room"))
         - pl.min_horizontal(pl.col("_cum") - pl.col("_left"), pl.col("_room"))).alias("_left"))
    # Each free account's position in its stratum (seeded random order), laid end to end over the strata, is
    # looked up in the agencies' quota intervals laid out the same way: one binary search per account, and the
    # frame (with its loan ids) is never sorted.
    free = df.filter(pl.col("_prev").is_null())
    sizes = free.group_by("stratum").len("_n").sort("stratum").with_columns(
        (pl.col("_n").cum_sum() - pl.col("_n")).cast(pl.Int64).alias("_off"))
    intervals = remaining.filter(pl.col("_left") > 0).join(sizes.select("stratum", "_off"), on="stratum").sort(
        "stratum", "agency_id").with_columns(
        (pl.col("_off") + pl.col("_left").cum_sum().over("stratum")).alias("_hi")).with_columns(
        (pl.col("_hi") - pl.col("_left")).alias("_lo"))
    free = free.join(sizes.select("stratum", "_off"), on="stratum", how="left").with_columns(
        (pl.col("_off") + pl.col("_key").rank("ordinal").over("stratum").cast(pl.Int64) - 1).alias("_pos"))
    his = intervals["_hi"]
    idx = his.search_sorted(free["_pos"], side="right")
    n_iv = intervals.height
    safe = idx.clip(upper_bound=max(n_iv - 1, 0)).cast(pl.Int64)
    if n_iv:
        lo = intervals["_lo"].gather(safe)
        hit = (idx < n_iv) & (lo <= free["_pos"])
        agency = intervals["agency_id"].gather(safe)
        placed = free.with_columns(pl.when(hit).then(agency).otherwise(None).alias("agency_id"),
                                   pl.lit(False).alias("sticky"))
    else:
        placed = free.with_columns(pl.lit(None, ids_dtype).alias("agency_id"), pl.lit(False).alias("sticky"))
    kept = df.filter(pl.col("_prev").is_not_null()).select("loan_id", "stratum", pl.col("_prev").alias("agency_id"),
                                                           pl.lit(True).alias("sticky"))
    return pl.concat([kept, placed.select("loan_id", "stratum", "agency_id", "sticky")])


def allocate_python(rows: list[tuple[str, int, int, str]], agencies: list[tuple[int, float, int]], *,
                    seed: int = 0) -> dict[str, int | None]:
    """The same method, one row at a time in plain Python: the baseline ``bench/allocation.py`` compares with."""
    import hashlib

    n = len(rows)
    frame = effective_shares(pl.DataFrame({"agency_id": [a for a, _s, _c in agencies],
                                           "share": [s for _a, s, _c in agencies],
                                           "capacity": [c for _a, _s, c in agencies]}), n)
    eff = dict(zip(frame["agency_id"].to_list(), frame["eff_share"].to_list(), strict=True))
    cap = {a: c for a, _s, c in agencies}
    strata: dict[str, list[tuple[bytes, str]]] = {}
    for loan, dpd, amount, region in rows:
        d = next((i for i, b in enumerate(DPD_BANDS) if dpd <= b), len(DPD_BANDS))
        m = next((i for i, b in enumerate(AMOUNT_BANDS_FEN) if amount < b), len(AMOUNT_BANDS_FEN))
        key = hashlib.blake2b(f"{seed}|{loan}".encode(), digest_size=8).digest()
        strata.setdefault(f"d{d}|a{m}|{region or '?'}", []).append((key, loan))
    out: dict[str, int | None] = {}
    used = dict.fromkeys(cap, 0)
    ids = list(eff)
    cum_exact, cum_seated = 0.0, 0
    for si, name in enumerate(sorted(strata)):
        members = sorted(strata[name])
        exact = {a: len(members) * eff[a] for a in ids}
        quota = {a: int(exact[a]) for a in ids}
        cum_exact += sum(exact.values())
        take = int(round(cum_exact, 6)) - cum_seated
        cum_seated += take
        seats = take - sum(quota.values())
        order = sorted(ids, key=lambda a: -(exact[a] - quota[a] + ((ids.index(a) + si) % len(ids)) * 1e-9))
        for a in order[:seats]:
            quota[a] += 1
        it = iter(members)
        for a in ids:
            take = min(quota[a], cap[a] - used[a])
            for _ in range(take):
                _k, loan = next(it)
                out[loan] = a
            used[a] += take
        for _k, loan in it:
            out[loan] = None
    return out


def shares_from_scores(scores: pl.DataFrame, *, floor: float = 0.10, cap: float = 0.60) -> pl.DataFrame:
    """Next period's shares from the scorecard: proportional to score, each at least ``floor`` and at most
    ``cap`` (the agencies over the cap are fixed at it first, then those under the floor, the rest re-spread in
    proportion each round until none moves). ``scores`` has
    (agency_id, score); returns it with ``share`` summing to 1. With n agencies, floor ≤ 1/n ≤ cap is needed
    for both bounds to hold; outside that the bound that cannot hold is relaxed to 1/n."""
    n = scores.height
    if n == 0:
        return scores.with_columns(pl.lit(0.0).alias("share"))
    floor = min(floor, 1.0 / n)
    cap = max(cap, 1.0 / n)
    ids = scores["agency_id"].to_list()
    raw = {a: max(float(s or 0.0), 0.0) for a, s in zip(ids, scores["score"].to_list(), strict=True)}
    fixed: dict[object, float] = {}
    for _ in range(2 * n + 1):
        free = [a for a in ids if a not in fixed]
        left = 1.0 - sum(fixed.values())
        total = sum(raw[a] for a in free)
        prop = {a: (left * raw[a] / total if total > 0 else left / len(free)) for a in free} if free else {}
        low = [a for a in free if prop[a] < floor - 1e-12]
        high = [a for a in free if prop[a] > cap + 1e-12]
        if not low and not high:
            fixed.update(prop)
            break
        # Caps first, one side per round: fixing both at once could floor an agency that the capped one's
        # surplus would have lifted.
        for a in high or low:
            fixed[a] = cap if high else floor
    return scores.with_columns(pl.col("agency_id").replace_strict(fixed, return_dtype=pl.Float64).alias("share"))
