"""Response and request bodies of the REST API (they are the OpenAPI document's schemas).

The bodies that show a read model are built from it (:func:`out_of`): the fields of the query's dataclass (less
the ones the API does not show) and the figures its properties compute, read with ``from_attributes`` — so a
field added to a read model is one line here, and the API's JSON cannot drift from what the console shows.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any, Literal, get_type_hints

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

from dunning.services.campaigns.planning import PlanSummary
from dunning.services.queries.audit import AuditRow
from dunning.services.queries.campaigns import (
    PROGRESS_FIGURES,
    PROGRESS_PRIVATE,
    CampaignProgress,
    CampaignView,
    Funnel,
)
from dunning.services.queries.imports import ImportRow, ImportView, RejectReason
from dunning.services.queries.message_detail import MessageDetail, TimelineEntry
from dunning.services.queries.messages import MessageRow
from dunning.services.queries.templates import TemplateSummary, TemplateVersionRow

PLAN_FIELDS = ("campaign_id", "state", "as_of", "import_id", "strategy", "accounts", "not_due_today", "planned",
               "suppressed", "by_segment", "by_template", "by_variant", "by_reason", "lint_rules", "already_planned")


class FromRow(BaseModel):
    """A response body read from a read model's attributes."""

    model_config = ConfigDict(from_attributes=True)


def out_of(cls: type, name: str, *, without: tuple[str, ...] = (), figures: tuple[str, ...] = (),
           base: type[BaseModel] = FromRow, **fields: Any) -> type[BaseModel]:
    """A response model named ``name`` with the dataclass ``cls``'s fields (but ``without``), the properties named
    in ``figures`` (typed by their return annotation), and ``fields`` as ``(type, Field)`` overrides or extras."""
    hints = get_type_hints(cls)
    spec: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(cls) if f.name not in without}
    spec |= {p: (get_type_hints(getattr(cls, p).fget)["return"], ...) for p in figures}
    spec |= fields
    model: type[BaseModel] = create_model(name, __base__=base, __module__=__name__, **spec)
    return model


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


ImportOut = out_of(ImportRow, "ImportOut", without=("kind",))
RejectReasonOut = out_of(RejectReason, "RejectReasonOut")
# the import's row with its reject reasons, flat
ImportDetailOut = out_of(ImportView, "ImportDetailOut", without=("row", "reasons", "samples", "campaigns"),
                         base=ImportOut, reasons=(list[RejectReasonOut], ...))  # type: ignore[valid-type]


class ImportListOut(BaseModel):
    items: list[ImportOut]  # type: ignore[valid-type]
    next_cursor: int | None


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


# what the plan says (the rest of the summary is for the console's plan page)
PlanOut = out_of(PlanSummary, "PlanOut", without=tuple(f.name for f in dataclasses.fields(PlanSummary)
                                                       if f.name not in PLAN_FIELDS))


ProgressOut = out_of(CampaignProgress, "ProgressOut", without=PROGRESS_PRIVATE, figures=PROGRESS_FIGURES)
FunnelOut = out_of(Funnel, "FunnelOut")
CampaignOut = out_of(CampaignView, "CampaignOut", without=("samples", "reasons"), figures=("suppressed_by_reason",),
                     progress=(ProgressOut, ...), funnel=(FunnelOut, ...))


class CampaignListOut(BaseModel):
    items: list[ProgressOut]  # type: ignore[valid-type]
    next_cursor: int | None


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


MessageOut = out_of(MessageRow, "MessageOut", without=("as_of", "template", "channel"),
                    phone=(str, Field(description="按角色掩码 / masked unless the role may see full numbers")))
TimelineOut = out_of(TimelineEntry, "TimelineOut")
MessageDetailOut = out_of(MessageDetail, "MessageDetailOut", without=("row",),
                          message=(MessageOut, Field(validation_alias=AliasChoices("row", "message"))),
                          timeline=(list[TimelineOut], ...))  # type: ignore[valid-type]
AuditOut = out_of(AuditRow, "AuditOut")
TemplateOut = out_of(TemplateSummary, "TemplateOut")
TemplateVersionOut = out_of(TemplateVersionRow, "TemplateVersionOut")


class MessageSearchIn(BaseModel):
    """Search criteria in the request body, so a phone number never appears in a URL or an access log."""

    loan_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    campaign_id: int | None = Field(None, ge=1, le=2**63 - 1)
    state: str | None = Field(None, max_length=16)
    cursor: int | None = Field(None, ge=1, le=2**62)
    limit: int = Field(50, ge=1, le=200)


class ReplySearchIn(BaseModel):
    """Reply search criteria in the request body (a phone number never appears in a URL or an access log)."""

    classification: str | None = Field(None, max_length=16)
    campaign_id: int | None = Field(None, ge=1, le=2**63 - 1)
    loan_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    since: date | None = None
    until: date | None = None
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=200)
    sort: str = Field("", max_length=32)


class MessageListOut(BaseModel):
    items: list[MessageOut]  # type: ignore[valid-type]
    next_cursor: int | None


class AuditListOut(BaseModel):
    items: list[AuditOut]  # type: ignore[valid-type]
    next_cursor: int | None


class TemplateDetailOut(BaseModel):
    template: TemplateOut  # type: ignore[valid-type]
    versions: list[TemplateVersionOut]  # type: ignore[valid-type]


class WebhookOut(BaseModel):
    channel: str
    dlr: int
    dlr_unmatched: int
    mo: int
    opt_out: int
    dispute: int
    cases: int = 0
