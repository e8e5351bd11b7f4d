"""Outcomes: which reminders get loans repaid. Pure and vectorised over Polars frames (no database, no I/O).

Two questions, answered by two different rules, both documented in the report:

**Attribution (credit to a message).** A payment is credited to the latest *delivered* message to the same loan
sent at or before it and at most ``window_days`` earlier (inclusive). Messages that failed, expired or were never
sent earn no credit, and a payment with no delivered message in its window stays unattributed. The message's time
is when it left us (``sent_at``: ``submitted_at``, else ``final_at``). Attributed figures say what a message collected; they
cannot say what it *caused*, because many borrowers pay without any reminder.

**Uplift (what a reminder causes).** Assignment to a variant or to the hold-out is random within a stratum
(segment × step), so the causal estimate compares arms *as assigned* (intention to treat): every account in an arm,
delivered or not, suppressed later or not, is measured from the same instant — the campaign's planned start, the
earliest ``send_after`` (else ``scheduled_at``) of its messages, which is also the hold-out's "would-have-been"
time (planning leaves suppressed rows unscheduled) — and counts as repaid when the loan received any payment
within the window. One instant for every arm keeps the comparison fair: a reminder scheduled late in the day does
not lose the morning's payments that its hold-out twin keeps.
The difference of two proportions is tested with a pooled two-proportion z-test and bounded with Newcombe's hybrid
score interval (Wilson intervals of each arm, method 10 of Newcombe 1998). A figure pooled over several strata is
a stratum-weighted difference (weights = treated accounts per stratum) with a Wald interval; the table says which.

A champion/challenger verdict is given only when the best arm's interval against every other arm of its stratum
excludes 0 (Bonferroni-adjusted when more than two arms compete). Otherwise the verdict is "no winner yet" with
the accounts per arm a two-sided test at the same confidence and ``power`` would need to detect the observed
difference, or the minimum effect of interest when the observed difference is smaller than that.

Input frames (times are ``Datetime("us", "UTC")``; see :class:`OutcomeFrames`) are produced by
``dunning.services.campaigns.outcomes``; every table returned is a Polars frame, ready for HTML, XLSX or the console.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist

import polars as pl

# ----------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class OutcomeSettings:
    """How outcomes are measured. ``window_days``: attribution and repayment window (inclusive);
    ``curve_days``: how far the repayment curve runs; ``confidence``/``power``: of the tests and of the sample
    size advice; ``min_effect``: the smallest repayment-rate difference worth detecting (absolute share);
    ``complaint_rate_limit``: complaints (opt-outs + disputes) per delivered message above which a template is a
    finding; ``min_complaints``: complaints a template needs before "significantly above the rest" is judged."""

    window_days: int = 7
    curve_days: int = 14
    confidence: float = 0.95
    power: float = 0.8
    min_effect: float = 0.02
    complaint_rate_limit: float = 0.02
    min_complaints: int = 5

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.curve_days < 1:
            raise ValueError("window_days and curve_days must be at least 1")
        if not 0.5 < self.confidence < 1 or not 0 < self.power < 1:
            raise ValueError("confidence must be in (0.5, 1) and power in (0, 1)")
        if not 0 < self.min_effect < 1:
            raise ValueError("min_effect is a share in (0, 1)")

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)


HOLDOUT = "holdout"
UTC_US = pl.Datetime("us", "UTC")

# Message states that left us (a queued message that expired at the end of the send window never did).
_ATTEMPTED = ("submitting", "submitted", "delivered", "failed", "held")
_STRATUM = ("segment", "step")

MESSAGES_SCHEMA: dict[str, pl.DataType] = {
    "message_id": pl.Int64(), "loan_id": pl.String(), "phone": pl.String(),
    "segment": pl.String(), "step": pl.String(), "variant": pl.String(), "template_version_id": pl.Int64(),
    "template": pl.String(), "state": pl.String(), "reason": pl.String(), "error_code": pl.String(),
    "channel": pl.String(), "sent_at": UTC_US, "amount_due_fen": pl.Int64(), "bucket": pl.String(),
}
TOUCHES_SCHEMA: dict[str, pl.DataType] = {"message_id": pl.Int64(), "loan_id": pl.String(), "sent_at": UTC_US}
PAYMENTS_SCHEMA: dict[str, pl.DataType] = {"loan_id": pl.String(), "amount_fen": pl.Int64(), "paid_at": UTC_US}
REPLIES_SCHEMA: dict[str, pl.DataType] = {"message_id": pl.Int64(), "classification": pl.String()}


@dataclass(frozen=True)
class OutcomeFrames:
    """What outcomes are computed from, for one campaign.

    ``messages``: every message row of the campaign to a borrower (all states, hold-out included; internal test
    numbers left out), columns :data:`MESSAGES_SCHEMA`; ``template`` is a display label of the template version
    ("M1 v2").
    ``touches``: delivered messages of *other* campaigns to the campaign's loans (:data:`TOUCHES_SCHEMA`), so
    that a later campaign's message takes the credit for a payment it came closer to (this campaign's own
    deliveries come from ``messages``).
    ``payments``: payments to the campaign's loans (:data:`PAYMENTS_SCHEMA`).
    ``replies``: classified replies linked to the campaign's messages (:data:`REPLIES_SCHEMA`).
    ``observed_at``: when the data was read; a window that has not closed by then is flagged, not hidden.
    ``planned_start``: the instant every arm is measured from — the campaign's planned start, the earliest
    ``send_after`` (else ``scheduled_at``) of its messages; when unknown, the earliest ``sent_at`` stands in.
    """

    messages: pl.DataFrame
    touches: pl.DataFrame
    payments: pl.DataFrame
    replies: pl.DataFrame
    observed_at: datetime
    planned_start: datetime | None = None

    def anchor(self) -> datetime | None:
        """``planned_start``, else the earliest ``sent_at`` of the campaign's messages (None without either)."""
        if self.planned_start is not None:
            return self.planned_start
        v = self.messages.select(pl.col("sent_at").min()).item() if self.messages.height else None
        return v if isinstance(v, datetime) else None

    def all_touches(self) -> pl.DataFrame:
        """Delivered messages of this campaign and of others to its loans: what attribution chooses from."""
        own = self.messages.filter(pl.col("state") == "delivered").select(list(TOUCHES_SCHEMA))
        return pl.concat([own, self.touches.select(list(TOUCHES_SCHEMA))])


