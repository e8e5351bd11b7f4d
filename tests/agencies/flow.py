"""A tender from notice to award through the services, shared by the agency tests (not a test module)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dunning.services.agencies import registry, tenders
from dunning.services.context import AppContext
from dunning.services.identity.users import add_user
from dunning.testing import FrozenClock

PASSWORD = "correct-horse-9"
MANAGER, EVAL1, EVAL2, APPROVER = "buyer1", "eval1", "eval2", "approver1"


@dataclass
class Tendered:
    tender_id: int
    lot_id: int
    agencies: dict[str, int]  # name → id
    bids: dict[str, int]  # name → bid id


def staff(ctx: AppContext) -> None:
    add_user(ctx, MANAGER, "strategist", password=PASSWORD)
    add_user(ctx, EVAL1, "operator", password=PASSWORD)
    add_user(ctx, EVAL2, "viewer", password=PASSWORD)
    add_user(ctx, APPROVER, "compliance", password=PASSWORD)


def admin(ctx: AppContext) -> None:
    """The registry keeper the helpers act as (registry changes need an administrator or compliance)."""
    from sqlalchemy import select

    from dunning.db.models import User

    with ctx.db.transaction() as s:
        found = s.scalars(select(User.id).where(User.username == "admin")).first()
    if found is None:
        add_user(ctx, "admin", "admin", password=PASSWORD)


def register(ctx: AppContext, names: tuple[str, ...] = ("华信商务", "诚达咨询")) -> dict[str, int]:
    admin(ctx)
    out = {}
    for i, name in enumerate(names):
        a = registry.create(ctx, name=name, legal_name=f"{name}有限公司", actor="admin", capacity=10_000,
                            regions=["广东"], buckets=["M2", "M3"], pipl_contract_start=date(2026, 1, 1),
                            pipl_contract_end=date(2027, 12, 31))
        registry.add_agency_user(ctx, a.id, f"agent{i + 1}", password=PASSWORD, actor="admin")
        out[name] = a.id
    return out


def open_tender(ctx: AppContext, clock: FrozenClock, agencies: dict[str, int]) -> Tendered:
    now = clock.now()
    tid = tenders.create_tender(ctx, title="2027 年 M2+ 委外催收服务", requirements="持牌；数据安全等保三级",
                                lots=[{"name": "M2+ 全国", "buckets": [], "regions": []}],
                                evaluators=[EVAL1, EVAL2], opens_at=now - timedelta(hours=1),
                                closes_at=now + timedelta(hours=1), actor=MANAGER)
    from sqlalchemy import select

    from dunning.db.agency_models import TenderLot

    with ctx.db.transaction() as s:
        lot_id = s.scalars(select(TenderLot.id).where(TenderLot.tender_id == tid)).one()
    bids = {}
    for i, (name, rate, cap) in enumerate((("华信商务", 0.10, 5_000), ("诚达咨询", 0.12, 8_000))):
        if name in agencies:
            bids[name] = tenders.submit_bid(ctx, tid, lot_id, actor=f"agent{i + 1}", commission_rate=rate,
                                            capacity=cap, promised_recovery_rate=0.30 + 0.05 * i,
                                            promised_complaints_per_10k=2.0)
    return Tendered(tid, lot_id, agencies, bids)
