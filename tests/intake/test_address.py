"""Where a field visit would go: the address columns (地址、现居地址、户籍地址、单位地址…) and coordinates, optional,
kept on the account; a coordinate that is not a number or out of range is left empty, never a reject."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dunning.db.models import Account
from dunning.intake import read_portfolio
from dunning.services.context import AppContext
from dunning.services.intake.imports import import_portfolio

from .conftest import AS_OF, ZH_HEADER, row, write_csv


def _export(tmp_path: Path, header: str) -> Path:
    rows = [[*row("L1", phone="13812348001"), " 上海市黄浦区人民大道200号 ", "31.2304", "121.4737"],
            [*row("L2", phone="13812348002"), "", "abc", "500"],
            [*row("L3", phone="13812348003"), "北京市朝阳区建国路1号", "", ""]]
    return write_csv(tmp_path / "portfolio.csv", [*ZH_HEADER, header, "纬度", "经度"], rows)


def test_address_columns_are_read_under_their_usual_names(tmp_path: Path) -> None:
    for header in ("地址", "现居地址", "户籍地址", "单位地址", "Address"):
        r = read_portfolio([_export(tmp_path, header)], as_of=AS_OF)
        got = r.accepted.sort("loan_id")
        assert r.rejected.height == 0, header
        assert got["address"].to_list() == ["上海市黄浦区人民大道200号", None, "北京市朝阳区建国路1号"], header
        assert got["lat"].to_list() == [31.2304, None, None] and got["lon"].to_list() == [121.4737, None, None]


def test_import_keeps_the_address_for_a_visit_request(ctx: AppContext, tmp_path: Path) -> None:
    summary = import_portfolio(ctx, [_export(tmp_path, "现居地址")], as_of=AS_OF)
    with ctx.db.transaction() as s:
        got = {a.loan_id: (a.address, a.lat, a.lon) for a in s.scalars(
            select(Account).where(Account.import_id == summary.import_id))}
    assert got["L1"] == ("上海市黄浦区人民大道200号", 31.2304, 121.4737) and got["L2"] == (None, None, None)
