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

Input frames (times are ``Datetime("us", "UTC")``; see :class:`~dunning.reporting.frames.OutcomeFrames`) are
produced by ``dunning.services.campaigns.outcomes``; every table returned is a Polars frame, ready for HTML, XLSX or
the console. This module puts the pieces together (:func:`compute_outcomes`); they live in ``settings`` and
``frames`` (the inputs), ``stats`` (tests and intervals), ``attribution``, ``uplift``, ``verdicts`` (the decision
and its prose), ``tables`` and ``formatting``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from dunning.reporting.attribution import account_units, attribute_payments, attribution_summary
from dunning.reporting.frames import OutcomeFrames
from dunning.reporting.settings import HOLDOUT, OutcomeSettings
from dunning.reporting.tables import (
    Finding,
    complaints_by_template,
    delivery_by_carrier,
    failure_reasons,
    metrics,
    recovery_by_bucket,
    repayment_curve,
)
from dunning.reporting.uplift import outcome_cube, uplift
from dunning.reporting.verdicts import Verdict, verdict_table, verdicts


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

