"""Allocation periods (分案): a lot's accounts to its awarded agencies by share and capacity, stratified and
sticky (:func:`dunning.strategy.allocation.allocate`); the entrustment notice; agency campaigns; recall.

Allocating writes ``accounts.agency`` for the snapshot's allocated accounts, so the console's agency scoping
(agency users see only their accounts and the messages to them) follows the allocation; recall clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

import polars as pl
from sqlalchemy import select, update

from dunning.db.agency_models import (
    Agency,
    AgencyCampaign,
    Allocation,
    AllocationPeriod,
    Award,
    Bid,
    TenderLot,
)
from dunning.db.bulk import bulk_insert, read_frame
from dunning.db.models import Account, Import
from dunning.domain.agencies import AgencyStatus, AllocationPeriodState, TenderState
from dunning.errors import InputError, StateError
from dunning.services import audit
from dunning.services.agencies.gate import allocated, work_scope
from dunning.services.agencies.records import command, row
from dunning.services.agencies.tenders import get_tender
from dunning.services.campaigns import planning
from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from dunning.strategy.allocation import allocate

MANAGERS = (Role.ADMIN, Role.OPERATOR, Role.STRATEGIST)
CHUNK = 500


@dataclass(frozen=True)
class AllocationResult:
    period_id: int
    accounts: int
    allocated: int
    unallocated: int
    sticky: int
    by_agency: dict[str, int]


def notice_strategy() -> Path:
    return Path(str(resources.files("dunning.data") / "agency_notice.yaml"))


def _period(s: object, period_id: int) -> AllocationPeriod:
    return row(s, AllocationPeriod, period_id)


def _set_account_agency(s: object, import_id: int, loans: list[str], name: str | None) -> None:
    for i in range(0, len(loans), CHUNK):
        s.execute(update(Account).where(Account.import_id == import_id,  # type: ignore[attr-defined]
                                        Account.loan_id.in_(loans[i:i + CHUNK])).values(agency=name))


def allocate_lot(ctx: AppContext, lot_id: int, *, import_id: int, starts_on: date, ends_on: date, actor: str,
                 shares: dict[int, float] | None = None, seed: int = 0) -> AllocationResult:
    """Open a period for an awarded lot: the snapshot's accounts in the lot's buckets and regions go to the lot's
    winners (shares from the award, or ``shares`` — e.g. the scorecard's next shares), capacity the smaller of
    the agency's registered and bid capacity; accounts of the lot's previous period stay with their agency."""
    if ends_on < starts_on:
        raise InputError("周期结束日不能早于开始日", "the period cannot end before it starts", code="period.dates")
    with command(ctx, actor, *MANAGERS) as (s, now):
        lot = row(s, TenderLot, lot_id)
        if get_tender(s, lot.tender_id).state != TenderState.AWARDED:
            raise StateError("招标尚未授标，不能分案", "the tender has not been awarded", code="state.not_awarded")
        row(s, Import, import_id)
        rows = s.execute(select(Award, Agency, Bid.capacity).join(Agency, Agency.id == Award.agency_id)
                         .join(Bid, Bid.id == Award.bid_id).where(Award.lot_id == lot.id)).all()
        live = [(aw, ag, cap) for aw, ag, cap in rows if ag.status == AgencyStatus.ACTIVE and not ag.blacklisted]
        if not live:
            raise StateError("该标段没有可合作的中标机构（合作中且未列入黑名单）", "no active awarded agency for this lot",
                             code="state.no_agency")
        want = shares or {aw.agency_id: aw.share for aw, _ag, _c in live}
        agencies = pl.DataFrame({
            "agency_id": [ag.id for _aw, ag, _c in live],
            "share": [float(want.get(ag.id, 0.0)) for _aw, ag, _c in live],
            "capacity": [min(ag.capacity or cap, cap) for _aw, ag, cap in live]})
        names = {ag.id: ag.name for _aw, ag, _c in live}
        accounts = read_frame(
            s, "SELECT loan_id, phone, dpd, amount_due_fen, region, bucket FROM accounts WHERE import_id = :i",
            {"i": import_id}, schema={"loan_id": pl.Utf8, "phone": pl.Utf8, "dpd": pl.Int64,
                                      "amount_due_fen": pl.Int64, "region": pl.Utf8, "bucket": pl.Utf8})
        if lot.buckets:
            accounts = accounts.filter(pl.col("bucket").is_in(list(lot.buckets)))
        if lot.regions:
            accounts = accounts.filter(pl.col("region").is_in(list(lot.regions)))
        prev = s.scalars(select(AllocationPeriod).where(
            AllocationPeriod.lot_id == lot.id, AllocationPeriod.state == AllocationPeriodState.ACTIVE)).all()
        previous = None
        for p in prev:
            part = allocated(s, p.id).select("loan_id", "agency_id")
            previous = part if previous is None else pl.concat([previous, part])
            p.state = AllocationPeriodState.ENDED.value
        period = AllocationPeriod(lot_id=lot.id, import_id=import_id, starts_on=starts_on, ends_on=ends_on,
                                  state=AllocationPeriodState.ACTIVE.value,
                                  shares={str(k): v for k, v in want.items()}, created_by=actor, created_at=now)
        s.add(period)
        s.flush()
        out = allocate(accounts, agencies, previous=previous, seed=seed or period.id)
        placed = out.filter(pl.col("agency_id").is_not_null()).join(
            accounts.select("loan_id", "phone", "bucket", "amount_due_fen"), on="loan_id")
        bulk_insert(s, Allocation.__table__, placed.select(  # type: ignore[arg-type]
            pl.lit(period.id).alias("period_id"), "agency_id", "loan_id", "phone", "stratum", "bucket",
            "amount_due_fen", "sticky"))
        by_agency: dict[str, int] = {}
        for agency_id, group in placed.group_by("agency_id"):
            loans = group["loan_id"].to_list()
            _set_account_agency(s, import_id, loans, names[int(str(agency_id[0]))])
            by_agency[names[int(str(agency_id[0]))]] = len(loans)
        result = AllocationResult(period.id, accounts.height, placed.height, accounts.height - placed.height,
                                  int(placed["sticky"].sum()), dict(sorted(by_agency.items())))
        audit.record(s, at=now, actor=actor, action="allocation.create", entity="allocation_period",
                     entity_id=period.id, after={"lot": lot.id, "import_id": import_id, "starts_on": str(starts_on),
                                                 "ends_on": str(ends_on), "shares": period.shares,
                                                 "allocated": result.allocated, "unallocated": result.unallocated,
                                                 "sticky": result.sticky, "by_agency": result.by_agency})
        return result


def recall(ctx: AppContext, period_id: int, *, actor: str, reason: str, loan_ids: list[str] | None = None,
           agency_id: int | None = None) -> int:
    """Recall accounts from their agency (all of the period's, one agency's, or the listed loans)."""
    if not reason.strip():
        raise InputError("请填写收回原因", "a reason is required", code="recall.reason")
    with command(ctx, actor, *MANAGERS) as (s, now):
        p = _period(s, period_id)
        q = select(Allocation).where(Allocation.period_id == p.id, Allocation.recalled_at.is_(None))
        if agency_id is not None:
            q = q.where(Allocation.agency_id == agency_id)
        if loan_ids:
            q = q.where(Allocation.loan_id.in_(loan_ids))
        rows = s.scalars(q).all()
        for r in rows:
            r.recalled_at, r.recall_reason = now, reason.strip()[:64]
        _set_account_agency(s, p.import_id, [r.loan_id for r in rows], None)
        if loan_ids is None and agency_id is None:
            p.state = AllocationPeriodState.RECALLED.value
        audit.record(s, at=now, actor=actor, action="allocation.recall", entity="allocation_period", entity_id=p.id,
                     after={"reason": reason.strip()[:64], "accounts": len(rows), "agency_id": agency_id})
        return len(rows)


def plan_notice(ctx: AppContext, period_id: int, *, actor: str, channel: str | None = None) -> planning.PlanSummary:
    """Plan the entrustment notice for the period's accounts that have not had it: a normal campaign (lint,
    window, budget, pilot, four-eyes approval, send) from the approved ``agency_notice`` template."""
    with ctx.db.transaction() as s:
        p = _period(s, period_id)
        rows = allocated(s, p.id).filter(~pl.col("notice_delivered"))
        names = {int(i): str(n) for i, n in s.execute(select(Agency.id, Agency.name)).all()}
        import_id = p.import_id
    if rows.is_empty():
        raise StateError("本周期的分案账户均已送达委外告知", "every allocated account already has its notice",
                         code="state.notice_done")
    scope = rows.select("loan_id", pl.col("agency_id").replace_strict(names, return_dtype=pl.Utf8).alias("agency"))
    summary = planning.plan_campaign(ctx, actor=actor, strategy_path=notice_strategy(), import_id=import_id,
                                     channel=channel, scope=scope, name=f"委外告知 分案周期 #{period_id}")
    _link(ctx, summary.campaign_id, period_id, None, "notice")
    return summary


def plan_agency_campaign(ctx: AppContext, period_id: int, agency_id: int, *, actor: str, strategy_path: Path,
                         channel: str | None = None) -> planning.PlanSummary:
    """An agency's reminder campaign over its allocated accounts. Accounts whose notice has not been delivered
    are suppressed (reason ``agency_notice``): the agency cannot reach a borrower before the borrower was told."""
    with ctx.db.transaction() as s:
        p = _period(s, period_id)
        if p.state != AllocationPeriodState.ACTIVE:
            raise StateError("分案周期已结束或已收回", "the allocation period is not active", code="state.period")
        scope = work_scope(s, p.id, agency_id)
        name = s.get(Agency, agency_id).name if s.get(Agency, agency_id) else str(agency_id)  # type: ignore[union-attr]
        import_id = p.import_id
    if scope.is_empty():
        raise StateError("该机构在本周期没有分案账户", "the agency has no accounts in this period", code="state.no_accounts")
    summary = planning.plan_campaign(ctx, actor=actor, strategy_path=strategy_path, import_id=import_id,
                                     channel=channel, scope=scope, name=f"{name} 分案周期 #{period_id}")
    _link(ctx, summary.campaign_id, period_id, agency_id, "work")
    return summary


def _link(ctx: AppContext, campaign_id: int, period_id: int, agency_id: int | None, kind: str) -> None:
    with ctx.db.transaction() as s:
        found = s.scalars(select(AgencyCampaign).where(AgencyCampaign.campaign_id == campaign_id)).first()
        if found is not None:
            if found.period_id != period_id or found.agency_id != agency_id or found.kind != kind:
                raise StateError(f"批次 #{campaign_id} 已属于其他用途（同一策略、同一日、同一导入只计划一次），请换用策略名称",
                                 f"campaign #{campaign_id} already serves another purpose; use a strategy of its own",
                                 code="state.campaign_taken")
            return
        s.add(AgencyCampaign(campaign_id=campaign_id, period_id=period_id, agency_id=agency_id, kind=kind))
        if kind == "notice":
            _period(s, period_id).notice_campaign_id = campaign_id
