"""Tables of the outsourced-agency capability: registry, tenders, bids, scores, awards, allocation, scorecards.

An agency's ``name`` is the short name the rest of the system already uses: ``users.agency`` (who an agency
user works for) and ``accounts.agency`` (whose account it is). Allocation writes ``accounts.agency``, so the
console's existing agency scoping keeps working unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from dunning.db.models import Base, BigId
from dunning.db.types import UtcDateTime


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    legal_name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # candidate | active | suspended | terminated
    status_reason: Mapped[str] = mapped_column(Text, default="")
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    regions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    buckets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    contacts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pipl_contract_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    pipl_contract_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    next_evaluation_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AgencyDocument(Base):
    """A licence or qualification document with its expiry date (alerts before it expires)."""

    __tablename__ = "agency_documents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # licence | qualification | pipl_contract | other
    title: Mapped[str] = mapped_column(String(256))
    path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Tender(Base):
    __tablename__ = "tenders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    requirements: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))  # open | evaluating | proposed | awarded
    criteria: Mapped[list[Any]] = mapped_column(JSON)  # [{key, weight, kind, lower_is_better, label_zh}]
    evaluators: Mapped[list[Any]] = mapped_column(JSON)  # usernames
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    proposed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class TenderLot(Base):
    __tablename__ = "tender_lots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    buckets: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty = any
    regions: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty = nationwide


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
    commission_rate: Mapped[float] = mapped_column(Float)
    bucket_rates: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Bid(LotEntry, Base):
    __tablename__ = "bids"
    capacity: Mapped[int] = mapped_column(Integer)
    promised_recovery_rate: Mapped[float] = mapped_column(Float, default=0.0)
    promised_complaints_per_10k: Mapped[float] = mapped_column(Float, default=0.0)
    statement: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[list[Any]] = mapped_column(JSON, default=list)  # stored file names
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EvaluatorConflict(Base):
    __tablename__ = "evaluator_conflicts"
    __table_args__ = (UniqueConstraint("tender_id", "evaluator", "agency_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"))
    evaluator: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    declared_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BidScore(Base):
    __tablename__ = "bid_scores"
    __table_args__ = (UniqueConstraint("bid_id", "evaluator", "criterion"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id"), index=True)
    evaluator: Mapped[str] = mapped_column(String(64))
    criterion: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Award(LotEntry, Base):
    """A winner of a lot, with its share; the rates are the winning bid's."""

    __tablename__ = "awards"
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id"))
    share: Mapped[float] = mapped_column(Float)


class AllocationPeriod(Base):
    __tablename__ = "allocation_periods"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("tender_lots.id"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # active | recalled
    shares: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # agency id → share used
    notice_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Allocation(Base):
    """One account with one agency for one period (sticky: the next period starts from these)."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("period_id", "loan_id"), Index("ix_allocations_agency", "agency_id",
                                                                       "period_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("allocation_periods.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    loan_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    stratum: Mapped[str] = mapped_column(String(128))
    bucket: Mapped[str] = mapped_column(String(8))
    amount_due_fen: Mapped[int] = mapped_column(Integer)
    sticky: Mapped[bool] = mapped_column(Boolean, default=False)
    recalled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    recall_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AgencyCampaign(Base):
    """A campaign run for an agency's allocated accounts (``work``) or the entrustment notice (``notice``)."""

    __tablename__ = "agency_campaigns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("allocation_periods.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # notice | work


class Scorecard(Base):
    __tablename__ = "agency_scorecards"
    __table_args__ = (UniqueConstraint("period_id", "agency_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("allocation_periods.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    next_share: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
