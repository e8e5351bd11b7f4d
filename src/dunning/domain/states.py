"""State machines as tables, and THE vocabulary of message states: named groups with their labels.

A transition not in the table is refused by the caller (services). Code that changes a message's state in SQL
does it through a :class:`Move`, which checks the table when it is built (at import of the module that
declares it), so an UPDATE to an illegal transition fails before it can run.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    # submitting → suppressed: the re-check right after the claim refused it, or its campaign was cancelled
    # before it went out. submitting → delivered / expired: a delivery report proves the provider accepted a
    # message whose submit response was never recorded (a crash between the two), and settles it.
    MessageState.SUBMITTING: frozenset(
        {MessageState.SUBMITTED, MessageState.QUEUED, MessageState.FAILED, MessageState.HELD,
         MessageState.SUPPRESSED, MessageState.DELIVERED, MessageState.EXPIRED}
    ),
    MessageState.SUBMITTED: frozenset({MessageState.DELIVERED, MessageState.FAILED, MessageState.EXPIRED}),
    # held → queued: a lookup the adapter declares authoritative proved absence, or a person resolved it
    # (``dunning messages resolve --requeue``, with a reason, audited); held → submitted: found, or resolved
    # ``--as-sent``.
    # held → delivered / failed / expired: a delivery report settles it.
    MessageState.HELD: frozenset(
        {MessageState.SUBMITTED, MessageState.FAILED, MessageState.DELIVERED, MessageState.QUEUED,
         MessageState.EXPIRED}
    ),
    MessageState.DELIVERED: frozenset(),
    MessageState.FAILED: frozenset(),
    MessageState.EXPIRED: frozenset({MessageState.DELIVERED, MessageState.FAILED}),
    MessageState.SUPPRESSED: frozenset(),
}

FINAL_MESSAGE_STATES = frozenset(
    {MessageState.DELIVERED, MessageState.FAILED, MessageState.EXPIRED, MessageState.SUPPRESSED}
)


MESSAGE_STATE_ZH: dict[str, str] = {
    "planned": "待发送", "suppressed": "已抑制", "queued": "排队中", "submitting": "提交中", "submitted": "已提交",
    "delivered": "已送达", "failed": "失败", "expired": "过期", "held": "待人工核查",
}


def message_can(src: MessageState, dst: MessageState) -> bool:
    return dst in MESSAGE_TRANSITIONS[src]


# Named groups of message states. Tuples of enum members (which are ``str``), so they bind directly as SQL
# parameters and as Polars ``is_in`` values.
_M = MessageState
# "This phone was contacted" for the contact budget and frequency caps: claimed and not since refused.
CONTACT_STATES: tuple[MessageState, ...] = (_M.SUBMITTING, _M.SUBMITTED, _M.DELIVERED, _M.HELD, _M.EXPIRED)
# Handed to a channel, whatever came of it (the denominator of delivery rates).
SENT_STATES: tuple[MessageState, ...] = (_M.SUBMITTED, _M.DELIVERED, _M.FAILED, _M.EXPIRED, _M.HELD)
# Accepted by the provider, or possibly so (held: outcome unknown).
ACCEPTED_STATES: tuple[MessageState, ...] = (_M.SUBMITTED, _M.DELIVERED, _M.HELD)
# Reached the provider and not refused by it (expired: accepted, then not delivered in time), or possibly so
# (held): the borrower may have it — a visit notice counts as given, a verification code as genuine.
REACHED_STATES: tuple[MessageState, ...] = (_M.SUBMITTED, _M.DELIVERED, _M.EXPIRED, _M.HELD)
# Handed over and not (known to be) delivered: refused, expired, or outcome unknown (held).
UNDELIVERED_STATES: tuple[MessageState, ...] = (_M.FAILED, _M.EXPIRED, _M.HELD)
# Not yet handed over: still to go, or going now.
PENDING_STATES: tuple[MessageState, ...] = (_M.PLANNED, _M.QUEUED, _M.SUBMITTING)
# A send was attempted (claimed at least once and not put back).
ATTEMPTED_STATES: tuple[MessageState, ...] = (_M.SUBMITTING, _M.SUBMITTED, _M.DELIVERED, _M.FAILED, _M.HELD)
# On the wire or waiting for its delivery report.
IN_FLIGHT_STATES: tuple[MessageState, ...] = (_M.SUBMITTING, _M.SUBMITTED)
# Nothing more will happen to it by itself (a late report can still settle ``expired``).
TERMINAL_STATES: tuple[MessageState, ...] = tuple(s for s in MessageState if s in FINAL_MESSAGE_STATES)

MESSAGE_GROUPS: dict[str, tuple[str, str, tuple[MessageState, ...]]] = {
    # name: (Chinese label, English label, states)
    "contact": ("已联系", "contacted", CONTACT_STATES),
    "sent": ("已发送", "sent", SENT_STATES),
    "accepted": ("已受理", "accepted", ACCEPTED_STATES),
    "reached": ("已到达服务商", "reached the provider", REACHED_STATES),
    "undelivered": ("未送达", "not delivered", UNDELIVERED_STATES),
    "pending": ("待发送", "pending", PENDING_STATES),
    "attempted": ("已尝试发送", "attempted", ATTEMPTED_STATES),
    "in_flight": ("发送中", "in flight", IN_FLIGHT_STATES),
    "terminal": ("已结束", "final", TERMINAL_STATES),
}


@dataclass(frozen=True, slots=True)
class Move:
    """A state change of messages: from any of ``src`` to ``dst``. Refuses (``ValueError``) to be built for a
    transition :data:`MESSAGE_TRANSITIONS` does not allow (``src == dst`` re-stamps a row, it is no transition);
    every built move is listed in :data:`MOVES` so a test can enumerate them."""

    src: tuple[MessageState, ...]
    dst: MessageState

    def __post_init__(self) -> None:
        if not self.src:
            raise ValueError(f"a move to {self.dst} needs at least one source state")
        bad = [s for s in self.src if s != self.dst and not message_can(s, self.dst)]
        if bad:
            raise ValueError(f"illegal message transition: {', '.join(bad)} → {self.dst}")
        MOVES.append(self)


MOVES: list[Move] = []


def move(src: MessageState | tuple[MessageState, ...], dst: MessageState) -> Move:
    """A checked :class:`Move` (``src`` one state or several)."""
    return Move(src if isinstance(src, tuple) else (src,), dst)


class TemplateStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETIRED = "retired"


TEMPLATE_STATUS_ZH: dict[str, str] = {"draft": "草稿", "in_review": "审核中", "approved": "已批准", "retired": "已停用"}

TEMPLATE_TRANSITIONS: dict[TemplateStatus, frozenset[TemplateStatus]] = {
    TemplateStatus.DRAFT: frozenset({TemplateStatus.IN_REVIEW, TemplateStatus.RETIRED}),
    TemplateStatus.IN_REVIEW: frozenset({TemplateStatus.APPROVED, TemplateStatus.DRAFT, TemplateStatus.RETIRED}),
    TemplateStatus.APPROVED: frozenset({TemplateStatus.RETIRED}),
    TemplateStatus.RETIRED: frozenset(),
}
