"""`dunning payments import`: tolerant parsing, intake's reject codes, duplicates never counted twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dunning.db.models import AuditEvent, Payment
from dunning.entrypoints.cli.payments import app
from dunning.errors import InputError
from dunning.services.intake.payments import import_payments
from dunning.testing import FrozenClock
from tests.strategy.helpers import at, make_ctx

DAY = date(2026, 11, 23)

CSV = """借款编号,还款金额,还款时间
L1,"¥1,234.50",2026-11-23 09:15:00
L2,８００元,2026/11/22 18:30
L3,500,2026-11-20
L4,,2026-11-23 08:00:00
L5,-10,2026-11-23 08:00:00
L6,0,2026-11-23 08:00:00
L7,100,2026-02-30 08:00:00
L8,100,2026-11-24 08:00:00
L1,"¥1,234.50",2026-11-23 09:15:00
L9,1.2万,2026-11-23T01:00:00Z
"""


def test_import_parses_like_intake_and_explains_every_reject(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    f = tmp_path / "payments.csv"
    f.write_text(CSV, encoding="utf-8")
    s = import_payments(ctx, [f], actor="finance")
    assert s.rows == 10 and s.accepted + s.rejected == s.rows
    assert s.reasons == {"missing_field": 1, "invalid_amount": 1, "nothing_due": 1, "invalid_date": 2,
                         "duplicate": 1}
    assert s.total_fen == 123450 + 80000 + 50000 + 1200000
    assert s.reject_report is not None and Path(s.reject_report).exists()
    with ctx.db.transaction() as db:
        got = {p.loan_id: (p.amount_fen, p.paid_at.replace(tzinfo=UTC)) for p in db.scalars(select(Payment))}
        assert db.scalars(select(AuditEvent).where(AuditEvent.action == "payments.import")).first() is not None
    assert got == {
        "L1": (123450, at(DAY, 9, 15)),
        "L2": (80000, at(date(2026, 11, 22), 18, 30)),
        "L3": (50000, at(date(2026, 11, 20), 0)),  # a bare date is midnight in Shanghai
        "L9": (1200000, datetime(2026, 11, 23, 1, 0, tzinfo=UTC)),
    }


def test_the_same_file_again_and_a_payment_already_stored_are_not_counted_twice(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    first = tmp_path / "a.csv"
    first.write_text("loan_id,amount,paid_at\nL1,100.00,2026-11-23 09:00:00\n", encoding="utf-8")
    a = import_payments(ctx, [first])
    again = import_payments(ctx, [first])
    assert again.already_imported and again.import_id == a.import_id and again.total_fen == 10000
    second = tmp_path / "b.csv"
    second.write_text("借款编号,实还金额,入账时间\nL1,100,2026-11-23 09:00\nL1,100,2026-11-23 09:30\n", encoding="gbk")
    b = import_payments(ctx, [second])
    assert (b.accepted, b.reasons) == (1, {"duplicate": 1})
    with ctx.db.transaction() as db:
        assert len(db.scalars(select(Payment)).all()) == 2


def test_missing_column_names_what_was_found(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    f = tmp_path / "p.csv"
    f.write_text("借款编号,金额\nL1,100\n", encoding="utf-8")
    runner = CliRunner()
    from dunning.services.identity.users import add_user

    add_user(ctx, "pay.ops", "operator", password="pay-ops-password")  # the CLI authenticates the person
    env = {"DUNNING_DATA_DIR": str(tmp_path / ".dunning"), "DUNNING_SECRET_KEY": "k",
           "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml"), "DUNNING_PASSWORD": "pay-ops-password"}
    res = runner.invoke(app, ["import", str(f), "--as", "pay.ops", "--json"], env=env)
    assert res.exit_code == 2
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "input.missing_columns" and "paid_at" in err["message_zh"]
    ok = tmp_path / "ok.csv"
    ok.write_text("借款编号,还款金额,还款时间\nL1,100,2026-11-23 09:00\n", encoding="utf-8")
    res = runner.invoke(app, ["import", str(ok), "--as", "pay.ops", "--json"], env=env)
    assert res.exit_code == 0, res.stdout
    assert json.loads(res.stdout)["accepted"] == 1
    ctx.db.dispose()


def test_a_trailing_blank_line_is_not_a_row(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    f = tmp_path / "p.csv"
    f.write_text("借款编号,还款金额,还款时间\r\nL1,100,2026-11-23 09:00\r\n\r\nL2,50,2026-11-23 09:10\r\n\r\n,,\r\n",
                 encoding="utf-8")
    s = import_payments(ctx, [f])
    assert (s.rows, s.accepted, s.reasons) == (2, 2, {})


def test_a_renamed_copy_or_a_header_without_rows_is_not_imported_again(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    first = tmp_path / "payments-1123.csv"
    first.write_text("loan_id,amount,paid_at\nL1,100.00,2026-11-23 09:00:00\n", encoding="utf-8")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(first.read_bytes())
    a = import_payments(ctx, [first])
    b = import_payments(ctx, [copy])
    assert b.already_imported and b.import_id == a.import_id and b.files == [str(first)]
    empty = tmp_path / "empty.csv"
    empty.write_text("loan_id,amount,paid_at\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_payments(ctx, [empty])
    assert err.value.code == "input.no_rows" and "empty.csv" in err.value.message_zh
