"""Every CSV and XLSX the system writes for people goes through here, so no export can carry a live formula.

* :func:`neutralise` — a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  leading apostrophe (spreadsheet programs run such cells as formulas: ``=HYPERLINK(...)``, ``+cmd|...``), unless
  the whole cell is a plain number (``-12.5``, ``+86``… stay as they are);
* :func:`write_csv` — UTF-8 with a BOM (Excel opens it as UTF-8 only then), every text column neutralised;
* :func:`write_xlsx` — the workbook, text columns neutralised and written as inline strings (``t="inlineStr"``:
  a cell is text or a number, never a formula and never a link — the guarantee xlsxwriter gives only with
  ``strings_to_formulas`` off). Each column's cell XML is built with one vectorised Polars expression and the
  parts are zipped: a 25k-row report takes a fraction of a second where xlsxwriter, a Python call per cell,
  took over ten. One worksheet per 1,048,575 rows; a bold, frozen header row. :func:`write_xlsx_sheets`
  writes several frames as several sheets of one workbook.

A top-level module that imports nothing else of ``dunning``: every layer may use it.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape  # nosec B406  # escapes text for XML output; nothing is parsed

import polars as pl

__all__ = ["column_letter", "neutralise", "neutralise_frame", "write_csv", "write_xlsx", "write_xlsx_sheets"]

Sink = str | Path | IO[bytes]

# A cell a spreadsheet would run: it starts with one of these.
_RISKY_START = r"^[=+\-@\t\r]"
# ...unless the whole cell is a plain number, which a spreadsheet reads as that number.
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_RISKY_RE = re.compile(_RISKY_START)
_NUMBER_RE = re.compile(_NUMBER)


def neutralise(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: risky text gets a leading ``'``; numbers, ``None`` and safe
    text come back unchanged."""
    if not isinstance(value, str) or not _RISKY_RE.match(value) or _NUMBER_RE.match(value):
        return value
    return "'" + value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`neutralise` applied to every text column of ``frame``, vectorised."""
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_RISKY_START) & ~pl.col(c).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in frame.columns
        if frame.schema[c] in (pl.Utf8, pl.Categorical)
    )


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns a sheet or a CSV cannot hold as such (lists, structs, objects) as their text form."""
    odd = [c for c in frame.columns if isinstance(frame.schema[c], pl.List | pl.Struct | pl.Array | pl.Object)]
    return frame.with_columns(pl.col(c).map_elements(str, return_dtype=pl.Utf8) for c in odd) if odd else frame


def write_csv(frame: pl.DataFrame, sink: Sink | IO[str]) -> None:
    """``frame`` as CSV (UTF-8 with BOM) to a path or a binary file object, text cells neutralised."""
    safe = neutralise_frame(_flat(frame))
    if isinstance(sink, str | Path):
        with open(sink, "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            safe.write_csv(fh)
    elif isinstance(sink, io.TextIOBase):  # a text stream: the BOM as a character
        sink.write("\ufeff" + safe.write_csv())
    else:
        binary: Any = sink
        binary.write(b"\xef\xbb\xbf")
        safe.write_csv(binary)


MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    "<sheets>{sheets}</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
    '<Relationship Id="rIdStyles" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_SHEET_REL = (
    '<Relationship Id="rId{n}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet{n}.xml"/>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"{selected}>'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
    "<cols>{cols}</cols><sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"
# Characters XML 1.0 cannot carry at all; they are dropped rather than failing the report.
_ILLEGAL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _xml_text(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all(_ILLEGAL, "")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _rows_xml(part: pl.DataFrame) -> str:
    row_no = (pl.int_range(pl.len(), dtype=pl.Int64) + 2).cast(pl.Utf8)
    cells: list[pl.Expr] = []
    for j, name in enumerate(part.columns):
        ref = pl.lit(column_letter(j)) + row_no
        col = pl.col(name)
        if part.schema[name].is_float():
            col = pl.when(col.is_finite()).then(col)  # NaN and infinities have no cell form: empty
        if part.schema[name].is_numeric():
            cell = pl.concat_str([pl.lit('<c r="'), ref, pl.lit('"><v>'), col.cast(pl.Utf8), pl.lit("</v></c>")])
        else:
            cell = pl.concat_str([pl.lit('<c r="'), ref, pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
                                  _xml_text(col.cast(pl.Utf8)), pl.lit("</t></is></c>")])
        cells.append(pl.when(col.is_null()).then(pl.lit("")).otherwise(cell))
    rows = part.select(
        pl.concat_str([pl.lit('<row r="'), row_no, pl.lit('">'), *cells, pl.lit("</row>")]).alias("x")
    )
    return rows.select(pl.col("x").str.join("")).item() if part.height else ""


def write_xlsx(frame: pl.DataFrame, sink: Sink, sheet: str = "导出", *,
               widths: Mapping[str, int] | None = None) -> None:
    """``frame`` as a one-sheet workbook (more rows than a sheet holds continue on ``sheet2``…), text cells
    neutralised, to a path or a binary file object."""
    write_xlsx_sheets({sheet: frame}, sink, widths=widths)


def write_xlsx_sheets(sheets: Mapping[str, pl.DataFrame], sink: Sink, *,
                      widths: Mapping[str, int] | None = None) -> None:
    """Several frames as the sheets of one workbook (names cut to Excel's 31 characters)."""
    widths = widths or {}
    parts: list[tuple[str, pl.DataFrame]] = []
    for name, frame in sheets.items():
        table = neutralise_frame(_flat(frame))
        chunks = max(1, -(-table.height // MAX_DATA_ROWS))
        for k in range(chunks):
            label = name if k == 0 else f"{name}{k + 1}"
            parts.append((_sheet_name(label, {p[0] for p in parts}), table.slice(k * MAX_DATA_ROWS, MAX_DATA_ROWS)))
    if not parts:
        parts.append(("Sheet1", pl.DataFrame()))
    n = len(parts)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml",
                    _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(n=k + 1) for k in range(n))))
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK.format(sheets="".join(
            f'<sheet name="{escape(label)}" sheetId="{k + 1}" r:id="rId{k + 1}"/>'
            for k, (label, _) in enumerate(parts))))
        zf.writestr("xl/_rels/workbook.xml.rels",
                    _WORKBOOK_RELS.format(rels="".join(_SHEET_REL.format(n=k + 1) for k in range(n))))
        zf.writestr("xl/styles.xml", _STYLES)
        for k, (_, part) in enumerate(parts):
            header = "".join(
                f'<c r="{column_letter(j)}1" t="inlineStr" s="1"><is><t xml:space="preserve">'
                f'{escape(str(name))}</t></is></c>'
                for j, name in enumerate(part.columns)
            )
            cols = "".join(
                f'<col min="{j + 1}" max="{j + 1}" width="{widths.get(name, 16)}" customWidth="1"/>'
                for j, name in enumerate(part.columns)
            ) or '<col min="1" max="1" width="16" customWidth="1"/>'
            with zf.open(f"xl/worksheets/sheet{k + 1}.xml", "w", force_zip64=True) as fh:
                fh.write(_SHEET_HEAD.format(selected=' tabSelected="1"' if k == 0 else "", cols=cols).encode())
                fh.write(f'<row r="1">{header}</row>'.encode())
                fh.write(_rows_xml(part).encode("utf-8"))
                fh.write(_SHEET_TAIL.encode())


def _sheet_name(name: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: no ``[]:*?/\\``, at most 31 characters, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    label, k = base, 2
    while label in taken:
        label = f"{base[:28]}~{k}"
        k += 1
    return label
