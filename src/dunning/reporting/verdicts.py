"""Champion/challenger verdicts per stratum (segment × step) and their prose in Chinese and English.

A verdict is "winner" only when the best arm's interval against every other arm of its stratum excludes 0
(Bonferroni-adjusted when more than two arms compete); otherwise "no_difference" (all intervals within ± the
minimum effect of interest) or "no_winner_yet" with the accounts per arm a test would need. See ADR 0007."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from dunning.reporting import formatting as fmt
from dunning.reporting.settings import HOLDOUT, STRATUM, OutcomeSettings
from dunning.reporting.stats import newcombe_diff, pooled_z, sample_size_per_arm, two_sided_p
from dunning.reporting.uplift import count_rows, uplift

# The prose of each kind of verdict, (Chinese, English), filled from :meth:`Verdict._fields`.
_VS = ("{best_rate}（n={best_n}）对 {runner_up} {runner_up_rate}（n={runner_up_n}），差值 {diff}，"
       "{conf} 置信区间 [{low}, {high}]")
_VS_EN = ("{best_rate} (n={best_n}) vs {runner_up} {runner_up_rate} (n={runner_up_n}), difference {diff}, "
          "{conf} CI [{low}, {high}]")
_TEXT: dict[str, tuple[str, str]] = {
    "winner": (
        "{where}：{best} 胜出。还款率 " + _VS + "，p={p}。",
        "{where}: {best} wins. Repayment " + _VS_EN + ", p={p}.",
    ),
    "no_difference": (
        "{where}：暂无胜者，各变体表现相当。{best} " + _VS + " 落在 ±{target_abs} 之内："
        "再增加样本也难以分出有意义的胜负。",
        "{where}: no winner; the variants perform alike. {best} " + _VS_EN + " lies within ±{target_abs}: more "
        "accounts are unlikely to find a difference worth having.",
    ),
    "single_arm": (
        "{where}：只有一个变体 {best}（还款率 {best_rate}，n={best_n}），无冠军/挑战者之分。",
        "{where}: one variant only, {best} (repayment {best_rate}, n={best_n}); no champion/challenger.",
    ),
    "no_winner_yet": (
        "{where}：暂无胜者。{best} " + _VS + " 包含 0。"
        "要以 {power} 把握检出 {target} 的差异，每组约需 {needed} 个账户。",
        "{where}: no winner yet. {best} " + _VS_EN + " includes 0. Detecting a {target} difference with {power} "
        "power needs about {needed} accounts per arm.",
    ),
}
_NO_HOLDOUT = ("（本分群没有对照组，无法衡量提升。）", " (No hold-out in this stratum: uplift cannot be measured.)")
_HOLDOUT = (" 相对对照组（{h_rate}，n={h_n}）提升 {h_up}，区间 [{h_low}, {h_high}]",
            " Uplift over hold-out ({h_rate}, n={h_n}): {h_up}, CI [{h_low}, {h_high}]")
_HOLDOUT_END = {True: ("。", "."), False: ("，尚不显著。", ", not significant yet.")}


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The champion/challenger verdict of one stratum (segment × step).

    ``kind``: "winner" (the best arm beats every other arm of the stratum: intervals exclude 0); "no_difference"
    (no winner, and every interval lies within ± the minimum effect of interest: the arms perform alike);
    "no_winner_yet" (the evidence does not decide either way); or "single_arm" (only one variant: the question
    is its uplift over the hold-out alone). ``best``/``runner_up``
    with their rates and sizes; ``diff``/``ci_low``/``ci_high``/``p_value`` compare them (Newcombe, at the
    Bonferroni-adjusted confidence when more than two arms compete); ``needed_per_arm``: accounts per arm to
    detect ``target_effect`` (set when there is no winner yet); ``vs_holdout``: uplift of the best arm over the
    hold-out with its interval, when the stratum has one."""

    segment: str
    step: str
    kind: str
    best: str
    best_rate: float
    best_n: int
    # the runner-up, and the comparison of the best arm with it at ``confidence``
    runner_up: str | None = None
    runner_up_rate: float | None = None
    runner_up_n: int | None = None
    confidence: float = 0.95
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    # the sample size advice when there is no winner yet
    power: float = 0.8
    needed_per_arm: int | None = None
    target_effect: float | None = None
    # the best arm against the hold-out of its stratum
    holdout_n: int | None = None
    holdout_rate: float | None = None
    vs_holdout: float | None = None
    vs_holdout_low: float | None = None
    vs_holdout_high: float | None = None
    method: str = "两比例 z 检验 + Newcombe 区间 two-proportion z-test, Newcombe hybrid score interval"

    @property
    def text_zh(self) -> str:
        return self._text(0)

    @property
    def text_en(self) -> str:
        return self._text(1)

    def _text(self, lang: int) -> str:
        """The verdict in Chinese (``lang`` 0) or English (1)."""
        f = self._fields()
        out = _TEXT[self.kind if self.kind in _TEXT else "no_winner_yet"][lang].format(**f)
        if self.vs_holdout is None:
            return out + _NO_HOLDOUT[lang]
        sig = (self.vs_holdout_low or 0) > 0 or (self.vs_holdout_high or 0) < 0
        return out + _HOLDOUT[lang].format(**f) + _HOLDOUT_END[sig][lang]

    def _fields(self) -> dict[str, str]:
        return {
            "where": f"{self.segment}/{self.step}", "best": self.best, "best_rate": f"{self.best_rate:.1%}",
            "best_n": f"{self.best_n:,}", "runner_up": str(self.runner_up),
            "runner_up_rate": fmt.pct(self.runner_up_rate), "runner_up_n": fmt.count(self.runner_up_n),
            "diff": fmt.signed_pp(self.diff), "conf": f"{self.confidence:.0%}", "low": fmt.signed_pp(self.ci_low),
            "high": fmt.signed_pp(self.ci_high), "p": fmt.p_value(self.p_value), "power": f"{self.power:.0%}",
            "target": fmt.signed_pp(self.target_effect), "target_abs": fmt.signed_pp(self.target_effect)[1:],
            "needed": fmt.count(self.needed_per_arm), "h_rate": fmt.pct(self.holdout_rate),
            "h_n": fmt.count(self.holdout_n), "h_up": fmt.signed_pp(self.vs_holdout),
            "h_low": fmt.signed_pp(self.vs_holdout_low), "h_high": fmt.signed_pp(self.vs_holdout_high),
        }




