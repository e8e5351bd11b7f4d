"""Campaign reports: the figures, the outcomes (what reminders collected and caused), an HTML page with charts and
an Excel export. :func:`outcome_view` gives the same charts (HTML fragments) and tables to the web console."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dunning.db.bulk import read_frame
from dunning.domain.carriers import CARRIER_ZH
from dunning.domain.states import SENT_STATES
from dunning.exports import write_xlsx_sheets
from dunning.reporting.formatting import KINDS
from dunning.reporting.html import (
    TextBlock,
    arm_label,
    bar_chart,
    chart_language,
    delivery_by_carrier_chart,
    funnel_chart,
    recovery_by_bucket_chart,
    render_report,
    repayment_curve_chart,
    uplift_chart,
    uplift_verdict,
    write_report,
)
from dunning.reporting.outcomes import CampaignOutcomes
from dunning.reporting.settings import OutcomeSettings
from dunning.services.calendar import next_year_warning
from dunning.services.campaigns.lifecycle import status
from dunning.services.campaigns.outcomes import campaign_outcomes
from dunning.services.campaigns.planning import SUPPRESSION_ZH
from dunning.services.context import AppContext
from dunning.services.visits.outcomes import visit_outcomes

_SENT_STATES = list(SENT_STATES)


def campaign_figures(ctx: AppContext, campaign_id: int) -> dict[str, Any]:
    st = status(ctx, campaign_id)
    with ctx.db.transaction() as s:
        msgs = read_frame(
            s,
            "SELECT m.segment, m.variant, m.state, m.reason, t.code AS template FROM messages m "
            "LEFT JOIN template_versions v ON v.id = m.template_version_id "
            "LEFT JOIN templates t ON t.id = v.template_id WHERE m.campaign_id = :c",
            {"c": campaign_id},
            schema={"segment": pl.Utf8, "variant": pl.Utf8, "state": pl.Utf8, "reason": pl.Utf8, "template": pl.Utf8},
        )
        replies = read_frame(
            s, "SELECT r.classification, COUNT(*) AS n FROM replies r JOIN messages m ON m.id = r.message_id "
               "WHERE m.campaign_id = :c GROUP BY r.classification", {"c": campaign_id},
            schema={"classification": pl.Utf8, "n": pl.Int64})
    by_state = st["messages"]
    sent = sum(by_state.get(k, 0) for k in _SENT_STATES)
    per_segment = (
        msgs.filter(pl.col("state").is_in(_SENT_STATES + ["planned", "queued"]))
        .group_by("segment", "state").len().pivot(on="state", index="segment", values="len").fill_null(0)
        .sort("segment")
    ) if msgs.height else pl.DataFrame()
    per_template = (
        msgs.filter(pl.col("template").is_not_null() & pl.col("state").is_in(_SENT_STATES))
        .group_by("template", "variant").agg(pl.len().alias("sent"),
                                             (pl.col("state") == "delivered").sum().alias("delivered"))
        .sort("template", "variant")
    )
    return {
        "status": st,
        "planned": st["plan"].get("planned", 0),
        "suppressed": by_state.get("suppressed", 0),
        "sent": sent,
        "delivered": by_state.get("delivered", 0),
        "failed": by_state.get("failed", 0),
        "expired": by_state.get("expired", 0),
        "held": by_state.get("held", 0),
        "per_segment": per_segment,
        "per_template": per_template,
        "replies": {k: int(v) for k, v in replies.iter_rows()},
    }


# ------------------------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class ReportChart:
    """One chart as an HTML fragment (a ``<div>`` and its script; needs the ``Plotly`` global, see
    :func:`dunning.reporting.html.plotly_js`)."""

    key: str
    title: str
    html: str


@dataclass(frozen=True)
class ReportTable:
    """One table: ``header`` and formatted ``rows`` for a page; ``frame`` with typed values (money in yuan,
    rates as shares) for a spreadsheet under the worksheet name ``sheet``. ``on_page`` False: spreadsheet only."""

    key: str
    title: str
    sheet: str
    header: list[str]
    rows: list[list[str]]
    frame: pl.DataFrame
    on_page: bool = True


@dataclass(frozen=True)
class OutcomeView:
    """What the report and the console show about a campaign's outcomes."""

    outcomes: CampaignOutcomes
    cards: list[tuple[str, str]]
    blocks: list[TextBlock]
    charts: list[ReportChart]
    tables: list[ReportTable]


