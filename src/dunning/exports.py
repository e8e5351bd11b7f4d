"""Formula-safe CSV and Excel exports of frames (a cell a spreadsheet would run as a formula is neutralised).

Minimal version (the console's lists need it); the security work owns the full one and replaces this at merge.
"""

from __future__ import annotations

import re
from typing import IO, Any

import polars as pl
import xlsxwriter

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> Any:
    """A string a spreadsheet would read as a formula gets a leading apostrophe; numbers stay as they are."""
    if not isinstance(value, str) or not value.startswith(_DANGEROUS):
        return value
    if _NUMBER.match(value.strip()):
        return value
    return "'" + value


def _safe(frame: pl.DataFrame) -> pl.DataFrame:
    text = [c for c, t in frame.schema.items() if t == pl.Utf8]
    return frame.with_columns(pl.col(c).map_elements(neutralise, return_dtype=pl.Utf8) for c in text) if text else frame


def write_csv(frame: pl.DataFrame, sink: Any) -> None:
    """UTF-8 with a BOM (Excel opens Chinese text right), every text cell neutralised."""
    data = _safe(frame).write_csv()
    if isinstance(sink, str) or hasattr(sink, "__fspath__"):
        with open(sink, "w", encoding="utf-8-sig", newline="") as fh:
            fh.write(data)
        return
    _write(sink, data)


def _write(sink: IO[Any], data: str) -> None:
    try:
        sink.write("\ufeff" + data)
    except TypeError:
        sink.write(("\ufeff" + data).encode("utf-8"))


def write_xlsx(frame: pl.DataFrame, sink: Any, sheet: str = "导出") -> None:
    """One sheet, header row bold; strings are never turned into formulas (and are neutralised too)."""
    wb = xlsxwriter.Workbook(sink, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})
    try:
        _safe(frame).write_excel(workbook=wb, worksheet=sheet[:31], autofit=True)
    finally:
        wb.close()
