"""The entrustment-notice gate beyond planning: at send time (a dispatch run of an agency's campaign) and at an
agency's own contact action (a field visit request)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from dunning.db.agency_models import Allocation
from dunning.db.models import Message
from dunning.errors import PermissionDenied
from dunning.services.agencies import allocation as alloc
from dunning.services.campaigns.sending import run_dispatch
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits.registry import register_staff
from dunning.services.visits.requests import VisitRequest, request_visit
from dunning.testing import FrozenClock
from tests.agencies.flow import MANAGER
from tests.agencies.test_allocation_flow import AS_OF, WORK_STRATEGY, awarded, portfolio
from tests.strategy.helpers import import_accounts


def _noticed_period(ctx: AppContext, clock: FrozenClock, n: int = 40) -> tuple[int, int, list[str], list[str]]:
    """An allocated period whose notice reached every other account of 华信商务; returns period, agency, the
    agency's loans and the loans the notice reached."""
    t = awarded(ctx, clock)
    imp = import_accounts(ctx, portfolio(n), AS_OF)
    r = alloc.allocate_lot(ctx, t.lot_id, import_id=imp, starts_on=AS_OF, ends_on=AS_OF + timedelta(days=29),
                           actor=MANAGER)
    hx = t.agencies["华信商务"]
    notice = alloc.plan_notice(ctx, r.period_id, actor=MANAGER)
    with ctx.db.transaction() as s:
        mine = sorted(s.scalars(select(Allocation.loan_id).where(Allocation.agency_id == hx)))
    reached = mine[::2]
    sent = clock.now() - timedelta(days=2)
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == notice.campaign_id, Message.loan_id.in_(reached))
                  .values(state="delivered", submitting_at=sent, submitted_at=sent, final_at=sent))
    return r.period_id, hx, mine, reached


def test_the_send_path_suppresses_an_agency_message_whose_borrower_was_recalled_after_planning(
        ctx: AppContext, clock: FrozenClock, tmp_path: Path) -> None:
    period_id, hx, _mine, reached = _noticed_period(ctx, clock)
    strat = tmp_path / "hx.yaml"
    strat.write_text(WORK_STRATEGY.format(name="hx-gate"), encoding="utf-8")
    plan = alloc.plan_agency_campaign(ctx, period_id, hx, actor=MANAGER, strategy_path=strat)
    assert plan.planned == len(reached)
    recalled = reached[:3]  # recalled after planning: the planned messages must not go
    assert alloc.recall(ctx, period_id, actor=MANAGER, reason="on_request", loan_ids=recalled) == 3
    run_dispatch(ctx, plan.campaign_id, pilot_only=False, on_progress=None)
    with ctx.db.transaction() as s:
        rows = {ln: (st, rsn) for ln, st, rsn in s.execute(
            select(Message.loan_id, Message.state, Message.reason).where(Message.campaign_id == plan.campaign_id,
                                                                         Message.is_test.is_(False)))}
    assert {ln for ln, (st, rsn) in rows.items() if st == "suppressed" and rsn == "agency_notice"} >= set(recalled)
    assert all(rows[ln] == ("suppressed", "agency_notice") for ln in recalled)
    kept = [ln for ln in reached if ln not in recalled]
    assert all(rows[ln][1] != "agency_notice" for ln in kept)


def test_an_agency_visit_waits_for_the_delivered_notice(ctx: AppContext, clock: FrozenClock) -> None:
    _period_id, _hx, mine, reached = _noticed_period(ctx, clock)
    for u in ("hx1", "hx2"):
        register_staff(ctx, u, u, credential_no=f"C-{u}", valid_until=AS_OF + timedelta(days=400),
                       trained_on=AS_OF - timedelta(days=30), agency="华信商务", actor="t")
    lead = Principal("hx1", "hx1", Role.TEAM_LEAD, "华信商务")
    start = clock.now().replace(hour=2, minute=0) + timedelta(days=2)  # 10:00 in Shanghai

    def ask(loan: str) -> VisitRequest:
        return VisitRequest(loan_id=loan, address="广州市天河区体育西路 1 号", purpose="核实还款意愿",
                            window_start=start, window_end=start + timedelta(hours=1), members=("hx1", "hx2"),
                            lat=23.13, lon=113.32)

    pending = next(ln for ln in mine if ln not in reached)
    with pytest.raises(PermissionDenied):
        request_visit(ctx, lead, ask(pending))
    v = request_visit(ctx, lead, ask(reached[0]))
    assert v.loan_id == reached[0] and v.agency == "华信商务"
