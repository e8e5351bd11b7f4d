"""The reject report a clerk works from: one line per rejected row, the reason in Chinese, the original cells."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from dunning.exports import write_csv, write_xlsx

_FIXED = {
    "source_file": "来源文件 file",
    "source_row": "行号 row",
    "reason": "原因代码 code",
    "message_zh": "原因说明",
    "message_en": "reason",
}


def report_table(rejected: pl.DataFrame) -> pl.DataFrame:
    """Fixed columns (file, row, code, Chinese and English message) followed by the original cells, one
    column per original header across all files, so a clerk can correct the values in place."""
    fixed = rejected.select([pl.col(c).alias(label) for c, label in _FIXED.items()])
    if rejected.is_empty():
        return fixed
    # Every row of one file has the same headers, so one row per file gives the union of headers in order.
    headers: dict[str, None] = {}
    for raw in rejected.unique("source_file", keep="first", maintain_order=True)["raw"].to_list():
        headers.update(dict.fromkeys(json.loads(raw)))
    if not headers:
        return fixed
    dtype = pl.Struct({h: pl.Utf8 for h in headers})
    originals = rejected.select(pl.col("raw").str.json_decode(dtype).alias("raw")).unnest("raw")
    originals = originals.select(
        [pl.col(c).cast(pl.Utf8).alias(c if c not in fixed.columns else f"原始 {c}") for c in originals.columns]
    )
    return pl.concat([fixed, originals], how="horizontal")


def write_reject_report(rejected: pl.DataFrame, stem: Path) -> tuple[Path, Path]:
    """Write ``stem.csv`` (UTF-8 with BOM, so Excel opens it) and ``stem.xlsx``; return both paths.

    ``rejected`` has the columns of :attr:`IntakeResult.rejected`. Original values come from its ``raw``
    JSON. Both go through :mod:`dunning.exports`: a cell that would run as a formula is neutralised.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = report_table(rejected)
    csv_path = stem.with_name(stem.name + ".csv")
    write_csv(table, csv_path)
    xlsx_path = stem.with_name(stem.name + ".xlsx")
    write_xlsx(table, xlsx_path, sheet="拒绝明细", widths={"原因说明": 48, "reason": 48})
    return csv_path, xlsx_path
