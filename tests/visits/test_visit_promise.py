"""A promise to pay taken on a visit holds the planner's reminders until the promised date."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from dunning.db.models import TemplateRecord, TemplateVersion
from dunning.db.visit_models import PromiseToPay
from dunning.services.context import AppContext
from dunning.testing import FrozenClock
from tests.strategy.helpers import Acct, at, by_loan, import_accounts, make_ctx, plan
from tests.strategy.test_planning import WINDOW_8_22

DAY = date(2026, 11, 23)


def with_promises(tmp_path: Path, accounts: list[Acct], promised_on: dict[str, date]) -> tuple[AppContext, int]:
    """A context at 10:00 on DAY with ``accounts`` imported (the import's id) and, for each loan of
    ``promised_on``, a promise to pay on that date taken on a visit."""
    clock = FrozenClock(at(DAY, 10))
    ctx = make_ctx(tmp_path, clock)
    iid = import_accounts(ctx, accounts, DAY)
    with ctx.db.transaction() as s:
        s.add_all([PromiseToPay(loan_id=loan, promised_on=on, amount_fen=50_000, source="visit", created_by="t",
                                created_at=clock.now()) for loan, on in promised_on.items()])
    return ctx, iid


def test_a_promise_suppresses_reminders_until_its_date(tmp_path: Path) -> None:
    # a promise falling due today (DUE) no longer holds the reminder back
    ctx, iid = with_promises(tmp_path, [Acct("PROM", 1), Acct("DUE", 1), Acct("OK", 1)],
                             {"PROM": DAY + timedelta(days=3), "DUE": DAY})
    summary = plan(ctx, WINDOW_8_22, tmp_path, iid, DAY)
    got = {k: m.reason for k, m in by_loan(ctx, summary.campaign_id).items()}
    assert got == {"PROM": "promise", "DUE": None, "OK": None}


def test_on_the_promised_date_the_borrower_gets_the_approved_promise_reminder(tmp_path: Path) -> None:
    # TODAY: a cadence step fires today too (dpd 1); QUIET: no cadence step today (dpd 2); OK: no promise.
    ctx, iid = with_promises(tmp_path, [Acct("TODAY", 1), Acct("QUIET", 2), Acct("OK", 1)],
                             {"TODAY": DAY, "QUIET": DAY})
    with ctx.db.transaction() as s:
        promise_tv = s.scalars(select(TemplateVersion.id).join(TemplateRecord)
                               .where(TemplateRecord.code == "promise_reminder")).one()
    summary = plan(ctx, WINDOW_8_22, tmp_path, iid, DAY)
    got = by_loan(ctx, summary.campaign_id)
    for loan in ("TODAY", "QUIET"):  # the promise step, from the approved template, planned and linted like any
        m = got[loan]
        assert (m.step, m.template_version_id, m.state, m.reason) == ("promise", promise_tv, "planned", None)
        assert m.text is not None and "承诺今天" in m.text and "验证码" in m.text
    assert got["OK"].step != "promise" and got["OK"].state == "planned"
    assert summary.by_template.get("promise_reminder") == 2
