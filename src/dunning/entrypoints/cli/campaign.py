"""`dunning campaign …`: plan, show, pilot, approve, send, pause, resume, cancel, report."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich import progress as rp
from rich.table import Table

from dunning.entrypoints.cli.common import acting, console, context, emit_json, handled, parse_date, service
from dunning.services.identity.users import Role
from dunning.services.queries.labels import zh

app = typer.Typer(help="批次（campaign）：计划、试发、审批、发送、暂停/恢复/取消、报告", no_args_is_help=True)

ActorOpt = typer.Option(None, "--as", help="操作人用户名（默认：$DUNNING_USER 或系统用户）")
JsonOpt = typer.Option(False, "--json", help="输出 JSON")


def _table(title: str, rows: dict[str, Any], key: str = "项目", value: str = "数量") -> Table:
    t = Table(title=title)
    t.add_column(key)
    t.add_column(value, justify="right")
    for k, v in rows.items():
        t.add_row(zh(str(k)), f"{v:,}" if isinstance(v, int) else str(v))
    return t


def progress_bar() -> tuple[rp.Progress, Any]:
    bar = rp.Progress(
        rp.TextColumn("[bold]发送中"), rp.BarColumn(), rp.MofNCompleteColumn(), rp.TextColumn("失败 {task.fields[failed]}"),
        rp.TextColumn("抑制 {task.fields[suppressed]}"), rp.TextColumn("{task.fields[rate]:.0f} 条/秒"),
        rp.TimeElapsedColumn(), rp.TimeRemainingColumn(), console=console, transient=False,
    )
    state: dict[str, Any] = {"task": None}

    def on_progress(p: Any) -> None:
        if state["task"] is None:
            state["task"] = bar.add_task("send", total=p.total, failed=0, suppressed=0, rate=0.0)
        task = state["task"]
        done = p.submitted + p.failed + p.suppressed
        elapsed = bar.tasks[task].elapsed or 1e-9
        bar.update(task, completed=done, failed=p.failed, suppressed=p.suppressed, rate=p.submitted / elapsed)

    return bar, on_progress


@app.command("plan")
def plan(
    strategy: Path = typer.Option(None, "--strategy", help="策略文件 YAML（默认：内置中国策略）", exists=True,
                                  dir_okay=False),
    as_of: str = typer.Option(None, "--as-of", help="业务日期 YYYY-MM-DD（默认：导入批次的日期）"),
    import_id: int = typer.Option(None, "--import", help="导入批次号（默认：最近一次）"),
    channel: str = typer.Option(None, "--channel", help="发送通道名称"),
    policy: Path = typer.Option(None, "--policy", help="公司合规覆盖文件", exists=True, dir_okay=False),
    actor: str = ActorOpt,
    json_out: bool = JsonOpt,
) -> None:
    """按策略为某业务日期创建批次：逐账户生成短信或抑制原因。"""
    from dunning.services.bootstrap import ensure_bundled_templates
    from dunning.services.campaigns import planning

    with service(json_out) as ctx:
        ensure_bundled_templates(ctx)
        s = planning.plan_campaign(ctx, actor=acting(ctx, actor, Role.OPERATOR), strategy_path=strategy, import_id=import_id,
                                    as_of=parse_date(as_of), channel=channel, policy_overlay=policy)
        today = ctx.today()
    if json_out:
        emit_json(s.to_dict())
        return
    if s.already_planned:
        console.print(f"[yellow]批次 #{s.campaign_id} 已存在（{zh(s.state)}），未重复计划。[/]")
    console.print(f"批次 [bold]#{s.campaign_id}[/] · {s.strategy} · 业务日期 {s.as_of} · 账户 {s.accounts:,}")
    _explain_past_as_of(s, today)
    console.print(_table("计划 Planned", {"计划发送": s.planned, "已抑制": s.suppressed, "今日无需提醒": s.not_due_today}))
    console.print(_table("按分群 By segment", s.by_segment, "分群"))
    console.print(_table("按模板 By template", s.by_template, "模板"))
    if s.by_reason:
        console.print(_table("抑制原因 Suppressed", s.by_reason, "原因"))
    if s.calendar_warning:
        console.print(f"[bold yellow]注意[/] {s.calendar_warning['zh']}")
        console.print(f"[dim]{s.calendar_warning['en']}[/]")


def _explain_past_as_of(s: Any, today: Any) -> None:
    """A business date before today: its send window is over, so nothing is due to be sent today because of it."""
    if date.fromisoformat(s.as_of) < today:
        console.print(f"[yellow]业务日期 {s.as_of} 早于今天（{today}）：该日的发送时段已过，"
                      f"因此没有短信会在今天发送（{s.planned:,} 条计划只能过期）。如需今天提醒，请去掉 --as-of 或改为今天。[/]")


@app.command("show")
def show(campaign_id: int = typer.Argument(..., help="批次号"), json_out: bool = JsonOpt) -> None:
    """批次状态与各状态短信数量。"""
    from dunning.services.campaigns import lifecycle

    with handled(json_out):
        st = lifecycle.status(context(), campaign_id)
    if json_out:
        emit_json(st)
        return
    console.print(f"批次 [bold]#{st['campaign_id']}[/] {st['name']} · 状态 [bold]{zh(st['state'])}[/] · 通道 {st['channel']}")
    if st["pause_reason"]:
        console.print(f"[yellow]暂停原因：{st['pause_reason']}[/]")
    console.print(_table("短信状态", st["messages"], "状态"))
    if st.get("held_hint"):
        console.print(f"[bold yellow]暂扣 {st['held']} 条[/]：{st['held_hint']}")
    if st["suppressed_by_reason"]:
        console.print(_table("抑制原因", st["suppressed_by_reason"], "原因"))


@app.command("list")
def list_(json_out: bool = JsonOpt) -> None:
    """最近的批次。"""
    from dunning.services.campaigns import lifecycle

    with handled(json_out):
        rows = lifecycle.list_campaigns(context())
    if json_out:
        emit_json(rows)
        return
    t = Table(title="批次")
    for col in ("#", "名称", "状态", "业务日期", "计划发送"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r["campaign_id"]), r["name"], zh(r["state"]), r["as_of"], f"{r['planned']:,}")
    console.print(t)


def _step(step: Callable[..., dict[str, Any]], campaign_id: int, actor: str | None, json_out: bool,
          *roles: Role) -> dict[str, Any]:
    """Run one lifecycle step as the authenticated person holding one of ``roles``; with ``--json`` the result
    is printed here."""
    with service(json_out) as ctx:
        r = step(ctx, campaign_id, actor=acting(ctx, actor, *roles))
    if json_out:
        emit_json(r)
    return r


@app.command("pilot")
def pilot(campaign_id: int, actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """试发：按分群与变体分层抽样发送，并给出是否达标。"""
    from dunning.services.campaigns import lifecycle

    r = _step(lifecycle.start_pilot, campaign_id, actor, json_out, Role.OPERATOR)
    if json_out:
        if not r["go"]:
            raise typer.Exit(1)
        return
    if r.get("already_piloting"):
        console.print(f"[yellow]批次 #{campaign_id} 已在试发中，以下为当前结果。[/]")
    console.print(f"试发样本 {r['sample']}，已发送 {r['sent']}，已送达 {r['delivered']}")
    for name, chk in r["checks"].items():
        mark = "[green]✓[/]" if chk["ok"] else "[red]✗[/]"
        console.print(f"  {mark} {zh(name)}: {chk['value']}（阈值 {chk['threshold']}）")
    console.print("[green]达标：可由第二人审批[/]" if r["go"] else "[red]未达标：不能批准全量发送[/]")
    if not r["go"]:
        raise typer.Exit(1)


@app.command("approve")
def approve(campaign_id: int, actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """审批试发（须为合规审核角色，且不是计划或试发的人）。"""
    from dunning.services.campaigns import lifecycle

    r = _step(lifecycle.approve_pilot, campaign_id, actor, json_out, Role.COMPLIANCE)
    if json_out:
        return
    if r.get("already_approved"):
        console.print(f"[yellow]批次 #{campaign_id} 的试发已由 {r['approved_by']} 批准过（现为{zh(r['state'])}），无需再次审批。[/]")
        return
    console.print(f"[green]批次 #{campaign_id} 试发已由 {r['approved_by']} 批准，可全量发送。[/]")


@app.command("send")
def send(campaign_id: int, actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """全量发送（实时进度；完成、暂停、取消或发送时段结束时返回）。"""
    from dunning.services.campaigns import lifecycle

    with service(json_out) as ctx:
        if json_out:
            r = lifecycle.send_campaign(ctx, campaign_id, actor=acting(ctx, actor, Role.OPERATOR))
        else:
            bar, on_progress = progress_bar()
            with bar:
                # Before the first message goes, a dead sender's interrupted messages are checked with the
                # provider: say so (with its deadline and that Ctrl+C interrupts) instead of a silent bar.
                r = lifecycle.send_campaign(ctx, campaign_id, actor=acting(ctx, actor, Role.OPERATOR), on_progress=on_progress,
                                            on_wait=lambda say: bar.console.print(f"[yellow]{say}[/]"))
    if json_out:
        emit_json(r)
        return
    if r.get("already_finished"):
        console.print(f"[yellow]批次 #{campaign_id} 已结束（{zh(r['state'])}），未发送任何短信。[/]")
    console.print(_table(f"批次 #{campaign_id} · {zh(r['state'])}", r["messages"], "状态"))
    if r.get("detail"):
        console.print(r["detail"])
    elif r.get("held_hint"):
        console.print(f"[bold yellow]暂扣 {r['held']} 条[/]：{r['held_hint']}")


def _simple(action: str):
    def cmd(campaign_id: int, actor: str = ActorOpt, json_out: bool = JsonOpt,
            reason: str = typer.Option("", "--reason", help="原因（暂停时）")) -> None:
        from dunning.services.campaigns import lifecycle

        with service(json_out) as ctx:
            who = acting(ctx, actor, *((Role.OPERATOR, Role.COMPLIANCE) if action == "pause" else (Role.OPERATOR,)))
            if action == "pause":
                r = lifecycle.pause(ctx, campaign_id, actor=who, reason=reason)
            elif action == "resume":
                r = lifecycle.resume(ctx, campaign_id, actor=who)
            else:
                r = lifecycle.cancel(ctx, campaign_id, actor=who)
        if json_out:
            emit_json(r)
        else:
            console.print(f"批次 #{campaign_id} 现为 [bold]{zh(r['state'])}[/]")

    return cmd


app.command("pause", help="暂停发送（1 秒内生效）")(_simple("pause"))
app.command("resume", help="恢复发送（之后运行 send 继续）")(_simple("resume"))
app.command("cancel", help="取消批次：未发送的短信不再发送")(_simple("cancel"))


@app.command("report")
def report(campaign_id: int, out: Path = typer.Option(None, "--out", help="HTML 路径"), json_out: bool = JsonOpt) -> None:
    """生成批次报告（HTML 图表 + Excel）。"""
    from dunning.services.campaigns.reports import write_campaign_report

    with handled(json_out):
        paths = write_campaign_report(context(), campaign_id, out)
    if json_out:
        emit_json(paths)
    else:
        console.print(f"报告：{paths['html']}\nExcel：{paths['xlsx']}")
