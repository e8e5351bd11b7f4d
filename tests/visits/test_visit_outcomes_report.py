"""The campaign outcome report carries the visit outcomes of its portfolio: repayment after a visit, by team,
against the accounts without one."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from dunning.db.models import Payment
from dunning.db.visit_models import Visit
from dunning.services.campaigns.reports import campaign_report_html, write_campaign_report
from dunning.testing import FrozenClock
from tests.strategy.helpers import Acct, at, import_accounts, make_ctx, plan


def test_the_campaign_report_shows_repayment_after_visits_by_team(tmp_path: Path) -> None:
    import polars as pl

    day = date(2026, 11, 23)
    clock = FrozenClock(at(day, 10))
    ctx = make_ctx(tmp_path, clock)
    iid = import_accounts(ctx, [Acct(f"R{i}", 5) for i in range(5)], day)
    now = clock.now()
    with ctx.db.transaction() as s:  # a closed visit on R0 by the team wu+zheng, repaid two days later
        s.add(Visit(loan_id="R0", address="上海市", purpose="核实", window_start=now, window_end=now, members=["wu", "zheng"],
                    state="closed", requested_by="wu", requested_at=now, closed_at=now + timedelta(hours=1)))
        s.add_all([Payment(loan_id="R0", amount_fen=30_000, paid_at=now + timedelta(days=2)),
                   Payment(loan_id="R3", amount_fen=10_000, paid_at=now + timedelta(days=3))])
    cid = plan(ctx, None, tmp_path, iid, day).campaign_id
    html = campaign_report_html(ctx, cid)
    assert "Repaid within 30 days of a field visit" in html and "wu+zheng" in html and "未外访" in html
    paths = write_campaign_report(ctx, cid, tmp_path / "r.html")
    sheet = pl.read_excel(paths["xlsx"], sheet_name="外访 visits")
    rows = {r["小组 team"]: (r["账户 accounts"], r["还款账户 repaid"]) for r in sheet.to_dicts()}
    assert rows == {"wu+zheng": (1, 1), "未外访": (4, 1)}
