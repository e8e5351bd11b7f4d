"""Agency records for the web tests: the seeded agency user's agency (华信催收) and another, an awarded tender,
and an allocation period holding the two seeded accounts whose entrustment notice was delivered (the seeded
campaign, whose messages were delivered, stands in as the notice campaign) — written through the models."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from dunning.db import agency_models as am
from dunning.db.models import Account, Campaign
from dunning.services.context import AppContext
from dunning.strategy.tender_scoring import DEFAULT_CRITERIA


def seed_agencies(ctx: AppContext, import_id: int, agency: str) -> tuple[int, int, int]:
    """Returns (the agency user's agency id, tender id, period id)."""
    now = ctx.now()
    with ctx.db.transaction() as s:
        own = am.Agency(name=agency, legal_name=f"{agency}服务有限公司", status="active", status_reason="seed",
                     blacklisted=False, capacity=1000, regions=[], buckets=["M1"], contacts=[],
                     pipl_contract_start=date(2026, 1, 1), pipl_contract_end=date(2027, 12, 31),
                     next_evaluation_due=date(2026, 12, 1), created_at=now, updated_at=now)
        other = am.Agency(name="其他机构", legal_name="其他机构有限公司", status="active", status_reason="seed",
                       blacklisted=False, capacity=1000, regions=[], buckets=["M1"], contacts=[],
                       pipl_contract_start=None, pipl_contract_end=None, next_evaluation_due=None,
                       created_at=now, updated_at=now)
        s.add_all([own, other])
        s.flush()
        t = am.Tender(title="M1 委外服务招标", requirements="持牌", state="awarded",
                   criteria=[c.__dict__ for c in DEFAULT_CRITERIA], evaluators=["operator1"],
                   opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=2), created_by="strategist1",
                   created_at=now - timedelta(days=4), proposed_by="strategist1", approved_by="compliance1",
                   approved_at=now - timedelta(days=1))
        s.add(t)
        s.flush()
        lot = am.TenderLot(tender_id=t.id, name="M1 全国", buckets=["M1"], regions=[])
        s.add(lot)
        s.flush()
        period = am.AllocationPeriod(lot_id=lot.id, import_id=import_id, starts_on=date(2026, 11, 23),
                                  ends_on=date(2026, 12, 22), state="active", shares={}, created_by="operator1",
                                  created_at=now)
        s.add(period)
        s.flush()
        for a, rate in ((own, 0.10), (other, 0.12)):
            bid = am.Bid(tender_id=t.id, lot_id=lot.id, agency_id=a.id, commission_rate=rate, capacity=500,
                      promised_recovery_rate=0.3, promised_complaints_per_10k=2.0, statement="", documents=[],
                      submitted_by="agency1", submitted_at=now - timedelta(days=2, hours=1))
            s.add(bid)
            s.flush()
            s.add(am.BidScore(bid_id=bid.id, evaluator="operator1", criterion="security", score=80.0, note="",
                           scored_at=now - timedelta(days=2)))
            s.add(am.Award(tender_id=t.id, lot_id=lot.id, agency_id=a.id, bid_id=bid.id, share=0.5, commission_rate=rate))
        period.shares = {str(own.id): 0.5, str(other.id): 0.5}
        for acct in s.scalars(select(Account).where(Account.import_id == import_id)):
            target = own if acct.agency == agency else other
            s.add(am.Allocation(period_id=period.id, agency_id=target.id, loan_id=acct.loan_id, phone=acct.phone,
                             stratum="d0|a0|?", bucket=acct.bucket, amount_due_fen=acct.amount_due_fen, sticky=False))
        notice = s.scalars(select(Campaign.id).where(Campaign.import_id == import_id).order_by(Campaign.id)).first()
        if notice is not None:  # the agency may contact these borrowers: the notice reached them
            s.add(am.AgencyCampaign(campaign_id=notice, period_id=period.id, agency_id=None, kind="notice"))
            period.notice_campaign_id = notice
        return own.id, t.id, period.id
