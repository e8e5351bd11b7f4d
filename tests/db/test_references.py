"""The references of the bulk-written tables (``accounts.import_id``; ``messages.campaign_id``, ``account_id``
and ``template_version_id``; the message of ``message_parts`` and ``delivery_reports``) hold as foreign keys do,
on SQLite (keys) and PostgreSQL (triggers checking once per statement, migration 0020): a row naming a missing
parent is refused, whether inserted row by row or in bulk (``COPY`` on PostgreSQL), and a parent that rows
refer to cannot be deleted or renumbered."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime

import polars as pl
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dunning.db.bulk import bulk_insert
from dunning.db.engine import Database, open_database
from dunning.db.models import Account, Campaign, Import, Message, Strategy

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
# Bulk inserts go through the driver's own connection (COPY, executemany): its error class, not SQLAlchemy's.
REFUSED = (IntegrityError, sqlite3.IntegrityError, psycopg.errors.ForeignKeyViolation)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def _import(db: Database) -> int:
    with db.transaction() as s:
        imp = Import(kind="portfolio", as_of=date(2026, 11, 23), files=[], rows=0, accepted=0, rejected=0, reasons={},
                     content_sha="sha", created_by="t", created_at=NOW)
        s.add(imp)
        s.flush()
        return imp.id


def _accounts(import_id: int, n: int) -> pl.DataFrame:
    return pl.DataFrame({"import_id": [import_id] * n, "loan_id": [f"L{i}" for i in range(n)],
                         "phone": ["13800138000"] * n, "amount_due_fen": [100] * n, "due_date": [date(2026, 11, 1)] * n,
                         "overdue_count": [0] * n, "dpd": [22] * n, "bucket": ["M1"] * n, "source_file": ["f"] * n,
                         "source_row": list(range(n))})


def _campaign(db: Database, import_id: int) -> int:
    with db.transaction() as s:
        st = Strategy(name="s", version=1, body="", sha="s", created_by="t", created_at=NOW)
        s.add(st)
        s.flush()
        c = Campaign(name="c", strategy_id=st.id, import_id=import_id, as_of=date(2026, 11, 23), state="planned",
                     channel="sandbox", created_by="t", created_at=NOW, updated_at=NOW)
        s.add(c)
        s.flush()
        return c.id


def _messages(campaign_id: int, account_ids: list[int]) -> pl.DataFrame:
    n = len(account_ids)
    return pl.DataFrame({"campaign_id": [campaign_id] * n, "account_id": account_ids, "loan_id": ["L"] * n,
                         "phone": ["13800138000"] * n, "step": ["M1"] * n, "parts": [1] * n, "state": ["planned"] * n,
                         "is_pilot": [False] * n, "is_test": [False] * n,
                         "idempotency_key": [f"c{campaign_id}|{a}|{i}" for i, a in enumerate(account_ids)],
                         "attempts": [0] * n})


def test_rows_that_name_existing_parents_go_in_in_bulk(db: Database) -> None:
    imp = _import(db)
    with db.transaction() as s:
        assert bulk_insert(s, Account.__table__, _accounts(imp, 500)) == 500  # type: ignore[arg-type]
    with db.transaction() as s:
        ids = [r[0] for r in s.execute(text("SELECT id FROM accounts ORDER BY id"))]
    camp = _campaign(db, imp)
    with db.transaction() as s:
        assert bulk_insert(s, Message.__table__, _messages(camp, ids)) == 500  # type: ignore[arg-type]
        assert s.execute(text("SELECT COUNT(*) FROM messages")).scalar() == 500


def _one_message(db: Database) -> tuple[int, int, int, int]:
    """An import with one account, a campaign of it and one message: their (import, account, campaign, message)
    ids."""
    imp = _import(db)
    with db.transaction() as s:
        bulk_insert(s, Account.__table__, _accounts(imp, 1))  # type: ignore[arg-type]
        acct = s.execute(text("SELECT id FROM accounts")).scalar_one()
    camp = _campaign(db, imp)
    with db.transaction() as s:
        bulk_insert(s, Message.__table__, _messages(camp, [acct]))  # type: ignore[arg-type]
        msg = s.execute(text("SELECT id FROM messages")).scalar_one()
    return imp, acct, camp, msg


def test_a_bulk_insert_naming_a_missing_parent_is_refused_whole(db: Database) -> None:
    imp = _import(db)
    frame = pl.concat([_accounts(imp, 300), _accounts(imp + 1, 1).with_columns(pl.lit("X").alias("loan_id"))])
    with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
        bulk_insert(s, Account.__table__, frame)  # type: ignore[arg-type]
    with db.transaction() as s:
        assert s.execute(text("SELECT COUNT(*) FROM accounts")).scalar() == 0
        bulk_insert(s, Account.__table__, _accounts(imp, 2))  # type: ignore[arg-type]
        ids = [r[0] for r in s.execute(text("SELECT id FROM accounts ORDER BY id"))]
    camp = _campaign(db, imp)
    for bad in (_messages(camp, [*ids, max(ids) + 1]), _messages(camp + 1, ids),
                _messages(camp, ids).with_columns(pl.lit(999, pl.Int64).alias("template_version_id"))):
        with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
            bulk_insert(s, Message.__table__, bad)  # type: ignore[arg-type]
    with db.transaction() as s:
        assert s.execute(text("SELECT COUNT(*) FROM messages")).scalar() == 0


def test_a_reference_cannot_be_changed_to_a_missing_parent(db: Database) -> None:
    imp, acct, camp, _msg = _one_message(db)
    for column, value in (("campaign_id", camp + 1), ("account_id", acct + 1), ("template_version_id", 999)):
        with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
            s.execute(text(f"UPDATE messages SET {column} = :v"), {"v": value})  # nosec B608  # column names from the test
    with db.transaction() as s:  # other columns change freely
        s.execute(text("UPDATE messages SET state = 'queued', campaign_id = :c"), {"c": camp})
    with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
        s.execute(text("UPDATE accounts SET import_id = :v"), {"v": imp + 1})


def test_a_parent_that_rows_refer_to_cannot_be_deleted_or_renumbered(db: Database) -> None:
    imp, acct, camp, _msg = _one_message(db)
    spare = _import(db)
    for statement in ("DELETE FROM imports WHERE id = :i", "UPDATE imports SET id = 1000 WHERE id = :i"):
        with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
            s.execute(text(statement), {"i": imp})
    for statement, key in (("DELETE FROM accounts WHERE id = :i", acct), ("DELETE FROM campaigns WHERE id = :i", camp)):
        with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
            s.execute(text(statement), {"i": key})
    with db.transaction() as s:  # a parent nothing refers to goes; the others stay
        s.execute(text("DELETE FROM imports WHERE id = :i"), {"i": spare})
        assert s.execute(text("SELECT COUNT(*) FROM imports")).scalar() == 1


def test_parts_and_receipts_refer_to_an_existing_message(db: Database) -> None:
    _imp, _acct, _camp, msg = _one_message(db)
    part = "INSERT INTO message_parts (message_id, channel, provider_id, part_no) VALUES (:m, 'sandbox', :p, 1)"
    report = ("INSERT INTO delivery_reports (message_id, channel, provider_id, status, received_at, raw) "
              "VALUES (:m, 'sandbox', :p, 'delivered', :at, '')")
    for statement in (part, report):
        with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
            s.execute(text(statement), {"m": msg + 1, "p": "x", "at": NOW})
    with db.transaction() as s:  # a report for an unknown id is kept without a message
        s.execute(text(part), {"m": msg, "p": "p1"})
        s.execute(text(report), {"m": msg, "p": "p1", "at": NOW})
        s.execute(text(report), {"m": None, "p": "unknown", "at": NOW})
    with pytest.raises(REFUSED, match="(?i)foreign key"), db.transaction() as s:
        s.execute(text("DELETE FROM messages WHERE id = :m"), {"m": msg})
