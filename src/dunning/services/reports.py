"""Campaign reports: the figures, an HTML page with charts, and an Excel export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from dunning.db.bulk import read_frame
from dunning.reporting.html import bar_chart, funnel_chart, write_report
from dunning.services.campaigns import status
from dunning.services.context import AppContext
from dunning.services.planning import SUPPRESSION_ZH


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
    sent_states = ["submitted", "delivered", "failed", "expired", "held"]
    by_state = st["messages"]
    sent = sum(by_state.get(k, 0) for k in sent_states)
    per_segment = (
        msgs.filter(pl.col("state").is_in(sent_states + ["planned", "queued"]))
        .group_by("segment", "state").len().pivot(on="state", index="segment", values="len").fill_null(0)
        .sort("segment")
    ) if msgs.height else pl.DataFrame()
    per_template = (
        msgs.filter(pl.col("template").is_not_null() & pl.col("state").is_in(sent_states))
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


def write_campaign_report(ctx: AppContext, campaign_id: int, out: Path | None = None) -> dict[str, str]:
    f = campaign_figures(ctx, campaign_id)
    st = f["status"]
    out = out or ctx.data_dir / "reports" / f"campaign-{campaign_id}.html"
    charts = [funnel_chart([("计划发送 planned", f["planned"]), ("已提交 sent", f["sent"]),
                            ("已送达 delivered", f["delivered"])], "发送漏斗 Delivery funnel")]
    seg = f["per_segment"]
    if seg.height:
        cols = [c for c in ("delivered", "submitted", "failed", "expired", "held", "queued", "planned")
                if c in seg.columns]
        charts.append(bar_chart(seg["segment"].to_list(), {c: seg[c].to_list() for c in cols},
                                "各分群消息状态 Messages by segment"))
    reasons = st["suppressed_by_reason"]
    tables = [
        {"title": "抑制原因 Suppressed by reason", "header": ["原因", "条数"],
         "rows": [[f"{SUPPRESSION_ZH.get(k, k)}（{k}）", v] for k, v in sorted(reasons.items(), key=lambda x: -x[1])]},
        {"title": "模板与变体 Templates and variants", "header": ["模板", "变体", "已发送", "已送达", "送达率"],
         "rows": [[t, v or "", n, d, f"{d / n:.1%}" if n else "—"] for t, v, n, d in f["per_template"].iter_rows()]},
        {"title": "回复 Replies", "header": ["类别", "条数"], "rows": [[k, v] for k, v in f["replies"].items()]},
    ]
    cards = [("计划发送", f["planned"]), ("已抑制", f["suppressed"]), ("已提交", f["sent"]),
             ("已送达", f["delivered"]), ("失败", f["failed"]), ("过期", f["expired"])]
    write_report(out, title=f"批次报告 #{campaign_id} · {st['name']}（{st['state']}）", cards=cards, charts=charts,
                 tables=tables, footer="dunning · 数据来自本地数据库；手机号与姓名不出现在报告中。")
    xlsx = out.with_suffix(".xlsx")
    import xlsxwriter

    with xlsxwriter.Workbook(str(xlsx)) as wb:
        if seg.height:
            seg.write_excel(wb, worksheet="分群 segments")
        if f["per_template"].height:
            f["per_template"].write_excel(wb, worksheet="模板 templates")
        pl.DataFrame({"reason": list(reasons), "count": list(reasons.values())},
                     schema={"reason": pl.Utf8, "count": pl.Int64}).write_excel(wb, worksheet="抑制 suppressed")
    return {"html": str(out), "xlsx": str(xlsx)}