def verdicts(units: pl.DataFrame, settings: OutcomeSettings, by_arm_uplift: pl.DataFrame | None = None
             ) -> list[Verdict]:
    """One :class:`Verdict` per stratum that has at least one variant, in segment/step order.
    ``by_arm_uplift``: ``uplift(units, ["segment", "step", "arm"], settings)`` when the caller has it.
    ``units`` may be their :func:`outcome_cube`."""
    assigned = units.filter(pl.col("assigned"))
    arms = (
        assigned.filter(pl.col("arm") != HOLDOUT).group_by(*STRATUM, "arm")
        .agg(count_rows(units).alias("n"), pl.col("repaid").sum().alias("x"))
        .sort(*STRATUM, "arm")
        .with_columns((pl.col("x") / pl.col("n")).alias("p"),
                      pl.len().over(STRATUM).alias("k"))
        .with_columns(pl.col("p").rank("ordinal", descending=True).over(STRATUM).alias("rank"))
    )
    if arms.is_empty():
        return []
    best = arms.filter(pl.col("rank") == 1)
    others = arms.filter(pl.col("rank") > 1)
    pairs = best.join(others, on=list(STRATUM), suffix="_o")
    # Bonferroni: the best arm is tested against k-1 others; each at 1 - (1-conf)/(k-1).
    k_max = int(arms.select(pl.col("k").max()).item() or 1)
    conf_by_k = {k: 1 - (1 - settings.confidence) / max(k - 1, 1) for k in range(1, k_max + 1)}
    z_by_k = {k: NormalDist().inv_cdf(0.5 + c / 2) for k, c in conf_by_k.items()}
    pair_rows: list[pl.DataFrame] = []
    for k, z in z_by_k.items():
        part = pairs.filter(pl.col("k") == k)
        if part.is_empty():
            continue
        lo, hi = newcombe_diff(pl.col("x"), pl.col("n"), pl.col("x_o"), pl.col("n_o"), z)
        pair_rows.append(part.with_columns(
            (pl.col("p") - pl.col("p_o")).alias("diff"), lo.alias("lo"), hi.alias("hi"),
            two_sided_p(pooled_z(pl.col("x"), pl.col("n"), pl.col("x_o"), pl.col("n_o"))).alias("pv"),
        ))
    scored = pl.concat(pair_rows) if pair_rows else pairs.with_columns(
        pl.lit(None, pl.Float64).alias("diff"), pl.lit(None, pl.Float64).alias("lo"),
        pl.lit(None, pl.Float64).alias("hi"), pl.lit(None, pl.Float64).alias("pv"))
    per_stratum = scored.group_by(STRATUM).agg(
        (pl.col("lo") > 0).all().alias("wins"),
        ((pl.col("lo") > -settings.min_effect) & (pl.col("hi") < settings.min_effect)).all().alias("alike"),
        pl.all().sort_by("rank_o").first(),
    ) if scored.height else None
    target = pl.max_horizontal(pl.col("diff").abs(), pl.lit(settings.min_effect))
    if per_stratum is not None:
        per_stratum = per_stratum.with_columns(
            target.alias("target"),
            sample_size_per_arm(pl.col("p_o"), target, settings.confidence, settings.power).alias("needed"),
        )
    up = by_arm_uplift if by_arm_uplift is not None else uplift(units, ["segment", "step", "arm"], settings)
    up_idx = {(r["segment"], r["step"], r["arm"]): r for r in up.iter_rows(named=True)}
    pair_idx = {(r["segment"], r["step"]): r for r in (per_stratum.iter_rows(named=True) if per_stratum is not None
                                                       else [])}
    out: list[Verdict] = []
    for b in best.sort(*STRATUM).iter_rows(named=True):
        key = (b["segment"], b["step"])
        h = up_idx.get((b["segment"], b["step"], b["arm"]))
        hold_kw: dict[str, float | int | None] = {}
        if h is not None:
            hold_kw = {"holdout_n": h["n_holdout"], "holdout_rate": h["rate_holdout"], "vs_holdout": h["uplift"],
                       "vs_holdout_low": h["ci_low"], "vs_holdout_high": h["ci_high"]}
        pr = pair_idx.get(key)
        if pr is None:
            out.append(Verdict(segment=b["segment"], step=b["step"], kind="single_arm", best=b["arm"],
                               best_rate=b["p"], best_n=b["n"], confidence=settings.confidence,
                               **hold_kw))  # type: ignore[arg-type]
            continue
        wins = bool(pr["wins"])
        kind = "winner" if wins else "no_difference" if pr["alike"] else "no_winner_yet"
        settled = kind != "no_winner_yet"
        out.append(Verdict(
            segment=b["segment"], step=b["step"], kind=kind, best=b["arm"],
            best_rate=b["p"], best_n=b["n"], runner_up=pr["arm_o"], runner_up_rate=pr["p_o"],
            runner_up_n=pr["n_o"], diff=pr["diff"], ci_low=pr["lo"], ci_high=pr["hi"], p_value=pr["pv"],
            confidence=conf_by_k[b["k"]], power=settings.power, needed_per_arm=None if settled else pr["needed"],
            target_effect=settings.min_effect if kind == "no_difference" else None if wins else pr["target"],
            **hold_kw,  # type: ignore[arg-type]
        ))
    return out


def verdict_table(vs: list[Verdict]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"segment": v.segment, "step": v.step, "verdict": v.kind, "best": v.best, "best_rate": v.best_rate,
          "best_n": v.best_n, "runner_up": v.runner_up, "runner_up_rate": v.runner_up_rate,
          "runner_up_n": v.runner_up_n, "diff": v.diff, "ci_low": v.ci_low, "ci_high": v.ci_high,
          "p_value": v.p_value, "needed_per_arm": v.needed_per_arm, "holdout_n": v.holdout_n,
          "holdout_rate": v.holdout_rate, "uplift_vs_holdout": v.vs_holdout, "text_zh": v.text_zh,
          "text_en": v.text_en} for v in vs],
        schema={"segment": pl.String, "step": pl.String, "verdict": pl.String, "best": pl.String,
                "best_rate": pl.Float64, "best_n": pl.Int64, "runner_up": pl.String, "runner_up_rate": pl.Float64,
                "runner_up_n": pl.Int64, "diff": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                "p_value": pl.Float64, "needed_per_arm": pl.Int64, "holdout_n": pl.Int64,
                "holdout_rate": pl.Float64, "uplift_vs_holdout": pl.Float64, "text_zh": pl.String,
                "text_en": pl.String},
    )
