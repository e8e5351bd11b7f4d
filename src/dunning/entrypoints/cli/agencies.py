"""`dunning agencies …`, `dunning tenders …`, `dunning allocations …`: the outsourced-agency capability (issue 22)
from a terminal — the registry, tender score sheets and reports, allocation periods, recall, commission statements.

Every command authenticates the person (``--as`` is a claim checked like the other commands, see
:func:`dunning.entrypoints.cli.common.acting`); the services check the role of each change, and the reads here
follow the console: staff read everything, an agency user only its own agency, allocation and statement.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from dunning.entrypoints.cli.common import acting, acting_principal, console, emit_json, parse_date, service

app = typer.Typer(help="委外机构：名录、状态、佣金结算、年度评估 / outsourced agencies", no_args_is_help=True)
tenders_app = typer.Typer(help="委外招标：列表、评分表、招标报告 / agency tenders", no_args_is_help=True)
allocations_app = typer.Typer(help="分案：按授标分案、收回、委外告知、考核 / allocation periods", no_args_is_help=True)

ActorOpt = typer.Option(None, "--as", help="操作人用户名（须通过身份验证）")
JsonOpt = typer.Option(False, "--json", help="输出 JSON")


def register(root: typer.Typer) -> None:
    """Add the three groups to the root command."""
    root.add_typer(app, name="agencies")
    root.add_typer(tenders_app, name="tenders")
    root.add_typer(allocations_app, name="allocations")


def _viewer(ctx: Any, claimed: str | None, *, staff_only: bool = False) -> Any:
    """The authenticated person as a :class:`Principal` (role and agency from the user record); ``staff_only``
    refuses agency users (score sheets and tender reports are for the lender's staff)."""
    from dunning.errors import PermissionDenied
    from dunning.services.identity.users import Role

    p = acting_principal(ctx, claimed)
    username = p.username
    staff = (Role.ADMIN, Role.STRATEGIST, Role.COMPLIANCE, Role.OPERATOR, Role.VIEWER)
    if not p.has(*staff) and (staff_only or p.role is not Role.AGENCY):
        raise PermissionDenied(f"用户 {username}（{p.role_zh}）无权查看委外信息", f"user {username!r} may not see this")
    return p


def _done(json_out: bool, data: Any, line: str) -> None:
    """The command's result: ``data`` as JSON with ``--json``, else one line for a person."""
    if json_out:
        emit_json(data)
    else:
        console.print(line)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("—" if v is None else str(v) for v in r))
    console.print(t)


# ------------------------------------------------------------------------------------------------ agencies


