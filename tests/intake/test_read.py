"""read_portfolio over real files: every reject code, formats, encodings, headers, mapping, snapshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.errors import InputError, MissingColumnsError
from dunning.intake import (
    ACCEPTED_SCHEMA,
    REJECT_CODES,
    REJECTED_SCHEMA,
    IntakeResult,
    load_mapping,
    read_portfolio,
)

from .conftest import AS_OF, EN_HEADER, ZH_HEADER, row, write_csv

MakeCsv = Callable[..., Path]


def reasons_by_row(result: IntakeResult) -> dict[int, str]:
    return dict(zip(result.rejected["source_row"].to_list(), result.rejected["reason"].to_list(), strict=True))


def check_invariants(result: IntakeResult) -> None:
    assert result.accepted.height + result.rejected.height == result.rows
    assert dict(result.accepted.schema) == ACCEPTED_SCHEMA
    assert dict(result.rejected.schema) == REJECTED_SCHEMA
    assert set(result.rejected["reason"].to_list()) <= set(REJECT_CODES)
    keys = result.accepted.select("source_file", "source_row").vstack(
        result.rejected.select("source_file", "source_row"))
    assert keys.is_unique().all(), "a row was counted twice"


# --------------------------------------------------------------------------------------- reject codes


def test_every_reject_code_in_precedence_order(make_csv: MakeCsv, tmp_path: Path) -> None:
    rows = [
        row("L1"),                                                    # 2 accepted
        row("L2", phone=""),                                          # 3 missing_field
        row("", phone="12345"),                                       # 4 missing_field beats invalid_phone
        row("L3", phone="12345"),                                     # 5 invalid_phone
        row("L4", phone="010-62345678"),                              # 6 not_mobile
        row("L5", amount="-5"),                                       # 7 invalid_amount
        row("L6", amount="0"),                                        # 8 nothing_due
        row("L7", due="2026-02-30"),                                  # 9 invalid_date
        row("L8", amount="100"),                                      # 10 conflicting_duplicate
        row("L8", amount="200"),                                      # 11 conflicting_duplicate
        row("L8", amount="100"),                                      # 12 conflicting_duplicate (all of L8)
        row("L1", phone="+86 138-1234-8000", amount="¥1,234.50", due="2026/10/31", rate="0.0005"),  # 13 duplicate
        row("L9", phone="139 0000 1111"),                             # 14 do_not_contact
        row("L10"),                                                   # 15 accepted: same phone, other loan
        row("L11", phone="abc", amount="x", due="y"),                 # 16 invalid_phone beats the rest
        row("L12", amount="0", due="2026-02-30"),                     # 17 nothing_due beats invalid_date
        row("L13", amount="-1", due="2026-02-30"),                    # 18 invalid_amount beats invalid_date
        row("L14", phone="010-62345678", amount="0"),                 # 19 not_mobile beats nothing_due
        row("L9", phone="139 0000 1111"),                             # 20 duplicate beats do_not_contact
        row("L15", phone="13812348001", due="2026-02-30"),            # 21 invalid_date, not conflicting
        row("L15", phone="13812348001"),                              # 22 accepted: the only valid L15
    ]
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("# complaints\n+86 139-0000-1111\n", encoding="utf-8")
    result = read_portfolio([make_csv(rows)], as_of=AS_OF, exclude=[dnc])
    check_invariants(result)
    assert result.rows == len(rows)
    assert reasons_by_row(result) == {
        3: "missing_field", 4: "missing_field", 5: "invalid_phone", 6: "not_mobile", 7: "invalid_amount",
        8: "nothing_due", 9: "invalid_date", 10: "conflicting_duplicate", 11: "conflicting_duplicate",
        12: "conflicting_duplicate", 13: "duplicate", 14: "do_not_contact", 16: "invalid_phone", 17: "nothing_due",
        18: "invalid_amount", 19: "not_mobile", 20: "duplicate", 21: "invalid_date",
    }
    assert result.accepted["source_row"].to_list() == [2, 15, 22]
    assert result.accepted["phone"].to_list()[:2] == ["+8613812348000", "+8613812348000"]
    assert list(result.reasons) == [c for c in REJECT_CODES if c in result.reasons]
    assert sum(result.reasons.values()) == result.rejected.height


def test_rejects_carry_clerk_messages_and_the_original_cells(make_csv: MakeCsv) -> None:
    result = read_portfolio([make_csv([row("L1", amount="待定")])], as_of=AS_OF)
    rej = result.rejected.row(0, named=True)
    assert rej["reason"] == "invalid_amount"
    assert "应还金额" in rej["message_zh"]
    assert "Amount" in rej["message_en"]
    assert json.loads(rej["raw"]) == dict(zip(ZH_HEADER, row("L1", amount="待定"), strict=True))


def test_accepted_values_are_normalised_and_bucketed(make_csv: MakeCsv) -> None:
    rows = [
        row("Ｌ１", name="  ", phone="+86 138 1234 8000", amount="¥1,234.56", due="2026/10/31", rate="0.05%",
            count="", product="", payday="每月15号", region=" 广东 "),
        row("L2", due="2026年12月1日", rate="0.0005", count="3次", payday="40"),
    ]
    a = read_portfolio([make_csv(rows)], as_of=AS_OF).accepted
    first, second = a.row(0, named=True), a.row(1, named=True)
    assert first["loan_id"] == "L1"
    assert first["name"] is None
    assert first["amount_due_fen"] == 123456
    assert first["due_date"] == date(2026, 10, 31)
    assert (first["dpd"], first["bucket"]) == (23, "M1")
    assert first["penalty_rate"] == second["penalty_rate"] == 0.0005
    assert (first["overdue_count"], second["overdue_count"]) == (0, 3)
    assert (first["payday"], second["payday"]) == (15, None)
    assert (first["product"], first["region"]) == (None, "广东")
    assert (second["dpd"], second["bucket"]) == (-8, "C")


def test_two_loans_on_one_phone_are_both_kept(make_csv: MakeCsv) -> None:
    result = read_portfolio([make_csv([row("A"), row("B"), row("C", phone="138-1234-8000")])], as_of=AS_OF)
    assert result.accepted.height == 3


# ------------------------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_encodings_are_detected(make_csv: MakeCsv, encoding: str) -> None:
    result = read_portfolio([make_csv([row("L1", name="欧阳娜娜"), row("L2", name="王")], encoding=encoding)],
                            as_of=AS_OF)
    check_invariants(result)
    assert result.accepted["name"].to_list() == ["欧阳娜娜", "王"]


def test_gb18030_only_characters(make_csv: MakeCsv) -> None:
    path = make_csv([row("L1", name="吉𠮷")], encoding="gb18030")
    assert read_portfolio([path], as_of=AS_OF).accepted["name"].to_list() == ["吉𠮷"]


def test_gbk_file_whose_first_lines_are_plain_ascii(tmp_path: Path) -> None:
    rows = [row(f"L{i}", name="Li") for i in range(6000)] + [row("L-last", name="张三")]
    path = write_csv(tmp_path / "late.csv", EN_HEADER, rows, encoding="gbk")
    assert path.stat().st_size > 300_000  # past the sample the detector looks at
    result = read_portfolio([path], as_of=AS_OF)
    assert result.accepted["name"].to_list()[-1] == "张三"


def test_encoding_can_be_forced_and_a_wrong_one_is_explained(make_csv: MakeCsv) -> None:
    path = make_csv([row("L1", name="张三")], encoding="gbk")
    assert read_portfolio([path], as_of=AS_OF, encoding="gbk").accepted["name"].to_list() == ["张三"]
    with pytest.raises(InputError) as err:
        read_portfolio([make_csv([row("L1", name="张三")], encoding="utf-8")], as_of=AS_OF, encoding="ascii")
    assert err.value.code == "input.encoding"
    assert "--encoding" in err.value.message_zh


# ------------------------------------------------------------------------------------ shapes of files


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiters(make_csv: MakeCsv, delimiter: str) -> None:
    result = read_portfolio([make_csv([row("L1", amount="1,234.50")], delimiter=delimiter)], as_of=AS_OF)
    assert result.accepted["amount_due_fen"].to_list() == [123450]


def test_title_lines_above_the_header_are_skipped_and_rows_keep_their_numbers(make_csv: MakeCsv) -> None:
    path = make_csv([row("L1"), row("L2", phone="x")], preamble=["某某银行逾期客户清单", "", "导出时间：2026-11-23", ""])
    result = read_portfolio([path], as_of=AS_OF)
    assert result.accepted["source_row"].to_list() == [6]
    assert reasons_by_row(result) == {7: "invalid_phone"}


def test_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    lines = [",".join(ZH_HEADER), ",".join(row("L1")), ",".join(row("L2", region="广东")), ""]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    result = read_portfolio([path], as_of=AS_OF)
    assert result.accepted["region"].to_list() == ["广东", "广东"]
    assert result.accepted["loan_id"].to_list() == ["L1", "L2"]


def test_blank_rows_are_not_data_and_do_not_shift_row_numbers(tmp_path: Path) -> None:
    text = ",".join(ZH_HEADER) + "\n" + ",".join(row("L1")) + "\n\n" + "," * 9 + "\n" + ",".join(row("L2", phone="x")) + "\n\n"
    path = tmp_path / "gaps.csv"
    path.write_text(text, encoding="utf-8")
    result = read_portfolio([path], as_of=AS_OF)
    check_invariants(result)
    assert result.rows == 2
    assert reasons_by_row(result) == {5: "invalid_phone"}


def test_header_only_file_is_refused(make_csv: MakeCsv) -> None:
    with pytest.raises(InputError) as err:
        read_portfolio([make_csv([], name="header-only.csv")], as_of=AS_OF)
    assert (err.value.code, "header-only.csv" in err.value.message_en) == ("input.no_rows", True)


def test_english_headers_in_any_case_and_with_units(make_csv: MakeCsv) -> None:
    header = ["Loan ID", "Borrower", "Mobile", "Amount Due (CNY)", "Due Date", "Penalty Rate", "Overdue Count",
              "Product", "Payday", "Province"]
    result = read_portfolio([make_csv([row("L1")], header=header)], as_of=AS_OF)
    assert result.accepted.select("loan_id", "name", "region").row(0) == ("L1", "张三", "广东")


@pytest.mark.parametrize(
    "header",
    [
        ["合同号", "客户姓名", "联系电话", "剩余欠款", "还款日", "罚息利率", "历史逾期次数", "产品名称", "发薪日", "省份"],
        ["借据号", "借款人", "手机号码", "欠款金额", "应还日期", "罚息率", "逾期次数", "产品", "发薪日", "地区"],
        ["贷款编号", "姓名", "电话", "逾期金额", "最后还款日", "日罚息率", "逾期次数", "产品", "发薪日", "地区"],
        ["借款编号*", "姓名", "手机号（本人）", "应还金额（元）", "到期日(yyyy-mm-dd)", "日罚息率", "逾期次数", "产品", "发薪日", "地区"],
    ],
)
def test_chinese_header_aliases(make_csv: MakeCsv, header: list[str]) -> None:
    result = read_portfolio([make_csv([row("L1")], header=header)], as_of=AS_OF)
    assert result.accepted.select("loan_id", "phone", "amount_due_fen", "penalty_rate", "overdue_count").row(0) == (
        "L1", "+8613812348000", 123450, 0.0005, 1)


def test_amounts_in_a_wan_yuan_column_are_scaled(make_csv: MakeCsv) -> None:
    header = ["借款编号", "手机号", "应还金额（万元）", "到期日"]
    result = read_portfolio([make_csv([["L1", "13812348000", "1.5", "2026-10-31"]], header=header)], as_of=AS_OF)
    assert result.accepted["amount_due_fen"].to_list() == [1_500_000]  # 1.5 万元 = 15,000 yuan


def test_missing_required_columns_name_what_was_found_and_what_is_needed(make_csv: MakeCsv) -> None:
    path = make_csv([["L1", "张三", "100"]], header=["借款编号", "姓名", "金额合计"], name="bad.csv")
    with pytest.raises(MissingColumnsError) as err:
        read_portfolio([path], as_of=AS_OF)
    e = err.value
    assert e.code == "input.missing_columns"
    assert e.file == "bad.csv"
    assert e.found == ["借款编号", "姓名", "金额合计"]
    assert [m.split()[-1] for m in e.missing] == ["phone", "amount_due", "due_date"]
    assert "手机号" in e.message_zh and "金额合计" in e.message_zh and "--mapping" in e.message_zh


def test_empty_file_is_missing_every_column(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(MissingColumnsError):
        read_portfolio([path], as_of=AS_OF)


def test_unknown_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_portfolio([tmp_path / "nope.csv"], as_of=AS_OF)
    assert err.value.code == "input.not_found"


# ----------------------------------------------------------------------------------------------- mapping


def test_mapping_file_maps_unusual_headers(make_csv: MakeCsv, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "columns:\n  loan_id: 业务流水号\n  phone: [客户手机, 本人手机]\n  amount_due: 本期应还\n  due_date: 账单到期\n",
        encoding="utf-8",
    )
    header = ["业务流水号", "本人手机", "本期应还", "账单到期"]
    result = read_portfolio([make_csv([["B-1", "13812348000", "88", "2026-11-01"]], header=header)], as_of=AS_OF,
                            mapping=mapping)
    assert result.accepted.select("loan_id", "phone", "amount_due_fen").row(0) == ("B-1", "+8613812348000", 8800)


def test_mapping_header_row_and_flat_form(make_csv: MakeCsv, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("loan_id: 流水\n", encoding="utf-8")
    assert load_mapping(mapping).columns == {"loan_id": ("流水",)}
    mapping.write_text("header_row: 2\ncolumns:\n  loan_id: 流水\n", encoding="utf-8")
    path = make_csv([["X1", "13812348000", "1", "2026-11-01"]], header=["流水", "手机号", "应还金额", "到期日"],
                    preamble=["借款编号,手机号,应还金额,到期日"])  # a decoy header line the mapping skips
    result = read_portfolio([path], as_of=AS_OF, mapping=mapping)
    assert result.accepted.select("loan_id", "source_row").row(0) == ("X1", 3)


@pytest.mark.parametrize(
    "text",
    ["columns:\n  loan: 编号\n", "columns: [a, b]\n", "- a\n", "colums:\n  loan_id: x\n", "header_row: 0\n",
     "columns:\n  loan_id: ''\n", "columns: {loan_id: [\n"],
)
def test_bad_mapping_files_are_explained(tmp_path: Path, text: str) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_mapping(mapping)
    assert err.value.code == "input.mapping"


def test_the_shipped_example_mapping_works(make_csv: MakeCsv) -> None:
    example = Path(__file__).parents[2] / "src" / "dunning" / "data" / "mapping.example.yaml"
    header = ["业务流水号", "客户", "客户手机", "本期应还（元）", "账单到期日", "罚息（日）", "累计逾期期数", "产品线", "工资日",
              "归属省份"]
    result = read_portfolio([make_csv([row("E1")], header=header)], as_of=AS_OF, mapping=example)
    assert result.accepted.select("loan_id", "name", "penalty_rate", "payday", "region").row(0) == (
        "E1", "张三", 0.0005, 15, "广东")


# ------------------------------------------------------------------------------------ excel and parquet


def write_workbook(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    summary = wb.add_worksheet("汇总")
    summary.write_row(0, 0, ["合计户数", "合计金额"])
    summary.write_row(1, 0, [3, 1000])
    ws = wb.add_worksheet("明细")
    dates = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "逾期客户明细（2026-11-23）")
    ws.write_row(1, 0, ["借款编号", "姓名", "手机号", "应还金额", "到期日", "日罚息率"])
    # Row 3: numbers as Excel stores them; the due date is a bare serial number (46295 = 2026-09-30).
    ws.write_string(2, 0, "00123")
    ws.write_string(2, 1, "张三")
    ws.write_number(2, 2, 13812348000)
    ws.write_number(2, 3, 1234.5)
    ws.write_number(2, 4, 46295)
    ws.write_number(2, 5, 0.0005)
    # Row 4: a real date cell and text spellings.
    ws.write_string(3, 0, "00124")
    ws.write_string(3, 2, "+86 139-0000-1111")
    ws.write_string(3, 3, "¥2,000.00")
    ws.write_datetime(3, 4, datetime(2026, 10, 31), dates)
    ws.write_string(3, 5, "0.05%")
    # Row 5: an impossible date typed as text.
    ws.write_string(4, 0, "00125")
    ws.write_number(4, 2, 13700001111)
    ws.write_number(4, 3, 10)
    ws.write_string(4, 4, "2026-02-30")
    wb.close()
    return path


def test_xlsx_with_serial_dates_a_title_row_and_a_summary_sheet(tmp_path: Path) -> None:
    result = read_portfolio([write_workbook(tmp_path / "book.xlsx")], as_of=AS_OF)
    check_invariants(result)
    a = result.accepted
    assert a["source_file"].to_list() == ["book.xlsx:明细"] * 2
    assert a["source_row"].to_list() == [3, 4]  # as Excel numbers them
    assert a["loan_id"].to_list() == ["00123", "00124"]
    assert a["phone"].to_list() == ["+8613812348000", "+8613900001111"]
    assert a["amount_due_fen"].to_list() == [123450, 200000]
    assert a["due_date"].to_list() == [date(2026, 9, 30), date(2026, 10, 31)]
    assert a["penalty_rate"].to_list() == [0.0005, 0.0005]
    assert reasons_by_row(result) == {5: "invalid_date"}


def test_xlsx_sheet_chosen_by_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sheet: 不存在\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_portfolio([write_workbook(tmp_path / "book.xlsx")], as_of=AS_OF, mapping=mapping)
    assert err.value.code == "input.sheet" and "明细" in err.value.message_zh


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pl.DataFrame({
        "loan_id": ["P1", "P2"],
        "phone": [13812348000, 1062345678],
        "amount_due": [1234.5, 10.0],
        "due_date": [date(2026, 10, 31), date(2026, 10, 1)],
        "penalty_rate": [0.0005, None],
    }).write_parquet(path)
    result = read_portfolio([path], as_of=AS_OF)
    check_invariants(result)
    assert result.accepted.select("loan_id", "phone", "amount_due_fen", "due_date").row(0) == (
        "P1", "+8613812348000", 123450, date(2026, 10, 31))
    # An integer column lost the landline's leading 0; it is still recognised as a Beijing landline.
    assert reasons_by_row(result) == {3: "not_mobile"}


# ----------------------------------------------------------------------------------------- snapshots


def test_several_files_are_one_snapshot(make_csv: MakeCsv, tmp_path: Path) -> None:
    a = make_csv([row("L1"), row("L2"), row("L3")], name="a.csv")
    b = make_csv([row("L1", amount="1,234.5"), row("L2", amount="999"), row("L4")], header=EN_HEADER,
                 encoding="gbk", name="b.csv")
    c = write_workbook(tmp_path / "c.xlsx")
    result = read_portfolio([a, b, c], as_of=AS_OF)
    check_invariants(result)
    assert result.rows == 9
    assert result.files == [str(a), str(b), str(c)]
    rej = {(f, r): why for f, r, why in result.rejected.select("source_file", "source_row", "reason").iter_rows()}
    assert rej == {("a.csv", 3): "conflicting_duplicate", ("b.csv", 3): "conflicting_duplicate",
                   ("b.csv", 2): "duplicate", ("c.xlsx:明细", 5): "invalid_date"}
    assert result.accepted["loan_id"].to_list() == ["L1", "L3", "L4", "00123", "00124"]


def test_exclude_lists_match_any_spelling(make_csv: MakeCsv, tmp_path: Path) -> None:
    dnc1 = tmp_path / "complaints.txt"
    dnc1.write_text("手机号\n138 1234 8000  \n\n# disputes below\n+86-139-0000-1111,争议\n", encoding="utf-8")
    dnc2 = tmp_path / "deceased.csv"
    dnc2.write_bytes("００８６１３７００００１１１１\t已故\n010-62345678\n".encode("gbk"))
    rows = [row("L1"), row("L2", phone="13900001111"), row("L3", phone="8613700001111"), row("L4", phone="13600000000")]
    result = read_portfolio([make_csv(rows)], as_of=AS_OF, exclude=[dnc1, dnc2])
    assert reasons_by_row(result) == {2: "do_not_contact", 3: "do_not_contact", 4: "do_not_contact"}
    assert result.accepted["loan_id"].to_list() == ["L4"]


def test_an_unreadable_exclude_entry_stops_the_import(make_csv: MakeCsv, tmp_path: Path) -> None:
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("13812348000\n1381234\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_portfolio([make_csv([row("L1")])], as_of=AS_OF, exclude=[dnc])
    assert err.value.code == "input.exclude" and "dnc.txt:2" in err.value.message_zh


def test_international_numbers_follow_the_flag(make_csv: MakeCsv) -> None:
    path = make_csv([row("L1", phone="+44 7911 123456")])
    assert read_portfolio([path], as_of=AS_OF).reasons == {"invalid_phone": 1}
    accepted = read_portfolio([path], as_of=AS_OF, allow_international=True).accepted
    assert accepted["phone"].to_list() == ["+447911123456"]


def test_progress_is_reported_to_completion(make_csv: MakeCsv) -> None:
    seen: list[tuple[str, int, int]] = []
    read_portfolio([make_csv([row()]), make_csv([row("L2")])], as_of=AS_OF, progress=lambda *a: seen.append(a))
    assert seen[0][1] == 0 and seen[-1][1] == seen[-1][2]
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)


def test_no_files_is_an_input_error() -> None:
    with pytest.raises(InputError):
        read_portfolio([], as_of=AS_OF)


def test_generated_portfolio_keeps_the_invariant(tmp_path: Path) -> None:
    from dunning.testing import generate_portfolio

    df = generate_portfolio(5000, seed=3, as_of=AS_OF)
    path = tmp_path / "gen.csv"
    df.write_csv(path)
    result = read_portfolio([path], as_of=AS_OF)
    check_invariants(result)
    assert result.rows == df.height
    assert {"missing_field", "invalid_phone", "not_mobile", "invalid_amount", "nothing_due", "invalid_date",
            "duplicate", "conflicting_duplicate"} <= set(result.reasons)
    assert result.accepted["loan_id"].is_unique().all()


def test_xlsx_rows_are_numbered_as_excel_shows_them_after_empty_top_rows(tmp_path: Path) -> None:
    path = tmp_path / "gap.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(3, 1, ["借款编号", "手机号", "应还金额", "到期日"])  # header on row 4, from column B
    ws.write_row(4, 1, ["G1", "13812348000", "10", "2026-11-01"])
    ws.write_row(6, 1, ["G2", "x", "10", "2026-11-01"])  # row 6 left empty
    wb.close()
    result = read_portfolio([path], as_of=AS_OF)
    check_invariants(result)
    assert result.accepted["source_row"].to_list() == [5]
    assert reasons_by_row(result) == {7: "invalid_phone"}


def test_files_with_the_same_name_in_two_folders_stay_apart(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_csv(tmp_path / "a" / "x.csv", ZH_HEADER, [row("L1")])
    two = write_csv(tmp_path / "b" / "x.csv", ZH_HEADER, [row("L2")])
    result = read_portfolio([one, two], as_of=AS_OF)
    check_invariants(result)
    assert result.accepted["source_file"].to_list() == [str(one), str(two)]


CELLS = st.one_of(
    st.sampled_from(["", " ", "L1", "L2", "13812348000", "+86 138-1234-8000", "010-62345678", "¥1,234.50", "0", "-1",
                     "2026-09-30", "2026年2月30日", "0.05%", "万分之5", "3次", "１３８１２３４８０００", "=1+1", '"', ",", "\n"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELLS, min_size=10, max_size=10), max_size=12))
def test_any_cells_are_accepted_or_rejected_never_lost(tmp_path: Path, rows: list[list[str]]) -> None:
    path = write_csv(tmp_path / "any.csv", ZH_HEADER, rows)
    try:
        result = read_portfolio([path], as_of=AS_OF)
    except InputError as err:  # a header over blank rows only is refused whole
        assert err.code == "input.no_rows"
        assert all(not cell.strip() for r in rows for cell in r)
        return
    check_invariants(result)
    assert result.rows <= len(rows)  # only rows with no value in any cell are not data
    assert result.accepted["loan_id"].is_unique().all()
