"""A small world for the visit tests: one account, a registry of field staff, the roles as principals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dunning.db.models import Account, Import
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits.registry import register_staff
from dunning.services.visits.requests import VisitRequest, decide, request_visit

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOME = (31.2304, 121.4737)  # the borrower's address (People's Square)
AGENCY = "华信催收"


@dataclass
class World:
    lead: Principal
    collector: Principal
    supervisor: Principal
    other_agency_supervisor: Principal


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI)


def ask(ctx: AppContext, w: World, start: datetime, minutes: int = 60, members: tuple[str, ...] = ("zhang", "li"),
        loan_id: str = "L0001") -> VisitRequest:
    return VisitRequest(loan_id=loan_id, address="上海市黄浦区人民大道 200 号", purpose="核实还款意愿",
                        window_start=start, window_end=start + timedelta(minutes=minutes), members=members,
                        lat=HOME[0], lon=HOME[1])


@pytest.fixture
def world(ctx: AppContext) -> World:
    now = ctx.now()
    with ctx.db.transaction() as s:
        imp = Import(kind="portfolio", as_of=now.date(), files=["p.csv"], rows=1, accepted=1, rejected=0,
                     reasons={}, content_sha="v" * 64, created_by="t", created_at=now)
        s.add(imp)
        s.flush()
        s.add(Account(import_id=imp.id, loan_id="L0001", name="王小明", phone="+8613912345678",
                      amount_due_fen=123456, due_date=date(2026, 11, 1), overdue_count=1, dpd=22, bucket="M1",
                      agency=AGENCY, source_file="p.csv", source_row=1))
    for u, name in (("zhang", "张伟"), ("li", "李娜")):
        register_staff(ctx, u, name, credential_no=f"CRED-{u}", valid_until=date(2027, 12, 31),
                       trained_on=date(2026, 3, 1), agency=AGENCY, actor="t")
    register_staff(ctx, "old", "老王", credential_no="CRED-old", valid_until=date(2027, 12, 31),
                   trained_on=date(2025, 6, 1), agency=AGENCY, actor="t")
    ensure_bundled_templates(ctx)  # the visit notice is the approved template ``visit_notice``
    return World(Principal("zhang", "张伟", Role.TEAM_LEAD, AGENCY), Principal("li", "李娜", Role.COLLECTOR, AGENCY),
                 Principal("boss", "主管", Role.SUPERVISOR, AGENCY), Principal("x", "他人", Role.SUPERVISOR, "其他机构"))


def approved(ctx: AppContext, w: World, start: datetime, minutes: int = 120) -> int:
    v = request_visit(ctx, w.lead, ask(ctx, w, start, minutes))
    return decide(ctx, w.supervisor, v.id, approve=True).id