@app.command("list")
def agencies_list(status: str = typer.Option(None, "--status", help="candidate|active|suspended|terminated"),
                  actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """委外机构名录（机构用户只看到本机构）与到期提醒。"""
    from dunning.services.agencies import registry

    with service(json_out) as ctx:
        p = _viewer(ctx, actor)
        rows = registry.list_agencies(ctx, p, status=status)
        due = registry.alerts(ctx) if p.role.value != "agency" else []
    if json_out:
        emit_json({"agencies": [asdict(a) for a in rows], "alerts": [asdict(a) for a in due]})
        return
    _table("委外机构 · Agencies", ["#", "简称", "法定名称", "状态", "承接能力", "账龄", "地区", "协议结束"],
           [[a.id, a.name, a.legal_name, a.status_zh + (" · 黑名单" if a.blacklisted else ""), f"{a.capacity:,}",
             ",".join(a.buckets) or "全部", ",".join(a.regions) or "全国", a.pipl_contract_end] for a in rows])
    for al in due:
        console.print(f"[yellow]到期提醒[/] {al.agency}：{al.title} {al.due}")


@app.command("show")
def agencies_show(agency_id: int = typer.Argument(..., help="机构编号"), actor: str = ActorOpt,
                  json_out: bool = JsonOpt) -> None:
    """一家机构的登记信息与资质文件。"""
    from dunning.services.agencies import registry

    with service(json_out) as ctx:
        a, docs = registry.detail(ctx, agency_id, _viewer(ctx, actor))
    if json_out:
        emit_json({"agency": asdict(a), "documents": docs})
        return
    console.print(f"#{a.id} {a.name}（{a.legal_name}）· {a.status_zh} {a.status_reason}"
                  f"{' · 黑名单' if a.blacklisted else ''}")
    console.print(f"承接能力 {a.capacity:,} · 账龄 {','.join(a.buckets) or '全部'} · 地区 {','.join(a.regions) or '全国'}"
                  f" · 协议 {a.pipl_contract_start or '—'} ~ {a.pipl_contract_end or '—'}"
                  f" · 下次年度评估 {a.next_evaluation_due or '—'}")
    _table("资质文件 · Documents", ["类型", "名称", "到期日"], [[d["kind"], d["title"], d["expires_on"]] for d in docs])


@app.command("add")
def agencies_add(name: str = typer.Argument(..., help="简称（与用户、账户上的机构名一致）"),
                 legal_name: str = typer.Option(..., "--legal-name", help="法定名称"),
                 capacity: int = typer.Option(0, "--capacity", min=0, help="承接能力（户数）"),
                 region: list[str] = typer.Option([], "--region", help="服务地区（可重复）"),
                 bucket: list[str] = typer.Option([], "--bucket", help="服务账龄（可重复）"),
                 contact: str = typer.Option("", "--contact", help="联系人"),
                 pipl_start: str = typer.Option(None, "--pipl-start", help="个人信息委托处理协议开始 YYYY-MM-DD"),
                 pipl_end: str = typer.Option(None, "--pipl-end", help="协议结束 YYYY-MM-DD"),
                 actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """登记委外机构（候选状态；中标审批后转为合作中）。需要管理员或合规审核人。"""
    from dunning.services.agencies import registry

    with service(json_out) as ctx:
        a = registry.create(ctx, name=name, legal_name=legal_name, actor=acting(ctx, actor), capacity=capacity,
                            regions=region, buckets=bucket, contacts=[{"contact": contact}] if contact else [],
                            pipl_contract_start=parse_date(pipl_start), pipl_contract_end=parse_date(pipl_end))
    _done(json_out, asdict(a), f"已登记机构 #{a.id} {a.name}（{a.status_zh}）")


@app.command("status")
def agencies_status(agency_id: int = typer.Argument(..., help="机构编号"),
                    status: str = typer.Argument(None, help="active|suspended|terminated（--blacklist 时不填）"),
                    reason: str = typer.Option(..., "--reason", help="原因（记入审计）"),
                    blacklist: bool = typer.Option(False, "--blacklist", help="列入黑名单并终止合作"),
                    actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """变更机构状态（须填原因）；暴力催收、数据泄露等列入黑名单。需要管理员或合规审核人。"""
    from dunning.errors import InputError
    from dunning.services.agencies import registry

    with service(json_out) as ctx:
        who = acting(ctx, actor)
        if blacklist:
            a = registry.blacklist(ctx, agency_id, reason=reason, actor=who)
        elif status:
            a = registry.set_status(ctx, agency_id, status, reason=reason, actor=who)
        else:
            raise InputError("请给出新状态或 --blacklist", "give a new status or --blacklist", code="agency.status")
    _done(json_out, asdict(a),
          f"#{a.id} {a.name}：{a.status_zh}{' · 黑名单' if a.blacklisted else ''}（{a.status_reason}）")


@app.command("statement")
def agencies_statement(period_id: int = typer.Argument(..., help="分案周期编号"),
                       out: Path = typer.Option(None, "--out", help="写出 .csv 或 .xlsx 文件"),
                       actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """佣金结算单：回款金额 × 该账龄的中标费率，按机构与账龄分行（机构用户只看到本机构）。"""
    from dunning.errors import InputError
    from dunning.services.agencies import performance, queries, registry, reports

    with service(json_out) as ctx:
        p = _viewer(ctx, actor)
        queries.period_view(ctx, period_id, p)  # an agency outside this period is refused here
        frame = performance.commission(ctx, period_id, agency_id=registry.own_agency_id(ctx, p))
        if out is not None:
            fmt = out.suffix.lstrip(".").lower()
            if fmt not in ("csv", "xlsx"):
                raise InputError("--out 须为 .csv 或 .xlsx 文件", "--out must end in .csv or .xlsx", code="input.format")
            reports.commission_file(frame, out, fmt)
    if json_out:
        emit_json({"period_id": period_id, "lines": frame.to_dicts(), "file": str(out) if out else None})
        return
    _table(f"佣金结算单 · Commission statement · 分案周期 #{period_id}", ["机构", "账龄", "回款户数", "回款（元）", "费率",
                                                                  "佣金（元）"],
           [[r["agency"], r["bucket"], r["payers"], f"{r['recovered_fen'] / 100:,.2f}", f"{r['rate']:.2%}",
             f"{r['commission_fen'] / 100:,.2f}"] for r in frame.to_dicts()])
    if out is not None:
        console.print(f"已写出 {out}")


@app.command("evaluate")
def agencies_evaluate(agency_id: int = typer.Argument(..., help="机构编号"), actor: str = ActorOpt,
                      json_out: bool = JsonOpt) -> None:
    """生成年度评估（过去一年的考核、针对本机构的案件），下次评估日顺延一年。需要管理员或合规审核人。"""
    from dunning.services.agencies import performance

    with service(json_out) as ctx:
        r = performance.yearly_evaluation(ctx, agency_id, actor=acting(ctx, actor))
    _done(json_out, r, f"{r['legal_name']}：平均得分 {r['mean_score'] if r['mean_score'] is not None else '—'} · "
                       f"案件 {r['cases']} · 考核 {len(r['scorecards'])} 期 · 下次评估 {r['next_due']}")


# ------------------------------------------------------------------------------------------------- tenders


@tenders_app.command("list")
def tenders_list(actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """招标列表：状态、投标时间、投标数。"""
    from dunning.services.agencies import queries

    with service(json_out) as ctx:
        _viewer(ctx, actor)
        rows = queries.tenders(ctx)
    if json_out:
        emit_json(rows)
        return
    def local(at: Any) -> str:  # the business time zone, to the minute
        return f"{at.astimezone(ctx.tz):%Y-%m-%d %H:%M}" if at is not None else "—"

    _table("招标 · Tenders", ["#", "标题", "状态", "投标开始", "投标截止", "投标数"],
           [[t["id"], t["title"], t["state_zh"], local(t["opens_at"]), local(t["closes_at"]), t["bids"]]
            for t in rows])


@tenders_app.command("show")
def tenders_show(tender_id: int = typer.Argument(..., help="招标编号"), actor: str = ActorOpt,
                 json_out: bool = JsonOpt) -> None:
    """评分表：各标段投标的加权总分、名次、同分规则与评委分歧标记，以及授标。仅限内部人员。"""
    from dunning.services.agencies.evaluation import score_sheet

    with service(json_out) as ctx:
        _viewer(ctx, actor, staff_only=True)
        sheet = score_sheet(ctx, tender_id)
    rows = sheet.sheet.drop("submitted_at").to_dicts() if sheet.sheet.height else []
    if json_out:
        emit_json({"tender_id": sheet.tender_id, "title": sheet.title, "state": sheet.state, "lots": sheet.lots,
                   "bids": rows, "awards": sheet.awards, "approved_by": sheet.approved_by})
        return
    console.print(f"#{sheet.tender_id} {sheet.title} · {sheet.state_zh} · 评委 {'、'.join(sheet.evaluators)}")
    _table("评分表 · Score sheet", ["标段", "名次", "机构", "佣金费率", "总分", "标记"],
           [[r["lot_id"], r.get("rank"), r["agency"], f"{r['commission_rate']:.2%}", r.get("total"),
             r.get("flags") or ""] for r in rows])
    for a in sheet.awards:
        console.print(f"授标：标段 #{a['lot_id']} {a['agency']} {a['share']:.0%}（费率 {a['commission_rate']:.2%}）")


@tenders_app.command("report")
def tenders_report(tender_id: int = typer.Argument(..., help="招标编号"),
                   out: Path = typer.Option(None, "--out", help="复制到此 .xlsx 文件"),
                   actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """招标报告（XLSX：概要、评分表、评委独立评分、利益冲突、授标）。仅限内部人员。"""
    from dunning.services.agencies import reports

    with service(json_out) as ctx:
        _viewer(ctx, actor, staff_only=True)
        path = reports.tender_xlsx(ctx, tender_id)
        if out is not None:
            path = Path(shutil.copyfile(path, out))
    _done(json_out, {"tender_id": tender_id, "file": str(path)}, f"招标报告已写出：{path}")


# ----------------------------------------------------------------------------------------------- allocations


@allocations_app.command("list")
def allocations_list(actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """分案周期：标段、起止日期、状态、账户数、告知已送达数（机构用户只看到本机构的周期）。"""
    from dunning.services.agencies import queries

    with service(json_out) as ctx:
        rows = queries.periods(ctx, _viewer(ctx, actor))
    if json_out:
        emit_json(rows)
        return
    _table("分案周期 · Allocation periods", ["#", "招标", "标段", "开始", "结束", "状态", "账户", "告知已送达"],
           [[r["id"], r["tender"], r["lot"], r["starts_on"], r["ends_on"], r["state"], f"{r['accounts']:,}",
             f"{r['noticed']:,}"] for r in rows])


@allocations_app.command("run")
def allocations_run(lot_id: int = typer.Argument(..., help="已授标的标段编号"),
                    import_id: int = typer.Option(..., "--import", help="导入批次编号（账户快照）"),
                    start: str = typer.Option(..., "--start", help="周期开始 YYYY-MM-DD"),
                    end: str = typer.Option(..., "--end", help="周期结束 YYYY-MM-DD"),
                    shares_from: int = typer.Option(None, "--shares-from", help="用该周期考核得出的下期份额"),
                    actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """按中标份额（或上期考核份额）与承接能力分层分案；上期账户留在原机构。需要管理员、运营或策略。"""
    from dunning.errors import InputError
    from dunning.services.agencies import allocation, performance

    with service(json_out) as ctx:
        starts, ends = parse_date(start), parse_date(end)
        assert starts is not None and ends is not None  # nosec B101  # required options; narrows for mypy
        shares = performance.next_shares(ctx, shares_from) if shares_from is not None else None
        if shares_from is not None and not shares:
            raise InputError(f"分案周期 #{shares_from} 还没有记录考核", f"period #{shares_from} has no scorecards",
                             code="state.no_scorecard")
        r = allocation.allocate_lot(ctx, lot_id, import_id=import_id, starts_on=starts, ends_on=ends,
                                    actor=acting(ctx, actor), shares=shares)
    if json_out:
        emit_json(asdict(r))
        return
    console.print(f"分案周期 #{r.period_id}：{r.allocated:,} / {r.accounts:,} 户已分案（留在原机构 {r.sticky:,}，"
                  f"未分 {r.unallocated:,}）→ {r.by_agency}")
    console.print("下一步：dunning allocations notice 计划委外告知短信；送达前机构不得联系借款人。")


@allocations_app.command("notice")
def allocations_notice(period_id: int = typer.Argument(..., help="分案周期编号"), actor: str = ActorOpt,
                       json_out: bool = JsonOpt) -> None:
    """为尚未收到告知的分案账户计划「您的账户已委托…」告知短信（按常规流程试发、审批、发送）。"""
    from dunning.services.agencies import allocation

    with service(json_out) as ctx:
        s = allocation.plan_notice(ctx, period_id, actor=acting(ctx, actor))
    _done(json_out, {"campaign_id": s.campaign_id, "planned": s.planned, "suppressed": s.suppressed},
          f"委外告知批次 #{s.campaign_id}：计划 {s.planned:,} 条，抑制 {s.suppressed:,} 条")


@allocations_app.command("recall")
def allocations_recall(period_id: int = typer.Argument(..., help="分案周期编号"),
                       reason: str = typer.Option(..., "--reason", help="收回原因（如 contract_end、on_request）"),
                       agency_id: int = typer.Option(None, "--agency", help="只收回该机构的账户"),
                       loan: list[str] = typer.Option([], "--loan", help="只收回这些借据（可重复）"),
                       actor: str = ActorOpt, json_out: bool = JsonOpt) -> None:
    """收回分案（整个周期、某机构或指定借据）；收回后机构不再看到、也不能联系这些借款人。"""
    from dunning.services.agencies import allocation

    with service(json_out) as ctx:
        n = allocation.recall(ctx, period_id, actor=acting(ctx, actor), reason=reason, agency_id=agency_id,
                              loan_ids=loan or None)
    _done(json_out, {"period_id": period_id, "recalled": n}, f"已收回 {n:,} 户")


@allocations_app.command("close")
def allocations_close(period_id: int = typer.Argument(..., help="分案周期编号"), actor: str = ActorOpt,
                      json_out: bool = JsonOpt) -> None:
    """记录本周期的平衡计分卡并生成下期份额（得分成正比，10%–60%）。需要管理员或合规审核人。"""
    from dunning.services.agencies import performance

    with service(json_out) as ctx:
        shares = performance.close_period(ctx, period_id, actor=acting(ctx, actor))
    _done(json_out, {"period_id": period_id, "next_shares": {str(k): v for k, v in shares.items()}},
          "下期份额：" + "，".join(f"机构 #{k} {v:.0%}" for k, v in shares.items()))