_METHOD_ZH = {"newcombe": "z 检验 + Newcombe", "stratified-wald": "分层加权 Wald"}

_METRIC_COLS: list[tuple[str, str, str]] = [
    ("accounts", "账户 accounts", "int"),
    ("attempted", "已提交 attempted", "int"),
    ("delivered", "已送达 delivered", "int"),
    ("delivered_rate", "送达率 delivered rate", "pct"),
    ("repaid", "还款账户 repaid", "int"),
    ("repayment_rate", "还款率 repayment rate", "pct"),
    ("full", "全额 full", "int"),
    ("partial", "部分 partial", "int"),
    ("recovered_fen", "回收金额 recovered", "yuan"),
    ("recovery_rate", "回收率 recovery rate", "pct"),
    ("median_days_to_pay", "还款天数中位数 median days to pay", "days"),
    ("attr_repayment_rate", "送达后还款率 repaid per delivered", "pct"),
    ("attributed_fen", "归因金额 attributed", "yuan"),
    ("n_arm", "对比样本 compared n", "int"),
    ("n_holdout", "对照组样本 hold-out n", "int"),
    ("rate_holdout", "对照组还款率 hold-out rate", "pct"),
    ("uplift", "提升(百分点) uplift pp", "pp"),
    ("ci_low", "区间下限 CI low pp", "pp"),
    ("ci_high", "区间上限 CI high pp", "pp"),
    ("p_value", "p 值 p-value", "p"),
    ("method", "方法 method", "text"),
]


def _table(key: str, title: str, sheet: str, frame: pl.DataFrame, cols: list[tuple[str, str, str]],
           *, on_page: bool = True, labels: dict[str, Callable[[Any], Any]] | None = None) -> ReportTable:
    """Format ``frame`` by the column spec ``(source, header, kind)``; ``labels`` map raw values for display."""
    present = [(c, h, k) for c, h, k in cols if c in frame.columns]
    labels = labels or {}
    shown = frame.with_columns(*(pl.col(c).map_elements(fn, return_dtype=pl.String) for c, fn in labels.items()
                                 if c in frame.columns)) if frame.height else frame
    if "method" in shown.columns:
        shown = shown.with_columns(pl.col("method").replace(_METHOD_ZH))
    xlsx = shown.select(*(KINDS[k][1](pl.col(c)).alias(h) for c, h, k in present)) if present else pl.DataFrame()
    # Page cells are formatted from the spreadsheet's values (yuan, percentage points), never from raw fen.
    rows = [[KINDS[k][0](v) for (_c, _h, k), v in zip(present, row, strict=True)]
            for row in xlsx.iter_rows()] if present else []
    return ReportTable(key=key, title=title, sheet=sheet, header=[h for _c, h, _k in present], rows=rows,
                       frame=xlsx, on_page=on_page)


def _carrier(v: Any) -> str:
    return CARRIER_ZH.get(str(v), str(v))


def _arm(v: Any) -> str:
    return arm_label(str(v))


