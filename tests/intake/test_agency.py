"""The outsourced agency an account is assigned to (委外分案) comes in with the portfolio and is kept on the account,
so the console can show an agency user only its own accounts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dunning.db.models import Account
from dunning.intake import read_portfolio
from dunning.services.context import AppContext
from dunning.services.intake.imports import import_portfolio

from .conftest import AS_OF, ZH_HEADER, row, write_csv


def _export(tmp_path: Path, header: str) -> Path:
    rows = [[*row("L1", phone="13812348001"), "  阳光催收 "], [*row("L2", phone="13812348002"), ""],
            [*row("L3", phone="13812348003"), "诚信资产"]]
    return write_csv(tmp_path / "portfolio.csv", [*ZH_HEADER, header], rows)


def test_the_agency_column_is_read_under_its_usual_names(tmp_path: Path) -> None:
    for header in ("委外机构", "催收机构", "Agency", "分案机构"):
        accepted = read_portfolio([_export(tmp_path, header)], as_of=AS_OF).accepted.sort("loan_id")
        assert accepted["agency"].to_list() == ["阳光催收", None, "诚信资产"], header


def test_import_keeps_each_accounts_agency(ctx: AppContext, tmp_path: Path) -> None:
    summary = import_portfolio(ctx, [_export(tmp_path, "委外机构")], as_of=AS_OF)
    with ctx.db.transaction() as s:
        got = dict(s.execute(select(Account.loan_id, Account.agency).where(Account.import_id == summary.import_id)).all())
    assert got == {"L1": "阳光催收", "L2": None, "L3": "诚信资产"}
