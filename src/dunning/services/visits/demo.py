"""A few demo visits on the demo portfolio: one awaiting approval, one closed with a promise to pay, and one in
the field whose check-in was missed (its alarm is on the live board; unacknowledged, the safety timer escalates it
to the second supervisor ``zhou.duty`` and then the emergency contacts, with alert SMS through the sandbox).
Idempotent: skipped when visits exist.

:func:`notify_demo_visit` (run after the day's campaigns) approves one more visit, for tomorrow, and sends its
visit-notice SMS through a campaign of its own: planned by the supervisor, piloted by the operator, approved by
compliance, sent. Idempotent: once a visit is notified, a second run reports it and sends nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from dunning.db.models import Account, Message, User
from dunning.db.visit_models import Visit
from dunning.domain.states import REACHED_STATES
from dunning.errors import DunningError
from dunning.services.campaigns import lifecycle
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits import field, safety
from dunning.services.visits.notice import plan_visit_notices
from dunning.services.visits.policy import load_policy
from dunning.services.visits.registry import register_staff
from dunning.services.visits.requests import VisitRequest, decide, request_visit

DEMO_FIELD_USERS = (("zhao.lead", "外访组长-赵强", Role.TEAM_LEAD), ("qian.field", "外访员-钱芳", Role.COLLECTOR),
                    ("sun.supervisor", "外访主管-孙磊", Role.SUPERVISOR),
                    # the policy's second supervisor: an alarm nobody acknowledges reaches their board at level 2
                    ("zhou.duty", "值班主管二线-周敏", Role.SUPERVISOR))
SPOTS = ((31.2304, 121.4737, "上海市黄浦区人民大道 200 号"), (31.2397, 121.4998, "上海市浦东新区陆家嘴环路 1000 号"),
         (31.1955, 121.4365, "上海市徐汇区漕溪北路 88 号"))


def seed_demo_visits(ctx: AppContext, import_id: int, say: Callable[[str], None] = lambda _m: None) -> int:
    with ctx.db.transaction() as s:
        if (s.scalar(select(func.count()).select_from(Visit)) or 0) > 0:
            return 0
        loans = list(s.scalars(select(Account.loan_id).where(Account.import_id == import_id)
                               .order_by(Account.id).limit(3)))
        for username, name, role in DEMO_FIELD_USERS:
            if s.scalars(select(User.id).where(User.username == username)).first() is None:
                s.add(User(username=username, display_name=name, role=role.value, created_at=ctx.now()))
    if len(loans) < 3:
        return 0
    now = ctx.now()
    today = now.astimezone(ctx.tz).date()
    for username, name, _role in DEMO_FIELD_USERS[:2]:
        # the registry holds the person's name (the public check and the visit notice name them), not the role
        register_staff(ctx, username, name.split("-")[-1], credential_no=f"WF-{username.upper()}", valid_until=today + timedelta(days=365),
                       trained_on=today - timedelta(days=90), actor="demo")
    lead = Principal("zhao.lead", "外访组长-赵强", Role.TEAM_LEAD)
    boss = Principal("sun.supervisor", "外访主管-孙磊", Role.SUPERVISOR)
    team = ("qian.field", "zhao.lead")
    rules = [c.code for c in load_policy().checklist]
    made = 0
    try:
        # In the field since 40 minutes ago, checked in once and silent since: the timer raises the alarm.
        lat, lon, addr = SPOTS[0]
        start = now - timedelta(minutes=50)
        v = request_visit(ctx, lead, VisitRequest(loans[0], addr, "核实联系方式与还款意愿", start,
                                                  start + timedelta(minutes=120), team, "借款人曾情绪激动", lat, lon))
        decide(ctx, boss, v.id, approve=True)
        earlier = dataclasses.replace(ctx, clock=lambda: now - timedelta(minutes=40))
        field.check_in(earlier, lead, v.id, field.Position(lat, lon), checklist=rules, recording=True)
        made += 1
        # Closed with a promise to pay in a week.
        lat, lon, addr = SPOTS[1]
        v2 = request_visit(ctx, lead, VisitRequest(loans[1], addr, "送达还款提示", start, start + timedelta(minutes=120),
                                                   team, "", lat, lon))
        decide(ctx, boss, v2.id, approve=True)
        field.check_in(ctx, lead, v2.id, field.Position(lat, lon), checklist=rules, recording=True)
        field.record_outcome(ctx, lead, v2.id, "promise_to_pay", notes="借款人同意下周还款",
                             promise_on=today + timedelta(days=7), promise_fen=200_000)
        field.check_out(ctx, lead, v2.id)
        made += 1
        # Tomorrow afternoon, awaiting a supervisor.
        lat, lon, addr = SPOTS[2]
        tomorrow = start.astimezone(ctx.tz).replace(hour=14, minute=0) + timedelta(days=1)
        request_visit(ctx, lead, VisitRequest(loans[2], addr, "核实工作单位地址", tomorrow, tomorrow + timedelta(hours=1),
                                              team, "", lat, lon))
        made += 1
        raised = safety.tick(ctx).raised
        say(f"外访演示：{made} 个外访（1 个待审批、1 个承诺还款、1 个超时未报平安 → 警报 {len(raised)} 个）。"
            " Demo visits seeded; the live board is at /visits/board.")
    except DunningError as exc:  # e.g. the demo clock is outside the visit hours: the rest of the demo goes on
        say(f"外访演示跳过：{exc.message_zh}")
    return made


def notify_demo_visit(ctx: AppContext, import_id: int, *, operator: str, approver: str,
                      say: Callable[[str], None] = lambda _m: None) -> dict[str, Any] | None:
    """One approved visit tomorrow morning, to a borrower nobody has messaged yet, and its notice through the
    normal pipeline. Returns the visit and campaign, or None when the demo visits were not seeded."""
    with ctx.db.transaction() as s:
        if s.scalars(select(User.id).where(User.username == "sun.supervisor")).first() is None:
            return None
        done = s.scalars(select(Visit).where(Visit.notice_campaign_id.is_not(None)).order_by(Visit.id)).first()
        if done is not None:
            return {"visit_id": done.id, "campaign_id": done.notice_campaign_id, "already": True}
        contacted = select(Message.phone).where(Message.state.in_(REACHED_STATES))
        loan = s.scalars(select(Account.loan_id).where(Account.import_id == import_id,
                                                       Account.phone.not_in(contacted))
                         .order_by(Account.id.desc()).limit(1)).first()
    if loan is None:
        return None
    lead = Principal("zhao.lead", "外访组长-赵强", Role.TEAM_LEAD)
    boss = Principal("sun.supervisor", "外访主管-孙磊", Role.SUPERVISOR)
    lat, lon, addr = SPOTS[2]
    start = (ctx.now().astimezone(ctx.tz) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    try:
        v = request_visit(ctx, lead, VisitRequest(loan, addr, "送达还款方案说明", start, start + timedelta(hours=1),
                                                  ("qian.field", "zhao.lead"), "", lat, lon))
        decide(ctx, boss, v.id, approve=True)
        plan = plan_visit_notices(ctx, boss, [v.id])
        if not plan.notified:
            say(f"外访通知演示：外访 #{v.id} 的通知未能计划（{plan.not_sent}）。")
            return {"visit_id": v.id, "campaign_id": plan.campaign_id, "sent": 0}
        lifecycle.start_pilot(ctx, plan.campaign_id, actor=operator)
        lifecycle.approve_pilot(ctx, plan.campaign_id, actor=approver)
        lifecycle.send_campaign(ctx, plan.campaign_id, actor=operator)
    except DunningError as exc:  # e.g. tomorrow is a statutory holiday: the rest of the demo goes on
        say(f"外访通知演示跳过：{exc.message_zh}")
        return None
    say(f"外访通知：外访 #{v.id}（明天 10:00，已审批登记）的通知短信经批次 #{plan.campaign_id} 试发、审批、发送。"
        f" Visit notice for visit #{v.id} sent through campaign #{plan.campaign_id}.")
    return {"visit_id": v.id, "campaign_id": plan.campaign_id, "sent": plan.planned}
