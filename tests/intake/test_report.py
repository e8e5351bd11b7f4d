"""The reject report a clerk opens: CSV that Excel reads as UTF-8, an XLSX, original cells beside each reason."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from dunning.exports import column_letter, write_xlsx
from dunning.intake import REJECTED_SCHEMA, read_portfolio, write_reject_report

from .conftest import AS_OF, EN_HEADER, row

MakeCsv = Callable[..., Path]


def test_report_csv_and_xlsx_hold_every_reject_with_its_original_cells(make_csv: MakeCsv, tmp_path: Path) -> None:
    a = make_csv([row("L1", phone="010-62345678"), row("L2")], name="a.csv")
    b = make_csv([row("L3", name="=HYPERLINK(\"http://x\")", amount="x"), row("L4", name="<&>", due="2026-02-30")],
                 header=EN_HEADER, name="b.csv")
    result = read_portfolio([a, b], as_of=AS_OF)
    csv_path, xlsx_path = write_reject_report(result.rejected, tmp_path / "reports" / "import-7-rejects")
    assert (csv_path.name, xlsx_path.name) == ("import-7-rejects.csv", "import-7-rejects.xlsx")

    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 only with a BOM
    table = pl.read_csv(raw, infer_schema=False)
    assert table.height == 3
    assert table.columns[:5] == ["来源文件 file", "行号 row", "原因代码 code", "原因说明", "reason"]
    assert {"借款编号", "手机号", "loan_id", "phone"} <= set(table.columns)  # both files' headers
    assert table["原因代码 code"].to_list() == ["not_mobile", "invalid_amount", "invalid_date"]
    assert table["手机号"].to_list()[0] == "010-62345678"
    assert table["name"].to_list()[1] == "'=HYPERLINK(\"http://x\")"  # defused: Excel must not run it

    sheet = pl.read_excel(xlsx_path, engine="calamine", read_options={"dtypes": "string"})
    assert sheet.height == 3
    assert sheet.columns == table.columns
    assert sheet["行号 row"].to_list() == ["2", "2", "3"]
    assert sheet["name"].to_list()[1:] == ["'=HYPERLINK(\"http://x\")", "<&>"]  # neutralised text, not a formula
    assert "<f>" not in zipfile.ZipFile(xlsx_path).read("xl/worksheets/sheet1.xml").decode()


def test_an_empty_report_still_has_its_header(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema=REJECTED_SCHEMA)
    csv_path, xlsx_path = write_reject_report(empty, tmp_path / "none")
    assert csv_path.read_bytes().decode("utf-8-sig").splitlines() == ["来源文件 file,行号 row,原因代码 code,原因说明,reason"]
    assert pl.read_excel(xlsx_path, engine="calamine").columns[0] == "来源文件 file"


def test_xlsx_writer_escapes_and_strips_what_xml_cannot_carry(tmp_path: Path) -> None:
    df = pl.DataFrame({"t": ["a\x00b\x1fc", "x < y & z > w", None, "  spaced  "], "n": [1, None, 3, -4]})
    path = tmp_path / "t.xlsx"
    write_xlsx(df, path)
    back = pl.read_excel(path, engine="calamine", read_options={"dtypes": "string"})
    assert back["t"].to_list() == ["abc", "x < y & z > w", None, "  spaced  "]
    assert back["n"].to_list() == ["1", None, "3", "-4"]


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
