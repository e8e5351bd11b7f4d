"""The visit-notice SMS: rendered only from the policy's approved factual template and only for an approved visit,
then linted with the explicit visit-notice allowance (the threat rule against "上门" stays for everything else)."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from sqlalchemy import select

from dunning.compliance import blocking, lint_text
from dunning.db.types import to_utc
from dunning.db.visit_models import FieldStaff
from dunning.errors import ComplianceBlocked, StateError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.policy import policy_for
from dunning.services.visits.policy import VisitPolicy, load_policy
from dunning.services.visits.requests import get_visit


@dataclass(frozen=True)
class VisitNotice:
    visit_id: int
    phone: str | None
    text: str


def visit_notice(ctx: AppContext, p: Principal, visit_id: int, *, policy: VisitPolicy | None = None) -> VisitNotice:
    pol = policy or load_policy()
    ident = ctx.settings.identity
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        if v.state != "approved" or not v.reg_no:
            raise StateError("只有已审批登记、尚未开始的外访才能发送外访通知", "only an approved, registered visit "
                             "that has not started may be notified", code="visits.notice_state")
        names = {f.username: f.display_name for f in s.scalars(select(FieldStaff)
                                                                .where(FieldStaff.username.in_(v.members)))}
        staff = "、".join(names.get(m, m) for m in v.members)
        local = to_utc(v.window_start).astimezone(ctx.tz)
        body = Template(pol.notice_template).substitute(
            institution=ident.institution, staff=staff, reg_no=v.reg_no, hotline=ident.hotlines[0],
            visit_date=f"{local.month}月{local.day}日{local:%H:%M}")
        phone = v.phone
    sig = ident.signatures[0] if ident.signatures else ident.institution
    text = f"【{sig}】{body}"
    findings = lint_text(text, policy_for(ctx), visit_notice=True)
    if blocking(findings):
        raise ComplianceBlocked("外访通知未通过合规检查：" + "；".join(f.message_zh for f in findings),
                                "the visit notice fails the compliance lint", code="visits.notice_lint")
    return VisitNotice(visit_id, phone, text)