# ------------------------------------------------------------------------------------------------ carriers

CARRIER_ZH = {
    "china_mobile": "中国移动 China Mobile",
    "china_unicom": "中国联通 China Unicom",
    "china_telecom": "中国电信 China Telecom",
    "china_broadnet": "中国广电 China Broadnet",
    "unknown_cn": "未知号段 unknown CN prefix",
    "international": "境外号码 international",
    "none": "无号码 no number",
}

# Number-segment allocations of the MIIT (incl. virtual-operator 170/171/162/165/167 hosted by each network).
_PREFIX3: dict[str, str] = {
    **dict.fromkeys(["134", "135", "136", "137", "138", "139", "147", "148", "150", "151", "152", "157", "158",
                     "159", "165", "172", "178", "182", "183", "184", "187", "188", "195", "197", "198"],
                    "china_mobile"),
    **dict.fromkeys(["130", "131", "132", "145", "146", "155", "156", "166", "167", "171", "175", "176", "185",
                     "186", "196"], "china_unicom"),
    **dict.fromkeys(["133", "149", "153", "162", "173", "174", "177", "180", "181", "189", "190", "191", "193",
                     "199"], "china_telecom"),
    "192": "china_broadnet",
}
# Four-digit blocks that belong to another network than their three-digit segment.
_PREFIX4: dict[str, str] = {
    "1349": "china_telecom",  # satellite block inside China Mobile's 134
    **dict.fromkeys(["1700", "1701", "1702"], "china_telecom"),
    **dict.fromkeys(["1703", "1705", "1706"], "china_mobile"),
    **dict.fromkeys(["1704", "1707", "1708", "1709"], "china_unicom"),
}


def carrier_expr(phone: str | pl.Expr = "phone") -> pl.Expr:
    """The carrier of an E.164 phone (``+86…``) from its number segment, as a code of :data:`CARRIER_ZH`.

    One expression over the column: a four-digit exception table, then the three-digit table."""
    col = pl.col(phone) if isinstance(phone, str) else phone
    national = col.str.strip_prefix("+86")
    # Stored phones are normalised E.164 (digits only after "+"): a length and a leading 1 settle the shape.
    is_cn = col.str.starts_with("+86") & (national.str.len_bytes() == 11) & national.str.starts_with("1")
    p4 = national.str.slice(0, 4).replace_strict(_PREFIX4, default=None, return_dtype=pl.String)
    p3 = national.str.slice(0, 3).replace_strict(_PREFIX3, default="unknown_cn", return_dtype=pl.String)
    return (
        pl.when(col.is_null()).then(pl.lit("none"))
        .when(is_cn).then(pl.coalesce(p4, p3))
        .when(col.str.starts_with("+86")).then(pl.lit("unknown_cn"))
        .otherwise(pl.lit("international"))
    )


# ---------------------------------------------------------------------------------------------- statistics


def normal_cdf(x: pl.Expr) -> pl.Expr:
    """Φ(x), vectorised."""
    return 0.5 * (1.0 + (x / math.sqrt(2.0)).erf())


def two_sided_p(z: pl.Expr) -> pl.Expr:
    return 2.0 * (1.0 - normal_cdf(z.abs()))


