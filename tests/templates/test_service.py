"""Template lifecycle through the service layer, on a real (SQLite) database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dunning.db.models import AuditEvent, TemplateVersion
from dunning.errors import ComplianceBlocked, NotFoundError, PermissionDenied, StateError
from dunning.services import templates as svc
from dunning.services.context import AppContext
from dunning.services.identity.users import add_user
from dunning.templates import TemplateError, load_bundled_templates

SPEC = next(s for s in load_bundled_templates() if s.id == "M1")
BAD = SPEC.text.replace("请尽快", "否则上门处理，请尽快")


@pytest.fixture
def users(ctx: AppContext) -> AppContext:
    add_user(ctx, "zhao.strategy", "strategist")
    add_user(ctx, "li.compliance", "compliance")
    add_user(ctx, "qian.compliance", "compliance")
    add_user(ctx, "wang.ops", "operator")
    return ctx


def save(ctx: AppContext, text: str = SPEC.text, actor: str = "zhao.strategy") -> svc.VersionView:
    return svc.save(ctx, code="m1_custom", text=text, variables=SPEC.variables, tone="neutral", stage="M1",
                    name="M1 自定义", actor=actor)


def test_save_makes_numbered_drafts_with_findings(users: AppContext) -> None:
    v1 = save(users)
    assert (v1.version, v1.status, v1.author) == (1, "draft", "zhao.strategy")
    assert not v1.blocked and {f["rule"] for f in v1.findings} <= {"length.segments"}  # widest: 3 parts
    assert v1.segments in (2, 3) and v1.worst_case_length > 100
    v2 = save(users, BAD)
    assert v2.version == 2 and v2.blocked
    assert {f["rule"] for f in v2.findings} >= {"lexicon.threat"}


def test_invalid_text_is_refused_and_nothing_is_stored(users: AppContext) -> None:
    with pytest.raises(TemplateError):
        svc.save(users, code="x", text="${name}您好${salary}", variables={"name": "masked_name"}, actor="zhao.strategy")
    with pytest.raises(NotFoundError):
        svc.get(users, "x")


def test_full_lifecycle_with_four_eyes(users: AppContext) -> None:
    save(users)
    assert svc.submit_for_review(users, "m1_custom", actor="zhao.strategy").status == "in_review"
    with pytest.raises(PermissionDenied):  # approval needs the compliance role
        svc.approve(users, "m1_custom", actor="wang.ops")
    v = svc.approve(users, "m1_custom", 1, actor="li.compliance", channel_codes={"aliyun": "SMS_123"})
    assert (v.status, v.reviewer, v.channel_codes) == ("approved", "li.compliance", {"aliyun": "SMS_123"})
    assert v.approved_at is not None
    with pytest.raises(StateError):  # approved is final until retired
        svc.submit_for_review(users, "m1_custom", 1, actor="zhao.strategy")
    # a change is a new version; the approved text stays as it was
    v2 = save(users, SPEC.text.replace("请尽快", "请"))
    assert v2.version == 2 and v2.status == "draft"
    assert svc.get(users, "m1_custom", 1).text == SPEC.text
    # retiring an approved version is a request until another person, a reviewer, confirms it
    assert svc.retire(users, "m1_custom", 1, actor="zhao.strategy").pending == "retire"
    assert svc.get(users, "m1_custom", 1).status == "approved"
    with pytest.raises(StateError):
        svc.retire(users, "m1_custom", 1, actor="zhao.strategy")
    assert svc.retire(users, "m1_custom", 1, actor="wang.ops").pending == "retire"  # an editor only seconds it
    assert svc.retire(users, "m1_custom", 1, actor="li.compliance").status == "retired"
    with pytest.raises(StateError):
        svc.approve(users, "m1_custom", 1, actor="li.compliance")
    with users.db.transaction() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "template")
                            .order_by(AuditEvent.id)).all()
    assert list(actions) == ["template.save", "template.in_review", "template.approved", "template.save",
                             "template.retire_requested", "template.retire_requested", "template.retire_confirmed",
                             "template.retired"]


def test_author_cannot_approve_own_version(users: AppContext) -> None:
    svc.save(users, code="own", text=SPEC.text, variables=SPEC.variables, stage="M1", actor="li.compliance")
    svc.submit_for_review(users, "own", actor="li.compliance")
    with pytest.raises(StateError) as exc:
        svc.approve(users, "own", actor="li.compliance")
    assert exc.value.code == "state.four_eyes"
    assert svc.approve(users, "own", actor="qian.compliance").status == "approved"


def test_blocking_findings_refuse_submission_and_approval(users: AppContext) -> None:
    save(users, BAD)
    with pytest.raises(ComplianceBlocked) as exc:
        svc.submit_for_review(users, "m1_custom", actor="zhao.strategy")
    assert "lexicon.threat" in exc.value.message_zh
    assert svc.get(users, "m1_custom").status == "draft"
    # a reviewer can send a version back to draft
    save(users)
    svc.submit_for_review(users, "m1_custom", 2, actor="zhao.strategy")
    assert svc.reject(users, "m1_custom", 2, actor="li.compliance", reason="措辞").status == "draft"


def test_approval_lints_again_with_the_policy_in_force(users: AppContext, tmp_path: object) -> None:
    from pathlib import Path

    save(users)
    svc.submit_for_review(users, "m1_custom", actor="zhao.strategy")
    stricter = Path(str(tmp_path)) / "overlay.yaml"
    stricter.write_text("lexicon: {lexicon.fee: [罚息]}\n", encoding="utf-8")
    with pytest.raises(ComplianceBlocked):
        svc.approve(users, "m1_custom", actor="li.compliance", policy_overlay=stricter)
    with users.db.transaction() as s:
        tv = s.scalars(select(TemplateVersion)).one()
        assert tv.status == "in_review" and tv.reviewer is None


def test_preview_renders_sample_accounts(users: AppContext) -> None:
    save(users)
    rows = svc.preview(users, "m1_custom")
    assert len(rows) == 4
    assert all(r.text.startswith("【阳光消费金融】") and r.length == len(r.text) for r in rows)
    assert rows[1].text.startswith("【阳光消费金融】客户您好")  # an empty name
    assert all(r.segments == (1 if r.length <= 70 else -(-r.length // 67)) for r in rows)
    # the stated rate is each account's contractual one; a null rate renders empty (planning must give such
    # accounts a template that states no rate)
    assert "按合同每日罚息0.05%" in rows[0].text and "按合同每日罚息。" in rows[3].text
    assert all(not any(f.severity == "block" for f in r.findings) for r in rows)
    unsaved = svc.preview(users, text="${name}您好", variables={"name": "masked_name"})
    assert unsaved[0].text == "【阳光消费金融】张*您好"


def test_lint_service_uses_settings_identity(users: AppContext) -> None:
    results = svc.lint(users, load_bundled_templates())
    assert all(not r.blocked for r in results)
    assert {r.id for r in results} >= {"M1", "M1_b", "first_overdue"}
