"""Tenders (招标): notice with requirements, lots and weighted criteria, a bidding window and evaluators; bids
from agency users before the deadline; conflicts of interest; independent qualitative scores; the award, proposed
by a tender manager and approved by someone who did not evaluate. Every step is audited.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dunning.db.agency_models import Agency, Award, Bid, BidScore, EvaluatorConflict, Tender, TenderLot
from dunning.db.types import to_utc
from dunning.domain.agencies import AgencyStatus, TenderState
from dunning.errors import InputError, NotFoundError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.agencies.records import command, row
from dunning.services.agencies.registry import by_name, get
from dunning.services.context import AppContext
from dunning.services.identity.users import Role, get_user, require_role
from dunning.strategy.tender_scoring import DEFAULT_CRITERIA, Criterion

MANAGERS = (Role.ADMIN, Role.STRATEGIST)
APPROVERS = (Role.ADMIN, Role.COMPLIANCE)
BID_DOC_TYPES = (".pdf", ".png", ".jpg", ".jpeg")
BID_DOC_MAX_BYTES = 10 * 1024 * 1024
STATE_ZH: dict[str, str] = {TenderState.OPEN: "投标中", TenderState.PROPOSED: "待审批", TenderState.AWARDED: "已授标"}


def criteria_of(t: Tender) -> tuple[Criterion, ...]:
    return tuple(Criterion(**c) for c in t.criteria)


def get_tender(s: Session, tender_id: int) -> Tender:
    return row(s, Tender, tender_id)


def create_tender(ctx: AppContext, *, title: str, requirements: str, lots: list[dict[str, Any]],
                  evaluators: list[str], opens_at: datetime, closes_at: datetime, actor: str,
                  criteria: tuple[Criterion, ...] = DEFAULT_CRITERIA) -> int:
    """Publish a tender notice. Lots are ``{"name", "buckets", "regions"}``; evaluators are staff usernames."""
    if not title.strip() or not lots:
        raise InputError("请填写标题并至少设置一个标段", "a title and at least one lot are required",
                         code="tender.input")
    if closes_at <= opens_at:
        raise InputError("截止时间须晚于开始时间", "the deadline must be after the opening", code="tender.window")
    if sum(c.weight for c in criteria) <= 0:
        raise InputError("评分权重之和须大于 0", "criteria weights must add up to more than 0", code="tender.weights")
    evaluators = sorted({e.strip() for e in evaluators if e.strip()})
    opens_at, closes_at = to_utc(opens_at), to_utc(closes_at)
    if not evaluators:
        raise InputError("请至少指定一名评委", "at least one evaluator is required", code="tender.evaluators")
    with command(ctx, actor, *MANAGERS) as (s, now):
        for e in evaluators:
            if get_user(s, e).role == Role.AGENCY.value:
                raise InputError(f"委外机构用户 {e} 不能担任评委", f"agency user {e!r} cannot evaluate",
                                 code="tender.evaluators")
        t = Tender(title=title.strip()[:256], requirements=requirements.strip(), state=TenderState.OPEN.value,
                   criteria=[asdict(c) for c in criteria], evaluators=evaluators, opens_at=opens_at,
                   closes_at=closes_at, created_by=actor, created_at=now)
        s.add(t)
        s.flush()
        for lot in lots:
            s.add(TenderLot(tender_id=t.id, name=str(lot["name"])[:128], buckets=list(lot.get("buckets") or []),
                            regions=list(lot.get("regions") or [])))
        audit.record(s, at=now, actor=actor, action="tender.create", entity="tender", entity_id=t.id,
                     after={"title": t.title, "lots": [lot["name"] for lot in lots], "evaluators": evaluators,
                            "opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat(),
                            "criteria": t.criteria})
        return t.id


def submit_bid(ctx: AppContext, tender_id: int, lot_id: int, *, actor: str, commission_rate: float, capacity: int,
               promised_recovery_rate: float = 0.0, promised_complaints_per_10k: float = 0.0, statement: str = "",
               documents: list[Path] | None = None, bucket_rates: dict[str, float] | None = None) -> int:
    """An agency user's bid for one lot (a second bid before the deadline replaces the first). Refused before
    the window opens and from the deadline on; documents are checked for type and size. ``bucket_rates`` gives
    a commission rate per bucket of the lot (e.g. ``{"M2": 0.10, "M3": 0.15}``); a bucket without one is paid at
    ``commission_rate``, which is also the rate the tender scores."""
    now = ctx.now().astimezone(UTC)
    docs = documents or []
    for p in docs:
        if not p.name.lower().endswith(BID_DOC_TYPES):
            raise InputError(f"不支持的文件类型：{p.name}（可上传 PDF、PNG、JPG）", f"unsupported file type: {p.name}",
                             code="input.file_type")
        if p.stat().st_size > BID_DOC_MAX_BYTES:
            raise InputError(f"文件 {p.name} 超过 10 MB", f"file {p.name} exceeds 10 MB", code="input.too_large")
    if not 0 < commission_rate < 1:
        raise InputError("佣金费率应在 0 到 1 之间（如 0.12 表示 12%）", "commission rate must be between 0 and 1",
                         code="bid.rate")
    if capacity <= 0:
        raise InputError("承接能力须为正整数", "capacity must be positive", code="bid.capacity")
    rates = {str(k).strip(): float(v) for k, v in (bucket_rates or {}).items()}
    if any(not 0 < r < 1 for r in rates.values()):
        raise InputError("分账龄佣金费率应在 0 到 1 之间", "per-bucket commission rates must be between 0 and 1",
                         code="bid.rate")
    with ctx.db.transaction() as s:
        user = require_role(s, actor, Role.AGENCY)
        agency = by_name(s, user.agency)
        if agency is None:
            raise PermissionDenied("您的账号未关联已登记的委外机构", "your user is not linked to a registered agency")
        if agency.blacklisted or agency.status in (AgencyStatus.TERMINATED, AgencyStatus.SUSPENDED):
            raise StateError("贵机构当前状态不能投标", "your agency may not bid in its current status",
                             code="state.agency")
        t = get_tender(s, tender_id)
        lot = s.get(TenderLot, lot_id)
        if lot is None or lot.tender_id != t.id:
            raise NotFoundError(f"标段 #{lot_id} 不属于招标 #{tender_id}", f"lot #{lot_id} is not in tender #{tender_id}")
        stray = sorted(set(rates) - set(lot.buckets or rates))
        if stray:
            raise InputError(f"账龄 {'、'.join(stray)} 不在本标段内", f"buckets {stray} are not in this lot",
                             code="bid.bucket")
        if now < t.opens_at:
            raise StateError("投标尚未开始", "bidding has not opened yet", code="state.bid_early")
        if t.state != TenderState.OPEN or now >= t.closes_at:
            raise StateError(f"投标已于 {t.closes_at:%Y-%m-%d %H:%M} (UTC) 截止，逾期投标不予接受",
                             f"bidding closed at {t.closes_at:%Y-%m-%d %H:%M} UTC; late bids are refused",
                             code="state.bid_late")
        bid = s.scalars(select(Bid).where(Bid.lot_id == lot.id, Bid.agency_id == agency.id)).first()
        before = None
        if bid is None:
            bid = Bid(tender_id=t.id, lot_id=lot.id, agency_id=agency.id)
            s.add(bid)
        else:
            before = {"commission_rate": bid.commission_rate, "capacity": bid.capacity}
        bid.commission_rate, bid.capacity, bid.bucket_rates = commission_rate, capacity, rates or None
        bid.promised_recovery_rate, bid.promised_complaints_per_10k = promised_recovery_rate, promised_complaints_per_10k
        bid.statement = statement.strip()[:4000]
        bid.documents = [*(bid.documents or []), *(str(p) for p in docs)] if before else [str(p) for p in docs]
        bid.submitted_by, bid.submitted_at = actor, now
        s.flush()
        audit.record(s, at=now, actor=actor, action="bid.submit", entity="bid", entity_id=bid.id, before=before,
                     after={"tender": t.id, "lot": lot.id, "agency": agency.name, "commission_rate": commission_rate,
                            "bucket_rates": rates, "capacity": capacity, "documents": [p.name for p in docs]})
        return bid.id


def _evaluator(s: Session, t: Tender, actor: str) -> None:
    if actor not in (t.evaluators or []):
        raise InputError(f"{actor} 不是招标 #{t.id} 的评委，不能评分或声明冲突", f"{actor!r} is not an evaluator of tender #{t.id}",
                         code="tender.not_evaluator")


def declare_conflict(ctx: AppContext, tender_id: int, agency_id: int, *, actor: str, note: str = "") -> None:
    """An evaluator declares a conflict of interest with a bidder: from now on they cannot score its bids, and
    any score they already gave it is withdrawn (and the withdrawal audited)."""
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as s:
        t = get_tender(s, tender_id)
        _evaluator(s, t, actor)
        a = get(s, agency_id)
        if s.scalars(select(EvaluatorConflict).where(EvaluatorConflict.tender_id == t.id,
                                                     EvaluatorConflict.evaluator == actor,
                                                     EvaluatorConflict.agency_id == a.id)).first() is None:
            s.add(EvaluatorConflict(tender_id=t.id, evaluator=actor, agency_id=a.id, note=note.strip()[:500],
                                    declared_at=now))
        bids = select(Bid.id).where(Bid.tender_id == t.id, Bid.agency_id == a.id)
        withdrawn = s.scalars(select(BidScore).where(BidScore.evaluator == actor, BidScore.bid_id.in_(bids))).all()
        for row in withdrawn:
            s.delete(row)
        gone = len(withdrawn)
        audit.record(s, at=now, actor=actor, action="tender.conflict", entity="tender", entity_id=t.id,
                     after={"agency": a.name, "note": note.strip()[:500], "scores_withdrawn": gone})


def conflicted(s: Session, tender_id: int, evaluator: str) -> set[int]:
    return set(s.scalars(select(EvaluatorConflict.agency_id).where(EvaluatorConflict.tender_id == tender_id,
                                                                   EvaluatorConflict.evaluator == evaluator)))


def score_bid(ctx: AppContext, bid_id: int, scores: dict[str, float], *, actor: str, note: str = "") -> None:
    """An evaluator's own 0–100 scores for a bid's qualitative criteria, after the deadline. Refused for a bidder
    the evaluator declared a conflict with; evaluators do not see each other's scores while scoring."""
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as s:
        bid = row(s, Bid, bid_id)
        t = get_tender(s, bid.tender_id)
        _evaluator(s, t, actor)
        if bid.agency_id in conflicted(s, t.id, actor):
            raise PermissionDenied("您已声明与该投标机构存在利益冲突，不能为其评分",
                                   "you declared a conflict of interest with this bidder and cannot score it")
        if t.state != TenderState.OPEN or now < t.closes_at:
            raise StateError("投标截止后、授标前方可评分", "scoring is open from the deadline until the award",
                             code="state.scoring")
        keys = {c.key for c in criteria_of(t) if c.kind == "qualitative"}
        for key, value in scores.items():
            if key not in keys:
                raise InputError(f"{key} 不是定性评分项", f"{key!r} is not a qualitative criterion", code="score.key")
            if not 0 <= value <= 100:
                raise InputError("评分应在 0 到 100 之间", "scores are 0 to 100", code="score.range")
            kept = s.scalars(select(BidScore).where(BidScore.bid_id == bid.id, BidScore.evaluator == actor,
                                                   BidScore.criterion == key)).first()
            if kept is None:
                s.add(BidScore(bid_id=bid.id, evaluator=actor, criterion=key, score=float(value),
                               note=note.strip()[:500], scored_at=now))
            else:
                kept.score, kept.note, kept.scored_at = float(value), note.strip()[:500], now
        audit.record(s, at=now, actor=actor, action="bid.score", entity="bid", entity_id=bid.id,
                     after={"scores": scores})


