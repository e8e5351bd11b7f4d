"""Allocation through the services: shares and capacity from the award, stickiness across periods, recall, the
entrustment notice and the gate that keeps an agency away from a borrower until the notice is delivered."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select, update

from dunning.db.agency_models import Allocation
from dunning.db.models import Account, Message, Payment
from dunning.services.agencies import allocation as alloc
from dunning.services.agencies import performance, tenders
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.context import AppContext
from dunning.testing import FrozenClock
from tests.agencies.flow import APPROVER, MANAGER, Tendered, open_tender, register, staff
from tests.strategy.helpers import Acct, import_accounts

AS_OF = date(2026, 11, 23)
WORK_STRATEGY = """
name: {name}
profile: CN
timezone: Asia/Shanghai
segments:
  - name: overdue
    when: {{bucket: [M2, M3, M4+]}}
    steps:
      - {{name: daily, every: 1, dpd_from: 31, dpd_to: 3650, template: M3}}
"""


def awarded(ctx: AppContext, clock: FrozenClock) -> Tendered:
    ensure_bundled_templates(ctx)
    staff(ctx)
    t = open_tender(ctx, clock, register(ctx))
    clock.advance(hours=2)
    a1, a2 = t.agencies["华信商务"], t.agencies["诚达咨询"]
    tenders.propose_award(ctx, t.tender_id, [(t.lot_id, a1, 0.7), (t.lot_id, a2, 0.3)], actor=MANAGER)
    tenders.approve_award(ctx, t.tender_id, actor=APPROVER)
    return t


def portfolio(n: int, start: int = 0) -> list[Acct]:
    return [Acct(f"L{i:05d}", dpd=35 + (i * 37) % 300, amount_fen=50_000 + (i * 7_919) % 900_000,
                 region=("广东", "浙江")[i % 2]) for i in range(start, start + n)]


def test_allocation_follows_the_award_and_sticks_into_the_next_period(ctx: AppContext, clock: FrozenClock) -> None:
    t = awarded(ctx, clock)
    imp = import_accounts(ctx, portfolio(200), AS_OF)
    r = alloc.allocate_lot(ctx, t.lot_id, import_id=imp, starts_on=AS_OF, ends_on=AS_OF + timedelta(days=29),
                           actor=MANAGER)
    assert r.allocated == 200 and r.by_agency == {"华信商务": 140, "诚达咨询": 60} and r.sticky == 0
    with ctx.db.transaction() as s:
        tagged = dict(s.execute(select(Account.agency, Account.id).where(Account.import_id == imp)).all())
        first = {ln: a for ln, a in s.execute(select(Allocation.loan_id, Allocation.agency_id))}
        n_hx = s.query(Account).filter(Account.import_id == imp, Account.agency == "华信商务").count()
    assert set(tagged) == {"华信商务", "诚达咨询"} and n_hx == 140  # agency users now see exactly these

    # Next period: a new snapshot with 100 more accounts and shares from elsewhere (e.g. the scorecard).
    imp2 = import_accounts(ctx, portfolio(300), AS_OF + timedelta(days=30))
    r2 = alloc.allocate_lot(ctx, t.lot_id, import_id=imp2, starts_on=AS_OF + timedelta(days=30),
                            ends_on=AS_OF + timedelta(days=59), actor=MANAGER,
                            shares={t.agencies["华信商务"]: 0.2, t.agencies["诚达咨询"]: 0.8})
    assert r2.sticky == 200
    with ctx.db.transaction() as s:
        second = {ln: a for ln, a in s.execute(select(Allocation.loan_id, Allocation.agency_id)
                                               .where(Allocation.period_id == r2.period_id))}
    assert all(second[ln] == a for ln, a in first.items())  # nobody changed agency within the lot

    # Recall one agency's accounts: they leave the agency's view.
    n = alloc.recall(ctx, r2.period_id, actor=MANAGER, reason="contract_end", agency_id=t.agencies["诚达咨询"])
    with ctx.db.transaction() as s:
        left = s.query(Account).filter(Account.import_id == imp2, Account.agency == "诚达咨询").count()
    assert n == r2.by_agency["诚达咨询"] and left == 0


def test_an_agency_cannot_message_a_borrower_before_the_notice_is_delivered(ctx: AppContext, clock: FrozenClock,
                                                                            tmp_path: Path) -> None:
    t = awarded(ctx, clock)
    imp = import_accounts(ctx, portfolio(40), AS_OF)
    r = alloc.allocate_lot(ctx, t.lot_id, import_id=imp, starts_on=AS_OF, ends_on=AS_OF + timedelta(days=29),
                           actor=MANAGER)
    hx = t.agencies["华信商务"]
    notice = alloc.plan_notice(ctx, r.period_id, actor="buyer1")
    assert notice.planned == 40
    with ctx.db.transaction() as s:
        texts = s.scalars(select(Message.text).where(Message.campaign_id == notice.campaign_id,
                                                     Message.is_test.is_(False))).all()
        mine = sorted(s.scalars(select(Allocation.loan_id).where(Allocation.agency_id == hx)))
    assert all("已逾期" in x and ("委托华信商务" in x or "委托诚达咨询" in x) for x in texts)

    strat1 = tmp_path / "hx1.yaml"
    strat1.write_text(WORK_STRATEGY.format(name="hx-work-1"), encoding="utf-8")
    before = alloc.plan_agency_campaign(ctx, r.period_id, hx, actor="buyer1", strategy_path=strat1)
    assert before.planned == 0 and before.by_reason == {"agency_notice": len(mine)}

    # The notice reaches half of the agency's borrowers (their delivery receipts, two days ago).
    reached = mine[::2]
    sent = clock.now() - timedelta(days=2)
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == notice.campaign_id, Message.loan_id.in_(reached))
                  .values(state="delivered", submitting_at=sent, submitted_at=sent, final_at=sent))
    strat2 = tmp_path / "hx2.yaml"
    strat2.write_text(WORK_STRATEGY.format(name="hx-work-2"), encoding="utf-8")
    after = alloc.plan_agency_campaign(ctx, r.period_id, hx, actor="buyer1", strategy_path=strat2)
    with ctx.db.transaction() as s:
        planned = sorted(s.scalars(select(Message.loan_id).where(Message.campaign_id == after.campaign_id,
                                                                 Message.state == "planned",
                                                                 Message.is_test.is_(False))))
    assert planned == reached and after.by_reason == {"agency_notice": len(mine) - len(reached)}


def test_scorecard_commission_and_next_shares(ctx: AppContext, clock: FrozenClock) -> None:
    t = awarded(ctx, clock)
    imp = import_accounts(ctx, portfolio(100), AS_OF)
    r = alloc.allocate_lot(ctx, t.lot_id, import_id=imp, starts_on=AS_OF, ends_on=AS_OF + timedelta(days=29),
                           actor=MANAGER)
    with ctx.db.transaction() as s:
        rows = s.execute(select(Allocation.loan_id, Allocation.agency_id, Allocation.amount_due_fen)).all()
        # 华信 recovers 10 accounts in full, 诚达 one; a payment before the period does not count.
        hx = [x for x in rows if x[1] == t.agencies["华信商务"]][:10]
        cd = [x for x in rows if x[1] == t.agencies["诚达咨询"]][:1]
        for loan, _a, fen in hx + cd:
            s.add(Payment(loan_id=loan, amount_fen=fen, paid_at=clock.now() + timedelta(days=3)))
        s.add(Payment(loan_id=cd[0][0], amount_fen=1, paid_at=clock.now() - timedelta(days=3)))
    fig = performance.figures(ctx, r.period_id)
    got = {row["name"]: row for row in fig.to_dicts()}
    assert got["华信商务"]["recovered_count"] == 10 and got["华信商务"]["recovered_fen"] == sum(x[2] for x in hx)
    assert got["诚达咨询"]["recovered_fen"] == cd[0][2] and got["华信商务"]["cases"] == 0
    stmt = performance.commission(ctx, r.period_id)
    want = {"华信商务": sum(int(x[2] * 0.10 + 0.5) for x in hx), "诚达咨询": int(cd[0][2] * 0.12 + 0.5)}
    assert dict(stmt.group_by("agency").agg(pl.col("commission_fen").sum()).iter_rows()) == pytest.approx(want, abs=3)
    shares = performance.close_period(ctx, r.period_id, actor=APPROVER)
    assert shares[t.agencies["华信商务"]] == pytest.approx(0.6)  # best score, capped at 60 %
    assert sum(shares.values()) == pytest.approx(1.0)
