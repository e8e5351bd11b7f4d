"""`dunning demo` twice: the second run finds everything done and sends nothing again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select

from dunning.db.models import AuditEvent, Message
from dunning.services.demo import run_demo
from tests.conftest import make_settings


def test_demo_twice_sends_nothing_twice(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.business_time = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    lines: list[str] = []
    first = run_demo(accounts=2000, seed=9, settings=settings, as_of=date(2026, 11, 23), say=lines.append)
    assert first["found_existing"] == []
    assert first["campaign"]["state"] == "completed", first
    assert first["delivery"]["sent"] > 0
    assert any("李静" in line or "li.compliance" in line for line in lines), "the approver is named on screen"
    assert Path(first["report"]["html"]).exists()
    # The day's campaign keeps #1; the visit notice goes after it, through a campaign of its own.
    assert first["campaign"]["campaign_id"] == 1
    notice = first["visit_notice"]
    assert notice and notice["sent"] == 1 and notice["campaign_id"] > 1, notice

    second = run_demo(accounts=2000, seed=9, settings=settings, as_of=date(2026, 11, 23))
    assert second["delivery"] == first["delivery"]
    assert second["import"]["import_id"] == first["import"]["import_id"]
    assert second["campaign"]["campaign_id"] == first["campaign"]["campaign_id"]
    assert len(second["found_existing"]) >= 2
    assert any("未发送任何短信" in f for f in second["found_existing"])
    assert second["visit_notice"] == {"visit_id": notice["visit_id"], "campaign_id": notice["campaign_id"],
                                      "already": True}

    from dunning.services.context import build_context

    ctx = build_context(settings)
    with ctx.db.transaction() as s:
        keys = s.scalar(select(func.count(func.distinct(Message.idempotency_key))))
        total = s.scalar(select(func.count()).select_from(Message))
        transitions = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "campaign"))
    assert keys == total
    assert transitions >= 5  # create, planned, piloting, pilot_approved, sending, completed
