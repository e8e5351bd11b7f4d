"""Rows straight into the database, for tests of stages that start after planning."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dunning.db.models import Account, Campaign, Import, Message, Strategy
from dunning.services.context import AppContext
from dunning.strategy import load_bundled_strategy


def seed_campaign(ctx: AppContext, phones: list[str], *, state: str = "sending", texts: list[str] | None = None,
                  as_of: date = date(2026, 11, 23), amount_fen: int = 100_000) -> int:
    spec, sha, body = load_bundled_strategy()
    now = ctx.now()
    with ctx.db.transaction() as s:
        imp = Import(as_of=as_of, files=["t.csv"], rows=len(phones), accepted=len(phones), rejected=0, reasons={},
                     content_sha=f"sha-{now.timestamp()}-{len(phones)}", created_by="t", created_at=now)
        st = s.query(Strategy).filter_by(sha=sha).first() or Strategy(
            name=spec.name, version=1, body=body, sha=sha, created_by="t", created_at=now)
        s.add_all([imp, st])
        s.flush()
        c = Campaign(name="t", strategy_id=st.id, import_id=imp.id, as_of=as_of, state=state, channel="sandbox",
                     created_by="planner", created_at=now, updated_at=now, seed=1)
        s.add(c)
        s.flush()
        for i, phone in enumerate(phones):
            a = Account(import_id=imp.id, loan_id=f"L{c.id}-{i}", name="张三", phone=phone, amount_due_fen=amount_fen,
                        due_date=as_of - timedelta(days=5), overdue_count=1, dpd=5, bucket="M1",
                        source_file="t.csv", source_row=i + 2)
            s.add(a)
            s.flush()
            s.add(Message(campaign_id=c.id, account_id=a.id, loan_id=a.loan_id, phone=phone, segment="M1", step="M1",
                          text=(texts[i] if texts else f"【阳光消费金融】提醒{i}"), parts=1, state="queued",
                          idempotency_key=f"c{c.id}|{a.loan_id}|M1",
                          scheduled_at=datetime.combine(as_of, datetime.min.time())))
        return c.id


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+86138{start + i:08d}" for i in range(n)]
