"""Background jobs started from the console: a progress page that follows the job and then shows its result."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.jobs import Job
from dunning.entrypoints.http.render import JOB_STATE_ZH, renderer
from dunning.entrypoints.http.security import STAFF, allow
from dunning.entrypoints.web.common import sse_response
from dunning.errors import NotFoundError
from dunning.services.identity.auth import Principal

router = APIRouter(include_in_schema=False)



def get_job(request: Request, job_id: str) -> Job:
    job: Job | None = request.app.state.jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"任务 {job_id} 不存在或已过期（服务重启后任务进度不再保留，结果请在对应页面查看）",
                            f"job {job_id} does not exist or has expired", code="not_found.job")
    return job


def job_payload(request: Request, job: Job) -> dict[str, Any]:
    d = job.to_dict()
    d["state_label"] = pick(request, JOB_STATE_ZH[job.state], job.state)
    if job.error:
        d["error_text"] = pick(request, job.error.get("message_zh", ""), job.error.get("message_en", ""))
    return d


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, principal: Principal = allow(*STAFF)) -> Response:
    return renderer(request).page(request, "job.html", job=get_job(request, job_id))


@router.get("/jobs/{job_id}/events")
def job_events(request: Request, job_id: str, once: bool = False, principal: Principal = allow(*STAFF)) -> Response:
    job = get_job(request, job_id)
    return sse_response(request, lambda: job_payload(request, job), interval=0.5,
                        finished=lambda d: d["state"] != "running", once=once)
