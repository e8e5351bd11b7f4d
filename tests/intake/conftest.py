"""Helpers that write real export files the way loan systems and clerks produce them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

AS_OF = date(2026, 11, 23)
ZH_HEADER = ["借款编号", "姓名", "手机号", "应还金额", "到期日", "日罚息率", "逾期次数", "产品", "发薪日", "地区"]
EN_HEADER = ["loan_id", "name", "phone", "amount_due", "due_date", "penalty_rate", "overdue_count", "product",
             "payday", "region"]


def row(loan: str = "L1", name: str = "张三", phone: str = "13812348000", amount: str = "1234.50",
        due: str = "2026-10-31", rate: str = "0.05%", count: str = "1", product: str = "消费贷", payday: str = "15",
        region: str = "广东") -> list[str]:
    """One data row in the order of ZH_HEADER/EN_HEADER, valid unless told otherwise."""
    return [loan, name, phone, amount, due, rate, count, product, payday, region]


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]], *, delimiter: str = ",",
              preamble: Sequence[str] = ()) -> str:
    buf = io.StringIO()
    for line in preamble:
        buf.write(line + "\n")
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], *, encoding: str = "utf-8",
              delimiter: str = ",", preamble: Sequence[str] = ()) -> Path:
    path.write_bytes(csv_bytes(header, rows, delimiter=delimiter, preamble=preamble).encode(encoding))
    return path


@pytest.fixture
def make_csv(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(1000))

    def make(rows: Sequence[Sequence[str]], header: Sequence[str] = ZH_HEADER, *, encoding: str = "utf-8",
             name: str | None = None, delimiter: str = ",", preamble: Sequence[str] = ()) -> Path:
        path = tmp_path / (name or f"export{next(counter)}.csv")
        return write_csv(path, header, rows, encoding=encoding, delimiter=delimiter, preamble=preamble)

    return make
