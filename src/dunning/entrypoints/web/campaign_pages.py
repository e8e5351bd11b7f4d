"""Campaign pages: plan, counts, pilot review and four-eyes approval, send, pause/resume/cancel, live progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response

from dunning.domain.states import CAMPAIGN_STATE_ZH
from dunning.entrypoints.http.i18n import lang_of, pick
from dunning.entrypoints.http.ids import MAX_ID, DbId, QueryId
from dunning.entrypoints.http.jobs import Job, fork_context
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.responses import report_response
from dunning.entrypoints.http.security import STAFF, allow
from dunning.entrypoints.http.uploads import save_uploads
from dunning.entrypoints.web.common import RateMeter, done, redirect, sse_response
from dunning.entrypoints.web.import_pages import parse_day
from dunning.entrypoints.web.job_pages import job_payload
from dunning.entrypoints.web.listing import download, filters_query, page_request
from dunning.errors import InputError
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.campaigns import held, lifecycle
from dunning.services.campaigns.held import held_count
from dunning.services.campaigns.planning import SUPPRESSION_ZH, plan_campaign
from dunning.services.campaigns.reports import campaign_report_html, write_campaign_report
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries import campaigns as campaigns_q
from dunning.services.queries import exporting
from dunning.services.queries import imports as imports_q

router = APIRouter(include_in_schema=False)

NEXT_STEP = {
    "draft": "草稿：计划尚未完成。",
    "planned": "下一步：运营人员开始试发（按分群与变体分层抽样，只发送样本）。",
    "piloting": "下一步：由试发人以外的合规审核人查看样例与试发送达情况，达标后批准全量发送（四眼原则）。",
    "pilot_approved": "下一步：运营人员开始全量发送。",
    "sending": "发送中：可随时暂停；超出发送时段的短信不会延后发送，而是等待下一个时段或过期。",
    "paused": "已暂停：恢复后从尚未发送的短信继续，已发送的不会重发。",
    "completed": "已完成：查看发送漏斗，导出 Excel 报告。",
    "cancelled": "已取消：未发送的短信不会再发送。",
}


def _reason_labels() -> dict[str, str]:
    return dict(SUPPRESSION_ZH)


@router.get("/campaigns")
def campaigns_page(request: Request, import_id: QueryId = None, state: str = "", since: str = "", until: str = "",
                   name: str = "", channel: str = "", page: int | None = None, sort: str = "", export: str = "",
                   principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    q = {"state": state, "since": since, "until": until, "name": name, "channel": channel}
    f = campaigns_q.CampaignFilter(state or None, parse_day(since), parse_day(until), name or None, channel or None)
    lp = campaigns_q.list_campaigns(ctx, principal, f, page_request(page, sort, export))
    if export:
        return download(exporting.export(ctx, principal, "campaigns", campaigns_q.export_frame(lp), export,
                                         f.params(), sheet="批次"))
    imports = imports_q.imports_after(ctx, limit=30).items if principal.has(Role.OPERATOR) else []
    selected = import_id or (imports[0].import_id if imports else None)
    channels = [n for n, c in ctx.settings.channels.items() if c.enabled]
    default = ctx.settings.default_channel
    channels.sort(key=lambda n: n != default)
    return renderer(request).page(request, "campaigns.html", lp=lp, q=q, qb=filters_query(q),
                                  states={s.value: z for s, z in CAMPAIGN_STATE_ZH.items()},
                                  imports=imports, selected_import=selected, channels=channels)


@router.post("/campaigns")
def plan(request: Request, import_id: int = Form(..., ge=1, le=MAX_ID), channel: str = Form(""),
         strategy: UploadFile | None = File(None), principal: Principal = allow(Role.OPERATOR)) -> Response:
    ctx = request.app.state.ctx
    imports_q.import_view(ctx, principal, import_id, samples=0)  # an unknown import is a 404 now, not a failed job
    path = None
    if strategy is not None and strategy.filename:
        path = save_uploads(ctx, [strategy], allowed=(".yaml", ".yml"))[0]

    def work(job: Job) -> None:
        job_ctx = fork_context(ctx)
        job.update("载入模板")
        ensure_bundled_templates(job_ctx)
        job.update("逐账户分群、渲染与合规检查")
        summary = plan_campaign(job_ctx, actor=principal.username, strategy_path=path, import_id=import_id,
                                channel=channel or None)
        job.result = summary.to_dict()
        job.result_url = f"/campaigns/{summary.campaign_id}"

    job = request.app.state.jobs.start("plan", f"为导入 #{import_id} 生成批次计划",
                                       f"Planning a campaign for import #{import_id}", principal.username, work,
                                       key=f"plan:{import_id}")
    return redirect(f"/jobs/{job.id}")


@router.get("/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    v = campaigns_q.campaign_view(ctx, principal, campaign_id)
    job = request.app.state.jobs.latest(f"campaign:{campaign_id}")

    return renderer(request).page(request, "campaign.html", v=v, pilot=v.pilot, job=job,
                                  next_step=NEXT_STEP.get(v.progress.state, ""), reason_zh=_reason_labels(),
                                  held=held_count(ctx, campaign_id))


@router.get("/campaigns/{campaign_id}/events")
def campaign_events(request: Request, campaign_id: DbId, once: bool = False,
                    principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    jobs = request.app.state.jobs
    campaigns_q.campaign_progress(ctx, principal, campaign_id)  # 404 before the stream starts
    meter = RateMeter()

    def produce() -> dict[str, Any]:
        p = campaigns_q.campaign_progress(ctx, principal, campaign_id)
        d = p.to_dict()
        d["rates"] = meter.rates(0, {"sent": d["accepted"] + d["failed"], "delivered": d["delivered"],
                                     "failed": d["failed"]})
        d["state_label"] = pick(request, p.state_zh, p.state)
        job = jobs.latest(f"campaign:{campaign_id}")
        d["job"] = job_payload(request, job) if job else None
        return d

    def finished(d: dict[str, Any]) -> bool:
        return d["state"] in ("completed", "cancelled") and not (d["job"] and d["job"]["state"] == "running")

    return sse_response(request, produce, interval=1.0, finished=finished, once=once)


def _start(request: Request, principal: Principal, campaign_id: int, kind: str) -> Job:
    ctx = request.app.state.ctx

    def work(job: Job) -> None:
        job_ctx = fork_context(ctx)

        def on_progress(p: Any) -> None:
            job.update("发送中", p.submitted + p.failed + p.suppressed, p.total)

        if kind == "pilot":
            job.result = lifecycle.start_pilot(job_ctx, campaign_id, actor=principal.username, on_progress=on_progress)
        else:
            job.result = lifecycle.send_campaign(job_ctx, campaign_id, actor=principal.username,
                                                 on_progress=on_progress)
        job.result_url = f"/campaigns/{campaign_id}"

    titles = {"pilot": ("试发", "Pilot"), "send": ("全量发送", "Sending")}[kind]
    return request.app.state.jobs.start(kind, f"批次 #{campaign_id} {titles[0]}", f"Campaign #{campaign_id}: "
                                        f"{titles[1]}", principal.username, work, key=f"campaign:{campaign_id}")


@router.post("/campaigns/{campaign_id}/pilot")
def pilot(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> Response:
    st = campaigns_q.campaign_progress(request.app.state.ctx, principal, campaign_id)
    if st.state not in ("planned", "piloting"):
        return done(request, f"/campaigns/{campaign_id}", f"批次当前为「{st.state_zh}」，只有已计划的批次可以试发。",
                    f"Only a planned campaign can be piloted; this one is {st.state}.", "warn")
    _start(request, principal, campaign_id, "pilot")
    return done(request, f"/campaigns/{campaign_id}", "试发已开始，样本发送完成后请合规审核人审批。",
                "Pilot started; a compliance reviewer approves it once the sample is sent.", "info")


@router.post("/campaigns/{campaign_id}/approve")
def approve(request: Request, campaign_id: DbId, principal: Principal = allow(Role.COMPLIANCE)) -> Response:
    lifecycle.approve_pilot(request.app.state.ctx, campaign_id, actor=principal.username)
    return done(request, f"/campaigns/{campaign_id}", "已批准全量发送。运营人员现在可以开始发送。",
                "Approved for the full send; an operator can now start it.")


@router.post("/campaigns/{campaign_id}/send")
def send(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> Response:
    st = campaigns_q.campaign_progress(request.app.state.ctx, principal, campaign_id)
    if st.state not in ("pilot_approved", "sending"):
        return done(request, f"/campaigns/{campaign_id}", "批次须先试发并经第二人批准后才能全量发送。",
                    "The campaign needs an approved pilot before the full send.", "warn")
    _start(request, principal, campaign_id, "send")
    return done(request, f"/campaigns/{campaign_id}", "全量发送已开始。", "Sending started.", "info")


@router.post("/campaigns/{campaign_id}/held/resolve")
def resolve_held(request: Request, campaign_id: DbId, resolution: str = Form(...), reason: str = Form(""),
                 principal: Principal = allow(Role.COMPLIANCE)) -> Response:
    ctx = request.app.state.ctx
    if resolution not in ("as_sent", "requeue"):
        raise InputError("处理方式须为 as_sent 或 requeue", "resolution must be as_sent or requeue")
    ids = [m.id for m in held.list_held(ctx, campaign_id=campaign_id)]
    if not ids:
        return done(request, f"/campaigns/{campaign_id}", "没有暂扣的短信。", "No held messages.", "info")
    r = held.resolve(ctx, ids, resolution=resolution, reason=reason, actor=principal.username)  # type: ignore[arg-type]
    what_zh = "确认已发送" if resolution == "as_sent" else "重新排队（下次发送时发出）"
    what_en = "resolved as sent" if resolution == "as_sent" else "queued again (sent by the next send)"
    return done(request, f"/campaigns/{campaign_id}", f"已处理 {r['resolved']} 条暂扣短信：{what_zh}。",
                f"{r['resolved']} held messages {what_en}.")


@router.post("/campaigns/{campaign_id}/pause")
def pause(request: Request, campaign_id: DbId, reason: str = Form(""),
          principal: Principal = allow(Role.OPERATOR, Role.COMPLIANCE)) -> Response:
    lifecycle.pause(request.app.state.ctx, campaign_id, actor=principal.username, reason=reason[:200])
    return done(request, f"/campaigns/{campaign_id}", "已暂停。正在提交的一批完成后停止。",
                "Paused; the batch in flight finishes first.", "warn")


@router.post("/campaigns/{campaign_id}/resume")
def resume(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> Response:
    lifecycle.resume(request.app.state.ctx, campaign_id, actor=principal.username)
    _start(request, principal, campaign_id, "send")
    return done(request, f"/campaigns/{campaign_id}", "已恢复发送。", "Sending resumed.", "info")


@router.post("/campaigns/{campaign_id}/cancel")
def cancel(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> Response:
    lifecycle.cancel(request.app.state.ctx, campaign_id, actor=principal.username)
    return done(request, f"/campaigns/{campaign_id}", "批次已取消，未发送的短信不会再发送。",
                "Campaign cancelled; nothing unsent will be sent.", "warn")


@router.get("/campaigns/{campaign_id}/report.html")
def report_html(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> Response:
    """The HTML report (charts, verdicts, tables) as one self-contained page, to read or to save and email."""
    return report_response(campaign_report_html(request.app.state.ctx, campaign_id, lang=lang_of(request)),
                           campaign_id)


@router.get("/campaigns/{campaign_id}/report.xlsx")
def report(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> Response:
    paths = write_campaign_report(request.app.state.ctx, campaign_id)
    return FileResponse(paths["xlsx"], filename=f"campaign-{campaign_id}.xlsx",
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
