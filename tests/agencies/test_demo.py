"""The demo includes two agencies, an awarded tender, an allocation of its import and the planned notice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select

from dunning.db.agency_models import Agency, Allocation, AllocationPeriod
from dunning.services.context import build_context
from dunning.services.demo import run_demo
from tests.conftest import make_settings


def test_the_demo_has_two_agencies_and_an_allocation(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.business_time = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    out = run_demo(accounts=600, seed=3, settings=settings, as_of=date(2026, 11, 23))
    ag = out["agencies"]
    assert set(ag["by_agency"]) == {"华信商务", "诚达信息"} and ag["allocated"] == sum(ag["by_agency"].values()) > 0
    assert ag["notice"].get("planned", 0) > 0, ag["notice"]
    ctx = build_context(settings)
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Agency).where(Agency.status == "active")) == 2
        assert s.scalar(select(func.count()).select_from(AllocationPeriod)) == 1
        assert s.scalar(select(func.count()).select_from(Allocation)) == ag["allocated"]
    ctx.db.dispose()
