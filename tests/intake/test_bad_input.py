"""Files a loan system or a clerk gets wrong are refused whole with one clear line (zh + en), never half-read."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from sqlalchemy import func, select

from dunning.db.models import Import
from dunning.errors import InputError
from dunning.intake import read_portfolio
from dunning.services.context import AppContext
from dunning.services.intake.imports import import_portfolio

from .conftest import AS_OF, ZH_HEADER, row, write_csv


def _imports(ctx: AppContext) -> int:
    with ctx.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Import)) or 0)


def test_a_csv_with_a_header_and_no_rows_is_refused_and_nothing_is_imported(ctx: AppContext, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cut.csv", ZH_HEADER, [])
    with pytest.raises(InputError) as err:
        import_portfolio(ctx, [path], as_of=AS_OF)
    assert err.value.code == "input.no_rows"
    assert "cut.csv" in err.value.message_zh and "没有数据行" in err.value.message_zh
    assert "no data rows" in err.value.message_en
    assert _imports(ctx) == 0


def test_blank_lines_under_a_header_are_no_rows_either(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text(",".join(ZH_HEADER) + "\n\n" + "," * 9 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_portfolio([path], as_of=AS_OF)
    assert err.value.code == "input.no_rows"


def test_a_fifty_megabyte_single_line_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"13812348000," * (50 * 1024 * 1024 // 12))
    with pytest.raises(InputError) as err:
        read_portfolio([path], as_of=AS_OF)
    assert err.value.code == "input.line_too_long"
    assert "one-line.csv" in err.value.message_zh and "没有换行" in err.value.message_zh
    assert "50.0 MB" in err.value.message_en and "line break" in err.value.message_en


def test_a_long_cell_in_the_first_lines_does_not_break_header_detection(tmp_path: Path) -> None:
    long_note = "备注" * 70_000  # longer than the csv module's field limit
    path = write_csv(tmp_path / "notes.csv", [*ZH_HEADER, "备注"], [[*row("L1"), long_note], [*row("L2"), "x"]])
    result = read_portfolio([path], as_of=AS_OF)
    assert sorted(result.accepted["loan_id"].to_list()) == ["L1", "L2"]


def test_a_renamed_copy_is_recognised_by_its_content(ctx: AppContext, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "portfolio-1123.csv", ZH_HEADER, [row("L1"), row("L2", phone="13812348001")])
    copy = tmp_path / "copy of portfolio.csv"
    copy.write_bytes(first.read_bytes())
    a = import_portfolio(ctx, [first], as_of=AS_OF)
    b = import_portfolio(ctx, [copy], as_of=AS_OF)
    assert not a.already_imported
    assert b.already_imported and b.import_id == a.import_id
    assert b.files == [str(first)]  # names the file that was imported
    assert _imports(ctx) == 1
    changed = tmp_path / "portfolio-1124.csv"
    changed.write_bytes(first.read_bytes() + ",".join(row("L3", phone="13812348002")).encode() + b"\n")
    assert not import_portfolio(ctx, [changed], as_of=AS_OF).already_imported


def _xlsxwriter_formula(path: Path) -> Path:
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["借款编号", "手机号", "应还金额", "到期日"])
    for r in (1, 2):
        ws.write_row(r, 0, [f"L{r}", f"1381234800{r}"])
        ws.write_formula(r, 2, f"=100*{r}")  # stored with xlsxwriter's placeholder result 0
        ws.write(r, 3, "2026-10-31")
    wb.close()
    return path


def _openpyxl_formula(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["借款编号", "手机号", "应还金额", "到期日"])
    ws.append(["L1", "13812348001", "=100*2", "2026-10-31"])  # stored with no result at all
    wb.save(path)
    return path


@pytest.mark.parametrize(("make", "cells"), [(_xlsxwriter_formula, "C2、C3"), (_openpyxl_formula, "C2")])
def test_a_formula_without_a_computed_value_is_refused_saying_so(tmp_path: Path, make, cells: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path / "book.xlsx")
    with pytest.raises(InputError) as err:
        read_portfolio([path], as_of=AS_OF)
    assert err.value.code == "input.formula_without_value"
    assert f"（{cells}）" in err.value.message_zh and "公式" in err.value.message_zh
    assert "formula cells without a computed value" in err.value.message_en


def test_a_workbook_without_formulas_still_reads(tmp_path: Path) -> None:
    wb = xlsxwriter.Workbook(tmp_path / "plain.xlsx")
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["借款编号", "手机号", "应还金额", "到期日"])
    ws.write_row(1, 0, ["L1", "13812348001", 200, "2026-10-31"])
    wb.close()
    result = read_portfolio([tmp_path / "plain.xlsx"], as_of=AS_OF)
    assert result.accepted["amount_due_fen"].to_list() == [20000]
