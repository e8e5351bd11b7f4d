"""Bulk seeding for dispatch tests and benchmarks: a campaign with N queued messages in two statements."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dunning.db.bulk import bulk_insert
from dunning.db.models import Account, Campaign, Import, Message, Strategy
from dunning.services.context import AppContext
from dunning.strategy import load_bundled_strategy


def bulk_campaign(ctx: AppContext, n: int, *, channel: str = "sandbox", state: str = "sending",
                  phone_start: int = 0, as_of: date = date(2026, 11, 23), text: str | None = None,
                  phones: list[str] | None = None, parts: int = 1) -> int:
    """A campaign with ``n`` queued messages to distinct phones (or ``phones``); returns its id.

    Phones are ``+86138XXXXXXXX`` numbered from ``phone_start``; the SMPP peer's outcome rules key on the last
    four digits (``…0000`` rejected, ``…0001`` undelivered, ``…0002`` expired, ``…0003`` no receipt).
    """
    spec, sha, body = load_bundled_strategy()
    now = ctx.now()
    with ctx.db.transaction() as s:
        imp = Import(as_of=as_of, files=["bulk.csv"], rows=n, accepted=n, rejected=0, reasons={},
                     content_sha=f"bulk-{now.timestamp()}-{n}-{phone_start}", created_by="t", created_at=now)
        st = s.query(Strategy).filter_by(sha=sha).first() or Strategy(
            name=spec.name, version=1, body=body, sha=sha, created_by="t", created_at=now)
        s.add_all([imp, st])
        s.flush()
        c = Campaign(name=f"bulk {n}", strategy_id=st.id, import_id=imp.id, as_of=as_of, state=state,
                     channel=channel, created_by="planner", created_at=now, updated_at=now, seed=1)
        s.add(c)
        s.flush()
        cid, iid = c.id, imp.id
        first_account = (s.query(Account.id).order_by(Account.id.desc()).limit(1).scalar() or 0) + 1
        idx = pl.int_range(0, n, eager=True)
        if phones is None:
            phone_col = pl.Series("phone", [f"+86138{phone_start + i:08d}" for i in range(n)])
        else:
            phone_col = pl.Series("phone", phones)
        loan = pl.Series("loan_id", [f"L{cid}-{i}" for i in range(n)])
        accounts = pl.DataFrame({
            "id": idx + first_account, "import_id": pl.repeat(iid, n, eager=True), "loan_id": loan,
            "name": pl.repeat("张三", n, eager=True), "phone": phone_col,
            "amount_due_fen": pl.repeat(100_000, n, eager=True), "due_date": pl.repeat(as_of - timedelta(days=5), n,
                                                                                       eager=True),
            "overdue_count": pl.repeat(1, n, eager=True), "dpd": pl.repeat(5, n, eager=True),
            "bucket": pl.repeat("M1", n, eager=True), "source_file": pl.repeat("bulk.csv", n, eager=True),
            "source_row": idx + 2,
        })
        bulk_insert(s, Account.__table__, accounts)  # type: ignore[arg-type]
        body_text = text or "【阳光消费金融】您的借款已逾期，请及时还款。"
        messages = pl.DataFrame({
            "campaign_id": pl.repeat(cid, n, eager=True), "account_id": idx + first_account, "loan_id": loan,
            "phone": phone_col, "segment": pl.repeat("M1", n, eager=True), "step": pl.repeat("M1", n, eager=True),
            "text": pl.repeat(body_text, n, eager=True), "parts": pl.repeat(parts, n, eager=True),
            "state": pl.repeat("queued", n, eager=True), "is_pilot": pl.repeat(False, n, eager=True),
            "idempotency_key": pl.Series([f"c{cid}|L{cid}-{i}|M1" for i in range(n)]),
            "attempts": pl.repeat(0, n, eager=True),
        })
        bulk_insert(s, Message.__table__, messages)  # type: ignore[arg-type]
    return cid
