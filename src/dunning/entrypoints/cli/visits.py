"""`dunning visits …`: the safety-timer tick (for cron), the field-staff registry, a day's route sheets, the
visit-notice SMS."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from dunning.entrypoints.cli.common import (
    acting,
    acting_admin,
    acting_principal,
    console,
    context,
    emit_json,
    handled,
    parse_date,
)
from dunning.errors import InputError

app = typer.Typer(help="外访：安全计时、人员名册、路线单、外访通知 / field visits", no_args_is_help=True)


@app.command("tick")
def tick(json_out: bool = typer.Option(False, "--json", help="输出 JSON")) -> None:
    """安全计时器走一拍：超时未报平安的外访立即报警，无人确认的警报逐级升级并发送告警短信（供 cron 每分钟调用）。"""
    from dunning.services.visits.safety import tick as run_tick

    with handled(json_out):
        r = run_tick(context())
    if json_out:
        emit_json({"raised": r.raised, "escalated": r.escalated,
                   "alerts": {"sent": r.alerts.sent, "retrying": r.alerts.retrying, "failed": r.alerts.failed}})
        return
    console.print(f"新警报 raised: {len(r.raised)}  升级 escalated: {len(r.escalated)}  "
                  f"告警短信 alerts sent/retrying/failed: {len(r.alerts.sent)}/{len(r.alerts.retrying)}/"
                  f"{len(r.alerts.failed)}")


@app.command("staff")
def staff(
    username: Annotated[str, typer.Argument(help="用户名")],
    name: Annotated[str, typer.Option("--name", help="姓名")],
    credential: Annotated[str, typer.Option("--credential", help="工作证件编号")],
    valid_until: Annotated[str, typer.Option("--valid-until", help="证件有效期至 YYYY-MM-DD")],
    trained_on: Annotated[str, typer.Option("--trained-on", help="最近一次合规培训日期 YYYY-MM-DD")],
    agency: Annotated[str | None, typer.Option("--agency", help="所属委外机构")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """登记或更新外访人员（证件与培训）。"""
    from dunning.services.visits.registry import register_staff

    with handled(json_out):
        try:
            until, trained = date.fromisoformat(valid_until), date.fromisoformat(trained_on)
        except ValueError:
            raise InputError("日期格式应为 YYYY-MM-DD", "dates must be YYYY-MM-DD", code="visits.input") from None
        f = register_staff(ctx := context(), username, name, credential_no=credential, valid_until=until,
                           trained_on=trained, agency=agency, actor=acting(ctx))
    if json_out:
        emit_json({"username": f.username, "credential_no": f.credential_no, "valid_until": valid_until,
                   "trained_on": trained_on, "agency": agency})
        return
    console.print(f"已登记 {f.display_name}（{f.username}），证件 {f.credential_no} 有效至 {valid_until}")


@app.command("routes")
def routes(
    day: str = typer.Option(None, "--day", help="日期 YYYY-MM-DD（默认今天）"),
    seconds: float = typer.Option(10.0, "--seconds", help="求解时间上限（秒）"),
    json_out: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """排出某日已报备外访的路线单（每个两人小组一条路线）。"""
    from dunning.services.identity.auth import Principal
    from dunning.services.identity.users import Role
    from dunning.services.visits.sheets import day_sheets

    with handled(json_out):
        ctx = context()
        d = day_sheets(ctx, Principal(acting_admin(ctx), "cli", Role.ADMIN),  # a view of every team: admins
                       date.fromisoformat(day) if day else ctx.today(), time_limit_s=seconds)
    if json_out:
        emit_json({"day": d.day.isoformat(), "total_km": round(d.total_km, 2),
                   "teams": [{"team": s.members, "km": round(s.km, 2),
                              "stops": [{"visit": x.visit.id, "arrive": x.arrive, "address": x.visit.address,
                                         "reg_no": x.visit.reg_no} for x in s.stops]} for s in d.sheets],
                   "unassigned": [{"visit": v.id, "reason": en} for v, _zh, en in d.unassigned]})
        return
    for s in d.sheets:
        t = Table(title=f"{' + '.join(s.members)} · {s.km:.1f} km")
        for col in ("#", "到达", "地址", "登记号"):
            t.add_column(col)
        for i, x in enumerate(s.stops, 1):
            t.add_row(str(i), x.arrive, x.visit.address, x.visit.reg_no or "—")
        console.print(t)
    for v, zh, _en in d.unassigned:
        console.print(f"[yellow]无法排线 #{v.id}：{zh}[/]")


@app.command("notice")
def notice(
    visit_ids: Annotated[list[int] | None, typer.Argument(help="外访编号（可多个）")] = None,
    day: Annotated[str | None, typer.Option("--day", help="该日（YYYY-MM-DD）所有尚未通知的已审批外访")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="发送通道（默认：配置的默认通道）")] = None,
    actor: Annotated[str | None, typer.Option("--as", help="操作人用户名（外访主管）")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """为已审批登记、尚未开始的外访计划外访通知短信（批准的事实性模板 visit_notice；每个外访只通知一次），
    之后按常规流程试发、审批、发送：dunning campaign pilot|approve|send ID。需要外访主管。"""
    from dunning.services.bootstrap import ensure_bundled_templates
    from dunning.services.identity.users import Role
    from dunning.services.visits.notice import plan_visit_notices

    on = parse_date(day)
    with handled(json_out):
        if bool(visit_ids) == bool(day):
            raise InputError("请给出外访编号，或 --day 日期（二选一）", "give visit ids or --day, not both",
                             code="visits.input")
        ctx = context()
        p = acting_principal(ctx, actor, Role.SUPERVISOR)
        ensure_bundled_templates(ctx)
        r = plan_visit_notices(ctx, p, list(visit_ids or []), day=on, channel=channel)
    if json_out:
        emit_json(r.to_dict())
        return
    done = "、".join(f"#{i}" for i in r.notified) or "无"
    console.print(f"外访通知批次 #{r.campaign_id}：计划 {r.planned} 条，抑制 {r.suppressed} 条；已通知外访 {done}")
    for vid, reason in r.not_sent.items():
        console.print(f"[yellow]外访 #{vid} 的通知未能计划：{reason}[/]")
    if r.notified:
        console.print(f"下一步：dunning campaign pilot {r.campaign_id}，再由合规审核 approve，然后 send。")
