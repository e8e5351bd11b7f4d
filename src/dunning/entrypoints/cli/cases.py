"""`dunning cases …`: the borrower-case queue and the outcomes of hardship help."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import typer
from rich.table import Table

from dunning.entrypoints.cli.common import console, context, emit_json, handled

app = typer.Typer(help="借款人案件：异议、非本人、已还款核实、困难/分期、投诉、回电", no_args_is_help=True)


@app.command("outcomes")
def outcomes(window: int = typer.Option(30, "--window", min=1, max=365, help="申请后多少天内的还款"),
             json_out: bool = typer.Option(False, "--json", help="输出 JSON")) -> None:
    """困难帮助的效果：获得帮助（分期/暂缓）与未获得帮助的借款人，申请后 N 天内的还款率。"""
    from dunning.services.cases.report import hardship_outcomes

    with handled(json_out):
        r = hardship_outcomes(context(), window_days=window)
    if json_out:
        emit_json(r.to_dict())
        return
    t = Table(title=f"困难帮助后 {window} 天内还款 · Repayment within {window} days of a hardship request")
    for col in ("组别 group", "案件 cases", "已还款 repaid", "还款率 rate", "金额 amount"):
        t.add_column(col, justify="right" if "group" not in col else "left")
    labels = {"helped": "获得帮助 helped", "not_helped": "未获得帮助 not helped"}
    for g in r.groups:
        t.add_row(labels[g.group], f"{g.cases:,}", f"{g.repaid:,}",
                  "—" if g.repaid_rate is None else f"{g.repaid_rate:.1%}", f"{g.repaid_fen / 100:,.2f} 元")
    console.print(t)


@app.command("queue")
def queue(overdue: bool = typer.Option(False, "--overdue", help="仅超时"),
          json_out: bool = typer.Option(False, "--json", help="输出 JSON")) -> None:
    """未结案案件按时限分类（超时 / 24 小时内到期 / 正常）与团队。"""
    from dunning.services.cases.queries import open_summary

    with handled(json_out):
        rows = open_summary(context(), overdue_only=overdue)
    if json_out:
        emit_json(rows)
        return
    t = Table(title="未结案案件 · Open cases")
    for col in ("类型 type", "团队 team", "时限 SLA", "数量 count"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["type"], r["team"], r["sla"], f"{r['count']:,}")
    console.print(t)
