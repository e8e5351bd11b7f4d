"""The registry: status changes need reasons and follow the lifecycle, a blacklisted agency never comes back,
expiring documents, contracts and yearly evaluations raise alerts before they are due."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dunning.errors import InputError, PermissionDenied, StateError
from dunning.services.agencies import registry
from dunning.services.context import AppContext
from dunning.services.identity.users import add_user
from tests.agencies.flow import PASSWORD, admin


def test_status_lifecycle_reasons_and_blacklist(ctx: AppContext) -> None:
    admin(ctx)
    add_user(ctx, "ops", "operator", password=PASSWORD)
    with pytest.raises(PermissionDenied):  # the registry is kept by administrators and compliance
        registry.create(ctx, name="华信商务", legal_name="华信商务咨询有限公司", actor="ops", capacity=100)
    a = registry.create(ctx, name="华信商务", legal_name="华信商务咨询有限公司", actor="admin", capacity=100)
    with pytest.raises(InputError):
        registry.set_status(ctx, a.id, "active", reason=" ", actor="admin")
    with pytest.raises(StateError):  # a candidate cannot be suspended
        registry.set_status(ctx, a.id, "suspended", reason="投诉", actor="admin")
    active = registry.set_status(ctx, a.id, "active", reason="中标", actor="admin")
    assert active.next_evaluation_due == ctx.today() + timedelta(days=365)
    assert [x["name"] for x in registry.public_list(ctx)] == ["华信商务"]
    with pytest.raises(PermissionDenied):
        registry.blacklist(ctx, a.id, reason="暴力催收", actor="ops")
    registry.blacklist(ctx, a.id, reason="暴力催收", actor="admin")
    with pytest.raises(StateError):
        registry.set_status(ctx, a.id, "active", reason="申诉", actor="admin")
    assert registry.public_list(ctx) == []


def test_alerts_before_documents_contracts_and_evaluations_are_due(ctx: AppContext) -> None:
    admin(ctx)
    today = ctx.today()
    a = registry.create(ctx, name="诚达咨询", legal_name="诚达咨询有限公司", actor="admin",
                        pipl_contract_start=today - timedelta(days=300), pipl_contract_end=today + timedelta(days=20))
    registry.add_document(ctx, a.id, kind="licence", title="营业执照", expires_on=today + timedelta(days=10),
                          path=None, actor="admin")
    registry.add_document(ctx, a.id, kind="qualification", title="等保三级证书", expires_on=today + timedelta(days=200),
                          path=None, actor="admin")
    alerts = registry.alerts(ctx)
    assert [(x.kind, x.title, x.days_left) for x in alerts] == [("document", "营业执照", 10),
                                                                ("pipl_contract", "委托处理个人信息协议", 20)]
