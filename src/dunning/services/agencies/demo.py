"""The demo's agencies: two registered agencies, a tender scored and awarded, the lot allocated from the demo's
import, and the entrustment notice planned through the normal pipeline. Idempotent (a second run finds them).

The tender's evaluation happens "a week later": the bids are taken inside the bidding window on the demo's clock,
and the scoring and award run on the same database with the clock moved past the deadline.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select

from dunning.db.agency_models import Agency, TenderLot
from dunning.db.models import User
from dunning.errors import StateError
from dunning.services.agencies import allocation, registry, tenders
from dunning.services.context import AppContext
from dunning.services.identity.users import Role

BUYER, EVALUATORS, APPROVER = "zhao.buyer", ("wang.ops",), "li.compliance"
AGENCIES = (("华信商务", "华信商务咨询有限公司", 0.10, 0.30), ("诚达信息", "诚达信息服务有限公司", 0.12, 0.34))


def _user(ctx: AppContext, username: str, role: Role, agency: str | None = None) -> None:
    with ctx.db.transaction() as s:
        if s.scalars(select(User.id).where(User.username == username)).first() is None:
            s.add(User(username=username, display_name=username, role=role.value, agency=agency, created_at=ctx.now()))


def seed_demo_agencies(ctx: AppContext, *, import_id: int, say: Any = lambda _m: None) -> dict[str, Any]:
    with ctx.db.transaction() as s:
        if s.scalars(select(Agency.id)).first() is not None:
            return {"found_existing": True}
    _user(ctx, BUYER, Role.STRATEGIST)
    ids = []
    for i, (name, legal, _rate, _rec) in enumerate(AGENCIES):
        a = registry.create(ctx, name=name, legal_name=legal, actor="li.compliance", capacity=50_000,
                            regions=[], buckets=["M2", "M3", "M4+"],
                            pipl_contract_start=ctx.today(), pipl_contract_end=ctx.today() + timedelta(days=730))
        _user(ctx, f"agency{i + 1}.demo", Role.AGENCY, name)
        ids.append(a.id)
    now = ctx.now().astimezone(UTC)
    tid = tenders.create_tender(ctx, title="M2+ 委外催收服务招标（演示）", requirements="持牌经营；数据安全等保三级；全程录音",
                                lots=[{"name": "M2+ 全国", "buckets": ["M2", "M3", "M4+"], "regions": []}],
                                evaluators=list(EVALUATORS), opens_at=now - timedelta(hours=1),
                                closes_at=now + timedelta(days=7), actor=BUYER)
    with ctx.db.transaction() as s:
        lot_id = s.scalars(select(TenderLot.id).where(TenderLot.tender_id == tid)).one()
    bids = {}
    for i, (name, _legal, rate, rec) in enumerate(AGENCIES):
        bids[name] = tenders.submit_bid(ctx, tid, lot_id, actor=f"agency{i + 1}.demo", commission_rate=rate,
                                        capacity=30_000, promised_recovery_rate=rec, promised_complaints_per_10k=2.0)
    later = replace(ctx, clock=lambda: ctx.now() + timedelta(days=8))
    for (name, *_rest), (sec, team) in zip(AGENCIES, ((85, 80), (75, 78)), strict=True):
        tenders.score_bid(later, bids[name], {"security": sec, "team": team}, actor=EVALUATORS[0])
    tenders.propose_award(later, tid, [(lot_id, ids[0], 0.6), (lot_id, ids[1], 0.4)], actor=BUYER)
    tenders.approve_award(later, tid, actor=APPROVER)
    say(f"委外：招标 #{tid} 已授标（华信商务 60%，诚达信息 40%），审批人 {APPROVER}（未参与评分）")
    r = allocation.allocate_lot(ctx, lot_id, import_id=import_id, starts_on=ctx.today(),
                                ends_on=ctx.today() + timedelta(days=29), actor=BUYER)
    say(f"分案周期 #{r.period_id}：{r.allocated:,} 户 → {r.by_agency}")
    notice: dict[str, Any] = {}
    try:
        plan = allocation.plan_notice(ctx, r.period_id, actor="wang.ops")
        notice = {"campaign_id": plan.campaign_id, "planned": plan.planned, "suppressed": plan.suppressed}
        say(f"委外告知批次 #{plan.campaign_id}：计划 {plan.planned:,} 条（试发、审批、发送同常规批次；送达前机构不得联系）")
    except StateError as exc:
        notice = {"error": exc.message_en}
    return {"tender_id": tid, "period_id": r.period_id, "allocated": r.allocated, "by_agency": r.by_agency,
            "notice": notice}