def _outcome_tables(o: CampaignOutcomes) -> list[ReportTable]:
    w = o.settings.window_days
    tables = [
        _table("verdicts", "冠军/挑战者结论 Champion/challenger verdicts", "结论 verdicts", o.verdict_table, [
            ("segment", "分群 segment", "text"), ("step", "步骤 step", "text"), ("verdict", "结论 verdict", "text"),
            ("best", "最佳 best", "text"), ("best_rate", "最佳还款率 best rate", "pct"),
            ("best_n", "最佳样本 best n", "int"), ("runner_up", "次佳 runner-up", "text"),
            ("runner_up_rate", "次佳还款率 runner-up rate", "pct"), ("runner_up_n", "次佳样本 runner-up n", "int"), ("diff", "差值 diff pp", "pp"), ("ci_low", "下限 low pp", "pp"),
            ("ci_high", "上限 high pp", "pp"), ("p_value", "p", "p"),
            ("needed_per_arm", "每组所需样本 needed per arm", "int"),
            ("uplift_vs_holdout", "相对对照组 vs hold-out pp", "pp"), ("text_zh", "说明", "text"),
            ("text_en", "explanation", "text")], on_page=False),
        _table("overall", f"总体（{w} 天窗口）Overall, {w}-day window", "总体 overall", o.overall,
               [("group", "组 group", "text"), *_METRIC_COLS], labels={"group": _arm}),
        _table("by_variant", "按变体 By variant (vs hold-out of its segment/step)", "变体 variants", o.by_variant,
               [("segment", "分群 segment", "text"), ("step", "步骤 step", "text"), ("arm", "变体 variant", "text"),
                *_METRIC_COLS], labels={"arm": _arm}),
        _table("by_segment", "按分群 By segment", "分群 segments", o.by_segment,
               [("segment", "分群 segment", "text"), *_METRIC_COLS]),
        _table("by_template", "按模板版本 By template version", "模板 templates", o.by_template,
               [("template", "模板 template", "text"), *_METRIC_COLS]),
        _table("by_bucket", "按逾期阶段回收 Recovery by DPD bucket", "阶段 buckets", o.by_bucket, [
            ("bucket", "阶段 bucket", "text"), ("group", "组 group", "text"), ("accounts", "账户 accounts", "int"),
            ("repaid", "还款账户 repaid", "int"), ("repayment_rate", "还款率 repayment rate", "pct"),
            ("due_fen", "应还 due", "yuan"), ("recovered_fen", "回收 recovered", "yuan"),
            ("recovery_rate", "回收率 recovery rate", "pct"), ("attributed_fen", "归因 attributed", "yuan")],
            labels={"group": _arm}),
        _table("attribution", f"还款归因（{w} 天内最近一条已送达短信）Payment attribution", "归因 attribution",
               o.attribution, [("attribution", "归属 attribution", "text"), ("payments", "笔数 payments", "int"),
                               ("amount_fen", "金额 amount", "yuan")], labels={"attribution": _attribution_label}),
        _table("delivery", "送达（通道 × 运营商）Delivery by channel and carrier", "送达 delivery", o.delivery, [
            ("channel", "通道 channel", "text"), ("carrier", "运营商 carrier", "text"),
            ("to_send", "应发 to send", "int"), ("attempted", "已提交 attempted", "int"),
            ("delivered", "已送达 delivered", "int"), ("failed", "失败 failed", "int"),
            ("expired", "过期 expired", "int"), ("held", "待处理 held", "int"),
            ("in_flight", "等待回执 in flight", "int"), ("delivered_rate", "送达率 delivered rate", "pct")],
            labels={"carrier": _carrier}),
        _table("failures", "失败原因 Failure reasons", "失败 failures", o.failures, [
            ("channel", "通道 channel", "text"), ("carrier", "运营商 carrier", "text"),
            ("state", "状态 state", "text"), ("code", "原因代码 code", "text"),
            ("messages", "条数 messages", "int"), ("share", "占已提交 share of attempted", "pct")],
            labels={"carrier": _carrier}),
        _table("complaints", "按模板的退订与争议 Opt-outs and disputes by template", "投诉 complaints",
               o.complaints, [
                   ("template", "模板 template", "text"), ("delivered", "已送达 delivered", "int"),
                   ("opt_outs", "退订 opt-outs", "int"), ("opt_out_rate", "退订率 opt-out rate", "pct"),
                   ("disputes", "争议 disputes", "int"), ("dispute_rate", "争议率 dispute rate", "pct"),
                   ("complaint_rate", "投诉率 complaint rate", "pct"),
                   ("rest_complaint_rate", "其他模板 other templates", "pct"),
                   ("attr_repayment_rate", "送达后还款率 repaid per delivered", "pct"),
                   ("finding", "需复核 finding", "text")],
               labels={"finding": lambda v: "是 yes" if v else ""}),
        _table("curve", "还款曲线 Repayment curve", "曲线 curve", o.curve, [
            ("arm", "组 arm", "text"), ("day", "天 day", "int"), ("accounts", "账户 accounts", "int"),
            ("repaid", "累计还款 repaid", "int"), ("share", "占比 share", "pct")], on_page=False,
            labels={"arm": _arm}),
    ]
    return tables


