"""Tables of the outsourced-agency capability: registry, tenders, bids, scores, awards, allocation, scorecards.

An agency's ``name`` is the short name the rest of the system already uses: ``users.agency`` (who an agency
user works for) and ``accounts.agency`` (whose account it is). Allocation writes ``accounts.agency``, so the
console's existing agency scoping keeps working unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from dunning.db.models import Base, BigId, LongText, Row, Stamped, Str16, Str20, Str32, Str64, Str128


class Agency(Row):
    __tablename__ = "agencies"
    name: Mapped[Str128] = mapped_column(unique=True)
    legal_name: Mapped[str] = mapped_column(String(256))
    status: Mapped[Str16]  # candidate | active | suspended | terminated
    status_reason: Mapped[LongText] = mapped_column(default="")
    blacklisted: Mapped[bool] = mapped_column(default=False)
    capacity: Mapped[int] = mapped_column(default=0)
    regions: Mapped[list[Any]] = mapped_column(default=list)
    buckets: Mapped[list[Any]] = mapped_column(default=list)
    contacts: Mapped[list[Any]] = mapped_column(default=list)
    pipl_contract_start: Mapped[date | None]
    pipl_contract_end: Mapped[date | None]
    next_evaluation_due: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgencyDocument(Row):
    """A licence or qualification document with its expiry date (alerts before it expires)."""

    __tablename__ = "agency_documents"
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[Str32]  # licence | qualification | pipl_contract | other
    title: Mapped[str] = mapped_column(String(256))
    path: Mapped[str | None] = mapped_column(String(1024))
    expires_on: Mapped[date | None]
    added_by: Mapped[Str64]
    added_at: Mapped[datetime]


class Tender(Row):
    __tablename__ = "tenders"
    title: Mapped[str] = mapped_column(String(256))
    requirements: Mapped[LongText] = mapped_column(default="")
    state: Mapped[Str16]  # dunning.domain.agencies.TenderState
    criteria: Mapped[list[Any]]  # [{key, weight, kind, lower_is_better, label_zh}]
    evaluators: Mapped[list[Any]]  # usernames
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    created_by: Mapped[Str64]
    created_at: Mapped[datetime]
    proposed_by: Mapped[Str64 | None]
    approved_by: Mapped[Str64 | None]
    approved_at: Mapped[datetime | None]


class TenderLot(Row):
    __tablename__ = "tender_lots"
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"), index=True)
    name: Mapped[Str128]
    buckets: Mapped[list[Any]] = mapped_column(default=list)  # empty = any
    regions: Mapped[list[Any]] = mapped_column(default=list)  # empty = nationwide


class LotEntry:
    """An agency's entry in one lot of a tender — its bid, its award: one per lot and agency, with the commission
    rate (a share of the recovered amount, e.g. 0.12) and optional rates by bucket (bucket → rate)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("lot_id", "agency_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("tender_lots.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    commission_rate: Mapped[float]
    bucket_rates: Mapped[dict[str, Any] | None]


class Bid(LotEntry, Base):
    __tablename__ = "bids"
    capacity: Mapped[int]
    promised_recovery_rate: Mapped[float] = mapped_column(default=0.0)
    promised_complaints_per_10k: Mapped[float] = mapped_column(default=0.0)
    statement: Mapped[LongText] = mapped_column(default="")
    documents: Mapped[list[Any]] = mapped_column(default=list)  # stored file names
    submitted_by: Mapped[Str64]
    submitted_at: Mapped[datetime]


class EvaluatorConflict(Row):
    __tablename__ = "evaluator_conflicts"
    __table_args__ = (UniqueConstraint("tender_id", "evaluator", "agency_id"),)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"))
    evaluator: Mapped[Str64]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    note: Mapped[LongText] = mapped_column(default="")
    declared_at: Mapped[datetime]


class BidScore(Row):
    __tablename__ = "bid_scores"
    __table_args__ = (UniqueConstraint("bid_id", "evaluator", "criterion"),)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id"), index=True)
    evaluator: Mapped[Str64]
    criterion: Mapped[Str32]
    score: Mapped[float]
    note: Mapped[LongText] = mapped_column(default="")
    scored_at: Mapped[datetime]


class Award(LotEntry, Base):
    """A winner of a lot, with its share; the rates are the winning bid's."""

    __tablename__ = "awards"
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id"))
    share: Mapped[float]


class AllocationPeriod(Stamped, Row):
    __tablename__ = "allocation_periods"
    lot_id: Mapped[int] = mapped_column(ForeignKey("tender_lots.id"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    state: Mapped[Str16]  # dunning.domain.agencies.AllocationPeriodState
    shares: Mapped[dict[str, Any]] = mapped_column(default=dict)  # agency id → share used
    notice_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))


class Allocation(Row):
    """One account with one agency for one period (sticky: the next period starts from these)."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("period_id", "loan_id"), Index("ix_allocations_agency", "agency_id",
                                                                       "period_id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("allocation_periods.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    loan_id: Mapped[Str64]
    phone: Mapped[Str20]
    stratum: Mapped[Str128]
    bucket: Mapped[str] = mapped_column(String(8))
    amount_due_fen: Mapped[int]
    sticky: Mapped[bool] = mapped_column(default=False)
    recalled_at: Mapped[datetime | None]
    recall_reason: Mapped[Str64 | None]


class AgencyCampaign(Row):
    """A campaign run for an agency's allocated accounts (``work``) or the entrustment notice (``notice``)."""

    __tablename__ = "agency_campaigns"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("allocation_periods.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    kind: Mapped[Str16]  # notice | work


class Scorecard(Stamped, Row):
    __tablename__ = "agency_scorecards"
    __table_args__ = (UniqueConstraint("period_id", "agency_id"),)
    period_id: Mapped[int] = mapped_column(ForeignKey("allocation_periods.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    figures: Mapped[dict[str, Any]]
    score: Mapped[float]
    next_share: Mapped[float]