def wilson(x: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval of ``x`` successes out of ``n`` (null when ``n`` is 0)."""
    nf = n.cast(pl.Float64)
    xf = x.cast(pl.Float64)
    denom = nf + z * z
    centre = (xf + z * z / 2) / denom
    half = z / denom * (xf * (nf - xf) / nf + z * z / 4).sqrt()
    ok = n > 0
    return pl.when(ok).then(centre - half), pl.when(ok).then(centre + half)


def newcombe_diff(x1: pl.Expr, n1: pl.Expr, x0: pl.Expr, n0: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Newcombe's hybrid score interval (method 10) for ``x1/n1 - x0/n0``."""
    p1 = x1.cast(pl.Float64) / n1
    p0 = x0.cast(pl.Float64) / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    return d - ((p1 - l1) ** 2 + (u0 - p0) ** 2).sqrt(), d + ((u1 - p1) ** 2 + (p0 - l0) ** 2).sqrt()


def pooled_z(x1: pl.Expr, n1: pl.Expr, x0: pl.Expr, n0: pl.Expr) -> pl.Expr:
    """The two-proportion z statistic with the pooled variance (0 when both arms are all-or-nothing alike)."""
    p1 = x1.cast(pl.Float64) / n1
    p0 = x0.cast(pl.Float64) / n0
    pp = (x1 + x0).cast(pl.Float64) / (n1 + n0)
    se = (pp * (1 - pp) * (1.0 / n1 + 1.0 / n0)).sqrt()
    return pl.when(se > 0).then((p1 - p0) / se).otherwise(0.0)


def sample_size_per_arm(p_base: pl.Expr, effect: pl.Expr, confidence: float, power: float) -> pl.Expr:
    """Accounts per arm for a two-sided two-proportion test to detect ``p_base`` vs ``p_base + effect``."""
    nd = NormalDist()
    za = nd.inv_cdf(0.5 + confidence / 2)
    zb = nd.inv_cdf(power)
    p0 = p_base.clip(1e-4, 1 - 1e-4)
    p1 = (p_base + effect).clip(1e-4, 1 - 1e-4)
    pbar = (p0 + p1) / 2
    num = (za * (2 * pbar * (1 - pbar)).sqrt() + zb * (p0 * (1 - p0) + p1 * (1 - p1)).sqrt()) ** 2
    return (num / (p1 - p0) ** 2).ceil().cast(pl.Int64)


# ------------------------------------------------------------------------------------------------ attribution


def attribute_payments(payments: pl.DataFrame, touches: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    """Every payment (in input order) with ``message_id`` and ``sent_at`` of the latest delivered message to its
    loan sent at or before it and no more than ``window`` earlier (both bounds inclusive); null when there is none.
    Of two messages sent at the same instant, the higher id wins. Adds ``days_after`` (fractional days since
    sending).

    An equi-join on the loan then a filter on time, not an as-of join: a loan has a handful of deliveries in a
    window (the contact budget caps them), so the pairs stay few, and the hash join is twice as fast as the
    as-of join's sort by time over a string key."""
    pay = payments.select("loan_id", "amount_fen", "paid_at").with_row_index("_r")
    t = touches.select("message_id", "loan_id", "sent_at").drop_nulls("sent_at")
    best = (
        pay.select("_r", "loan_id", "paid_at")
        .join(t, on="loan_id", how="inner")
        .filter((pl.col("sent_at") <= pl.col("paid_at")) & (pl.col("paid_at") <= pl.col("sent_at") + window))
        .group_by("_r")
        .agg(pl.col("message_id", "sent_at").sort_by("sent_at", "message_id").last())
    )
    return pay.join(best, on="_r", how="left", maintain_order="left").with_columns(
        ((pl.col("paid_at") - pl.col("sent_at")).dt.total_seconds(fractional=True) / 86400).alias("days_after")
    ).drop("_r")


def account_units(frames: OutcomeFrames, settings: OutcomeSettings,
                  attributed: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per message of the campaign with its attributed and intention-to-treat outcomes.

    Attributed: ``attributed_fen``, ``attributed_payments``, ``attr_repaid``, ``attr_full``, ``attr_days``
    (days from sending to the first credited payment). Intention to treat (from ``anchor``, the campaign's
    planned start, :meth:`OutcomeFrames.anchor`):
    ``paid_fen`` within the window, ``repaid``, ``full`` (≥ amount due), ``partial``, ``days_to_pay``, and
    ``first_paid_days`` within the curve's horizon. Plus ``arm`` (variant, or "holdout"), ``assigned`` (the row
    took part in a variant split), ``attempted``, ``delivered`` and ``carrier``. ``attributed``: the result of
    :func:`attribute_payments` when the caller has it already."""
    msgs = frames.messages
    if attributed is None:
        attributed = attribute_payments(frames.payments, frames.all_touches(), settings.window)
    credit = (
        attributed.filter(pl.col("message_id").is_not_null())
        .group_by("message_id")
        .agg(pl.col("amount_fen").sum().alias("attributed_fen"), pl.len().alias("attributed_payments"),
             pl.col("days_after").min().alias("attr_days"))
    )
    start = frames.anchor()
    anchor = pl.lit(start, UTC_US) if start is not None else pl.lit(None, UTC_US)
    horizon = timedelta(days=max(settings.window_days, settings.curve_days))
    base = msgs.with_columns(anchor.alias("anchor"))
    # One anchor for the whole campaign: the payments that can count are cut to its horizon before the join.
    pays = frames.payments.select("loan_id", "amount_fen", "paid_at")
    pays = pays.clear() if start is None else pays.filter(pl.col("paid_at").is_between(start, start + horizon))
    itt = (
        base.select("message_id", "loan_id", "anchor")
        .join(pays, on="loan_id", how="inner")
        .with_columns(((pl.col("paid_at") - pl.col("anchor")).dt.total_seconds(fractional=True) / 86400)
                      .alias("_d"))
        .group_by("message_id")
        .agg(pl.col("amount_fen").filter(pl.col("_d") <= settings.window_days).sum().alias("paid_fen"),
             pl.col("_d").min().alias("first_paid_days"))
    )
    return (
        base.join(credit, on="message_id", how="left")
        .join(itt, on="message_id", how="left")
        .with_columns(
            pl.col("attributed_fen").fill_null(0), pl.col("attributed_payments").fill_null(0),
            pl.col("paid_fen").fill_null(0),
            pl.col("variant").alias("arm"),
            pl.col("variant").is_not_null().alias("assigned"),
            pl.when(pl.col("variant") == HOLDOUT).then(pl.lit(HOLDOUT)).otherwise(pl.lit("reminded")).alias("group"),
            (pl.col("state").is_in(_ATTEMPTED) | ((pl.col("state") == "expired") & (pl.col("reason") != "window")))
            .alias("attempted"),
            (pl.col("state") == "delivered").alias("delivered"),
            carrier_expr("phone").alias("carrier"),
        )
        .with_columns(
            (pl.col("attributed_fen") > 0).alias("attr_repaid"),
            ((pl.col("attributed_fen") > 0) & (pl.col("attributed_fen") >= pl.col("amount_due_fen")))
            .alias("attr_full"),
            (pl.col("paid_fen") > 0).alias("repaid"),
            ((pl.col("paid_fen") > 0) & (pl.col("paid_fen") >= pl.col("amount_due_fen"))).alias("full"),
            pl.when(pl.col("first_paid_days") <= settings.window_days).then(pl.col("first_paid_days"))
            .alias("days_to_pay"),
        )
        .with_columns((pl.col("repaid") & ~pl.col("full")).alias("partial"),
                      (pl.col("attr_repaid") & ~pl.col("attr_full")).alias("attr_partial"))
    )


# -------------------------------------------------------------------------------------------------- metrics


_SUMS = ("attempted", "delivered", "repaid", "full", "partial", "amount_due_fen", "paid_fen", "attr_repaid",
         "attr_full", "attributed_fen")
CUBE_KEYS = ("segment", "step", "arm", "template", "bucket", "group", "assigned")


def outcome_cube(units: pl.DataFrame) -> pl.DataFrame:
    """``units`` summed over :data:`CUBE_KEYS` (``accounts`` = rows): a few hundred rows from which every
    metric but the median and every uplift is a cheap regrouping. :func:`metrics`, :func:`uplift` and
    :func:`verdicts` accept it wherever they accept units."""
    return units.group_by(list(CUBE_KEYS)).agg(pl.len().alias("accounts"), *(pl.col(c).sum() for c in _SUMS))


def _count(frame: pl.DataFrame) -> pl.Expr:
    """Accounts in a group: rows of units, or the sum of a cube's ``accounts``."""
    return pl.col("accounts").sum() if "accounts" in frame.columns else pl.len()


def metrics(units: pl.DataFrame, by: list[str], cube: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per group of ``by``: accounts, attempted, delivered and the delivered rate; repaid (within the window of
    the planned send), full and partial, the repayment rate, amount due and recovered, the recovery rate and the
    median days to pay; and the attributed side (repaid per delivered message, amount credited). ``cube``: the
    :func:`outcome_cube` of the same ``units``, when the caller has it (sums come from it; the median cannot)."""
    if units.is_empty():
        return pl.DataFrame(schema={**{c: units.schema[c] for c in by}, "accounts": pl.UInt32})
    source = cube if cube is not None else units
    sums = source.group_by(by).agg(_count(source).alias("accounts"), *(pl.col(c).sum() for c in _SUMS))
    medians = units.group_by(by).agg(pl.col("days_to_pay").median().alias("median_days_to_pay"))
    out = sums.join(medians, on=by, how="left", nulls_equal=True).rename(
        {"amount_due_fen": "due_fen", "paid_fen": "recovered_fen"})
    return out.with_columns(
        (pl.col("delivered") / pl.col("attempted")).fill_nan(None).alias("delivered_rate"),
        (pl.col("repaid") / pl.col("accounts")).alias("repayment_rate"),
        (pl.col("recovered_fen") / pl.col("due_fen")).fill_nan(None).alias("recovery_rate"),
        (pl.col("attr_repaid") / pl.col("delivered")).fill_nan(None).alias("attr_repayment_rate"),
    ).sort(by, nulls_last=True)


def uplift(units: pl.DataFrame, by: list[str], settings: OutcomeSettings) -> pl.DataFrame:
    """Repayment-rate uplift of the assigned, non-hold-out accounts of each ``by`` group over the hold-out of the
    same strata (segment × step). Strata without a hold-out are left out; groups resting on none get no row.

    Columns: ``n_arm``, ``x_arm``, ``n_holdout``, ``x_holdout``, ``strata``, ``rate_arm``, ``rate_holdout``,
    ``uplift``, ``ci_low``, ``ci_high``, ``p_value``, ``method`` ("newcombe" for one stratum, "stratified-wald"
    for several) and ``significant`` (the interval excludes 0). ``units`` may be their :func:`outcome_cube`."""
    z = settings.z
    assigned = units.filter(pl.col("assigned"))
    n = _count(units)
    hold = (
        assigned.filter(pl.col("arm") == HOLDOUT).group_by(list(_STRATUM))
        .agg(n.alias("n0"), pl.col("repaid").sum().alias("x0"))
    )
    keys = list(dict.fromkeys([*by, *_STRATUM]))
    arms = (
        assigned.filter(pl.col("arm") != HOLDOUT).group_by(keys)
        .agg(n.alias("n1"), pl.col("repaid").sum().alias("x1"))
        .join(hold, on=list(_STRATUM), how="inner")
        .with_columns((pl.col("x1") / pl.col("n1")).alias("p1"), (pl.col("x0") / pl.col("n0")).alias("p0"))
        .with_columns((pl.col("p1") * (1 - pl.col("p1")) / pl.col("n1")
                       + pl.col("p0") * (1 - pl.col("p0")) / pl.col("n0")).alias("var"))
        .with_columns((pl.col("n1") / pl.col("n1").sum().over(by)).alias("w"))
    )
    g = arms.group_by(by).agg(
        pl.col("n1").sum().alias("n_arm"), pl.col("x1").sum().alias("x_arm"),
        pl.col("n0").sum().alias("n_holdout"), pl.col("x0").sum().alias("x_holdout"),
        pl.len().alias("strata"),
        (pl.col("w") * (pl.col("p1") - pl.col("p0"))).sum().alias("_d"),
        (pl.col("w") ** 2 * pl.col("var")).sum().alias("_var"),
        (pl.col("w") * pl.col("p1")).sum().alias("rate_arm"),
        (pl.col("w") * pl.col("p0")).sum().alias("rate_holdout"),
    )
    nl, nh = newcombe_diff(pl.col("x_arm"), pl.col("n_arm"), pl.col("x_holdout"), pl.col("n_holdout"), z)
    one = pl.col("strata") == 1
    se = pl.col("_var").sqrt()
    wald_p = pl.when(se > 0).then(two_sided_p(pl.col("_d") / se)).otherwise(
        pl.when(pl.col("_d") == 0).then(1.0).otherwise(0.0))
    return (
        g.with_columns(
            pl.col("_d").alias("uplift"),
            pl.when(one).then(nl).otherwise(pl.col("_d") - z * se).alias("ci_low"),
            pl.when(one).then(nh).otherwise(pl.col("_d") + z * se).alias("ci_high"),
            pl.when(one).then(two_sided_p(pooled_z(pl.col("x_arm"), pl.col("n_arm"), pl.col("x_holdout"),
                                                   pl.col("n_holdout")))).otherwise(wald_p).alias("p_value"),
            pl.when(one).then(pl.lit("newcombe")).otherwise(pl.lit("stratified-wald")).alias("method"),
        )
        .with_columns(((pl.col("ci_low") > 0) | (pl.col("ci_high") < 0)).alias("significant"))
        .drop("_d", "_var")
        .sort(by, nulls_last=True)
    )


# -------------------------------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
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
    runner_up: str | None = None
    runner_up_rate: float | None = None
    runner_up_n: int | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    confidence: float = 0.95
    power: float = 0.8
    needed_per_arm: int | None = None
    target_effect: float | None = None
    holdout_n: int | None = None
    holdout_rate: float | None = None
    vs_holdout: float | None = None
    vs_holdout_low: float | None = None
    vs_holdout_high: float | None = None
    method: str = "两比例 z 检验 + Newcombe 区间 two-proportion z-test, Newcombe hybrid score interval"

    @property
    def text_zh(self) -> str:
        where = f"{self.segment}/{self.step}"
        if self.kind == "winner":
            return (f"{where}：{self.best} 胜出。还款率 {self.best_rate:.1%}（n={self.best_n:,}）对 {self.runner_up} "
                    f"{_pct(self.runner_up_rate)}（n={_n(self.runner_up_n)}），差值 {_pp(self.diff)}，"
                    f"{self.confidence:.0%} 置信区间 [{_pp(self.ci_low)}, {_pp(self.ci_high)}]，p={_p(self.p_value)}。"
                    + self._holdout_zh())
        if self.kind == "no_difference":
            return (f"{where}：暂无胜者，各变体表现相当。{self.best} {self.best_rate:.1%}（n={self.best_n:,}）对 "
                    f"{self.runner_up} {_pct(self.runner_up_rate)}（n={_n(self.runner_up_n)}），差值 {_pp(self.diff)}，"
                    f"{self.confidence:.0%} 置信区间 [{_pp(self.ci_low)}, {_pp(self.ci_high)}] 落在 "
                    f"±{_pp(self.target_effect)[1:]} 之内：再增加样本也难以分出有意义的胜负。" + self._holdout_zh())
        if self.kind == "single_arm":
            head = f"{where}：只有一个变体 {self.best}（还款率 {self.best_rate:.1%}，n={self.best_n:,}），无冠军/挑战者之分。"
            return head + self._holdout_zh()
        return (f"{where}：暂无胜者。{self.best} {self.best_rate:.1%}（n={self.best_n:,}）对 {self.runner_up} "
                f"{_pct(self.runner_up_rate)}（n={_n(self.runner_up_n)}），差值 {_pp(self.diff)}，"
                f"{self.confidence:.0%} 置信区间 [{_pp(self.ci_low)}, {_pp(self.ci_high)}] 包含 0。"
                f"要以 {self.power:.0%} 把握检出 {_pp(self.target_effect)} 的差异，每组约需 {_n(self.needed_per_arm)} 个账户。"
                + self._holdout_zh())

    @property
    def text_en(self) -> str:
        where = f"{self.segment}/{self.step}"
        if self.kind == "winner":
            return (f"{where}: {self.best} wins. Repayment {self.best_rate:.1%} (n={self.best_n:,}) vs "
                    f"{self.runner_up} {_pct(self.runner_up_rate)} (n={_n(self.runner_up_n)}), difference "
                    f"{_pp(self.diff)}, {self.confidence:.0%} CI [{_pp(self.ci_low)}, {_pp(self.ci_high)}], "
                    f"p={_p(self.p_value)}." + self._holdout_en())
        if self.kind == "no_difference":
            return (f"{where}: no winner; the variants perform alike. {self.best} {self.best_rate:.1%} "
                    f"(n={self.best_n:,}) vs {self.runner_up} {_pct(self.runner_up_rate)} (n={_n(self.runner_up_n)}), "
                    f"difference {_pp(self.diff)}, {self.confidence:.0%} CI [{_pp(self.ci_low)}, {_pp(self.ci_high)}] "
                    f"lies within ±{_pp(self.target_effect)[1:]}: more accounts are unlikely to find a difference "
                    "worth having." + self._holdout_en())
        if self.kind == "single_arm":
            return (f"{where}: one variant only, {self.best} (repayment {self.best_rate:.1%}, n={self.best_n:,});"
                    " no champion/challenger." + self._holdout_en())
        return (f"{where}: no winner yet. {self.best} {self.best_rate:.1%} (n={self.best_n:,}) vs {self.runner_up} "
                f"{_pct(self.runner_up_rate)} (n={_n(self.runner_up_n)}), difference {_pp(self.diff)}, "
                f"{self.confidence:.0%} CI [{_pp(self.ci_low)}, {_pp(self.ci_high)}] includes 0. Detecting a "
                f"{_pp(self.target_effect)} difference with {self.power:.0%} power needs about {_n(self.needed_per_arm)} "
                "accounts per arm." + self._holdout_en())

    def _holdout_zh(self) -> str:
        if self.vs_holdout is None:
            return "（本分群没有对照组，无法衡量提升。）"
        sig = (self.vs_holdout_low or 0) > 0 or (self.vs_holdout_high or 0) < 0
        return (f" 相对对照组（{_pct(self.holdout_rate)}，n={_n(self.holdout_n)}）提升 {_pp(self.vs_holdout)}，"
                f"区间 [{_pp(self.vs_holdout_low)}, {_pp(self.vs_holdout_high)}]"
                + ("。" if sig else "，尚不显著。"))

    def _holdout_en(self) -> str:
        if self.vs_holdout is None:
            return " (No hold-out in this stratum: uplift cannot be measured.)"
        sig = (self.vs_holdout_low or 0) > 0 or (self.vs_holdout_high or 0) < 0
        return (f" Uplift over hold-out ({_pct(self.holdout_rate)}, n={_n(self.holdout_n)}): {_pp(self.vs_holdout)}"
                f", CI [{_pp(self.vs_holdout_low)}, {_pp(self.vs_holdout_high)}]"
                + ("." if sig else ", not significant yet."))


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _pp(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f}pp"


def _p(v: float | None) -> str:
    return "—" if v is None else ("<0.001" if v < 0.001 else f"{v:.3f}")


def _n(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def verdicts(units: pl.DataFrame, settings: OutcomeSettings, by_arm_uplift: pl.DataFrame | None = None
             ) -> list[Verdict]:
    """One :class:`Verdict` per stratum that has at least one variant, in segment/step order.
    ``by_arm_uplift``: ``uplift(units, ["segment", "step", "arm"], settings)`` when the caller has it.
    ``units`` may be their :func:`outcome_cube`."""
    assigned = units.filter(pl.col("assigned"))
    arms = (
        assigned.filter(pl.col("arm") != HOLDOUT).group_by(*_STRATUM, "arm")
        .agg(_count(units).alias("n"), pl.col("repaid").sum().alias("x"))
        .sort(*_STRATUM, "arm")
        .with_columns((pl.col("x") / pl.col("n")).alias("p"),
                      pl.len().over(_STRATUM).alias("k"))
        .with_columns(pl.col("p").rank("ordinal", descending=True).over(_STRATUM).alias("rank"))
    )
    if arms.is_empty():
        return []
    best = arms.filter(pl.col("rank") == 1)
    others = arms.filter(pl.col("rank") > 1)
    pairs = best.join(others, on=list(_STRATUM), suffix="_o")
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
    per_stratum = scored.group_by(_STRATUM).agg(
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
    for b in best.sort(*_STRATUM).iter_rows(named=True):
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


# -------------------------------------------------------------------------------- delivery and complaints


def delivery_by_carrier(units: pl.DataFrame) -> pl.DataFrame:
    """Funnel per channel × carrier over the messages that were to be sent (not suppressed): to send, attempted,
    delivered, failed, expired, held, still in flight, and the delivered rate of the attempted."""
    to_send = units.filter(pl.col("state") != "suppressed")
    return (
        to_send.with_columns(pl.col("channel").fill_null("—"))
        .group_by("channel", "carrier")
        .agg(pl.len().alias("to_send"), pl.col("attempted").sum().alias("attempted"),
             pl.col("delivered").sum().alias("delivered"),
             (pl.col("state") == "failed").sum().alias("failed"),
             (pl.col("state") == "expired").sum().alias("expired"),
             (pl.col("state") == "held").sum().alias("held"),
             pl.col("state").is_in(["submitting", "submitted"]).sum().alias("in_flight"))
        .with_columns((pl.col("delivered") / pl.col("attempted")).fill_nan(None).alias("delivered_rate"))
        .sort("channel", "carrier")
    )


def failure_reasons(units: pl.DataFrame) -> pl.DataFrame:
    """Why messages did not arrive, per channel × carrier: the carrier's DLR error code when one came back, else
    our reason code (``dlr_failed``, ``dlr_timeout``, a submit error…); ``share`` of that channel × carrier's
    attempted messages."""
    bad = units.filter(pl.col("state").is_in(["failed", "expired", "held"]))
    attempted = units.filter(pl.col("attempted")).with_columns(pl.col("channel").fill_null("—")).group_by(
        "channel", "carrier").agg(pl.len().alias("_att"))
    return (
        bad.with_columns(pl.col("channel").fill_null("—"),
                         pl.coalesce("error_code", "reason", pl.lit("unknown")).alias("code"))
        .group_by("channel", "carrier", "state", "code").agg(pl.len().alias("messages"))
        .join(attempted, on=["channel", "carrier"], how="left")
        .with_columns((pl.col("messages") / pl.col("_att")).alias("share"))
        .drop("_att")
        .sort(["messages", "channel", "carrier", "code"], descending=[True, False, False, False])
    )


@dataclass(frozen=True)
class Finding:
    """Something a person should look at. ``kind``: "complaints"; ``subject``: the template label."""

    kind: str
    subject: str
    message_zh: str
    message_en: str


def complaints_by_template(units: pl.DataFrame, replies: pl.DataFrame, settings: OutcomeSettings
                           ) -> tuple[pl.DataFrame, list[Finding]]:
    """Opt-out and dispute replies per delivered message of each template version, next to what it collected.

    A template is a finding when its complaint rate is above ``complaint_rate_limit``, or when it has at least
    ``min_complaints`` complaints and its rate is significantly above the rest of the campaign's templates
    (one-sided two-proportion z-test at ``confidence``) — whatever it collects."""
    per_msg = replies.group_by("message_id").agg(
        (pl.col("classification") == "opt_out").sum().alias("_opt"),
        (pl.col("classification") == "dispute").sum().alias("_dis"),
    )
    t = (
        units.filter(pl.col("template").is_not_null() & pl.col("attempted"))
        .join(per_msg, on="message_id", how="left")
        .group_by("template")
        .agg(pl.col("delivered").sum().alias("delivered"),
             (pl.col("_opt").fill_null(0) > 0).sum().alias("opt_outs"),
             (pl.col("_dis").fill_null(0) > 0).sum().alias("disputes"),
             pl.col("attr_repaid").sum().alias("attr_repaid"))
        .with_columns((pl.col("opt_outs") + pl.col("disputes")).alias("complaints"))
    )
    if t.is_empty():
        return t, []
    total_c = pl.col("complaints").sum()
    total_d = pl.col("delivered").sum()
    t = t.with_columns(
        (pl.col("opt_outs") / pl.col("delivered")).fill_nan(None).alias("opt_out_rate"),
        (pl.col("disputes") / pl.col("delivered")).fill_nan(None).alias("dispute_rate"),
        (pl.col("complaints") / pl.col("delivered")).fill_nan(None).alias("complaint_rate"),
        (pl.col("attr_repaid") / pl.col("delivered")).fill_nan(None).alias("attr_repayment_rate"),
        (total_c - pl.col("complaints")).alias("_rest_c"), (total_d - pl.col("delivered")).alias("_rest_d"),
    )
    zstat = pooled_z(pl.col("complaints"), pl.col("delivered"), pl.col("_rest_c"), pl.col("_rest_d"))
    z_one = NormalDist().inv_cdf(settings.confidence)
    t = t.with_columns(
        (pl.col("_rest_c") / pl.col("_rest_d")).fill_nan(None).alias("rest_complaint_rate"),
        (pl.col("complaint_rate") > settings.complaint_rate_limit).fill_null(False).alias("_over"),
        ((pl.col("complaints") >= settings.min_complaints) & (pl.col("_rest_d") > 0) & (zstat > z_one))
        .fill_null(False).alias("_above"),
    ).with_columns((pl.col("_over") | pl.col("_above")).alias("finding")).sort("template")
    findings = []
    for r in t.filter(pl.col("finding")).iter_rows(named=True):
        why_zh = []
        why_en = []
        if r["_over"]:
            why_zh.append(f"超过上限 {settings.complaint_rate_limit:.1%}")
            why_en.append(f"above the {settings.complaint_rate_limit:.1%} limit")
        if r["_above"]:
            why_zh.append(f"显著高于其他模板（{_pct(r['rest_complaint_rate'])}）")
            why_en.append(f"significantly above the other templates ({_pct(r['rest_complaint_rate'])})")
        findings.append(Finding(
            kind="complaints", subject=r["template"],
            message_zh=(f"模板 {r['template']} 的投诉率（退订+争议）为 {_pct(r['complaint_rate'])}"
                        f"（{r['complaints']}/{r['delivered']}），{'，'.join(why_zh)}；"
                        f"即使其送达后还款率为 {_pct(r['attr_repayment_rate'])}，也应复核措辞。"),
            message_en=(f"Template {r['template']} draws complaints (opt-outs + disputes) at "
                        f"{_pct(r['complaint_rate'])} ({r['complaints']}/{r['delivered']}), {'; '.join(why_en)}; "
                        f"review its wording even though {_pct(r['attr_repayment_rate'])} of its delivered "
                        "messages were followed by a payment."),
        ))
    return t.drop("_rest_c", "_rest_d", "_over", "_above"), findings


# ----------------------------------------------------------------------------------------- curves, buckets


def _experiment_units(units: pl.DataFrame) -> pl.DataFrame:
    """Assigned rows of strata that have a hold-out; all assigned rows when no stratum has one."""
    assigned = units.filter(pl.col("assigned"))
    with_hold = assigned.filter(pl.col("arm") == HOLDOUT).select(*_STRATUM).unique()
    if with_hold.is_empty():
        return assigned
    return assigned.join(with_hold, on=list(_STRATUM), how="semi")


def repayment_curve(units: pl.DataFrame, settings: OutcomeSettings) -> pl.DataFrame:
    """Cumulative share of accounts repaid (any payment) by day since the planned send, per arm, for days
    0…``curve_days``. Arms are labelled by variant; by "step·variant" when several strata take part."""
    exp = _experiment_units(units)
    if exp.is_empty():
        return pl.DataFrame(schema={"arm": pl.String, "day": pl.Int64, "accounts": pl.UInt32,
                                    "repaid": pl.Int64, "share": pl.Float64})
    several = exp.select(*_STRATUM).unique().height > 1
    label = pl.concat_str([pl.col("step"), pl.lit("·"), pl.col("arm")]) if several else pl.col("arm")
    exp = exp.with_columns(label.alias("_label"))
    n = exp.group_by("_label").agg(pl.len().alias("accounts"))
    days = pl.DataFrame({"day": pl.int_range(0, settings.curve_days + 1, eager=True).cast(pl.Int64)})
    hits = (
        exp.filter(pl.col("first_paid_days").is_not_null())
        .with_columns(pl.col("first_paid_days").ceil().cast(pl.Int64).alias("day"))
        .group_by("_label", "day").agg(pl.len().alias("_k"))
    )
    return (
        n.join(days, how="cross")
        .join(hits, on=["_label", "day"], how="left")
        .sort("_label", "day")
        .with_columns(pl.col("_k").fill_null(0).cum_sum().over("_label").alias("repaid"))
        .with_columns((pl.col("repaid") / pl.col("accounts")).alias("share"))
        .select(pl.col("_label").alias("arm"), "day", "accounts", "repaid", "share")
    )


_BUCKET_ORDER = {"C": 0, "M1": 1, "M2": 2, "M3": 3, "M4+": 4}


def recovery_by_bucket(units: pl.DataFrame) -> pl.DataFrame:
    """Per DPD bucket and group (reminded arms vs hold-out): accounts, amount due and recovered within the window
    of the planned send, the recovery and repayment rates, and the amount credited to delivered messages.
    ``units`` may be their :func:`outcome_cube`."""
    return (
        units.filter(pl.col("assigned")).with_columns(pl.col("bucket").fill_null("—"))
        .group_by("bucket", "group")
        .agg(_count(units).alias("accounts"), pl.col("repaid").sum().alias("repaid"),
             pl.col("amount_due_fen").sum().alias("due_fen"), pl.col("paid_fen").sum().alias("recovered_fen"),
             pl.col("attributed_fen").sum().alias("attributed_fen"))
        .with_columns((pl.col("recovered_fen") / pl.col("due_fen")).fill_nan(None).alias("recovery_rate"),
                      (pl.col("repaid") / pl.col("accounts")).alias("repayment_rate"),
                      pl.col("bucket").replace_strict(_BUCKET_ORDER, default=99, return_dtype=pl.Int32)
                      .alias("_o"))
        .sort("_o", "bucket", "group").drop("_o")
    )


def attribution_summary(attributed: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    """Where the loans' payments since the campaign began went (``attributed`` from :func:`attribute_payments`):
    credited to this campaign's messages (full or partial repayment of the amount due), to another campaign's, or
    to none (no delivered message in the window). One row per bucket of that split, with payments and amount."""
    start = units["anchor"].min() if units.height else None
    pays = attributed
    if start is not None:
        pays = pays.filter(pl.col("paid_at") >= start)
    own = units.select("message_id", "attr_full")
    pays = pays.join(own, on="message_id", how="left")
    kind = (
        pl.when(pl.col("message_id").is_null()).then(pl.lit("unattributed"))
        .when(pl.col("attr_full").is_null()).then(pl.lit("other_campaign"))
        .when(pl.col("attr_full")).then(pl.lit("this_campaign_full"))
        .otherwise(pl.lit("this_campaign_partial"))
    )
    order = {"this_campaign_full": 0, "this_campaign_partial": 1, "other_campaign": 2, "unattributed": 3}
    return (
        pays.with_columns(kind.alias("attribution"))
        .group_by("attribution").agg(pl.len().alias("payments"), pl.col("amount_fen").sum().alias("amount_fen"))
        .with_columns(pl.col("attribution").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
        .sort("_o").drop("_o")
    )


# -------------------------------------------------------------------------------------------------- all of it


@dataclass(frozen=True)
class CampaignOutcomes:
    """Everything the report shows, as tables. Rates are shares (0…1), money in fen. See the module docstring for
    how attribution and uplift are defined; ``window_open_days`` > 0 means payments may still come in."""

    settings: OutcomeSettings
    units: pl.DataFrame
    funnel: list[tuple[str, int]]
    overall: pl.DataFrame
    by_segment: pl.DataFrame
    by_template: pl.DataFrame
    by_variant: pl.DataFrame
    verdicts: list[Verdict]
    verdict_table: pl.DataFrame
    delivery: pl.DataFrame
    failures: pl.DataFrame
    complaints: pl.DataFrame
    findings: list[Finding]
    curve: pl.DataFrame
    by_bucket: pl.DataFrame
    attribution: pl.DataFrame
    window_open_days: float = 0.0
    notes_zh: list[str] = field(default_factory=list)
    curve_observed_days: int | None = None  # days of the curve that have happened for every account (None: no send)
    funnel_why: list[str] = field(default_factory=list)  # per funnel stage: why it is empty ("" when it is not)


def _with_uplift(table: pl.DataFrame, up: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    if table.is_empty():
        return table
    cols = ["n_arm", "n_holdout", "rate_holdout", "uplift", "ci_low", "ci_high", "p_value", "method", "significant"]
    return table.join(up.select(*by, *cols), on=by, how="left")


def compute_outcomes(frames: OutcomeFrames, settings: OutcomeSettings | None = None) -> CampaignOutcomes:
    """Attribution, metrics per campaign/segment/template/variant with uplift, verdicts, delivery by carrier,
    complaints, the repayment curve and recovery by bucket — all from ``frames``."""
    settings = settings or OutcomeSettings()
    attributed = attribute_payments(frames.payments, frames.all_touches(), settings.window)
    units = account_units(frames, settings, attributed)
    cube = outcome_cube(units)
    assigned = pl.col("assigned")
    treated = assigned & (pl.col("arm") != HOLDOUT)
    to_send = units.filter(pl.col("state") != "suppressed")
    funnel = [
        ("计划发送 to send", to_send.height),
        ("已提交 attempted", int(units["attempted"].sum())),
        ("已送达 delivered", int(units["delivered"].sum())),
        (f"送达后 {settings.window_days} 天内还款 repaid after delivery", int(units["attr_repaid"].sum())),
    ]
    a_units, a_cube = units.filter(assigned), cube.filter(assigned)
    t_units, t_cube = units.filter(treated), cube.filter(treated)
    overall = _with_uplift(metrics(a_units, ["group"], a_cube), uplift(cube, ["group"], settings), ["group"])
    by_segment = _with_uplift(metrics(t_units, ["segment"], t_cube), uplift(cube, ["segment"], settings),
                              ["segment"])
    by_template = _with_uplift(metrics(t_units, ["template"], t_cube), uplift(cube, ["template"], settings),
                               ["template"])
    var_keys = ["segment", "step", "arm"]
    var_uplift = uplift(cube, var_keys, settings)
    by_variant = _with_uplift(metrics(a_units, var_keys, a_cube), var_uplift, var_keys)
    vs = verdicts(cube, settings, var_uplift)
    complaints, findings = complaints_by_template(units, frames.replies, settings)
    last_anchor = units["anchor"].max()
    open_days = 0.0
    notes: list[str] = []
    observed: int | None = None
    curve = repayment_curve(units, settings)
    if isinstance(last_anchor, datetime):
        # Only days that have passed for every account are drawn: a future day would read as flat data.
        observed = int(max(0.0, min(settings.curve_days, (frames.observed_at - last_anchor).total_seconds() // 86400)))
        curve = curve.filter(pl.col("day") <= observed)
        remaining = last_anchor + settings.window - frames.observed_at
        open_days = max(0.0, remaining.total_seconds() / 86400)
        if open_days > 0:
            notes.append(f"观察期尚未结束：还有约 {open_days:.1f} 天，还款率仍会上升（各组同样受影响，比较仍然公平）。"
                         f" The {settings.window_days}-day window is still open ({open_days:.1f} days left).")
    return CampaignOutcomes(
        settings=settings, units=units, funnel=funnel, overall=overall, by_segment=by_segment,
        by_template=by_template, by_variant=by_variant, verdicts=vs, verdict_table=verdict_table(vs),
        delivery=delivery_by_carrier(units), failures=failure_reasons(units), complaints=complaints,
        findings=findings, curve=curve, by_bucket=recovery_by_bucket(cube),
        attribution=attribution_summary(attributed, units), window_open_days=open_days, notes_zh=notes,
        curve_observed_days=observed, funnel_why=_funnel_why([n for _s, n in funnel], frames.payments.height > 0),
    )


def _funnel_why(counts: list[int], have_payments: bool) -> list[str]:
    """Why each empty stage of the funnel is empty (an empty row never stands unexplained)."""
    reasons = ["全部被抑制或未计划 all suppressed or none planned", "尚未发送 nothing sent yet",
               "尚无送达回执 no delivery receipt yet",
               "观察期内尚无还款 no repayment yet" if have_payments else "尚未导入还款数据 no payments imported"]
    out: list[str] = []
    for i, n in enumerate(counts):
        if n:
            out.append("")
        elif i and not counts[i - 1]:
            out.append("上一步为 0 previous stage is 0")
        else:
            out.append(reasons[min(i, len(reasons) - 1)])
    return out


def empty_frames(observed_at: datetime) -> OutcomeFrames:
    """Frames with the right schemas and no rows (a campaign with no messages yet)."""
    return OutcomeFrames(
        messages=pl.DataFrame(schema=MESSAGES_SCHEMA), touches=pl.DataFrame(schema=TOUCHES_SCHEMA),
        payments=pl.DataFrame(schema=PAYMENTS_SCHEMA), replies=pl.DataFrame(schema=REPLIES_SCHEMA),
        observed_at=observed_at,
    )