def propose_award(ctx: AppContext, tender_id: int, winners: list[tuple[int, int, float]], *, actor: str) -> None:
    """Winners per lot as ``(lot_id, agency_id, share)``; each lot's shares add up to 1. Waits for approval."""
    with command(ctx, actor, *MANAGERS) as (s, now):
        t = get_tender(s, tender_id)
        if t.state not in (TenderState.OPEN, TenderState.PROPOSED) or now < t.closes_at:
            raise StateError("投标截止后方可提出授标建议", "an award is proposed after the deadline", code="state.award")
        lots = {lot.id for lot in s.scalars(select(TenderLot).where(TenderLot.tender_id == t.id))}
        per_lot: dict[int, float] = {}
        for lot_id, agency_id, share in winners:
            if lot_id not in lots:
                raise InputError(f"标段 #{lot_id} 不属于本招标", f"lot #{lot_id} is not in this tender", code="award.lot")
            bid = s.scalars(select(Bid).where(Bid.lot_id == lot_id, Bid.agency_id == agency_id)).first()
            if bid is None:
                raise InputError(f"机构 #{agency_id} 未投标段 #{lot_id}", f"agency #{agency_id} did not bid for lot #{lot_id}",
                                 code="award.bid")
            if not 0 < share <= 1:
                raise InputError("份额应在 0 到 1 之间", "shares are between 0 and 1", code="award.share")
            per_lot[lot_id] = per_lot.get(lot_id, 0.0) + share
        bad = [lot for lot, total in per_lot.items() if abs(total - 1.0) > 1e-6]
        if not winners or bad:
            raise InputError("每个标段的中标份额之和须为 100%", "each lot's shares must add up to 100%", code="award.share")
        s.execute(delete(Award).where(Award.tender_id == t.id))
        for lot_id, agency_id, share in winners:
            bid = s.scalars(select(Bid).where(Bid.lot_id == lot_id, Bid.agency_id == agency_id)).one()
            s.add(Award(tender_id=t.id, lot_id=lot_id, agency_id=agency_id, bid_id=bid.id, share=share,
                        commission_rate=bid.commission_rate, bucket_rates=bid.bucket_rates))
        t.state, t.proposed_by = TenderState.PROPOSED.value, actor
        audit.record(s, at=now, actor=actor, action="tender.propose_award", entity="tender", entity_id=t.id,
                     after={"winners": [list(w) for w in winners]})