_ATTRIBUTION_ZH = {
    "this_campaign_full": "本批次短信（全额还清）this campaign, full",
    "this_campaign_partial": "本批次短信（部分还款）this campaign, partial",
    "other_campaign": "其他批次的短信 another campaign",
    "unattributed": "无已送达短信（未归因）unattributed",
}


def _attribution_label(v: Any) -> str:
    return _ATTRIBUTION_ZH.get(str(v), str(v))


def _method_block(o: CampaignOutcomes) -> TextBlock:
    s = o.settings
    return TextBlock("方法 Method", [
        (f"归因：每笔还款归于同一借据在还款前 {s.window_days} 天内（含）最近一条已送达的短信；失败、过期或未发送的短信不获归因。"
         "全额/部分以该账户应还金额为准。",
         f"Attribution: a payment is credited to the latest delivered message to its loan sent within the "
         f"{s.window_days} days before it (inclusive); failed, expired or unsent messages earn no credit. Full vs "
         "partial is against the account's amount due."),
        (f"提升：按分配意向（ITT）比较，同一分群/步骤内随机分配的各变体与对照组，自计划发送时间起 {s.window_days} 天内"
         f"是否有还款。检验为两比例 z 检验，置信区间为 Newcombe 混合得分区间（{s.confidence:.0%}）；跨多个分层合并时为"
         "按发送组账户数加权的分层差值与 Wald 区间。区间不含 0 时才判定胜者（多于两个变体时做 Bonferroni 校正），否则给出检出"
         f"差异所需的每组样本量（检验力 {s.power:.0%}，最小关注差异 {s.min_effect * 100:.1f} 个百分点）。",
         f"Uplift: intention to treat — every account randomly assigned to a variant or to the hold-out within "
         f"a segment/step, counted as repaid when any payment arrived within {s.window_days} days of the planned "
         f"send time. Two-proportion z-test with Newcombe's hybrid score interval ({s.confidence:.0%}); figures "
         "pooled over several strata use a stratum-weighted difference with a Wald interval. A winner is declared "
         "only when the interval excludes 0 (Bonferroni-adjusted for more than two variants); otherwise the "
         f"sample size per arm needed at {s.power:.0%} power is given (minimum effect of interest "
         f"{s.min_effect * 100:.1f} pp)."),
        ("每次查看报告都会重新检验；反复查看、一有显著就停止，会提高误判率。请预先确定样本量和观察期。",
         "Every look re-tests; stopping at the first significant look inflates false winners. Fix the sample "
         "size and window in advance."),
    ], "note")


def _blocks(o: CampaignOutcomes) -> list[TextBlock]:
    blocks: list[TextBlock] = []
    # A stratum with one variant and no hold-out has nothing to compare: one line names them all.
    idle = [v for v in o.verdicts if v.kind == "single_arm" and v.vs_holdout is None]
    shown = [v for v in o.verdicts if v not in idle]
    if o.verdicts:
        kind = "win" if any(v.kind == "winner" for v in o.verdicts) else ""
        lines = [(v.text_zh, v.text_en) for v in shown]
        if idle:
            names = "、".join(f"{v.segment}/{v.step}" for v in idle)
            lines.append((f"其余 {len(idle)} 个分群/步骤只有一个变体且没有对照组，无从比较：{names}。",
                          f"{len(idle)} more segment/steps have one variant and no hold-out, so nothing to "
                          f"compare: {', '.join(f'{v.segment}/{v.step}' for v in idle)}."))
        blocks.append(TextBlock("结论 Verdicts", lines, kind))
    else:
        blocks.append(TextBlock("结论 Verdicts", [("本批次没有分配变体的账户，无法比较。",
                                                  "No account of this campaign was assigned to a variant.")]))
    if o.findings:
        blocks.append(TextBlock("发现 Findings", [(f.message_zh, f.message_en) for f in o.findings], "warn"))
    if o.notes_zh:
        blocks.append(TextBlock("注意 Notice", [(n, "") for n in o.notes_zh], "warn"))
    blocks.append(_method_block(o))
    return blocks


