"""`dunning messages held|resolve`: messages whose send outcome is unknown, and a person's way out for them."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import typer
from rich.table import Table

from dunning.entrypoints.cli.common import acting, console, context, emit_json, handled
from dunning.errors import InputError

app = typer.Typer(help="短信：暂扣（结果未知）短信的查看与人工处理 / messages held for a person", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="输出 JSON / JSON output")


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds // 60} 分钟"
    if seconds < 86400:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 86400} 天"


@app.command("held")
def held(
    campaign: int | None = typer.Option(None, "--campaign", help="只看该批次 / only this campaign"),
    limit: int = typer.Option(1000, "--limit", min=1, help="最多列出条数"),
    json_out: bool = JsonOpt,
) -> None:
    """列出暂扣短信（原因、暂扣时长；手机号已脱敏）。它们不会被自动重发。"""
    from dunning.services.campaigns.held import as_dict, list_held

    with handled(json_out):
        rows = list_held(context(), campaign_id=campaign, limit=limit)
    if json_out:
        emit_json([as_dict(r) for r in rows])
        return
    if not rows:
        console.print("没有暂扣的短信。")
        return
    t = Table(title=f"暂扣短信 {len(rows)} 条")
    for col in ("ID", "批次", "手机号", "通道", "原因", "时长", "说明"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r.id), f"#{r.campaign_id}", r.phone, r.channel or "—", r.reason_zh, _age(r.age_seconds),
                  (r.detail or "")[:60])
    console.print(t)
    console.print("处理：dunning messages resolve <ID…> --as-sent|--requeue --reason 说明（合规或管理员角色）")


@app.command("resolve")
def resolve(
    ids: list[int] = typer.Argument(..., help="短信 ID（可多个）"),
    as_sent: bool = typer.Option(False, "--as-sent", help="已核实发出：记为已提交"),
    requeue: bool = typer.Option(False, "--requeue", help="已核实未发出：重新排队，下次 send 时发送"),
    reason: str = typer.Option("", "--reason", help="原因（必填，写入审计）"),
    actor: str | None = typer.Option(None, "--as", help="操作人用户名（默认：$DUNNING_USER 或系统用户）"),
    json_out: bool = JsonOpt,
) -> None:
    """人工处理暂扣短信：须合规或管理员角色，须填写原因，写入审计。"""
    from dunning.services.campaigns.held import resolve as do_resolve

    with handled(json_out):
        if as_sent == requeue:
            raise InputError("请选择且只选择一种处理方式：--as-sent 或 --requeue",
                             "choose exactly one of --as-sent / --requeue", code="input.resolution")
        r = do_resolve(ctx := context(), ids, resolution="as_sent" if as_sent else "requeue", reason=reason,
                       actor=acting(ctx, actor))
    if json_out:
        emit_json(r)
        return
    what = "确认已发送" if as_sent else "重新排队（运行 dunning campaign send 发送）"
    console.print(f"已处理 {r['resolved']} 条：{what}。")
    for cid in r["completed"]:
        console.print(f"批次 #{cid} 已无待处理短信，已完成。")
