"""A promise to pay taken on a visit holds the planner's reminders until the promised date."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from dunning.db.visit_models import PromiseToPay
from dunning.testing import FrozenClock
from tests.strategy.helpers import Acct, at, by_loan, import_accounts, make_ctx, plan
from tests.strategy.test_planning import WINDOW_8_22


def test_a_promise_suppresses_reminders_until_its_date(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    clock = FrozenClock(at(day, 10))
    ctx = make_ctx(tmp_path, clock)
    iid = import_accounts(ctx, [Acct("PROM", 1), Acct("DUE", 1), Acct("OK", 1)], day)
    with ctx.db.transaction() as s:
        s.add_all([PromiseToPay(loan_id="PROM", promised_on=day + timedelta(days=3), amount_fen=50_000, source="visit",
                                created_by="t", created_at=clock.now()),
                   # a promise falling due today no longer holds the reminder back
                   PromiseToPay(loan_id="DUE", promised_on=day, amount_fen=50_000, source="visit", created_by="t",
                                created_at=clock.now())])
    summary = plan(ctx, WINDOW_8_22, tmp_path, iid, day)
    got = {k: m.reason for k, m in by_loan(ctx, summary.campaign_id).items()}
    assert got == {"PROM": "promise", "DUE": None, "OK": None}
