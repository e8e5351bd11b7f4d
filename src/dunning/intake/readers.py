"""Reading one export into a frame of text cells, whatever its format, encoding and header position."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import fastexcel
import polars as pl
from defusedxml import (
    DefusedXmlException,
    ElementTree,  # uploaded workbooks: no entity expansion, no external entities
)

from dunning.errors import InputError
from dunning.intake.columns import MappingSpec, find_header_row, header_score
from dunning.intake.parsers import is_blank, parse_phones

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
PARQUET_SUFFIXES = (".parquet", ".pq")
_HEAD_BYTES = 256 * 1024
_HEAD_ROWS = 30
_UTF8 = ("utf8", "utf-8", "utf_8", "utf-8-sig", "utf8-sig", "utf_8_sig")


@dataclass(frozen=True)
class RawTable:
    """One file's cells as text under their original headers.

    ``first_row`` is the row number a clerk sees for ``frame``'s first data row in Excel or an editor
    (header on row 1 → 2). ``excel`` says whether numeric cells may hold Excel date serials.
    """

    name: str
    frame: pl.DataFrame
    first_row: int
    excel: bool
    encoding: str | None = None


def read_table(path: Path, *, encoding: str | None = None, spec: MappingSpec | None = None) -> RawTable:
    """Read a CSV/TSV, Excel workbook or Parquet file; every column comes back as Utf8, untouched."""
    spec = spec or MappingSpec()
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"找不到文件 {path}", f"no such file: {path}", code="input.not_found")
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, spec)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    return _read_text(path, encoding, spec)


# ------------------------------------------------------------------------------------------------ encoding


def _unreadable(path: Path, exc: Exception | str) -> InputError:
    return InputError(f"无法读取文件 {path.name}：{exc}", f"cannot read {path.name}: {exc}", code="input.unreadable")


def _encoding_error(path: Path, tried: str) -> InputError:
    return InputError(
        f"文件 {path.name} 的编码无法识别（已尝试 {tried}）：请另存为 UTF-8 或 GBK，或用 --encoding 指定编码。",
        f"cannot detect the encoding of {path.name} (tried {tried}): save it as UTF-8 or GBK, or pass --encoding.",
        code="input.encoding",
    )


def _head_is_utf8(head: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the end of the sample is not an error
    except UnicodeDecodeError:
        return False
    return True


def decode_to_utf8(data: bytes, path: Path, encoding: str | None) -> tuple[bytes, str]:
    """The file's bytes as UTF-8 (without BOM) and the encoding they were read as.

    Detection: a UTF-8 or UTF-16 byte-order mark; otherwise UTF-8 if the start of the file is valid
    UTF-8 (confirmed later by the CSV reader over the whole file); otherwise GB18030, the superset of
    GBK and GB2312 that Chinese Excel and core-banking exports use. ``encoding`` forces one.
    """
    if encoding:
        if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
            return (data[3:] if data.startswith(codecs.BOM_UTF8) else data), "utf-8"
        try:
            return data.decode(encoding).lstrip("\ufeff").encode("utf-8"), encoding
        except LookupError as exc:
            raise InputError(f"未知的编码 {encoding}", f"unknown encoding {encoding}", code="input.encoding") from exc
        except UnicodeDecodeError as exc:
            raise _encoding_error(path, encoding) from exc
    if data.startswith(codecs.BOM_UTF8):
        return data[3:], "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text" export
        return data.decode("utf-16").lstrip("\ufeff").encode("utf-8"), "utf-16"
    if _head_is_utf8(data[:_HEAD_BYTES]):
        return data, "utf-8"
    return _from_gb18030(data, path), "gb18030"


def _from_gb18030(data: bytes, path: Path) -> bytes:
    try:
        return data.decode("gb18030").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, "UTF-8, GB18030/GBK") from exc


def blank_rows(frame: pl.DataFrame) -> pl.Series:
    """True for each row with no value in any cell (the blank lines and formatted-but-empty rows of an export)."""
    if frame.width == 0:
        return pl.Series("blank", [True] * frame.height, dtype=pl.Boolean)
    return pl.DataFrame([is_blank(frame[c]) for c in frame.columns]).select(pl.all_horizontal(pl.all())).to_series()


def no_data_rows(name: str) -> InputError:
    """A file whose header is there but whose rows are not: an export cut short, never an empty snapshot."""
    return InputError(
        f"文件 {name} 只有表头，没有数据行：请检查导出是否完整（筛选条件、导出中断），补齐后重新导入。",
        f"{name} has a header but no data rows: check that the export is complete (filters, an interrupted"
        " export) and import it again.",
        code="input.no_rows",
    )


# ---------------------------------------------------------------------------------------------------- text


def _sniff(head: str, spec: MappingSpec) -> tuple[int, str]:
    """(header line index, delimiter) from the first lines of a text export."""
    lines = head.splitlines()[:_HEAD_ROWS]
    best = (0, ",", -1)
    for delimiter in (",", "\t", ";", "|"):
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
        except csv.Error:  # a cell longer than the csv module allows: not this delimiter's table
            continue
        if not rows:
            continue
        index = find_header_row(rows, spec)
        score = header_score(rows[index], spec) if index < len(rows) else 0
        width = len(rows[index]) if index < len(rows) else 0
        key = score * 1000 + width
        if key > best[2]:
            best = (index, delimiter, key)
    return best[0], best[1]


def _read_text(path: Path, encoding: str | None, spec: MappingSpec) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    utf8, used = decode_to_utf8(data, path, encoding)
    del data
    if len(utf8) > _HEAD_BYTES and utf8.find(b"\n", 0, _HEAD_BYTES) < 0:
        size = f"{len(utf8) / (1 << 20):.1f} MB"
        raise InputError(
            f"文件 {path.name}（{size}）的第一行超过 {_HEAD_BYTES // 1024} KB 仍没有换行：这不是每条记录一行的表格。"
            "请确认导出的是 CSV 或 Excel 文件，且换行符没有丢失。",
            f"the first line of {path.name} ({size}) runs past {_HEAD_BYTES // 1024} KB without a line break: it is"
            " not a table with one record per line. Check that the export is CSV or Excel and kept its line breaks.",
            code="input.line_too_long",
        )
    head = utf8[:_HEAD_BYTES].decode("utf-8", errors="ignore")
    skip, delimiter = _sniff(head, spec)
    try:
        frame = _csv(utf8, skip, delimiter)
    except pl.exceptions.ComputeError as exc:
        # The sample looked like UTF-8 but a later line is not: a GBK file whose first lines are ASCII.
        if encoding or "utf" not in str(exc).lower():
            raise _unreadable(path, exc) from exc
        utf8, used = _from_gb18030(utf8, path), "gb18030"
        frame = _csv(utf8, skip, delimiter)
    except pl.exceptions.PolarsError as exc:
        raise _unreadable(path, exc) from exc
    return RawTable(path.name, frame, first_row=skip + 2, excel=False, encoding=used)


def _csv(data: bytes, skip: int, delimiter: str) -> pl.DataFrame:
    # Skip title lines by byte offset: the CSV reader's own skip_rows does not count blank lines.
    offset = 0
    for _ in range(skip):
        newline = data.find(b"\n", offset)
        if newline < 0:
            break
        offset = newline + 1
    body = data[offset:] if offset else data
    if not body.strip():
        return pl.DataFrame()
    return pl.read_csv(
        body, separator=delimiter, infer_schema=False, truncate_ragged_lines=True, raise_if_empty=False,
    )


# --------------------------------------------------------------------------------------------------- excel


def _read_excel(path: Path, spec: MappingSpec) -> RawTable:
    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
        if spec.sheet is not None and spec.sheet not in names:
            raise InputError(
                f"文件 {path.name} 中没有名为「{spec.sheet}」的工作表（有：{'、'.join(names)}）",
                f"{path.name} has no sheet {spec.sheet!r} (sheets: {', '.join(names)})",
                code="input.sheet",
            )
        candidates = [names.index(spec.sheet)] if spec.sheet is not None else list(range(len(names)))
        heads: dict[int, list[list[object]]] = {}
        for i in candidates:
            head = reader.load_sheet(i, header_row=None, n_rows=_HEAD_ROWS, dtypes="string").to_polars()
            heads[i] = [list(r) for r in head.iter_rows()]
        # The first sheet whose header names the most columns; exports often put a summary sheet first.
        scores = {i: header_score(rows[find_header_row(rows, spec)], spec) if rows else 0 for i, rows in heads.items()}
        sheet = max(candidates, key=lambda i: (scores[i], -i))
        header = find_header_row(heads[sheet], spec)
        frame = reader.load_sheet(sheet, header_row=header, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise _unreadable(path, exc) from exc
    label = path.name if sheet == 0 else f"{path.name}:{names[sheet]}"
    if uncomputed := uncomputed_formulas(path, sheet):
        cells = "、".join(uncomputed[:10]) + ("…" if len(uncomputed) > 10 else "")
        raise InputError(
            f"文件 {label} 有 {len(uncomputed)} 个公式单元格没有计算结果（{cells}）：保存它的程序没有计算公式，"
            "读到的会是 0 或空值。请用 Excel 或 WPS 打开并保存，或把公式粘贴为数值后重新导入。",
            f"{label} has {len(uncomputed)} formula cells without a computed value ({', '.join(uncomputed[:10])}):"
            " the program that saved it did not calculate them, so they would read as 0 or empty. Open and save"
            " it in Excel or WPS, or paste the formulas as values, then import again.",
            code="input.formula_without_value",
        )
    # calamine starts a sheet at its first row holding a value; row numbers must count the empty ones too.
    start = _first_value_row(path, sheet)
    return RawTable(label, frame, first_row=start + header + 1, excel=True)


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_XML_ERRORS = (zipfile.BadZipFile, KeyError, IndexError, StopIteration, ElementTree.ParseError, DefusedXmlException,
               OSError, ValueError)


def _sheet_member(zf: zipfile.ZipFile, sheet_index: int) -> tuple[str, bool]:
    """(zip member of the sheet, whether the workbook asks for every formula to be recalculated on open)."""
    workbook = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    sheets = workbook.findall(f"{_MAIN_NS}sheets/{_MAIN_NS}sheet")
    rel_id = sheets[sheet_index].get(f"{_REL_NS}id")
    rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    target = next(r.get("Target", "") for r in rels if r.get("Id") == rel_id)
    calc = workbook.find(f"{_MAIN_NS}calcPr")
    recalc = calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")
    return (target.lstrip("/") if target.startswith("/") else f"xl/{target}"), recalc


def _first_value_row(path: Path, sheet_index: int) -> int:
    """1-based row of the first cell holding a value in an .xlsx/.xlsm sheet; 1 when it cannot be told
    (other formats, unusual packages)."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(_sheet_member(zf, sheet_index)[0]) as fh:
            for _, element in ElementTree.iterparse(fh, events=("end",)):
                if element.tag == f"{_MAIN_NS}c" and (
                    element.find(f"{_MAIN_NS}v") is not None or element.find(f"{_MAIN_NS}is") is not None
                ):
                    ref = element.get("r", "")
                    digits = "".join(ch for ch in ref if ch.isdigit())
                    return int(digits) if digits else 1
                if element.tag == f"{_MAIN_NS}row":
                    element.clear()
    except _XML_ERRORS:
        return 1
    return 1


