"""The report's tables besides uplift and verdicts: metrics per group, delivery and failure reasons per channel ×
carrier, complaints per template (with findings), the repayment curve and recovery by DPD bucket."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from dunning.domain.states import IN_FLIGHT_STATES, UNDELIVERED_STATES
from dunning.reporting.formatting import pct
from dunning.reporting.settings import HOLDOUT, STRATUM, OutcomeSettings
from dunning.reporting.stats import pooled_z
from dunning.reporting.uplift import SUMS, count_rows


def metrics(units: pl.DataFrame, by: list[str], cube: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per group of ``by``: accounts, attempted, delivered and the delivered rate; repaid (within the window of
    the planned send), full and partial, the repayment rate, amount due and recovered, the recovery rate and the
    median days to pay; and the attributed side (repaid per delivered message, amount credited). ``cube``: the
    :func:`outcome_cube` of the same ``units``, when the caller has it (sums come from it; the median cannot)."""
    if units.is_empty():
        return pl.DataFrame(schema={**{c: units.schema[c] for c in by}, "accounts": pl.UInt32})
    source = cube if cube is not None else units
    sums = source.group_by(by).agg(count_rows(source).alias("accounts"), *(pl.col(c).sum() for c in SUMS))
    medians = units.group_by(by).agg(pl.col("days_to_pay").median().alias("median_days_to_pay"))
    out = sums.join(medians, on=by, how="left", nulls_equal=True).rename(
        {"amount_due_fen": "due_fen", "paid_fen": "recovered_fen"})
    return out.with_columns(
        (pl.col("delivered") / pl.col("attempted")).fill_nan(None).alias("delivered_rate"),
        (pl.col("repaid") / pl.col("accounts")).alias("repayment_rate"),
        (pl.col("recovered_fen") / pl.col("due_fen")).fill_nan(None).alias("recovery_rate"),
        (pl.col("attr_repaid") / pl.col("delivered")).fill_nan(None).alias("attr_repayment_rate"),
    ).sort(by, nulls_last=True)


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
             pl.col("state").is_in(IN_FLIGHT_STATES).sum().alias("in_flight"))
        .with_columns((pl.col("delivered") / pl.col("attempted")).fill_nan(None).alias("delivered_rate"))
        .sort("channel", "carrier")
    )


def failure_reasons(units: pl.DataFrame) -> pl.DataFrame:
    """Why messages did not arrive, per channel × carrier: the carrier's DLR error code when one came back, else
    our reason code (``dlr_failed``, ``dlr_timeout``, a submit error…); ``share`` of that channel × carrier's
    attempted messages."""
    bad = units.filter(pl.col("state").is_in(UNDELIVERED_STATES))
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
            why_zh.append(f"显著高于其他模板（{pct(r['rest_complaint_rate'])}）")
            why_en.append(f"significantly above the other templates ({pct(r['rest_complaint_rate'])})")
        findings.append(Finding(
            kind="complaints", subject=r["template"],
            message_zh=(f"模板 {r['template']} 的投诉率（退订+争议）为 {pct(r['complaint_rate'])}"
                        f"（{r['complaints']}/{r['delivered']}），{'，'.join(why_zh)}；"
                        f"即使其送达后还款率为 {pct(r['attr_repayment_rate'])}，也应复核措辞。"),
            message_en=(f"Template {r['template']} draws complaints (opt-outs + disputes) at "
                        f"{pct(r['complaint_rate'])} ({r['complaints']}/{r['delivered']}), {'; '.join(why_en)}; "
                        f"review its wording even though {pct(r['attr_repayment_rate'])} of its delivered "
                        "messages were followed by a payment."),
        ))
    return t.drop("_rest_c", "_rest_d", "_over", "_above"), findings


def _experiment_units(units: pl.DataFrame) -> pl.DataFrame:
    """Assigned rows of strata that have a hold-out; all assigned rows when no stratum has one."""
    assigned = units.filter(pl.col("assigned"))
    with_hold = assigned.filter(pl.col("arm") == HOLDOUT).select(*STRATUM).unique()
    if with_hold.is_empty():
        return assigned
    return assigned.join(with_hold, on=list(STRATUM), how="semi")


def repayment_curve(units: pl.DataFrame, settings: OutcomeSettings) -> pl.DataFrame:
    """Cumulative share of accounts repaid (any payment) by day since the planned send, per arm, for days
    0…``curve_days``. Arms are labelled by variant; by "step·variant" when several strata take part."""
    exp = _experiment_units(units)
    if exp.is_empty():
        return pl.DataFrame(schema={"arm": pl.String, "day": pl.Int64, "accounts": pl.UInt32,
                                    "repaid": pl.Int64, "share": pl.Float64})
    several = exp.select(*STRATUM).unique().height > 1
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
        .agg(count_rows(units).alias("accounts"), pl.col("repaid").sum().alias("repaid"),
             pl.col("amount_due_fen").sum().alias("due_fen"), pl.col("paid_fen").sum().alias("recovered_fen"),
             pl.col("attributed_fen").sum().alias("attributed_fen"))
        .with_columns((pl.col("recovered_fen") / pl.col("due_fen")).fill_nan(None).alias("recovery_rate"),
                      (pl.col("repaid") / pl.col("accounts")).alias("repayment_rate"),
                      pl.col("bucket").replace_strict(_BUCKET_ORDER, default=99, return_dtype=pl.Int32)
                      .alias("_o"))
        .sort("_o", "bucket", "group").drop("_o")
    )