def approve_award(ctx: AppContext, tender_id: int, *, actor: str) -> None:
    """Approve the proposed award: only someone who neither evaluated the tender nor proposed the award. Winning
    candidates become active (unless blacklisted)."""
    with command(ctx, actor, *APPROVERS) as (s, now):
        t = get_tender(s, tender_id)
        if t.state != TenderState.PROPOSED:
            raise StateError("没有待审批的授标建议", "there is no proposed award to approve", code="state.award")
        scored = set(s.scalars(select(BidScore.evaluator).join(Bid, Bid.id == BidScore.bid_id)
                               .where(Bid.tender_id == t.id)))
        if actor in (t.evaluators or []) or actor in scored:
            raise PermissionDenied("评委不能审批本次授标，须由未参与评分的人员审批",
                                   "an evaluator cannot approve the award; someone who did not evaluate must")
        if actor == t.proposed_by:
            raise PermissionDenied("授标建议人不能自行审批", "the proposer cannot approve their own award")
        t.state, t.approved_by, t.approved_at = TenderState.AWARDED.value, actor, now
        for award in s.scalars(select(Award).where(Award.tender_id == t.id)):
            a = s.get(Agency, award.agency_id)
            if a is not None and a.status == AgencyStatus.CANDIDATE and not a.blacklisted:
                a.status, a.status_reason, a.updated_at = AgencyStatus.ACTIVE.value, f"招标 #{t.id} 中标", now
                audit.record(s, at=now, actor=actor, action="agency.status", entity="agency", entity_id=a.id,
                             before={"status": AgencyStatus.CANDIDATE.value},
                             after={"status": AgencyStatus.ACTIVE.value, "reason": a.status_reason})
        audit.record(s, at=now, actor=actor, action="tender.approve_award", entity="tender", entity_id=t.id,
                     after={"approved_by": actor})