def _has_formula(fh: IO[bytes]) -> bool:
    tail = b""
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        if re.search(rb"<f[ >/]", tail + chunk):
            return True
        tail = chunk[-3:]
    return False


def uncomputed_formulas(path: Path, sheet_index: int) -> list[str]:
    """References of the formula cells in an .xlsx/.xlsm sheet that hold no computed value.

    A workbook written by a program (openpyxl, xlsxwriter, a report generator) keeps formulas without their
    results: the cell reads as empty or as xlsxwriter's placeholder 0, and the workbook asks Excel to
    recalculate on open. Such a value is not the amount the formula means. Empty for other formats.
    """
    cells: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            member, recalc = _sheet_member(zf, sheet_index)
            with zf.open(member) as fh:
                if not _has_formula(fh):
                    return []
            with zf.open(member) as fh:
                for _, element in ElementTree.iterparse(fh, events=("end",)):
                    if element.tag == f"{_MAIN_NS}c" and element.find(f"{_MAIN_NS}f") is not None:
                        value = element.find(f"{_MAIN_NS}v")
                        if recalc or value is None or not (value.text or "").strip():
                            cells.append(element.get("r", "?"))
                    elif element.tag == f"{_MAIN_NS}row":
                        element.clear()
    except _XML_ERRORS:
        return cells
    return cells


