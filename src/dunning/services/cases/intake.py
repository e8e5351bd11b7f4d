"""Cases in bulk: opened from a batch of replies (one vectorised pass, a few set-based queries, one bulk insert),
and payment checks closed by an imported repayment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from dunning.db.bulk import bulk_insert, key_in
from dunning.db.case_models import Case
from dunning.db.models import Account, Message
from dunning.domain.cases import OPEN_STATES, CaseState, CaseType, case_number
from dunning.domain.replies import case_type_expr
from dunning.services import audit
from dunning.services.cases.commands import close_in
from dunning.services.cases.due import due_frame
from dunning.services.cases.policy import CasePolicy
from dunning.services.cases.suppression import raise_flags

SYSTEM = "system"
_CHUNK = 1000
_OPEN = tuple(s.value for s in OPEN_STATES)
REPLY_SCHEMA: dict[str, Any] = {"reply_id": pl.Int64, "phone": pl.Utf8, "message_id": pl.Int64, "text": pl.Utf8,
                "received_at": pl.Datetime("us", "UTC")}


def classify_cases(replies: pl.DataFrame, case_keywords: Mapping[str, Sequence[str]]) -> pl.DataFrame:
    """The replies that ask for a case, with its ``type``, one per (phone, type) (the earliest reply)."""
    typed = replies.with_columns(case_type_expr(pl.col("text").str.normalize("NFKC"), case_keywords).alias("type"))
    return typed.filter(pl.col("type").is_not_null()).sort("received_at", "reply_id").unique(
        ["phone", "type"], keep="first", maintain_order=True)


def _db_time(s: Session, col: pl.Expr) -> pl.Expr:
    if s.connection().dialect.name == "sqlite":
        return col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
    return col


def open_from_replies(s: Session, replies: pl.DataFrame, case_keywords: Mapping[str, Sequence[str]],
                      policy: CasePolicy, now: datetime) -> dict[str, int]:
    """Open a case for every reply that asks for one (``replies``: :data:`REPLY_SCHEMA`), unless the phone already
    has an open case of that type; raise the stop flag for stopping types. Returns the cases opened per type."""
    wanted = classify_cases(replies, case_keywords).filter(pl.col("type").is_in(list(policy.types)))
    if wanted.is_empty():
        return {}
    phones = wanted["phone"].unique().sort().to_list()
    open_rows: list[tuple[str, str]] = []
    for i in range(0, len(phones), _CHUNK):
        open_rows.extend((str(p), str(t)) for p, t in s.execute(select(Case.phone, Case.type).where(
            key_in(s, Case.phone, phones[i:i + _CHUNK]), Case.state.in_(_OPEN))).all())
    if open_rows:
        taken = pl.DataFrame(open_rows, schema={"phone": pl.Utf8, "type": pl.Utf8}, orient="row")
        wanted = wanted.join(taken, on=["phone", "type"], how="anti")
    if wanted.is_empty():
        return {}
    mids = wanted["message_id"].drop_nulls().unique().sort().to_list()
    found: list[tuple[int, str, str | None]] = []
    for i in range(0, len(mids), _CHUNK):
        found.extend((int(m), str(loan), agency) for m, loan, agency in s.execute(
            select(Message.id, Message.loan_id, Account.agency).join(Account, Account.id == Message.account_id)
            .where(Message.id.in_(mids[i:i + _CHUNK]))).all())
    borrowers = pl.DataFrame(found, schema={"message_id": pl.Int64, "_loan": pl.Utf8, "agency": pl.Utf8},
                             orient="row")
    wanted = wanted.join(borrowers, on="message_id", how="left")
    tz = ZoneInfo(policy.timezone)
    dues = due_frame(wanted["received_at"], wanted["type"], policy, tz)
    teams = {t: r.team for t, r in policy.types.items()}
    frame = pl.concat([wanted, dues], how="horizontal").select(
        "type", pl.lit(CaseState.NEW.value).alias("state"), pl.lit("reply").alias("source"), "phone",
        pl.when(pl.col("_loan").is_null()).then(pl.lit("[]"))
        .otherwise(pl.concat_str([pl.lit('["'), pl.col("_loan").str.replace_all("\\", "\\\\", literal=True)
                                   .str.replace_all('"', '\\"', literal=True), pl.lit('"]')])).alias("loan_ids"),
        "agency", "message_id", "reply_id", pl.col("type").replace_strict(teams, return_dtype=pl.Utf8).alias("team"),
        pl.col("text").str.slice(0, 200).alias("summary"), pl.lit(SYSTEM).alias("opened_by"),
        _db_time(s, pl.col("received_at")).alias("opened_at"), _db_time(s, pl.col("ack_due_at")).alias("ack_due_at"),
        _db_time(s, pl.col("due_at")).alias("due_at"), pl.lit("{}").alias("outcome_data"),
        _db_time(s, pl.lit(now).cast(pl.Datetime("us", "UTC"))).alias("updated_at"),
    )
    bulk_insert(s, Case.__table__, frame)  # type: ignore[arg-type]
    stop = frame.filter(pl.col("type").is_in(list(policy.stopping_types())))["phone"].unique().to_list()
    raise_flags(s, stop, "短信回复开立的案件处理中", now)
    counts = {str(t): int(n) for t, n in frame.group_by("type").len().sort("type").iter_rows()}
    audit.record(s, at=now, actor=SYSTEM, action="case.open_from_replies", entity="case", entity_id="batch",
                 after={"opened": counts, "replies": replies.height, "stopped_phones": len(stop)})
    return counts


def resolve_paid(s: Session, loan_ids: Sequence[str], policy: CasePolicy, now: datetime, *,
                 import_id: int | None = None) -> list[int]:
    """Close every open payment check (``already_paid``) whose loans include one of ``loan_ids`` — an imported
    repayment shows the payment. Returns the cases closed."""
    if CaseType.ALREADY_PAID.value not in policy.types or not loan_ids:
        return []
    paid = set(loan_ids)
    open_checks = s.scalars(select(Case).where(Case.type == CaseType.ALREADY_PAID.value, Case.state.in_(_OPEN))
                            .order_by(Case.id).with_for_update()).all()
    closed = []
    for case in open_checks:  # open payment checks are few; the imported loans are a set
        hits = sorted(paid.intersection(case.loan_ids or []))
        if not hits:
            continue
        close_in(s, case, outcome="payment_found", data={}, state=CaseState.RESOLVED, actor=SYSTEM, now=now,
                 policy=policy, note=f"还款导入 #{import_id} 含借款 {'、'.join(hits)}" if import_id else
                 f"还款记录含借款 {'、'.join(hits)}")
        closed.append(case.id)
    if closed:
        audit.record(s, at=now, actor=SYSTEM, action="case.resolve_paid", entity="import",
                     entity_id=import_id or "-", after={"cases": [case_number(c) for c in closed]})
    return closed


def reply_frame(rows: Sequence[tuple[int, str, int | None, str, datetime]]) -> pl.DataFrame:
    """Rows (reply id, phone, message id, text, received at) as the frame :func:`open_from_replies` takes."""
    return pl.DataFrame(list(rows), schema=REPLY_SCHEMA, orient="row")



