"""Response and request bodies of the REST API (they are the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found.campaign"])
    message_zh: str
    message_en: str


class ErrorOut(BaseModel):
    error: ErrorBody


class MeOut(BaseModel):
    username: str
    display_name: str
    role: str
    agency: str | None
    via: str


class ImportOut(BaseModel):
    import_id: int
    as_of: date
    files: list[str]
    rows: int
    accepted: int
    rejected: int
    created_by: str
    created_at: datetime | None
    has_report: bool


class ImportListOut(BaseModel):
    items: list[ImportOut]
    next_cursor: int | None


class RejectReasonOut(BaseModel):
    code: str
    count: int
    example: str


class ImportDetailOut(ImportOut):
    reasons: list[RejectReasonOut]


class ImportSummaryOut(BaseModel):
    import_id: int
    rows: int
    accepted: int
    rejected: int
    reasons: dict[str, int]
    as_of: str
    already_imported: bool


class PlanIn(BaseModel):
    import_id: int | None = Field(None, description="导入批次号（默认：最近一次） / import id (default: latest)")
    as_of: date | None = Field(None, description="业务日期（默认：导入的日期） / business date")
    channel: str | None = Field(None, max_length=64, description="发送通道 / channel name")


class PlanOut(BaseModel):
    campaign_id: int
    state: str
    as_of: str
    import_id: int
    strategy: str
    accounts: int
    not_due_today: int
    planned: int
    suppressed: int
    by_segment: dict[str, int]
    by_template: dict[str, int]
    by_variant: dict[str, int]
    by_reason: dict[str, int]
    lint_rules: dict[str, int]
    already_planned: bool


class ProgressOut(BaseModel):
    campaign_id: int
    name: str
    state: str
    state_zh: str
    as_of: str
    channel: str
    pause_reason: str | None
    counts: dict[str, int]
    pilot_counts: dict[str, int]
    to_send: int
    done: int
    accepted: int
    delivered: int
    failed: int
    suppressed: int
    pct: float
    pilot_total: int
    pilot_pending: int


class CampaignListOut(BaseModel):
    items: list[ProgressOut]
    next_cursor: int | None


class FunnelOut(BaseModel):
    planned: int
    sent: int
    delivered: int
    repaid: int | None


class CampaignOut(BaseModel):
    progress: ProgressOut
    plan: dict[str, Any]
    funnel: FunnelOut
    strategy: str
    import_id: int
    suppressed_by_reason: dict[str, int]
    pilot: dict[str, Any] | None


class PauseIn(BaseModel):
    reason: str = Field("", max_length=200)


class HeldResolveIn(BaseModel):
    """Resolve held messages by hand (compliance or admin): ``as_sent`` or ``requeue``, with a reason."""

    ids: list[int] = Field(..., min_length=1, max_length=10_000)
    resolution: Literal["as_sent", "requeue"]
    reason: str = Field(..., min_length=1, max_length=500)


class JobOut(BaseModel):
    job_id: str
    kind: str
    title_zh: str
    title_en: str
    actor: str
    state: str
    stage: str
    done: int
    total: int
    pct: float | None
    result: dict[str, Any] | None
    result_url: str | None
    error: dict[str, str] | None
    started_at: float
    finished_at: float | None


class MessageOut(BaseModel):
    message_id: int
    campaign_id: int
    loan_id: str
    phone: str = Field(description="按角色掩码 / masked unless the role may see full numbers")
    state: str
    reason: str | None
    segment: str | None
    step: str
    variant: str | None
    is_pilot: bool
    parts: int
    submitted_at: datetime | None
    final_at: datetime | None


class MessageSearchIn(BaseModel):
    """Search criteria in the request body, so a phone number never appears in a URL or an access log."""

    loan_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    campaign_id: int | None = Field(None, ge=1, le=2**63 - 1)
    state: str | None = Field(None, max_length=16)
    cursor: int | None = Field(None, ge=1, le=2**62)
    limit: int = Field(50, ge=1, le=200)


class MessageListOut(BaseModel):
    items: list[MessageOut]
    next_cursor: int | None


class TimelineOut(BaseModel):
    at: datetime | None
    kind: str
    text_zh: str
    text_en: str


class MessageDetailOut(BaseModel):
    message: MessageOut
    text: str
    detail: str | None
    channel: str | None
    provider_id: str | None
    attempts: int
    template: str | None
    template_version: int | None
    account: dict[str, Any]
    timeline: list[TimelineOut]


class AuditOut(BaseModel):
    event_id: int
    at: datetime | None
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditListOut(BaseModel):
    items: list[AuditOut]
    next_cursor: int | None


class TemplateOut(BaseModel):
    code: str
    name: str
    tone: str
    stage: str
    profile: str
    latest_version: int
    latest_status: str
    approved_version: int | None
    text: str


class TemplateVersionOut(BaseModel):
    version_id: int
    version: int
    status: str
    author: str
    reviewer: str | None
    text: str
    variables: dict[str, Any]
    findings: list[dict[str, Any]]
    created_at: datetime | None
    approved_at: datetime | None


class TemplateDetailOut(BaseModel):
    template: TemplateOut
    versions: list[TemplateVersionOut]


class WebhookOut(BaseModel):
    channel: str
    dlr: int
    dlr_unmatched: int
    mo: int
    opt_out: int
    dispute: int
    cases: int = 0
