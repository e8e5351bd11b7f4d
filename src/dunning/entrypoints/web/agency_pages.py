"""Console pages of the outsourced-agency capability (issue 22): registry, tenders (notice, bids, conflicts,
scores, award, report), allocation periods (notice, recall, scorecard, commission). Routes parse, call
:mod:`dunning.services.agencies` and format; the services check roles, evaluator membership and deadlines.

Roles: staff read; admin/compliance manage the registry, approve awards and close periods; admin/strategist
run tenders; admin/operator/strategist allocate; agency users see their own agency, bid, and see their own
allocation and scorecard only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from dunning.domain.agencies import AllocationPeriodState, TenderState
from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import STAFF, allow
from dunning.entrypoints.http.uploads import save_uploads
from dunning.entrypoints.web.common import done
from dunning.errors import InputError
from dunning.services.agencies import allocation as alloc
from dunning.services.agencies import performance, queries, registry, reports, tenders
from dunning.services.agencies.evaluation import METHOD_EN, METHOD_ZH, score_sheet
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role

router = APIRouter(include_in_schema=False)
ALL_VIEW = (*STAFF, Role.AGENCY)
REGISTRY = (Role.ADMIN, Role.COMPLIANCE)
BUYERS = (Role.ADMIN, Role.STRATEGIST)
ALLOCATORS = (Role.ADMIN, Role.OPERATOR, Role.STRATEGIST)
APPROVERS = (Role.ADMIN, Role.COMPLIANCE)
DOC_TYPES = (".pdf", ".png", ".jpg", ".jpeg")


def _day(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field} 日期格式应为 YYYY-MM-DD：{value}", f"{field}: date must be YYYY-MM-DD",
                         code="input.date") from None


def _when(request: Request, value: str, field: str) -> datetime:
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{field} 时间格式应为 YYYY-MM-DDTHH:MM：{value}", f"{field}: use YYYY-MM-DDTHH:MM",
                         code="input.date") from None
    tz = ZoneInfo(request.app.state.ctx.settings.timezone)
    return (local if local.tzinfo else local.replace(tzinfo=tz)).astimezone(UTC)


def _csv(value: str) -> list[str]:
    return [x.strip() for x in value.replace("，", ",").split(",") if x.strip()]


def _rates(value: str) -> dict[str, float]:
    """``M2:0.10, M3:0.15`` → ``{"M2": 0.10, "M3": 0.15}`` (per-bucket commission rates of a bid)."""
    out = {}
    for part in _csv(value):
        bucket, sep, rate = part.replace("：", ":").partition(":")
        if not sep or not bucket.strip():
            raise InputError(f"分账龄费率格式应为 账龄:费率（如 M2:0.10）：{part}",
                             f"per-bucket rates are bucket:rate (e.g. M2:0.10): {part}", code="input.rates")
        out[bucket.strip()] = _num(rate, "bucket_rates")
    return out


def _num(value: str, field: str, kind: type = float) -> float:
    try:
        return kind(value.strip())  # type: ignore[no-any-return]
    except ValueError:
        raise InputError(f"{field} 应为数字：{value}", f"{field} must be a number", code="input.number") from None


# ------------------------------------------------------------------------------------------- registry


@router.get("/agencies")
def agencies_page(request: Request, principal: Principal = allow(*ALL_VIEW)) -> Response:
    ctx = request.app.state.ctx
    staff = principal.role is not Role.AGENCY
    return renderer(request).page(request, "agencies.html", items=registry.list_agencies(ctx, principal),
                                  alerts=registry.alerts(ctx) if staff else [],
                                  can_manage=principal.has(*REGISTRY), status_zh=registry.STATUS_ZH)


@router.post("/agencies")
def agency_create(request: Request, name: str = Form(""), legal_name: str = Form(""), capacity: str = Form("0"),
                  regions: str = Form(""), buckets: str = Form(""), contact: str = Form(""),
                  pipl_start: str = Form(""), pipl_end: str = Form(""),
                  principal: Principal = allow(*REGISTRY)) -> Response:
    a = registry.create(request.app.state.ctx, name=name, legal_name=legal_name,
                        capacity=int(_num(capacity or "0", "capacity", int)), regions=_csv(regions),
                        buckets=_csv(buckets), contacts=[{"contact": contact.strip()}] if contact.strip() else [],
                        pipl_contract_start=_day(pipl_start, "pipl_start"), pipl_contract_end=_day(pipl_end, "pipl_end"),
                        actor=principal.username)
    return done(request, f"/agencies/{a.id}", f"已登记机构 {a.name}（候选）。", f"Agency {a.name} registered (candidate).")


@router.get("/agencies/{agency_id}")
def agency_page(request: Request, agency_id: DbId, principal: Principal = allow(*ALL_VIEW)) -> Response:
    a, docs = registry.detail(request.app.state.ctx, agency_id, principal)
    return renderer(request).page(request, "agency.html", a=a, docs=docs, can_manage=principal.has(*REGISTRY),
                                  status_zh=registry.STATUS_ZH, transitions=registry.TRANSITIONS[a.status])


@router.post("/agencies/{agency_id}/status")
def agency_status(request: Request, agency_id: DbId, status: str = Form(""), reason: str = Form(""),
                  blacklist: str = Form(""), principal: Principal = allow(*REGISTRY)) -> Response:
    ctx = request.app.state.ctx
    if blacklist:
        registry.blacklist(ctx, agency_id, reason=reason, actor=principal.username)
        return done(request, f"/agencies/{agency_id}", "已列入黑名单并终止合作。", "Blacklisted and terminated.", "warn")
    a = registry.set_status(ctx, agency_id, status, reason=reason, actor=principal.username)
    return done(request, f"/agencies/{agency_id}", f"状态已改为「{a.status_zh}」。", f"Status is now {a.status}.")


@router.post("/agencies/{agency_id}/documents")
def agency_document(request: Request, agency_id: DbId, kind: str = Form("licence"), title: str = Form(""),
                    expires_on: str = Form(""), file: UploadFile | None = File(None),
                    principal: Principal = allow(*REGISTRY)) -> Response:
    ctx = request.app.state.ctx
    paths = save_uploads(ctx, [file], allowed=DOC_TYPES) if file is not None and file.filename else []
    registry.add_document(ctx, agency_id, kind=kind, title=title, expires_on=_day(expires_on, "expires_on"),
                          path=str(paths[0]) if paths else None, actor=principal.username)
    return done(request, f"/agencies/{agency_id}", "文件已登记。", "Document recorded.")


@router.post("/agencies/{agency_id}/evaluation")
def agency_evaluation(request: Request, agency_id: DbId, principal: Principal = allow(*REGISTRY)) -> Response:
    report = performance.yearly_evaluation(request.app.state.ctx, agency_id, actor=principal.username)
    return renderer(request).page(request, "agency_evaluation.html", r=report)


# -------------------------------------------------------------------------------------------- tenders


@router.get("/tenders")
def tenders_page(request: Request, principal: Principal = allow(*ALL_VIEW)) -> Response:
    return renderer(request).page(request, "tenders.html", items=queries.tenders(request.app.state.ctx),
                                  can_create=principal.has(*BUYERS))


@router.post("/tenders")
def tender_create(request: Request, title: str = Form(""), requirements: str = Form(""), lots: str = Form(""),
                  evaluators: str = Form(""), opens_at: str = Form(""), closes_at: str = Form(""),
                  principal: Principal = allow(*BUYERS)) -> Response:
    parsed = []
    for line in lots.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if parts and parts[0]:
            parsed.append({"name": parts[0], "buckets": _csv(parts[1]) if len(parts) > 1 else [],
                           "regions": _csv(parts[2]) if len(parts) > 2 else []})
    if not opens_at.strip() or not closes_at.strip():
        raise InputError("请填写投标开始和截止时间", "the bidding window is required", code="tender.window")
    tid = tenders.create_tender(request.app.state.ctx, title=title, requirements=requirements, lots=parsed,
                                evaluators=_csv(evaluators), opens_at=_when(request, opens_at, "opens_at"),
                                closes_at=_when(request, closes_at, "closes_at"), actor=principal.username)
    return done(request, f"/tenders/{tid}", "招标公告已发布。", "Tender notice published.")


@router.get("/tenders/{tender_id}")
def tender_page(request: Request, tender_id: DbId, principal: Principal = allow(*ALL_VIEW)) -> Response:
    view = queries.tender_view(request.app.state.ctx, tender_id, principal)
    tables = reports.tender_tables(view.sheet) if view.sheet is not None else []
    return renderer(request).page(
        request, "tender.html", t=view, tables=tables, is_agency=principal.role is Role.AGENCY,
        is_evaluator=principal.username in view.evaluators, can_award=principal.has(*BUYERS),
        can_approve=principal.has(*APPROVERS) and principal.username not in view.evaluators,
        method=pick(request, METHOD_ZH, METHOD_EN), TenderState=TenderState)


@router.post("/tenders/{tender_id}/bids")
def tender_bid(request: Request, tender_id: DbId, lot_id: str = Form(""), commission_rate: str = Form(""),
               capacity: str = Form(""), promised_recovery_rate: str = Form("0"),
               promised_complaints: str = Form("0"), statement: str = Form(""), bucket_rates: str = Form(""),
               files: list[UploadFile] | None = File(None), principal: Principal = allow(Role.AGENCY)) -> Response:
    ctx = request.app.state.ctx
    real = [f for f in files or [] if f.filename]
    paths = save_uploads(ctx, real, allowed=tenders.BID_DOC_TYPES) if real else []
    tenders.submit_bid(ctx, tender_id, int(_num(lot_id or "0", "lot_id", int)), actor=principal.username,
                       commission_rate=_num(commission_rate or "0", "commission_rate"),
                       capacity=int(_num(capacity or "0", "capacity", int)),
                       promised_recovery_rate=_num(promised_recovery_rate or "0", "promised_recovery_rate"),
                       promised_complaints_per_10k=_num(promised_complaints or "0", "promised_complaints"),
                       statement=statement, documents=paths, bucket_rates=_rates(bucket_rates))
    return done(request, f"/tenders/{tender_id}", "投标已提交（截止前可重新提交覆盖）。",
                "Bid submitted (you may resubmit before the deadline).")


@router.post("/tenders/{tender_id}/conflicts")
def tender_conflict(request: Request, tender_id: DbId, agency_id: str = Form(""), note: str = Form(""),
                    principal: Principal = allow(*STAFF)) -> Response:
    tenders.declare_conflict(request.app.state.ctx, tender_id, int(_num(agency_id or "0", "agency_id", int)),
                             actor=principal.username, note=note)
    return done(request, f"/tenders/{tender_id}", "已登记利益冲突声明：您不能为该机构评分。",
                "Conflict declared: you cannot score that bidder.", "warn")


@router.post("/tenders/{tender_id}/scores")
async def tender_score(request: Request, tender_id: int, principal: Principal = allow(*STAFF)) -> Response:
    form = await request.form()
    bid_id = int(_num(str(form.get("bid_id") or "0"), "bid_id", int))
    scores = {k[6:]: _num(str(v), k) for k, v in form.items() if k.startswith("score_") and str(v).strip()}
    await run_in_threadpool(tenders.score_bid, request.app.state.ctx, bid_id, scores, actor=principal.username,
                            note=str(form.get("note") or ""))
    return done(request, f"/tenders/{tender_id}", "评分已保存。", "Scores saved.")


@router.post("/tenders/{tender_id}/award")
def tender_award(request: Request, tender_id: DbId, winners: str = Form(""),
                 principal: Principal = allow(*BUYERS)) -> Response:
    """``winners``: one ``lot_id:agency_id:share`` per line (or comma separated)."""
    parsed = []
    for item in winners.replace(",", "\n").splitlines():
        parts = item.strip().split(":")
        if len(parts) == 3:
            parsed.append((int(_num(parts[0], "lot", int)), int(_num(parts[1], "agency", int)),
                           _num(parts[2], "share")))
    tenders.propose_award(request.app.state.ctx, tender_id, parsed, actor=principal.username)
    return done(request, f"/tenders/{tender_id}", "授标建议已提交，须由未参与评分的人员审批。",
                "Award proposed; someone who did not evaluate must approve it.")


@router.post("/tenders/{tender_id}/approve")
def tender_approve(request: Request, tender_id: DbId, principal: Principal = allow(*APPROVERS)) -> Response:
    tenders.approve_award(request.app.state.ctx, tender_id, actor=principal.username)
    return done(request, f"/tenders/{tender_id}", "授标已批准，中标机构转为合作中。", "Award approved; winners are active.")


@router.get("/tenders/{tender_id}/report.{fmt}")
def tender_report(request: Request, tender_id: DbId, fmt: str, principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    if fmt == "xlsx":
        path = reports.tender_xlsx(ctx, tender_id)
        return FileResponse(path, filename=path.name,
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if fmt != "html":
        raise InputError("格式应为 html 或 xlsx", "format must be html or xlsx", code="input.format")
    sheet = score_sheet(ctx, tender_id)
    return renderer(request).page(request, "tender_report.html", s=sheet, tables=reports.tender_tables(sheet),
                                  method_zh=METHOD_ZH, method_en=METHOD_EN)


# --------------------------------------------------------------------------------------- allocation


@router.get("/allocations")
def allocations_page(request: Request, principal: Principal = allow(*ALL_VIEW)) -> Response:
    return renderer(request).page(request, "allocations.html", items=queries.periods(request.app.state.ctx, principal),
                                  can_allocate=principal.has(*ALLOCATORS))


@router.post("/allocations")
def allocation_create(request: Request, lot_id: str = Form(""), import_id: str = Form(""), starts_on: str = Form(""),
                      ends_on: str = Form(""), from_period: str = Form(""),
                      principal: Principal = allow(*ALLOCATORS)) -> Response:
    ctx = request.app.state.ctx
    start, end = _day(starts_on, "starts_on"), _day(ends_on, "ends_on")
    if start is None or end is None:
        raise InputError("请填写分案周期的起止日期", "the period's dates are required", code="period.dates")
    shares = performance.next_shares(ctx, int(from_period)) if from_period.strip().isdigit() else None
    r = alloc.allocate_lot(ctx, int(_num(lot_id or "0", "lot_id", int)), import_id=int(_num(import_id or "0",
                           "import_id", int)), starts_on=start, ends_on=end, actor=principal.username,
                           shares=shares or None)
    return done(request, f"/allocations/{r.period_id}",
                f"已分案 {r.allocated} 户（延续 {r.sticky} 户，未分配 {r.unallocated} 户）。下一步：发送委外告知短信。",
                f"{r.allocated} accounts allocated ({r.sticky} sticky, {r.unallocated} unallocated). "
                "Next: send the entrustment notice.")


@router.get("/allocations/{period_id}")
def allocation_page(request: Request, period_id: DbId, principal: Principal = allow(*ALL_VIEW)) -> Response:
    info = queries.period_view(request.app.state.ctx, period_id, principal)
    return renderer(request).page(request, "allocation.html", p=info, is_agency=principal.role is Role.AGENCY,
                                  can_allocate=principal.has(*ALLOCATORS), can_close=principal.has(*APPROVERS),
                                  AllocationPeriodState=AllocationPeriodState)


@router.post("/allocations/{period_id}/notice")
def allocation_notice(request: Request, period_id: DbId, principal: Principal = allow(*ALLOCATORS)) -> Response:
    summary = alloc.plan_notice(request.app.state.ctx, period_id, actor=principal.username)
    return done(request, f"/campaigns/{summary.campaign_id}",
                f"委外告知批次 #{summary.campaign_id}：计划 {summary.planned} 条。按常规流程试发、审批、发送；送达前机构不得联系。",
                f"Notice campaign #{summary.campaign_id}: {summary.planned} planned. Pilot, approve and send as usual; "
                "agencies cannot contact a borrower before delivery.")


@router.post("/allocations/{period_id}/recall")
def allocation_recall(request: Request, period_id: DbId, reason: str = Form(""), agency_id: str = Form(""),
                      loan_ids: str = Form(""), principal: Principal = allow(*ALLOCATORS)) -> Response:
    n = alloc.recall(request.app.state.ctx, period_id, actor=principal.username, reason=reason,
                     agency_id=int(agency_id) if agency_id.strip().isdigit() else None,
                     loan_ids=_csv(loan_ids) or None)
    return done(request, f"/allocations/{period_id}", f"已收回 {n} 户。", f"{n} accounts recalled.", "warn")


@router.post("/allocations/{period_id}/close")
def allocation_close(request: Request, period_id: DbId, principal: Principal = allow(*APPROVERS)) -> Response:
    shares = performance.close_period(request.app.state.ctx, period_id, actor=principal.username)
    return done(request, f"/allocations/{period_id}", f"考核已记录，下期份额已生成（{len(shares)} 家机构）。",
                f"Scorecards recorded; next period's shares set for {len(shares)} agencies.")


@router.get("/allocations/{period_id}/commission.{fmt}")
def allocation_commission(request: Request, period_id: DbId, fmt: str,
                          principal: Principal = allow(*ALL_VIEW)) -> Response:
    ctx = request.app.state.ctx
    mine = registry.own_agency_id(ctx, principal)
    queries.period_view(ctx, period_id, principal)  # an agency outside this period is refused here
    frame = performance.commission(ctx, period_id, agency_id=mine)
    suffix = f"-{mine}" if mine is not None else ""
    path = reports.commission_file(frame, ctx.data_dir / "reports" / f"commission-{period_id}{suffix}.{fmt}", fmt)
    media = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, filename=path.name, media_type=media)