def _charts(o: CampaignOutcomes, figures: dict[str, Any] | None) -> list[ReportChart]:
    w = o.settings.window_days
    why = o.funnel_why or [""] * len(o.funnel)
    stages = [(f"{label}（{reason}）" if reason else label, n) for (label, n), reason in zip(o.funnel, why, strict=False)]
    charts = [ReportChart("funnel", "发送与还款漏斗 Delivery and repayment funnel",
                          funnel_chart(stages, "发送与还款漏斗 Delivery and repayment funnel"))]
    if o.curve.height:
        seen = o.curve_observed_days if o.curve_observed_days is not None else o.settings.curve_days
        title = (f"还款曲线：各变体对比对照组（已观察 {seen} 天，共 {o.settings.curve_days} 天）"
                 f" Repayment curve by variant vs hold-out ({seen} of {o.settings.curve_days} days observed)")
        charts.append(ReportChart("curve", title, repayment_curve_chart(o.curve, w, title)))
    up = o.by_variant.filter(pl.col("uplift").is_not_null()) if "uplift" in o.by_variant.columns else None
    if up is not None and up.height:
        several = up.select("segment", "step").unique().height > 1
        rows = [(f"{seg}/{step}·{arm}" if several else str(arm), u, lo, hi)
                for seg, step, arm, u, lo, hi in up.select("segment", "step", "arm", "uplift", "ci_low", "ci_high")
                .iter_rows()]
        title = f"相对对照组的还款率提升（{o.settings.confidence:.0%} 区间）Uplift over hold-out"
        charts.append(ReportChart("uplift", title, uplift_chart(rows, title)))
    if o.by_bucket.height:
        title = "按逾期阶段回收 Recovery by DPD bucket"
        charts.append(ReportChart("recovery_by_bucket", title, recovery_by_bucket_chart(o.by_bucket, title)))
    if o.delivery.height:
        title = "按运营商的送达结果 Delivery by carrier"
        charts.append(ReportChart("delivery_by_carrier", title, delivery_by_carrier_chart(o.delivery, title)))
    seg = figures["per_segment"] if figures else pl.DataFrame()
    if seg.height:
        cols = [c for c in ("delivered", "submitted", "failed", "expired", "held", "queued", "planned")
                if c in seg.columns]
        title = "各分群消息状态 Messages by segment"
        charts.append(ReportChart("segments", title, bar_chart(seg["segment"].to_list(),
                                                               {c: seg[c].to_list() for c in cols}, title)))
    return charts


def _cards(o: CampaignOutcomes) -> list[tuple[str, str]]:
    u = o.units
    reminded = o.overall.filter(pl.col("group") == "reminded") if o.overall.height else o.overall
    up = reminded["uplift"][0] if reminded.height and "uplift" in reminded.columns else None
    return [
        ("已送达 delivered", f"{int(u['delivered'].sum()):,}"),
        (f"送达后 {o.settings.window_days} 天内还款 repaid after delivery", f"{int(u['attr_repaid'].sum()):,}"),
        ("归因回收 attributed", f"¥{int(u['attributed_fen'].sum()) / 100:,.0f}"),
        ("相对对照组提升 uplift", _uplift_card(reminded, up)),
    ]


def _uplift_card(reminded: pl.DataFrame, up: Any) -> str:
    """The headline uplift with its interval and verdict: "不显著" whenever the interval spans zero."""
    if up is None:
        return "— （无对照组 no hold-out）"
    row = reminded.row(0, named=True)
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        return f"{up * 100:+.1f}pp"
    return f"{up * 100:+.1f}pp [{low * 100:+.1f}, {high * 100:+.1f}] · {uplift_verdict(low, high)}"


def build_outcome_view(o: CampaignOutcomes, figures: dict[str, Any] | None = None) -> OutcomeView:
    """The report's cards, text blocks, charts and tables for computed outcomes (pure; no database)."""
    return OutcomeView(outcomes=o, cards=_cards(o), blocks=_blocks(o), charts=_charts(o, figures),
                       tables=_outcome_tables(o))


