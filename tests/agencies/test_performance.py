"""Commission by bucket (a winner's rate per bucket, statement lines per bucket, CSV export) and the cases against
an agency in its scorecard and yearly evaluation."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from sqlalchemy import select

from dunning.db.agency_models import Allocation
from dunning.db.case_models import Case
from dunning.db.models import Payment
from dunning.errors import InputError
from dunning.services.agencies import allocation as alloc
from dunning.services.agencies import performance, reports, tenders
from dunning.services.context import AppContext
from dunning.testing import FrozenClock
from tests.agencies.flow import APPROVER, MANAGER, open_tender, register, staff
from tests.agencies.test_allocation_flow import AS_OF, awarded, portfolio
from tests.strategy.helpers import import_accounts


def test_commission_uses_the_winners_rate_for_each_bucket(ctx: AppContext, clock: FrozenClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dunning.services.bootstrap import ensure_bundled_templates

    ensure_bundled_templates(ctx)
    staff(ctx)
    t = open_tender(ctx, clock, register(ctx))
    # 华信 re-bids with rates by bucket: M2 8 %, M3 15 %; any other bucket at its headline 10 %.
    tenders.submit_bid(ctx, t.tender_id, t.lot_id, actor="agent1", commission_rate=0.10, capacity=5_000,
                       bucket_rates={"M2": 0.08, "M3": 0.15})
    clock.advance(hours=2)
    hx, cd = t.agencies["华信商务"], t.agencies["诚达咨询"]
    tenders.propose_award(ctx, t.tender_id, [(t.lot_id, hx, 0.7), (t.lot_id, cd, 0.3)], actor=MANAGER)
    tenders.approve_award(ctx, t.tender_id, actor=APPROVER)
    imp = import_accounts(ctx, portfolio(200), AS_OF)
    r = alloc.allocate_lot(ctx, t.lot_id, import_id=imp, starts_on=AS_OF, ends_on=AS_OF + timedelta(days=29),
                           actor=MANAGER)
    with ctx.db.transaction() as s:
        rows = s.execute(select(Allocation.loan_id, Allocation.agency_id, Allocation.bucket)).all()
        for loan, _a, _b in rows:
            s.add(Payment(loan_id=loan, amount_fen=10_001, paid_at=clock.now() + timedelta(days=1)))
    counts: dict[tuple[int, str], int] = {}
    for _loan, a, b in rows:
        counts[(a, b)] = counts.get((a, b), 0) + 1
    assert {b for (a, b) in counts if a == hx} >= {"M2", "M3", "M4+"}  # every kind of rate is exercised
    want_rate = {"M2": 0.08, "M3": 0.15}
    stmt = performance.commission(ctx, r.period_id)
    got = {(x["agency"], x["bucket"]): x for x in stmt.to_dicts()}
    for (a, b), n in counts.items():
        name = "华信商务" if a == hx else "诚达咨询"
        rate = want_rate.get(b, 0.10) if a == hx else 0.12
        line = got[(name, b)]
        assert line["payers"] == n and line["recovered_fen"] == 10_001 * n and line["rate"] == pytest.approx(rate)
        assert line["commission_fen"] == int(10_001 * n * rate + 0.5)  # half up, per line
    out = reports.commission_file(stmt, tmp_path / "c.csv", "csv")
    with out.open(encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    assert len(lines) == 1 + stmt.height and any("M3" in row and "0.15" in row for row in lines)


def test_a_bucket_rate_outside_the_lot_or_out_of_range_is_refused(ctx: AppContext, clock: FrozenClock) -> None:
    staff(ctx)
    agencies = register(ctx)
    now = clock.now()
    tid = tenders.create_tender(ctx, title="M2 广东", requirements="", lots=[{"name": "M2", "buckets": ["M2"],
                                                                            "regions": ["广东"]}],
                                evaluators=["eval1"], opens_at=now - timedelta(hours=1),
                                closes_at=now + timedelta(hours=1), actor=MANAGER)
    from dunning.db.agency_models import TenderLot

    with ctx.db.transaction() as s:
        lot_id = s.scalars(select(TenderLot.id).where(TenderLot.tender_id == tid)).one()
    with pytest.raises(InputError, match="M3"):
        tenders.submit_bid(ctx, tid, lot_id, actor="agent1", commission_rate=0.1, capacity=10,
                           bucket_rates={"M3": 0.2})
    with pytest.raises(InputError):
        tenders.submit_bid(ctx, tid, lot_id, actor="agent1", commission_rate=0.1, capacity=10,
                           bucket_rates={"M2": 1.5})
    assert agencies


def _case(ctx: AppContext, phone: str, kind: str, at, subject: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with ctx.db.transaction() as s:
        s.add(Case(type=kind, state="new", source="manual", phone=phone, loan_ids=[], agency=None, team="complaints",
                   summary="", opened_by="t", opened_at=at, due_at=at + timedelta(days=7), updated_at=at,
                   subject_type="agency" if subject else None, subject_id=subject))


def test_cases_against_an_agency_count_in_the_scorecard_and_the_yearly_evaluation(ctx: AppContext,
                                                                                  clock: FrozenClock) -> None:
    t = awarded(ctx, clock)
    hx, cd = t.agencies["华信商务"], t.agencies["诚达咨询"]
    imp = import_accounts(ctx, portfolio(100), AS_OF)
    r = alloc.allocate_lot(ctx, t.lot_id, import_id=imp, starts_on=AS_OF, ends_on=AS_OF + timedelta(days=29),
                           actor=MANAGER)
    with ctx.db.transaction() as s:
        phones = {a: [p for p, in s.execute(select(Allocation.phone).where(Allocation.agency_id == a))]
                  for a in (hx, cd)}
    inside, before = clock.now() + timedelta(days=2), clock.now() - timedelta(days=40)
    _case(ctx, phones[hx][0], "complaint", inside)  # a complaint by a borrower 华信 worked
    _case(ctx, phones[hx][1], "complaint", inside, subject="华信商务")  # also names it: counted once
    _case(ctx, "+8613000000000", "dispute", inside, subject=str(hx))  # names it by id, not one of its borrowers
    _case(ctx, phones[hx][2], "hardship", inside)  # not a complaint, names nobody: not against the agency
    _case(ctx, phones[hx][3], "complaint", before)  # before the period
    _case(ctx, phones[cd][0], "dispute", inside)  # not a complaint
    fig = {row["agency_id"]: row for row in performance.figures(ctx, r.period_id).to_dicts()}
    assert fig[hx]["cases"] == 3 and fig[cd]["cases"] == 0
    assert fig[hx]["cases_per_10k"] == pytest.approx(3 * 10_000 / fig[hx]["accounts"])
    performance.close_period(ctx, r.period_id, actor=APPROVER)
    report = performance.yearly_evaluation(ctx, hx, actor=APPROVER)
    assert report["cases"] == 3 and report["scorecards"][0]["cases_per_10k"] == pytest.approx(fig[hx]["cases_per_10k"])