# ------------------------------------------------------------------------------------------------- parquet


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pl.read_parquet(path)
        frame = frame.select(pl.all().cast(pl.Utf8))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _unreadable(path, exc) from exc
    return RawTable(path.name, frame, first_row=2, excel=False)


# ----------------------------------------------------------------------------------------- exclude lists


def read_exclude(paths: Sequence[Path], encoding: str | None = None) -> pl.Series:
    """Do-not-contact numbers as E.164, from files with one number per line (any phone spelling).

    Blank lines, ``#`` comments and lines without digits (a header such as ``手机号``) are skipped; text
    after the number separated by a comma or tab (``13812348000,投诉``) is a note. A line holding digits
    that is not a phone number fails the whole import: a silently ignored entry would let a complaint
    number be messaged.
    """
    values: list[str] = []
    where: list[str] = []
    for path in paths:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _unreadable(path, exc) from exc
        text = decode_to_utf8(data, path, encoding)[0].decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].replace("\t", ",").split(",", 1)[0].strip()
            if entry and any(ch.isdigit() for ch in entry):
                values.append(entry)
                where.append(f"{path.name}:{n}")
    if not values:
        return pl.Series("phone", [], dtype=pl.Utf8)
    parsed = parse_phones(pl.Series(values, dtype=pl.Utf8), allow_international=True)
    bad = parsed["phone"].is_null() & ~is_blank(pl.Series(values))
    if bad.any():
        lines = [w for w, b in zip(where, bad.to_list(), strict=True) if b][:10]
        raise InputError(
            f"禁止联系名单中有无法识别的号码（{'、'.join(lines)}）：请改正后重试，以免漏掉应屏蔽的号码。",
            f"do-not-contact list has numbers that cannot be read ({', '.join(lines)}): fix them and retry.",
            code="input.exclude",
        )
    return parsed["phone"].unique().sort()