def outcome_view(ctx: AppContext, campaign_id: int, settings: OutcomeSettings | None = None) -> OutcomeView:
    """Charts (HTML fragments) and tables of campaign ``campaign_id``'s outcomes, for the console and reports."""
    return build_outcome_view(campaign_outcomes(ctx, campaign_id, settings), campaign_figures(ctx, campaign_id))


# ------------------------------------------------------------------------------------------- files


def _report_parts(ctx: AppContext, campaign_id: int,
                  settings: OutcomeSettings | None = None) -> tuple[dict[str, Any], list[ReportTable]]:
    """The page's title, cards, charts, tables, blocks and footer, and every table (for the Excel export)."""
    f = campaign_figures(ctx, campaign_id)
    view = build_outcome_view(campaign_outcomes(ctx, campaign_id, settings), f)
    st = f["status"]
    reasons = st["suppressed_by_reason"]
    suppressed = _table(
        "suppressed", "抑制原因 Suppressed by reason", "抑制 suppressed",
        pl.DataFrame({"reason": list(reasons), "count": list(reasons.values())},
                     schema={"reason": pl.Utf8, "count": pl.Int64}).sort("count", descending=True),
        [("reason", "原因 reason", "text"), ("count", "条数 messages", "int")],
        labels={"reason": lambda k: f"{SUPPRESSION_ZH.get(str(k), str(k))}（{k}）"})
    replies = _table("replies", "回复 Replies", "回复 replies",
                     pl.DataFrame({"kind": list(f["replies"]), "n": list(f["replies"].values())},
                                  schema={"kind": pl.Utf8, "n": pl.Int64}),
                     [("kind", "类别 kind", "text"), ("n", "条数 replies", "int")])
    visits = _table("visits", "外访后 30 天内还款（按小组，对比未外访账户）Repaid within 30 days of a field visit, by team",
                    "外访 visits", visit_outcomes(ctx, campaign_id=campaign_id), [("team", "小组 team", "text"), *_METRIC_COLS])
    tables = [*view.tables, suppressed, replies, visits]
    cards = [("计划发送 planned", f"{f['planned']:,}"), ("已抑制 suppressed", f"{f['suppressed']:,}"),
             ("已提交 sent", f"{f['sent']:,}"), *view.cards]
    warning = next_year_warning(ctx)
    calendar_blocks = [TextBlock("节假日日历 Holiday calendar", [warning], "warn")] if warning else []
    page = {"title": f"批次报告 #{campaign_id} · {st['name']}（{st['state']}）", "cards": cards,
            "charts": [c.html for c in view.charts],
            "tables": [{"title": t.title, "header": t.header, "rows": t.rows} for t in tables if t.on_page],
            "blocks": [*calendar_blocks, *view.blocks],
            "footer": "dunning · 数据来自本地数据库；手机号与姓名不出现在报告中。"
                      "Figures from the local database; no phone number or name appears in this report."}
    return page, tables


def campaign_report_html(ctx: AppContext, campaign_id: int, settings: OutcomeSettings | None = None,
                         lang: str = "both") -> str:
    """The HTML report as one self-contained page (for the console and the API); with ``lang`` "zh" or "en" the
    charts' legends, titles and axes are in that language only."""
    with chart_language(lang):
        page, _tables = _report_parts(ctx, campaign_id, settings)
    return render_report(**page)


def write_campaign_report(ctx: AppContext, campaign_id: int, out: Path | None = None,
                          settings: OutcomeSettings | None = None) -> dict[str, str]:
    """Write the HTML report (``out``, default ``<data_dir>/reports/campaign-ID.html``: one self-contained
    file) and the Excel export (same name, ``.xlsx``). Returns ``{"html": path, "xlsx": path}``."""
    page, tables = _report_parts(ctx, campaign_id, settings)
    out = out or ctx.data_dir / "reports" / f"campaign-{campaign_id}.html"
    write_report(out, **page)
    xlsx = out.with_suffix(".xlsx")
    write_xlsx_sheets({t.sheet: t.frame for t in tables if t.frame.width}, xlsx)
    return {"html": str(out), "xlsx": str(xlsx)}
