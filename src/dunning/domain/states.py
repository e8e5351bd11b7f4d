"""State machines as tables. A transition not in the table is refused by the caller (services)."""

from __future__ import annotations

from enum import StrEnum


class CampaignState(StrEnum):
    DRAFT = "draft"
    PLANNED = "planned"
    PILOTING = "piloting"
    PILOT_APPROVED = "pilot_approved"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


CAMPAIGN_TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.DRAFT: frozenset({CampaignState.PLANNED, CampaignState.CANCELLED}),
    CampaignState.PLANNED: frozenset({CampaignState.PILOTING, CampaignState.CANCELLED}),
    CampaignState.PILOTING: frozenset({CampaignState.PILOT_APPROVED, CampaignState.CANCELLED}),
    CampaignState.PILOT_APPROVED: frozenset({CampaignState.SENDING, CampaignState.CANCELLED}),
    CampaignState.SENDING: frozenset({CampaignState.PAUSED, CampaignState.COMPLETED, CampaignState.CANCELLED}),
    CampaignState.PAUSED: frozenset({CampaignState.SENDING, CampaignState.CANCELLED}),
    CampaignState.COMPLETED: frozenset(),
    CampaignState.CANCELLED: frozenset(),
}

CAMPAIGN_STATE_ZH: dict[CampaignState, str] = {
    CampaignState.DRAFT: "草稿",
    CampaignState.PLANNED: "已计划",
    CampaignState.PILOTING: "试发中",
    CampaignState.PILOT_APPROVED: "试发已批准",
    CampaignState.SENDING: "发送中",
    CampaignState.PAUSED: "已暂停",
    CampaignState.COMPLETED: "已完成",
    CampaignState.CANCELLED: "已取消",
}


def campaign_can(src: CampaignState, dst: CampaignState) -> bool:
    return dst in CAMPAIGN_TRANSITIONS[src]


class MessageState(StrEnum):
    PLANNED = "planned"
    SUPPRESSED = "suppressed"
    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    HELD = "held"  # set aside for an operator (e.g. unreconcilable after a crash): never resent blindly


MESSAGE_TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    MessageState.PLANNED: frozenset({MessageState.SUPPRESSED, MessageState.QUEUED}),
    MessageState.QUEUED: frozenset({MessageState.SUBMITTING, MessageState.SUPPRESSED, MessageState.EXPIRED}),
    MessageState.SUBMITTING: frozenset(
        {MessageState.SUBMITTED, MessageState.QUEUED, MessageState.FAILED, MessageState.HELD}
    ),
    MessageState.SUBMITTED: frozenset({MessageState.DELIVERED, MessageState.FAILED, MessageState.EXPIRED}),
    # held → queued: a lookup the adapter declares authoritative proved absence, or a person resolved it
    # (``dunning messages resolve --requeue``, with a reason, audited); held → submitted: found, or resolved
    # ``--as-sent``.
    MessageState.HELD: frozenset(
        {MessageState.SUBMITTED, MessageState.FAILED, MessageState.DELIVERED, MessageState.QUEUED}
    ),
    MessageState.DELIVERED: frozenset(),
    MessageState.FAILED: frozenset(),
    MessageState.EXPIRED: frozenset({MessageState.DELIVERED, MessageState.FAILED}),
    MessageState.SUPPRESSED: frozenset(),
}

FINAL_MESSAGE_STATES = frozenset(
    {MessageState.DELIVERED, MessageState.FAILED, MessageState.EXPIRED, MessageState.SUPPRESSED}
)


def message_can(src: MessageState, dst: MessageState) -> bool:
    return dst in MESSAGE_TRANSITIONS[src]


class TemplateStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETIRED = "retired"


TEMPLATE_TRANSITIONS: dict[TemplateStatus, frozenset[TemplateStatus]] = {
    TemplateStatus.DRAFT: frozenset({TemplateStatus.IN_REVIEW, TemplateStatus.RETIRED}),
    TemplateStatus.IN_REVIEW: frozenset({TemplateStatus.APPROVED, TemplateStatus.DRAFT, TemplateStatus.RETIRED}),
    TemplateStatus.APPROVED: frozenset({TemplateStatus.RETIRED}),
    TemplateStatus.RETIRED: frozenset(),
}
