"""A small, known database for the web tests, written through the models (no intake or planning needed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dunning.db.case_models import Case
from dunning.db.models import (
    Account,
    Campaign,
    DeliveryReportRow,
    Import,
    Message,
    MessagePart,
    RejectRow,
    Reply,
    Strategy,
    TemplateRecord,
    TemplateVersion,
)
from dunning.services.context import AppContext
from dunning.services.identity import auth
from dunning.services.identity.users import Role, add_user
from dunning.strategy import load_bundled_strategy

PASSWORD = "correct-horse-9"
USERS = {role: f"{role.value.replace('_', '')}1" for role in Role}  # admin1, strategist1 … teamlead1, supervisor1
FIELD_AGENCY_ROLES = (Role.AGENCY, Role.COLLECTOR, Role.TEAM_LEAD)
AGENCY = "华信催收"
AGENCY_PHONE = "+8613912345678"
OTHER_PHONE = "+8613812348000"


@dataclass
class Seeded:
    import_id: int
    campaign_id: int
    agency_message_id: int
    other_message_id: int
    template_code: str
    tokens: dict[Role, str]
    visit_id: int = 0
    alarm_id: int = 0
    reg_no: str = ""
    agency_id: int = 0  # the agency user's agency record (issue 22)
    tender_id: int = 0
    period_id: int = 0
    case_id: int = 0  # a complaint about the agency's account: every role that sees cases sees this one


def seed(ctx: AppContext) -> Seeded:
    now = ctx.now()
    for role, name in USERS.items():
        add_user(ctx, name, role.value, password=PASSWORD, display_name=f"{role.value}-用户",
                 agency=AGENCY if role in FIELD_AGENCY_ROLES else None, actor="test")
    add_user(ctx, "target1", "viewer", password=PASSWORD, actor="test")  # the admin routes act on this one
    tokens = {role: auth.issue_token(ctx, name, label="test", actor="test") for role, name in USERS.items()}
    reports = ctx.data_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "import-1-rejects.csv").write_text("row,reason\n3,invalid_phone\n", encoding="utf-8")
    (reports / "import-1-rejects.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    spec, sha, body = load_bundled_strategy()
    with ctx.db.transaction() as s:
        imp = Import(kind="portfolio", as_of=date(2026, 11, 23), files=["/tmp/portfolio.csv"], rows=4, accepted=3,
                     rejected=1, reasons={"invalid_phone": 1}, reject_report=str(reports / "import-1-rejects.csv"),
                     content_sha="x" * 64, created_by="operator1", created_at=now)
        s.add(imp)
        s.flush()
        s.add(RejectRow(import_id=imp.id, source_file="/tmp/portfolio.csv", source_row=3, reason="invalid_phone",
                        message_zh="手机号 12345678 无效", raw="L3,张三,12345678,100.00"))
        accounts = [
            Account(import_id=imp.id, loan_id="L0001", name="王小明", phone=AGENCY_PHONE, amount_due_fen=123456,
                    due_date=date(2026, 11, 13), overdue_count=0, dpd=10, bucket="M1", agency=AGENCY,
                    source_file="portfolio.csv", source_row=1),
            Account(import_id=imp.id, loan_id="L0002", name="李四", phone=OTHER_PHONE, amount_due_fen=50000,
                    due_date=date(2026, 11, 13), overdue_count=1, dpd=10, bucket="M1", agency="其他机构",
                    source_file="portfolio.csv", source_row=2),
        ]
        s.add_all(accounts)
        strat = Strategy(name=spec.name, version=1, body=body, sha=sha, created_by="operator1", created_at=now)
        rec = TemplateRecord(code="M1", name="M1 逾期提醒", tone="firm", stage="M1", profile="CN", created_at=now)
        s.add_all([strat, rec])
        s.flush()
        tv = TemplateVersion(template_id=rec.id, version=1, text="【阳光消费金融】${name}您好，您的借款已逾期${dpd}天。",
                             variables={"name": "masked_name", "dpd": "integer"}, status="approved",
                             author="bundled", reviewer="bundled-review", approved_at=now, channel_codes={},
                             findings=[], created_at=now)
        s.add(tv)
        camp = Campaign(name="cn-default 2026-11-23", strategy_id=strat.id, import_id=imp.id, as_of=date(2026, 11, 23),
                        state="completed", channel="sandbox", created_by="operator1", pilot_approved_by="compliance1",
                        pilot_summary={"sample": 1, "started_by": "operator1"},
                        plan_summary={"campaign_id": 1, "state": "planned", "as_of": "2026-11-23", "import_id": 1,
                                      "strategy": f"{spec.name} v1", "accounts": 2, "not_due_today": 0,
                                      "planned": 2, "suppressed": 0, "by_segment": {"M1": 2},
                                      "by_template": {"M1": 2}, "by_variant": {"champion": 2}, "by_reason": {},
                                      "lint_rules": {}, "already_planned": False},
                        created_at=now, updated_at=now)
        s.add(camp)
        s.flush()
        sent = now - timedelta(minutes=30)
        msgs = []
        for i, (acct, pilot) in enumerate(zip(accounts, (True, False), strict=True)):
            msgs.append(Message(campaign_id=camp.id, account_id=acct.id, loan_id=acct.loan_id, phone=acct.phone,
                                segment="M1", step="M1", variant="champion", template_version_id=tv.id,
                                text=f"【阳光消费金融】{acct.name[0]}*您好，您的借款已逾期10天。", parts=1,
                                state="delivered", is_pilot=pilot, idempotency_key=f"c{camp.id}|{acct.loan_id}|M1",
                                channel="sandbox", provider_id=f"sbx-{i}", attempts=1, submitting_at=sent,
                                submitted_at=sent, final_at=sent + timedelta(seconds=5)))
        s.add_all(msgs)
        s.flush()
        for i, m in enumerate(msgs):
            s.add(MessagePart(message_id=m.id, channel="sandbox", provider_id=f"sbx-{i}", part_no=1))
            s.add(DeliveryReportRow(channel="sandbox", provider_id=f"sbx-{i}", message_id=m.id, status="delivered",
                                    error_code="000", done_at=sent, received_at=sent, raw="{}"))
        s.add(Reply(channel="sandbox", phone=OTHER_PHONE, text="我的号码是13812348000，已还款", classification="dispute",
                    message_id=msgs[1].id, received_at=sent + timedelta(minutes=1)))
        s.flush()
        complaint = Case(type="complaint", state="new", source="reply", phone=AGENCY_PHONE, loan_ids=["L0001"],
                         agency=AGENCY, message_id=msgs[0].id, team="compliance", summary="我要投诉催收态度",
                         opened_by="system", opened_at=sent, ack_due_at=sent + timedelta(days=1),
                         due_at=sent + timedelta(days=15), outcome_data={}, updated_at=sent)
        s.add(complaint)
        s.flush()
        case_id = complaint.id
        ids = imp.id, camp.id, msgs[0].id, msgs[1].id
    from tests.web.agency_seed import seed_agencies

    agency_id, tender_id, period_id = seed_agencies(ctx, ids[0], AGENCY)
    visit_id, alarm_id, reg_no = seed_visit(ctx)
    return Seeded(*ids, "M1", tokens, visit_id, alarm_id, reg_no, agency_id, tender_id, period_id,
                  case_id)


def seed_visit(ctx: AppContext) -> tuple[int, int, str]:
    """A registered visit to the agency's account, in the field, with an unacknowledged SOS."""
    from dunning.services.identity.auth import Principal
    from dunning.services.visits import field
    from dunning.services.visits.policy import load_policy
    from dunning.services.visits.registry import register_staff
    from dunning.services.visits.requests import VisitRequest, decide, request_visit

    for u in ("collector1", "teamlead1"):
        register_staff(ctx, u, f"{u}-外访", credential_no=f"CRED-{u}", valid_until=date(2027, 12, 31),
                       trained_on=date(2026, 6, 1), agency=AGENCY, actor="test")
    lead = Principal("teamlead1", "组长", Role.TEAM_LEAD, AGENCY)
    now = ctx.now()
    v = request_visit(ctx, lead, VisitRequest("L0001", "上海市黄浦区人民大道 200 号", "核实还款意愿",
                                              now - timedelta(minutes=10), now + timedelta(minutes=80),
                                              ("collector1", "teamlead1"), lat=31.2304, lon=121.4737))
    reg = decide(ctx, Principal("supervisor1", "主管", Role.SUPERVISOR), v.id, approve=True).reg_no or ""
    field.check_in(ctx, lead, v.id, field.Position(31.2304, 121.4737),
                   checklist=[c.code for c in load_policy().checklist], recording=True)
    alarm = field.sos(ctx, lead, v.id, field.Position(31.2305, 121.4738))
    return v.id, alarm.id, reg


def business_noon() -> datetime:
    from tests.conftest import BUSINESS_NOON

    return BUSINESS_NOON
